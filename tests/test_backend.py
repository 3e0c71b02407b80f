"""Without an installed Keras backend, `import xray_utils` fails at once and names the fix."""

import json
import os
import subprocess
import sys

import pytest

from xray_utils.backend import BackendError, backend_problem, require_backend, selected_backend


def _only(*modules):
    """A find_spec stand-in under which only ``modules`` are installed."""
    return lambda name: object() if name in modules else None


def test_the_selected_backend_comes_from_keras_backend_then_keras_json(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert selected_backend() == ("tensorflow", "Keras' default (KERAS_BACKEND is not set)")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert selected_backend() == ("jax", str(tmp_path / "keras.json"))
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert selected_backend() == ("torch", "KERAS_BACKEND")


def test_no_problem_when_the_backend_is_installed(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert backend_problem(_only("jax")) is None
    require_backend(_only("jax"))
    monkeypatch.setenv("KERAS_BACKEND", "no-such-backend")  # Keras would fail with a traceback deep in its import
    assert "'no-such-backend' (from KERAS_BACKEND) is not one Keras knows; use one of tensorflow" in backend_problem(
        _only()
    )


def test_another_installed_backend_is_named(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(
        BackendError,
        match=r"'tensorflow' \(from KERAS_BACKEND\) is not installed: installed here: jax; set KERAS_BACKEND=jax",
    ):
        require_backend(_only("jax"))


def test_no_backend_at_all_says_what_to_install(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    problem = backend_problem(_only())
    assert "no backend is installed here" in problem and "pip install 'xray-cnn-book[tf-cpu]'" in problem
    assert issubclass(BackendError, ImportError)


def test_import_xray_utils_fails_with_the_message_in_a_fresh_process():
    """torch is not a dependency: asking for it shows the package's message, not Keras' traceback."""
    code = "import xray_utils"
    if "torch" in sys.modules or _installed("torch"):
        code = "import sys; sys.modules['torch'] = None; " + code
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "torch"}
    )
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "xray_utils.backend.BackendError: the Keras backend 'torch' (from KERAS_BACKEND) is not installed"
    )


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
