"""Which starting weights model 4 gets: a CheXNet file, ImageNet, or none.

No Keras import here, so chapters that only read finished runs start fast.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from .errors import RunError
from .paths import project_root

CHEXNET_FILE = "brucechou1983_CheXNet_Keras_0.3.0_weights.h5"
CHEXNET_ENV = "XRAY_CHEXNET_WEIGHTS"
_IMAGENET_FILE = "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"


def _imagenet_available(timeout: float = 2.0) -> bool:
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models" / _IMAGENET_FILE
    if cache.is_file():
        return True
    try:
        socket.create_connection(("storage.googleapis.com", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


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
    or reachable, else random initialisation.
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
