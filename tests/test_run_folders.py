import json

import pytest

from xray_utils import run_folders as runs
from xray_utils.errors import RunError


def test_unfinished_folder_is_never_loaded(tmp_path):
    (tmp_path / "m1-study-abc").mkdir()
    with pytest.raises(RunError, match="not a finished run"):
        runs.Run.load(tmp_path / "m1-study-abc")


def test_damaged_run_is_reported(tmp_path):
    folder = tmp_path / "m1-study-abc"
    folder.mkdir()
    (folder / runs.COMPLETE).write_text("")
    (folder / "config.json").write_text("{broken")
    with pytest.raises(RunError, match="damaged"):
        runs.Run.load(folder)


def test_publish_replaces_an_older_run_atomically(tmp_path):
    final, staging = tmp_path / "run", tmp_path / ".run.incomplete-1"
    final.mkdir()
    (final / "old.txt").write_text("old")
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    runs.publish(staging, final)
    assert runs.is_finished(final) and (final / "new.txt").exists() and not (final / "old.txt").exists()
    assert not staging.exists() and not list(tmp_path.glob(".run.replaced-*"))


def test_write_json_is_atomic_and_readable(tmp_path):
    runs.write_json(tmp_path / "x.json", {"a": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_environment_record_names_backend_and_versions():
    record = runs.environment_record()
    assert {"keras", "backend", "python", "numpy", "cpu_count", "date_utc"} <= set(record)
