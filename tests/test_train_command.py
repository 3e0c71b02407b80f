"""`xray-book train`: the model chapters' runs without Jupyter, reused across backends; readers never train under full."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from xray_utils import plan
from xray_utils.errors import RunError, XrayError
from xray_utils.params import resolve_params
from xray_utils.plan import planned_runs, train_command

BLOCKED = (
    "tensorflow",
    "papermill",
    "nbformat",
    "nbclient",
    "jupyter_client",
    "jupyter_core",
    "ipykernel",
    "IPython",
    "jupytext",
    "myst_nb",
)

# Runs `xray-book train` in a fresh interpreter where the modules above cannot be imported,
# as on a GPU machine with JAX and nothing of Jupyter or TensorFlow.
_WITHOUT_JUPYTER = textwrap.dedent("""
    import importlib.abc, json, sys
    BLOCKED = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
            return None

    sys.meta_path.insert(0, Block())
    from xray_utils import runner
    status = runner.main({argv!r})
    print("LOADED", json.dumps(sorted(sys.modules)))
    sys.exit(status)
""")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from xray_utils.data import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "set", per_class=16, image_size=32)


def _overrides(tiny_data):
    return ["per_class=16", "epochs=1", "protocols=[study]", f"data_dir={tiny_data}"]


def test_plan_matches_what_the_model_chapters_train():
    full = resolve_params("full")
    protocols = ("study", "test_steered", "corrected")
    assert planned_runs(full) == [(m, p) for m in ("m1", "m2", "m3", "m4") for p in protocols]
    quick = resolve_params("quick")
    assert planned_runs(quick, ["m4", "m1"]) == [*(("m1", p) for p in protocols), ("m4", "study")]
    with pytest.raises(XrayError, match="m5"):
        planned_runs(quick, ["m5"])


def test_train_command_repeats_the_non_default_parameters():
    params = resolve_params("full", {"protocols": ["study"], "epochs": 3})
    command = train_command(params, ["m2"])
    assert command.startswith("xray-book train --profile full --only m2")
    assert "--set epochs=3" in command and "'protocols=[study]'" in command and "seed" not in command


@pytest.mark.slow  # a JAX subprocess: about 12 s
def test_train_without_jupyter_under_jax_then_reuse_under_this_backend(tiny_data, tmp_path):
    runs_dir = tmp_path / "runs"
    argv = ["train", "--profile", "quick", "--only", "m1"] + [a for o in _overrides(tiny_data) for a in ("--set", o)]
    env = {**os.environ, "KERAS_BACKEND": "jax", "XRAY_RUNS_DIR": str(runs_dir), "XRAY_CACHE_DIR": str(tmp_path / "c")}
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_JUPYTER.format(blocked=BLOCKED, argv=argv)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[m1/study] epoch   1/1" in done.stdout and "test accuracy" in done.stdout
    loaded = json.loads(done.stdout.split("LOADED", 1)[1])
    assert not {name.split(".")[0] for name in loaded} & set(BLOCKED)
    assert "xray_utils.page" not in loaded  # the trainer never imports the notebooks' display helpers
    # the same run, found by key and read back under the backend this test process runs
    params = resolve_params(
        "quick",
        {
            "per_class": 16,
            "epochs": 1,
            "protocols": ["study"],
            "data_dir": str(tiny_data),
            "runs_dir": str(runs_dir),
        },
    )
    images = plan.open_data(params)
    runs = plan.load_runs(params, images, models=("m1",), train_missing=False)
    run = runs[("m1", "study")]
    assert run.environment["backend"] == "jax"
    model = run.load_model()
    test = run.predictions()
    again = np.asarray(model.predict(images.images[test["indices"]], verbose=0))
    np.testing.assert_allclose(again, test["y_prob"], atol=1e-4)


def test_reading_chapters_never_train_under_full(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setattr("xray_utils.training.train", lambda *a, **k: pytest.fail("a reading chapter trained"))
    params = resolve_params("full", {"per_class": 16, "data_dir": str(tiny_data), "runs_dir": str(tmp_path / "empty")})
    images = plan.open_data(params)
    with pytest.raises(
        RunError,
        match=r"No finished run for m1/study .*Train with: xray-book train --profile full "
        r"--only m1 m2 m3 m4 --set data_dir=.* --set per_class=16",
    ):
        plan.load_runs(params, images)


def test_run_identity_does_not_depend_on_this_machine(tiny_data, monkeypatch):
    """Model 4's `auto` weights resolve to ImageNet online and to none offline; the key must be the same."""
    from xray_utils.run_folders import find_run

    monkeypatch.setattr(
        "xray_utils.training.resolve_weights",
        lambda *a: pytest.fail("finding a run must not probe the network or the disk"),
    )
    params = resolve_params("quick", {"per_class": 16, "data_dir": str(tiny_data)})
    images = plan.open_data(params)
    folder = find_run(params.train_config("m4", "study"), images)
    assert folder.name.startswith("m4-study-")
    monkeypatch.setattr("xray_utils.weights._imagenet_available", lambda timeout=2.0: True)
    online = find_run(params.train_config("m4", "study"), images)
    monkeypatch.setattr("xray_utils.weights._imagenet_available", lambda timeout=2.0: False)
    assert find_run(params.train_config("m4", "study"), images) == online == folder


def test_the_book_commands_without_the_book_extra_say_which_extra_to_install():
    """A core install (Colab, `pip install xray-cnn-book`) has no papermill or Jupyter Book: one line, exit 2."""
    script = _WITHOUT_JUPYTER.format(blocked=BLOCKED, argv=["run", "--only", "01"])
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert "`xray-book run` needs the book's tools" in line and "pip install 'xray-cnn-book[book]'" in line
    assert "papermill" in line
