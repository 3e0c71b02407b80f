"""Which Keras backend this process will use, and a clear error when it is not installed.

The package does not depend on a backend (``pip install xray-cnn-book`` keeps the
TensorFlow or JAX an environment already has, e.g. Colab's GPU TensorFlow), so a
bare environment can lack one. Keras would then fail deep inside its own import
with ``No module named 'tensorflow'``; ``import xray_utils`` checks first (without
importing any backend) and says what to install or set instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

from .errors import XrayError

# Keras backend name -> the module it imports.
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy", "openvino": "openvino"}


class BackendError(XrayError, ImportError):
    """The Keras backend this process would use is not installed."""


def _keras_json() -> Path:
    """Where Keras keeps its config file (the same rule as keras.src.backend.config)."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]) / "keras.json"
    home = Path(os.path.expanduser("~"))
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras" / "keras.json"


def selected_backend() -> tuple[str, str]:
    """(backend, where the choice came from): ``KERAS_BACKEND``, keras.json, or Keras' default."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    config = _keras_json()
    try:
        backend = json.loads(config.read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    if backend:
        return backend, str(config)
    return "tensorflow", "Keras' default (KERAS_BACKEND is not set)"


def _importable(module: str, find: Callable = importlib.util.find_spec) -> bool:
    try:
        return find(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[module] is None or has no spec
        return False


def backend_problem(find: Callable = importlib.util.find_spec) -> str | None:
    """Why Keras cannot start here (one message naming the fix), or None when its backend is installed."""
    backend, source = selected_backend()
    module = BACKEND_MODULES.get(backend)
    installed = [b for b in ("tensorflow", "jax", "torch") if _importable(BACKEND_MODULES[b], find)]
    if module is None:  # Keras would fail deep inside its import, with a traceback
        return (
            f"the Keras backend '{backend}' (from {source}) is not one Keras knows; use one of "
            f"{', '.join(BACKEND_MODULES)}" + (f" (installed here: {', '.join(installed)})" if installed else "")
        )
    if _importable(module, find):
        return None
    if installed:
        hint = f"installed here: {', '.join(installed)}; set KERAS_BACKEND={installed[0]} (before any import)"
    else:
        hint = (
            "no backend is installed here; install one: pip install 'xray-cnn-book[tf-cpu]' "
            "(TensorFlow CPU, what `make` installs), or tensorflow / jax for your GPU"
        )
    return f"the Keras backend '{backend}' (from {source}) is not installed: {hint}"


def require_backend(find: Callable = importlib.util.find_spec) -> None:
    """Raise :class:`BackendError` unless the backend Keras will load can be imported."""
    problem = backend_problem(find)
    if problem:
        raise BackendError(problem)
