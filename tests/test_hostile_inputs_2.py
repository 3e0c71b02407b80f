"""Hostile inputs, round 2: the cache, odd file names, tiny classes, damaged runs, odd overrides.

Each case builds its bad input in a temporary folder. File-system failures are
simulated where a real one needs privileges (a read-only or full ``tmpfs``
needs root: those variants are skipped, with the reason, otherwise).
"""

from __future__ import annotations

import errno
import io
import os
import struct
import subprocess
import tracemalloc
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from helpers import make_tree, write_run_folder
from PIL import Image

from xray_utils import plan, run_folders
from xray_utils.data import CLASS_NAMES, ImageSet, data_fingerprint, decode_image, find_dataset, load_images
from xray_utils.errors import ConfigError, DataError, RunError
from xray_utils.params import parse_overrides, resolve_params

ROOT = os.geteuid() == 0


def _open(data_dir, **params):
    return plan.open_data(
        resolve_params(overrides=dict(data_dir=str(data_dir), per_class=None, image_size=32, channels=1, **params))
    )


@contextmanager
def _tmpfs(folder: Path, options: str):
    """A tmpfs mounted at ``folder`` (root only; skipped with the reason otherwise)."""
    if not ROOT:
        reason = "tmpfs mounts need root; the simulated variant of this test covers the case"
        print(reason)
        pytest.skip(reason)
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode:
        reason = f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}"
        print(reason)
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _refuse_writes_under(folder: Path, monkeypatch) -> None:
    """Make ``folder`` read-only: chmod for a normal user, a patched ``mkdir`` for root (root ignores modes)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not ROOT:
        folder.chmod(0o555)
        return
    real = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == folder or folder in self.parents:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)


@pytest.fixture(params=["simulated", "tmpfs"])
def read_only_cache(request, tmp_path, monkeypatch):
    """``XRAY_CACHE_DIR`` on a read-only file system (simulated, or a real read-only tmpfs)."""
    folder = tmp_path / "ro-cache"
    if request.param == "tmpfs":
        with _tmpfs(folder, "ro,size=1m"):
            monkeypatch.setenv("XRAY_CACHE_DIR", str(folder))
            yield folder
    else:
        _refuse_writes_under(folder, monkeypatch)
        monkeypatch.setenv("XRAY_CACHE_DIR", str(folder))
        yield folder
        folder.chmod(0o755)


@pytest.fixture(params=["simulated", "tmpfs"])
def full_cache(request, tmp_path, monkeypatch):
    """A cache folder whose file system fills up while the array is written."""
    folder = tmp_path / "full-cache"
    if request.param == "tmpfs":
        with _tmpfs(folder, "size=16k"):
            yield folder
        return
    real_save = np.save

    def save(file, array, *args, **kwargs):
        partial = b"\x93NUMPY partial"  # what a full disk leaves behind
        file.write(partial) if hasattr(file, "write") else Path(file).write_bytes(partial)
        raise OSError(errno.ENOSPC, "No space left on device")

    folder.mkdir()
    monkeypatch.setattr(np, "save", save)
    yield folder
    monkeypatch.setattr(np, "save", real_save)


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file()]


# --- 1. the cache never breaks a load ----------------------------------------------------------


def test_read_only_cache_is_a_warning_not_an_error(tmp_path, read_only_cache, capsys):
    index = find_dataset(make_tree(tmp_path / "d"))
    first = load_images(index, 32, 1)
    second = load_images(index, 32, 1)
    assert len(first) == 9 and not second.from_cache and np.array_equal(first.images, second.images)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "cache" in line]
    assert warnings and all(line.startswith("warning: ") for line in warnings)
    assert not _leftovers(read_only_cache)


def test_full_disk_leaves_no_partial_cache_file(tmp_path, full_cache, capsys):
    index = find_dataset(make_tree(tmp_path / "d"))
    images = load_images(index, 64, 3, cache_dir=full_cache)  # 9 x 64 x 64 x 3 bytes: more than 16 kB
    assert len(images) == 9 and images.images.shape == (9, 64, 64, 3)
    assert not [name for name in _leftovers(full_cache) if ".tmp" in name]
    assert "could not write the image cache" in capsys.readouterr().err


def test_unreadable_cache_is_a_warning(tree_2021, tmp_path, monkeypatch, capsys):
    load_images(find_dataset(tree_2021), 32, 1, cache_dir=tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(np, "load", refuse)
    again = load_images(find_dataset(tree_2021), 32, 1, cache_dir=tmp_path)
    assert len(again) == 9 and not again.from_cache
    assert "cannot read the image cache" in capsys.readouterr().err


def test_synthetic_stand_in_with_a_read_only_cache(read_only_cache, tmp_path, monkeypatch, capsys):
    import tempfile

    import xray_utils.data as xdata

    real = xdata.make_synthetic_dataset

    def small(root=None, per_class=4, image_size=32, seed=0):  # the real generator, just fewer images
        return real(root, per_class, image_size, seed)

    monkeypatch.setattr(xdata, "make_synthetic_dataset", small)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    index = xdata.resolve_dataset("synthetic")
    images = load_images(index, 32, 1)
    assert index.synthetic and len(images) == 12 and (tmp_path / "tmp") in index.root.parents
    assert "cannot write the synthetic stand-in" in capsys.readouterr().err


# --- 2. file names that are not UTF-8 ----------------------------------------------------------


def _latin1_file(folder: Path) -> None:
    """``latin1-\\xe9.png`` as raw bytes, as a zip made on Windows leaves it."""
    path = os.fsencode(folder) + b"/latin1-\xe9.png"
    buffer = io.BytesIO()
    Image.new("L", (32, 32), 80).save(buffer, format="PNG")
    with open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def test_a_name_that_is_not_utf8_is_left_out_and_named(tmp_path, capsys):
    dataset = make_tree(tmp_path)
    _latin1_file(dataset / "COVID" / "images")
    images = _open(tmp_path, data_subset="all")
    assert len(images) == 9
    assert "COVID/images/latin1-\\xe9.png" in capsys.readouterr().out


def test_fingerprint_and_cache_key_take_any_bytes(tmp_path):
    from dataclasses import replace

    dataset = make_tree(tmp_path)
    _latin1_file(dataset / "COVID" / "images")
    index = find_dataset(dataset)
    odd = Path(os.fsdecode(os.fsencode(dataset / "COVID" / "images") + b"/latin1-\xe9.png"))
    index = replace(index, files=(*index.files, odd), labels=np.append(index.labels, 0))
    for use_cache in (False, True):
        images = load_images(index, 32, 1, cache_dir=tmp_path / "c", use_cache=use_cache)
        assert len(images) == 10 and len(images.fingerprint) == 16
    assert data_fingerprint(["a.png"], [0], CLASS_NAMES) == data_fingerprint(["a.jpg"], [0], CLASS_NAMES)


# --- 3. tiny classes and the seed --------------------------------------------------------------


def _imageset(counts, tmp_path) -> ImageSet:
    labels = np.repeat(np.arange(3), counts)
    files = tuple(f"{CLASS_NAMES[label]}/images/{CLASS_NAMES[label]}-{i}.png" for i, label in enumerate(labels))
    images = np.zeros((len(labels), 32, 32, 1), dtype=np.uint8)
    return ImageSet(images, labels, CLASS_NAMES, files, tmp_path, synthetic=True, release="synthetic")


@pytest.mark.parametrize(
    "counts,protocol,message",
    [
        ((1, 10, 10), "study", "class COVID has 1 image"),
        ((2, 2, 2), "study", "class COVID has 2 image"),
        ((3, 40, 40), "corrected", "class COVID has 3 image.*validation part without a COVID image"),
    ],
)
def test_tiny_classes_fail_before_any_folder_is_made(tmp_path, counts, protocol, message):
    from xray_utils.config import TrainConfig
    from xray_utils.training import train

    runs_dir = tmp_path / "runs"
    config = TrainConfig(model="m1", protocol=protocol, image_size=32, channels=1, epochs=1, batch_size=8)
    with pytest.raises(DataError, match=f"{message}.*needs at least \\d+"):
        train(config, _imageset(counts, tmp_path), runs_dir=runs_dir, stream=io.StringIO())
    assert not runs_dir.exists()


@pytest.mark.parametrize("per_class", [1, 2])
def test_small_per_class_is_refused_with_the_parameters(per_class):
    with pytest.raises(ConfigError, match=f"per_class={per_class} is too small.*at least \\d+ images"):
        resolve_params(overrides=dict(per_class=per_class))


@pytest.mark.parametrize("seed", ["abc", -1, 1.5, 1e23, True, 2**32])
def test_seed_is_validated_with_the_parameters(seed):
    with pytest.raises(ConfigError, match="seed=.* is not allowed"):
        resolve_params(overrides=dict(seed=seed))


# --- 4. unreadable files are named; huge images --------------------------------------------------


def test_too_many_unreadable_files_are_named_in_the_error(tmp_path):
    dataset = make_tree(tmp_path, per_class=4)
    (dataset / "Normal" / "images" / "Normal-64.png").write_bytes(b"")
    (dataset / "Normal" / "images" / "Normal-65.png").write_text("<html>")
    with pytest.raises(DataError) as caught:
        load_images(find_dataset(dataset), 16, 1, cache_dir=tmp_path / "c")
    message = str(caught.value)
    assert "Normal-64.png: empty file" in message and "Normal-65.png: not an image" in message
    assert "ImageSet.skipped" not in message and "\n" not in message


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width x height`` (its pixel data is a stub: it is never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [60000, 13000])
def test_huge_images_are_skipped_with_the_pixel_limit(side):
    with pytest.raises(ValueError, match=f"{side * side:,} pixels, above the limit of {Image.MAX_IMAGE_PIXELS:,}"):
        decode_image(_png_header(side, side), 32, 1)


def test_very_large_16_bit_image_decodes_in_little_memory(tmp_path):
    path = tmp_path / "big16.png"
    Image.fromarray(np.full((5000, 5000), 30000, dtype=np.uint16)).save(path, compress_level=1)
    tracemalloc.start()
    try:
        out = decode_image(path, 32, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert abs(int(out.mean()) - round(30000 / ((2**15 - 1) / 255))) <= 1  # 30000 needs 15 bits: 15-bit scale
    assert peak < 60e6, f"decoding a 5000x5000 16-bit image took {peak / 1e6:.0f} MB"  # float64 copy: 200 MB


# --- 5. permissions ----------------------------------------------------------------------------------


def _deny(folder: Path, monkeypatch) -> None:
    """No permission on ``folder`` (chmod; root ignores modes, so then a patched ``iterdir`` and ``stat``)."""
    if not ROOT:
        folder.chmod(0)
        return
    real_iterdir, real_stat = Path.iterdir, Path.stat

    def iterdir(self):
        if self == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_iterdir(self)

    def stat(self, *args, **kwargs):
        if folder in self.parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    monkeypatch.setattr(Path, "stat", stat)


def test_unreadable_data_folder_says_permission_denied(tmp_path, monkeypatch):
    make_tree(tmp_path / "data")
    _deny(tmp_path / "data", monkeypatch)
    try:
        with pytest.raises(DataError, match=f"Permission denied: cannot read data folder '{tmp_path / 'data'}'"):
            _open(tmp_path / "data")
    finally:
        (tmp_path / "data").chmod(0o755)


@pytest.mark.parametrize("denied", ["Normal/images", "Normal"])
def test_unreadable_class_folder_says_permission_denied(tmp_path, monkeypatch, denied):
    dataset = make_tree(tmp_path)
    folder = dataset / denied
    _deny(folder, monkeypatch)
    try:
        with pytest.raises(DataError, match=f"Permission denied: cannot read .*'{folder}"):
            _open(tmp_path)
    finally:
        folder.chmod(0o755)


# --- 6. data_dir is the downloaded archive -------------------------------------------------------


def test_zip_as_data_dir_says_how_to_extract_it(tmp_path):
    dataset = make_tree(tmp_path / "unpacked")
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in dataset.rglob("*"):
            zipped.write(path, path.relative_to(tmp_path / "unpacked"))
    with pytest.raises(
        DataError, match=f"'{archive}' is a zip archive.*python -m zipfile -e .*'{tmp_path / 'archive'}'"
    ):
        _open(archive)


# --- 7. damaged run folders ----------------------------------------------------------------------


def test_a_sound_hand_written_run_reads_back(tmp_path):
    assert run_folders.Run.load(write_run_folder(tmp_path)).predictions()["y_prob"].shape == (3, 3)


def _tiny_keras_archive(path: Path) -> bytes:
    import keras

    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    return path.read_bytes()


@pytest.mark.parametrize("content", ["garbage", "empty", "truncated", "foreign zip"])
def test_damaged_model_file_names_the_run_and_the_file(tmp_path, content):
    folder = write_run_folder(tmp_path)
    model = folder / "model.keras"
    if content == "truncated":
        whole = _tiny_keras_archive(tmp_path / "tiny.keras")
        model.write_bytes(whole[: len(whole) // 2])
    elif content == "foreign zip":
        with zipfile.ZipFile(model, "w") as zipped:
            zipped.writestr("notes.txt", "not a model")
    else:
        model.write_bytes(b"" if content == "empty" else b"garbage, not a model")
    with pytest.raises(RunError, match=f"'{folder}' is damaged: model.keras"):
        run_folders.Run.load(folder).load_model()


def _object_arrays(path: Path) -> None:
    np.savez(path, indices=np.array([object()] * 3), y_true=np.arange(3), y_prob=np.eye(3))


@pytest.mark.parametrize(
    "damage,problem",
    [
        (_object_arrays, "Object arrays"),
        (lambda p: p.write_bytes(p.read_bytes()[:100]), "not a zip file"),
        (lambda p: np.savez(p, indices=np.arange(3), y_true=np.arange(3), y_prob=np.full((3, 3), np.nan)), "NaN"),
        (lambda p: np.savez(p, indices=np.arange(3), y_true=np.arange(3), y_prob=np.eye(3, 4)), "4 columns"),
        (lambda p: np.savez(p, indices=np.arange(3), y_true=np.arange(3)), "missing array"),
    ],
    ids=["object arrays", "truncated", "NaN", "wrong columns", "missing"],
)
def test_damaged_predictions_name_the_run_and_the_file(tmp_path, damage, problem):
    folder = write_run_folder(tmp_path)
    damage(folder / "predictions.npz")
    with pytest.raises(RunError, match=f"'{folder}' is damaged: predictions.npz.*{problem}"):
        run_folders.Run.load(folder).predictions()


@pytest.mark.parametrize("file", ["history.csv", "metrics.json", "config.json"])
def test_damaged_run_file_is_named(tmp_path, file):
    folder = write_run_folder(tmp_path)
    (folder / file).write_text("")
    with pytest.raises(RunError, match=f"'{folder}' is damaged: {file}"):
        run_folders.Run.load(folder)


# --- 8. odd --set values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override,name",
    [
        ("epochs=!!python/object/apply:os.system [echo owned]", "epochs"),
        ("protocols=[unclosed", "protocols"),
        ("data_dir=[1,2]", "data_dir"),
        ("protocols=1", "protocols"),
        ("retrain=maybe", "retrain"),
    ],
)
def test_odd_override_is_one_line_naming_the_parameter(override, name, monkeypatch):
    monkeypatch.setattr(os, "system", lambda *a: pytest.fail("a YAML tag ran a command"))
    with pytest.raises(ConfigError, match=f"^override {name}=") as caught:
        parse_overrides([override])
    assert "\n" not in str(caught.value)


def test_odd_override_exits_2_like_other_configuration_errors(monkeypatch, capsys):
    from xray_utils.runner import main

    monkeypatch.setattr(os, "system", lambda *a: pytest.fail("a YAML tag ran a command"))
    for override in ("epochs=!!python/object/apply:os.system [x]", "data_dir=[1,2]", "seed=abc"):
        assert main(["train", "--set", override]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and override.split("=")[0] in err


def test_folder_named_like_a_number_is_a_path():
    assert parse_overrides(["data_dir=2021", "runs_dir=null"]) == {"data_dir": "2021", "runs_dir": None}


# --- 10. other image formats and EXIF orientation -------------------------------------------------


def test_tif_webp_and_bmp_images_are_loaded(tmp_path):
    dataset = make_tree(tmp_path)
    folder = dataset / "COVID" / "images"
    for suffix in (".tif", ".tiff", ".webp", ".bmp"):
        Image.open(folder / "COVID-1.png").save(folder / f"COVID-other{suffix}")
    images = _open(tmp_path, data_subset="all")
    assert images.counts["COVID"] == 7 and not images.skipped


def test_real_layout_lists_the_same_files_as_before(tree_2021):
    index = find_dataset(tree_2021)
    assert [p.suffix for p in index.files] == [".png"] * 9


def test_jpeg_exif_orientation_is_honoured(tmp_path):
    upright = np.zeros((60, 40), dtype=np.uint8)
    upright[:30] = 255  # bright top half
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # as a sideways camera stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    stored.save(tmp_path / "tagged.jpg", exif=exif, quality=95)
    out = decode_image(tmp_path / "tagged.jpg", 16, 1)[..., 0].astype(int)
    assert out[:6].mean() > 200 and out[-6:].mean() < 50, "the EXIF orientation was ignored"
