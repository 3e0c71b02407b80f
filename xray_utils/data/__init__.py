"""Finding, loading, splitting and checking the chest X-ray images.

Typical use::

    from xray_utils import data
    index = data.resolve_dataset()           # real data if found, else the synthetic stand-in
    images = data.load_images(index, image_size=192, channels=3)
    split = data.study_split(images.labels)
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import DataError, DownloadError
from ..paths import DATA_ENV
from .download import KAGGLE_HANDLE, download
from .duplicates import check_no_cross_class_copies, find_duplicates, perceptual_hashes
from .layout import CLASS_NAMES, DatasetIndex, canonical_class, find_dataset
from .loading import ImageSet, SkippedFile, data_fingerprint, decode_image, load_images
from .releases import DATA_SUBSETS, age_summary, provenance_table, select_subset, shift_set
from .splits import PROTOCOLS, STUDY_SEED, Split, corrected_split, make_split, steered_split, study_split
from .survey import survey_files
from .synthetic import default_synthetic_dir, make_synthetic_dataset

SYNTHETIC = "synthetic"
SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: no real chest X-rays were found, so this ran on a generated stand-in. "
    "Its numbers are not medical results. Set XRAY_DATA_DIR to the COVID-19 Radiography "
    "Database to reproduce the study."
)

__all__ = [
    "CLASS_NAMES",
    "DATA_SUBSETS",
    "KAGGLE_HANDLE",
    "PROTOCOLS",
    "STUDY_SEED",
    "SYNTHETIC",
    "SYNTHETIC_BANNER",
    "DataError",
    "DatasetIndex",
    "DownloadError",
    "ImageSet",
    "SkippedFile",
    "Split",
    "age_summary",
    "canonical_class",
    "check_no_cross_class_copies",
    "corrected_split",
    "data_fingerprint",
    "decode_image",
    "download",
    "find_dataset",
    "find_duplicates",
    "load_images",
    "make_split",
    "make_synthetic_dataset",
    "perceptual_hashes",
    "provenance_table",
    "resolve_dataset",
    "select_subset",
    "shift_set",
    "study_split",
    "survey_files",
    "steered_split",
]


def resolve_dataset(
    data_dir: str | Path | None = None,
    *,
    subset: str = "study",
    allow_download: bool = False,
    allow_synthetic: bool = True,
    include_lung_opacity: bool = False,
) -> DatasetIndex:
    """The dataset to use: ``data_dir``, else ``$XRAY_DATA_DIR``, else ``./data``; then its ``subset``.

    ``subset`` (``"study"`` or ``"all"``, see :func:`select_subset`) picks the
    files: on the 2021 release ``study`` keeps the 2020 release's classes.
    ``"synthetic"`` (as argument or environment value) asks for the stand-in.
    When no folder was named and nothing is found, tries :func:`download` if ``allow_download``, then
    falls back to the synthetic stand-in (with a loud warning) if
    ``allow_synthetic``; otherwise raises :class:`DataError`.
    """
    return select_subset(_find(data_dir, allow_download, allow_synthetic, include_lung_opacity), subset)


def _find(data_dir, allow_download, allow_synthetic, include_lung_opacity) -> DatasetIndex:
    requested = str(data_dir) if data_dir is not None else os.environ.get(DATA_ENV, "").strip()
    if requested.lower() == SYNTHETIC:
        return _synthetic_index()
    try:
        return find_dataset(data_dir, include_lung_opacity=include_lung_opacity)
    except DataError as missing:
        if requested:
            raise  # the user named a folder: a typo must not silently become synthetic data
        if allow_download:
            try:
                return find_dataset(download(), include_lung_opacity=include_lung_opacity)
            except DataError as failed:
                print(failed, file=sys.stderr)
        if not allow_synthetic:
            raise
        print(f"{missing}\n{SYNTHETIC_BANNER}", file=sys.stderr)
        return _synthetic_index()


def _synthetic_index() -> DatasetIndex:
    """The stand-in from the cache folder; if that cannot be written (read-only, full), from the temp folder."""
    defaults = {k: p.default for k, p in inspect.signature(make_synthetic_dataset).parameters.items() if k != "root"}
    usual = default_synthetic_dir(**defaults)
    fallback = Path(tempfile.gettempdir()) / f"xray-utils-{os.getuid()}" / usual.name
    try:
        return find_dataset(make_synthetic_dataset(usual))
    except OSError as exc:
        # make_synthetic_dataset draws into "<folder>.tmp<pid>" and renames it: remove what a full disk left
        shutil.rmtree(usual.with_name(f"{usual.name}.tmp{os.getpid()}"), ignore_errors=True)
        print(
            f"warning: cannot write the synthetic stand-in in '{usual.parent}' ({exc.strerror or exc}); "
            f"using '{fallback}' instead.",
            file=sys.stderr,
        )
    try:
        return find_dataset(make_synthetic_dataset(fallback))
    except OSError as exc:
        shutil.rmtree(fallback.with_name(f"{fallback.name}.tmp{os.getpid()}"), ignore_errors=True)
        raise DataError(f"Cannot write the synthetic stand-in in '{fallback.parent}' either ({exc}).") from exc
