"""Which chapters there are, in which order, and where their executed copies go.

Chapters are the jupytext ``notebooks/NN_*.py`` files (the reviewed source) in
file-name order, then the front page ``notebooks/index.py``. Executed copies go
to ``book/chapters/``, where the book reads them.

A chapter that only reads the runs the model chapters trained (evaluation, the
front page) says so in its jupytext header, and then runs after every chapter
that trains::

    # ---
    # jupyter:
    #   jupytext:
    #     notebook_metadata_filter: kernelspec,xray_book,-jupytext.text_representation.jupytext_version
    #     ...
    #   xray_book:
    #     reads_runs: true
    # ---

(``xray_book`` must be in ``notebook_metadata_filter``, or ``jupytext --sync``
drops it.) A chapter without the ``xray_book`` block trains; one that calls
:func:`xray_utils.plan.load_runs` or :func:`~xray_utils.plan.study_results`
without the block is refused, so a new reading chapter cannot silently run
beside the chapters whose runs it reads.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import XrayError
from ..paths import project_root

KERNEL = "python3"
METADATA_KEY = "xray_book"
READING_CALLS = ("plan.load_runs(", "plan.study_results(")


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def executed_dir() -> Path:
    return project_root() / "book" / "chapters"


def chapter_sources() -> list[Path]:
    """The chapter scripts ``notebooks/NN_*.py`` in order, then the front page ``index.py``.

    The front page comes last because it shows the results the chapters produced.
    """
    numbered = sorted(notebooks_dir().glob("[0-9][0-9]_*.py"))
    front = notebooks_dir() / "index.py"
    return numbered + ([front] if front.is_file() else [])


def select(chapters: list[Path], only: list[str] | None) -> list[Path]:
    """The chapters whose name starts with one of ``only`` (all when ``only`` is empty)."""
    if not only:
        return chapters
    chosen = [c for c in chapters if any(c.stem.startswith(o) or c.stem == o for o in only)]
    if not chosen:
        names = ", ".join(c.stem for c in chapters)
        raise XrayError(f"--only {' '.join(only)} matches no chapter; chapters: {names}")
    return chosen


def as_notebook(source: Path):
    """Read a jupytext ``.py`` into a notebook with a kernelspec papermill can use."""
    import jupytext

    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    return notebook


def declared_parameters(notebook) -> set[str]:
    """Names assigned in the cell tagged ``parameters`` (the ones papermill may override)."""
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return {
                line.split("=")[0].strip()
                for line in cell.source.splitlines()
                if "=" in line and not line.lstrip().startswith("#")
            }
    return set()


def reads_runs(source: Path, notebook=None) -> bool:
    """Whether the chapter only reads finished runs (its header's ``xray_book: reads_runs``).

    Raises :class:`XrayError` for a malformed ``xray_book`` block, and for a chapter
    that calls ``plan.load_runs``/``plan.study_results`` but declares nothing.
    """
    notebook = notebook if notebook is not None else as_notebook(source)
    declared = notebook.metadata.get(METADATA_KEY)
    if declared is None:
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        called = [call for call in READING_CALLS if call in code]
        if called:
            raise XrayError(
                f"{source} calls {called[0]}...) but its jupytext header does not say when it may run. "
                f"Add these lines under '# jupyter:' in its header (and '{METADATA_KEY}' to its "
                f"notebook_metadata_filter), then `make sync`:\n"
                f"#   {METADATA_KEY}:\n#     reads_runs: true"
            )
        return False
    if (
        not isinstance(declared, dict)
        or set(declared) != {"reads_runs"}
        or not isinstance(declared["reads_runs"], bool)
    ):
        raise XrayError(
            f"{source}: the header's '{METADATA_KEY}' block must be exactly "
            f"{{reads_runs: true}} or {{reads_runs: false}}, not {declared!r}"
        )
    return declared["reads_runs"]
