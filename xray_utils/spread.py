"""The quick profile's seed spread (``results/quick-seeds/``): how far its accuracies move with the seed.

The ``quick`` profile trains on a few hundred small images for a few epochs, so
one build's accuracy says little on its own: another seed (or another machine)
gives another number. ``accuracy.csv`` holds one row per run of the quick
profile under several seeds, ``machine.json`` where they ran; both are numbers
only (no images, no weights) and committed, so a chapter can set this build's
accuracy beside the measured range::

    python -m xray_utils.spread <runs_dir> <out_dir>    # (re)write accuracy.csv and machine.json
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError, RunError
from .evaluation import rate_cuts
from .files import atomic_write
from .paths import project_root
from .run_folders import Run, is_finished

# Column -> type of accuracy.csv; test_accuracy is test_correct / test_images, kept at full float precision.
COLUMNS = {
    "model": str,
    "protocol": str,
    "seed": int,
    "test_accuracy": float,
    "test_images": int,
    "test_correct": int,
    "epochs_run": int,
    "rate_cuts": int,
    "train_seconds": float,
}
WITHIN = "within the measured range"


def seeds_dir() -> Path:
    """``<project>/results/quick-seeds``: where the committed seed spread lives."""
    return project_root() / "results" / "quick-seeds"


def run_row(run: Run) -> dict:
    """One row of ``accuracy.csv`` for a finished run; ``train_seconds`` is ``model.fit``'s wall time (s)."""
    predicted = run.predictions()
    images = len(predicted["y_true"])
    correct = int((predicted["y_prob"].argmax(1) == predicted["y_true"]).sum())
    try:
        cuts = len(rate_cuts(run))
    except KeyError as exc:
        raise run.damaged("history.csv", f"no column {exc}") from exc
    try:
        return {
            "model": str(run.config["model"]),
            "protocol": str(run.config["protocol"]),
            "seed": int(run.config["seed"]),
            "test_accuracy": correct / images,
            "test_images": images,
            "test_correct": correct,
            "epochs_run": int(run.metrics["epochs_run"]),
            "rate_cuts": cuts,
            "train_seconds": float(run.metrics["seconds_fit"]),
        }
    except KeyError as exc:
        file = "config.json" if exc.args[0] in ("model", "protocol", "seed") else "metrics.json"
        raise run.damaged(file, f"no entry {exc}") from exc


def finished_runs(runs_dir: str | Path) -> list[Run]:
    """The finished run folders directly under ``runs_dir`` (staging and unfinished folders skipped)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunError(f"'{runs_dir}' is not a runs folder (no such directory).")
    folders = sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".") and is_finished(p))
    if not folders:
        raise RunError(f"'{runs_dir}' holds no finished run folder.")
    return [Run.load(folder) for folder in folders]


def collect(runs_dir: str | Path) -> pd.DataFrame:
    """One row per finished run in ``runs_dir`` (columns :data:`COLUMNS`), sorted by model, protocol, seed.

    Raises :class:`RunError` when two runs share model, protocol and seed: the
    folder then mixes configurations (profiles), and the spread would too.
    """
    frame = pd.DataFrame([run_row(run) for run in finished_runs(runs_dir)], columns=list(COLUMNS))
    twice = frame[frame.duplicated(["model", "protocol", "seed"], keep=False)]
    if len(twice):
        first = twice.iloc[0]
        raise RunError(
            f"'{runs_dir}' holds {len(twice)} runs of {first.model}/{first.protocol} with seed {first.seed}: "
            "different configurations in one folder. Use one runs folder per profile."
        )
    return frame.sort_values(["model", "protocol", "seed"], ignore_index=True)


def cpu_name() -> str:
    """This machine's CPU model (``lscpu``'s "Model name", from ``/proc/cpuinfo``), else the platform's word."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_record(runs: list[Run]) -> dict:
    """CPU (of the machine this runs on: collect where you trained), cores, versions and dates of ``runs``."""

    def values(key: str) -> str:
        return ", ".join(sorted({str(run.environment.get(key, "?")) for run in runs}))

    dates = sorted(str(run.environment.get("date_utc", "?"))[:10] for run in runs)
    return {
        "cpu": cpu_name(),
        "cores": values("cpu_count"),
        "python": values("python"),
        "tensorflow": values("tensorflow_version"),
        "keras": values("keras"),
        "backend": values("backend"),
        "date": dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}",
    }


def write_spread(runs_dir: str | Path, out_dir: str | Path) -> pd.DataFrame:
    """Write ``accuracy.csv`` (:func:`collect`) and ``machine.json`` into ``out_dir`` atomically; return the rows."""
    out_dir = Path(out_dir)
    frame = collect(runs_dir)
    atomic_write(out_dir / "accuracy.csv", frame.to_csv(index=False))
    record = machine_record(finished_runs(runs_dir))
    atomic_write(out_dir / "machine.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    return frame


def _checked(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame`` with :data:`COLUMNS`' types, or :class:`RunError` naming ``path`` and the first bad column."""
    if frame.empty:
        raise RunError(f"'{path}' has no rows.")
    for column, kind in COLUMNS.items():
        if column not in frame:
            raise RunError(f"'{path}' lacks column '{column}' (expected: {', '.join(COLUMNS)}).")
        values = frame[column] if kind is str else pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna()
        if kind is not str:
            bad |= ~np.isfinite(values.fillna(0))
            if kind is int:
                bad |= values.fillna(0) % 1 != 0
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise RunError(
                f"'{path}' column '{column}', data row {row + 1}: {frame[column].iloc[row]!r} is not a {kind.__name__}."
            )
        frame[column] = values.astype(kind)
    accuracy = frame["test_correct"] / frame["test_images"]
    off = ((accuracy - frame["test_accuracy"]).abs() > 1e-9) | (frame["test_images"] <= 0)
    if off.any():
        row = int(off.to_numpy().argmax())
        raise RunError(f"'{path}' column 'test_accuracy', data row {row + 1}: not test_correct / test_images.")
    return frame


@dataclass(frozen=True)
class QuickSpread:
    """The committed seed spread: ``accuracies`` (rows of ``accuracy.csv``) and the ``machine`` they ran on."""

    accuracies: pd.DataFrame
    machine: str
    source: Path

    def _accuracies(self, model: str, protocol: str) -> pd.Series:
        rows = self.accuracies[(self.accuracies["model"] == model) & (self.accuracies["protocol"] == protocol)]
        if rows.empty:
            pairs = sorted(set(zip(self.accuracies["model"], self.accuracies["protocol"])))
            raise ConfigError(
                f"'{self.source}' has no runs of {model}/{protocol}; it has "
                + ", ".join(f"{m}/{p}" for m, p in pairs)
                + "."
            )
        return rows["test_accuracy"]

    def range_of(self, model: str, protocol: str) -> tuple[float, float, int]:
        """(lowest, highest test accuracy, number of seeds) of ``model`` under ``protocol``."""
        values = self._accuracies(model, protocol)
        return float(values.min()), float(values.max()), int(len(values))

    def table(self, build: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
        """Per model and protocol: ``seeds``, ``min``, ``median``, ``max`` test accuracy (fractions).

        With ``build`` (``{(model, protocol): accuracy}``), also ``this build`` and
        :data:`WITHIN`: "yes" inside [min, max], "above" or "below" outside; both
        missing (NaN) where ``build`` has no number for that row.
        """
        table = (
            self.accuracies.groupby(["model", "protocol"], sort=False)["test_accuracy"]
            .agg(seeds="count", min="min", median="median", max="max")
            .reset_index()
        )
        if build is None:
            return table
        for key, value in build.items():
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"build accuracy for {key} is {value!r}: use a fraction from 0 to 1.")
        ours = [build.get((m, p)) for m, p in zip(table["model"], table["protocol"])]
        table["this build"] = [float("nan") if a is None else float(a) for a in ours]
        table[WITHIN] = [
            None if a is None else "below" if a < low else "above" if a > high else "yes"
            for a, low, high in zip(ours, table["min"], table["max"])
        ]
        return table


def _machine(path: Path) -> str:
    if not path.is_file():
        return "an unrecorded machine"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return f"{record['cpu']}, {record['cores']} cores"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"'{path}' is not a machine record ({type(exc).__name__}: {exc}).") from exc


def quick_spread(folder: str | Path | None = None) -> QuickSpread | None:
    """The committed spread in ``folder`` (default :func:`seeds_dir`), or None when it has no ``accuracy.csv``.

    Raises :class:`RunError` naming the file (and column) when it is malformed.
    """
    folder = Path(folder) if folder is not None else seeds_dir()
    path = folder / "accuracy.csv"
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, dtype={"model": str, "protocol": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise RunError(f"'{path}' is not a readable CSV ({type(exc).__name__}: {exc}).") from exc
    return QuickSpread(_checked(frame, path), _machine(folder / "machine.json"), path)


def main(argv: list[str] | None = None) -> int:
    """``python -m xray_utils.spread <runs_dir> <out_dir>``: write the spread of the runs in ``runs_dir``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    frame = write_spread(*args)
    print(f"{len(frame)} runs, seeds {sorted(frame['seed'].unique().tolist())}, written to {args[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
