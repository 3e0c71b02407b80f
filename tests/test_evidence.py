"""`xray-book evidence`: chapter 8's tests of finished runs as numbers, reused, verified, and shown by chapter 8."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import write_png

from xray_utils import evidence, explain, full_study, narrative, plan
from xray_utils.errors import RunError, XrayError
from xray_utils.params import resolve_params
from xray_utils.run_folders import Run

PER_CLASS = 30


def _data(root: Path) -> Path:
    """Learnable images that are not flagged synthetic (so chapter 8's held-out part runs), and an external folder."""
    from xray_utils.data import make_synthetic_dataset

    drawn = make_synthetic_dataset(root / "drawn", per_class=PER_CLASS, image_size=32)
    data = root / "data"
    shutil.copytree(drawn / "COVID-19_Radiography_Dataset", data / "COVID-19_Radiography_Dataset")
    for c, name in enumerate(["COVID", "Normal"]):
        for i in range(10):
            image = data / "external" / "COVID-19_Radiography_Dataset" / name / "images" / f"{name}-{2000 + i}.png"
            write_png(image, (32, 32), seed=500 + 10 * c + i)
    return data


def _params(data: Path, runs: Path, **more):
    values = {"per_class": PER_CLASS, "epochs": 1, "protocols": ["study"], "data_subset": "all"}
    return resolve_params("quick", {**values, "data_dir": str(data), "runs_dir": str(runs), **more})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Model 1 trained for one epoch on 90 small images, with a 20-image held-out folder beside the data."""
    base = tmp_path_factory.mktemp("evidence")
    params = _params(_data(base), base / "runs")
    with pytest.MonkeyPatch.context() as patch:  # module fixtures run before conftest's per-test paths
        patch.setenv("XRAY_CACHE_DIR", str(base / "cache"))
        patch.setenv("XRAY_JAX_CACHE_DIR", str(base / "jax-cache"))
        plan.train_all(params, ["m1"], stream=io.StringIO())
        images = plan.open_data(params)
        held_out = plan.open_external(params, images)
        run = plan.load_runs(params, images, models=("m1",), train_missing=False)[("m1", "study")]
    return params, images, held_out, run


@pytest.fixture
def made(tiny):
    """The evidence of the tiny run (made once, then reused)."""
    params, images, held_out, run = tiny
    evidence.make_evidence(params, ["m1"], stream=io.StringIO())
    return evidence.verify_evidence(run)


@pytest.mark.backend  # under JAX too: the GPU machine makes the evidence under JAX
def test_evidence_is_chapter_eights_tests_as_numbers(tiny, made):
    params, images, held_out, run = tiny
    # the occlusion row is chapter 8's occlusion table for this run: same sample, same seed
    chapter = explain.occlusion_table(
        {("m1", "study"): run}, lambda model: images, max_images=evidence.OCCLUSION_IMAGES
    )
    pd.testing.assert_frame_equal(made.occlusion, chapter[evidence.OCCLUSION_COLUMNS])
    with pytest.MonkeyPatch.context() as patch:  # a sample smaller than the test set: the seed decides it
        patch.setattr(evidence, "OCCLUSION_IMAGES", 9)
        smaller = evidence.compute(run, images, held_out).occlusion
    sample = explain.occlusion_sample(run, images, max_images=9)
    assert list(smaller["stem"]) == [Path(images.files[i]).stem for i in sample]
    np.testing.assert_array_equal(smaller["label"], images.labels[sample])
    # the held-out rows are what the model says of every held-out image, and give chapter 8's recall table
    probabilities = made.held_out[[f"prob {name}" for name in images.class_names]].to_numpy()
    again = run.load_model().predict(held_out.images, verbose=0)
    np.testing.assert_allclose(probabilities, again, atol=1e-4)
    assert list(made.held_out["stem"]) == [Path(f).stem for f in held_out.files]
    recall = explain.held_out_recall({("m1", "study"): run}, lambda model: held_out)
    pd.testing.assert_frame_equal(made.recall(), recall.drop(columns=["model", "protocol"]))
    assert made.called_covid("Normal") == pytest.approx(recall.set_index("class").loc["Normal", "called COVID"] / 10)


@pytest.mark.backend  # under JAX too: the GPU machine makes the evidence under JAX
def test_maps_are_kept_at_the_last_convolutions_grid(tiny, made):
    params, images, held_out, run = tiny
    model = run.load_model()
    grid = tuple(explain.target_layer(model).output.shape[1:3])
    assert made.maps.shape[1:] == grid and made.maps.dtype == np.float16 and grid[0] < images.image_size
    test_rows, test_maps = made.part("test")
    held_rows, held_maps = made.part("held_out")
    # up to 8 per class, seeded: every class of the test part (6 test images each here), both held-out classes
    assert test_rows["class"].value_counts().to_dict() == {"COVID": 6, "Normal": 6, "Viral Pneumonia": 6}
    assert held_rows["class"].value_counts().to_dict() == {"COVID": 8, "Normal": 8}
    at = {Path(f).stem: i for i, f in enumerate(images.files)}
    shown = images.images[[at[stem] for stem in test_rows["stem"]]]
    expected = explain.heatmaps(model, shown, test_rows["predicted"].to_numpy(), resize=False)
    np.testing.assert_allclose(test_maps.astype(np.float32), expected, atol=1e-3)
    assert set(made.meta["files"]) == set(evidence.FILES) and made.meta["grid"] == list(grid)


def test_evidence_holds_numbers_and_stems_only(tiny, made):
    params, images, held_out, run = tiny
    for name in evidence.FILES:
        text = (made.folder / name).read_bytes()
        assert str(images.root).encode() not in text and b"/images/" not in text
    with np.load(made.folder / "maps.npz") as saved:
        assert saved.files == ["maps"] and saved["maps"].shape[1] < images.image_size  # no image-sized array
    assert made.meta["key"] == run.config["key"] and made.meta["run"] == run.name
    assert made.meta["sample"] == evidence.sample_settings()


def test_finished_evidence_is_reused_and_redone_when_the_samples_change(tiny, made, monkeypatch):
    params, images, held_out, run = tiny
    stamp = (made.folder / "maps.npz").stat().st_mtime_ns
    table = evidence.make_evidence(params, ["m1"], stream=io.StringIO())
    assert table["status"].tolist() == ["reused"] and (made.folder / "maps.npz").stat().st_mtime_ns == stamp
    monkeypatch.setattr(evidence, "MAPS_PER_CLASS", 2)
    out = io.StringIO()
    assert evidence.make_evidence(params, ["m1"], stream=out)["status"].tolist() == ["written"]
    assert "made with other samples" in out.getvalue()
    assert len(evidence.verify_evidence(run).maps) == 2 * 3 + 2 * 2
    assert not [p.name for p in run.folder.iterdir() if p.name.startswith(".")]  # no staging folder left
    monkeypatch.undo()
    evidence.make_evidence(params, ["m1"], stream=io.StringIO())  # back to the usual samples for the other tests


def test_damaged_local_evidence_is_made_again(tiny, made):
    params, images, held_out, run = tiny
    (made.folder / "occlusion.csv").write_text("images,as is,chest hidden,only chest shown\n1,1,1,1\n")
    out = io.StringIO()
    assert evidence.make_evidence(params, ["m1"], stream=out)["status"].tolist() == ["written"]
    assert "is damaged" in out.getvalue() and "occlusion.csv" in out.getvalue()
    pd.testing.assert_frame_equal(evidence.verify_evidence(run).occlusion, made.occlusion)


def test_runs_not_trained_or_without_their_model_are_skipped(tiny, made, tmp_path):
    params, images, held_out, run = tiny
    table = evidence.make_evidence(params, ["m1", "m3"], stream=io.StringIO())
    assert table.set_index("model")["status"].to_dict() == {"m1": "reused", "m3": "no finished run"}
    copied = _committed_copy(run, tmp_path / "copies")
    with pytest.raises(XrayError, match=r"No finished run with its model\.keras .* xray-book train --profile quick"):
        evidence.make_evidence(params.replace(runs_dir=str(copied.parent)), ["m1"], stream=io.StringIO())


def test_the_command_line_makes_the_evidence(tiny, made, capsys):
    from xray_utils import runner

    params, *_ = tiny
    argv = ["evidence", "--profile", "quick", *_set_options(params)]
    assert runner.main([*argv, "--only", "m1"]) == 0
    assert "[m1/study] evidence: reused" in capsys.readouterr().out
    assert runner.main([*argv, "--only", "m2"]) == 2
    assert "error: No finished run with its model.keras" in capsys.readouterr().err


def _set_options(params) -> list[str]:
    """``--set NAME=VALUE`` for each of ``params``' overrides, as a command line gives them."""
    options = []
    for name, value in params.overrides().items():
        options += ["--set", f"{name}=[{','.join(value)}]" if isinstance(value, (list, tuple)) else f"{name}={value}"]
    return options


def _committed_copy(run: Run, parent: Path) -> Path:
    """The run folder as results/full holds it: without model.keras."""
    target = parent / run.name
    shutil.copytree(run.folder, target, ignore=shutil.ignore_patterns("model.keras"))
    return target


def _change_a_label(path: Path) -> None:
    """One prediction in the first row changed to another class: a valid-looking file with other numbers."""
    frame = pd.read_csv(path)
    frame.loc[0, "chest hidden"] = (frame.loc[0, "chest hidden"] + 1) % 3
    frame.to_csv(path, index=False)


def _rewrite_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


TAMPERING = {
    "a changed number": (lambda ev: _change_a_label(ev / "occlusion.csv"), "occlusion.csv"),
    "an extra file": (lambda ev: (ev / "notes.txt").write_text("hello"), "notes.txt"),
    "another run's key": (lambda ev: _rewrite_json(ev / "evidence.json", key="0123456789ab"), "evidence.json"),
    "a listed file missing": (lambda ev: (ev / "maps.npz").unlink(), "maps.npz"),
    "a link": (lambda ev: ((ev / "held_out.csv").unlink(), (ev / "held_out.csv").symlink_to("/etc/hostname")),
               "held_out.csv"),
    "another training's predictions": (lambda ev: np.savez(ev.parent / "predictions.npz", **{
        **dict(np.load(ev.parent / "predictions.npz")), "y_prob": np.load(ev.parent / "predictions.npz")["y_prob"][
            :, [1, 0, 2]]}), "evidence.json"),
}  # fmt: skip


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_tampered_committed_evidence_is_refused(tiny, made, tmp_path, tampering):
    params, images, held_out, run = tiny
    folder = _committed_copy(run, tmp_path)
    change, file = TAMPERING[tampering]
    copy = Run.load(folder)
    evidence.verify_evidence(copy)  # sound before the change
    change(folder / "evidence")
    with pytest.raises(RunError, match=f"Evidence '{folder / 'evidence'}' is refused: {file}: ") as refused:
        evidence.verify_evidence(Run.load(folder))
    assert "\n" not in str(refused.value)


@pytest.fixture
def committed_tree(tiny, made, tmp_path, monkeypatch):
    """A results/full-like folder holding the tiny run with its evidence; the loader pointed at it."""
    params, images, held_out, run = tiny
    results = tmp_path / "results" / "full"
    _committed_copy(run, results)
    (results / "SOURCE.json").write_text(json.dumps({"hardware": "a test machine", "date": "today"}))
    monkeypatch.setattr(full_study, "results_dir", lambda: results)
    # the tiny run stands for the full profile's: the loader plans what these parameters plan
    monkeypatch.setattr(full_study, "resolve_params", lambda name: params)
    return results


CHAPTER = Path(__file__).resolve().parents[1] / "notebooks" / "08_shortcuts.py"


def _full_scale_cells() -> list[str]:
    """The code cells of chapter 8's "At full scale" section, as the chapter has them."""
    cells = re.split(r"^(?=# %%)", CHAPTER.read_text(), flags=re.M)
    first = next(i for i, cell in enumerate(cells) if "## At full scale" in cell)
    last = next(i for i, cell in enumerate(cells) if "## What such a model" in cell)
    return [cell for cell in cells[first + 1 : last] if "[markdown]" not in cell.splitlines()[0]]


def _chapter_full_scale(params, images, held_out, run, monkeypatch):
    """Run chapter 8's "At full scale" cells on this build's tiny run; what they showed and glued."""
    import matplotlib.pyplot as plt

    from xray_utils import page

    plt.close("all")
    tables = []
    monkeypatch.setattr(page, "show_table", lambda frame, digits=4: tables.append(frame))
    recall = explain.held_out_recall({("m1", "study"): run}, lambda model: held_out)
    called = recall.set_index("class").loc["Normal", "called COVID"] / 10
    namespace = {
        **{"full_study": full_study, "narrative": narrative, "evidence": evidence, "page": page, "glue": page.Glue()},
        **{"params": params, "images": images, "sizes": [images.image_size], "recall": recall},
        "held_out": {images.image_size: held_out},
        "occlusion": explain.occlusion_table({("m1", "study"): run}, lambda model: images),
        "shift": pd.DataFrame({"model": ["m1"], "adult normals called COVID": [called]}),
    }
    for cell in _full_scale_cells():
        exec(compile(cell, str(CHAPTER), "exec"), namespace)
    shown = dict(namespace["glue"].values, tables=tables, figures=len(plt.get_fignums()))
    return {**shown, "state": narrative.evidence_state_sentence(namespace["committed"])}


def test_chapter_eight_shows_committed_evidence(tiny, committed_tree, monkeypatch):
    params, images, held_out, run = tiny
    shown = _chapter_full_scale(*tiny, monkeypatch)
    table, occlusion = shown["tables"]
    assert table.index.names == ["model", "class", "source"]
    assert set(table.index.get_level_values("source")) == {"full study", "this build (quick)"}
    assert table.loc[("Model 1", "Normal", "full study"), "images"] == 10
    assert list(table.columns[:3]) == ["images", "recall", "95 % interval"]
    assert (
        occlusion.loc[("Model 1", "full study"), "images"] == occlusion.loc[("Model 1", "this build (quick)"), "images"]
    )
    assert "a held-out set of 20 images (10 COVID, 10 Normal)" in shown["full_evidence"]
    assert "same images" in shown["full_evidence"] and "Model 1 4×4" in shown["full_evidence"]
    assert shown["full_evidence"].startswith("The full study here used 90 images")
    built = f"this build's: {table.loc[('Model 1', 'Normal', 'this build (quick)'), 'called COVID'] / 10:.0%}"
    assert built in shown["full_shortcut"] and "With the chest hidden" in shown["full_shortcut"]
    assert shown["figures"] == 2 and "The galleries show 34 of the full models' own Grad-CAM maps" in shown["full_maps"]
    assert "section *At full scale* above sets" in shown["state"]


def test_chapter_eight_without_the_images_still_shows_the_tables(tiny, committed_tree, tmp_path, monkeypatch):
    params, images, held_out, run = tiny
    # the reader's data: other files, so none of the images the evidence names is here
    other = _data(tmp_path / "other")
    for folder in (other / "COVID-19_Radiography_Dataset", other / "external" / "COVID-19_Radiography_Dataset"):
        for image in folder.rglob("*.png"):
            image.rename(image.with_name("x" + image.name))
    reader = params.replace(data_dir=str(other))
    shown = _chapter_full_scale(reader, plan.open_data(reader), held_out, run, monkeypatch)
    assert [len(table) for table in shown["tables"]] == [4, 2] and shown["figures"] == 0
    assert "need the images they were computed on" in shown["full_maps"]


def test_chapter_eight_without_evidence_says_how_to_make_it(tiny, committed_tree, monkeypatch):
    shutil.rmtree(next(committed_tree.glob("m1-*")) / "evidence")
    shown = _chapter_full_scale(*tiny, monkeypatch)
    assert set(shown) == {"full_evidence", "tables", "figures", "state"} and shown["tables"] == []
    assert shown["figures"] == 0
    assert "holds no shortcut evidence yet" in shown["full_evidence"] and "says how they are made" in shown["state"]
    assert f"`{evidence.EVIDENCE_COMMAND}`" in shown["full_evidence"] and evidence.GPU_SCRIPT in shown["full_evidence"]
    assert (Path(full_study.__file__).parents[1] / evidence.GPU_SCRIPT).is_file()


def test_chapter_eight_refuses_tampered_committed_evidence(tiny, committed_tree, monkeypatch):
    folder = next(committed_tree.glob("m1-*")) / "evidence"
    _rewrite_json(folder / "evidence.json", run="m1-study-000000000000")
    with pytest.raises(RunError, match=f"Evidence '{folder}' is refused: evidence.json: it belongs to run"):
        _chapter_full_scale(*tiny, monkeypatch)


def test_raw_maps_and_per_class_samples():
    labels = np.repeat([0, 1, 2], [20, 3, 9])
    chosen = explain.per_class_sample(labels, 8, seed=4)
    assert np.bincount(labels[chosen]).tolist() == [8, 3, 8] and (np.diff(chosen) > 0).all()
    np.testing.assert_array_equal(chosen, explain.per_class_sample(labels, 8, seed=4))
    with pytest.raises(ValueError, match="per_class=0"):
        explain.per_class_sample(labels, 0)


# Trains Model 1 under JAX in a fresh interpreter, as `xray-book train` does on a GPU machine.
_TRAIN_UNDER_JAX = textwrap.dedent("""
    import sys
    from xray_utils import runner
    sys.exit(runner.main({argv!r}))
""")


@pytest.mark.slow  # a JAX subprocess: about 15 s
def test_evidence_of_a_run_trained_under_jax_is_made_under_this_backend(tmp_path):
    import keras

    params = _params(_data(tmp_path), tmp_path / "runs")
    argv = ["train", "--profile", "quick", "--only", "m1", *_set_options(params)]
    env = {**os.environ, "KERAS_BACKEND": "jax", "XRAY_CACHE_DIR": str(tmp_path / "c")}
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN_UNDER_JAX.format(argv=argv)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = evidence.make_evidence(params, ["m1"], stream=io.StringIO())
    assert table["status"].tolist() == ["written"]
    images = plan.open_data(params)
    run = plan.load_runs(params, images, models=("m1",), train_missing=False)[("m1", "study")]
    made = evidence.verify_evidence(run)
    assert run.environment["backend"] == "jax" and made.meta["environment"]["backend"] == keras.backend.backend()
    # the JAX-trained model, read back here, reproduces its own test predictions in the evidence's test rows
    rows, _ = made.part("test")
    saved = run.predictions()
    by_stem = {Path(images.files[i]).stem: p for i, p in zip(saved["indices"], saved["y_prob"])}
    probabilities = rows[[f"prob {name}" for name in images.class_names]].to_numpy()
    np.testing.assert_allclose(probabilities, np.stack([by_stem[s] for s in rows["stem"]]), atol=1e-6)
    assert made.meta["held_out"]["images"] == 20 and made.maps.shape[1:] == (4, 4)
