"""Rules for what the book may claim, checked mechanically on its sources and executed twins.

* Overlapping confidence intervals are not a test: no sentence may say that two
  models whose intervals overlap "cannot be told apart" or "cannot be ranked"
  (the paired test, McNemar's, is how the book compares models).
* Model 4 is named for the weights it started from: no label calls it CheXNet
  while its run started from random weights (every committed run and every twin
  here did: ``weights_used`` is ``"none"``).
* A page that shows the full study's numbers says how many images they come
  from (``FullStudy.data_sentence``).

Each checker is shown to fail on a known-bad example before it is applied.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PROSE_FILES = sorted(
    [
        *NOTEBOOKS.glob("*.py"),
        *(ROOT / "book").glob("*.md"),
        ROOT / "README.md",
        ROOT / "xray_utils" / "narrative.py",
    ]
)
TWINS = sorted(NOTEBOOKS.glob("*.ipynb"))

# "the intervals overlap widely: the test set cannot tell these two models apart",
# "models whose intervals overlap cannot be ranked", "overlapping intervals, so no difference"
_OVERLAP_AS_TEST = [
    re.compile(
        r"overlap\w*\W[^.\n]{0,80}?\b(cannot|can't|can not|could not|not shown to)\b[^.\n]{0,40}?"
        r"\b(tell|rank|ranked|separate|distinguish|differ|apart)",
        re.I,
    ),
    re.compile(r"\b(cannot|can't) be (ranked|told apart|distinguished)\b[^.\n]{0,60}overlap", re.I),
    re.compile(r"overlap\w*[^.\n]{0,40}\b(so|hence|therefore)\b[^.\n]{0,30}\bno (real |significant )?difference", re.I),
]
_CHEXNET_LABEL = re.compile(r"Model 4\W{0,3}\s*CheXNet|CheXNet \(DenseNet121\)|CheXNet transfer model", re.I)
_DATA_SENTENCE = "The full study here used"
_SHOWS_FULL_TABLE = re.compile(r"show_table\([^\n]*(full\.|full_run|full_labels|full_study\.headline)")


def overlap_claims(text: str) -> list[str]:
    """The sentences of ``text`` that use overlapping intervals as a test."""
    flat = re.sub(r"\s*\n\s*#?\s*", " ", text)  # join lines, including commented Markdown lines
    return [match.group(0) for pattern in _OVERLAP_AS_TEST for match in pattern.finditer(flat)]


def chexnet_labels(text: str) -> list[str]:
    flat = re.sub(r"\s*\n\s*#?\s*", " ", text)
    return [match.group(0) for match in _CHEXNET_LABEL.finditer(flat)]


def _outputs_text(notebook: dict) -> str:
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if "text" in output:
                texts.append("".join(output["text"]))
            for key in ("text/plain", "text/html", "text/markdown"):
                value = output.get("data", {}).get(key)
                if value:
                    texts.append("".join(value))
    return "\n".join(texts)


def unaccounted_full_tables(notebook: dict) -> bool:
    """True when a notebook shows a full-study table but none of its outputs says how many images it used."""
    shows = any(
        cell["cell_type"] == "code" and _SHOWS_FULL_TABLE.search("".join(cell["source"])) for cell in notebook["cells"]
    )
    return shows and _DATA_SENTENCE not in _outputs_text(notebook)


def test_the_checkers_catch_what_they_are_for():
    bad = [
        "The intervals overlap widely: the test set cannot tell these two models apart.",
        "models whose intervals overlap cannot be ranked",
        "Two models whose intervals overlap widely\n# are not shown to differ.",
        "The intervals overlap, so there is no real difference between them.",
    ]
    good = [
        "Two intervals can overlap while the paired test finds a clear difference, and overlap is not what any "
        "test measures.",
        "Whether they overlap answers no question about the difference.",
        "a single run per model cannot rank two models whose difference is smaller than a seed's",
    ]
    assert all(overlap_claims(sentence) for sentence in bad)
    assert not any(overlap_claims(sentence) for sentence in good)
    assert chexnet_labels("| Model 4: CheXNet (DenseNet121) | 0.973 |")
    assert not chexnet_labels("Model 4: DenseNet121, random initialisation (the study: CheXNet weights)")
    cell = {"cell_type": "code", "source": ["page.show_table(full.summary())"], "outputs": []}
    assert unaccounted_full_tables({"cells": [cell]})
    cell["outputs"] = [{"output_type": "stream", "text": [f"{_DATA_SENTENCE} 3,679 images"]}]
    assert not unaccounted_full_tables({"cells": [cell]})


@pytest.mark.parametrize("path", PROSE_FILES, ids=lambda p: p.name)
def test_no_overlap_used_as_a_test(path):
    found = overlap_claims(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} uses overlapping intervals as a test: {found}"


@pytest.mark.parametrize("path", PROSE_FILES + TWINS, ids=lambda p: p.name)
def test_model_4_is_not_labelled_chexnet(path):
    """No run here loaded CheXNet weights (see the runs' weights_used), so no label may say it did."""
    from xray_utils.full_study import load_full_study

    full = load_full_study()
    if full is not None:
        assert all(run.config["weights_used"] == "none" for (m, _), run in full.runs.items() if m == "m4")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        text = _outputs_text(json.loads(text))
    found = chexnet_labels(text)
    assert not found, f"{path.relative_to(ROOT)} names model 4 CheXNet: {found}"


def test_model_label_follows_weights_used():
    from xray_utils.full_study import load_full_study, model_label

    full = load_full_study()
    if full is None:
        pytest.skip("no committed full study")
    for (model, _), run in full.runs.items():
        label = model_label(run)
        assert ("CheXNet" in label) == ("chexnet" in str(run.config.get("weights_used", "")).lower()), label
        if model == "m4" and run.config["weights_used"] == "none":
            assert "random" in label


@pytest.mark.parametrize("path", TWINS, ids=lambda p: p.name)
def test_full_study_tables_say_how_many_images(path):
    assert not unaccounted_full_tables(json.loads(path.read_text(encoding="utf-8"))), (
        f"{path.name} shows the full study's numbers without saying how many images they come from "
        f"(show FullStudy.data_sentence() beside them)"
    )
