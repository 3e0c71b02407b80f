"""Train/validation/test splits: the study's, and a corrected one.

* ``study``: stratified 80/20 with ``random_state=1987``, exactly as the
  original notebook (``train_test_split(X, y_onehot, stratify=y_onehot, ...)``).
  The 20 % test part is *also* the validation set that steers the learning-rate
  schedule: the flaw is reproduced on purpose.
* ``corrected``: the same 20 % test part (so both protocols are scored on the
  same images), with a stratified 1/8 of the remaining 80 % held out as
  validation (70/10/20 overall). Only the validation part steers training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ..errors import ConfigError

STUDY_SEED = 1987
PROTOCOLS = ("study", "corrected")


@dataclass(frozen=True)
class Split:
    """Index arrays into an :class:`ImageSet`; ``val`` is ``test`` for the study protocol."""

    protocol: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int

    @property
    def val_is_test(self) -> bool:
        return self.protocol == "study"

    def sizes(self) -> dict[str, int]:
        """Images per part; the study's validation part is its test part."""
        return {"train": len(self.train), "validation": len(self.val), "test": len(self.test)}

    def membership(self, files, labels, class_names) -> pd.DataFrame:
        """One row per image: file, class, subset, and whether it steered training."""
        subset = np.full(len(files), "", dtype=object)
        subset[self.train] = "train"
        subset[self.val] = "validation"
        subset[self.test] = "test"
        frame = pd.DataFrame(
            {
                "file": list(files),
                "class": [class_names[i] for i in np.asarray(labels)],
                "subset": subset,
                "used_for_validation": np.isin(np.arange(len(files)), self.val),
            }
        )
        return frame[frame["subset"] != ""].reset_index(drop=True)

    def save(self, path: str | Path, files, labels, class_names) -> Path:
        """Write :meth:`membership` as CSV (file names only, no pixels)."""
        path = Path(path)
        self.membership(files, labels, class_names).to_csv(path, index=False)
        return path


def _stratify_on(labels: np.ndarray) -> np.ndarray:
    # The original stratified on a one-hot DataFrame; doing the same keeps the
    # random stream, and so the membership, identical to its procedure.
    return np.eye(int(labels.max()) + 1, dtype=np.uint8)[labels]


def study_split(labels, seed: int = STUDY_SEED, test_size: float = 0.2) -> Split:
    """The original 80/20 stratified split; validation = test."""
    labels = np.asarray(labels)
    train, test = train_test_split(
        np.arange(len(labels)), test_size=test_size, random_state=seed, stratify=_stratify_on(labels)
    )
    return Split("study", np.sort(train), np.sort(test), np.sort(test), seed)


def corrected_split(labels, seed: int = STUDY_SEED, test_size: float = 0.2, val_size: float = 0.1) -> Split:
    """Stratified train/validation/test (70/10/20 by default) sharing the study's test part."""
    labels = np.asarray(labels)
    base = study_split(labels, seed, test_size)
    train, val = train_test_split(
        base.train,
        test_size=val_size / (1 - test_size),
        random_state=seed,
        stratify=_stratify_on(labels)[base.train],
    )
    return Split("corrected", np.sort(train), np.sort(val), base.test, seed)


def make_split(protocol: str, labels, seed: int = STUDY_SEED) -> Split:
    """The split of the named protocol (``"study"`` or ``"corrected"``)."""
    if protocol == "study":
        return study_split(labels, seed)
    if protocol == "corrected":
        return corrected_split(labels, seed)
    raise ConfigError(f"protocol={protocol!r} is not known; allowed: {', '.join(PROTOCOLS)}")
