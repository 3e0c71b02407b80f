__version__ = "0.1.0"

# Keras needs a backend that this package leaves to the environment (see xray_utils.backend):
# fail here, with what to install, rather than deep inside `import keras`.
from .backend import require_backend as _require_backend  # noqa: E402

_require_backend()
