"""Which starting weights model 4 gets: a CheXNet file, ImageNet, or none.

No Keras import at module level, so chapters that only read finished runs start fast.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from pathlib import Path

from .errors import RunError
from .paths import project_root

CHEXNET_FILE = "brucechou1983_CheXNet_Keras_0.3.0_weights.h5"
CHEXNET_ENV = "XRAY_CHEXNET_WEIGHTS"
# What keras.applications.DenseNet121(weights="imagenet", include_top=False) fetches.
_IMAGENET_FILE = "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"
_IMAGENET_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/densenet/{_IMAGENET_FILE}"
_IMAGENET_MD5 = "30ee3e1110167f948a6b9946edeeb738"


def _imagenet_available(timeout: float = 20.0) -> bool:
    """Whether DenseNet121's ImageNet weights are in Keras' cache, fetching them now if they are not.

    This *is* the download ``DenseNet121(weights="imagenet")`` would do next (same
    file, cache and checksum, so the model then loads it from the cache): whether a
    host answers says nothing about a proxy, a firewall or a download cut short, and
    a wrong "yes" would stop the training where ``auto`` should fall back. Offline
    it fails at once (no name resolution) or after ``timeout`` seconds without an
    answer; Keras' download messages are kept out of the chapter's output.
    """
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # Keras' get_file takes no timeout; urllib uses this default
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            keras.utils.get_file(_IMAGENET_FILE, _IMAGENET_URL, cache_subdir="models", file_hash=_IMAGENET_MD5)
        return True
    except Exception:  # offline or a corrupt download: urllib errors, wrapped in several types
        return False
    finally:
        socket.setdefaulttimeout(previous)


def find_chexnet_file() -> Path | None:
    """``$XRAY_CHEXNET_WEIGHTS``, else ``weights/<CheXNet file>`` in the project, if present."""
    for candidate in (os.environ.get(CHEXNET_ENV), project_root() / "weights" / CHEXNET_FILE):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def resolve_weights(requested: str) -> tuple[str, str]:
    """``(weights, why)`` for m4: a CheXNet file, ``"imagenet"`` or ``"none"``.

    ``"auto"`` takes the CheXNet-Keras file when the user supplied one
    (``$XRAY_CHEXNET_WEIGHTS`` or ``weights/``), else ImageNet when it is cached
    or can be downloaded now, else random initialisation.
    """
    if requested == "auto":
        chexnet = find_chexnet_file()
        if chexnet is not None:
            return str(chexnet), f"CheXNet weights ({chexnet.name})"
        if _imagenet_available():
            return "imagenet", "ImageNet weights (no CheXNet file supplied)"
        return "none", "random initialisation: no CheXNet file supplied and ImageNet weights unreachable (offline)"
    if requested == "chexnet":
        chexnet = find_chexnet_file()
        if chexnet is None:
            raise RunError(f"weights='chexnet' but no {CHEXNET_FILE} found: put it in 'weights/' or set {CHEXNET_ENV}.")
        return str(chexnet), f"CheXNet weights ({chexnet.name})"
    if requested == "imagenet":
        return "imagenet", "ImageNet weights (asked for)"
    if requested == "none":
        return "none", "random initialisation (asked for)"
    return requested, f"weights from {requested}"


def describe_weights(weights_used: str | None, reason: str | None = None) -> str:
    """Model 4's starting weights in words, from a run's ``weights_used`` (what :func:`resolve_weights` gave).

    ``"none"`` is "random initialisation", ``"imagenet"`` "ImageNet weights", a
    weights file "CheXNet weights" when its name (or the run's ``weights_reason``)
    says CheXNet, else "weights from <file name>"; a run that did not record its
    weights (None or "") is "weights not recorded". Never "CheXNet" unless a
    CheXNet file was loaded.
    """
    if weights_used is None or weights_used == "":
        return "weights not recorded"
    if not isinstance(weights_used, str):
        raise RunError(f"weights_used={weights_used!r} is not a weights name: expected 'none', 'imagenet' or a path")
    if weights_used in ("none", "imagenet"):
        return {"none": "random initialisation", "imagenet": "ImageNet weights"}[weights_used]
    if weights_used in ("auto", "chexnet"):
        raise RunError(f"weights_used={weights_used!r} is a request, not resolved weights: see resolve_weights")
    name = Path(weights_used).name
    if "chexnet" in name.lower() or (reason or "").startswith("CheXNet weights"):
        return "CheXNet weights"
    return f"weights from {name}"
