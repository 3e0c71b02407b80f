"""scripts/gpu_full_study.py and make_gpu_inputs.py: the prepared GPU run, tested by its dry run on a CPU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import make_tree

from xray_utils import data
from xray_utils.data.loading import data_fingerprint
from xray_utils.params import resolve_params

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _script(name: str):
    """A script of scripts/ imported as a module (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fingerprint(folder: Path) -> str:
    index = data.find_dataset(folder)
    return data_fingerprint(index.relative_files(), index.labels, index.class_names)


def test_jpeg_copies_keep_the_names_so_the_runs_keep_their_keys(tmp_path):
    inputs = _script("make_gpu_inputs")
    source = make_tree(tmp_path / "png", per_class=3, size=(40, 40))
    count, size = inputs.jpeg_copies(source.parent, tmp_path / "jpeg", size=32)
    copied = tmp_path / "jpeg" / source.name
    assert count == 18 and size > 0  # images and masks of three classes, three each
    assert _fingerprint(copied) == _fingerprint(source)
    decoded = data.load_images(data.find_dataset(copied), 32, 1, use_cache=False)
    assert decoded.images.shape == (9, 32, 32, 1) and not decoded.skipped
    assert inputs.jpeg_copies(source.parent, tmp_path / "jpeg", size=32) == (count, size)  # kept, not redone


def test_the_committed_runs_keys_come_back_from_the_real_file_names(shared_data):
    script = _script("gpu_full_study")
    params = resolve_params("full", {"data_dir": str(shared_data), "protocols": ["study"], "m4_protocols": ["study"]})
    checked = script.key_check(params, script.ROOT / "results" / "full", script.MODELS)
    assert all(value.startswith("same key as full: ") for value in checked.values()), checked


def test_packs_leave_weights_and_hidden_files_behind_and_split_when_large(tmp_path, monkeypatch):
    script = _script("gpu_full_study")
    run = tmp_path / "runs" / "m1-study-abc"
    (run / "evidence").mkdir(parents=True)
    for name in ("config.json", "model.keras", "x.weights.h5", ".lock", "evidence/maps.npz"):
        (run / name).write_bytes(os.urandom(3000))
    out = tmp_path / "out"
    out.mkdir()
    assert script.pack([run], out, "runs-study") == ["runs-study.tar.gz"]
    with tarfile.open(out / "runs-study.tar.gz") as tar:
        assert sorted(tar.getnames()) == [
            "m1-study-abc", "m1-study-abc/config.json", "m1-study-abc/evidence", "m1-study-abc/evidence/maps.npz"
        ]  # fmt: skip
    monkeypatch.setattr(script, "PART_BYTES", 2000)
    parts = script.pack([run], out, "runs-study")
    assert len(parts) > 1 and not (out / "runs-study.tar.gz").exists()
    whole = b"".join((out / part).read_bytes() for part in parts)
    (tmp_path / "joined.tar.gz").write_bytes(whole)
    with tarfile.open(tmp_path / "joined.tar.gz") as tar:
        assert "m1-study-abc/evidence/maps.npz" in tar.getnames()


def _dummy_wheel(folder: Path) -> Path:
    """A wheel of one tiny module, to see the script install what it carries without any index."""
    wheel = folder / "gpu_dummy-0.1-py3-none-any.whl"
    folder.mkdir()
    info = "gpu_dummy-0.1.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("gpu_dummy.py", "VALUE = 1\n")
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: gpu-dummy\nVersion: 0.1\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.mark.slow  # trains model 3 twice at 32 px and makes its evidence: about a minute on 2 cores
def test_dry_run_does_every_step_on_a_cpu(tmp_path):
    _dummy_wheel(tmp_path / "wheels")
    out, runs = tmp_path / "out", tmp_path / "runs" / "gpu-full"
    command = [sys.executable, str(SCRIPTS / "gpu_full_study.py"), "--dry-run", "--only", "m3", "--extra-seeds", "1"]
    command += ["--wheels", str(tmp_path / "wheels"), "--out", str(out), "--runs", str(runs)]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "XRAY_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["wheels"] == ["gpu_dummy-0.1-py3-none-any.whl"] and summary["deterministic_ops"]
    row = summary["models"]["m3"]
    assert row["grid"] == [4, 4] and row["xla_gpu_deterministic_ops"] is True and row["epochs"] == 1
    assert {"compile_s", "seconds_per_epoch", "total_s", "evidence_s", "test_accuracy", "equal"} <= set(row)
    assert list(summary["seeds"]) == ["4"] and summary["skipped"] == [] and summary["wall_s"] > 0
    with tarfile.open(out / "runs-study.tar.gz") as tar:
        names = tar.getnames()
    assert f"{row['run']}/evidence/maps.npz" in names and not [n for n in names if n.endswith("model.keras")]
    with tarfile.open(out / "runs-seeds.tar.gz") as tar:
        assert len({name.split("/")[0] for name in tar.getnames()}) == 1
    assert (out / "log.txt").read_text().count("evidence: written") == 1 and (out / "summary.txt").is_file()


def test_each_run_records_whether_gpu_ops_were_deterministic(monkeypatch):
    from xray_utils.run_folders import environment_record

    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1 --xla_gpu_deterministic_ops=true")
    record = environment_record()
    assert record["xla_gpu_deterministic_ops"] is True and "--xla_gpu_deterministic_ops=true" in record["xla_flags"]
    monkeypatch.setenv("XLA_FLAGS", "--xla_gpu_deterministic_ops=false")
    assert environment_record()["xla_gpu_deterministic_ops"] is False
    monkeypatch.delenv("XLA_FLAGS")
    assert environment_record()["xla_flags"] == "" and not environment_record()["xla_gpu_deterministic_ops"]
