"""The chapters `xray-book all` just executed reproduce the checked outputs of their committed twins.

This is the nbval check of `make test` (`pytest --nbval-lax` with
notebooks/nbval_sanitize.cfg), applied to papermill's executions instead of
executing every notebook a second time: the same cells, the same rules.
"""

from pathlib import Path

import pytest

from xray_utils.runner import compare_with_twin

PROJECT = Path(__file__).resolve().parents[2]
TWINS = sorted((PROJECT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.name)
def test_executed_chapter_matches_its_twin(twin):
    executed = PROJECT / "book" / "chapters" / twin.name
    if not executed.is_file():
        pytest.fail(f"{executed} was not executed: run `xray-book all` first")
    problems = compare_with_twin(executed, twin, PROJECT / "notebooks" / "nbval_sanitize.cfg")
    assert not problems, "\n".join(problems)
