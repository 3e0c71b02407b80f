"""One ``xray-book`` at a time per output folder.

Two ``xray-book run`` processes writing the same ``book/chapters/`` would
overwrite each other's executed chapters (and a failing one would point at a
traceback the other had already replaced). :func:`output_lock` holds an
exclusive ``flock`` on ``<folder>/.xray-book.lock`` for the whole run or build;
a second process fails at once, naming the first. The lock goes with the
process: a crashed or killed ``xray-book`` never leaves the folder locked.
The same process may take it again (``xray-book all`` runs, then builds).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import XrayError

LOCK_NAME = ".xray-book.lock"
_held: dict[Path, int] = {}  # folders this process holds, with how many times it entered
_guard = threading.Lock()


@contextmanager
def output_lock(folder: Path, what: str):
    """Hold ``folder``'s lock while the block runs, or raise :class:`XrayError` at once."""
    folder = Path(folder).resolve()
    with _guard:
        if folder in _held:
            _held[folder] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[folder] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise XrayError(
                f"another xray-book is using {folder} right now ({holder}). Wait for it to finish "
                f"and run again; two runs into one folder would overwrite each other's chapters."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, `{what}`, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        with _guard:
            _held[folder] = 1
        try:
            yield
        finally:
            with _guard:
                del _held[folder]
            fcntl.flock(handle, fcntl.LOCK_UN)
