"""The study's published numbers (xray_utils.published) and the full study set beside them.

The published figures are checked against the reference text the book was written
from (``../shared/reference/original_study.md``, parsed here on its own, so a typo in
the module's literals fails); the full study's counts against its ``split.csv`` files
read directly with pandas.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xray_utils import full_study, published
from xray_utils.errors import ConfigError, RunError
from xray_utils.run_folders import Run
from xray_utils.weights import CHEXNET_FILE, describe_weights

PROJECT = Path(__file__).resolve().parent.parent
REFERENCE = PROJECT.parent / "shared" / "reference" / "original_study.md"
# The study's report names (section 5) and the book's.
STUDY_TO_BOOK = {"COVID-19": "COVID", "Normal": "Normal", "Pneumonia": "Viral Pneumonia"}


@pytest.fixture(scope="module")
def reference() -> str:
    if not REFERENCE.is_file():
        pytest.skip(f"the study's reference text is not at {REFERENCE}")
    return REFERENCE.read_text()


@pytest.fixture(scope="module")
def full() -> full_study.FullStudy:
    return full_study.load_full_study()


def _printed_reports(text: str) -> dict[str, dict[str, list[float]]]:
    """``{model: {row name: [precision, recall, f1, support]}}`` from the printed report block."""
    reports: dict[str, dict[str, list[float]]] = {}
    current = None
    for line in text.splitlines():
        title = re.fullmatch(r"Model (\d) Classification Report", line.strip())
        if title:
            current = reports.setdefault(f"m{title.group(1)}", {})
            continue
        row = re.fullmatch(r"\s*([A-Za-z][A-Za-z0-9 -]*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s*", line)
        if current is not None and row:
            current[row.group(1)] = [float(x) for x in row.groups()[1:]]
        elif line.startswith("```"):  # the report block ends
            current = None
    return reports


def test_every_printed_report_number_is_in_the_module(reference):
    reports = _printed_reports(reference)
    assert sorted(reports) == ["m1", "m2", "m3", "m4"]
    for model, rows in reports.items():
        frame = published.published_report(model)
        assert list(frame.index) == ["COVID", "Normal", "Viral Pneumonia"]
        assert list(frame.columns) == ["precision", "recall", "f1-score", "support"]
        for study_name, book_name in STUDY_TO_BOOK.items():
            assert frame.loc[book_name].tolist() == rows[study_name], (model, study_name)
        # The micro average of one-label-per-image reports is the accuracy of the results table.
        assert rows["micro avg"][0] == round(published.PUBLISHED.loc[model, "published_test_accuracy"], 2)
        assert rows["micro avg"][3] == frame["support"].sum()


def test_results_table_counts_and_settings_match_the_reference(reference):
    table = re.findall(r"^\d\s+model (\d)\s+([\d.]+)\s+([\d.]+)$", reference, flags=re.M)
    assert len(table) == 4
    for number, loss, accuracy in table:
        row = published.PUBLISHED.loc[f"m{number}"]
        assert (row["published_test_loss"], row["published_test_accuracy"]) == (float(loss), float(accuracy))

    counts = re.search(r"number of images for each category: \[(\d+), (\d+), (\d+)\]", reference).groups()
    assert list(published.STUDY_CLASS_COUNTS.values()) == [int(n) for n in counts]
    assert published.STUDY_IMAGES == int(re.search(r"total `(\d+)`", reference).group(1))
    test = re.search(r"COVID (\d+), NORMAL (\d+), PNEUMONIA (\d+)` \((\d+) images\)", reference).groups()
    assert list(published.STUDY_TEST_COUNTS.values()) == [int(n) for n in test[:3]]
    assert published.STUDY_TEST_IMAGES == int(test[3])

    assert f"shape=({published.STUDY_IMAGE_SIZE}, {published.STUDY_IMAGE_SIZE})" in reference
    assert f"epochs = {published.STUDY_EPOCHS}," in reference
    assert f"Keras default of {published.STUDY_BATCH_SIZE} applies" in reference
    cuts = dict(re.findall(r"^\s*- M(\d): (?:first at )?epoch (\d+)", reference, flags=re.M))
    assert {f"m{m}": int(e) for m, e in cuts.items()} == published.STUDY_FIRST_LR_CUT
    weights_file = re.search(r"chexnet_weights_path = '([^']+)'", reference).group(1)
    assert weights_file == CHEXNET_FILE
    assert "CheXNet" in published.STUDY_M4_WEIGHTS and "brucechou1983" in weights_file
    assert "0.3.0" in published.STUDY_M4_WEIGHTS and "0.3.0" in weights_file


def test_published_reports_agree_with_the_study_test_counts():
    for model in published.PUBLISHED.index:
        frame = published.published_report(model)
        assert frame["support"].to_dict() == published.STUDY_TEST_COUNTS
        assert frame[["precision", "recall", "f1-score"]].stack().between(0, 1).all()
    assert published.STUDY_IMAGES == 3886 and published.STUDY_TEST_IMAGES == 778
    with pytest.raises(ConfigError, match="m4_clean"):
        published.published_report("m4_clean")


def test_published_is_re_exported_by_evaluation():
    from xray_utils import evaluation

    assert evaluation.PUBLISHED is published.PUBLISHED
    assert list(published.PUBLISHED.index) == ["m1", "m2", "m3", "m4"]


def _m4_config(weights_used, reason="") -> dict:
    return {"model": "m4", "weights": "auto", "weights_used": weights_used, "weights_reason": reason}


def test_a_model_4_without_chexnet_weights_is_never_called_chexnet(full):
    labels = {
        "none": full_study.model_label(_m4_config("none", "random initialisation (asked for)")),
        "imagenet": full_study.model_label(_m4_config("imagenet")),
        "other file": full_study.model_label(_m4_config("/data/my_densenet.h5")),
        "not recorded": full_study.model_label({"model": "m4"}),
        "committed run": full_study.model_label(full.runs[("m4", "study")]),
        "pool-first": full_study.model_label({**_m4_config("none"), "model": "m4_clean"}),
    }
    for case, label in labels.items():
        assert "chexnet" not in label.lower(), (case, label)
        assert "DenseNet121" in label, (case, label)
    assert full.runs[("m4", "study")].config["weights_used"] == "none"
    assert "random initialisation" in labels["committed run"]
    assert "ImageNet" in labels["imagenet"]
    assert labels["pool-first"].startswith("Model 4 (pool-first head)")


def test_a_model_4_with_chexnet_weights_says_so():
    by_name = full_study.model_label(_m4_config(f"/x/weights/{CHEXNET_FILE}"))
    by_reason = full_study.model_label(_m4_config("/x/w.h5", "CheXNet weights (w.h5)"))
    assert by_name == by_reason == "Model 4: DenseNet121, CheXNet weights"
    # A reason cannot turn random initialisation into CheXNet.
    assert describe_weights("none", "CheXNet weights (w.h5)") == "random initialisation"


def test_model_label_of_models_1_to_3_and_bad_input():
    from xray_utils.evaluation import MODEL_TITLES

    for model in ("m1", "m2", "m3"):
        assert full_study.model_label({"model": model, "weights_used": "none"}) == MODEL_TITLES[model]
    with pytest.raises(ConfigError, match="m9"):
        full_study.model_label({"model": "m9"})
    with pytest.raises(RunError, match="'auto' is a request"):
        describe_weights("auto")


def test_data_sentence_numbers_are_the_split_files_counts(full):
    numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", full.data_sentence())]
    for folder in sorted(full.folder.glob("*-*-*")):
        split = pd.read_csv(folder / "split.csv")
        by_class = split["class"].value_counts()
        test = split.loc[split["subset"] == "test", "class"].value_counts()
        classes = ["COVID", "Normal", "Viral Pneumonia"]
        expected = [len(split), *by_class[classes], int(test.sum()), *test[classes]]
        assert numbers[:8] == expected, folder.name
    assert numbers[8:] == [3886, 1200, 1341, 1345, 778, 240, 269, 269]
    accounting = full.data_accounting()
    assert accounting["images"] == numbers[0] and accounting["test_images"] == numbers[4]


def test_data_accounting_refuses_runs_that_count_differently(full, tmp_path):
    runs = {}
    for key in [("m1", "study"), ("m2", "study")]:
        target = tmp_path / full.runs[key].name
        shutil.copytree(full.runs[key].folder, target)
        runs[key] = Run.load(target)
    split_file = runs[("m2", "study")].folder / "split.csv"
    split = pd.read_csv(split_file)
    split.loc[split.index[split["class"] == "Normal"][0], "class"] = "COVID"
    split.to_csv(split_file, index=False)
    tampered = full_study.FullStudy(tmp_path, runs, [], full.fingerprint, full.source)
    with pytest.raises(RunError, match="count different images"):
        tampered.data_accounting()


def test_report_beside_published_on_the_committed_model_4(full):
    run = full.runs[("m4", "study")]
    frame = full_study.report_beside_published(run, "m4")
    classes = ["COVID", "Normal", "Viral Pneumonia"]
    assert list(frame.index.get_level_values("class").unique()) == classes
    assert set(frame.index.get_level_values("source")) == {"reproduced", "study (published)"}
    assert len(frame.columns) <= 7
    reproduced = frame.xs("reproduced", level="source")
    study = frame.xs("study (published)", level="source")
    test = pd.read_csv(run.folder / "split.csv").query("subset == 'test'")
    assert reproduced["support"].sum() == len(test) == run.metrics["test_images"]
    assert study["support"].sum() == 778
    # Recall recomputed from the saved predictions, class by class.
    with np.load(run.folder / "predictions.npz") as saved:
        y_true, y_pred = saved["y_true"], saved["y_prob"].argmax(1)
    for label, name in enumerate(classes):
        recall = (y_pred[y_true == label] == label).mean()
        assert reproduced.loc[name, "recall"] == pytest.approx(recall, abs=5e-4)
    assert study.loc["Normal"].tolist() == [0.99, 0.98, 0.99, 269]


def test_scale_is_read_from_the_run_and_the_source(full):
    for model in ("m1", "m2", "m3", "m4"):
        run = full.runs[(model, "study")]
        train = int((pd.read_csv(run.folder / "split.csv")["subset"] == "train").sum())
        text = full.scale(model)
        assert text == (
            f"{run.config['image_size']} px, {run.metrics['epochs_run']} epochs, batch {run.config['batch_size']}, "
            f"{train:,} training images, {full.source['hardware']}"
        )
    assert full.scale("m1", "corrected").startswith("192 px, 50 epochs, batch 32, 2,575 training images")
    with pytest.raises(RunError, match="m4/corrected"):
        full.scale("m4", "corrected")


def test_headline_names_model_4_by_what_ran(full):
    table = full_study.headline(full, None, "quick")
    assert table.index[3] == "Model 4: DenseNet121, random initialisation"
    assert not any("chexnet" in label.lower() for label in table.index)
    relabelled = full_study.headline(full, None, "quick", labels={"m4": "Model 4: DenseNet121, ImageNet weights"})
    assert relabelled.index[3] == "Model 4: DenseNet121, ImageNet weights"
    assert list(relabelled.index[:3]) == list(table.index[:3])
    from xray_utils.evaluation import MODEL_TITLES

    assert full_study.headline(None, None, "quick").index[3] == MODEL_TITLES["m4"]
