"""Speed settings for accelerators that change no result: JAX's persistent compilation cache.

Under ``KERAS_BACKEND=jax`` every new input shape of a training, evaluation or
prediction step is compiled by XLA; DenseNet121 at 192 px takes minutes of that
in its first epoch. JAX can keep compiled programs on disk and load them in the
next process instead of compiling again. The cache key covers the program, the
compiler options, the device and the JAX/XLA versions, so a cached program is
the one that would have been compiled: it changes speed, never numbers.

Where the cache lives: ``$XRAY_JAX_CACHE_DIR`` if set (``off`` disables it),
else JAX's own ``JAX_COMPILATION_CACHE_DIR`` if set, else
``<project cache dir>/jax-compilation`` (see :mod:`xray_utils.paths`). JAX
treats the cache as trusted code: keep it in a folder only you can write.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from .paths import default_cache_dir

CACHE_ENV = "XRAY_JAX_CACHE_DIR"
OFF = {"off", "0", "false", "no", "none"}

# Programs that compile faster than this are not written (JAX's default is 1 s). The small
# CNNs' steps compile in about a second on a GPU and are worth keeping; the floor only keeps
# trivial helper programs (a few ms each) from filling the folder with thousands of files.
MIN_COMPILE_SECONDS = 0.5


def cache_dir_setting() -> Path | None:
    """The folder the cache should use, or None when ``$XRAY_JAX_CACHE_DIR`` is ``off``."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in OFF:
        return None
    if value:
        return Path(value).expanduser()
    jax_own = os.environ.get("JAX_COMPILATION_CACHE_DIR", "").strip()
    return Path(jax_own).expanduser() if jax_own else default_cache_dir() / "jax-compilation"


def enable_compilation_cache(
    path: str | Path | None = None, *, min_compile_seconds: float = MIN_COMPILE_SECONDS
) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` (default: :func:`cache_dir_setting`).

    Returns the folder in use, or None when the backend is not JAX or the cache
    is switched off (``XRAY_JAX_CACHE_DIR=off``). Idempotent: calling it again
    with the same folder changes nothing; a different folder moves the cache.
    ``min_compile_seconds``: programs that compiled faster are not stored.
    """
    if keras.backend.backend() != "jax":
        return None
    folder = Path(path).expanduser() if path is not None else cache_dir_setting()
    if folder is None:
        return None
    import jax

    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    # -1: store entries of any size (0 would let JAX pick a filesystem-dependent floor).
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    if jax.config.jax_compilation_cache_dir != str(folder):
        _move_cache(str(folder))
    return folder


def _move_cache(folder: str) -> None:
    """Point JAX at ``folder``; JAX opens its cache once per process, so a move must reset it."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_enable_compilation_cache", True)
    compilation_cache.reset_cache()  # harmless when nothing was opened yet
