"""The committed .ipynb twins: executed on the synthetic stand-in, with checked cells for nbval."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _text_outputs(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_twin_was_executed_on_synthetic_data_only(path):
    notebook = nbformat.read(path, as_version=4)
    text = _text_outputs(notebook)
    assert text, f"{path.name} has no outputs: run `make twins`"
    # Real X-rays must never reach the repository, not even as figures in a notebook.
    assert "SYNTHETIC stand-in" in text and "release at" not in text, path.name


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem != "index"], ids=lambda p: p.name)
def test_twin_has_checked_cells_with_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    checked = [c for c in notebook.cells if "nbval-check-output" in c.get("metadata", {}).get("tags", [])]
    assert checked and all(c.get("outputs") for c in checked), path.name
    assert not any(o.get("output_type") == "error" for c in notebook.cells for o in c.get("outputs", []))
