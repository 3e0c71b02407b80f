"""Hostile inputs, round 3 (issue 24): each case failed on the code before it, named in its docstring."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from helpers import make_tree, write_run_folder
from PIL import Image

from xray_utils import run_folders
from xray_utils.config import TrainConfig
from xray_utils.data import CLASS_NAMES, decode_image, find_dataset, load_images, make_split
from xray_utils.errors import ConfigError, DataError, RunError
from xray_utils.params import parse_overrides, resolve_params


def _finished_run(tmp_path):
    """``(train, config, images, runs folder, run)``: one tiny finished Model 1 run, to damage or replace."""
    from xray_utils.training import train

    images = load_images(find_dataset(make_tree(tmp_path / "data", per_class=8)), 16, 1)
    config = TrainConfig(model="m1", image_size=16, channels=1, epochs=1, batch_size=8, per_class=8)
    runs = tmp_path / "runs"
    return train, config, images, runs, train(config, images, runs_dir=runs)


# 1. A kill between publish's two renames loses nothing.
@pytest.mark.backend
def test_a_publish_killed_between_its_renames_is_finished_by_the_next_run(tmp_path, monkeypatch):
    """Before: the next run called the complete new run "interrupted", retrained, and left `.replaced-*` behind."""
    train, config, images, runs, first = _finished_run(tmp_path)
    real_replace, calls = os.replace, []

    def killed_after_the_first_rename(src, dst):
        real_replace(src, dst)
        if ".replaced-" in Path(dst).name:  # the old run set aside, the new one not yet moved in
            calls.append((src, dst))
            raise KeyboardInterrupt("killed between the renames")

    monkeypatch.setattr(run_folders.os, "replace", killed_after_the_first_rename)
    with pytest.raises(KeyboardInterrupt):
        train(config, images, runs_dir=runs, retrain=True)
    monkeypatch.setattr(run_folders.os, "replace", real_replace)
    assert calls and not (runs / first.name).exists()  # the instant the README promise is about
    reused = train(config, images, runs_dir=runs, stream=open(os.devnull, "w"))
    assert reused.folder == runs / first.name and run_folders.is_finished(reused.folder)
    assert not [p.name for p in runs.iterdir() if ".replaced-" in p.name or ".incomplete-" in p.name]


# 2. A chapter whose kernel was killed does not pass the build's check.
def test_an_unfinished_executed_chapter_is_refused_by_name(tmp_path, monkeypatch):
    """Before: end_time unset and cells "running"/"pending", no error output: check_executed() accepted it."""
    from xray_utils.runner import book, chapters

    monkeypatch.setattr(chapters, "project_root", lambda: tmp_path)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/chapters/01_a\n")
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1", metadata={"papermill": {"status": "running"}})
    notebook.cells = [cell]
    notebook.metadata["papermill"] = {"start_time": "2026-12-01", "end_time": None, "exception": None}
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    nbformat.write(notebook, tmp_path / "book" / "chapters" / "01_a.ipynb")
    assert book.check_executed() == ["01_a.ipynb did not finish (its kernel or xray-book was stopped); run it again"]


def test_stray_staged_inputs_are_removed_when_the_next_run_starts(tmp_path, capsys):
    from xray_utils.runner.schedule import _remove_strays

    for name in (".01_a.x1.input.ipynb", ".02_b.ipynb.running-7-8.ipynb", "02_b.ipynb"):
        (tmp_path / name).write_text("{}")
    _remove_strays(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["02_b.ipynb"]
    assert "left by a run that was stopped" in capsys.readouterr().out


# 4. A YAML alias bomb in --set is refused at once; numbers are type-checked; values are shortened.
def test_a_yaml_alias_bomb_is_refused_at_once():
    """Before: `epochs=<441 bytes of nested aliases>` ran 78 s and 4.5 GB before a MemoryError."""
    bomb = "[&a [1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b],"
    bomb += " &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], [*e,*e,*e,*e,*e,*e,*e,*e,*e]]"
    for name in ("epochs", "seed", "per_class", "protocols", "data_dir"):
        started = time.perf_counter()
        with pytest.raises(ConfigError, match=f"override {name}=.*anchors and aliases") as caught:
            parse_overrides([f"{name}={bomb}"])
        assert time.perf_counter() - started < 1.0
        assert len(str(caught.value)) < 200  # the value shortened, not echoed whole


@pytest.mark.parametrize("value", ["3.5", "[3]", "three", "true"])
def test_whole_number_parameters_refuse_other_kinds(value):
    with pytest.raises(ConfigError, match="override epochs=.* use (a whole number|true or false)"):
        parse_overrides([f"epochs={value}"])


# 5. 12-bit X-rays in 16-bit PNGs keep their contrast.
def test_a_12_bit_image_in_a_16_bit_png_is_scaled_by_its_bit_depth(tmp_path):
    """Before: values 0-4095 decoded to at most 13 (the fixed /257 rule): nearly black."""
    ramp = np.tile(np.linspace(0, 4095, 64).astype(np.uint16), (64, 1))
    path = tmp_path / "twelve.png"
    Image.fromarray(ramp).save(path)  # uint16: a 16-bit grey PNG
    decoded = decode_image(path, 64, 1)
    assert decoded.max() >= 250 and decoded.min() <= 5
    full = tmp_path / "sixteen.png"
    Image.fromarray((ramp.astype(np.uint32) * 16).astype(np.uint16)).save(full)
    assert abs(int(decode_image(full, 64, 1).max()) - int(decoded.max())) <= 1  # 16-bit data: the same picture


# 6. Probabilities that are not probabilities are refused.
@pytest.mark.parametrize("rows", [np.zeros((3, 3)), np.full((3, 3), 0.5)], ids=["zeros", "sum 1.5"])
def test_prediction_rows_must_sum_to_one(tmp_path, rows):
    """Before: rows of zeros gave accuracy 0.326 and loss 36.0 with only a scikit-learn warning."""
    folder = write_run_folder(tmp_path, rows.astype(np.float32))
    with pytest.raises(RunError, match=f"'{folder}' is damaged: predictions.npz: y_prob rows must sum to 1"):
        run_folders.Run.load(folder).predictions()


# 13. A huge sparse file named .png is skipped with its reason, without reading it.
def test_a_huge_sparse_file_is_refused_before_it_is_read(tmp_path):
    """Before: a 50 GB sparse file gave a bare MemoryError naming no file."""
    tree = make_tree(tmp_path / "data", per_class=4)
    covid = next(p for p in find_dataset(tree).files if "COVID" in str(p)).parent
    huge = covid / "COVID-999.png"
    with open(huge, "wb") as handle:
        handle.truncate(50 * 2**30)
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"file too large to be an X-ray \(50.0 GiB > 256 MiB\)"):
        decode_image(huge, 16, 1)
    # one bad file of five is more than the 1 % a download may lose: the error names it and why
    with pytest.raises(DataError, match=r"COVID-999.png: file too large to be an X-ray"):
        load_images(find_dataset(tree), 16, 1, cache_dir=tmp_path / "cache")
    assert time.perf_counter() - started < 10


# 14. image_size is bounded.
def test_an_absurd_image_size_is_refused_with_the_bound():
    """Before: image_size=100000 gave "Unable to allocate 2.46 TiB"."""
    with pytest.raises(ConfigError, match="image_size=100000 is too large: use at most 1024"):
        resolve_params("quick", {"image_size": 100000})


# 16. The public split functions say which sizes are too small.
def test_make_split_on_a_tiny_class_is_a_clear_error():
    """Before: scikit-learn's raw "The least populated classes in y have only 1 member ... ['1 0 0']"."""
    labels = np.array([0] * 20 + [1] * 20 + [2] * 2)
    with pytest.raises(DataError, match=r"class sizes \[20, 20, 2\]"):
        make_split("corrected", labels, 1987)


# 3. A papermill parameter that is not a chapter parameter is an error, not a warning.
def test_a_papermill_typo_is_an_error_naming_it():
    """Before: `papermill -p epoch 3` only warned "Passed unknown parameter"; the chapter ran with the profile's epochs."""
    from xray_utils.params import collect

    namespace = {"profile": "quick", "overrides": {}, "epoch": 3, "In": ["", "# Parameters\nepoch = 3\n"]}
    with pytest.raises(
        ConfigError, match=r"papermill parameter\(s\) epoch are not chapter parameters; allowed: .*epochs"
    ):
        collect(namespace)
    direct = {"profile": "quick", "epochs": 3, "In": ["", '# Parameters\nprofile = "quick"\nepochs = 3\n']}
    assert collect(direct).epochs == 3  # a chapter parameter passed by name is an override (README)
    assert collect({"profile": "quick", "images": object(), "In": ["images = 1"]}).epochs == 6  # JupyterLab


# 7. An untrusted model.keras cannot fill the temporary folder or the memory.
def test_an_archive_with_extra_members_or_a_huge_config_is_refused_before_loading(tmp_path):
    """Before: 40 extra `assets/...` members (each under Keras' 256 MiB guard) were extracted into $TMPDIR."""
    import zipfile

    folder = write_run_folder(tmp_path)
    with zipfile.ZipFile(folder / "model.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("metadata.json", "{}")
        for i in range(40):
            archive.writestr(f"assets/blob{i}", b"")
    with pytest.raises(RunError, match=r"damaged: model.keras: unexpected member\(s\) assets/blob0"):
        run_folders.Run.load(folder).load_model()
    with zipfile.ZipFile(folder / "model.keras", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b" " * (run_folders.MAX_MODEL_CONFIG_BYTES + 1))
    with pytest.raises(RunError, match="its config.json expands to"):
        run_folders.Run.load(folder).load_model()


# 8. The duplicate search grows linearly with near-identical images.
def test_thousands_of_identical_hashes_give_a_linear_number_of_pairs():
    """Before: 3,000 equal hashes gave 4.5 million pairs (17 s, 1.9 GB)."""
    from xray_utils.data.duplicates import hamming_pairs

    hashes = np.full(3000, 12345, dtype=np.uint64)
    hashes[-1] ^= np.uint64(1)  # one near copy
    started = time.perf_counter()
    pairs = hamming_pairs(hashes, 2)
    assert len(pairs) == 2999 and time.perf_counter() - started < 2
    assert pairs[-1].tolist() == [0, 2999, 1]


# 12. Committed and copied run folders are untrusted input.
def test_a_run_config_naming_no_model_is_refused_naming_the_folder(tmp_path):
    from xray_utils.full_study import verify_run

    folder = write_run_folder(tmp_path)
    config = {**TrainConfig(model="m1").to_dict(), "model": "../../etc", "data_fingerprint": "x"}
    run_folders.write_json(folder / "config.json", {**config, "class_names": list(CLASS_NAMES)})
    with pytest.raises(RunError, match=f"'{folder / 'config.json'}' is not a run configuration"):
        verify_run(folder)


def test_run_files_are_read_without_following_links_or_deep_json(tmp_path):
    folder = write_run_folder(tmp_path)
    (folder / "split.csv").symlink_to("/etc/passwd")
    with pytest.raises(RunError, match="damaged: split.csv: is a symbolic link"):
        run_folders.Run.load(folder).split()
    (folder / "metrics.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(RunError, match="damaged: metrics.json: JSON nested too deeply"):
        run_folders.Run.load(folder)


# 15. A wrong KERAS_BACKEND is one line from the command line, exit 2.
@pytest.mark.parametrize("backend", ["nonsense", "torch"])
def test_the_command_line_names_a_missing_backend_in_one_line(backend, tmp_path):
    """Before: Keras' traceback "Unable to import backend", or a traceback from `import xray_utils` with exit 1."""
    import subprocess
    import sys

    if backend == "torch" and __import__("importlib").util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    script = Path(sys.executable).with_name("xray-book")
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([str(script), "build"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and backend in line


# 9. A full runs folder during `model.save`: one line, staging removed, the old run intact.
@pytest.mark.backend
def test_a_full_disk_while_saving_is_one_line_and_leaves_no_staging(tmp_path, monkeypatch):
    """Before: OSError [Errno 28] with a 30-line traceback, and a 323 KB partial staging folder left behind."""
    import errno

    import keras

    train, config, images, runs, first = _finished_run(tmp_path)

    def full(self, path, *args, **kwargs):
        Path(path).write_bytes(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full)
    with pytest.raises(RunError, match=f"The runs folder '{runs}' is full: saving run {first.name} stopped after"):
        train(config, images, runs_dir=runs, retrain=True, stream=open(os.devnull, "w"))
    assert [p.name for p in runs.iterdir() if not p.name.endswith(".lock")] == [first.name]
    assert run_folders.is_finished(runs / first.name)


# 10. A read-only runs folder: finished runs are read, a new run is refused before training.
def test_a_read_only_runs_folder_is_named_before_training(tmp_path, monkeypatch):
    """Before: a raw `OSError [Errno 30] ...lock` (simulated: root may write anywhere)."""
    import errno

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    finished = write_run_folder(tmp_path)
    monkeypatch.setattr(run_folders, "open", read_only, raising=False)
    assert run_folders.Run.load(finished).predictions()["y_prob"].shape == (3, 3)  # reading needs no writing
    with pytest.raises(RunError, match=r"runs folder '.*' cannot be written \(Read-only file system\).*runs_dir"):
        with run_folders.run_lock(tmp_path, "m1-study-abc"):
            pytest.fail("the lock was taken")
