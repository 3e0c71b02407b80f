import numpy as np
import pytest

from xray_utils.data import corrected_split, make_split, steered_split, study_split
from xray_utils.errors import ConfigError

LABELS = np.repeat([0, 1, 2], [1200, 1341, 1345])  # the original study's counts


def test_study_split_matches_the_original_sizes_and_is_stratified():
    split = study_split(LABELS)
    assert len(split.test) == 778 and len(split.train) == 3108  # as printed in the original notebook
    assert np.bincount(LABELS[split.test]).tolist() == [240, 269, 269]
    assert split.val_is_test and np.array_equal(split.val, split.test)


def test_study_split_is_reproducible_and_seed_dependent():
    assert np.array_equal(study_split(LABELS).test, study_split(LABELS).test)
    assert not np.array_equal(study_split(LABELS).test, study_split(LABELS, seed=1).test)


def test_corrected_split_is_70_10_20_disjoint_and_shares_the_test_set():
    study, corrected = study_split(LABELS), corrected_split(LABELS)
    assert np.array_equal(study.test, corrected.test)
    parts = [set(corrected.train), set(corrected.val), set(corrected.test)]
    assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    assert sum(map(len, parts)) == len(LABELS)
    assert len(corrected.val) == pytest.approx(0.1 * len(LABELS), abs=2)
    val_share = np.bincount(LABELS[corrected.val]) / len(corrected.val)
    assert np.allclose(val_share, np.bincount(LABELS) / len(LABELS), atol=0.01)


def test_steered_split_trains_on_the_corrected_images_and_steers_with_the_test_set():
    steered, corrected = steered_split(LABELS), corrected_split(LABELS)
    assert np.array_equal(steered.train, corrected.train) and np.array_equal(steered.test, corrected.test)
    assert steered.val_is_test and not corrected.val_is_test
    assert np.array_equal(steered.unused, corrected.val)  # set aside: the two arms differ only in the steering set


def test_membership_and_save(tmp_path):
    labels = np.repeat([0, 1, 2], 10)
    files = [f"f{i}.png" for i in range(30)]
    split = make_split("corrected", labels)
    path = split.save(tmp_path / "split.csv", files, labels, ("A", "B", "C"))
    import pandas as pd

    frame = pd.read_csv(path)
    assert sorted(frame.subset.unique()) == ["test", "train", "validation"]
    assert frame.used_for_validation.sum() == len(split.val)
    study = make_split("study", labels).membership(files, labels, ("A", "B", "C"))
    assert study[study.subset == "test"].used_for_validation.all()


def test_unknown_protocol_is_a_clear_error():
    with pytest.raises(ConfigError, match="protocol='studdy'"):
        make_split("studdy", LABELS)
