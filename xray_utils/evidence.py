"""Chapter 8's shortcut evidence for finished runs, written into each run folder as numbers.

Chapter 8 asks three questions of a trained model: where its Grad-CAM maps put
the heat, whether it stays above chance with the lungs hidden, and what it calls
adult X-rays from other hospitals. The full-profile models are trained on a GPU
machine and committed without their weights (``results/full``), so the answers
are computed there, where the models are, by ``xray-book evidence`` (:func:`make_evidence`),
and committed beside each run::

    <run folder>/evidence/
        evidence.json   the run it belongs to (name, key, sha256 of its config.json and
                        predictions.npz), the samples' seed and sizes, the map grid and layer,
                        the held-out set's description, the environment, and the sha256 of
                        every other file here
        held_out.csv    per held-out image: file stem, class, label, predicted label, probabilities
        occlusion.csv   per image of chapter 8's occlusion sample: stem, class, label, and the class
                        predicted as is, with the chest hidden and with only the chest shown
        maps.csv        per map: part (test or held_out), stem, class, label, predicted, probabilities
        maps.npz        ``maps`` (N, h, w) float16: Grad-CAM at the last convolution's own grid
        COMPLETE        written last

Numbers only: file stems, never paths, and never a pixel. The samples are chapter 8's
own (:func:`xray_utils.explain.occlusion_sample` with the same seed and size) plus up
to :data:`MAPS_PER_CLASS` seeded maps per class of the test and the held-out set.
The folder is written under a hidden name and renamed into place (like a run), and
finished evidence whose samples match is reused. :func:`verify_evidence` reads it back
and refuses, naming the folder and the file, evidence that is not what its run computed.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import data as xdata
from . import explain
from .config import STUDY_SEED
from .errors import RunError, XrayError
from .files import exclusive_lock, remove_quietly, temporary_sibling
from .params import ChapterParams
from .run_folders import COMPLETE, Run, _read, environment_record, find_run, is_finished, publish, recover, write_json

EVIDENCE = "evidence"
FORMAT = 1
OCCLUSION_IMAGES = 300  # chapter 8's occlusion sample (its `max_images`)
MAPS_PER_CLASS = 8
SAMPLE_SEED = STUDY_SEED
METHOD = "gradcam"
FILES = ("held_out.csv", "occlusion.csv", "maps.csv", "maps.npz")
OCCLUSION_COLUMNS = ["images", *explain.OCCLUSION_VARIANTS]
PARTS = ("test", "held_out")
# What makes the evidence: where the full-profile models are, and on a GPU machine from scratch (README there).
EVIDENCE_COMMAND = "xray-book evidence --profile full"
GPU_SCRIPT = "scripts/gpu_full_study.py"


def sample_settings() -> dict:
    """What decides which images the evidence covers: a finished folder is reused only when they match."""
    return {
        "seed": SAMPLE_SEED,
        "occlusion_max_images": OCCLUSION_IMAGES,
        "maps_per_class": MAPS_PER_CLASS,
        "chest_box": list(explain.CHEST_BOX),
        "method": METHOD,
    }


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run_digests(run: Run) -> dict[str, str]:
    """The run files the evidence depends on: another training of the same key gives other digests."""
    return {name: sha256(run.folder / name) for name in ("config.json", "predictions.npz")}


def _stems(files) -> list[str]:
    return [Path(name).stem for name in files]


def _probability_frame(part, stems, labels, probabilities, class_names) -> pd.DataFrame:
    """One row per image: its stem, class, label, predicted label and class probabilities."""
    labels = np.asarray(labels, dtype=int)
    frame = pd.DataFrame(
        {
            "part": part,
            "stem": list(stems),
            "class": [class_names[i] for i in labels],
            "label": labels,
            "predicted": np.asarray(probabilities).argmax(1) if len(labels) else np.zeros(0, int),
        }
    )
    for i, name in enumerate(class_names):
        frame[f"prob {name}"] = np.asarray(probabilities, dtype=float)[:, i] if len(labels) else []
    return frame


@dataclass
class _Computed:
    held_out: pd.DataFrame
    occlusion: pd.DataFrame  # per image
    maps_index: pd.DataFrame
    maps: np.ndarray
    layer: str


def compute(run: Run, images: xdata.ImageSet, held_out: xdata.ImageSet | None) -> _Computed:
    """The evidence of ``run`` (trained on ``images``), with the held-out set when there is one."""
    from .pipeline import predict_proba

    model = run.load_model()
    names = list(images.class_names)
    predictions = run.predictions()
    sample = explain.occlusion_sample(run, images, SAMPLE_SEED, OCCLUSION_IMAGES)
    labels = images.labels[sample]
    occlusion = pd.DataFrame(
        {"stem": _stems(np.asarray(images.files)[sample]), "class": [names[i] for i in labels], "label": labels}
    )
    for variant, predicted in explain.occlusion_predictions(model, images.images[sample]).items():
        occlusion[variant] = predicted
    picked = explain.per_class_sample(predictions["y_true"], MAPS_PER_CLASS, SAMPLE_SEED)
    test_at = predictions["indices"][picked]
    parts = [_probability_frame("test", _stems(np.asarray(images.files)[test_at]), images.labels[test_at],
                                predictions["y_prob"][picked], names)]  # fmt: skip
    shown = [images.images[test_at]]
    held_frame = _probability_frame("held_out", [], [], np.zeros((0, len(names))), names)
    if held_out is not None:
        probabilities = predict_proba(model, held_out.images, np.arange(len(held_out)))
        held_frame = _probability_frame("held_out", _stems(held_out.files), held_out.labels, probabilities, names)
        chosen = explain.per_class_sample(held_out.labels, MAPS_PER_CLASS, SAMPLE_SEED)
        parts.append(held_frame.iloc[chosen])
        shown.append(held_out.images[chosen])
    index = pd.concat(parts, ignore_index=True)
    layer = explain.target_layer(model).name
    maps = explain.heatmaps(model, np.concatenate(shown), index["predicted"].to_numpy(), METHOD, layer, resize=False)
    return _Computed(held_frame.drop(columns="part"), occlusion, index, maps.astype(np.float16), layer)


def _write_files(staging: Path, run: Run, computed: _Computed, held_out: xdata.ImageSet | None) -> None:
    """The evidence files into ``staging``, evidence.json (with every other file's digest) last."""
    staging.mkdir(parents=True)
    computed.held_out.to_csv(staging / "held_out.csv", index=False)
    computed.occlusion.to_csv(staging / "occlusion.csv", index=False)
    computed.maps_index.to_csv(staging / "maps.csv", index=False)
    np.savez(staging / "maps.npz", maps=computed.maps)
    meta = {
        "format": FORMAT,
        "run": run.name,
        "key": run.config.get("key"),
        "model": run.config.get("model"),
        "protocol": run.config.get("protocol"),
        "image_size": int(run.config.get("image_size", 0)),
        "class_names": list(run.config.get("class_names") or []),
        "run_files": _run_digests(run),
        "sample": sample_settings(),
        "layer": computed.layer,
        "grid": list(computed.maps.shape[1:3]),
        "held_out": None if held_out is None else _held_out_record(held_out),
        "environment": environment_record(),
        "files": {name: sha256(staging / name) for name in FILES},
    }
    write_json(staging / "evidence.json", meta)


def _held_out_record(held_out: xdata.ImageSet) -> dict:
    return {
        "images": len(held_out),
        "counts": held_out.counts,
        "fingerprint": held_out.fingerprint,
        "data_subset": held_out.data_subset,
        "reason": held_out.subset_reason,
    }


def _stale(evidence: Evidence, held_out: xdata.ImageSet | None) -> str | None:
    """Why finished evidence no longer answers for these samples and this held-out set (None: reuse it)."""
    if evidence.meta.get("sample") != sample_settings():
        return "it was made with other samples"
    recorded = (evidence.meta.get("held_out") or {}).get("fingerprint")
    if recorded != (held_out.fingerprint if held_out is not None else None):
        return "it was made with another held-out set"
    return None


def write_evidence(
    run: Run, images: xdata.ImageSet, held_out: xdata.ImageSet | None, stream=None
) -> tuple[Evidence, str]:
    """``run``'s evidence folder, computed now or reused: ``(evidence, "written" | "reused")``."""
    stream = stream or sys.stdout
    final = run.folder / EVIDENCE

    def busy(holder: str) -> RunError:
        return RunError(f"'{final}' is being written by another process right now ({holder}); wait for it.")

    with exclusive_lock(run.folder.parent / f".{run.name}.{EVIDENCE}.lock", f"evidence of {run.name}", busy):
        for stray in run.folder.glob(f".{EVIDENCE}.*-*"):  # attempts that were killed
            remove_quietly(stray)
        if final.is_dir():
            try:
                found = verify_evidence(run)
                why = _stale(found, held_out)
            except RunError as problem:
                why = f"it is damaged ({problem})"
            if why is None:
                return found, "reused"
            print(f"note: making the evidence of {run.name} again: {why}.", file=stream, flush=True)
        staging = temporary_sibling(final, "incomplete")
        try:
            _write_files(staging, run, compute(run, images, held_out), held_out)
            publish(staging, final)
        except BaseException:
            remove_quietly(staging)
            raise
    return verify_evidence(run), "written"


@dataclass
class Evidence:
    """One run's evidence, read back and checked: tables, maps and what they belong to."""

    folder: Path
    meta: dict
    held_out: pd.DataFrame
    occlusion_images: pd.DataFrame  # occlusion.csv: one row per image of the sample
    maps_index: pd.DataFrame
    maps: np.ndarray

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def occlusion(self) -> pd.DataFrame:
        """Chapter 8's occlusion row: images scored and the accuracy as is, chest hidden, only chest shown."""
        rows = self.occlusion_images
        scores = {variant: float((rows[variant] == rows["label"]).mean()) for variant in explain.OCCLUSION_VARIANTS}
        return pd.DataFrame([{"images": len(rows), **scores}])

    def recall(self) -> pd.DataFrame:
        """Per held-out class: images, recall with its exact 95 % interval, and where the images went."""
        return pd.DataFrame(
            explain.recall_rows(self.held_out["predicted"], self.held_out["label"], self.class_names),
        )

    def called_covid(self, true_class: str = "Normal") -> float | None:
        """The share of held-out ``true_class`` images called COVID (None: the set has none)."""
        members = self.held_out[self.held_out["class"] == true_class]
        if not len(members):
            return None
        return float((members["predicted"] == self.class_names.index("COVID")).mean())

    def part(self, part: str) -> tuple[pd.DataFrame, np.ndarray]:
        """The rows of ``maps.csv`` for ``part`` ("test" or "held_out") and their maps."""
        chosen = (self.maps_index["part"] == part).to_numpy()
        return self.maps_index[chosen].reset_index(drop=True), self.maps[chosen]


def _refuse(folder: Path, file: str, problem: str) -> RunError:
    return RunError(
        f"Evidence '{folder}' is refused: {file}: {problem}. It is not what its run computed; "
        "make it again with `xray-book evidence` where the run's model.keras is."
    )


def _npz_maps(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as saved:
        if list(saved.files) != ["maps"]:
            raise ValueError(f"holds {sorted(saved.files)}, expected only 'maps'")
        return saved["maps"]


def _read_checked(folder: Path, file: str, reader):
    """``reader(folder / file)`` read like a run file (bounded, no links); a failure refuses the evidence."""
    try:
        return _read(folder, file, reader)
    except RunError as exc:
        raise _refuse(folder, file, f"unreadable ({exc.__cause__ or exc})") from exc


def _check_listing(folder: Path, meta: dict) -> None:
    """Exactly the listed files (plus evidence.json and COMPLETE), regular files, with the listed digests."""
    listed = meta.get("files")
    if not isinstance(listed, dict) or sorted(listed) != sorted(FILES):
        raise _refuse(folder, "evidence.json", f"lists files {sorted(listed or [])}, expected {sorted(FILES)}")
    present = {p.name for p in folder.iterdir()}
    extra = sorted(present - set(FILES) - {"evidence.json", COMPLETE})
    if extra:
        raise _refuse(folder, extra[0], "not a file evidence.json lists")
    for name in FILES:
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise _refuse(folder, name, "missing or not a regular file")
        if sha256(path) != listed[name]:
            raise _refuse(folder, name, "its SHA-256 is not the one evidence.json lists (the file was changed)")


def _check_owner(folder: Path, meta: dict, run: Run) -> None:
    """The evidence names this run: its folder, key and the digests of its config and predictions."""
    if meta.get("format") != FORMAT:
        raise _refuse(folder, "evidence.json", f"format {meta.get('format')!r}, this code reads {FORMAT}")
    if meta.get("run") != run.name or meta.get("key") != run.config.get("key"):
        raise _refuse(
            folder,
            "evidence.json",
            f"it belongs to run {meta.get('run')!r} (key {meta.get('key')!r}), not to "
            f"{run.name!r} (key {run.config.get('key')!r})",
        )
    if meta.get("run_files") != _run_digests(run):
        raise _refuse(
            folder, "evidence.json", "the run's config.json or predictions.npz is not the one it was made from"
        )
    if meta.get("class_names") != list(run.config.get("class_names") or []):
        raise _refuse(folder, "evidence.json", "its classes are not the run's")


def _has_paths(frame: pd.DataFrame) -> bool:
    return bool(frame["stem"].astype(str).str.contains(r"[/\\]").any())


def _check_against_split(folder: Path, run: Run, meta: dict, occlusion: pd.DataFrame, index: pd.DataFrame) -> None:
    """Occlusion and test maps name the run's own test images; held-out maps name none of its images."""
    split = run.split()
    test = set(_stems(split.loc[split["subset"] == "test", "file"]))
    size = min(len(test), meta["sample"]["occlusion_max_images"])
    if not set(occlusion["stem"].astype(str)) <= test or len(occlusion) != size:
        raise _refuse(folder, "occlusion.csv", "its images are not the run's occlusion sample of test images")
    if not set(index.loc[index["part"] == "test", "stem"].astype(str)) <= test:
        raise _refuse(folder, "maps.csv", "its test maps name images outside the run's test set")
    held = index[index["part"] == "held_out"]
    if set(zip(held["class"], held["stem"].astype(str))) & set(zip(split["class"], _stems(split["file"]))):
        raise _refuse(folder, "maps.csv", "its held-out maps name images the run was split from")


def _table_problem(frame: pd.DataFrame, classes: list[str]) -> str | None:
    """What is wrong with a held_out.csv or maps.csv frame (None when sound)."""
    needed = {"stem", "class", "label", "predicted", *(f"prob {name}" for name in classes)}
    if needed - set(frame.columns):
        return f"missing column(s) {', '.join(sorted(needed - set(frame.columns)))}"
    if not len(frame):
        return None
    probabilities = frame[[f"prob {name}" for name in classes]].to_numpy(dtype=float)
    labels, predicted = frame["label"].to_numpy(), frame["predicted"].to_numpy()
    if not np.isfinite(probabilities).all() or probabilities.min() < 0 or probabilities.max() > 1 + 1e-6:
        return "probabilities outside [0, 1]"
    if not np.allclose(probabilities.sum(axis=1), 1, atol=1e-3):
        return "probability rows that do not sum to 1"
    if not (np.isin(labels, range(len(classes))).all() and (predicted == probabilities.argmax(1)).all()):
        return "labels outside the classes, or predictions that are not the most probable class"
    if list(frame["class"]) != [classes[i] for i in labels]:
        return "class names that do not match the labels"
    if _has_paths(frame):
        return "paths where file stems belong"
    return None


def _occlusion_problem(frame: pd.DataFrame, classes: list[str], meta: dict) -> str | None:
    """What is wrong with occlusion.csv (None when sound)."""
    columns = ["stem", "class", "label", *explain.OCCLUSION_VARIANTS]
    if list(frame.columns) != columns:
        return f"columns {list(frame.columns)}, expected {columns}"
    if not 0 < len(frame) <= (meta.get("sample") or {}).get("occlusion_max_images", 0):
        return f"{len(frame)} images, more than the sample holds or none"
    labels = frame[["label", *explain.OCCLUSION_VARIANTS]].to_numpy()
    if labels.dtype.kind not in "iu" or not np.isin(labels, range(len(classes))).all():
        return "labels that are not whole numbers naming the classes"
    if list(frame["class"]) != [classes[i] for i in frame["label"]]:
        return "class names that do not match the labels"
    if _has_paths(frame):
        return "paths where file stems belong"
    return None


def _check_contents(folder: Path, meta: dict, held, occlusion, index, maps) -> None:
    """The tables and maps are sound and agree with each other and with evidence.json."""
    classes = list(meta["class_names"])
    for file, frame in (("held_out.csv", held), ("maps.csv", index)):
        problem = _table_problem(frame, classes)
        if problem:
            raise _refuse(folder, file, problem)
    problem = _occlusion_problem(occlusion, classes, meta)
    if problem:
        raise _refuse(folder, "occlusion.csv", problem)
    if maps.ndim != 3 or maps.dtype.kind != "f" or list(maps.shape[1:]) != list(meta.get("grid", [])):
        raise _refuse(folder, "maps.npz", f"maps of shape {maps.shape}, expected (N, {meta.get('grid')})")
    if len(maps) != len(index) or not set(index["part"]) <= set(PARTS):
        raise _refuse(folder, "maps.npz", f"{len(maps)} maps for {len(index)} rows of maps.csv")
    if not (np.isfinite(maps).all() and maps.min(initial=0) >= 0 and maps.max(initial=0) <= 1):
        raise _refuse(folder, "maps.npz", "map values outside [0, 1]")
    expected = (meta.get("held_out") or {}).get("images", 0)
    if len(held) != expected:
        raise _refuse(folder, "held_out.csv", f"{len(held)} rows, evidence.json says {expected} held-out images")


def verify_evidence(run: Run) -> Evidence:
    """``run``'s evidence folder, read back after checking it; :class:`RunError` naming folder and file otherwise.

    Checks: evidence.json names this run (folder, key, and the SHA-256 of its
    config.json and predictions.npz, so evidence from another training of the
    same configuration is refused), the folder holds exactly the listed files
    with the listed digests, no link, and the tables and maps are sound.
    """
    folder = run.folder / EVIDENCE
    if folder.is_symlink() or not folder.is_dir():
        raise _refuse(folder, EVIDENCE, "missing, or a link rather than a folder")
    if not is_finished(folder):
        raise _refuse(folder, COMPLETE, "missing: the evidence was never finished")
    meta = _read_checked(folder, "evidence.json", lambda path: json.loads(path.read_text()))
    if not isinstance(meta, dict):
        raise _refuse(folder, "evidence.json", "not a JSON object")
    _check_owner(folder, meta, run)
    _check_listing(folder, meta)
    held = _read_checked(folder, "held_out.csv", pd.read_csv)
    occlusion = _read_checked(folder, "occlusion.csv", pd.read_csv)
    index = _read_checked(folder, "maps.csv", pd.read_csv)
    maps = _read_checked(folder, "maps.npz", _npz_maps)
    _check_contents(folder, meta, held, occlusion, index, maps)
    _check_against_split(folder, run, meta, occlusion, index)
    return Evidence(folder, meta, held, occlusion, index, maps)


def has_evidence(run: Run) -> bool:
    """Whether ``run``'s folder has an evidence entry (sound or not: :func:`verify_evidence` says)."""
    path = run.folder / EVIDENCE
    return path.exists() or path.is_symlink()


def make_evidence(params: ChapterParams, only: list[str] | None = None, stream=None) -> pd.DataFrame:
    """Evidence for every finished run of ``params``' plan that has its model; one summary row per planned run.

    Runs are found as the chapters find them (same keys); a run not trained
    yet, or without ``model.keras`` (a committed copy), is listed and skipped.
    :class:`XrayError` with the training command when no run could be served.
    """
    from . import plan

    stream = stream or sys.stdout
    opened: dict[int, tuple[xdata.ImageSet, xdata.ImageSet | None]] = {}
    rows = []
    for model, protocol in plan.planned_runs(params, only):
        config = params.train_config(model, protocol)
        if config.image_size not in opened:
            images = plan.open_data(params, config.image_size)
            opened[config.image_size] = (images, plan.open_external(params, images, config.image_size))
        images, held_out = opened[config.image_size]
        folder = find_run(config, images, params.runs_dir)
        started = time.perf_counter()
        if not (is_finished(folder) or recover(folder.parent, folder.name)):
            status = "no finished run"
        elif not (folder / "model.keras").is_file():
            status = "no model.keras"
        else:
            found, status = write_evidence(Run.load(folder), images, held_out, stream)
        rows.append(_summary_row(model, protocol, folder, status, time.perf_counter() - started))
        print(f"[{model}/{protocol}] evidence: {status} ({folder.name})", file=stream, flush=True)
    table = pd.DataFrame(rows)
    if not table["status"].isin(["written", "reused"]).any():
        raise XrayError(
            f"No finished run with its model.keras in '{folder.parent}' for "
            f"{', '.join(f'{m}/{p}' for m, p in plan.planned_runs(params, only))}. "
            f"Train them first: {plan.train_command(params, only or [])}"
        )
    print("\n" + table.to_string(index=False), file=stream, flush=True)
    return table


def _summary_row(model: str, protocol: str, folder: Path, status: str, seconds: float) -> dict:
    row = {"model": model, "protocol": protocol, "run": folder.name, "status": status, "seconds": round(seconds, 1)}
    if status in ("written", "reused"):
        meta = json.loads((folder / EVIDENCE / "evidence.json").read_text())
        row.update(grid="x".join(map(str, meta["grid"])), held_out=(meta["held_out"] or {}).get("images", 0))
    return row


def reader_copies(committed: dict, params: ChapterParams, images: xdata.ImageSet, size: int = 128) -> dict:
    """The reader's own copy of each image the evidence in ``committed`` names, at ``size`` px.

    ``committed``: ``{(model, protocol): Evidence}``. Images are looked up by class
    and file stem in the whole dataset this build found (any subset) and in its
    held-out folders (``external_dir``, ``external`` beside the data).
    ``{(class, stem): uint8 (size, size, C)}`` for those found; none on the
    synthetic stand-in, whose file names only look like real ones.
    """
    if images.synthetic:
        return {}
    wanted = {(row["class"], str(row["stem"])) for e in committed.values() for _, row in e.maps_index.iterrows()}
    found = {}
    for index in _indexes(params, images):
        for path, label in zip(index.files, index.labels):
            key = (index.class_names[label], path.stem)
            if key in wanted and key not in found:
                try:
                    found[key] = xdata.decode_image(path, size, images.channels)
                except (OSError, ValueError):
                    continue  # an unreadable copy is one the reader does not have
    return found


def _indexes(params: ChapterParams, images: xdata.ImageSet) -> list[xdata.DatasetIndex]:
    """Every dataset index an image named by the evidence may be in: the data, then its held-out folders."""
    indexes = [xdata.find_dataset(images.root)]
    for folder in (params.external_dir, images.root.parent / "external"):
        if folder and Path(folder).is_dir():
            try:
                indexes.append(xdata.find_dataset(folder, required=("COVID", "Normal")))
            except xdata.DataError:
                continue
    return indexes


_PART_WORDS = {"test": "test images", "held_out": "held-out images"}


def map_gallery(found: Evidence, part: str, copies: dict, title: str):
    """``found``'s ``part`` maps stretched over the reader's copies: ``(figure or None, maps drawn)``."""
    from . import plots

    rows, maps = found.part(part)
    here = np.array([(c, str(s)) in copies for c, s in zip(rows["class"], rows["stem"])], dtype=bool)
    if not here.any():
        return None, 0
    rows, maps = rows[here].reset_index(drop=True), maps[here].astype(np.float32)
    names = found.class_names
    picks = pd.DataFrame(
        {
            "true": rows["class"],
            "predicted": [names[i] for i in rows["predicted"]],
            "correct": rows["label"] == rows["predicted"],
        }
    )
    shown = np.stack([copies[(c, str(s))] for c, s in zip(rows["class"], rows["stem"])])
    return plots.heatmap_gallery(shown, maps, picks, title), int(here.sum())


def map_galleries(committed: dict, copies: dict) -> dict:
    """One gallery per study-protocol model and part whose images the reader has: ``{(model, part): (drawn, maps)}``."""
    drawn = {}
    for (model, protocol), found in committed.items():
        if protocol != "study":
            continue
        grid = "×".join(map(str, found.meta["grid"]))
        for part in PARTS:
            title = f"Model {model[1:]}, full study: Grad-CAM ({grid} grid) on {_PART_WORDS[part]}"
            _, count = map_gallery(found, part, copies, title)
            drawn[(model, part)] = (count, len(found.part(part)[1]))
    return drawn
