"""Execute one chapter with papermill.

The jupytext source is staged as a hidden ``.ipynb`` beside the output (a name
unique to this call, removed afterwards), executed with the chapter's declared
parameters in ``notebooks/`` as the working directory, and written, outputs and
all, to ``<output_dir>/<chapter>.ipynb``; a failing chapter's copy keeps its
traceback. The caller holds the output folder's lock (:mod:`.lock`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .chapters import KERNEL, as_notebook, declared_parameters


def run_chapter(source: Path, params: dict, timeout: int, output_dir: Path) -> Path:
    """Execute one chapter with papermill; return the executed notebook's path.

    Raises ``papermill.PapermillExecutionError`` when a cell fails.
    """
    import nbformat
    import papermill

    notebook = as_notebook(source)
    declared = declared_parameters(notebook)
    output = output_dir / f"{source.stem}.ipynb"
    handle, staged = tempfile.mkstemp(prefix=f".{source.stem}.", suffix=".input.ipynb", dir=output_dir)
    os.close(handle)
    staged_input = Path(staged)
    try:
        nbformat.write(notebook, staged_input)
        papermill.execute_notebook(
            str(staged_input),
            str(output),
            parameters=notebook_parameters(params, declared),
            kernel_name=KERNEL,
            cwd=str(source.parent),
            log_output=True,
            progress_bar=False,
            execution_timeout=timeout,
            report_mode=False,
        )
    finally:
        staged_input.unlink(missing_ok=True)
        _hide_injected_parameters_like_the_original(output)
    return output


def notebook_parameters(params: dict, declared: set[str]) -> dict:
    """What papermill injects: the profile's name and, as ``overrides``, every value that differs from it.

    A chapter whose parameters cell declares ``profile`` and ``overrides`` rebuilds
    exactly ``params`` from them (``chapter.collect``); names it declares itself
    are passed as they are.
    """
    from ..config import load_profile

    injected = {k: v for k, v in params.items() if k in declared and k != "overrides"}
    if "overrides" in declared:
        profile = load_profile(params["profile"])
        injected["overrides"] = {k: v for k, v in params.items() if k != "profile" and profile.get(k) != v}
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
