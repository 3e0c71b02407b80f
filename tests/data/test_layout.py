import os

import pytest
from helpers import make_tree, write_png

from xray_utils.data import CLASS_NAMES, DataError, canonical_class, find_dataset, resolve_dataset


def test_2021_layout_ignores_masks_metadata_and_readme(tree_2021):
    index = find_dataset(tree_2021.parent)
    assert index.release == "2021"
    assert index.class_names == CLASS_NAMES
    assert index.counts == {"COVID": 3, "Normal": 3, "Viral Pneumonia": 3}
    assert all(p.parent.name == "images" for p in index.files)  # never a mask


def test_2020_layout_with_uppercase_normal(tree_2020):
    index = find_dataset(tree_2020)
    assert index.release == "2020"
    assert index.counts == {"COVID": 3, "Normal": 3, "Viral Pneumonia": 3}


@pytest.mark.parametrize(
    "name,label",
    [
        ("NORMAL", "Normal"),
        ("normal", "Normal"),
        ("Viral_Pneumonia", "Viral Pneumonia"),
        ("covid-19", "COVID"),
        ("Lung_Opacity", "Lung_Opacity"),
        ("Bacterial", None),
    ],
)
def test_class_names_map_case_and_spelling_insensitively(name, label):
    assert canonical_class(name) == label


def test_nested_one_level_too_deep_is_found(tmp_path):
    make_tree(tmp_path / "data" / "archive" / "extra")
    assert len(find_dataset(tmp_path / "data")) == 9


def test_lung_opacity_left_out_unless_asked(tmp_path):
    dataset = make_tree(tmp_path, names=["COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"])
    assert "Lung_Opacity" not in find_dataset(dataset).class_names
    assert find_dataset(dataset, include_lung_opacity=True).counts["Lung_Opacity"] == 3


def test_stray_files_are_ignored(tree_2021):
    folder = tree_2021 / "COVID" / "images"
    for junk in (".DS_Store", "Thumbs.db", "notes.csv", "._COVID-9.png"):
        (folder / junk).write_bytes(b"junk")
    assert find_dataset(tree_2021).counts["COVID"] == 3


def test_files_are_in_natural_order(tmp_path):
    for i in (1, 2, 10):
        write_png(tmp_path / "COVID" / f"COVID-{i}.png")
    for name in ("Normal", "Viral Pneumonia"):
        write_png(tmp_path / name / f"{name}-1.png")
    names = [p.name for p in find_dataset(tmp_path).files[:3]]
    assert names == ["COVID-1.png", "COVID-2.png", "COVID-10.png"]


def test_missing_folder_names_it(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        find_dataset(tmp_path / "nowhere")


def test_missing_class_names_the_class(tree_2021):
    import shutil

    shutil.rmtree(tree_2021 / "Viral Pneumonia")
    (tree_2021 / "Lung_Opacity").mkdir()
    with pytest.raises(DataError, match="Viral Pneumonia"):
        find_dataset(tree_2021)


def test_empty_class_names_the_folder(tree_2021):
    for png in (tree_2021 / "Normal" / "images").glob("*.png"):
        png.unlink()
    with pytest.raises(DataError, match="Normal"):
        find_dataset(tree_2021)


def test_unknown_class_folder_is_noted_not_used(tree_2021):
    (tree_2021 / "Tuberculosis" / "images").mkdir(parents=True)
    index = find_dataset(tree_2021)
    assert any("Tuberculosis" in note for note in index.notes)
    assert "Tuberculosis" not in index.class_names


def test_both_releases_side_by_side_prefers_2021(tmp_path):
    make_tree(tmp_path, "2021")
    make_tree(tmp_path, "2020")
    index = find_dataset(tmp_path)
    assert index.release == "2021" and any("Several datasets" in n for n in index.notes)


def test_symlinked_class_folder_is_followed(tmp_path):
    dataset = make_tree(tmp_path / "real", "2020")
    linked = tmp_path / "linked"
    linked.mkdir()
    for child in dataset.iterdir():
        os.symlink(child, linked / child.name)
    assert len(find_dataset(linked)) == 9


def test_subset_is_seeded_and_stratified(tmp_path):
    dataset = make_tree(tmp_path, per_class=6)
    index = find_dataset(dataset)
    first, again = index.subset(4, seed=1), index.subset(4, seed=1)
    assert first.counts == {"COVID": 4, "Normal": 4, "Viral Pneumonia": 4}
    assert first.files == again.files
    assert index.subset(None) is index


def test_named_but_missing_folder_does_not_fall_back_to_synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("XRAY_DATA_DIR", str(tmp_path / "typo"))
    with pytest.raises(DataError):
        resolve_dataset()


def test_nothing_found_falls_back_to_synthetic(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("xray_utils.data.layout.default_data_dir", lambda: tmp_path / "data")
    index = resolve_dataset()
    assert index.synthetic and index.release == "synthetic"
    assert "SYNTHETIC DATA" in capsys.readouterr().err


def test_real_shared_data_layout(shared_data):
    index = find_dataset(shared_data)
    assert index.release == "2021" and not index.synthetic
    assert set(index.class_names) == set(CLASS_NAMES)
    assert min(index.counts.values()) > 1000


def test_held_out_set_with_two_classes_keeps_three_labels(tmp_path):
    import shutil

    dataset = make_tree(tmp_path)
    shutil.rmtree(dataset / "Viral Pneumonia")
    with pytest.raises(DataError, match="Viral Pneumonia"):
        find_dataset(dataset)
    index = find_dataset(dataset, required=("COVID", "Normal"))
    assert index.class_names == CLASS_NAMES
    assert index.counts == {"COVID": 3, "Normal": 3, "Viral Pneumonia": 0}


def test_real_external_set(shared_data):
    from xray_utils.data import load_images

    index = find_dataset(shared_data / "external", required=("COVID", "Normal"))
    assert index.counts["Viral Pneumonia"] == 0 and index.counts["COVID"] > 0 and index.counts["Normal"] > 0
    images = load_images(index.subset(20), 32, 1)
    assert images.counts == {"COVID": 20, "Normal": 20, "Viral Pneumonia": 0}
