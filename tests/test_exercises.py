"""Exercises are written once, as solutions; the book's exercise cells are made from them."""

from __future__ import annotations

import nbformat
import pytest

from xray_utils.runner import chapters, exercises


def test_given_lines_and_the_hint_make_the_exercise():
    source = "matrix = confusion()\n# solution: find the largest off-diagonal cell\nbiggest = matrix.max()"
    exercise, solution = exercises.split_solution(source)
    assert exercise == "matrix = confusion()\n# your code here: find the largest off-diagonal cell"
    assert solution == "matrix = confusion()\nbiggest = matrix.max()"


def test_a_function_to_fill_in_still_runs_as_an_exercise():
    source = 'def f(x):\n    """Twice x."""\n    # solution: return a number\n    return 2 * x\n\n\nprint(f(2))'
    exercise, solution = exercises.split_solution(source)
    assert exercise == 'def f(x):\n    """Twice x."""\n    ...  # your code here: return a number'
    namespace = {}
    exec(exercise, namespace)  # a valid stub
    assert namespace["f"](1) is None
    assert "# solution" not in solution and "return 2 * x" in solution


def test_a_cell_without_a_marker_is_all_solution():
    assert exercises.split_solution("print(1)") == ("# your code here", "print(1)")


def test_expand_puts_exercise_heading_and_hidden_solution_in_order():
    notebook = nbformat.v4.new_notebook()
    solution = nbformat.v4.new_code_cell("x = 1\n# solution\ny = x + 1", metadata={"tags": ["solution"]})
    notebook.cells = [nbformat.v4.new_markdown_cell("**Exercise 1.**"), solution]
    expanded = exercises.expand(notebook)
    assert [c.cell_type for c in expanded.cells] == ["markdown", "code", "markdown", "code"]
    assert expanded.cells[1].source == "x = 1\n# your code here"
    assert expanded.cells[2].source == "**Solution**"
    assert expanded.cells[3].source == "x = 1\ny = x + 1" and expanded.cells[3].metadata["tags"] == ["hide-input"]
    assert notebook.cells[1].source == "x = 1\n# solution\ny = x + 1"  # the source is left alone


@pytest.mark.parametrize("source", [s for s in chapters.chapter_sources() if s.stem != "index"], ids=lambda s: s.name)
def test_every_chapter_writes_its_exercises_once(source):
    notebook = chapters.as_notebook(source)
    solutions = [c for c in notebook.cells if exercises.is_solution(c)]
    assert solutions, f"{source.name} has no solution cells"
    text = "\n".join(c.source for c in notebook.cells)
    assert "**Solution**" not in text and "your code" not in text.lower(), "write the solution only (see exercises.py)"
    for cell in solutions:
        compile(exercises.split_solution(cell.source)[0], source.name, "exec")  # every exercise form is valid Python
