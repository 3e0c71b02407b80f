"""Prepare what `scripts/gpu_full_study.py` needs on a GPU machine that has no network: data and wheels.

    python3 scripts/make_gpu_inputs.py                     # ../shared/data -> .cache/gpu-data, wheels -> .whl
    python3 scripts/make_gpu_inputs.py --source DIR --data DIR --wheels DIR [--no-wheels]

* **Data**: every image under ``--source`` (the dataset and its ``external`` held-out folder
  beside it) copied as a 192x192 grayscale JPEG (Pillow, bilinear, quality 92) under the same
  relative path and file stem, so the data fingerprint and every run key are those of the
  originals (``results/full/README.md``). For ../shared/data: 4,079 files, 30.7 MiB against the
  PNGs' 100 MB, so it travels to the device machine with the working tree (64 MiB at most, wheels
  and checkout included: about 50 MiB in all).
* **Wheels**: what the device image lacks for this package (Keras 3.15.1 and its two missing
  needs, ImageHash and PyWavelets), for CPython 3.12 on manylinux x86-64, at the versions this
  machine's environment has. The device image has JAX 0.11.2 with CUDA, NumPy, pandas,
  scikit-learn, SciPy, matplotlib, seaborn, Pillow, PyYAML, tqdm and h5py.

Both targets sit in folders git ignores (``/.cache/``, ``/.whl/``): never commit either.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
SIZE, QUALITY = 192, 92
# The device image's Python (KINDS.md of the device tool: Python 3.12.3, x86-64, glibc 2.39).
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
WHEELS = {"keras": "3.15.1", "namex": None, "optree": None, "ImageHash": None, "PyWavelets": None}


def jpeg_copies(source: Path, target: Path, size: int = SIZE, quality: int = QUALITY) -> tuple[int, int]:
    """Copy every image under ``source`` to ``target`` as a ``size``-px grayscale JPEG; ``(files, bytes)``.

    Relative folders and file stems are kept (only the suffix becomes ``.jpg``).
    A copy that exists already is kept, so a second call costs only the listing.
    """
    from PIL import Image

    count = written = 0
    for path in sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        copy = (target / path.relative_to(source)).with_suffix(".jpg")
        if not copy.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(path) as image:
                small = image.convert("L").resize((size, size), Image.Resampling.BILINEAR)
            partial = copy.with_name(copy.name + ".partial")
            small.save(partial, "JPEG", quality=quality)
            partial.replace(copy)  # a killed copy never looks finished
        count += 1
        written += copy.stat().st_size
    if not count:
        raise SystemExit(f"error: no images under '{source}'")
    return count, written


def wheel_pins() -> list[str]:
    """``name==version`` for each wheel the device needs: Keras pinned, the rest as installed here."""
    pins = []
    for name, pinned in WHEELS.items():
        version = pinned or importlib.metadata.version(name)
        pins.append(f"{name}=={version}")
    return pins


def download_wheels(target: Path) -> list[Path]:
    """Fetch the wheels into ``target`` with pip (binary only, no dependencies: the device has the rest)."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", "3.12", "--implementation", "cp", "-d", str(target)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command + wheel_pins(), check=True)
    return sorted(target.glob("*.whl"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data", help="the PNG dataset")
    parser.add_argument("--data", type=Path, default=ROOT / ".cache" / "gpu-data", help="where the JPEGs go")
    parser.add_argument("--wheels", type=Path, default=ROOT / ".whl", help="where the wheels go")
    parser.add_argument("--no-wheels", action="store_true", help="only the JPEG copies")
    args = parser.parse_args(argv)
    files, size = jpeg_copies(args.source, args.data)
    print(f"{files} JPEG copies in {args.data}: {size / 2**20:.1f} MiB")
    if not args.no_wheels:
        wheels = download_wheels(args.wheels)
        total = sum(w.stat().st_size for w in wheels)
        print(f"{len(wheels)} wheels in {args.wheels}: {total / 2**20:.1f} MiB ({', '.join(w.name for w in wheels)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
