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


def test_committed_results_are_ten_runs_with_two_missing():
    full = full_study.load_full_study()
    assert sorted(full.runs) == sorted(
        [(m, p) for m in ("m1", "m2", "m3") for p in ("study", "test_steered", "corrected")] + [("m4", "study")]
    )
    assert full.missing == [("m4", "test_steered"), ("m4", "corrected")]
    assert full.fingerprint == "6160014dfb20c48a"
    assert "H100" in full.title and "m4/corrected" in full.describe()
    assert {run.metrics["test_images"] for run in full.runs.values()} == {736}


def test_seed_runs_pair_up_and_isolate_the_leak():
    from xray_utils import evaluation

    runs = full_study.load_seed_runs(full_study.load_full_study())
    table = evaluation.leak_by_seed(runs)
    assert table[["model", "seed"]].values.tolist() == [
        ["m1", 2], ["m1", 3], ["m1", 1987], ["m2", 1987], ["m3", 2], ["m3", 3], ["m3", 1987]
    ]  # fmt: skip
    # The two arms share their training images: only the steering images differ.
    for (model, protocol, seed), run in runs.items():
        if protocol == "test_steered":
            other = runs[(model, "corrected", seed)]
            assert run.metrics["train_images"] == other.metrics["train_images"] == 2575
            assert set(run.split().query("subset == 'train'")["file"]) == set(
                other.split().query("subset == 'train'")["file"]
            )


def test_a_seed_run_with_another_change_is_refused(tmp_path):
    target = tmp_path / "seeds"
    shutil.copytree(full_study.seeds_dir(), target)
    folder = next(target.glob("m1-corrected-*"))
    config = json.loads((folder / "config.json").read_text())
    config["batch_size"] = 16
    fields = {f: config[f] for f in full_study._CONFIG_FIELDS}
    key = full_study.TrainConfig(**fields).key(config["data_fingerprint"])
    config["key"] = key
    renamed = folder.with_name(f"m1-corrected-{key}")
    folder.rename(renamed)
    (renamed / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError, match=r"not the full profile's configuration with another seed"):
        full_study.load_seed_runs(None, target)


def test_committed_results_hold_no_weights_and_no_machine_paths():
    for path in [*full_study.results_dir().rglob("*"), *full_study.seeds_dir().rglob("*")]:
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
