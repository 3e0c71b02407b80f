import json

import pytest

from xray_utils import bench, runner


def test_end_to_end_table_reads_the_last_run(tmp_path, monkeypatch, capsys):
    record = tmp_path / "timings.json"
    monkeypatch.setattr(runner, "timings_file", lambda: record)
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
    from xray_utils.config import load_profile

    assert bench._profile_sizes() == sorted({load_profile("quick")["image_size"], load_profile("full")["image_size"]})
    assert len(bench._profile_sizes()) == 2


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
