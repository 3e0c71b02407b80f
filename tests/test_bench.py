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
