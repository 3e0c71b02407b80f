"""The sentences that depend on a run say what happened in that run, and nothing it cannot back."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from xray_utils import full_study, narrative
from xray_utils.params import resolve_params


@pytest.fixture(scope="module")
def full():
    loaded = full_study.load_full_study()
    if loaded is None:
        pytest.skip("no committed full study")
    return loaded


def _history_run(rates):
    history = pd.DataFrame({"epoch": range(1, len(rates) + 1), "learning_rate": rates})
    return SimpleNamespace(history=history, metrics={"epochs_run": len(rates)})


def test_schedule_sentence_says_whether_the_rate_fell():
    never = narrative.schedule_sentence(_history_run([1e-3] * 6))
    assert "never cut" in never and "6 epochs" in never and "decided nothing" in never
    cut = narrative.schedule_sentence(_history_run([1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5]))
    assert "fell before epochs 4 and 6" in cut and "never" not in cut
    one = narrative.schedule_sentence(_history_run([1e-3, 1e-4]))
    assert "before epoch 2:" in one


def test_arms_sentence_explains_identical_runs_and_counts_changed_images(full):
    identical = narrative.arms_sentence({p: full.runs[("m3", p)] for p in ("test_steered", "corrected")})
    assert "trained identically" in identical and "no coincidence" in identical
    differ = narrative.arms_sentence({p: full.runs[("m1", p)] for p in ("test_steered", "corrected")})
    assert "7 test images change verdict" in differ and "identically" not in differ
    assert narrative.arms_sentence({"study": full.runs[("m1", "study")]}) == ""


def test_published_gap_names_the_side_and_the_reasons(full):
    inside = narrative.published_gap_sentence(full, "m2")  # 0.9717 within 0.9616-0.9854
    assert "lies inside it" in inside and "Reasons" not in inside
    above = narrative.published_gap_sentence(full, "m4")
    assert "lies above it" in above and "random weights" in above and "736" in above and "778" in above
    below = narrative.published_gap_sentence(full, "m3")
    assert "lies below it" in below and "random weights" not in below
    summary = narrative.published_gaps_summary(full)
    assert "model 1's 0.9781 lies above" in summary and "model 2" not in summary


def test_spread_sentence_backs_only_what_was_measured(full, monkeypatch):
    run = full.runs[("m1", "study")]
    other_profile = narrative.spread_sentence(resolve_params("full"), "m1", run, synthetic=False)
    assert "has not been measured" in other_profile
    overridden = narrative.spread_sentence(resolve_params("quick", {"epochs": 2}), "m1", run, synthetic=False)
    assert "has not been measured" in overridden
    fake = SimpleNamespace(range_of=lambda model, protocol: (0.8, 0.9, 5), machine="a test CPU, 2 cores")
    monkeypatch.setattr(narrative, "quick_spread", lambda: fake)
    quick = resolve_params("quick")
    real = narrative.spread_sentence(quick, "m1", run, synthetic=False)  # the full run's 0.965: above 0.8-0.9
    assert "0.800 to 0.900" in real and "lies above that range" in real and "5 seeds" in real
    synthetic = narrative.spread_sentence(quick, "m1", run, synthetic=True)
    assert "not comparable" in synthetic and "lies" not in synthetic
    monkeypatch.setattr(narrative, "quick_spread", lambda: None)
    assert "No seed spread" in narrative.spread_sentence(quick, "m1", run, synthetic=False)


def test_collapse_sentence_names_a_class_the_model_misses(full):
    assert narrative.collapse_sentence(full.runs[("m1", "study")], "Model 1") == ""
    worst = narrative.collapse_sentence(full.runs[("m3", "study")], "Model 3", threshold=0.8)  # Normal 192/248
    assert "192 of 248 Normal" in worst and "Viral Pneumonia" in worst


def test_weights_lesson_follows_the_runs_weights(full):
    lesson = narrative.weights_lesson_sentence(full)
    assert "random weights" in lesson and "0.973" in lesson
    assert narrative.weights_lesson_sentence(None) == ""


def test_the_full_study_counts_its_images_once(full, monkeypatch):
    """Every page asks for the data sentence several times; the runs' split.csv files are read once."""
    from xray_utils.run_folders import Run

    fresh = full_study.load_full_study()
    reads = []
    original = Run.split
    monkeypatch.setattr(Run, "split", lambda self: reads.append(self.name) or original(self))
    first = fresh.data_sentence()
    after_first = len(reads)
    assert fresh.data_sentence() == first and narrative.published_gaps_summary(fresh)
    assert after_first == len(fresh.runs) and len(reads) == after_first
