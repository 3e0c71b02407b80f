import hashlib

import numpy as np

from xray_utils.data import find_dataset, load_images, make_synthetic_dataset


def _digest(folder):
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*.png")))).hexdigest()


def test_deterministic_layout_and_flag(tmp_path):
    a = make_synthetic_dataset(tmp_path / "a", per_class=5, image_size=48, seed=3)
    b = make_synthetic_dataset(tmp_path / "b", per_class=5, image_size=48, seed=3)
    assert _digest(a) == _digest(b)
    index = find_dataset(a)
    assert index.synthetic and index.counts == {"COVID": 5, "Normal": 5, "Viral Pneumonia": 5}
    assert all(p.parent.name == "images" for p in index.files)


def test_classes_differ_in_a_learnable_way(synthetic_dataset, tmp_path):
    from xray_utils.evaluation import thumbnail_baseline

    images = load_images(find_dataset(synthetic_dataset), 64, 1, cache_dir=tmp_path)
    assert images.synthetic
    assert thumbnail_baseline(images.images, images.labels, size=8) > 0.6
    lungs = images.images[:, 20:44, 8:56, 0].astype(float).mean(axis=(1, 2))
    covid, normal = lungs[images.labels == 0].mean(), lungs[images.labels == 1].mean()
    assert not np.isclose(covid, normal, atol=1)
