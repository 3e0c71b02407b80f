"""Train/validation/test splits for the three protocols.

All three are scored on the same test part: the study's stratified 20 %
(``random_state=1987``, exactly as the original notebook's
``train_test_split(X, y_onehot, stratify=y_onehot, ...)``).

* ``study``: the other 80 % trains, and the test part is *also* the validation
  data that steers the learning-rate schedule: the flaw, reproduced on purpose.
* ``test_steered``: a stratified 1/8 of the study's training part is set aside
  unused (70/10/20 overall); the remaining 70 % trains, and the test part steers.
* ``corrected``: the same 70 % trains, and the 10 % validation part steers;
  nothing touches the test part until it is scored once.

``test_steered`` and ``corrected`` train on the same images with the same
recipe and seed: they differ *only* in which images steer the schedule, so the
difference of their test scores measures the leak and nothing else. ``study``
against ``test_steered`` measures what 10 % more training images buy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ..config import PROTOCOLS, STUDY_SEED
from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class Split:
    """Index arrays into an :class:`ImageSet`.

    ``val`` steers training: it *is* ``test`` under ``study`` and ``test_steered``.
    ``unused`` holds images no part uses (``test_steered``'s set-aside 10 %).
    """

    protocol: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int
    unused: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))

    @property
    def val_is_test(self) -> bool:
        return np.array_equal(self.val, self.test)

    def sizes(self) -> dict[str, int]:
        """Images per part; where the test part steers, validation counts it again."""
        return {"train": len(self.train), "validation": len(self.val), "test": len(self.test)}

    def membership(self, files, labels, class_names) -> pd.DataFrame:
        """One row per image: file, class, subset, and whether it steered training."""
        subset = np.full(len(files), "", dtype=object)
        subset[self.unused] = "unused"
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


def _split(indices: np.ndarray, labels: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's stratified split, its refusal (a class too small) said in this package's words."""
    try:
        return train_test_split(indices, test_size=test_size, random_state=seed, stratify=_stratify_on(labels)[indices])
    except ValueError:
        sizes = np.bincount(labels, minlength=int(labels.max()) + 1).tolist()
        raise DataError(
            f"cannot split {len(labels)} images stratified by class: class sizes {sizes} (in label order) "
            "leave too few images of the smallest class for every part of the split; add images of that class"
        ) from None


def study_split(labels, seed: int = STUDY_SEED, test_size: float = 0.2) -> Split:
    """The original 80/20 stratified split; validation = test."""
    labels = np.asarray(labels)
    train, test = _split(np.arange(len(labels)), labels, test_size, seed)
    return Split("study", np.sort(train), np.sort(test), np.sort(test), seed)


def corrected_split(labels, seed: int = STUDY_SEED, test_size: float = 0.2, val_size: float = 0.1) -> Split:
    """Stratified train/validation/test (70/10/20 by default) sharing the study's test part."""
    labels = np.asarray(labels)
    base = study_split(labels, seed, test_size)
    train, val = _split(base.train, labels, val_size / (1 - test_size), seed)
    return Split("corrected", np.sort(train), np.sort(val), base.test, seed)


def steered_split(labels, seed: int = STUDY_SEED) -> Split:
    """The corrected split's training part, steered by the test part (its validation part unused)."""
    corrected = corrected_split(labels, seed)
    return Split("test_steered", corrected.train, corrected.test, corrected.test, seed, unused=corrected.val)


_SPLITS = {"study": study_split, "test_steered": steered_split, "corrected": corrected_split}


def make_split(protocol: str, labels, seed: int = STUDY_SEED) -> Split:
    """The split of the named protocol (one of :data:`xray_utils.config.PROTOCOLS`)."""
    if protocol not in _SPLITS:
        raise ConfigError(f"protocol={protocol!r} is not known; allowed: {', '.join(PROTOCOLS)}")
    return _SPLITS[protocol](labels, seed)
