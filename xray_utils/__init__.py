import os as _os

from .project import version as _version

__version__ = _version()  # pyproject.toml's: the version is written in one place (xray_utils/project.py)

# TensorFlow's C++ start-up notes (oneDNN, CPU instructions, absl) land in every kernel's
# output and in the book; keep warnings and errors. Set before anything imports TensorFlow.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Keras needs a backend that this package leaves to the environment (see xray_utils.backend):
# fail here, with what to install, rather than deep inside `import keras`.
from .backend import BackendError as _BackendError  # noqa: E402
from .backend import require_backend as _require_backend  # noqa: E402


def _is_command_line() -> bool:
    """Whether this process is ``xray-book`` or ``xray-bench`` (their console scripts, or ``python -m``)."""
    import sys

    script = _os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return script in ("xray-book", "xray-bench") or sys.argv[0].endswith(
        (_os.path.join("xray_utils", "runner", "__main__.py"), _os.path.join("xray_utils", "bench.py"))
    )


try:
    _require_backend()
except _BackendError as _problem:
    if not _is_command_line():
        raise
    import sys as _sys

    print(f"error: {_problem}", file=_sys.stderr)  # one line for the command line, exit status 2
    raise SystemExit(2) from None
