import shutil

import numpy as np
import pytest
from helpers import make_tree

from xray_utils.data import (
    check_no_cross_class_copies,
    find_dataset,
    find_duplicates,
    load_images,
    perceptual_hashes,
    study_split,
)
from xray_utils.data.duplicates import hamming_pairs
from xray_utils.errors import DataError


def test_hamming_pairs_on_known_hashes():
    hashes = np.array([0b0000, 0b0001, 0b1111, 0b0000], dtype=np.uint64)
    pairs = hamming_pairs(hashes, max_distance=1).tolist()
    # 0 and 3 are one group (equal hashes), reported by its first member: (1, 3) is (1, 0) again
    assert pairs == [[0, 1, 1], [0, 3, 0]]


def test_exact_and_near_duplicates_are_found_and_cross_split_flagged(tmp_path):
    dataset = make_tree(tmp_path, per_class=6, size=(64, 64))
    folder = dataset / "COVID" / "images"
    shutil.copy(folder / "COVID-1.png", folder / "COVID-1-copy.png")
    from PIL import Image

    original = np.asarray(Image.open(folder / "COVID-2.png"))
    Image.fromarray(np.clip(original.astype(int) + 3, 0, 255).astype(np.uint8)).save(folder / "COVID-2-bright.png")
    images = load_images(find_dataset(dataset), 64, 1, cache_dir=tmp_path / "c")
    report = find_duplicates(images, study_split(images.labels))
    exact = report[report.kind == "exact"]
    assert len(exact) == 1
    assert {exact.file_a.item(), exact.file_b.item()} == {"COVID/images/COVID-1.png", "COVID/images/COVID-1-copy.png"}
    near = report[report.kind == "near"]
    assert {"COVID/images/COVID-2.png", "COVID/images/COVID-2-bright.png"} <= set(near.file_a) | set(near.file_b)
    assert "crosses_split" in report and report.crosses_split.dtype == bool


def test_same_image_in_two_classes_is_an_error_naming_both(tmp_path):
    dataset = make_tree(tmp_path, per_class=3)
    shutil.copy(dataset / "COVID" / "images" / "COVID-1.png", dataset / "Normal" / "images" / "Normal-9.png")
    with pytest.raises(DataError, match="COVID-1.png.*COVID.*Normal-9.png.*Normal"):
        load_images(find_dataset(dataset), 32, 1, cache_dir=tmp_path / "c")


def test_cross_class_report_check(tmp_path):
    import pandas as pd

    report = pd.DataFrame(
        {
            "file_a": ["a.png"],
            "file_b": ["b.png"],
            "class_a": ["COVID"],
            "class_b": ["Normal"],
            "kind": ["exact"],
            "distance": [0],
        }
    )
    with pytest.raises(DataError, match="a.png.*b.png"):
        check_no_cross_class_copies(report)
    check_no_cross_class_copies(report.assign(kind="near"))  # near copies are only reported


def test_perceptual_hash_is_stable(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 1), dtype=np.uint8)
    assert np.array_equal(perceptual_hashes(images), perceptual_hashes(images.copy()))


def test_real_data_has_duplicates_across_the_study_split(shared_dataset, tmp_path):
    images = load_images(find_dataset(shared_dataset).subset(400), 64, 1, cache_dir=tmp_path)
    report = find_duplicates(images, study_split(images.labels))
    assert len(report) > 0  # the public database is known to hold duplicates
