"""One ``xray-book`` at a time per output folder.

Two ``xray-book run`` processes writing the same ``book/chapters/`` would
overwrite each other's executed chapters (and a failing one would point at a
traceback the other had already replaced). :func:`output_lock` holds the
package's one lock (:func:`xray_utils.files.exclusive_lock`) on
``<folder>/.xray-book.lock`` for the whole run or build; a second process fails
at once, naming the first. The lock goes with the process: a crashed or killed
``xray-book`` never leaves the folder locked. The same process may take it
again (``xray-book all`` runs, then builds).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from ..errors import XrayError
from ..files import exclusive_lock

LOCK_NAME = ".xray-book.lock"


@contextmanager
def output_lock(folder: Path, what: str):
    """Hold ``folder``'s lock while the block runs, or raise :class:`XrayError` at once."""
    folder = Path(folder).resolve()

    def busy(holder: str) -> XrayError:
        return XrayError(
            f"another xray-book is using {folder} right now ({holder}). Wait for it to finish "
            f"and run again; two runs into one folder would overwrite each other's chapters."
        )

    with exclusive_lock(folder / LOCK_NAME, f"`{what}`", busy, reentrant=True):
        yield
