"""Fetch the COVID-19 Radiography Database from Kaggle with ``kagglehub``."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DownloadError
from ..paths import default_data_dir

KAGGLE_HANDLE = "tawsifurrahman/covid19-radiography-database"
KAGGLE_URL = f"https://www.kaggle.com/datasets/{KAGGLE_HANDLE}"


def download(data_dir: str | Path | None = None) -> Path:
    """Download the dataset (about 800 MB) and link it into ``data_dir``; return ``data_dir``.

    ``kagglehub`` keeps the files in its own cache (``~/.cache/kagglehub``);
    ``data_dir`` (default ``$XRAY_DATA_DIR`` or ``./data``) gets a link to them,
    so :func:`find_dataset` finds them. Public datasets need no Kaggle account.
    Raises :class:`DownloadError` with instructions when the download fails.
    """
    target = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    try:
        import kagglehub

        fetched = Path(kagglehub.dataset_download(KAGGLE_HANDLE))
    except Exception as exc:  # kagglehub raises many types; all mean the same to a user
        raise DownloadError(
            f"Could not download the COVID-19 Radiography Database ({type(exc).__name__}: {exc}). "
            f"Download it by hand from {KAGGLE_URL}, unzip it into '{target}' "
            "(or anywhere, then set XRAY_DATA_DIR to that folder), and run again."
        ) from exc
    target.mkdir(parents=True, exist_ok=True)
    link = target / "kaggle-download"
    if not link.exists():
        os.symlink(fetched, link, target_is_directory=True)
    return target
