"""The committed full-profile results: verified before use, refused when they do not match their data."""

import json
import shutil

import pandas as pd
import pytest

from xray_utils import full_study
from xray_utils.errors import RunError


@pytest.fixture
def copied(tmp_path):
    target = tmp_path / "full"
    shutil.copytree(full_study.results_dir(), target)
    return target


def test_committed_results_are_six_runs_with_two_missing():
    full = full_study.load_full_study()
    assert sorted(full.runs) == [
        ("m1", "corrected"),
        ("m1", "study"),
        ("m2", "study"),
        ("m3", "corrected"),
        ("m3", "study"),
        ("m4", "study"),
    ]
    assert full.missing == [("m2", "corrected"), ("m4", "corrected")]
    assert full.fingerprint == "6160014dfb20c48a"
    assert "H100" in full.title and "m2/corrected" in full.describe()
    assert {run.metrics["test_images"] for run in full.runs.values()} == {736}


def test_committed_results_hold_no_weights_and_no_machine_paths():
    for path in full_study.results_dir().rglob("*"):
        assert path.suffix not in (".keras", ".h5", ".png", ".jpg", ".npy"), path
        if path.name in ("config.json", "environment.json"):
            text = path.read_text()
            assert "/shared/" not in text and "/work/" not in text and "/home/" not in text, path


def test_a_config_that_does_not_match_its_key_is_refused(copied):
    folder = next(copied.glob("m1-study-*"))
    config = json.loads((folder / "config.json").read_text())
    config["epochs"] = 5  # the numbers would no longer be the run the key names
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError, match=rf"{folder.name}.*does not match its configuration"):
        full_study.load_full_study(copied)


def test_a_split_from_other_data_is_refused(copied):
    folder = next(copied.glob("m2-study-*"))
    split = pd.read_csv(folder / "split.csv")
    split.loc[0, "file"] = "COVID/images/COVID-9999.jpg"
    split.to_csv(folder / "split.csv", index=False)
    with pytest.raises(RunError, match=rf"{folder.name}.*claims data fingerprint 6160014dfb20c48a"):
        full_study.load_full_study(copied)


def test_a_run_the_full_profile_does_not_make_is_refused(copied):
    from xray_utils.config import TrainConfig

    folder = next(copied.glob("m1-study-*"))
    config = json.loads((folder / "config.json").read_text())
    config["epochs"] = 5
    fields = {k: config[k] for k in TrainConfig.__dataclass_fields__}
    config["key"] = TrainConfig(**fields).key(config["data_fingerprint"])
    (folder / "config.json").write_text(json.dumps(config))
    folder.rename(copied / f"m1-study-{config['key']}")
    with pytest.raises(RunError, match="the full profile does not make"):
        full_study.load_full_study(copied)


def test_no_results_folder_gives_none(tmp_path):
    assert full_study.load_full_study(tmp_path / "absent") is None


def test_headline_puts_the_three_sources_side_by_side():
    from xray_utils.evaluation import results_table

    full = full_study.load_full_study()
    build = results_table({("m1", "study"): full.runs[("m1", "study")]})
    table = full_study.headline(full, build, "quick", synthetic=True)
    assert list(table.columns) == [
        "original study (published)",
        "full study, reproduced",
        "this build (quick profile, SYNTHETIC data)",
    ]
    assert table.iloc[0, 1].startswith("0.965 (") and table.iloc[1, 2] == "missing"
    assert table.iloc[2, 0] == "0.717"
