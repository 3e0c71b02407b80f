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

Before that, a JPEG's EXIF orientation tag is applied (a photo tagged "rotate
90" is turned upright). Images of more than ``LARGE_IMAGE_PIXELS`` are first
reduced by an integer factor (box average), so that a 9000 x 9000 16-bit scan
needs tens of megabytes rather than a gigabyte; images above Pillow's
``Image.MAX_IMAGE_PIXELS`` (a guard against decompression bombs) are skipped
with a reason that states the limit.

The cache is only an optimisation: a cache folder that cannot be read or
written (read-only or full file system) costs a one-line warning, and the
images are decoded without it.

Pixels stay ``uint8`` in memory (the study's float32 copy of the data needed
1.7 GB); the models scale them to [0, 1] themselves.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm
from tqdm.contrib.concurrent import thread_map

from ..errors import DataError
from ..files import atomic_path, atomic_write
from ..paths import default_cache_dir
from .duplicates import check_no_cross_class_copies, exact_pairs_frame
from .layout import DatasetIndex

LOADER_VERSION = 4  # bump when decode_image or the cache format changes
MAX_FILE_BYTES = 256 * 2**20  # an uncompressed 8,000 x 8,000 x 3 image is 183 MiB
DEFAULT_IMAGE_SIZE = 192
MAX_UNREADABLE_FRACTION = 0.01
LARGE_IMAGE_PIXELS = 4096 * 4096  # above this, reduce before converting (real radiographs stay below)
SHOWN_FILES = 3  # unreadable files named in an error


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


def _name_bytes(text: str) -> bytes:
    """UTF-8 bytes of a file name; bytes that were not UTF-8 (surrogates) come back as they were."""
    return text.encode("utf-8", "surrogateescape")


def data_fingerprint(files, labels, class_names) -> str:
    """Short hash of file names (without extension) and labels: the data's identity."""
    digest = hashlib.sha256()
    digest.update("|".join(class_names).encode())
    for name, label in zip(files, np.asarray(labels).tolist()):
        digest.update(_name_bytes(f"{Path(name).with_suffix('').as_posix()}:{label};"))
    return digest.hexdigest()[:16]


def _box_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """``values`` averaged over ``factor x factor`` blocks (a view-based reduction: no full-size copy)."""
    if factor < 2:
        return values.astype(np.float64)
    h, w = values.shape[0] // factor * factor, values.shape[1] // factor * factor
    return values[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _deep_values(image: Image.Image, factor: int) -> np.ndarray:
    """A 16/32-bit image as float64, box-reduced by ``factor`` strip by strip (no full-size copy)."""
    if factor < 2:
        return np.asarray(image, dtype=np.float64)
    height = image.height // factor * factor
    rows = max(1, (1 << 22) // (image.width * factor)) * factor  # about 4 M pixels per strip
    strips = [
        _box_mean(np.asarray(image.crop((0, top, image.width, min(top + rows, height)))), factor)
        for top in range(0, height, rows)
    ]
    return np.concatenate(strips)


def _to_8bit(image: Image.Image, factor: int = 1) -> Image.Image:
    """Steps 1 and 2 of the conversion; ``factor`` > 1 also box-reduces (first, for 16/32-bit images)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = _deep_values(image, factor)
        scale = (2 ** _bit_depth(image, values) - 1) / 255
        return Image.fromarray(np.clip(np.rint(values / scale), 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        values = _deep_values(image, factor)
        low, high = values.min(initial=0), values.max(initial=1)
        span = high - low or 1.0
        return Image.fromarray(np.rint((values - low) / span * 255).astype(np.uint8), "L")
    if factor > 1 and image.mode in ("L", "LA", "RGB", "RGBA"):
        image = image.reduce(factor)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("RGB" if image.mode in ("P", "CMYK", "YCbCr", "HSV", "LAB") else "L")


def _bit_depth(image: Image.Image, values: np.ndarray) -> int:
    """Significant bits of a 16- or 32-bit grey image: the PNG ``sBIT`` chunk, else the largest value's bit length.

    DICOM exports often store 12-bit X-rays (0-4095) in 16-bit PNGs; scaling them
    as if they used all 16 bits would leave them nearly black, and a brightness
    difference between sources is exactly the shortcut this book warns about.
    8-bit values in a 16-bit file stay as they are.
    """
    declared = image.info.get("sbit")  # Pillow keeps sBIT as bytes where the plugin reads it
    if isinstance(declared, (bytes, bytearray)) and declared and 8 <= declared[0] <= 16:
        return int(declared[0])
    return max(8, int(values.max(initial=0)).bit_length())


def _reduction(size: tuple[int, int], image_size: int) -> int:
    """Integer factor to shrink a very large image by before converting it (1: leave as is)."""
    if size[0] * size[1] <= LARGE_IMAGE_PIXELS:
        return 1
    return max(1, min(size) // (2 * image_size))


def _too_large(pixels: int | None) -> ValueError:
    limit = Image.MAX_IMAGE_PIXELS
    shown = f"{pixels:,} pixels" if pixels else "too many pixels"
    return ValueError(
        f"image too large: {shown}, above the limit of {limit:,} pixels "
        "(PIL.Image.MAX_IMAGE_PIXELS, a guard against decompression bombs)"
    )


def _check_pixels(image: Image.Image) -> None:
    """Refuse, before decoding, images above ``Image.MAX_IMAGE_PIXELS`` (after a JPEG's draft)."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and image.width * image.height > limit:
        raise _too_large(image.width * image.height)


def decode_image(source, image_size: int, channels: int) -> np.ndarray:
    """Read one image (a path or the file's bytes) into ``uint8`` ``(image_size, image_size, channels)``.

    Raises ``OSError`` or ``ValueError`` with a short reason for files that are
    empty, truncated, unreadable, too large or not images.
    """
    raw = _read_file(Path(source)) if isinstance(source, (str, Path)) else source
    if len(raw) == 0:
        raise ValueError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.draft("RGB" if channels == 3 else "L", (image_size, image_size))
            _check_pixels(image)
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # EXIF "rotate 90" and the like
            image = _to_8bit(image, _reduction(image.size, image_size)).convert("L" if channels == 1 else "RGB")
    except UnidentifiedImageError as exc:
        raise ValueError("not an image Pillow can read") from exc
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(int(found.group(1)) if found else None) from exc
    except (OSError, SyntaxError, EOFError) as exc:  # Pillow's plugins raise all three for damaged files
        raise OSError(f"broken image ({exc})") from exc
    if image.size != (image_size, image_size):
        image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array.reshape(image_size, image_size, channels)


def _read_file(path: Path) -> bytes:
    """The file's bytes; refused before reading when it is larger than any X-ray (a sparse or runaway file)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"file too large to be an X-ray ({size / 2**30:.1f} GiB > {MAX_FILE_BYTES // 2**20} MiB)")
        return path.read_bytes()
    except PermissionError as exc:
        raise OSError("permission denied") from exc


def _cache_key(index: DatasetIndex, image_size: int, channels: int) -> str:
    """Identity of the decoded array: loader version, shape, and each file's name, label, size and time."""
    digest = hashlib.sha256(f"v{LOADER_VERSION}|{image_size}|{channels}".encode())
    digest.update("|".join(index.class_names).encode())
    for path, label in zip(index.files, index.labels.tolist()):
        try:
            stat = path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:  # gone or unreadable since it was listed: decoding will say so
            size, mtime = -1, -1
        digest.update(_name_bytes(f"{path.relative_to(index.root)}|{label}|{size}|{mtime};"))
    return digest.hexdigest()[:24]


def _check_unreadable(index: DatasetIndex, skipped: dict[int, str], limit: float) -> None:
    """:class:`DataError` naming the folder and the first unreadable files when a class has too many."""
    total = np.bincount(index.labels, minlength=len(index.class_names))
    for label in range(len(index.class_names)):
        bad = [i for i in sorted(skipped) if index.labels[i] == label]
        if total[label] == 0 or not bad:
            continue  # a class absent from a held-out set, or one with no unreadable file
        folder = index.files[int(np.flatnonzero(index.labels == label)[0])].parent
        shown = "; ".join(f"{index.files[i].name}: {skipped[i]}" for i in bad[:SHOWN_FILES])
        more = f"; and {len(bad) - SHOWN_FILES} more" if len(bad) > SHOWN_FILES else ""
        if len(bad) == total[label]:
            raise DataError(f"No readable image in class folder '{folder}' ({shown}{more}).")
        if len(bad) > limit * total[label]:
            raise DataError(
                f"{len(bad)} of {total[label]} images in '{folder}' are unreadable (more than {limit:.0%}): "
                f"{shown}{more}. The download looks incomplete or corrupt: re-download it or remove these files."
            )


def _decode_all(index, image_size, channels, workers, progress):
    """Decode every file into one preallocated array, in index order.

    Each worker writes its own row, so no list of per-image arrays doubles the
    memory; ``thread_map`` keeps the results in input order and draws the bar.
    """
    images = np.empty((len(index), image_size, image_size, channels), dtype=np.uint8)

    def decode_into(i: int):
        try:
            raw = _read_file(index.files[i])
            images[i] = decode_image(raw, image_size, channels)
            return None, hashlib.sha256(raw).hexdigest()
        except (OSError, ValueError) as exc:
            return str(exc) or type(exc).__name__, None

    results = thread_map(
        decode_into,
        range(len(index)),
        max_workers=workers or os.cpu_count() or 1,
        tqdm_class=tqdm,
        disable=not (sys.stderr.isatty() if progress is None else progress),
        desc="decoding",
        unit="img",
        leave=False,
    )
    reasons = {i: reason for i, (reason, _) in enumerate(results) if reason is not None}
    digests = {i: digest for i, (_, digest) in enumerate(results) if digest is not None}
    return images, reasons, digests


def _cache_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    folder = cache_dir / "arrays"
    return folder / f"{key}.npy", folder / f"{key}.json"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _read_cache(array_path: Path, meta_path: Path, key: str):
    """The cached (images, meta), or None when absent, stale, corrupt or unreadable."""
    try:
        if not (array_path.is_file() and meta_path.is_file()):
            return None
        meta = json.loads(meta_path.read_text())
        images = np.load(array_path, allow_pickle=False)
    except OSError as exc:
        _warn(f"cannot read the image cache {array_path} ({exc.strerror or exc}); decoding without it.")
        return None
    except (ValueError, EOFError) as exc:
        print(f"Ignoring corrupt cache {array_path.name}: {exc}; rebuilding.", file=sys.stderr)
        return None
    if (
        not isinstance(meta, dict)
        or not {"kept", "skipped", "digests"} <= set(meta)
        or meta.get("key") != key
        or list(images.shape) != meta.get("shape")
        or images.dtype != np.uint8
        or len(meta["digests"]) != len(images)
    ):
        print(f"Ignoring stale cache {array_path.name}; rebuilding.", file=sys.stderr)
        return None
    return images, meta


def _write_cache(array_path: Path, meta_path: Path, images: np.ndarray, meta: dict) -> None:
    """Write the cache atomically; any failure (read-only, full disk) is a warning and leaves no partial file."""
    try:
        with atomic_path(array_path) as tmp_array, open(tmp_array, "wb") as handle:
            np.save(handle, images, allow_pickle=False)
        atomic_write(meta_path, json.dumps(meta))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        _warn(f"could not write the image cache in '{array_path.parent}' ({reason}); continuing without it.")


def _decode_index(index: DatasetIndex, image_size: int, channels: int, workers, progress):
    """Decode ``index``: (images of the readable files, kept indices, {index: reason}, digests)."""
    images, reasons, found = _decode_all(index, image_size, channels, workers, progress)
    keep = np.asarray(sorted(found), dtype=np.int64)
    check_no_cross_class_copies(
        exact_pairs_frame(
            [str(index.files[i]) for i in keep], index.labels[keep], index.class_names, [found[i] for i in keep]
        )
    )
    return (images[keep] if reasons else images), keep, reasons, tuple(found[i] for i in keep)


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
    ``channels``: a second call on unchanged files reads one ``.npy`` file. A
    cache that cannot be read or written is a warning, never an error.
    Unreadable files are skipped and listed in ``ImageSet.skipped``; if more than
    ``max_unreadable_fraction`` of a class is unreadable, :class:`DataError` names
    the folder and the first such files with their reasons.
    """
    from ..config import validate_image_shape

    validate_image_shape(image_size, channels)
    cached = None
    if use_cache:
        key = _cache_key(index, image_size, channels)
        array_path, meta_path = _cache_paths(Path(cache_dir or default_cache_dir()), key)
        cached = _read_cache(array_path, meta_path, key)
    relative = index.relative_files()
    if cached is not None:
        images, meta = cached
        keep = np.asarray(meta["kept"], dtype=np.int64)
        dropped = np.setdiff1d(np.arange(len(index)), keep).tolist()
        reasons = {i: s["reason"] for i, s in zip(dropped, meta["skipped"])}
        digests = tuple(meta["digests"])
    else:
        images, keep, reasons, digests = _decode_index(index, image_size, channels, workers, progress)
        if use_cache:
            skipped = [{"file": relative[i], "reason": reasons[i]} for i in sorted(reasons)]
            meta = {"key": key, "shape": list(images.shape), "kept": keep.tolist(), "skipped": skipped}
            _write_cache(array_path, meta_path, images, {**meta, "digests": list(digests)})
    if reasons:
        _check_unreadable(index, reasons, max_unreadable_fraction)
    return ImageSet(
        images=images,
        labels=index.labels[keep].copy(),
        class_names=index.class_names,
        files=tuple(relative[i] for i in keep),
        root=index.root,
        synthetic=index.synthetic,
        release=index.release,
        skipped=[SkippedFile(relative[i], reasons[i]) for i in sorted(reasons)],
        from_cache=cached is not None,
        digests=digests,
        data_subset=index.data_subset,
        subset_reason=index.subset_reason,
    )
