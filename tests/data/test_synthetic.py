import hashlib
import inspect

from PIL import Image

from xray_utils.data import find_dataset, load_images, make_synthetic_dataset
from xray_utils.data.layout import SYNTHETIC_MARKER
from xray_utils.data.synthetic import DATASET_FOLDER, GENERATOR_VERSION, default_synthetic_dir
from xray_utils.params import load_profile


def _digest(folder):
    files = sorted(folder.rglob("*.png"))
    return hashlib.sha256(b"".join(str(p.relative_to(folder)).encode() + p.read_bytes() for p in files)).hexdigest()


def test_deterministic_layout_and_flag(tmp_path):
    a = make_synthetic_dataset(tmp_path / "a", per_class=5, image_size=48, seed=3)
    b = make_synthetic_dataset(tmp_path / "b", per_class=5, image_size=48, seed=3)
    other = make_synthetic_dataset(tmp_path / "c", per_class=5, image_size=48, seed=4)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(other)
    assert (a / SYNTHETIC_MARKER).read_text().startswith("SYNTHETIC STAND-IN DATA")
    index = find_dataset(a)
    assert index.synthetic and index.counts == {"COVID": 5, "Normal": 5, "Viral Pneumonia": 5}
    assert all(p.parent.name == "images" for p in index.files)
    for label in ("COVID", "Normal", "Viral Pneumonia"):
        folder = a / DATASET_FOLDER / label / "images"
        assert sorted(p.name for p in folder.iterdir()) == sorted(f"{label}-{i}.png" for i in range(1, 6))
        with Image.open(folder / f"{label}-1.png") as image:
            assert image.mode == "L" and image.size == (48, 48)


def test_existing_complete_folder_is_reused(tmp_path):
    root = make_synthetic_dataset(tmp_path / "set", per_class=2, image_size=32)
    first = root / DATASET_FOLDER / "COVID" / "images" / "COVID-1.png"
    stamp = first.stat().st_mtime_ns
    assert make_synthetic_dataset(root, per_class=2, image_size=32) == root
    assert first.stat().st_mtime_ns == stamp


def test_defaults_cover_the_quick_profile():
    # The quick profile takes a seeded subset of per_class images: the stand-in must hold more.
    default = inspect.signature(make_synthetic_dataset).parameters
    assert default["per_class"].default > load_profile("quick")["per_class"]
    assert default["image_size"].default >= 128  # chapter 1 shows the files at 128 x 128
    name = default_synthetic_dir(default["per_class"].default, default["image_size"].default, 0).name
    assert name == f"synthetic-v{GENERATOR_VERSION}-n500-s128-seed0"


def test_classes_differ_in_a_learnable_way(synthetic_dataset, tmp_path):
    from xray_utils.evaluation import thumbnail_baseline

    images = load_images(find_dataset(synthetic_dataset), 32, 1, cache_dir=tmp_path)
    assert images.synthetic
    x, y = images.images, images.labels
    # 8 x 8 thumbnails of 32 x 32 images (the quick profile's size) already tell the classes apart,
    assert thumbnail_baseline(x, y, size=8) > 0.9
    # also the two classes that share the small (child) thorax: the findings, not only the confound.
    children = y > 0
    assert thumbnail_baseline(x[children], y[children], size=8) > 0.9
    lungs = x[:, 10:22, 4:28, 0].astype(float).mean(axis=(1, 2))
    covid, normal, viral = (lungs[y == k].mean() for k in range(3))
    assert covid > normal + 5 and viral > normal + 5  # opacities brighten the lung fields


def test_the_age_confound_is_kept(synthetic_dataset, tmp_path):
    images = load_images(find_dataset(synthetic_dataset), 32, 1, cache_dir=tmp_path)
    body = (images.images[..., 0] > 64).mean(axis=(1, 2))  # share of the frame the thorax fills
    covid, normal, viral = (body[images.labels == k].mean() for k in range(3))
    assert covid > normal + 0.1 and covid > viral + 0.1
