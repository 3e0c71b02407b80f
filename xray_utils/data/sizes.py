"""Enough images of every class for a split? Checked before any work is done.

A stratified split needs each class on every side of it: a class with one
image cannot be split at all, and a class of three images leaves the
corrected split's validation part without it (scikit-learn says nothing then).
The checks here draw the split itself with :func:`splits.make_split`, so they
stay right whatever the protocols become, and name the class that is too
small, its count and the smallest count that works.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ConfigError, DataError
from . import splits

MIN_PER_CLASS = 2  # no stratified split can put fewer on both of its sides
_SEARCH_LIMIT = 1000  # larger minimums are not searched for


def split_problem(labels, class_names, protocol: str, seed: int) -> tuple[str, str] | None:
    """``(class name, what goes wrong)`` when the ``protocol`` split cannot serve every class, else None."""
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=len(class_names))
    present = np.flatnonzero(counts)
    smallest = class_names[present[np.argmin(counts[present])]]
    if counts[present].min() < MIN_PER_CLASS:  # the cheap pre-check: no split can serve it
        return smallest, "cannot be stratified"
    try:
        split = splits.make_split(protocol, labels, seed)
    except ConfigError:
        raise
    except (ValueError, DataError):  # too few members, or a part smaller than the number of classes
        return smallest, "cannot be stratified"
    for part, members in (("train", split.train), ("validation", split.val), ("test", split.test)):
        lacking = [c for c in present if not np.any(labels[members] == c)]
        if lacking:
            return class_names[lacking[0]], f"would leave the {part} part without a {class_names[lacking[0]]} image"
    return None


def minimum_per_class(counts, class_names, protocol: str, seed: int) -> int | None:
    """Smallest ``m`` such that every present class raised to ``m`` images makes the split work."""
    counts = np.asarray(counts)
    present = counts > 0
    for m in range(int(counts[present].min()) + 1, _SEARCH_LIMIT):
        sizes = np.where(present, np.maximum(counts, m), 0)
        if split_problem(np.repeat(np.arange(len(counts)), sizes), class_names, protocol, seed) is None:
            return m
    return None


def _needed(counts, class_names, protocol: str, seed: int) -> str:
    m = minimum_per_class(counts, class_names, protocol, seed)
    return f"at least {m}" if m is not None else f"more than {_SEARCH_LIMIT}"


def check_split_sizes(labels, class_names, protocols, seed: int) -> None:
    """Raise :class:`DataError` unless every protocol's split holds every present class in every part.

    The message names the class, its number of images and the minimum needed.
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=len(class_names))
    for protocol in protocols:
        problem = split_problem(labels, class_names, protocol, seed)
        if problem is not None:
            name, what = problem
            raise DataError(
                f"Too few images for the '{protocol}' split: class {name} has "
                f"{counts[list(class_names).index(name)]} image(s), which {what}; "
                f"each class needs {_needed(counts, class_names, protocol, seed)} here. "
                "Add images or raise per_class."
            )


@lru_cache(maxsize=64)
def check_per_class(per_class: int, protocol: str, seed: int, classes: int = 3) -> None:
    """Raise :class:`ConfigError` when ``per_class`` images of each class cannot fill the ``protocol`` split.

    Cheap (cached, and drawn on label arrays only): the best case, every class
    with ``per_class`` images, must work; the data may still have fewer.
    """
    names = tuple(f"class {i}" for i in range(classes))
    counts = np.full(classes, per_class)
    if split_problem(np.repeat(np.arange(classes), per_class), names, protocol, seed) is not None:
        raise ConfigError(
            f"per_class={per_class} is too small for the '{protocol}' split: "
            f"each class needs {_needed(counts, names, protocol, seed)} images"
        )
