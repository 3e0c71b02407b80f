__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ start-up notes (oneDNN, CPU instructions, absl) land in every kernel's
# output and in the book; keep warnings and errors. Set before anything imports TensorFlow.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Keras needs a backend that this package leaves to the environment (see xray_utils.backend):
# fail here, with what to install, rather than deep inside `import keras`.
from .backend import require_backend as _require_backend  # noqa: E402

_require_backend()
