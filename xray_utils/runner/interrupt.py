"""Ctrl-C during ``xray-book run``: the chapters' kernels stop at once, and quietly.

jupyter_client starts each kernel in a session of its own, so a terminal's
Ctrl-C reaches ``xray-book`` only. Left to papermill, what follows is wrong
either way: with one chapter at a time, the kernel is interrupted and, at
once, told to shut down, and ipykernel closes its socket under the
interrupted cell's reply (a ``ZMQError`` traceback on the terminal); with
chapters side by side (threads), nothing tells their kernels at all, and
``xray-book`` waits until each chapter has run to its end.

Nothing of an interrupted chapter is kept (its executed copy is incomplete
either way, and a run being trained stays a hidden staging folder, which the
next run discards), so while chapters run, the first Ctrl-C kills every
kernel this process started (its whole process group) and only then raises
``KeyboardInterrupt``, which ``xray-book`` reports with exit status 130.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

# The kernels this process started and has not cleaned up, by id of their manager. A plain
# dict: the Ctrl-C handler copies it in one step, while threads add and remove entries.
_kernels: dict[int, object] = {}
_stopping = threading.Event()


def started(manager) -> None:
    """Record a kernel just started (``manager``: its jupyter_client kernel manager).

    A kernel that started while Ctrl-C was being handled is killed at once.
    """
    _kernels[id(manager)] = manager
    if _stopping.is_set():
        _kill(manager)


def finished(manager) -> None:
    """Forget a kernel whose resources are being cleaned up."""
    _kernels.pop(id(manager), None)


def stopping() -> bool:
    """Whether Ctrl-C was pressed: start no further chapter."""
    return _stopping.is_set()


def _kill(manager) -> None:
    """Kill a kernel's process group, if its process has not been reaped (so its pid is still its own)."""
    provisioner = getattr(manager, "provisioner", None)
    process = getattr(provisioner, "process", None)
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(getattr(provisioner, "pgid", None) or process.pid, signal.SIGKILL)
    except OSError:  # not a group of its own after all: the kernel itself
        process.kill()


@contextmanager
def kernels_killed_on_ctrl_c():
    """While the block runs, Ctrl-C kills the chapters' kernels and then raises ``KeyboardInterrupt``.

    Only the main thread may handle signals; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_ctrl_c(signum, frame):
        _stopping.set()
        for manager in list(_kernels.values()):
            _kill(manager)
        raise KeyboardInterrupt

    _stopping.clear()
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _stopping.clear()
