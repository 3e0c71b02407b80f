import io
import json

import numpy as np
import pandas as pd
import pytest

from xray_utils import run_folders, spread
from xray_utils.config import TrainConfig
from xray_utils.data import find_dataset, load_images
from xray_utils.errors import ConfigError, RunError
from xray_utils.training import train


def _fake_run(parent, model="m1", protocol="study", seed=1, y_true=(0, 1, 2, 0), predicted=(0, 1, 0, 0), rates=None):
    """A finished run folder written by hand: ``predicted`` are the argmax classes, ``rates`` the per-epoch rates."""
    rates = rates or [1e-3, 1e-3, 1e-4, 1e-5]
    folder = parent / f"{model}-{protocol}-{seed:012d}"
    folder.mkdir(parents=True)
    names = ["COVID", "Normal", "Viral Pneumonia"]
    config = {"model": model, "protocol": protocol, "seed": seed, "class_names": names}
    run_folders.write_json(folder / "config.json", config)
    run_folders.write_json(folder / "metrics.json", {"epochs_run": len(rates), "seconds_fit": 12.5})
    env = {"cpu_count": 2, "python": "3.11.7", "keras": "3.15.1", "tensorflow_version": "2.21.0"}
    run_folders.write_json(folder / "environment.json", {**env, "backend": "tensorflow", "date_utc": "2026-12-01T10"})
    history = pd.DataFrame({"epoch": range(1, len(rates) + 1), "loss": 0.5, "learning_rate": rates})
    history.to_csv(folder / "history.csv", index=False)
    y_prob = np.eye(3, dtype=np.float32)[list(predicted)]
    np.savez(folder / "predictions.npz", indices=np.arange(len(y_true)), y_true=np.array(y_true), y_prob=y_prob)
    (folder / run_folders.COMPLETE).write_text("")
    return folder


def _spread_csv(folder, accuracies):
    """``accuracies``: ``{(model, protocol): [accuracy per seed]}`` -> an accuracy.csv of 100-image runs."""
    rows = [
        {
            "model": m,
            "protocol": p,
            "seed": seed,
            "test_accuracy": a,
            "test_images": 100,
            "test_correct": round(a * 100),
        }
        | {"epochs_run": 6, "rate_cuts": 0, "train_seconds": 9.0}
        for (m, p), values in accuracies.items()
        for seed, a in enumerate(values)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "accuracy.csv", index=False)
    return folder / "accuracy.csv"


def test_collect_reads_the_rows_from_hand_made_runs(tmp_path):
    _fake_run(tmp_path, seed=2, y_true=(0, 1, 2), predicted=(0, 1, 0))  # 2 of 3 right
    _fake_run(tmp_path, seed=1)  # 3 of 4 right, rate cut twice
    _fake_run(tmp_path / ".staging", seed=3)  # hidden: not a finished run of this folder
    frame = spread.collect(tmp_path)
    assert list(frame.columns) == list(spread.COLUMNS)
    assert frame["seed"].tolist() == [1, 2]
    assert frame["test_correct"].tolist() == [3, 2] and frame["test_images"].tolist() == [4, 3]
    assert frame["test_accuracy"].tolist() == [0.75, 2 / 3]
    assert frame["rate_cuts"].tolist() == [2, 2] and frame["train_seconds"].tolist() == [12.5, 12.5]


def test_write_spread_round_trips_full_precision_and_records_the_machine(tmp_path):
    _fake_run(tmp_path / "runs", seed=1, y_true=(0, 1, 2), predicted=(0, 1, 0))
    spread.write_spread(tmp_path / "runs", tmp_path / "out")
    loaded = spread.quick_spread(tmp_path / "out")
    assert loaded.accuracies["test_accuracy"].iloc[0] == 2 / 3  # not rounded on the way
    assert loaded.range_of("m1", "study") == (2 / 3, 2 / 3, 1)
    record = json.loads((tmp_path / "out" / "machine.json").read_text())
    assert record["cores"] == "2" and record["keras"] == "3.15.1" and record["date"] == "2026-12-01"
    assert loaded.machine == f"{spread.cpu_name()}, 2 cores"


def test_collect_refuses_two_runs_of_one_seed_and_an_empty_folder(tmp_path):
    _fake_run(tmp_path / "runs", seed=1)
    _fake_run(tmp_path / "other", seed=1).rename(tmp_path / "runs" / "m1-study-second")  # e.g. another profile
    with pytest.raises(RunError, match="m1/study with seed 1"):
        spread.collect(tmp_path / "runs")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no finished run"):
        spread.collect(tmp_path / "empty")


def test_missing_spread_is_none(tmp_path):
    assert spread.quick_spread(tmp_path) is None


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda f: f.drop(columns="rate_cuts"), "rate_cuts"),
        (lambda f: f.assign(seed="one"), "seed"),
        (lambda f: f.assign(test_images=100.5), "test_images"),
        (lambda f: f.assign(test_accuracy=0.5), "test_accuracy"),  # not test_correct / test_images
    ],
)
def test_a_malformed_csv_names_the_file_and_column(tmp_path, change, column):
    path = _spread_csv(tmp_path, {("m1", "study"): [0.8, 0.9]})
    change(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(RunError, match="accuracy.csv") as error:
        spread.quick_spread(tmp_path)
    assert f"'{column}'" in str(error.value)


def test_a_malformed_machine_record_is_named(tmp_path):
    _spread_csv(tmp_path, {("m1", "study"): [0.8]})
    (tmp_path / "machine.json").write_text('{"cores": 2}')
    with pytest.raises(RunError, match="machine.json"):
        spread.quick_spread(tmp_path)


def test_table_places_this_build_inside_above_or_below_the_range(tmp_path):
    _spread_csv(tmp_path, {("m1", "study"): [0.90, 0.80, 0.85], ("m2", "study"): [0.5, 0.7], ("m3", "study"): [0.6]})
    loaded = spread.quick_spread(tmp_path)
    plain = loaded.table()
    assert plain.set_index("model").loc["m1", ["seeds", "min", "median", "max"]].tolist() == [3, 0.80, 0.85, 0.90]
    assert plain.set_index("model").loc["m2", "median"] == pytest.approx(0.6)
    table = loaded.table({("m1", "study"): 0.80, ("m2", "study"): 0.71, ("m3", "study"): 0.59}).set_index("model")
    assert table[spread.WITHIN].tolist() == ["yes", "above", "below"]  # 0.80 is the minimum: inside
    assert table.loc["m1", "this build"] == 0.80
    partial = loaded.table({("m2", "study"): 0.6}).set_index("model")
    assert partial.loc["m2", spread.WITHIN] == "yes" and pd.isna(partial.loc["m1", spread.WITHIN])
    assert np.isnan(partial.loc["m1", "this build"])
    assert loaded.range_of("m2", "study") == (0.5, 0.7, 2)
    with pytest.raises(ConfigError, match="m4/study"):
        loaded.range_of("m4", "study")
    with pytest.raises(ConfigError, match="fraction"):
        loaded.table({("m1", "study"): 85.0})


@pytest.mark.backend
def test_collect_reads_a_trained_run(synthetic_dataset, tmp_path):
    images = load_images(find_dataset(synthetic_dataset), 32, 1, cache_dir=tmp_path / "cache")
    config = TrainConfig(model="m1", image_size=32, channels=1, epochs=2, batch_size=16, seed=5)
    run = train(config, images, runs_dir=tmp_path / "runs", stream=io.StringIO())
    row = spread.collect(tmp_path / "runs").iloc[0]
    predicted = run.predictions()
    assert row["test_correct"] == int((predicted["y_prob"].argmax(1) == predicted["y_true"]).sum())
    assert row["test_accuracy"] == run.metrics["test_accuracy"]  # training's own accuracy_score
    assert (row["model"], row["protocol"], row["seed"], row["epochs_run"]) == ("m1", "study", 5, 2)
    assert row["train_seconds"] == run.metrics["seconds_fit"] > 0


def test_the_committed_spread_loads_and_covers_every_quick_run():
    loaded = spread.quick_spread()
    if loaded is None:
        pytest.skip("results/quick-seeds/accuracy.csv is not there yet")
    pairs = set(zip(loaded.accuracies["model"], loaded.accuracies["protocol"]))
    models = ("m1", "m2", "m3")
    assert pairs == {(m, p) for m in models for p in ("study", "test_steered", "corrected")} | {("m4", "study")}
    assert "cores" in loaded.machine and (loaded.accuracies["test_images"] > 0).all()


@pytest.mark.slow
def test_collect_reads_a_real_quick_run(shared_data, tmp_path):
    from xray_utils.params import resolve_params
    from xray_utils.plan import open_data, train_model

    params = resolve_params("quick", {"data_dir": str(shared_data), "runs_dir": str(tmp_path), "protocols": ["study"]})
    run = train_model("m1", params, open_data(params))["study"]
    row = spread.collect(tmp_path).iloc[0]
    assert (row["model"], row["seed"], row["epochs_run"]) == ("m1", 1987, params.epochs)
    assert row["test_images"] == run.metrics["test_images"] and row["test_accuracy"] == run.metrics["test_accuracy"]
