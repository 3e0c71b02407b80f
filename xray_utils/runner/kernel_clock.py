"""The statement clock each chapter's kernel runs: when every top-level statement of every cell started.

papermill times whole cells, but a chapter's first code cell both imports the
package (and with it Keras and TensorFlow) and decodes the images; this clock
tells the two apart. ``xray-book`` starts each kernel with
:func:`kernel_arguments`, which has IPython run this file (stdlib only, in its
own namespace: the chapter's namespace stays as it was) before the first cell.
It installs a PEP 578 audit hook that appends one JSON line per event to the
chapter's log (see :mod:`.timings`):

* ``{"t": time, "line": n}``: IPython runs each top-level statement of a cell
  with ``exec``, which raises the ``exec`` audit event; ``line`` is the
  statement's first line in its cell;
* ``{"t": time, "run": {...}}``: a training run's measured phases, which
  :func:`xray_utils.training.train` raises as the :data:`RUN_EVENT` audit event;
* ``{"t": time, "kernel": pid}``: once, when the kernel is ready to run cells.

Importing this module does nothing.
"""

from __future__ import annotations

from pathlib import Path

RUN_EVENT = "xray_utils.training.run"  # raised by xray_utils.training with each run's phase seconds
_RUN_NAME = "__xray_kernel_clock__"  # the namespace IPython runs this file in (see kernel_arguments)


def kernel_arguments(log: Path) -> list[str]:
    """Kernel command-line arguments that start the clock, writing to ``log``, before the first cell.

    ``exec_lines`` run in the chapter's namespace, so the line binds no name (an
    ``if`` statement, not an expression IPython would display) and runs this file
    with :func:`runpy.run_path`, in a namespace of its own.
    """
    line = (
        f"if True: __import__('runpy').run_path({str(Path(__file__))!r}, "
        f"init_globals={{'LOG': {str(log)!r}}}, run_name={_RUN_NAME!r})"
    )
    return [f"--IPKernelApp.exec_lines={line}"]


def statement_line(code) -> int:
    """The first source line of a compiled statement (IPython compiles each alone, so ``co_firstlineno`` is 1)."""
    return min((line for _, _, line in code.co_lines() if line), default=0)


def install(log: str) -> None:
    """Append each cell statement's start, and each training run's phases, to ``log``."""
    import json
    import os
    import sys
    import time

    def write(record: dict) -> None:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def hook(event: str, args: tuple) -> None:
        # called for every audit event in the kernel (about 15,000 a second while Keras starts): keep it short
        if event == "exec":
            code = args[0]
            name = getattr(code, "co_filename", "")
            if getattr(code, "co_name", "") == "<module>" and ("ipykernel_" in name or name.startswith("<ipython")):
                write({"t": time.time(), "line": statement_line(code)})
        elif event == RUN_EVENT:
            write({"t": time.time(), "run": args[0]})

    sys.addaudithook(hook)
    write({"t": time.time(), "kernel": os.getpid()})


if __name__ == _RUN_NAME:
    install(LOG)  # noqa: F821 (given by kernel_arguments' init_globals)
