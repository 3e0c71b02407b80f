"""Exact and near-duplicate images, and pairs that cross a split.

Exact duplicates are files with the same bytes (SHA-256). Near duplicates are
images whose perceptual hashes (``imagehash.phash``, 64 bits, computed on the
decoded arrays) differ in at most ``max_distance`` bits: re-encoded,
re-scaled or slightly re-windowed copies of one radiograph. A duplicate pair
split between training and test makes the test score optimistic.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from ..errors import DataError


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """64-bit pHash of each image of a ``(N, S, S, C)`` uint8 array, as ``uint64`` ``(N,)``."""
    out = np.empty(len(images), dtype=np.uint64)
    for i, image in enumerate(images):
        bits = imagehash.phash(Image.fromarray(image[..., 0])).hash.ravel()
        out[i] = np.packbits(bits).view(">u8")[0]
    return out


def hamming_pairs(hashes: np.ndarray, max_distance: int, chunk: int = 512) -> np.ndarray:
    """Pairs ``(i, j, distance)`` with ``i < j`` and hash distance ``<= max_distance``, grown linearly.

    Images with equal hashes form a group, reported as a star: each member
    paired with the group's first. Near pairs are searched between distinct
    hashes and reported between the groups' first members. So 3,000 copies of
    one image give 2,999 pairs, not 4.5 million, and time and memory grow with
    the number of distinct hashes.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    if not len(hashes):
        return np.empty((0, 3), dtype=np.int64)
    distinct, first, group = np.unique(hashes, return_index=True, return_inverse=True)
    members = np.arange(len(hashes))
    same = members != first[group]
    found = [np.stack([first[group[same]], members[same], np.zeros(int(same.sum()), dtype=np.int64)], 1)]
    for start in range(0, len(distinct), chunk):
        distance = np.bitwise_count(distinct[start : start + chunk, None] ^ distinct[None, :])
        rows, cols = np.nonzero(distance <= max_distance)
        keep = rows + start < cols
        a, b = first[rows[keep] + start], first[cols[keep]]
        found.append(np.stack([np.minimum(a, b), np.maximum(a, b), distance[rows[keep], cols[keep]]], 1))
    pairs = np.concatenate(found).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def exact_duplicate_pairs(digests) -> list[tuple[int, int]]:
    """Index pairs with identical content digests (e.g. ``ImageSet.digests``)."""
    first_seen: dict[str, int] = {}
    pairs = []
    for i, digest in enumerate(digests):
        if digest in first_seen:
            pairs.append((first_seen[digest], i))
        else:
            first_seen[digest] = i
    return pairs


_COLUMNS = ["file_a", "file_b", "class_a", "class_b", "kind", "distance"]


def _pairs_frame(rows, files, labels, class_names) -> pd.DataFrame:
    """``(i, j, distance, kind)`` rows as a table of file names and class names."""
    return pd.DataFrame(
        {
            "file_a": [files[i] for i, *_ in rows],
            "file_b": [files[j] for _, j, *_ in rows],
            "class_a": [class_names[labels[i]] for i, *_ in rows],
            "class_b": [class_names[labels[j]] for _, j, *_ in rows],
            "kind": [k for *_, k in rows],
            "distance": [d for _, _, d, _ in rows],
        },
        columns=_COLUMNS,
    )


def exact_pairs_frame(files, labels, class_names, digests) -> pd.DataFrame:
    """Exact copies (same digest) as a :func:`find_duplicates`-style table.

    ``load_images`` passes it to :func:`check_no_cross_class_copies`, the one
    implementation of the cross-class check.
    """
    return _pairs_frame([(i, j, 0, "exact") for i, j in exact_duplicate_pairs(digests)], files, labels, class_names)


def find_duplicates(imageset, split=None, max_distance: int = 2) -> pd.DataFrame:
    """All exact and near-duplicate pairs of an :class:`ImageSet`.

    Columns: ``file_a, file_b, class_a, class_b, kind`` (``"exact"`` or
    ``"near"``), ``distance`` (pHash bits), and with a ``split``
    ``subset_a, subset_b, crosses_split``.
    """
    digests = imageset.digests or [file_digest(imageset.root / f) for f in imageset.files]
    exact = set(exact_duplicate_pairs(digests))
    rows = [(i, j, 0, "exact") for i, j in sorted(exact)]
    for i, j, d in hamming_pairs(perceptual_hashes(imageset.images), max_distance).tolist():
        if (i, j) not in exact:
            rows.append((i, j, d, "near"))
    frame = _pairs_frame(rows, imageset.files, imageset.labels, imageset.class_names)
    if split is not None:
        subset = np.full(len(imageset), "-", dtype=object)
        subset[split.train], subset[split.val], subset[split.test] = "train", "validation", "test"
        frame["subset_a"] = [subset[i] for i, *_ in rows]
        frame["subset_b"] = [subset[j] for _, j, *_ in rows]
        frame["crosses_split"] = frame["subset_a"] != frame["subset_b"]
    return frame


def check_no_cross_class_copies(duplicates: pd.DataFrame) -> None:
    """Raise :class:`DataError` if the same file (exact copy) carries two labels."""
    clash = duplicates[(duplicates["kind"] == "exact") & (duplicates["class_a"] != duplicates["class_b"])]
    if len(clash):
        row = clash.iloc[0]
        raise DataError(
            f"The same image is filed under two classes: '{row.file_a}' ({row.class_a}) and "
            f"'{row.file_b}' ({row.class_b}); {len(clash)} such pair(s) in all. Remove one copy."
        )
