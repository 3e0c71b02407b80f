"""The full study's committed results (``results/full/``): checked, loaded, and set beside this build.

The ``full`` profile takes a GPU; its run folders (numbers only: no weights,
no pixels) are committed so every reader sees the full-scale reproduction,
whatever profile their own build ran. Each folder is checked before use
(:func:`verify_run`): a folder whose configuration does not match the data it
claims is refused with a message naming it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .config import DENSENET_MODELS, TrainConfig
from .data.loading import data_fingerprint
from .errors import ConfigError, RunError
from .params import resolve_params
from .paths import project_root
from .published import (
    STUDY_CLASS_COUNTS,
    STUDY_IMAGES,
    STUDY_TEST_COUNTS,
    STUDY_TEST_IMAGES,
    published_report,
)
from .run_folders import Run, run_name
from .weights import describe_weights

if TYPE_CHECKING:
    from .evidence import Evidence

_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def results_dir() -> Path:
    """``<project>/results/full``: where the committed full-profile runs live."""
    return project_root() / "results" / "full"


def seeds_dir() -> Path:
    """``<project>/results/full-seeds``: full-profile leak-experiment runs with other seeds."""
    return project_root() / "results" / "full-seeds"


@dataclass
class FullStudy:
    """The committed full-profile runs: ``runs[(model, protocol)]``, and the planned ones ``missing``."""

    folder: Path
    runs: dict[tuple[str, str], Run]
    missing: list[tuple[str, str]]
    fingerprint: str
    source: dict = field(default_factory=dict)
    _accounting: dict | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def title(self) -> str:
        """E.g. "the full study, run on one NVIDIA H100 80GB GPU, 2026-11-27"."""
        return (
            f"the full study, run on {self.source.get('hardware', 'unknown hardware')}, {self.source.get('date', '?')}"
        )

    def study_runs(self) -> dict[tuple[str, str], Run]:
        return {key: run for key, run in self.runs.items() if key[1] == "study"}

    def evidence(self, protocol: str | None = "study") -> dict[tuple[str, str], Evidence]:
        """Chapter 8's committed tests of the runs that have them (``<run>/evidence/``), each verified.

        ``protocol``: only that protocol's runs (None: all). Evidence that is not
        what its run computed (another key, changed or extra files, another
        training's predictions) is refused with a :class:`RunError` naming the
        folder and the file.
        """
        from .evidence import has_evidence, verify_evidence

        chosen = sorted((key, run) for key, run in self.runs.items() if protocol in (None, key[1]))
        return {key: verify_evidence(run) for key, run in chosen if has_evidence(run)}

    def describe(self) -> str:
        """Where the numbers come from, and which planned runs are missing."""
        lines = [
            f"The full study ran on {self.source.get('hardware', 'unknown hardware')}, "
            f"{self.source.get('date', '?')} ({self.source.get('backend', '')}); data fingerprint {self.fingerprint}."
        ]
        if self.source.get("data"):
            lines.append(f"Data: {self.source['data']}.")
        if self.missing:
            lines.append("Missing runs (not in results/full): " + ", ".join(f"{m}/{p}" for m, p in self.missing) + ".")
        return "\n".join(lines)

    def run(self, model: str, protocol: str = "study") -> Run:
        """The committed run ``model``/``protocol``; :class:`RunError` naming the missing ones if absent."""
        if (model, protocol) not in self.runs:
            absent = ", ".join(f"{m}/{p}" for m, p in self.missing) or "none"
            raise RunError(
                f"'{self.folder}' has no full-study run {model}/{protocol} "
                f"(it holds {', '.join(f'{m}/{p}' for m, p in sorted(self.runs))}; planned but missing: {absent})."
            )
        return self.runs[(model, protocol)]

    def scale(self, model: str, protocol: str = "study") -> str:
        """The run's scale in words, from its files and SOURCE.json.

        E.g. "192 px, 50 epochs, batch 32, 2,943 training images, one NVIDIA H100 80GB GPU".
        Epochs are those trained (``metrics.json``), shown "n of N" when fewer than
        configured; training images are counted in ``split.csv`` and must agree
        with ``metrics.json`` (else :class:`RunError`).
        """
        run = self.run(model, protocol)
        config, metrics = run.config, run.metrics
        trained = int(metrics.get("epochs_run", config["epochs"]))
        epochs = f"{trained} epochs" if trained == config["epochs"] else f"{trained} of {config['epochs']} epochs"
        train = int((run.split()["subset"] == "train").sum())
        if "train_images" in metrics and int(metrics["train_images"]) != train:
            raise RunError(
                f"'{run.folder}': metrics.json says {metrics['train_images']} training images, split.csv lists {train}."
            )
        hardware = self.source.get("hardware", "unknown hardware")
        return (
            f"{config['image_size']} px, {epochs}, batch {config['batch_size']}, {train:,} training images, {hardware}"
        )

    def data_accounting(self) -> dict:
        """Images in the full study, in all and per class, and its test images, beside the original study's.

        Counted from every run's ``split.csv`` (they must all agree: the runs share
        one data fingerprint, and every protocol tests on the same images) and
        checked against each run's ``metrics.json`` ``test_images``. Keys:
        ``images``, ``images_per_class``, ``test_images``, ``test_per_class`` (this
        study), ``study_images``, ``study_per_class``, ``study_test_images``,
        ``study_test_per_class`` (the original, from :mod:`xray_utils.published`);
        per-class values are ``{class: count}`` in the runs' class order.
        """
        if self._accounting is None:  # the runs never change once loaded: read their split.csv files once
            self._accounting = self._count_images()
        return dict(self._accounting)

    def _count_images(self) -> dict:
        if not self.runs:
            raise RunError(f"'{self.folder}' holds no full-study runs to count images in.")
        counted = {}
        for (model, protocol), run in sorted(self.runs.items()):
            split, names = run.split(), run.config["class_names"]
            test = split[split["subset"] == "test"]
            counts = (
                {name: int((split["class"] == name).sum()) for name in names},
                {name: int((test["class"] == name).sum()) for name in names},
            )
            if "test_images" in run.metrics and int(run.metrics["test_images"]) != len(test):
                raise RunError(
                    f"'{run.folder}': metrics.json says {run.metrics['test_images']} test images, "
                    f"split.csv lists {len(test)}."
                )
            counted[f"{model}/{protocol}"] = counts
        distinct = {repr(counts) for counts in counted.values()}
        if len(distinct) > 1:
            raise RunError(f"'{self.folder}': the runs' split.csv files count different images: {counted}.")
        per_class, test_per_class = next(iter(counted.values()))
        unknown = sorted(set(per_class) - set(STUDY_CLASS_COUNTS))
        if unknown:
            raise RunError(f"'{self.folder}': classes {unknown} are not the original study's.")
        return {
            "images": sum(per_class.values()),
            "images_per_class": per_class,
            "test_images": sum(test_per_class.values()),
            "test_per_class": test_per_class,
            "study_images": STUDY_IMAGES,
            "study_per_class": {name: STUDY_CLASS_COUNTS[name] for name in per_class},
            "study_test_images": STUDY_TEST_IMAGES,
            "study_test_per_class": {name: STUDY_TEST_COUNTS[name] for name in per_class},
        }

    def data_sentence(self) -> str:
        """One sentence: how many images (per class, and test) the full study used, beside the original's."""
        counts = self.data_accounting()

        def slashed(per_class: dict[str, int]) -> str:
            return " / ".join(f"{n:,}" for n in per_class.values())

        named = ", ".join(f"{n:,} {name}" for name, n in counts["images_per_class"].items())
        return (
            f"The full study here used {counts['images']:,} images ({named}; "
            f"{counts['test_images']:,} test images: {slashed(counts['test_per_class'])}); "
            f"the original study had {counts['study_images']:,} ({slashed(counts['study_per_class'])}; "
            f"{counts['study_test_images']:,} test images: {slashed(counts['study_test_per_class'])})."
        )


def _fingerprint_of_split(run: Run, class_names: list[str]) -> str:
    folder = run.folder
    split = run.split()  # read like every run file: no links followed, bounded
    unknown = sorted(set(split["class"]) - set(class_names))
    if unknown:
        raise RunError(f"'{folder / 'split.csv'}' names classes {unknown} that config.json does not list.")
    labels = split["class"].map({name: i for i, name in enumerate(class_names)}).to_numpy()
    return data_fingerprint(split["file"].tolist(), labels, class_names)


def verify_run(folder: str | Path) -> Run:
    """Load a committed run folder after checking that it is what it claims to be.

    Checks: the key is the one its configuration and data fingerprint give, the
    folder is named after it, the file list in ``split.csv`` hashes to the
    fingerprint, and the saved test predictions are the split's test images.
    Raises :class:`RunError` naming the folder and the first mismatch.
    """
    folder = Path(folder)
    run = Run.load(folder)
    config = run.config
    try:
        claimed = TrainConfig(**{name: config[name] for name in _CONFIG_FIELDS})
        fingerprint = config["data_fingerprint"]
    except (KeyError, TypeError, ConfigError) as exc:
        raise RunError(f"'{folder / 'config.json'}' is not a run configuration ({exc}).") from exc
    key = claimed.key(fingerprint)
    if config.get("key") != key or folder.name != run_name(claimed, key):
        raise RunError(
            f"'{folder}' does not match its configuration: config.json and the data fingerprint "
            f"{fingerprint} give key {key} (folder {run_name(claimed, key)}), but it says "
            f"{config.get('key')}. Refusing it: it is not the run it claims to be."
        )
    listed = _fingerprint_of_split(run, config["class_names"])
    if listed != fingerprint:
        raise RunError(
            f"'{folder}' claims data fingerprint {fingerprint} but its split.csv lists images whose "
            f"fingerprint is {listed}. Refusing it: its numbers are not from the data it claims."
        )
    split = run.split()
    test = np.flatnonzero(split["subset"].to_numpy() == "test")
    if not np.array_equal(np.sort(run.predictions()["indices"]), test):
        raise RunError(f"'{folder}': predictions.npz does not cover exactly the test images of split.csv.")
    return run


def load_full_study(folder: str | Path | None = None) -> FullStudy | None:
    """The committed full-profile runs (verified), or None when the folder has none.

    Every run folder must be one the ``full`` profile plans (its key recomputed
    from the profile and the runs' common data fingerprint); the planned runs
    that are absent are listed in ``missing``.
    """
    from .plan import planned_runs

    folder = Path(folder) if folder is not None else results_dir()
    found = sorted(p for p in folder.glob("*-*-*") if p.is_dir()) if folder.is_dir() else []
    if not found:
        return None
    verified = [verify_run(path) for path in found]
    fingerprints = {run.config["data_fingerprint"] for run in verified}
    if len(fingerprints) > 1:
        raise RunError(f"'{folder}' mixes runs on different data (fingerprints {', '.join(sorted(fingerprints))}).")
    fingerprint = fingerprints.pop()
    params = resolve_params("full")
    by_name = {run.name: run for run in verified}
    runs, missing = {}, []
    for model, protocol in planned_runs(params):
        config = params.train_config(model, protocol)
        name = run_name(config, config.key(fingerprint))
        if name in by_name:
            runs[(model, protocol)] = by_name.pop(name)
        else:
            missing.append((model, protocol))
    if by_name:
        raise RunError(
            f"'{folder}' holds run(s) the full profile does not make: {', '.join(sorted(by_name))}. "
            "Refusing them: their configuration is not the full study's."
        )
    source_file = folder / "SOURCE.json"
    source = json.loads(source_file.read_text()) if source_file.is_file() else {}
    return FullStudy(folder, runs, missing, fingerprint, source)


def load_seed_runs(full: FullStudy | None, folder: str | Path | None = None) -> dict[tuple[str, str, int], Run]:
    """The full study's runs and the extra-seed runs (each verified): ``{(model, protocol, seed): Run}``.

    Extra-seed runs must be the full profile's configuration with only ``seed``
    changed, on the full study's data; anything else is refused.
    """
    folder = Path(folder) if folder is not None else seeds_dir()
    found: dict[tuple[str, str, int], Run] = {}
    if full is not None:
        found.update({(m, p, run.config["seed"]): run for (m, p), run in full.runs.items()})
    params = resolve_params("full")
    for path in sorted(p for p in folder.glob("*-*-*") if p.is_dir()) if folder.is_dir() else []:
        run = verify_run(path)
        config = run.config
        expected = params.replace(seed=config["seed"]).train_config(config["model"], config["protocol"])
        if full is not None and config["data_fingerprint"] != full.fingerprint:
            raise RunError(f"'{path}' is on other data than the full study ({config['data_fingerprint']}).")
        if expected.key(config["data_fingerprint"]) != config["key"]:
            raise RunError(f"'{path}' is not the full profile's configuration with another seed. Refusing it.")
        found[(config["model"], config["protocol"], config["seed"])] = run
    return found


def model_label(run_or_config: Run | dict) -> str:
    """A model's name for a table or caption, saying for model 4 which starting weights it really had.

    ``run_or_config``: a :class:`Run` or its ``config.json`` as a dict. Models 1-3
    get their titles; the DenseNet models "Model 4: DenseNet121, <weights>" from
    ``weights_used`` (e.g. "Model 4: DenseNet121, random initialisation"), so a run
    that loaded no CheXNet file is never called CheXNet.
    """
    from .evaluation import MODEL_TITLES

    config = run_or_config.config if isinstance(run_or_config, Run) else run_or_config
    if not isinstance(config, dict) or config.get("model") not in MODEL_TITLES:
        model = config.get("model") if isinstance(config, dict) else config
        raise ConfigError(f"model={model!r} is not known; allowed: {', '.join(MODEL_TITLES)}")
    model = config["model"]
    if model not in DENSENET_MODELS:
        return MODEL_TITLES[model]
    weights = describe_weights(config.get("weights_used"), config.get("weights_reason"))
    return f"{MODEL_TITLES[model].split(':')[0]}: DenseNet121, {weights}"


def report_beside_published(run: Run, model: str | None = None) -> pd.DataFrame:
    """Per class, this run's precision, recall, F1 and support above the study's published ones.

    ``model``: whose published report to compare with (default: the run's model).
    Returns rows indexed by (``class``, ``source``), source "reproduced" (3
    decimals) or "study (published)" (2 decimals, as printed), and four columns
    ``precision``, ``recall``, ``f1-score`` (fractions) and ``support`` (test
    images, int): narrow enough for the book's column. Raises
    :class:`RunError` if the run's classes are not the study's.
    """
    from .evaluation import report_frame

    study = published_report(model or run.config["model"])
    reproduced = report_frame(run)
    classes = list(run.config["class_names"])
    if sorted(classes) != sorted(study.index):
        raise RunError(f"'{run.folder}' has classes {classes}; the study's report has {list(study.index)}.")
    columns = ["precision", "recall", "f1-score", "support"]
    parts = {"reproduced": reproduced.loc[classes, columns], "study (published)": study.loc[classes, columns]}
    frame = pd.concat(parts, names=["source", "class"]).swaplevel()
    frame = frame.reindex(pd.MultiIndex.from_product([classes, list(parts)], names=["class", "source"]))
    frame["support"] = frame["support"].astype(int)
    return frame


def headline(
    full: FullStudy | None,
    build: pd.DataFrame | None,
    profile: str,
    synthetic: bool = False,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Per model: the original study's accuracy, the full study's, and this build's (95 % intervals).

    ``build``: :func:`xray_utils.evaluation.results_table` of this build's study
    runs, or None. A model without a number shows "missing". Rows are named by
    ``labels[model]`` where given, else by :func:`model_label` of the full
    study's run (so model 4 says which weights it started from), else by the
    model's title.
    """
    from .evaluation import MODEL_TITLES, PUBLISHED, results_table

    def scored(table: pd.DataFrame | None) -> dict[str, str]:
        if table is None:
            return {}
        return {
            row.model: f"{row.test_accuracy:.3f} ({row.ci95_low:.3f} to {row.ci95_high:.3f})"
            for row in table.itertuples()
        }

    def label(model: str) -> str:
        if labels and model in labels:
            return labels[model]
        if full is not None and (model, "study") in full.runs:
            return model_label(full.runs[(model, "study")])
        return MODEL_TITLES[model]

    full_scores = scored(results_table(full.study_runs(), with_published=False) if full and full.runs else None)
    build_scores = scored(build)
    models = list(PUBLISHED.index)
    frame = pd.DataFrame(
        {
            "model": [label(m) for m in models],
            "original study (published)": [f"{PUBLISHED.loc[m, 'published_test_accuracy']:.3f}" for m in models],
            "full study, reproduced": [full_scores.get(m, "missing") for m in models],
            f"this build ({profile} profile{', SYNTHETIC data' if synthetic else ''})": [
                build_scores.get(m, "missing") for m in models
            ],
        }
    )
    return frame.set_index("model")


def _short(model: str) -> str:
    """ "Model 1" for ``m1``: the tables' row names, the same for the full study and this build."""
    from .evaluation import MODEL_TITLES

    return MODEL_TITLES[model].split(":")[0]


def _interval(frame: pd.DataFrame) -> list[str]:
    return [f"{low:.2f} to {high:.2f}" for low, high in zip(frame["ci95_low"], frame["ci95_high"])]


def _stacked(committed: dict, table, build: pd.DataFrame | None, profile: str) -> pd.DataFrame:
    """``table(evidence)`` of each committed study-protocol run, then this build's study rows, with a source column."""
    parts = [table(found).assign(model=m, source="full study") for (m, p), found in committed.items() if p == "study"]
    if build is not None and len(build):
        mine = build[build["protocol"] == "study"].drop(columns="protocol")
        parts.append(mine.assign(source=f"this build ({profile})"))
    return pd.concat(parts, ignore_index=True)


def held_out_beside(committed: dict, build: pd.DataFrame | None, profile: str) -> pd.DataFrame:
    """Per model and held-out class: the full study's recall (from its evidence) above this build's.

    ``committed``: :meth:`FullStudy.evidence`; ``build``: this build's
    :func:`xray_utils.explain.held_out_recall` (None: it had no held-out set).
    Study-protocol runs only. Indexed by (model, class, source); columns
    ``images``, ``recall``, ``95 % interval`` and ``called <class>`` counts.
    """
    frame = _stacked(committed, lambda found: found.recall(), build, profile)
    frame["95 % interval"] = _interval(frame)
    called = [column for column in frame.columns if column.startswith("called ")]
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["class"]))}
    frame = frame.assign(rank=frame["class"].map(order)).sort_values(["model", "rank", "source"], kind="stable")
    frame["model"] = frame["model"].map(_short)
    columns = ["images", "recall", "95 % interval", *called]
    return frame.set_index(["model", "class", "source"])[columns]


def occlusion_beside(committed: dict, build: pd.DataFrame | None, profile: str) -> pd.DataFrame:
    """Per model: the full study's occlusion scores (from its evidence) above this build's.

    ``build``: this build's :func:`xray_utils.explain.occlusion_table`. Indexed by
    (model, source); columns ``images``, ``as is``, ``chest hidden``, ``only chest shown``.
    """
    frame = _stacked(committed, lambda found: found.occlusion, build, profile)
    frame = frame.sort_values(["model", "source"], kind="stable")
    frame["model"] = frame["model"].map(_short)
    return frame.set_index(["model", "source"])[["images", "as is", "chest hidden", "only chest shown"]]
