"""Exercises written once: each solution cell yields the exercise the book shows before it.

As in the scikit-learn MOOC, a chapter's source holds only the solution: a code
cell tagged ``solution``. Its lines above a ``# solution`` marker are what the
reader is given; the marker may carry a hint (``# solution: return a
keras.Model``)::

    # %% tags=["solution"]
    matrix = evaluation.confusion(study)
    # solution: find the largest off-diagonal cell of `matrix`
    off_diagonal = ...

Before a chapter runs, :func:`expand` turns each such cell into three: the
exercise (the given lines and ``# your code here: <hint>``; inside a block,
``...  # your code here: <hint>`` so it still runs), a "**Solution**" heading, and
the solution itself with its input hidden in the book (``hide-input``) and
without the marker. A cell without a marker gives an exercise of one comment.
"""

from __future__ import annotations

import copy
import re

SOLUTION_TAG = "solution"
_MARKER = re.compile(r"^(?P<indent>\s*)# solution(?::\s*(?P<hint>.*?))?\s*$")


def is_solution(cell) -> bool:
    return cell.get("cell_type") == "code" and SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def split_solution(source: str) -> tuple[str, str]:
    """``(exercise, solution)`` sources of one solution cell's ``source``."""
    lines = source.splitlines()
    found = next(((i, m) for i, line in enumerate(lines) if (m := _MARKER.match(line))), None)
    if found is None:
        return "# your code here", source
    index, match = found
    todo = "your code here" + (f": {match['hint']}" if match["hint"] else "")
    placeholder = f"{match['indent']}...  # {todo}" if match["indent"] else f"# {todo}"
    return "\n".join([*lines[:index], placeholder]), "\n".join(lines[:index] + lines[index + 1 :])


def expand(notebook):
    """A copy of ``notebook`` with each solution cell preceded by its exercise and a "**Solution**" heading."""
    import nbformat

    expanded = copy.deepcopy(notebook)
    cells = []
    for cell in expanded.cells:
        if not is_solution(cell):
            cells.append(cell)
            continue
        exercise, solution = split_solution(cell.source)
        cell.source = solution
        cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != SOLUTION_TAG] + ["hide-input"]
        cells += [nbformat.v4.new_code_cell(exercise), nbformat.v4.new_markdown_cell("**Solution**"), cell]
    expanded.cells = cells
    return expanded
