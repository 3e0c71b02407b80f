"""The page helpers: tables, the synthetic-data banner, and prose that shows this run's numbers anywhere."""

from __future__ import annotations

import pandas as pd
import pytest

from xray_utils import page
from xray_utils.data import SYNTHETIC_BANNER


@pytest.fixture
def shown(monkeypatch) -> list:
    """What the chapter functions hand to IPython's display, in order."""
    seen = []
    monkeypatch.setattr(
        page, "_display", lambda obj, metadata=None: seen.append(obj if metadata is None else (obj, metadata))
    )
    return seen


def test_show_table_rounds_and_uses_the_first_column_as_index(shown):
    page.show_table(pd.DataFrame({"model": ["m1", "m2"], "accuracy": [0.123456, 0.98765]}), digits=2)
    (frame,) = shown
    assert list(frame.index) == ["m1", "m2"] and frame.index.name == "model"
    assert frame["accuracy"].tolist() == [0.12, 0.99]
    page.show_table(pd.DataFrame({"accuracy": [0.5]}, index=pd.Index(["m3"], name="model")))
    assert list(shown[1].index) == ["m3"] and list(shown[1].columns) == ["accuracy"]  # a real index is kept


def test_the_banner_shows_only_for_synthetic_data(shown, capsys):
    page.show_banner(False)
    assert shown == [] and capsys.readouterr().err == ""
    page.show_banner(True)
    assert SYNTHETIC_BANNER in capsys.readouterr().err
    (box,) = shown
    assert box.data.startswith('<div class="admonition warning"><p class="admonition-title">Synthetic data</p>')
    assert "Set XRAY_DATA_DIR to the COVID-19 Radiography" in box.data


def test_glue_fills_the_numbers_in_with_their_format():
    glue = page.Glue()
    glue("steps", 1234)
    glue("accuracy", 0.91234)
    filled = glue.fill(
        "{steps:,d} steps, accuracy {accuracy:.3f} ({accuracy}); a {term}`recall` role stays.", book=True
    )
    assert filled == "1,234 steps, accuracy 0.912 (0.91234); a {term}`recall` role stays."


def test_prose_quoting_a_number_not_yet_bound_names_it():
    with pytest.raises(
        KeyError, match=r"prose quotes \{epochs\} before the chapter bound it \(glue\('epochs', ...\)\)"
    ):
        page.Glue().fill("{epochs} epochs")


def test_other_roles_are_plain_text_outside_the_book_and_kept_in_it():
    glue = page.Glue()
    text = "a {term}`data leakage <leakage>` as in {cite}`roberts2021,wynants2020`"
    assert glue.fill(text, book=False) == "a *data leakage* as in [roberts2021,wynants2020]"
    assert glue.fill(text, book=True) == text


def test_prose_shows_markdown_and_records_what_it_quoted(shown, monkeypatch):
    monkeypatch.delenv(page.PROSE_ENV, raising=False)
    glue = page.Glue()
    glue("n", 7)
    glue.prose("""
        Seven is {n}.
    """)
    ((markdown, metadata),) = shown
    assert markdown.data == "Seven is 7." and metadata == {"xray_book": {"glued": {"n": "7"}}}
