"""What `xray_utils.plan` does for a notebook, checked directly rather than through a chapter run.

Miniature datasets (`make_tree`) and, for the run bookkeeping, one tiny
one-epoch Model 1.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_tree, write_png

from xray_utils import plan
from xray_utils.data import make_synthetic_dataset
from xray_utils.errors import RunError
from xray_utils.params import CHAPTER_PARAMETERS, resolve_params


def _params(data_dir, **values):
    return resolve_params(
        overrides={"data_dir": str(data_dir), "per_class": None, "image_size": 32, "channels": 1, **values}
    )


def test_collect_takes_only_the_chapter_parameters_from_the_namespace():
    namespace = {"epochs": 3, "image_size": 64, "protocols": "study", "np": np, "images": object()}
    params = plan.collect(namespace)
    assert set(params.to_dict()) == set(CHAPTER_PARAMETERS)
    assert (params.epochs, params.image_size, params.protocols) == (3, 64, ("study",))
    assert params.batch_size == CHAPTER_PARAMETERS["batch_size"]


def test_open_data_loads_the_profile_size_and_says_what_it_loaded(tmp_path, capsys):
    make_tree(tmp_path, per_class=3)
    images = plan.open_data(_params(tmp_path))
    assert images.images.shape == (9, 32, 32, 1) and images.counts == {"COVID": 3, "Normal": 3, "Viral Pneumonia": 3}
    assert not images.synthetic
    out = capsys.readouterr().out
    assert images.describe() in out and "9 images (COVID: 3, Normal: 3, Viral Pneumonia: 3)" in out


def test_images_for_reloads_only_when_the_model_needs_another_size(tmp_path):
    make_tree(tmp_path, per_class=3, size=(64, 64))
    params = _params(tmp_path, image_size=64, m4_image_size=32)
    images = plan.open_data(params)
    assert plan.images_for("m1", params, images) is images
    for_m4 = plan.images_for("m4", params, images)
    assert for_m4.images.shape == (9, 32, 32, 1) and list(for_m4.files) == list(images.files)


def test_open_external_skips_the_synthetic_stand_in(tmp_path, capsys):
    root = make_synthetic_dataset(tmp_path / "syn", per_class=4, image_size=32)
    params = _params(root)
    images = plan.open_data(params)
    assert images.synthetic
    assert plan.open_external(params, images) is None
    assert "the synthetic stand-in has no held-out hospitals" in capsys.readouterr().out


def test_open_external_reads_external_dir_with_two_classes(tmp_path, capsys):
    make_tree(tmp_path / "data", per_class=3)
    make_tree(tmp_path / "other", per_class=2, names=["COVID", "Normal"])
    params = _params(tmp_path / "data", external_dir=str(tmp_path / "other"))
    held_out = plan.open_external(params, plan.open_data(params))
    assert held_out.counts == {"COVID": 2, "Normal": 2, "Viral Pneumonia": 0}
    assert held_out.data_subset == "external" and "every file in external_dir" in held_out.subset_reason
    assert "held-out set: 4 images" in capsys.readouterr().out


def test_a_broken_external_folder_beside_the_data_is_a_note_not_an_error(tmp_path, capsys):
    make_tree(tmp_path / "data", per_class=3)
    (tmp_path / "data" / "external").mkdir()
    params = _params(tmp_path / "data")
    assert plan.open_external(params, plan.open_data(params)) is None
    assert "the 'external' folder beside the data is not a held-out set" in capsys.readouterr().out


def test_open_external_draws_later_files_from_the_same_2021_download(tmp_path):
    dataset = make_tree(tmp_path, per_class=3)
    for name in ("COVID-1901", "COVID-1902", "Normal-2001", "Normal-2002"):
        write_png(dataset / name.split("-")[0] / "images" / f"{name}.png", seed=len(name))
    params = _params(tmp_path)
    images = plan.open_data(params)
    assert not {"COVID-1901.png", "Normal-2001.png"} & {f.rsplit("/", 1)[-1] for f in images.files}
    held_out = plan.open_external(params, images)
    assert sorted(f.rsplit("/", 1)[-1] for f in held_out.files) == [
        "COVID-1901.png",
        "COVID-1902.png",
        "Normal-2001.png",
        "Normal-2002.png",
    ]
    assert held_out.counts == {"COVID": 2, "Normal": 2, "Viral Pneumonia": 0}


def test_a_trained_model_is_found_again_and_missing_ones_are_named(tmp_path, capsys):
    root = make_synthetic_dataset(tmp_path / "syn", per_class=12, image_size=32)
    params = _params(root, epochs=1, batch_size=8, protocols=["study"], runs_dir=str(tmp_path / "runs"))
    images = plan.open_data(params)
    trained = plan.train_model("m1", params, images)
    assert list(trained) == ["study"] and trained["study"].config["epochs"] == 1
    found = plan.load_runs(params, images, models=("m1",), train_missing=False)
    assert list(found) == [("m1", "study")] and found[("m1", "study")].folder == trained["study"].folder
    with pytest.raises(RunError, match=r"No finished run for m2/study .*Train with: xray-book train .*--only m2"):
        plan.load_runs(params, images, models=("m1", "m2"), train_missing=False)
    capsys.readouterr()
    assert plan.study_results(params, images) is None
    assert "No results yet (No finished run for m2/study" in capsys.readouterr().out
    assert trained["study"].folder.name.startswith("m1-study-")
