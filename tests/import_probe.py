"""Import each named module in its own fresh child process, forked after the heavy third-party packages.

``python import_probe.py PRELOAD MODULE...``: PRELOAD is a comma-separated list
imported once in the parent (TensorFlow, Keras, pandas...: seconds each); then
each MODULE is imported in a child made by :func:`os.fork`, so it starts with
none of the other MODULEs loaded, as in a fresh interpreter, without paying the
preload again. Prints one JSON object: ``{"preload_s", "total_s", "failures":
{module: traceback}}``. POSIX only (fork).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback


def import_in_child(module: str) -> str | None:
    """None if ``module`` imports in a forked child, else the end of its traceback."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: import, report, leave without running the parent's cleanup
        os.close(read)
        code = 0
        try:
            importlib.import_module(module)
        except BaseException:
            os.write(write, traceback.format_exc()[-2000:].encode())
            code = 1
        os.close(write)
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as stream:
        text = stream.read()
    _, status = os.waitpid(pid, 0)
    return None if status == 0 else (text or f"the child exited with status {status}")


def main(argv: list[str]) -> None:
    started = time.perf_counter()
    for heavy in filter(None, argv[0].split(",")):
        importlib.import_module(heavy)
    preloaded = time.perf_counter()
    failures = {module: error for module in argv[1:] if (error := import_in_child(module)) is not None}
    print(
        json.dumps({"preload_s": preloaded - started, "total_s": time.perf_counter() - started, "failures": failures})
    )


if __name__ == "__main__":
    main(sys.argv[1:])
