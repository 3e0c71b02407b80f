"""The committed ``notebooks/*.ipynb`` twins: tidy them, and check executions against them.

Each twin holds the outputs of a run on the synthetic stand-in (``make twins``).
Its cells tagged ``nbval-check-output`` (counts, shapes, parameter counts, split
sizes) are the book's regression checks: :func:`compare_with_twin` holds an
executed chapter (``book/chapters/NN.ipynb``, from ``xray-book run``) to them
with nbval's own rules, as ``pytest --nbval-lax --nbval-sanitize-with
notebooks/nbval_sanitize.cfg`` would (see ``notebooks/conftest.py``), without
executing the notebook a second time. nbval (a test dependency) is imported
only when comparing.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from pathlib import Path

from .exercises import expand

# What nbval 0.11 never compares (IPyNbFile.skip_compare without --nbdime), plus
# standard error (TensorFlow and Keras log lines), as notebooks/conftest.py adds.
SKIP_COMPARE = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
    "stderr",
)


def tidy_twins(paths: list[str]) -> None:
    """Drop execution timestamps and number cell ids, so re-running a twin leaves no diff noise."""
    import nbformat

    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        for number, cell in enumerate(notebook.cells):
            cell.metadata.pop("execution", None)
            cell["id"] = f"cell-{number:03d}"
        nbformat.write(notebook, path)


def compare_with_twin(executed: Path, twin: Path, sanitize_file: Path | None = None) -> list[str]:
    """How the executed notebook's checked outputs differ from the twin's (empty list: they agree).

    ``executed`` is papermill's copy (its injected-parameters cell is left out);
    the cells must be the twin's. A code cell is compared when the twin marks it
    for nbval (tag ``nbval-check-output`` or a ``# NBVAL_CHECK_OUTPUT`` comment,
    and not ``nbval-skip``) and its reference was executed. Outputs are compared
    as nbval does: streams merged, each MIME type in order, strings passed through
    the ``sanitize_file`` regexes, the :data:`SKIP_COMPARE` keys ignored.
    """
    import nbformat
    from nbval.plugin import find_comment_markers, find_metadata_tags, get_sanitize_patterns

    patterns = get_sanitize_patterns(Path(sanitize_file).read_text()) if sanitize_file else []
    ran = nbformat.read(executed, as_version=4)
    reference = expand(nbformat.read(twin, as_version=4))  # as the chapter ran: exercises from solutions
    ran_cells = [c for c in ran.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    if [(c.cell_type, c.source) for c in ran_cells] != [(c.cell_type, c.source) for c in reference.cells]:
        return [
            f"{executed} was not executed from the cells of its twin {twin}: the chapter's .py and its twin "
            "disagree (`make sync`, then `make twins`)"
        ]
    problems = []
    for number, (cell, ref) in enumerate(zip(ran_cells, reference.cells)):
        if ref.cell_type != "code":
            continue
        options = defaultdict(bool, find_metadata_tags(ref.get("metadata", {})))
        options.update(dict(find_comment_markers(ref.source)))
        if options["skip"] or not options["check"]:
            continue
        if ref.get("execution_count") is None:
            if ref.get("outputs"):
                problems.append(f"{twin.name} cell {number}: unrun reference cell has outputs")
            continue
        got, expected = _comparable(cell.get("outputs", []), patterns), _comparable(ref.outputs, patterns)
        if got != expected:
            problems.append(
                f"{executed.name} cell {number} differs from {twin.name} (`make twins` if the change is meant):\n"
                + "\n".join(
                    f"  {key}:\n    twin:     {expected.get(key)!r}\n    executed: {got.get(key)!r}"
                    for key in sorted(set(got) | set(expected))
                    if got.get(key) != expected.get(key)
                )
            )
    return problems


def _comparable(outputs: list, patterns: list[tuple[str, str]]) -> dict[str, list]:
    """nbval's view of a cell's outputs: ``{key or MIME type: [sanitized values, in order]}``."""
    from nbval.plugin import coalesce_streams, transform_streams_for_comparison

    def sanitize(value):
        if isinstance(value, str):
            for regex, replacement in patterns:
                value = re.sub(regex, replacement, value)
        return value

    flat = defaultdict(list)
    for output in transform_streams_for_comparison(coalesce_streams(copy.deepcopy(outputs))):
        for key, value in output.items():
            if key in SKIP_COMPARE:
                continue
            if key == "data":
                for mime, content in value.items():
                    if mime not in SKIP_COMPARE:
                        flat[mime].append(sanitize(content))
            else:
                flat[key].append(sanitize(value))
    return dict(flat)
