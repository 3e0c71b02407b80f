import os
import time

import numpy as np
import pytest
from helpers import make_tree, write_png
from PIL import Image

from xray_utils.data import DataError, ImageSet, decode_image, find_dataset, load_images


def test_shapes_dtype_and_labels(tree_2021, tmp_path):
    images = load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path / "c")
    assert isinstance(images, ImageSet)
    assert images.images.shape == (9, 32, 32, 3) and images.images.dtype == np.uint8
    assert images.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert images.files[0] == "COVID/images/COVID-1.png"
    assert not images.synthetic


def test_grayscale_is_repeated_into_three_equal_channels(tree_2021, tmp_path):
    images = load_images(find_dataset(tree_2021), 16, 3, cache_dir=tmp_path)
    assert np.array_equal(images.images[..., 0], images.images[..., 1])
    assert load_images(find_dataset(tree_2021), 16, 1, cache_dir=tmp_path).images.shape == (9, 16, 16, 1)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1", "I;16", "LA"])
def test_every_pixel_mode_decodes_to_the_same_form(tmp_path, mode):
    path = tmp_path / "x.png"
    array = np.full((40, 24), 200, dtype=np.uint8)
    if mode == "I;16":
        Image.fromarray(array.astype(np.uint16) * 257).save(path)
    elif mode == "1":
        Image.new("1", (24, 40), 1).save(path)
    else:
        Image.fromarray(array).convert(mode).save(path)
    out = decode_image(path, 16, 3)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    expected = 255 if mode == "1" else 200
    assert abs(int(out.mean()) - expected) <= 1


def test_alpha_is_composited_on_black(tmp_path):
    path = tmp_path / "transparent.png"
    Image.new("RGBA", (8, 8), (255, 255, 255, 0)).save(path)
    assert decode_image(path, 16, 1).max() == 0


def test_jpeg_named_png_and_odd_sizes(tmp_path):
    jpeg = tmp_path / "really_jpeg.png"
    Image.fromarray(np.full((300, 500), 90, np.uint8)).save(jpeg, format="JPEG")
    assert decode_image(jpeg, 32, 1).shape == (32, 32, 1)
    big = write_png(tmp_path / "big.png", size=(4000, 4000), value=10)
    small = write_png(tmp_path / "small.png", size=(16, 16), value=10)
    assert decode_image(big, 64, 1).mean() == pytest.approx(10, abs=1)
    assert decode_image(small, 64, 1).shape == (64, 64, 1)


@pytest.mark.parametrize("content,reason", [(b"", "empty"), (b"this is text", "not an image"), (None, "broken")])
def test_broken_files_are_skipped_and_reported(tmp_path, content, reason):
    dataset = make_tree(tmp_path, per_class=4)
    bad = dataset / "Normal" / "images" / "Normal-64.png"
    if content is None:  # truncated PNG
        bad.write_bytes(bad.read_bytes()[:60])
    else:
        bad.write_bytes(content)
    images = load_images(find_dataset(dataset), 16, 1, cache_dir=tmp_path / "c", max_unreadable_fraction=0.5)
    assert len(images) == 11
    assert [s.file for s in images.skipped] == ["Normal/images/Normal-64.png"]
    assert reason in images.skipped[0].reason
    assert "Normal/images/Normal-64.png" not in images.files


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_permissions_are_skipped(tmp_path):
    dataset = make_tree(tmp_path, per_class=4)
    (dataset / "COVID" / "images" / "COVID-1.png").chmod(0)
    images = load_images(find_dataset(dataset), 16, 1, cache_dir=tmp_path / "c", max_unreadable_fraction=0.5)
    assert "permission" in images.skipped[0].reason


def test_too_many_unreadable_images_in_a_class_fails_naming_the_folder(tmp_path):
    dataset = make_tree(tmp_path, per_class=4)
    (dataset / "Normal" / "images" / "Normal-63.png").write_bytes(b"")
    with pytest.raises(DataError, match="Normal"):
        load_images(find_dataset(dataset), 16, 1, cache_dir=tmp_path / "c")


def test_second_load_comes_from_cache_and_is_identical(tree_2021, tmp_path):
    first = load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path)
    second = load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path)
    assert not first.from_cache and second.from_cache
    assert np.array_equal(first.images, second.images) and first.files == second.files


def test_changed_folder_invalidates_cache(tree_2021, tmp_path):
    load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path)
    write_png(tree_2021 / "COVID" / "images" / "COVID-99.png", seed=99)
    again = load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path)
    assert not again.from_cache and len(again) == 10
    changed = tree_2021 / "COVID" / "images" / "COVID-1.png"
    write_png(changed, seed=7)
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path).from_cache


def test_size_and_channels_are_part_of_the_cache_key(tree_2021, tmp_path):
    load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path)
    assert not load_images(find_dataset(tree_2021), 16, 3, cache_dir=tmp_path).from_cache
    assert not load_images(find_dataset(tree_2021), 32, 1, cache_dir=tmp_path).from_cache


def test_corrupt_cache_is_rebuilt(tree_2021, tmp_path, capsys):
    first = load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path)
    (array,) = (tmp_path / "arrays").glob("*.npy")
    array.write_bytes(array.read_bytes()[:100])
    again = load_images(find_dataset(tree_2021), 32, 3, cache_dir=tmp_path)
    assert not again.from_cache and np.array_equal(first.images, again.images)
    assert "corrupt cache" in capsys.readouterr().err


def test_invalid_shape_fails_before_decoding(tree_2021, tmp_path):
    from xray_utils.errors import ConfigError

    with pytest.raises(ConfigError, match="channels"):
        load_images(find_dataset(tree_2021), 32, 2, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="multiple of 16"):
        load_images(find_dataset(tree_2021), 40, 3, cache_dir=tmp_path)


def test_real_data_loads_and_caches(shared_dataset, tmp_path):
    index = find_dataset(shared_dataset).subset(50)
    cold = load_images(index, 64, 1, cache_dir=tmp_path)
    warm = load_images(index, 64, 1, cache_dir=tmp_path)
    assert cold.images.shape == (150, 64, 64, 1) and warm.from_cache
    assert 40 < cold.images.mean() < 220  # real radiographs, not blank frames
