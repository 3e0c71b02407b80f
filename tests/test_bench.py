import json

import pytest

from xray_utils import bench
from xray_utils.runner import timings


def test_end_to_end_table_reads_the_last_run(tmp_path, monkeypatch, capsys):
    record = tmp_path / "timings.json"
    monkeypatch.setattr(timings, "timings_file", lambda: record)
    bench._print_end_to_end(False, None)
    assert "no `xray-book` run recorded yet" in capsys.readouterr().out
    record.write_text(
        json.dumps(
            {
                "profile": "quick",
                "data": "synthetic",
                "backend": "tensorflow",
                "finished": "2026-11-26 01:00:00",
                "chapters_s": {"01_a": 10.0, "02_b": 20.5},
                "book_build_s": 4.0,
                "wall_s": 25.0,
                "jobs": 2,
            }
        )
    )
    bench._print_end_to_end(False, None)
    out = capsys.readouterr().out
    assert "profile quick, data synthetic" in out
    assert "02_b    20.5 s" in out and "book build     4.0 s" in out
    assert "total wall    29.0 s  (chapters 2 at a time: their sum is 30.5 s)" in out


def test_profile_sizes_are_the_quick_and_full_inputs():
    assert bench._profile_sizes() == [32, 192]  # the README's 32x32x3 (quick) and 192x192x3 (full)


def test_load_figures_time_a_cold_then_a_warm_load_in_fresh_processes(synthetic_dataset, tmp_path):
    """The synthetic set: 24 images per class; at 16 px, one channel, the array is 72 * 16 * 16 bytes."""
    figures = bench.load_figures(str(synthetic_dataset), 16, 1, repeat=1)
    assert figures["images"] == 72 and figures["array_mb"] == pytest.approx(72 * 16 * 16 / 2**20)
    assert figures["cold_from_cache"] is False and figures["warm_from_cache"] is True
    assert figures["cold_s"] > 0 and figures["warm_s"] > 0
    assert figures["cold_peak_rss_mb"] > 20  # a whole interpreter with NumPy, not this array alone
    in_process = bench._load_child(str(synthetic_dataset), 16, 3, str(tmp_path / "cache"))
    assert in_process["images"] == 72 and in_process["array_mb"] == pytest.approx(72 * 16 * 16 * 3 / 2**20)
    assert in_process["from_cache"] is False
    assert bench._load_child(str(synthetic_dataset), 16, 3, str(tmp_path / "cache"))["from_cache"] is True
    with pytest.raises(RuntimeError, match="no-such-folder"):
        bench.load_figures(str(tmp_path / "no-such-folder"), 16, 1, repeat=1)


@pytest.mark.backend
def test_train_child_times_one_model():
    figures = bench._train_child("m1", 16, 3, 4, 2)
    assert set(figures) == {"setup_s", "train_img_s", "infer_img_s"}
    assert all(value > 0 for value in figures.values())


@pytest.mark.backend
def test_device_mode_prints_the_table_on_tiny_settings(capsys):
    """Runs for real, in a fresh process, under this session's backend (CPU here; a GPU in use)."""
    import keras

    status = bench.main(
        [
            "--device",
            "--models",
            "m1",
            "--model-sizes",
            "32",
            "--batch",
            "4",
            "--steps",
            "2",
            "--epochs",
            "2",
            "--backends",
            keras.backend.backend(),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    header = next(line for line in out.splitlines() if line.split()[:1] == ["model"])
    for column in bench.DEVICE_COLUMNS:
        assert column in header
    row = next(line for line in out.splitlines() if line.split()[:1] == ["m1"])
    assert "failed" not in row, row
    fields = row.split()
    assert fields[1:4] == ["32x32x3", "float32", "1"]
    assert float(fields[7]) > 0  # images per second
    assert (fields[9] == "off") == (keras.backend.backend() != "jax")  # the cache column
    assert fields[10] in ("cpu:0", "CPU", "cpu") or "gpu" in row.lower() or "cuda" in row.lower()


def test_device_mode_refuses_a_single_epoch():
    with pytest.raises(SystemExit):
        bench.main(["--device", "--epochs", "1"])


# --breakdown: a chapter's seconds by part, from papermill's cell times and the kernel's statement clock.
T0 = 1_800_000_000.0  # the run's start (Unix time); every time below is T0 + seconds


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat()


def _cell(source: str, start: float, end: float, kind: str = "code") -> dict:
    return {
        "cell_type": kind,
        "source": source,
        "metadata": {"papermill": {"start_time": _iso(start), "end_time": _iso(end)}},
    }


M1_RUN = {  # what training.train reports: 2 s first epoch against 0.5 s later ones, so 1.5 s of graph preparation
    "model": "m1",
    "protocol": "study",
    "build_s": 1.0,
    "fit_s": 4.0,
    "first_epoch_s": 2.0,
    "later_epoch_s": 0.5,
    "predict_s": 0.5,
    "save_s": 0.3,
    "total_s": 6.5,
    "t": T0 + 17,
}
M1_RUN_2 = {**M1_RUN, "protocol": "test_steered", "build_s": 0.1, "fit_s": 0.3, "first_epoch_s": 0.2}
M1_RUN_2.update({"later_epoch_s": 0.1, "predict_s": 0.1, "save_s": 0.02, "total_s": 0.6, "t": T0 + 17.6})


def _model_chapter() -> tuple[dict, dict]:
    """An executed chapter and its clock: setup cell (imports, then data), training, a comment, a copyable fit."""
    notebook = {
        "cells": [
            _cell("# 2. Model 1", 1.5, 1.6, kind="markdown"),  # papermill times markdown too: a gap, not a part
            _cell(  # IPython numbers lines from the first non-blank one
                "\n\nfrom xray_utils import plan\nimport keras\n\nparams = plan.collect(globals())\nimages = plan.open_data(params)",
                2,
                10,
            ),
            _cell("runs = plan.train_model('m1', params, images)  # trains, or reuses", 10.5, 18),
            _cell("# a comment only: nothing for the clock to see", 18.2, 18.4),
            _cell("history = model.fit(x, y)\nplots.learning_curves(history)", 18.5, 20),
        ]
    }
    stamps = [[T0 + 2.5, 1], [T0 + 3, 2], [T0 + 7, 4], [T0 + 8, 5], [T0 + 10.6, 1], [T0 + 18.6, 1], [T0 + 19.6, 2]]
    clock = {
        "wave": 0,
        "start": T0 + 1,
        "end": T0 + 21,
        "kernel": T0 + 1.8,
        "statements": stamps,
        "runs": [M1_RUN, M1_RUN_2],
    }
    return notebook, clock


def test_statements_are_classified_by_what_they_call():
    assert bench.statement_kind("from xray_utils import plan") == "imports"
    assert bench.statement_kind("import keras") == "imports"
    assert bench.statement_kind("images = plan.open_data(params)") == "data"
    assert bench.statement_kind("full = full_study.load_full_study()  # numbers only") == "data"
    assert bench.statement_kind("runs = plan.train_model('m1', params, images)") == "runs"
    assert bench.statement_kind("runs = plan.load_runs(params, images)") == "runs"
    assert bench.statement_kind("model.fit(x_train, y_train, epochs=EPOCHS,\n          batch_size=BATCH)") == "train"
    assert bench.statement_kind("plots.learning_curves(study.history)  # not plan.open_data(") == "other"


def test_a_chapter_s_seconds_are_split_by_statement_and_run_and_add_up_to_its_wall_time():
    notebook, clock = _model_chapter()
    parts = bench.chapter_breakdown(notebook, clock)
    expected = {
        "start": 1.0,  # chapter start -> first code cell
        "imports": 4.5,  # the two import statements of the setup cell, 2.5 -> 7
        "data": 2.0 + 0.3,  # open_data, 8 -> 10; and the training statement's 7.4 s less its runs' 6.5 + 0.6
        "graph": (1.0 + 1.5) + (0.1 + 0.1),  # each run's build, and its first epoch's excess over the later ones
        "train": (2.5 + 0.2) + 1.0,  # each run's fit less that excess; the copyable cell's model.fit
        "eval": 0.5 + 0.1,
        "save": (6.5 - 5.5) + (0.6 - 0.5),  # each run's total less build, fit and predict
        "other": 1.0 + 0.2 + 0.4,  # params = ..., the comment-only cell, the learning curves
        "gaps": 0.5 + 0.5 + 0.1 + 0.2 + 0.1 + 0.1,  # between cells, and before each cell's first statement
        "shutdown": 1.0,  # last cell's end -> chapter end
        "wall": 20.0,
    }
    assert parts == pytest.approx(expected)
    assert sum(parts[p] for p in bench.BREAKDOWN_PARTS) == pytest.approx(parts["wall"])


def test_a_chapter_without_clock_stamps_falls_back_to_whole_cells():
    notebook, clock = _model_chapter()
    parts = bench.chapter_breakdown(notebook, {**clock, "statements": [], "runs": []})
    assert parts["imports"] == pytest.approx(8.0)  # the whole setup cell, its open_data too: cells are the finest grain
    assert parts["wall"] == pytest.approx(sum(parts[p] for p in bench.BREAKDOWN_PARTS)) == pytest.approx(20.0)


def _schedule(index_end: float = 115.0) -> dict:
    """Two trainers at a time, then the readers: 05 alone is the first wave's long pole."""
    spans = {
        "05_model4": (0, 0.2, 100),
        "04_model3": (0, 0.2, 30),
        "02_model1": (0, 30.1, 60),
        "01_data": (0, 60.1, 70),
        "06_evaluation": (1, 100.2, 110),
        "08_shortcuts": (1, 100.2, 130),
        "index": (1, 110.1, index_end),
    }
    chapters = {stem: {"wave": w, "start": T0 + s, "end": T0 + e} for stem, (w, s, e) in spans.items()}
    return {"started": T0, "wall_s": 130.5, "chapters": chapters}


def test_waits_and_the_critical_path_come_from_the_schedule():
    record = _schedule()
    waits = bench.schedule_waits(record)
    assert waits["02_model1"] == pytest.approx({"blocked": 0.0, "queued": 30.1})  # behind 04 for a slot
    assert waits["06_evaluation"] == pytest.approx({"blocked": 100.0, "queued": 0.2})  # behind the whole first wave
    assert waits["index"] == pytest.approx({"blocked": 100.0, "queued": 10.1})  # then behind 06 for a slot
    assert bench.critical_path(record) == ["05_model4", "08_shortcuts"]
    assert bench.critical_path(_schedule(index_end=140)) == ["05_model4", "06_evaluation", "index"]


def _executed_run(folder) -> None:
    """An executed folder as `xray-book run` leaves it: one chapter and timings.json."""
    notebook, clock = _model_chapter()
    folder.mkdir(exist_ok=True)
    (folder / "02_model1_plain_cnn.ipynb").write_text(json.dumps(notebook))
    record = {"profile": "quick", "jobs": 1, "started": T0, "wall_s": 21.0, "chapters": {"02_model1_plain_cnn": clock}}
    (folder / "timings.json").write_text(json.dumps(record))


def test_breakdown_prints_every_column_the_critical_path_and_the_trained_runs(tmp_path, capsys):
    _executed_run(tmp_path / "out")
    assert bench.main(["--breakdown", "--executed", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("chapter"))
    assert header.split()[1:] == list(bench.BREAKDOWN_COLUMNS)
    row = dict(
        zip(bench.BREAKDOWN_COLUMNS, map(float, next(li for li in lines if li.startswith("02_model1")).split()[1:]))
    )
    assert row["imports"] == 4.5 and row["graph"] == 2.7 and row["wall"] == 20.0 and row["queued"] == 1.0
    assert any(line.startswith("critical path") and "02_model1_plain_cnn (1.0-21.0)" in line for line in lines)
    run = next(line for line in lines if line.startswith("m1/study")).split()
    assert run[1] == "02_model1_plain_cnn" and run[2:] == ["1.0", "2.0", "0.5", "4.0", "0.5", "1.0", "6.5"]


def test_breakdown_names_what_is_missing(tmp_path, capsys):
    assert bench.main(["--breakdown", "--executed", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path) in err and "timings.json" in err
    (tmp_path / "timings.json").write_text(json.dumps({"chapters_s": {"01_a": 3.0}}))  # an older xray-book's record
    assert bench.main(["--breakdown", "--executed", str(tmp_path)]) == 2
    assert "no per-chapter clock" in capsys.readouterr().err
    _executed_run(tmp_path)
    (tmp_path / "02_model1_plain_cnn.ipynb").unlink()
    assert bench.main(["--breakdown", "--executed", str(tmp_path)]) == 2
    assert "02_model1_plain_cnn.ipynb is missing" in capsys.readouterr().err


CLOCKED_CHAPTER = """# %% tags=["parameters"]
seed = 1

# %%
import json
import time

time.sleep(0.3)
names = sorted(n for n in globals() if not n.startswith("_"))

# %%
import sys


def train_model(model):  # stands in for plan.train_model: reports a run as xray_utils.training.train does
    sys.audit("xray_utils.training.run", {"model": model, "protocol": "study", "build_s": 0.01, "fit_s": 0.02,
              "first_epoch_s": 0.01, "later_epoch_s": 0.01, "predict_s": 0.01, "save_s": 0.01, "total_s": 0.05})


runs = train_model("m1")
print(names)
"""


def test_the_runner_clocks_each_statement_and_run_of_a_chapter(tmp_path, monkeypatch, capsys):
    from xray_utils import runner
    from xray_utils.runner import chapters, kernel_clock

    folder, out = tmp_path / "notebooks", tmp_path / "out"
    folder.mkdir()
    (folder / "01_clocked.py").write_text(CLOCKED_CHAPTER)
    monkeypatch.setattr(chapters, "notebooks_dir", lambda: folder)
    monkeypatch.setattr(chapters, "executed_dir", lambda: out)
    assert runner.run("quick", timeout=120) == 0
    clock = json.loads((out / "timings.json").read_text())["chapters"]["01_clocked"]
    assert clock["wave"] == 0 and clock["start"] < clock["kernel"] < clock["end"]
    lines = [line for _, line in clock["statements"]]
    assert lines[-8:] == [1, 2, 4, 5, 1, 4, 9, 10]  # the setup cell's four statements, then the second cell's
    assert [r["model"] for r in clock["runs"]] == ["m1"] and kernel_clock.RUN_EVENT == "xray_utils.training.run"
    assert not list(out.glob(".*.timings.jsonl"))  # the log went into the record
    printed = nbformat_outputs(out / "01_clocked.ipynb")
    assert "json" in printed and "LOG" not in printed and "install" not in printed  # the chapter's namespace only
    record, rows = bench.breakdown(out)
    assert rows["01_clocked"]["other"] >= 0.3  # the sleep
    assert rows["01_clocked"]["graph"] == pytest.approx(0.01) and rows["01_clocked"]["save"] == pytest.approx(0.01)
    assert sum(rows["01_clocked"][p] for p in bench.BREAKDOWN_PARTS) == pytest.approx(rows["01_clocked"]["wall"])


def nbformat_outputs(path) -> str:
    """Every stream output of an executed notebook, joined."""
    cells = json.loads(path.read_text())["cells"]
    return "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))


@pytest.mark.backend
def test_a_trained_run_reports_its_phases_to_the_kernel_clock(synthetic_dataset, tmp_path, monkeypatch):
    import sys

    from xray_utils import training
    from xray_utils.config import TrainConfig
    from xray_utils.data import find_dataset, load_images
    from xray_utils.runner import kernel_clock

    events = []
    monkeypatch.setattr(sys, "audit", lambda name, *args: events.append((name, *args)))
    images = load_images(find_dataset(synthetic_dataset), 32, 1, cache_dir=tmp_path / "cache", progress=False)
    config = TrainConfig(model="m1", image_size=32, channels=1, epochs=2, batch_size=16)
    training.train(config, images, runs_dir=tmp_path / "runs", stream=open(tmp_path / "log", "w"))
    reported = [args[0] for name, *args in events if name == kernel_clock.RUN_EVENT]
    assert training.RUN_EVENT == kernel_clock.RUN_EVENT and len(reported) == 1
    run = reported[0]
    assert (run["model"], run["protocol"]) == ("m1", "study")
    assert run["fit_s"] >= run["first_epoch_s"] + run["later_epoch_s"] > 0
    assert run["total_s"] > run["build_s"] + run["fit_s"] + run["predict_s"] + run["save_s"]
    training.train(config, images, runs_dir=tmp_path / "runs", stream=open(tmp_path / "log", "w"))
    assert len([e for e in events if e[0] == kernel_clock.RUN_EVENT]) == 1  # a reused run trains nothing
