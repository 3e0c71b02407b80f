"""What the raw files are: format, pixel mode and size, read from headers only."""

from __future__ import annotations

import pandas as pd
from PIL import Image

from .layout import DatasetIndex


def survey_files(index: DatasetIndex) -> pd.DataFrame:
    """Count files by class, format, mode (``L`` = 8-bit gray, ``RGB``...) and size in pixels.

    Only image headers are read (Pillow opens lazily), so this is fast even on
    the full dataset. Unreadable files appear with format ``unreadable``.
    """
    rows = []
    for path, label in zip(index.files, index.labels.tolist()):
        try:
            with Image.open(path) as image:
                rows.append((index.class_names[label], image.format, image.mode, f"{image.width}x{image.height}"))
        except (OSError, ValueError):
            rows.append((index.class_names[label], "unreadable", "-", "-"))
    frame = pd.DataFrame(rows, columns=["class", "format", "mode", "size (px)"])
    return frame.value_counts().rename("files").reset_index().sort_values(["class", "files"], ascending=[True, False])
