"""Shared fixtures: real images from ../shared/data when present, small synthetic trees otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xray_utils.data import canonical_class

PROJECT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("XRAY_SHARED_DATA", PROJECT.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def _jax_cache_outside_the_project(tmp_path_factory):
    """Module-scoped fixtures train before the per-test fixtures run: keep JAX's compile cache in tmp."""
    previous = os.environ.get("XRAY_JAX_CACHE_DIR")
    os.environ["XRAY_JAX_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "jax-compilation")
    yield
    if previous is None:
        os.environ.pop("XRAY_JAX_CACHE_DIR", None)
    else:
        os.environ["XRAY_JAX_CACHE_DIR"] = previous


@pytest.fixture(autouse=True)
def _isolated_paths(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and runs folder, and no XRAY_DATA_DIR from outside."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("XRAY_CACHE_DIR", str(cache))
    monkeypatch.setenv("XRAY_RUNS_DIR", str(tmp_path_factory.getbasetemp() / "runs"))
    monkeypatch.delenv("XRAY_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real images (../shared/data); the test is skipped, with the reason, when absent."""
    if not (SHARED_DATA / "COVID-19_Radiography_Dataset").is_dir():
        pytest.skip(f"real images not found at {SHARED_DATA} (set XRAY_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_dataset(shared_data):
    return shared_data / "COVID-19_Radiography_Dataset"


def write_png(path: Path, size=(32, 32), mode="L", value=None, seed=0) -> Path:
    """A small random image file (any Pillow mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if mode == "RGB":
        array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    else:
        array = rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    if value is not None:
        array[:] = value
    Image.fromarray(array).convert(mode).save(path)
    return path


def make_tree(root: Path, layout: str = "2021", per_class: int = 3, names=None, size=(32, 32)) -> Path:
    """A miniature dataset in the 2021 or 2020 layout under ``root``; returns the dataset folder."""
    if layout == "2021":
        dataset = root / "COVID-19_Radiography_Dataset"
        names = names or ["COVID", "Normal", "Viral Pneumonia"]
        for c, name in enumerate(names):
            # the 2021 release's pediatric normals (the study's) are Normal-63 ... Normal-1403
            first = 63 if canonical_class(name) == "Normal" else 1
            for i in range(per_class):
                write_png(dataset / name / "images" / f"{name}-{i + first}.png", size, seed=100 * c + i)
                write_png(dataset / name / "masks" / f"{name}-{i + first}.png", size, value=255)
            (dataset / f"{name}.metadata.xlsx").write_bytes(b"PK\x03\x04 not really excel")
        (dataset / "README.md.txt").write_text("readme")
    else:
        dataset = root / "COVID-19 Radiography Database"
        names = names or ["COVID", "NORMAL", "Viral Pneumonia"]
        for c, name in enumerate(names):
            for i in range(per_class):
                write_png(dataset / name / f"{name} ({i + 1}).png", size, seed=100 * c + i)
    return dataset


@pytest.fixture
def tree_2021(tmp_path) -> Path:
    return make_tree(tmp_path / "data", "2021")


@pytest.fixture
def tree_2020(tmp_path) -> Path:
    return make_tree(tmp_path / "data", "2020")


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    from xray_utils.data import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic") / "set", per_class=24, image_size=64)
