"""Run folders, the storage layer: laid out, published atomically, read back without pickle, locked while written.

Nothing here builds a model, resolves weights or touches the network.

A run folder ``<runs_dir>/<model>-<protocol>-<key>/`` holds::

    config.json        the TrainConfig, the data fingerprint, the weights used
    environment.json   library versions, Keras backend, hardware, date
    split.csv          which file was in train / validation / test
    history.csv        one row per epoch (loss, accuracy, val_*, learning rate, seconds)
    predictions.npz    test indices, true labels, predicted probabilities (numbers only)
    metrics.json       test loss and accuracy, timings
    model.keras        the trained model
    COMPLETE           written last: only folders with it count as finished runs

Training writes into a hidden staging folder (``.<name>.incomplete-<pid>-<thread>``)
and renames it into place only when everything is written, so a crash or
Ctrl-C never leaves a half-written folder that looks finished, and never
touches the previous finished run of the same configuration.

Reading a run back checks what it reads: a damaged, empty or foreign file
(``model.keras`` that is not a Keras archive, a truncated ``.npz``, object
arrays, probabilities with NaN or the wrong number of columns) is a
:class:`RunError` naming the run folder and the file, never a wrong number.

A runs folder may be shared by several users. A run this user may not read is
a :class:`RunError` naming the folder and its owner; :func:`run_lock` refuses,
before anything is trained, a run this user could not publish (another user's
lock file, or another user's run folder that cannot be replaced, as in a sticky
folder, where only an entry's owner may rename or delete it).
"""

from __future__ import annotations

import errno
import json
import os
import platform
import pwd
import stat
import sys
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .config import TrainConfig
from .errors import RunError
from .files import atomic_write, exclusive_lock, remove_quietly, temporary_sibling
from .paths import default_runs_dir

if TYPE_CHECKING:
    from .data import ImageSet

COMPLETE = "COMPLETE"
ELSEWHERE = "point runs_dir elsewhere (--set runs_dir=/path, or XRAY_RUNS_DIR)"


def run_name(config: TrainConfig, key: str) -> str:
    return f"{config.model}-{config.protocol}-{key}"


def is_finished(folder: Path) -> bool:
    """Whether ``folder`` is a finished run; a :class:`RunError` naming its owner when this user may not look."""
    try:
        return (folder / COMPLETE).is_file()
    except PermissionError as exc:
        raise unreadable(folder, exc) from None


def owner(path: Path) -> str:
    """Who owns ``path``, for messages: ``user 'name'`` (``uid N`` without a name, ``another user`` unknown)."""
    try:
        uid = Path(path).lstat().st_uid
    except OSError:
        return "another user"
    try:
        return f"user '{pwd.getpwuid(uid).pw_name}'"
    except KeyError:
        return f"uid {uid}"


def _mode(path: Path) -> str:
    """``path``'s permissions as ``ls -l`` shows them (``drwxrwxrwt``), for messages."""
    try:
        return stat.filemode(Path(path).lstat().st_mode)
    except OSError:
        return "mode unknown"


def _may(path: Path, mode: int) -> bool:
    """``os.access`` for this process's effective user (the one that will read or write)."""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def unreadable(path: Path, exc: OSError) -> RunError:
    """The one-line error for a run folder or file this user may not read: what, whose, and what to do."""
    try:
        what = "Run folder" if stat.S_ISDIR(Path(path).lstat().st_mode) else "Run file"
    except OSError:
        what = "Run folder"
    return RunError(
        f"{what} '{path}' belongs to {owner(path)} and cannot be read by you ({exc.strerror or exc}; "
        f"{_mode(path)}). Ask its owner to share it (chmod -R a+rX), or {ELSEWHERE} to train your own."
    )


def write_json(path: Path, payload) -> None:
    """Write JSON atomically (:func:`xray_utils.files.atomic_write`)."""
    atomic_write(path, json.dumps(payload, indent=2, sort_keys=True, default=str))


def environment_record() -> dict:
    """Versions, backend and hardware: enough to say where a number came from."""
    import keras
    import sklearn

    backend = keras.backend.backend()
    record = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "keras": keras.__version__,
        "backend": backend,
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        # thread counts change the last digits of what a model learns (see `xray-book --jobs`)
        "intra_op_threads": os.environ.get("TF_NUM_INTRAOP_THREADS", "default"),
        # XLA's GPU kernels sum in no fixed order unless told to: say whether this run was
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "xla_gpu_deterministic_ops": "--xla_gpu_deterministic_ops=true" in os.environ.get("XLA_FLAGS", "").split(),
    }
    try:
        module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
        lib = __import__(module)
        record[f"{module}_version"] = lib.__version__
        if backend == "jax":
            record["devices"] = [str(d) for d in lib.devices()]
        elif backend == "tensorflow":
            record["devices"] = [d.name for d in lib.config.list_logical_devices()]
        else:
            record["devices"] = ["cuda"] if lib.cuda.is_available() else ["cpu"]
    except (ImportError, KeyError):
        pass
    return record


@dataclass
class Run:
    """A finished run folder, read back (no pickle anywhere)."""

    folder: Path
    config: dict
    metrics: dict
    history: pd.DataFrame
    environment: dict
    _model: object = field(default=None, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.folder.name

    def damaged(self, file: str, problem) -> RunError:
        """The error for a damaged file of this run: names the folder, the file and what is wrong."""
        return damaged(self.folder, file, problem)

    def predictions(self) -> dict[str, np.ndarray]:
        """``indices`` (N,), ``y_true`` (N,), ``y_prob`` (N, K) on the test part, checked."""
        try:
            with np.load(_plain_file(self.folder, "predictions.npz"), allow_pickle=False) as saved:
                found = {k: saved[k] for k in saved.files}
        except PermissionError as exc:
            raise unreadable(self.folder / "predictions.npz", exc) from None
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise self.damaged("predictions.npz", exc) from exc
        problem = prediction_problem(found, len(self.config.get("class_names") or []) or None)
        if problem:
            raise self.damaged("predictions.npz", problem)
        return found

    def split(self) -> pd.DataFrame:
        """``split.csv``: one row per image (``file``, ``class``, ``subset``)."""
        return _read(self.folder, "split.csv", pd.read_csv)

    def load_model(self):
        """The trained Keras model (``safe_mode=True``: no arbitrary code is run).

        Loaded once per ``Run`` and then shared, so a chapter that asks several
        times (heatmaps, occlusion, held-out data) pays for deserialising and
        for tracing the prediction function once. Treat it as read-only.
        """
        if self._model is None:
            path = self.folder / "model.keras"
            if not path.is_file():
                raise self.damaged("model.keras", "missing")
            if not _may(path, os.R_OK):  # else it would be called "not a Keras archive"
                raise unreadable(path, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
            if not zipfile.is_zipfile(path):
                raise self.damaged("model.keras", f"not a Keras archive ({path.stat().st_size} bytes)")
            problem = archive_problem(path)
            if problem:
                raise self.damaged("model.keras", problem)
            import keras

            try:
                self._model = keras.saving.load_model(path, safe_mode=True, compile=False)
            except Exception as exc:  # Keras raises many types for a damaged archive; all mean the same here
                raise self.damaged("model.keras", f"{type(exc).__name__}: {exc}") from exc
        return self._model

    @classmethod
    def load(cls, folder: str | Path) -> Run:
        folder = Path(folder)
        if not is_finished(folder):
            raise RunError(f"'{folder}' is not a finished run (no {COMPLETE} marker).")
        return cls(
            folder=folder,
            config=_read(folder, "config.json", _json_object),
            metrics=_read(folder, "metrics.json", _json_object),
            history=_read(folder, "history.csv", pd.read_csv),
            environment=_read(folder, "environment.json", _json_object),
        )


def damaged(folder: Path, file: str, problem) -> RunError:
    """A one-line :class:`RunError` for a damaged ``file`` in run ``folder``."""
    text = " ".join(str(problem).split()) or type(problem).__name__
    return RunError(f"Run folder '{folder}' is damaged: {file}: {text[:300]}. Delete the folder and retrain.")


# Bounds for files of run folders, which travel between machines and into the repository
# (committed and copied folders are untrusted input): far above what a run writes.
MAX_RUN_FILE_BYTES = 64 * 2**20  # config, metrics, history, split, predictions (a full run: under 1 MiB)
MAX_MODEL_BYTES = 2 * 2**30  # model.keras uncompressed (DenseNet121 at 192 px: about 100 MB)
MAX_MODEL_CONFIG_BYTES = 16 * 2**20  # its config.json (DenseNet121: about 0.4 MB)
MODEL_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}  # what Keras 3 writes for these models


def _plain_file(folder: Path, file: str) -> Path:
    """``folder / file`` if it is a regular file inside the folder of a sane size; else ``ValueError``."""
    path = folder / file
    if path.is_symlink():
        raise ValueError("is a symbolic link: run folders are read without following links")
    if path.is_file() and path.stat().st_size > MAX_RUN_FILE_BYTES:
        raise ValueError(f"{path.stat().st_size:,} bytes, more than a run writes ({MAX_RUN_FILE_BYTES:,} at most)")
    return path


def _json_object(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, found {type(value).__name__}")
    return value


def _read(folder: Path, file: str, reader):
    """``reader(folder / file)``, any failure being a :class:`RunError` naming the folder and the file."""
    try:
        return reader(_plain_file(folder, file))
    except PermissionError as exc:
        raise unreadable(folder / file, exc) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise damaged(folder, file, exc) from exc


def archive_problem(path: Path) -> str | None:
    """What is wrong with a ``model.keras`` archive before Keras extracts anything (None when sound).

    Keras extracts every member into the temporary folder before loading, and
    keeps the configuration in memory: unknown members, a configuration or a
    total far larger than these models are refused, so an untrusted file
    cannot fill the disk or the memory.
    """
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    unknown = sorted({m.filename for m in members} - MODEL_MEMBERS)
    if unknown:
        return f"unexpected member(s) {', '.join(unknown[:3])}{' ...' if len(unknown) > 3 else ''} in the archive"
    config = next((m for m in members if m.filename == "config.json"), None)
    if config is not None and config.file_size > MAX_MODEL_CONFIG_BYTES:
        return f"its config.json expands to {config.file_size:,} bytes (at most {MAX_MODEL_CONFIG_BYTES:,})"
    total = sum(m.file_size for m in members)
    if total > MAX_MODEL_BYTES:
        return f"it expands to {total:,} bytes (at most {MAX_MODEL_BYTES:,})"
    return None


def prediction_problem(saved: dict[str, np.ndarray], classes: int | None) -> str | None:
    """What is wrong with the arrays of a ``predictions.npz`` (None when they are sound)."""
    missing = {"indices", "y_true", "y_prob"} - set(saved)
    if missing:
        return f"missing array(s) {', '.join(sorted(missing))}"
    indices, y_true, y_prob = saved["indices"], saved["y_true"], saved["y_prob"]
    if indices.dtype.kind not in "iu" or y_true.dtype.kind not in "iu" or y_prob.dtype.kind != "f":
        return f"unexpected types ({indices.dtype}, {y_true.dtype}, {y_prob.dtype})"
    if y_prob.ndim != 2 or not len(indices) == len(y_true) == len(y_prob):
        return f"inconsistent shapes {indices.shape}, {y_true.shape}, {y_prob.shape}"
    if classes is not None and y_prob.shape[1] != classes:
        return f"y_prob has {y_prob.shape[1]} columns for {classes} classes"
    if not np.isfinite(y_prob).all() or y_prob.min(initial=0) < 0 or y_prob.max(initial=0) > 1 + 1e-6:
        return "y_prob holds values that are not probabilities (NaN, infinite or outside [0, 1])"
    if len(y_prob) and not np.allclose(y_prob.sum(axis=1), 1.0, atol=1e-3):
        worst = int(np.abs(y_prob.sum(axis=1) - 1).argmax())
        return f"y_prob rows must sum to 1 within 1e-3 (row {worst} sums to {y_prob[worst].sum():.4g})"
    if len(y_true) and (y_true.min() < 0 or y_true.max() >= y_prob.shape[1]):
        return "y_true holds labels outside the classes"
    return None


@contextmanager
def run_lock(runs_dir: Path, name: str):
    """Hold the lock of run ``name`` (``<runs_dir>/.<name>.lock``) to write it, or fail at once.

    Fails naming the process that holds it, or, before anything is trained, when
    this user could not publish the run there (:func:`publish_problem`).
    """

    def busy(holder: str) -> RunError:
        return RunError(
            f"Another process is training run '{name}' in '{runs_dir}' right now ({holder}; "
            f"lock file {runs_dir / f'.{name}.lock'}). Wait for it, or use another runs_dir."
        )

    runs_dir = Path(runs_dir)
    lock = runs_dir / f".{name}.lock"
    _check_lock_opens(runs_dir, name, lock)
    with exclusive_lock(lock, f"training {name}", busy):
        problem = publish_problem(runs_dir, name)
        if problem:
            raise RunError(
                f"Run '{name}' cannot be trained in '{runs_dir}' by you: {problem}. Nothing was trained. "
                f"Ask its owner to retrain or remove it, or {ELSEWHERE}."
            )
        yield


def _check_lock_opens(runs_dir: Path, name: str, lock: Path) -> None:
    """Open (or create) the lock file once, so a folder or lock this user may not write is named before training."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a"):
            pass
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM) and lock.exists():  # another user's lock file
            raise RunError(
                f"The lock file '{lock}' belongs to {owner(lock)} and you cannot open it ({exc.strerror}; "
                f"{_mode(lock)}), so run '{name}' cannot be trained in '{runs_dir}' by you. Ask its owner to make "
                f"it writable for you (chmod g+w or a+w), or {ELSEWHERE}; finished runs in it can still be read."
            ) from None
        whose = f", which belongs to {owner(runs_dir)}," if exc.errno in (errno.EACCES, errno.EPERM) else ""
        raise RunError(
            f"The runs folder '{runs_dir}'{whose} cannot be written ({exc.strerror or exc}), and run '{name}' must "
            f"be trained and saved there. {ELSEWHERE[0].upper()}{ELSEWHERE[1:]}; finished runs in it can still be read."
        ) from None


def publish_problem(runs_dir: Path, name: str) -> str | None:
    """Why this user could not publish run ``name`` in ``runs_dir`` (None when it can).

    Publishing renames a staging folder into ``runs_dir`` and, for a retrain,
    renames the old run aside and deletes it. ``os.access`` does not know the
    sticky bit, so that rule (only the entry's or the folder's owner may rename
    or delete an entry) is checked here by hand. Root may do all of it.
    """
    if not _may(runs_dir, os.W_OK | os.X_OK):
        return f"the runs folder belongs to {owner(runs_dir)} and you may not write in it ({_mode(runs_dir)})"
    final = runs_dir / name
    me = os.geteuid()
    try:
        final_uid, folder = final.lstat().st_uid, runs_dir.stat()
    except FileNotFoundError:
        return None  # a new run: its staging folder is this user's to rename
    if me in (0, final_uid):
        return None
    if folder.st_mode & stat.S_ISVTX and me != folder.st_uid:
        return (
            f"its folder '{final}' belongs to {owner(final)}, and the runs folder '{runs_dir}' is sticky "
            f"({_mode(runs_dir)}), where only an entry's owner may rename or delete it"
        )
    if final.is_dir() and not _may(final, os.R_OK | os.W_OK | os.X_OK):
        return (
            f"its folder '{final}' belongs to {owner(final)}, and you cannot delete its files "
            f"({_mode(final)}): replacing it would leave them behind, hidden"
        )
    return None


def staging_folder(runs_dir: Path, name: str) -> Path:
    """The hidden folder a run is written in before :func:`publish`: ``.<name>.incomplete-<pid>-<thread>``."""
    return temporary_sibling(runs_dir / name, "incomplete")


def stale_attempts(runs_dir: Path, name: str) -> list[Path]:
    """Staging folders of earlier attempts that were interrupted or crashed."""
    return sorted(runs_dir.glob(f".{name}.incomplete-*"))


def recover(runs_dir: Path, name: str) -> Path | None:
    """Finish a publish of run ``name`` that was killed between its two renames; the run folder, or None.

    :func:`publish` moves the old finished run aside (``.<name>.replaced-*``)
    before moving the new one in. Killed in between, neither is visible: the
    complete new run is published now (else the old one is put back), and the
    set-aside copies go. Does nothing while another process holds the run's lock.
    """
    final = Path(runs_dir) / name
    replaced = sorted(Path(runs_dir).glob(f".{name}.replaced-*"))
    if is_finished(final) and not replaced:
        return final
    complete = [p for p in stale_attempts(Path(runs_dir), name) if _finished_hidden(p)]
    if not replaced and not complete:
        return None
    try:
        with run_lock(Path(runs_dir), name):
            if not final.exists():
                candidates = complete or [p for p in replaced if _finished_hidden(p)]
                if candidates:
                    os.replace(candidates[-1], final)
            if is_finished(final):
                for stray in Path(runs_dir).glob(f".{name}.replaced-*"):
                    remove_quietly(stray)
    except RunError:  # another process is publishing it right now, or this user may not
        return None
    except PermissionError:  # another user's hidden copy, in a sticky folder: it stays theirs
        return None
    return final if is_finished(final) else None


def _finished_hidden(folder: Path) -> bool:
    """:func:`is_finished` for a hidden copy: another user's that this user may not read counts as unfinished."""
    try:
        return is_finished(folder)
    except RunError:
        return False


def publish(staging: Path, final: Path) -> None:
    """Mark ``staging`` complete and move it to ``final``, replacing an older finished run.

    Two renames (old run aside, new run in); a process killed between them leaves
    both complete copies, hidden, and :func:`recover` finishes the job.
    """
    atomic_write(staging / COMPLETE, time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    if final.exists():
        retired = temporary_sibling(final, "replaced")
        try:  # run_lock checked this before training; another user may have changed the folder since
            os.replace(final, retired)
        except OSError as exc:
            raise RunError(
                f"Run folder '{final}', which belongs to {owner(final)}, could not be replaced ({exc.strerror or exc}); "
                f"it is untouched, and the new run is kept, complete, in '{staging}'. Move it elsewhere, or {ELSEWHERE}."
            ) from None
        os.replace(staging, final)
        remove_quietly(retired)
    else:
        os.replace(staging, final)


def find_run(config: TrainConfig, imageset: ImageSet, runs_dir=None) -> Path:
    """Where the run of ``config`` on ``imageset`` lives (finished or not).

    Depends only on the configuration as asked for and the data's fingerprint,
    never on this machine (model 4's ``weights="auto"`` is not resolved here).
    """
    folder = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    return folder / run_name(config, config.key(imageset.fingerprint))
