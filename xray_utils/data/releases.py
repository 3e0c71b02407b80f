"""Which files of each public release are the study's, and where every file comes from.

The original study used the spring-2020 release of the COVID-19 Radiography
Database (1,200 COVID, 1,341 normal, 1,345 viral pneumonia images). Kaggle now
serves the 2021 release, which holds those classes *and* 2021 additions from
other hospitals and age groups. File numbers tell them apart (checked by
matching images; the release's own ``Normal.metadata.xlsx`` is wrong about the
normals):

==========================================  =====================================  ==========
2021 file names                             what they are                          the study's?
==========================================  =====================================  ==========
``Normal-63`` … ``Normal-1403``             Kermany pediatric normals (Guangzhou)  yes, all
other ``Normal-<n>``                        RSNA challenge normals (adults, US)    no
``Viral Pneumonia-<n>``                     Kermany pediatric viral pneumonia      yes, all
``COVID-1`` … ``COVID-1900``                the 2020 COVID sources, some BIMCV     1,200 of them
``COVID-1901`` …                            mostly BIMCV-COVID19+ (Valencia)       no
``Lung_Opacity-<n>``                        RSNA lung opacity (adults)             no
==========================================  =====================================  ==========

Which 1,200 of ``COVID-1…1900`` formed the 2020 class cannot be told from the
names, so ``study`` draws 1,200 of them with a fixed seed (all of them when
fewer are present). The files the study subset leaves out (adult normals,
later-release COVID) make a distribution-shift set from the same download.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import DATA_SUBSETS, STUDY_SEED
from ..errors import DataError
from .layout import DatasetIndex

SUBSET_SEED = STUDY_SEED  # fixed, not the training seed: the data stays the same when the seed varies
STUDY_COVID_COUNT = 1200
PEDIATRIC_NORMALS = range(63, 1404)  # Normal-63 … Normal-1403
EARLY_COVID = range(1, 1901)  # COVID-1 … COVID-1900
SHIFT_PER_CLASS = 300


@dataclass(frozen=True)
class Source:
    """Where an image comes from: collection, place, and the patients' age group."""

    source: str
    hospital: str
    age_group: str


_KERMANY = "Kermany et al. 2018 (pediatric)"
_GUANGZHOU = "Guangzhou Women and Children's Medical Center (one hospital)"
_CHILDREN = "children (1-5 years)"
_ADULTS = "adults"
_EARLY_COVID = Source(
    "2020 COVID sources (SIRM, Hannover, Eurorad, COVID-CXNet, Cohen collection; some BIMCV)",
    "many hospitals and publications",
    _ADULTS,
)
_BIMCV = Source("BIMCV-COVID19+ (2021 addition)", "Valencia region hospitals (Spain)", _ADULTS)
_RSNA_NORMAL = Source("RSNA Pneumonia Detection Challenge (2021 addition)", "NIH clinical center (US)", _ADULTS)
_RSNA_OPACITY = Source("RSNA Pneumonia Detection Challenge", "NIH clinical center (US)", _ADULTS)
_PEDIATRIC_NORMAL = Source(_KERMANY, _GUANGZHOU, _CHILDREN)
_PEDIATRIC_VIRAL = Source(_KERMANY, _GUANGZHOU, _CHILDREN)
_SYNTHETIC = {
    "COVID": Source("synthetic stand-in (drawn)", "none", "drawn adult-sized"),
    "Normal": Source("synthetic stand-in (drawn)", "none", "drawn child-sized"),
    "Viral Pneumonia": Source("synthetic stand-in (drawn)", "none", "drawn child-sized"),
}
_UNKNOWN = Source("unknown (file name not in the release's pattern)", "unknown", "unknown")

_NUMBERED = re.compile(r"^(?P<tag>.+?)[-_ ]\(?(?P<number>\d+)\)?$")


def file_number(path) -> int | None:
    """The ``n`` of ``<Class>-<n>.png`` (2021) or ``<Class> (<n>).png`` (2020), else None."""
    match = _NUMBERED.match(Path(path).stem)
    return int(match.group("number")) if match else None


def source_of(class_name: str, number: int | None, release: str) -> Source:
    """The :class:`Source` of file ``number`` of ``class_name`` in ``release`` ("2020", "2021", "synthetic")."""
    if release == "synthetic":
        return _SYNTHETIC.get(class_name, _UNKNOWN)
    if class_name == "Viral Pneumonia":
        return _PEDIATRIC_VIRAL
    if class_name == "Lung_Opacity":
        return _RSNA_OPACITY
    if release == "2020":
        return _EARLY_COVID if class_name == "COVID" else _PEDIATRIC_NORMAL
    if number is None:
        return _UNKNOWN
    if class_name == "Normal":
        return _PEDIATRIC_NORMAL if number in PEDIATRIC_NORMALS else _RSNA_NORMAL
    return _EARLY_COVID if number in EARLY_COVID else _BIMCV


def provenance_table(index) -> pd.DataFrame:
    """Images per class and source: columns class, source, hospital, age group, images.

    ``index``: a :class:`DatasetIndex` or an ``ImageSet`` (anything with
    ``files``, ``labels``, ``class_names`` and ``release``).
    """
    rows = [
        (
            index.class_names[label],
            *vars(source_of(index.class_names[label], file_number(path), index.release)).values(),
        )
        for path, label in zip(index.files, index.labels.tolist())
    ]
    frame = pd.DataFrame(rows, columns=["class", "source", "hospital", "age group"])
    counted = frame.value_counts(sort=False).rename("images").reset_index()
    order = {name: i for i, name in enumerate(index.class_names)}
    return counted.sort_values(
        ["class", "images"], key=lambda c: c.map(order) if c.name == "class" else -c, ignore_index=True
    )


def age_summary(table: pd.DataFrame) -> str:
    """One line per class: the share of each age group, from :func:`provenance_table`."""
    lines = []
    for name, group in table.groupby("class", sort=False):
        total = group["images"].sum()
        shares = group.groupby("age group", sort=False)["images"].sum().sort_values(ascending=False)
        lines.append(f"{name}: " + ", ".join(f"{n / total:.0%} {age}" for age, n in shares.items()))
    return "\n".join(lines)


def _keep(index: DatasetIndex, keep: list[int], subset: str, reason: str, notes=()) -> DatasetIndex:
    keep = sorted(keep)
    return replace(
        index,
        files=tuple(index.files[i] for i in keep),
        labels=index.labels[keep].copy(),
        data_subset=subset,
        subset_reason=reason,
        notes=index.notes + tuple(notes),
    )


def _study_2021(index: DatasetIndex) -> DatasetIndex:
    numbers = [file_number(p) for p in index.files]
    keep, notes, covid = [], [], "no COVID files"
    rng = np.random.default_rng(SUBSET_SEED)
    for label, name in enumerate(index.class_names):
        members = np.flatnonzero(index.labels == label)
        if name == "Viral Pneumonia":
            keep += members.tolist()
            continue
        wanted = {"Normal": PEDIATRIC_NORMALS, "COVID": EARLY_COVID}.get(name)
        if wanted is None:  # Lung_Opacity, asked for explicitly: not the study's, kept as asked
            keep += members.tolist()
            continue
        chosen = [i for i in members if numbers[i] is not None and numbers[i] in wanted]
        unnamed = sum(numbers[i] is None for i in members)
        if unnamed:
            notes.append(
                f"{unnamed} {name} file(s) are not named '{name}-<n>' as in the 2021 release; "
                "left out of the study subset (data_subset=all keeps them)."
            )
        if not chosen and len(members):
            folder = index.files[members[0]].parent
            raise DataError(
                f"data_subset=study: none of the {len(members)} files in '{folder}' is one of the study's "
                f"{name}-{wanted.start}...{wanted.stop - 1}. Is this the 2021 Kaggle release? "
                "Use data_subset=all to train on every file."
            )
        if name == "COVID":
            covid = (
                f"{STUDY_COVID_COUNT} COVID files drawn (seed {SUBSET_SEED}) from the {len(chosen)} in COVID-1...1900"
                if len(chosen) > STUDY_COVID_COUNT
                else f"all {len(chosen)} COVID files found in COVID-1...1900 (the study had {STUDY_COVID_COUNT})"
            )
            if len(chosen) > STUDY_COVID_COUNT:
                chosen = sorted(rng.choice(chosen, STUDY_COVID_COUNT, replace=False).tolist())
        keep += chosen
    reason = (
        "the 2020 release's classes inside the 2021 release: pediatric normals (Normal-63...1403), every "
        f"Viral Pneumonia file, and {covid}"
    )
    return _keep(index, keep, "study", reason, notes)


def select_subset(index: DatasetIndex, subset: str = "study") -> DatasetIndex:
    """The files of ``index`` that ``subset`` ("study" or "all") trains on; says which and why.

    ``study`` on the 2021 release keeps the 2020 release's classes (see the module
    docstring); on the 2020 release and the synthetic stand-in every file is
    already the study's. ``all`` keeps every file of the chosen classes.
    """
    if subset not in DATA_SUBSETS:
        raise DataError(f"data_subset={subset!r} is not known; allowed: {', '.join(DATA_SUBSETS)}")
    if subset == "all":
        return _keep(
            index, list(range(len(index))), "all", f"every file of the {index.release} release's classes, as found"
        )
    if index.release == "2021":
        return _study_2021(index)
    why = {
        "2020": "the 2020 release is the study's data: every file",
        "synthetic": "the synthetic stand-in: every file",
    }.get(index.release, "every file")
    return _keep(index, list(range(len(index))), "study", why)


def shift_set(
    full: DatasetIndex, used: DatasetIndex, per_class: int = SHIFT_PER_CLASS, seed: int = SUBSET_SEED
) -> DatasetIndex | None:
    """A held-out set from the same 2021 download: adult normals and later-release COVID.

    Draws (seeded) up to ``per_class`` RSNA adult ``Normal`` files and
    ``COVID-1901…`` files that ``used`` (the training subset) does not contain.
    Returns None unless ``full`` is the 2021 release and ``used`` its study
    subset (under ``all`` these files are training data). Labels keep
    ``full.class_names`` so they line up with the models' outputs.
    """
    if full.release != "2021" or used.data_subset != "study":
        return None
    taken = set(used.files)
    rng = np.random.default_rng(seed)
    keep = []
    for name, foreign in (("COVID", lambda n: n not in EARLY_COVID), ("Normal", lambda n: n not in PEDIATRIC_NORMALS)):
        label = full.class_names.index(name)
        pool = [
            i
            for i in np.flatnonzero(full.labels == label)
            if full.files[i] not in taken and (n := file_number(full.files[i])) is not None and foreign(n)
        ]
        if not pool:
            return None
        keep += rng.choice(pool, min(per_class, len(pool)), replace=False).tolist()
    reason = (
        f"held out from the same download: up to {per_class} adult RSNA normals (Normal-1...62, 1404...) "
        f"and {per_class} later-release COVID files (COVID-1901..., mostly BIMCV, Valencia), drawn with "
        f"seed {seed}; none of them is in the training subset"
    )
    shifted = _keep(full, keep, "shift", reason)
    assert not set(shifted.files) & taken, "shift set overlaps the training files"
    return shifted
