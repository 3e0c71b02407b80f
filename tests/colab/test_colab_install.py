"""Colab, as far as this machine can be Colab: its versions first, then exactly the notebooks' install.

A fresh venv gets Google Colab's versions (``colab-2026-08.txt``, with its source
and date), then the command the chapters' first cell runs, pointed at the wheel
built from this checkout instead of the GitHub tag. Nothing Colab pins may change
(``pip check`` must pass too), and one chapter then runs through that venv's own
ipykernel 6.17 on the synthetic stand-in. Needs PyPI (the first run downloads
about 400 MB into pip's cache; later runs take about a minute and a half).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xray_utils.runner import install_cell

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
COLAB = HERE / "colab-2026-08.txt"
# What Colab pins (its own runtime breaks, or warns that it may, when these are replaced).
PINNED = {"tensorflow-cpu", "numpy", "ipykernel", "ipython", "jupyter-client", "jupyter-core", "notebook", "tornado"}
PINNED |= {"pyzmq", "traitlets"}


def _run(*command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _freeze(python: Path) -> dict[str, str]:
    listed = json.loads(_run(python, "-m", "pip", "list", "--format=json").stdout)
    return {row["name"].lower().replace("_", "-"): row["version"] for row in listed}


def _install_command(wheel: Path) -> list[str]:
    """The argv the chapters' install cell passes to pip, with the wheel in place of the GitHub tag."""
    tree = ast.parse(install_cell.render())
    run = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run" and node.args
    )
    words = [ast.unparse(element) for element in run.args[0].elts]
    assert words == ["sys.executable", "'-m'", "'pip'", "'install'", "'-q'", "PACKAGE"], words
    return ["-m", "pip", "install", "-q", f"xray-cnn-book @ {wheel.as_uri()}"]


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> dict:
    """A venv with Colab's versions, then this package installed as a Colab user's first cell does."""
    root = tmp_path_factory.mktemp("colab")
    started = time.perf_counter()
    wheel_dir = root / "wheel"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheel_dir, PROJECT)
    (wheel,) = wheel_dir.glob("xray_cnn_book-*.whl")
    _run(sys.executable, "-m", "venv", root / "venv")
    python = root / "venv" / "bin" / "python"
    # --no-compile: no .pyc for the thousands of modules the pins bring; Python compiles what the chapter
    # imports when it imports it (measured here: both tests 85 s, against 104 s with every module compiled).
    _run(python, "-m", "pip", "install", "-q", "--no-compile", "-r", COLAB)
    before = _freeze(python)
    _run(python, *_install_command(wheel))
    after = _freeze(python)
    checked = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    changed = {name: (before.get(name), version) for name, version in after.items() if before.get(name) != version}
    print(f"\nColab-shaped install: {time.perf_counter() - started:.0f} s; versions changed or added: {changed}")
    return {"root": root, "python": python, "changed": changed, "check": checked}


def test_the_install_replaces_nothing_colab_pins(colab):
    replaced = {name: versions for name, versions in colab["changed"].items() if name in PINNED}
    assert not replaced, f"the install replaced what Colab pins: {replaced}"
    assert colab["check"].returncode == 0, colab["check"].stdout + colab["check"].stderr
    assert colab["changed"]["xray-cnn-book"][0] is None  # the package itself, newly added
    assert "papermill" not in colab["changed"] and "jupyter-book" not in colab["changed"]  # no Jupyter stack


def test_a_chapter_runs_through_colab_s_own_kernel(colab, tmp_path, monkeypatch):
    import papermill

    from xray_utils.runner.chapters import as_notebook, notebooks_dir
    from xray_utils.runner.exercises import expand

    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    spec = {"argv": [str(colab["python"]), "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps({**spec, "display_name": "Colab-shaped"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    for name, value in {"XRAY_DATA_DIR": "synthetic", "XRAY_CACHE_DIR": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(name, value)
    source = notebooks_dir() / "02_model1_plain_cnn.py"
    staged = tmp_path / "input.ipynb"
    import nbformat

    nbformat.write(expand(as_notebook(source)), staged)
    started = time.perf_counter()
    papermill.execute_notebook(
        str(staged),
        str(tmp_path / "out.ipynb"),
        parameters={
            "profile": "quick",
            "overrides": {"epochs": 1, "protocols": ["study"], "runs_dir": str(tmp_path / "runs")},
        },
        kernel_name="colab",
        cwd=str(source.parent),
        progress_bar=False,
        execution_timeout=600,
    )
    ran = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    text = "\n".join(o.get("text", "") for c in ran.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert "test accuracy" in text
    versions = _run(
        colab["python"],
        "-c",
        "import ipykernel, keras, tensorflow; print(ipykernel.__version__, keras.__version__, tensorflow.__version__)",
    )
    print(
        f"chapter 02 ran through Colab's kernel in {time.perf_counter() - started:.0f} s: ipykernel, Keras, TF = {versions.stdout.split()}"
    )
    assert versions.stdout.split()[0] == "6.17.1"
