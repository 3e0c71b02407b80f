"""Hostile inputs, end to end through `chapter.open_data` / the run machinery.

Each case builds its own bad input in a temporary folder and asserts the exact
kind of error (with what it names) or the reported skip, and that a finished
run sitting in the runs folder was not modified (file hashes before/after).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import make_tree, write_png
from PIL import Image

from xray_utils import plan
from xray_utils.errors import ConfigError, DataError, RunError
from xray_utils.params import parse_overrides, resolve_params


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """A runs folder holding one finished (tiny) run, as a user would have after a chapter."""
    from xray_utils.config import TrainConfig
    from xray_utils.data import find_dataset, load_images, make_synthetic_dataset
    from xray_utils.training import train

    root = make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "set", per_class=10, image_size=32)
    images = load_images(find_dataset(root), 32, 1, cache_dir=tmp_path_factory.mktemp("cache"))
    runs_dir = tmp_path_factory.mktemp("runs")
    train(
        TrainConfig(model="m1", image_size=32, channels=1, epochs=1, batch_size=8),
        images,
        runs_dir=runs_dir,
        stream=io.StringIO(),
    )
    return runs_dir


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.fixture
def untouched(finished_runs):
    before = _hashes(finished_runs)
    assert any(name.endswith("COMPLETE") for name in before)
    yield finished_runs
    assert _hashes(finished_runs) == before, "a finished run was modified"


def _open(data_dir, **params):
    return plan.open_data(
        resolve_params(overrides=dict(data_dir=str(data_dir), per_class=None, image_size=32, channels=1, **params))
    )


# --- files that are not images, and broken images -------------------------------------------


def test_non_image_files_and_masks_are_ignored(tmp_path, untouched):
    dataset = make_tree(tmp_path)
    for junk in (".DS_Store", "Thumbs.db", "stray.csv", "README.md.txt"):
        (dataset / "COVID" / "images" / junk).write_bytes(b"junk")
    images = _open(tmp_path)
    assert len(images) == 9 and not images.skipped
    assert not (images.images == 255).all(axis=(1, 2, 3)).any()  # masks are all-white here: none was read


@pytest.mark.parametrize(
    "damage,reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(p.read_bytes()[:70]), "broken image"),
        (lambda p: p.write_text("<html>not a png</html>"), "not an image"),
    ],
)
def test_broken_image_is_skipped_and_reported(tmp_path, untouched, damage, reason):
    dataset = make_tree(tmp_path, per_class=3)
    damage(dataset / "Normal" / "images" / "Normal-64.png")
    with pytest.raises(DataError, match="Normal"):  # 1 of 3 is far more than 1 %
        _open(tmp_path)
    from xray_utils.data import find_dataset, load_images

    images = load_images(find_dataset(tmp_path), 32, 1, cache_dir=tmp_path / "c", max_unreadable_fraction=0.5)
    assert [(s.file, reason in s.reason) for s in images.skipped] == [("Normal/images/Normal-64.png", True)]


def test_unreadable_file_permissions_are_skipped(tmp_path, untouched, monkeypatch):
    import xray_utils.data.loading as loading

    dataset = make_tree(tmp_path, per_class=3)
    locked = dataset / "COVID" / "images" / "COVID-3.png"
    real_read = loading._read_file

    def read(path):
        if path == locked:
            raise OSError("permission denied")
        return real_read(path)

    monkeypatch.setattr(loading, "_read_file", read)  # root reads anything, so simulate the refusal
    from xray_utils.data import find_dataset

    images = loading.load_images(find_dataset(tmp_path), 32, 1, cache_dir=tmp_path / "c", max_unreadable_fraction=0.5)
    assert images.skipped[0].file == "COVID/images/COVID-3.png" and "permission" in images.skipped[0].reason


def test_a_jpeg_named_png_loads(tmp_path, untouched):
    dataset = make_tree(tmp_path)
    fake = dataset / "COVID" / "images" / "COVID-1.png"
    Image.open(fake).convert("L").save(fake, format="JPEG")
    assert len(_open(tmp_path)) == 9


def test_odd_but_valid_images_all_load_to_one_form(tmp_path, untouched):
    dataset = make_tree(tmp_path, per_class=2)
    folder = dataset / "COVID" / "images"
    gray = np.random.default_rng(1).integers(0, 255, (50, 30), dtype=np.uint8)
    Image.fromarray(gray).convert("RGB").save(folder / "rgb.png")
    Image.fromarray(gray).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(gray).convert("P").save(folder / "palette.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(folder / "sixteen.png")
    Image.fromarray(gray).convert("1").save(folder / "onebit.png")
    write_png(folder / "large.png", size=(4000, 4000))
    write_png(folder / "small.png", size=(16, 16))
    write_png(folder / "wide.png", size=(300, 90))
    images = _open(tmp_path, data_subset="all")  # not release names: "study" would leave them out
    assert images.images.shape == (14, 32, 32, 1) and images.images.dtype == np.uint8 and not images.skipped


# --- layout problems --------------------------------------------------------------------------


def test_missing_data_folder(tmp_path, untouched):
    with pytest.raises(DataError, match=f"'{tmp_path / 'nothing'}' does not exist"):
        _open(tmp_path / "nothing")


def test_empty_class_folder(tmp_path, untouched):
    dataset = make_tree(tmp_path)
    for png in (dataset / "Viral Pneumonia" / "images").glob("*.png"):
        png.unlink()
    with pytest.raises(DataError, match="Viral Pneumonia/images' holds no"):
        _open(tmp_path)


def test_a_class_missing(tmp_path, untouched):
    dataset = make_tree(tmp_path)
    shutil.rmtree(dataset / "COVID")
    (dataset / "Lung_Opacity" / "images").mkdir(parents=True)
    with pytest.raises(DataError, match="no folder for class\\(es\\) COVID"):
        _open(tmp_path)


def test_extra_unknown_class_folder_is_noted(tmp_path, untouched, capsys):
    dataset = make_tree(tmp_path)
    (dataset / "Tuberculosis").mkdir()
    assert len(_open(tmp_path)) == 9
    assert "Ignored folder(s) that are not classes: Tuberculosis" in capsys.readouterr().out


@pytest.mark.parametrize(
    "names",
    [
        ["COVID", "NORMAL", "Viral Pneumonia"],
        ["covid", "normal", "viral_pneumonia"],
        ["COVID-19", "Normal", "Viral_Pneumonia"],
    ],
)
def test_class_names_in_other_cases_and_spellings(tmp_path, untouched, names):
    make_tree(tmp_path, names=names)
    assert _open(tmp_path).class_names == ("COVID", "Normal", "Viral Pneumonia")


def test_nested_one_level_too_deep(tmp_path, untouched):
    make_tree(tmp_path / "archive" / "archive")
    assert len(_open(tmp_path)) == 9


def test_both_releases_side_by_side(tmp_path, untouched, capsys):
    make_tree(tmp_path, "2021")
    make_tree(tmp_path, "2020", per_class=2)
    assert _open(tmp_path).release == "2021"
    assert "Several datasets found" in capsys.readouterr().out


def test_symlinked_folders(tmp_path, untouched):
    dataset = make_tree(tmp_path / "store", "2020")
    os.symlink(dataset, tmp_path / "linked", target_is_directory=True)
    assert len(_open(tmp_path / "linked")) == 9


def test_identical_files_in_one_class_are_reported(tmp_path, untouched):
    from xray_utils.data import find_duplicates

    dataset = make_tree(tmp_path)
    shutil.copy(dataset / "Normal" / "images" / "Normal-63.png", dataset / "Normal" / "images" / "Normal-63 (copy).png")
    report = find_duplicates(_open(tmp_path, data_subset="all"))  # "study" keeps only release names
    exact = report[report.kind == "exact"]
    assert len(exact) == 1 and set(exact.iloc[0][["file_a", "file_b"]]) == {
        "Normal/images/Normal-63.png",
        "Normal/images/Normal-63 (copy).png",
    }


def test_identical_files_in_two_classes_are_an_error(tmp_path, untouched):
    dataset = make_tree(tmp_path)
    shutil.copy(dataset / "Normal" / "images" / "Normal-63.png", dataset / "COVID" / "images" / "COVID-77.png")
    with pytest.raises(DataError, match="two classes: .*COVID-77.png.*Normal-63.png"):
        _open(tmp_path)


# --- parameters: refused before any data is touched ---------------------------------------------


@pytest.mark.parametrize(
    "params,message",
    [
        ({"epochs": 0}, "epochs=0 is not allowed"),
        ({"epochs": -1}, "epochs=-1 is not allowed"),
        ({"batch_size": 0}, "batch_size=0 is not allowed"),
        ({"image_size": 8}, "image_size=8 is not allowed"),
        ({"image_size": 72}, "image_size=72 is not allowed: use a multiple of 16"),
        ({"channels": 2}, "channels=2 is not allowed"),
        ({"profile": "medium"}, "profile='medium' is not known"),
        ({"protocols": ["study", "holdout"]}, "protocols='holdout' is not known"),
        ({"m4_weights": "vgg"}, "weights='vgg' is not known"),
        ({"m4_image_size": 16}, "too small for DenseNet121"),
    ],
)
def test_bad_parameters_fail_before_data_is_loaded(tmp_path, untouched, params, message):
    with pytest.raises(ConfigError, match=message.replace("(", "\\(")):
        plan.collect({"data_dir": str(tmp_path / "does-not-exist"), **params})


def test_unknown_model_and_override_key(untouched):
    with pytest.raises(ConfigError, match="model='m7' is not known; allowed: m1, m2, m3, m4, m4_clean"):
        resolve_params("quick").train_config("m7", "study")
    with pytest.raises(ConfigError, match="unknown parameter\\(s\\) learning_rate"):
        parse_overrides(["learning_rate=0.1"])


# --- caches and interrupted or concurrent runs --------------------------------------------------


def test_stale_cache_metadata_is_rebuilt(tmp_path, untouched, capsys):
    from xray_utils.data import find_dataset, load_images

    make_tree(tmp_path / "d")
    first = load_images(find_dataset(tmp_path / "d"), 32, 1, cache_dir=tmp_path / "c")
    (meta,) = (tmp_path / "c" / "arrays").glob("*.json")
    meta.write_text(meta.read_text().replace('"shape": [9', '"shape": [8'))
    again = load_images(find_dataset(tmp_path / "d"), 32, 1, cache_dir=tmp_path / "c")
    assert not again.from_cache and np.array_equal(first.images, again.images)
    assert "stale cache" in capsys.readouterr().err


def test_a_crash_mid_training_leaves_finished_runs_alone(untouched, monkeypatch, tmp_path):
    from xray_utils import run_folders as runs
    from xray_utils.data import find_dataset, load_images, make_synthetic_dataset
    from xray_utils.training import train

    folder = next(p for p in untouched.iterdir() if runs.is_finished(p))
    # the generator is deterministic: the same arguments give the images of the finished run again
    root = make_synthetic_dataset(tmp_path / "set", per_class=10, image_size=32)
    images = load_images(find_dataset(root), 32, 1)
    from xray_utils.config import TrainConfig

    monkeypatch.setattr("keras.Model.fit", lambda *a, **k: (_ for _ in ()).throw(MemoryError("out of memory")))
    with pytest.raises(MemoryError):
        train(
            TrainConfig(model="m1", image_size=32, channels=1, epochs=1, batch_size=8),
            images,
            runs_dir=untouched,
            retrain=True,
            stream=io.StringIO(),
        )
    stale = runs.stale_attempts(untouched, folder.name)
    assert stale and not runs.is_finished(stale[0])
    for attempt in stale:  # tidy up so the hash check compares the finished run only
        shutil.rmtree(attempt)


def test_two_writers_of_one_run_are_kept_apart(untouched):
    from xray_utils import run_folders as runs

    name = next(p.name for p in untouched.iterdir() if runs.is_finished(p))
    with runs.run_lock(untouched, name):
        with pytest.raises(RunError, match="Another process is training run"):
            with runs.run_lock(untouched, name):
                pass
