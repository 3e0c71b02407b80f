"""Execute one chapter with papermill.

The jupytext source is staged as a hidden ``.ipynb`` beside the output (a name
unique to this call, removed afterwards), executed with the chapter's declared
parameters in ``notebooks/`` as the working directory, and written, outputs and
all, to ``<output_dir>/<chapter>.ipynb``; a failing chapter's copy keeps its
traceback. The kernel runs the statement clock (:mod:`.kernel_clock`) into
:func:`~.timings.chapter_log`, which the caller reads. The caller holds the
output folder's lock (:mod:`.lock`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..files import remove_quietly, temporary_sibling
from ..params import ChapterParams
from . import interrupt
from .chapters import KERNEL, as_notebook, declared_parameters
from .exercises import expand
from .kernel_clock import kernel_arguments
from .timings import chapter_log


def run_chapter(source: Path, params: ChapterParams, timeout: int, output_dir: Path, env: dict[str, str]) -> Path:
    """Execute one chapter with papermill; return the executed notebook's path.

    Raises ``papermill.PapermillExecutionError`` when a cell fails.
    """
    import nbformat
    import papermill

    notebook = expand(as_notebook(source))  # exercises from their solutions
    declared = declared_parameters(notebook)
    output = output_dir / f"{source.stem}.ipynb"
    handle, staged = tempfile.mkstemp(prefix=f".{source.stem}.", suffix=".input.ipynb", dir=output_dir)
    os.close(handle)
    staged_input = Path(staged)
    running = temporary_sibling(output, "running", ".ipynb")
    output.unlink(missing_ok=True)
    clock_log = chapter_log(output_dir, source.stem)
    clock_log.unlink(missing_ok=True)  # a killed run's, not this one's
    try:
        nbformat.write(notebook, staged_input)
        try:
            _execute(staged_input, running, source, notebook_parameters(params, declared), timeout, env, clock_log)
        except papermill.PapermillExecutionError:
            _publish(running, output)  # the failure, traceback included, for the reader to see
            raise
        _publish(running, output)
    finally:
        staged_input.unlink(missing_ok=True)
        remove_quietly(running)
    return output


def _execute(
    staged_input: Path, running: Path, source: Path, parameters: dict, timeout: int, env: dict, clock_log: Path
) -> None:
    import papermill

    papermill.execute_notebook(
        str(staged_input),
        str(running),
        parameters=parameters,
        kernel_name=KERNEL,
        cwd=str(source.parent),
        log_output=True,
        progress_bar=False,
        execution_timeout=timeout,
        report_mode=False,
        kernel_manager_class=kernel_manager_with(env, clock_log),
        # Every output is in hand when the last cell ends, so the kernel is stopped at once: a graceful
        # shutdown waited about 3 s for each TensorFlow kernel to tear down (measured by xray-bench --breakdown).
        shutdown_kernel="immediate",
    )


def _publish(running: Path, output: Path) -> None:
    """Move the executed copy into place, its injected-parameters cell hidden like the parameters cell."""
    if running.is_file():
        _hide_injected_parameters_like_the_original(running)
        os.replace(running, output)


def kernel_manager_with(env: dict[str, str], clock_log: Path | None = None):
    """A kernel manager class whose kernels start with this process's environment plus ``env``.

    How a chapter's kernel gets its share of the cores and absolute data paths
    without this process changing its own ``os.environ``; with ``clock_log``, the
    kernel also runs the statement clock into it (:mod:`.kernel_clock`).
    """
    clock = kernel_arguments(clock_log) if clock_log is not None else []
    from jupyter_client import AsyncKernelManager

    class KernelManagerWithEnvironment(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw["env"] = {**kw.get("env", os.environ), **env}
            kw["extra_arguments"] = [*kw.get("extra_arguments", []), *clock]
            launched = await super().start_kernel(**kw)
            interrupt.started(self)  # so that Ctrl-C can stop it (see .interrupt)
            return launched

        async def cleanup_resources(self, restart=False):
            interrupt.finished(self)
            return await super().cleanup_resources(restart=restart)

    return KernelManagerWithEnvironment


def notebook_parameters(params: ChapterParams, declared: set[str]) -> dict:
    """What papermill injects: the profile's name and, as ``overrides``, every value that differs from it.

    A chapter whose parameters cell declares ``profile`` and ``overrides`` rebuilds
    exactly ``params`` from them (:func:`xray_utils.params.collect`); names it
    declares itself are passed as they are.
    """
    values = params.to_dict()
    injected = {k: v for k, v in values.items() if k in declared and k != "overrides"}
    if "overrides" in declared:
        injected["overrides"] = params.overrides()
    return injected


def _hide_injected_parameters_like_the_original(path: Path) -> None:
    """papermill's injected-parameters cell inherits the parameters cell's remove-* tags."""
    import nbformat

    if not path.is_file():
        return
    notebook = nbformat.read(path, as_version=4)
    tags_of = [set(c.get("metadata", {}).get("tags", [])) for c in notebook.cells]
    hidden = next((t & {"remove-cell", "remove-input"} for t in tags_of if "parameters" in t), set())
    injected = [c for c, t in zip(notebook.cells, tags_of) if "injected-parameters" in t]
    if hidden and injected:
        for cell in injected:
            cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | hidden)
        nbformat.write(notebook, path)
