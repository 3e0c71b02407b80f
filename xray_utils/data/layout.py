"""Find the COVID-19 Radiography Database on disk and list its images.

Two public layouts are recognised:

* the 2021 Kaggle release: ``COVID-19_Radiography_Dataset/<Class>/images/*.png``
  (``masks/`` folders, ``*.metadata.xlsx`` and ``README.md.txt`` beside them are
  ignored: the masks are lung segmentations with the same file names, never
  X-rays);
* the 2020 release used by the original study:
  ``COVID-19 Radiography Database/{COVID,NORMAL,Viral Pneumonia}/*.png``.

Class folders map case- and spelling-insensitively to ``COVID``, ``Normal`` and
``Viral Pneumonia``; ``Lung_Opacity`` (2021 only) is recognised and left out
unless asked for. Nothing here knows how many images a class should have.

Images may be PNG, JPEG, TIFF, WebP or BMP (``IMAGE_SUFFIXES``). A file whose
name is not valid UTF-8 (common in zips made on Windows) is left out with a
note naming it, because its name could not be written to a split file.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..config import STUDY_SEED
from ..errors import DataError
from ..paths import default_data_dir

CLASS_NAMES: tuple[str, ...] = ("COVID", "Normal", "Viral Pneumonia")
EXTRA_CLASS = "Lung_Opacity"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".7z", ".rar")
SYNTHETIC_MARKER = "SYNTHETIC.txt"
_SEARCH_DEPTH = 3

_ALIASES = {
    "covid": "COVID",
    "covid19": "COVID",
    "normal": "Normal",
    "viralpneumonia": "Viral Pneumonia",
    "lungopacity": EXTRA_CLASS,
}


def canonical_class(folder_name: str) -> str | None:
    """Map a folder name such as ``NORMAL`` or ``Viral_Pneumonia`` to a label, else None."""
    return _ALIASES.get(re.sub(r"[^a-z0-9]", "", folder_name.lower()))


def natural_key(text: str) -> list:
    """Sort key that puts ``COVID-2`` before ``COVID-10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class DatasetIndex:
    """The image files of one dataset, with their labels; no pixels yet.

    ``files`` are absolute paths in class order, then natural file-name order.
    ``labels[i]`` indexes ``class_names``. ``synthetic`` is True for the
    generated stand-in, so every output built from it can say so.
    """

    root: Path
    release: str
    class_names: tuple[str, ...]
    files: tuple[Path, ...]
    labels: np.ndarray
    synthetic: bool = False
    notes: tuple[str, ...] = field(default=())
    data_subset: str = "all"  # which files of the release were chosen (see ``releases.select_subset``)
    subset_reason: str = "every file found"

    def __len__(self) -> int:
        return len(self.files)

    @property
    def counts(self) -> dict[str, int]:
        """Images per class, in ``class_names`` order."""
        found = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(n) for name, n in zip(self.class_names, found)}

    def relative_files(self) -> list[str]:
        """File paths relative to ``root``, with forward slashes."""
        return [p.relative_to(self.root).as_posix() for p in self.files]

    def subset(self, per_class: int | None, seed: int = STUDY_SEED) -> DatasetIndex:
        """A seeded random subset of at most ``per_class`` images of each class."""
        if per_class is None:
            return self
        rng = np.random.default_rng(seed)
        keep: list[int] = []
        for label in range(len(self.class_names)):
            members = np.flatnonzero(self.labels == label)
            chosen = rng.permutation(members)[:per_class] if len(members) > per_class else members
            keep.extend(sorted(chosen.tolist()))
        return replace(
            self,
            files=tuple(self.files[i] for i in keep),
            labels=self.labels[keep].copy(),
            subset_reason=f"{self.subset_reason}; then at most {per_class} per class (per_class, seed {seed})",
        )


def _is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def printable_name(name: str) -> str:
    """``name`` with bytes that are not UTF-8 shown as ``\\xe9`` (file names may hold any bytes)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as surrogates
        return False
    return True


def _subfolders(folder: Path, what: str = "folder") -> list[Path]:
    """Sorted sub-folders of ``folder``; :class:`DataError` naming it when permission is denied."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except PermissionError as exc:
        raise DataError(f"Permission denied: cannot read {what} '{folder}'.") from exc


def _class_folders(folder: Path) -> dict[str, list[Path]]:
    """Recognised class sub-folders of ``folder``, by canonical label."""
    found: dict[str, list[Path]] = {}
    try:
        children = _subfolders(folder)
    except (OSError, DataError):
        return found
    for child in children:
        label = canonical_class(child.name)
        if label is not None:
            found.setdefault(label, []).append(child)
    return found


def _candidates(root: Path, denied: list[Path]) -> list[Path]:
    """Folders at most ``_SEARCH_DEPTH`` levels below ``root`` that hold class folders.

    Folders that cannot be read for lack of permission are appended to ``denied``.
    """
    hits, frontier = [], [root]
    for _ in range(_SEARCH_DEPTH + 1):
        next_frontier = []
        for folder in frontier:
            if len(set(_class_folders(folder)) & set(CLASS_NAMES)) >= 2:
                hits.append(folder)
                continue
            try:
                next_frontier += [p for p in _subfolders(folder) if not p.name.startswith(".")]
            except DataError:
                denied.append(folder)
            except OSError:
                continue
        frontier = next_frontier
    return hits


def _archive_kind(path: Path) -> str | None:
    """The archive suffix (``"zip"``, ``"tar.gz"``, ...) when ``path`` is an archive file, else None."""
    name = path.name.lower()
    suffix = next((s for s in ARCHIVE_SUFFIXES if name.endswith(s)), None)
    if suffix is None and zipfile.is_zipfile(path):
        return "zip"
    return suffix[1:] if suffix else None


def _not_a_folder(root: Path) -> DataError:
    """The error for a ``data_dir`` that is a file: for an archive, the command that extracts it."""
    kind = _archive_kind(root)
    if kind is None:
        return DataError(f"Data path '{root}' is a file, not a folder.")
    ending = f".{kind}"
    stem = root.name[: -len(ending)] if root.name.lower().endswith(ending) else f"{root.name}-extracted"
    target = root.with_name(stem)
    if kind == "zip":
        how = f"python -m zipfile -e '{root}' '{target}'"
    elif kind.startswith("t"):
        how = f"mkdir -p '{target}' && tar -xf '{root}' -C '{target}'"
    else:
        how = "with 7-Zip or unrar"
    return DataError(
        f"Data path '{root}' is a {kind} archive, not a folder: extract it first ({how}) "
        f"and set data_dir / XRAY_DATA_DIR to '{target}'."
    )


def _release_of(class_dirs: dict[str, list[Path]]) -> str:
    return "2021" if any((d / "images").is_dir() for ds in class_dirs.values() for d in ds) else "2020"


def _image_folder(class_dir: Path, release: str) -> Path:
    return class_dir / "images" if release == "2021" else class_dir


def _is_synthetic(folder: Path) -> bool:
    """The stand-in generator leaves a marker in the dataset folder or the one above."""
    return any((p / SYNTHETIC_MARKER).is_file() for p in (folder, folder.parent))


def find_dataset(
    data_dir: str | Path | None = None,
    *,
    include_lung_opacity: bool = False,
    required: tuple[str, ...] | None = None,
) -> DatasetIndex:
    """Locate the dataset under ``data_dir`` (else ``$XRAY_DATA_DIR``, else ``./data``).

    ``required``: the classes that must be present (default: all). A held-out
    set with only some classes (e.g. ``("COVID", "Normal")``) keeps the full
    ``class_names``, so its labels line up with the models' outputs.

    The folder may be the dataset itself or any folder up to three levels
    above it (a Kaggle zip extracted into an extra folder is fine). Raises
    :class:`DataError` naming the folder when no dataset, a missing class or an
    empty class is found.
    """
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    if not root.exists():
        raise DataError(
            f"Data folder '{root}' does not exist. Download the COVID-19 Radiography Database "
            "(xray_utils.data.download()), unzip it there, or point XRAY_DATA_DIR / data_dir at it."
        )
    if not root.is_dir():
        raise _not_a_folder(root)
    _subfolders(root, "data folder")  # permission denied here must not read as "nothing found"
    denied: list[Path] = []
    candidates = _candidates(root, denied)
    if not candidates:
        unreadable = " Permission denied for " + ", ".join(f"'{d}'" for d in denied) + "." if denied else ""
        raise DataError(
            f"No COVID-19 Radiography Database found in '{root}': expected class folders "
            f"{', '.join(CLASS_NAMES)} (2021 layout '<Class>/images/*.png' or 2020 layout "
            f"'<Class>/*.png') at most three levels below it.{unreadable}"
        )
    # Prefer the shallowest dataset (a held-out set nested deeper is not the main one),
    # and the 2021 release over the 2020 one when both sit side by side.
    depth = {c: len(c.relative_to(root).parts) for c in candidates}
    shallowest = [c for c in candidates if depth[c] == min(depth.values())]
    chosen = next((c for c in shallowest if _release_of(_class_folders(c)) == "2021"), shallowest[0])
    notes = []
    if len(shallowest) > 1:
        others = ", ".join(f"'{c}'" for c in shallowest if c != chosen)
        notes.append(f"Several datasets found; using '{chosen}' and ignoring {others}.")
    try:
        return _index_folder(chosen, include_lung_opacity, notes, required)
    except PermissionError as exc:  # e.g. a class folder that cannot even be looked into
        raise DataError(f"Permission denied: cannot read '{exc.filename or chosen}'.") from exc


def _list_images(image_dir: Path) -> list[Path]:
    """Image files of one class folder in natural order; permission denied names the folder."""
    if not image_dir.is_dir():
        return []
    try:
        found = [p for p in image_dir.iterdir() if p.is_file() and _is_image_file(p)]
    except PermissionError as exc:
        raise DataError(f"Permission denied: cannot read class folder '{image_dir}'.") from exc
    return sorted(found, key=lambda p: natural_key(p.name))


def _class_images(image_dir: Path, root: Path, notes: list[str]) -> list[Path]:
    """The images of one class folder; names that are not UTF-8 are left out with a note."""
    members = _list_images(image_dir)
    odd = [p for p in members if not _is_utf8(p.name)]
    if odd:
        shown = ", ".join(f"'{printable_name(p.relative_to(root).as_posix())}'" for p in odd[:5])
        more = f" and {len(odd) - 5} more" if len(odd) > 5 else ""
        notes.append(
            f"Left out {len(odd)} file(s) whose names are not valid UTF-8 (rename them to use them): {shown}{more}."
        )
        members = [p for p in members if _is_utf8(p.name)]
    if not members:
        raise DataError(f"Class folder '{image_dir}' holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return members


def _index_folder(
    folder: Path, include_lung_opacity: bool, notes: list[str], required: tuple[str, ...] | None = None
) -> DatasetIndex:
    class_dirs = _class_folders(folder)
    release = _release_of(class_dirs)
    wanted = CLASS_NAMES + ((EXTRA_CLASS,) if include_lung_opacity else ())
    for label, dirs in class_dirs.items():
        if len(dirs) > 1:
            names = " and ".join(f"'{d.name}'" for d in dirs)
            raise DataError(f"'{folder}' has two folders for class {label}: {names}. Keep one.")
    missing = [c for c in (required or wanted) if c not in class_dirs]
    if missing:
        raise DataError(
            f"'{folder}' has no folder for class(es) {', '.join(missing)}; found "
            f"{', '.join(sorted(d[0].name for d in class_dirs.values())) or 'none'}."
        )
    unknown = sorted(
        p.name for p in _subfolders(folder) if canonical_class(p.name) is None and not p.name.startswith(".")
    )
    if unknown:
        notes.append(f"Ignored folder(s) that are not classes: {', '.join(unknown)}.")
    if EXTRA_CLASS in class_dirs and not include_lung_opacity:
        notes.append("Left out Lung_Opacity (pass include_lung_opacity=True to use it).")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(wanted):
        if name not in class_dirs:
            continue  # allowed only when not required
        members = _class_images(_image_folder(class_dirs[name][0], release), folder, notes)
        files += members
        labels += [label] * len(members)
    synthetic = _is_synthetic(folder)
    return DatasetIndex(
        root=folder,
        release="synthetic" if synthetic else release,
        class_names=wanted,
        files=tuple(files),
        labels=np.asarray(labels, dtype=np.int64),
        synthetic=synthetic,
        notes=tuple(notes),
    )
