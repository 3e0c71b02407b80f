"""Publishing files and folders safely: one atomic writer, one lock.

Everything the package writes for others to read (run folders, the decoded-image
cache, the synthetic stand-in, timings, executed chapters' records) is written
under a hidden temporary name in the same folder and renamed into place, so a
reader never sees half a file, and a crash leaves at most a hidden stray.

:func:`exclusive_lock` is the one lock: an ``flock`` on a lock file that fails
at once when another process holds it (naming that process, which it records in
the file), may be taken again by the process holding it, and goes with the
process, so a killed holder never leaves anything locked. (``filelock``, the
usual library, truncates the lock file when a second process tries it, which
would erase the description of the holder the error message names.)
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_held: dict[Path, int] = {}  # lock files this process holds, with how many times it entered
_guard = threading.Lock()


def temporary_sibling(path: Path, tag: str = "tmp", suffix: str = "") -> Path:
    """A hidden name beside ``path``, unique to this process and thread: ``.<name>.<tag>-<pid>-<thread><suffix>``."""
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}-{threading.get_ident()}{suffix}")


@contextmanager
def atomic_path(path: str | Path, tag: str = "tmp") -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; rename it into place on success.

    Works for a file or a folder. On any failure the temporary copy is removed
    and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path, tag)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def atomic_write(path: str | Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")


def remove_quietly(path: Path) -> None:
    """Remove a file or folder if it is there; never raises (used to clean up after a failure)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


@contextmanager
def exclusive_lock(
    path: str | Path, holder: str, busy: Callable[[str], Exception], *, reentrant: bool = False
) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` while the block runs, or raise ``busy(description)`` at once.

    ``holder`` describes this process's work (recorded in the file with its pid
    and the time); ``busy`` builds the error from the holder's description.
    ``reentrant``: the process holding the lock may take it again (else a second
    taker in the same process, another thread say, is refused like any other).
    """
    path = Path(path).resolve()
    with _guard:
        reentered = reentrant and path in _held
        if reentered:
            _held[path] += 1
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise busy(handle.read().strip() or "another process") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, {holder}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        with _guard:
            _held[path] = _held.get(path, 0) + 1
        try:
            yield
        finally:
            with _guard:
                _held[path] -= 1
                if not _held[path]:
                    del _held[path]
            fcntl.flock(handle, fcntl.LOCK_UN)
