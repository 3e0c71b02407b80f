import json

from xray_utils import bench, runner


def test_end_to_end_table_reads_the_last_run(tmp_path, monkeypatch, capsys):
    record = tmp_path / "timings.json"
    monkeypatch.setattr(runner, "timings_file", lambda: record)
    bench._print_end_to_end(False, None)
    assert "no `xray-book` run recorded yet" in capsys.readouterr().out
    record.write_text(json.dumps({"profile": "quick", "data": "synthetic", "backend": "tensorflow",
                                  "finished": "2026-11-26 01:00:00", "chapters_s": {"01_a": 10.0, "02_b": 20.5},
                                  "book_build_s": 4.0, "wall_s": 25.0, "jobs": 2}))
    bench._print_end_to_end(False, None)
    out = capsys.readouterr().out
    assert "profile quick, data synthetic" in out
    assert "02_b    20.5 s" in out and "book build     4.0 s" in out
    assert "total wall    29.0 s  (chapters 2 at a time: their sum is 30.5 s)" in out


def test_profile_sizes_are_the_quick_and_full_inputs():
    from xray_utils.config import load_profile

    assert bench._profile_sizes() == sorted({load_profile("quick")["image_size"], load_profile("full")["image_size"]})
    assert len(bench._profile_sizes()) == 2
