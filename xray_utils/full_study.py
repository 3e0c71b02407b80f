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

import numpy as np
import pandas as pd

from .config import TrainConfig
from .data.loading import data_fingerprint
from .errors import ConfigError, RunError
from .params import resolve_params
from .paths import project_root
from .run_folders import Run, run_name

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

    @property
    def title(self) -> str:
        """E.g. "the full study, run on one NVIDIA H100 80GB GPU, 2026-11-27"."""
        return (
            f"the full study, run on {self.source.get('hardware', 'unknown hardware')}, {self.source.get('date', '?')}"
        )

    def study_runs(self) -> dict[tuple[str, str], Run]:
        return {key: run for key, run in self.runs.items() if key[1] == "study"}

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


def headline(full: FullStudy | None, build: pd.DataFrame | None, profile: str, synthetic: bool = False) -> pd.DataFrame:
    """Per model: the original study's accuracy, the full study's, and this build's (95 % intervals).

    ``build``: :func:`xray_utils.evaluation.results_table` of this build's study
    runs, or None. A model without a number shows "missing".
    """
    from .evaluation import MODEL_TITLES, PUBLISHED, results_table

    def scored(table: pd.DataFrame | None) -> dict[str, str]:
        if table is None:
            return {}
        return {
            row.model: f"{row.test_accuracy:.3f} ({row.ci95_low:.3f} to {row.ci95_high:.3f})"
            for row in table.itertuples()
        }

    full_scores = scored(results_table(full.study_runs(), with_published=False) if full and full.runs else None)
    build_scores = scored(build)
    models = list(PUBLISHED.index)
    frame = pd.DataFrame(
        {
            "model": [MODEL_TITLES[m] for m in models],
            "original study (published)": [f"{PUBLISHED.loc[m, 'published_test_accuracy']:.3f}" for m in models],
            "full study, reproduced": [full_scores.get(m, "missing") for m in models],
            f"this build ({profile} profile{', SYNTHETIC data' if synthetic else ''})": [
                build_scores.get(m, "missing") for m in models
            ],
        }
    )
    return frame.set_index("model")
