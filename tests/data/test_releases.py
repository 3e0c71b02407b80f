"""Which files are the study's: the 2021 release's names and counts, the 2020 layout, the shift set."""

import numpy as np
import pytest
from helpers import make_tree
from release_2021 import COUNTS, make_release_2021

from xray_utils import plan
from xray_utils.data import (
    DataError,
    data_fingerprint,
    find_dataset,
    provenance_table,
    resolve_dataset,
    select_subset,
    shift_set,
)
from xray_utils.data.releases import file_number
from xray_utils.params import resolve_params

# Building the release's 21,165 names takes about 16 s here: `make test` runs these, `make check` does not.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def release_2021(tmp_path_factory):
    """The 2021 release's 21,165 file names (plus masks, metadata, readme), as links to tiny images."""
    return make_release_2021(tmp_path_factory.mktemp("kaggle"))


def _fingerprint(index):
    return data_fingerprint(index.relative_files(), index.labels, index.class_names)


def _numbers(index, name):
    label = index.class_names.index(name)
    return [file_number(p) for p, y in zip(index.files, index.labels) if y == label]


def test_the_tree_has_the_release_names_and_counts(release_2021):
    assert (release_2021 / "README.md.txt").is_file() and (release_2021 / "Normal.metadata.xlsx").is_file()
    assert len(list((release_2021 / "Lung_Opacity" / "masks").iterdir())) == COUNTS["Lung_Opacity"]
    index = find_dataset(release_2021, include_lung_opacity=True)
    assert index.counts == COUNTS


def test_study_subset_is_the_2020_release(release_2021):
    study = resolve_dataset(release_2021, subset="study")
    assert study.counts == {"COVID": 1200, "Normal": 1341, "Viral Pneumonia": 1345}
    assert sorted(_numbers(study, "Normal")) == list(range(63, 1404))
    covid = _numbers(study, "COVID")
    assert max(covid) <= 1900 and len(set(covid)) == 1200
    assert "Lung_Opacity" not in study.class_names
    again = resolve_dataset(release_2021, subset="study")
    assert again.files == study.files  # seeded draw


def test_all_subset_takes_every_file_of_the_three_classes(release_2021):
    everything = resolve_dataset(release_2021, subset="all")
    assert everything.counts == {"COVID": 3616, "Normal": 10192, "Viral Pneumonia": 1345}


def test_fingerprint_changes_with_the_subset(release_2021):
    assert _fingerprint(resolve_dataset(release_2021, subset="study")) != _fingerprint(
        resolve_dataset(release_2021, subset="all")
    )


def test_shift_set_comes_from_the_stated_ranges_and_is_disjoint(release_2021):
    full = find_dataset(release_2021)
    study = select_subset(full, "study")
    shifted = shift_set(full, study)
    assert shifted.counts == {"COVID": 300, "Normal": 300, "Viral Pneumonia": 0}
    assert not set(shifted.files) & set(study.files)
    assert all(n > 1900 for n in _numbers(shifted, "COVID"))
    assert all(n < 63 or n > 1403 for n in _numbers(shifted, "Normal"))
    assert shift_set(full, study).files == shifted.files
    assert shift_set(full, select_subset(full, "all")) is None  # those files are training data under `all`
    assert set(provenance_table(shifted)["age group"]) == {"adults"}


def test_provenance_of_the_study_subset(release_2021):
    table = provenance_table(resolve_dataset(release_2021, subset="study")).set_index("class")
    assert table.loc["Normal", "age group"] == "children (1-5 years)"
    assert table.loc["Viral Pneumonia", "images"] == 1345
    everything = provenance_table(resolve_dataset(release_2021, subset="all"))
    normals = everything[everything["class"] == "Normal"].set_index("age group")["images"]
    assert normals.to_dict() == {"adults": 10192 - 1341, "children (1-5 years)": 1341}


def test_2020_layout_is_the_study_data_unchanged(tree_2020):
    study, everything = resolve_dataset(tree_2020, subset="study"), resolve_dataset(tree_2020, subset="all")
    assert study.files == everything.files == find_dataset(tree_2020).files
    assert study.subset_reason.startswith("the 2020 release is the study's data")
    assert shift_set(find_dataset(tree_2020), study) is None


def test_a_2021_folder_without_the_study_files_names_the_folder(tmp_path):
    dataset = make_tree(tmp_path, names=["COVID", "Normal", "Viral Pneumonia"])
    for path in sorted((dataset / "Normal" / "images").iterdir()):
        path.rename(path.with_name(f"Normal-{file_number(path) + 5000}.png"))
    with pytest.raises(DataError, match=r"Normal.*images.*data_subset=all"):
        resolve_dataset(dataset, subset="study")
    assert resolve_dataset(dataset, subset="all").counts["Normal"] == 3


def test_unknown_subset_is_refused(tree_2021):
    with pytest.raises(Exception, match="data_subset='everything' is not known"):
        resolve_params(overrides=dict(data_subset="everything"))
    with pytest.raises(DataError, match="data_subset='everything'"):
        resolve_dataset(tree_2021, subset="everything")


def test_shared_data_is_unchanged_under_study(shared_data):
    """../shared/data is a curated study subset: the same 3,679 images and fingerprint (so the same run keys)."""
    study = resolve_dataset(shared_data, subset="study")
    assert study.files == find_dataset(shared_data).files and len(study) == 3679
    assert _fingerprint(study) == "6160014dfb20c48a"  # the fingerprint of the committed full-profile runs


def test_chapter_reads_a_held_out_set_from_the_same_download(release_2021, capsys):
    params = resolve_params(overrides=dict(data_dir=str(release_2021), per_class=20, image_size=16, channels=1))
    images = plan.open_data(params)
    assert images.counts == {"COVID": 20, "Normal": 20, "Viral Pneumonia": 20}
    assert "data_subset=study" in capsys.readouterr().out
    held_out = plan.open_external(params, images, 16)
    assert held_out.counts == {"COVID": 300, "Normal": 300, "Viral Pneumonia": 0}
    assert "held out from the same download" in capsys.readouterr().out
    assert np.isin(held_out.files, images.files).sum() == 0


def test_external_folder_beside_the_data_still_wins(shared_data, capsys):
    params = resolve_params(overrides=dict(data_dir=str(shared_data), per_class=10, image_size=16, channels=1))
    images = plan.open_data(params)
    held_out = plan.open_external(params, images, 16)
    assert held_out.counts["COVID"] == 200 and "'external' folder" in held_out.subset_reason


def test_named_external_dir_that_is_missing_is_an_error(tree_2021, tmp_path):
    params = resolve_params(
        overrides=dict(
            data_dir=str(tree_2021), external_dir=str(tmp_path / "typo"), per_class=None, image_size=16, channels=1
        )
    )
    with pytest.raises(DataError, match="typo"):
        plan.open_external(params, plan.open_data(params), 16)
