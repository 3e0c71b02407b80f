"""Helpers the tests share: small image files and miniature dataset trees.

Import them with ``from helpers import make_tree, write_png`` (``tests/`` is on
``sys.path`` through pytest's ``pythonpath`` setting in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from xray_utils.data import canonical_class
from xray_utils.runner.chapters import chapter_sources


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


# The book's chapters in reading order (the front page, index, comes last), as the runner finds them.
CHAPTERS = [source.stem for source in chapter_sources() if source.stem != "index"]


def write_run_folder(parent: Path, y_prob: np.ndarray | None = None) -> Path:
    """A finished run folder written by hand, sound apart from what a test damages (``y_prob``: its predictions)."""
    from xray_utils import run_folders
    from xray_utils.data import CLASS_NAMES

    folder = parent / "m1-study-abc"
    folder.mkdir()
    run_folders.write_json(folder / "config.json", {"model": "m1", "class_names": list(CLASS_NAMES)})
    run_folders.write_json(folder / "metrics.json", {"test_accuracy": 1.0})
    run_folders.write_json(folder / "environment.json", {"backend": "tensorflow"})
    (folder / "history.csv").write_text("epoch,loss\n1,0.5\n")
    probabilities = np.eye(3, dtype=np.float32) if y_prob is None else y_prob
    np.savez(folder / "predictions.npz", indices=np.arange(3), y_true=np.arange(3), y_prob=probabilities)
    (folder / run_folders.COMPLETE).write_text("")
    return folder


def write_scored_run(
    folder: Path, model: str, protocol: str, y_true, y_prob, rates=(1e-3, 1e-3, 1e-4), class_names=None
):
    """A finished run at ``folder`` with these predictions and learning rates per epoch; the loaded ``Run``."""
    import json

    import pandas as pd

    from xray_utils.data import CLASS_NAMES
    from xray_utils.run_folders import COMPLETE, Run

    folder.mkdir(parents=True)
    np.savez(folder / "predictions.npz", indices=np.arange(len(y_true)), y_true=y_true, y_prob=y_prob)
    names = list(class_names or CLASS_NAMES)
    (folder / "config.json").write_text(json.dumps({"model": model, "protocol": protocol, "class_names": names}))
    (folder / "metrics.json").write_text(json.dumps({"evaluated_epoch": 3, "epochs_run": 3}))
    (folder / "environment.json").write_text("{}")
    history = pd.DataFrame({"epoch": range(1, len(rates) + 1), "learning_rate": rates})
    history.to_csv(folder / "history.csv", index=False)
    (folder / COMPLETE).write_text("")
    return Run.load(folder)
