"""A full-size stand-in for the 2021 Kaggle release: every file name and count, as links.

``make_release_2021(root)`` writes ``root/COVID-19_Radiography_Dataset`` with the
release's exact names and counts (3,616 COVID, 10,192 Normal, 6,012
Lung_Opacity, 1,345 Viral Pneumonia; ``images/`` and ``masks/``, the
``*.metadata.xlsx`` files and ``README.md.txt``). Each file is a symbolic link:
to a tiny generated PNG per class and source, or, with ``images=``, to real
images of the same class and kind (pediatric normals from the dataset, adult
normals and later COVID from its ``external`` folder), cycled. Nothing is copied.

Run as a script to build one for a manual check::

    python tests/data/release_2021.py /tmp/release-2021 --images ../shared/data
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

COUNTS = {"COVID": 3616, "Normal": 10192, "Lung_Opacity": 6012, "Viral Pneumonia": 1345}
DATASET = "COVID-19_Radiography_Dataset"


def _kind(name: str, number: int) -> str:
    """Which source a file stands for: 'early'/'late' COVID, 'child'/'adult' normal, or the class."""
    if name == "COVID":
        return "early" if number <= 1900 else "late"
    if name == "Normal":
        return "child" if 63 <= number <= 1403 else "adult"
    return name


def _tiny_targets(folder: Path) -> dict[tuple[str, str], list[Path]]:
    """One distinct 8x8 PNG per (class, kind), so no two classes share bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    targets = {}
    kinds = [
        ("COVID", "early"),
        ("COVID", "late"),
        ("Normal", "child"),
        ("Normal", "adult"),
        ("Lung_Opacity", "Lung_Opacity"),
        ("Viral Pneumonia", "Viral Pneumonia"),
    ]
    for i, key in enumerate(kinds):
        path = folder / f"{i}.png"
        Image.fromarray(np.full((8, 8), 30 * i + 10, dtype=np.uint8), "L").save(path)
        targets[key] = [path]
    return targets


def _real_targets(images: Path) -> dict[tuple[str, str], list[Path]]:
    main, external = images / DATASET, images / "external" / DATASET

    def files(folder: Path) -> list[Path]:
        return sorted(folder.glob("*.png")) + sorted(folder.glob("*.jpg"))

    return {
        ("COVID", "early"): files(main / "COVID" / "images"),
        ("COVID", "late"): files(external / "COVID" / "images"),
        ("Normal", "child"): files(main / "Normal" / "images"),
        ("Normal", "adult"): files(external / "Normal" / "images"),
        ("Lung_Opacity", "Lung_Opacity"): files(external / "Normal" / "images"),
        ("Viral Pneumonia", "Viral Pneumonia"): files(main / "Viral Pneumonia" / "images"),
    }


def make_release_2021(root: str | Path, images: str | Path | None = None) -> Path:
    """Write the linked 2021-release tree under ``root``; return its dataset folder."""
    root = Path(root)
    dataset = root / DATASET
    targets = _real_targets(Path(images)) if images else _tiny_targets(root / ".targets")
    mask = root / ".targets" / "mask.png"
    mask.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), 255, dtype=np.uint8), "L").save(mask)
    for name, count in COUNTS.items():
        for sub in ("images", "masks"):
            (dataset / name / sub).mkdir(parents=True, exist_ok=True)
        for number in range(1, count + 1):
            pool = targets[(name, _kind(name, number))]
            os.symlink(pool[number % len(pool)].resolve(), dataset / name / "images" / f"{name}-{number}.png")
            os.symlink(mask.resolve(), dataset / name / "masks" / f"{name}-{number}.png")
        (dataset / f"{name}.metadata.xlsx").write_bytes(b"PK\x03\x04 (not read by the project)")
    (dataset / "README.md.txt").write_text("COVID-19 Radiography Database (stand-in for the 2021 release)\n")
    return dataset


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root")
    parser.add_argument("--images", help="a folder like ../shared/data whose images the links point to")
    args = parser.parse_args()
    print(make_release_2021(args.root, args.images))
