"""Decode X-ray files into one ``uint8`` array, with an on-disk cache.

Every image, whatever its file format, goes through the same documented
conversion (:func:`decode_image`) so that the models always see
``(S, S, C)`` ``uint8`` arrays:

1. 16-bit and 32-bit grayscale are scaled to 8 bits (``value / 257`` for
   16-bit data); palette and 1-bit images are expanded;
2. transparency is composited onto black (X-ray background);
3. colour images become grayscale with the ITU-R 601 luma weights when
   ``C == 1``; grayscale images are repeated into three equal channels when
   ``C == 3`` (as ``cv2.imread`` did in the original study);
4. the image is resized to ``S x S`` with bilinear interpolation (non-square
   images are stretched, as in the original study).

Pixels stay ``uint8`` in memory (the study's float32 copy of the data needed
1.7 GB); the models scale them to [0, 1] themselves.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from ..paths import default_cache_dir
from .layout import DatasetIndex

LOADER_VERSION = 2  # bump when decode_image or the cache format changes
DEFAULT_IMAGE_SIZE = 192
MAX_UNREADABLE_FRACTION = 0.01


@dataclass(frozen=True)
class SkippedFile:
    """A file that could not be decoded, and why."""

    file: str
    reason: str


@dataclass
class ImageSet:
    """Decoded images of one dataset.

    ``images``: ``uint8`` array of shape ``(N, S, S, C)``; ``labels``: ``int64``
    array of shape ``(N,)`` indexing ``class_names``; ``files``: paths relative
    to ``root``. ``fingerprint`` identifies *which* images these are (names and
    labels), so runs trained on the same images can be recognised.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    files: tuple[str, ...]
    root: Path
    synthetic: bool
    release: str
    skipped: list[SkippedFile] = field(default_factory=list)
    from_cache: bool = False
    digests: tuple[str, ...] = ()  # SHA-256 of each file's bytes
    data_subset: str = "all"  # the data_subset these images are (see ``releases.select_subset``)
    subset_reason: str = "every file found"

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[3])

    @property
    def counts(self) -> dict[str, int]:
        found = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, found)}

    @property
    def fingerprint(self) -> str:
        return data_fingerprint(self.files, self.labels, self.class_names)

    def describe(self) -> str:
        """One line: how many images of which size, from where, and which subset of the files and why."""
        source = "SYNTHETIC stand-in" if self.synthetic else f"{self.release} release"
        counts = ", ".join(f"{k}: {v}" for k, v in self.counts.items())
        return (
            f"{len(self)} images ({counts}) as {self.images.shape[1:]} uint8 "
            f"from {source} ({self.root.name}); data_subset={self.data_subset}: {self.subset_reason}"
        )


def data_fingerprint(files, labels, class_names) -> str:
    """Short hash of file names (without extension) and labels: the data's identity."""
    digest = hashlib.sha256()
    digest.update("|".join(class_names).encode())
    for name, label in zip(files, np.asarray(labels).tolist()):
        digest.update(f"{Path(name).with_suffix('').as_posix()}:{label};".encode())
    return digest.hexdigest()[:16]


def _to_8bit(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 or image.mode.startswith("I;16") else 1.0
        return Image.fromarray(np.clip(np.rint(values / scale), 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(initial=0), values.max(initial=1)
        span = high - low or 1.0
        return Image.fromarray(np.rint((values - low) / span * 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("RGB" if image.mode in ("P", "CMYK", "YCbCr", "HSV", "LAB") else "L")


def decode_image(source, image_size: int, channels: int) -> np.ndarray:
    """Read one image (a path or the file's bytes) into ``uint8`` ``(image_size, image_size, channels)``.

    Raises ``OSError`` or ``ValueError`` with a short reason for files that are
    empty, truncated, unreadable or not images.
    """
    raw = _read_file(Path(source)) if isinstance(source, (str, Path)) else source
    if len(raw) == 0:
        raise ValueError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.draft("RGB" if channels == 3 else "L", (image_size, image_size))
            image.load()
            image = _to_8bit(image).convert("L" if channels == 1 else "RGB")
    except UnidentifiedImageError as exc:
        raise ValueError("not an image Pillow can read") from exc
    except OSError as exc:
        raise OSError(f"broken image ({exc})") from exc
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array.reshape(image_size, image_size, channels)


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError as exc:
        raise OSError("permission denied") from exc


def _decode_or_reason(args):
    """``(array or None, reason or None, sha256 of the bytes or None)`` for one file."""
    path, image_size, channels = args
    try:
        raw = _read_file(path)
        return decode_image(raw, image_size, channels), None, hashlib.sha256(raw).hexdigest()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return None, str(exc) or type(exc).__name__, None


def _cache_key(index: DatasetIndex, image_size: int, channels: int) -> str:
    digest = hashlib.sha256(f"v{LOADER_VERSION}|{image_size}|{channels}".encode())
    digest.update("|".join(index.class_names).encode())
    for path, label in zip(index.files, index.labels.tolist()):
        stat = path.stat()
        digest.update(f"{path.relative_to(index.root)}|{label}|{stat.st_size}|{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:24]


def _check_unreadable(index: DatasetIndex, skipped_labels: list[int], limit: float) -> None:
    total = np.bincount(index.labels, minlength=len(index.class_names))
    bad = np.bincount(np.asarray(skipped_labels, dtype=np.int64), minlength=len(index.class_names))
    for label in range(len(index.class_names)):
        if total[label] == 0:
            continue  # a class absent from a held-out set
        folder = index.files[int(np.flatnonzero(index.labels == label)[0])].parent
        if bad[label] == total[label]:
            raise DataError(f"No readable image in class folder '{folder}' ({bad[label]} unreadable).")
        if bad[label] > limit * total[label]:
            raise DataError(
                f"{bad[label]} of {total[label]} images in '{folder}' are unreadable "
                f"(more than {limit:.0%}); the download looks incomplete or corrupt. "
                "See the skipped-file report (ImageSet.skipped) or re-download."
            )


class _Progress:
    """A tqdm bar on an interactive terminal; silent in notebooks and CI logs."""

    def __init__(self, total: int, enabled: bool | None):
        self.bar = None
        if enabled is None:
            enabled = sys.stderr.isatty()
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="decoding", unit="img", leave=False)

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _decode_all(index, image_size, channels, workers, progress):
    images = np.empty((len(index), image_size, image_size, channels), dtype=np.uint8)
    ok = np.zeros(len(index), dtype=bool)
    reasons: dict[int, str] = {}
    digests: dict[int, str] = {}
    bar = _Progress(len(index), progress)
    jobs = ((p, image_size, channels) for p in index.files)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for i, (array, reason, digest) in enumerate(pool.map(_decode_or_reason, jobs, chunksize=16)):
            if array is None:
                reasons[i] = reason
            else:
                images[i] = array
                ok[i] = True
                digests[i] = digest
            bar.update()
    bar.close()
    return images, ok, reasons, digests


def _check_cross_class_copies(index: DatasetIndex, digests: dict[int, str]) -> None:
    """The same bytes under two labels cannot both be right: fail, naming both files."""
    first: dict[str, int] = {}
    for i in sorted(digests):
        j = first.setdefault(digests[i], i)
        if j != i and index.labels[j] != index.labels[i]:
            raise DataError(
                f"The same image is filed under two classes: '{index.files[j]}' "
                f"({index.class_names[index.labels[j]]}) and '{index.files[i]}' "
                f"({index.class_names[index.labels[i]]}). Remove the wrong copy."
            )


def _cache_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    folder = cache_dir / "arrays"
    return folder / f"{key}.npy", folder / f"{key}.json"


def _read_cache(array_path: Path, meta_path: Path, key: str):
    """The cached (images, meta), or None when absent, stale or corrupt."""
    if not (array_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        images = np.load(array_path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        print(f"Ignoring corrupt cache {array_path.name}: {exc}; rebuilding.", file=sys.stderr)
        return None
    if (
        meta.get("key") != key
        or list(images.shape) != meta.get("shape")
        or images.dtype != np.uint8
        or len(meta.get("digests", [])) != len(images)
    ):
        print(f"Ignoring stale cache {array_path.name}; rebuilding.", file=sys.stderr)
        return None
    return images, meta


def _write_cache(array_path: Path, meta_path: Path, images: np.ndarray, meta: dict) -> None:
    array_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_array = array_path.with_suffix(f".tmp{os.getpid()}.npy")
    tmp_meta = meta_path.with_suffix(f".tmp{os.getpid()}.json")
    np.save(tmp_array, images, allow_pickle=False)
    tmp_meta.write_text(json.dumps(meta))
    os.replace(tmp_array, array_path)
    os.replace(tmp_meta, meta_path)


def load_images(
    index: DatasetIndex,
    image_size: int = DEFAULT_IMAGE_SIZE,
    channels: int = 3,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: bool | None = None,
    max_unreadable_fraction: float = MAX_UNREADABLE_FRACTION,
) -> ImageSet:
    """Decode every file of ``index`` to ``(N, image_size, image_size, channels)`` uint8.

    Decoding runs in ``workers`` threads (default: one per core). The result is
    cached under ``cache_dir`` (default ``$XRAY_CACHE_DIR`` or ``.cache``) keyed by
    the file list (names, sizes, modification times), ``image_size`` and
    ``channels``: a second call on unchanged files reads one ``.npy`` file.
    Unreadable files are skipped and listed in ``ImageSet.skipped``; if more than
    ``max_unreadable_fraction`` of a class is unreadable, :class:`DataError` names
    the folder.
    """
    from ..config import validate_image_shape

    validate_image_shape(image_size, channels)
    key = _cache_key(index, image_size, channels)
    array_path, meta_path = _cache_paths(Path(cache_dir or default_cache_dir()), key)
    cached = _read_cache(array_path, meta_path, key) if use_cache else None
    relative = index.relative_files()
    if cached is not None:
        images, meta = cached
        keep = np.asarray(meta["kept"], dtype=np.int64)
        skipped = [SkippedFile(**s) for s in meta["skipped"]]
        digests = tuple(meta["digests"])
    else:
        images, ok, reasons, found = _decode_all(index, image_size, channels, workers, progress)
        _check_cross_class_copies(index, found)
        keep = np.flatnonzero(ok)
        skipped = [SkippedFile(relative[i], reasons[i]) for i in sorted(reasons)]
        digests = tuple(found[i] for i in keep)
        if reasons:
            images = images[keep]
        meta = {
            "key": key,
            "shape": list(images.shape),
            "kept": keep.tolist(),
            "skipped": [s.__dict__ for s in skipped],
            "digests": list(digests),
        }
        if use_cache:
            _write_cache(array_path, meta_path, images, meta)
    if skipped:
        _check_unreadable(
            index, index.labels[np.setdiff1d(np.arange(len(index)), keep)].tolist(), max_unreadable_fraction
        )
    return ImageSet(
        images=images,
        labels=index.labels[keep].copy(),
        class_names=index.class_names,
        files=tuple(relative[i] for i in keep),
        root=index.root,
        synthetic=index.synthetic,
        release=index.release,
        skipped=skipped,
        from_cache=cached is not None,
        digests=digests,
        data_subset=index.data_subset,
        subset_reason=index.subset_reason,
    )
