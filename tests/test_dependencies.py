"""environment.yml (conda) and pyproject.toml (pip) name the same packages with the same bounds.

pyproject.toml is the source of truth: its core dependencies and every extra
([tf-cpu], [test]) must appear exactly once in environment.yml, in the conda
section (conda-forge names, mapped below where they differ from PyPI's) or in
the pip section, with the same version bounds; nothing else may appear there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT = Path(__file__).resolve().parent.parent
# conda-forge name -> PyPI name, where they differ (add a line when a conda package is named otherwise).
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib", "py-opencv": "opencv-python"}
# Written by hand in environment.yml, not dependencies of the package.
CONDA_ONLY = {"python", "pip"}


def _pyproject() -> dict:
    return tomllib.loads((PROJECT / "pyproject.toml").read_text())


def _environment() -> dict:
    return yaml.safe_load((PROJECT / "environment.yml").read_text())


def _key(requirement: Requirement) -> tuple[str, str, str]:
    """(name, bounds, extras) in a canonical spelling; bounds in sorted order so '<3,>=2' == '>=2,<3'."""
    bounds = ",".join(sorted(str(s) for s in SpecifierSet(str(requirement.specifier))))
    return canonicalize_name(requirement.name), bounds, ",".join(sorted(requirement.extras))


def pyproject_requirements() -> dict[str, tuple[str, str, str]]:
    project = _pyproject()["project"]
    found: dict[str, tuple[str, str, str]] = {}
    for group, lines in [("dependencies", project["dependencies"]), *project["optional-dependencies"].items()]:
        for line in lines:
            requirement = Requirement(line)
            assert requirement.marker is None, f"{line!r} in {group}: a marker cannot be mirrored in environment.yml"
            key = _key(requirement)
            assert key[0] not in found, f"{key[0]} is listed twice in pyproject.toml"
            found[key[0]] = key
    return found


def environment_requirements() -> tuple[dict[str, tuple[str, str, str]], dict[str, str], list[str]]:
    """(requirements by PyPI name, which section each came from, the hand-written conda-only lines)."""
    found: dict[str, tuple[str, str, str]] = {}
    section: dict[str, str] = {}
    conda_only: list[str] = []
    pip_lines: list[str] = []
    for entry in _environment()["dependencies"]:
        if isinstance(entry, dict):
            pip_lines += entry["pip"]
            continue
        name = re.split(r"[<>=!~ ]", entry, maxsplit=1)[0]
        if name in CONDA_ONLY:
            conda_only.append(entry)
            continue
        requirement = Requirement(entry)  # conda's >=, <, == read the same as PEP 440 here
        requirement.name = CONDA_TO_PYPI.get(requirement.name, requirement.name)
        key = _key(requirement)
        assert key[0] not in found, f"{key[0]} is listed twice in environment.yml"
        found[key[0]], section[key[0]] = key, "conda"
    for line in pip_lines:
        if line.startswith("-e"):
            continue
        key = _key(Requirement(line))
        assert key[0] not in found, f"{key[0]} is listed twice in environment.yml (conda and pip sections)"
        found[key[0]], section[key[0]] = key, "pip"
    return found, section, conda_only


def test_environment_yml_lists_what_pyproject_lists_with_the_same_bounds():
    wanted = pyproject_requirements()
    have, section, _ = environment_requirements()
    missing = sorted(set(wanted) - set(have))
    extra = sorted(set(have) - set(wanted))
    differ = [
        f"{name}: pyproject '{wanted[name][1]}' vs environment.yml ({section[name]}) '{have[name][1]}'"
        for name in sorted(set(wanted) & set(have))
        if wanted[name] != have[name]
    ]
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    assert not differ, "bounds differ:\n" + "\n".join(differ)


def test_environment_yml_installs_the_package_and_a_supported_python():
    _, _, conda_only = environment_requirements()
    pip_lines = next(e["pip"] for e in _environment()["dependencies"] if isinstance(e, dict))
    assert "-e ." in pip_lines
    (python,) = [line for line in conda_only if line.startswith("python")]
    version = python.split("=")[-1]
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    assert Version(version) in requires, f"environment.yml's {python} is outside requires-python {requires}"


def test_the_backend_is_an_extra_and_numpy_is_2():
    """`pip install .` must not replace an environment's TensorFlow (Colab): the CPU wheel is an extra."""
    project = _pyproject()["project"]
    core = {canonicalize_name(Requirement(line).name): Requirement(line) for line in project["dependencies"]}
    assert not {"tensorflow", "tensorflow-cpu", "jax", "torch"} & set(core)
    assert [Requirement(line).name for line in project["optional-dependencies"]["tf-cpu"]] == ["tensorflow-cpu"]
    assert not core["numpy"].specifier.contains("1.26"), "np.bitwise_count needs NumPy 2.0"
    assert core["numpy"].specifier.contains("2.0")
    jax = next(Requirement(line) for line in project["optional-dependencies"]["test"] if line.startswith("jax"))
    assert any(s.operator == "<" for s in jax.specifier), "jax needs an upper bound (Keras is pinned to 3.15)"


def test_ruff_is_the_version_pre_commit_runs():
    pinned = next(
        Requirement(line)
        for line in _pyproject()["project"]["optional-dependencies"]["test"]
        if line.startswith("ruff")
    )
    hooks = yaml.safe_load((PROJECT / ".pre-commit-config.yaml").read_text())["repos"]
    rev = next(h["rev"] for h in hooks if h["repo"].endswith("/ruff-pre-commit"))
    assert str(pinned.specifier) == f"=={rev.lstrip('v')}"


def test_the_drift_check_has_teeth(monkeypatch):
    """A bound changed on one side only is reported with both spellings."""
    text = (PROJECT / "environment.yml").read_text().replace("numpy>=2.0,<3", "numpy>=1.26,<3")
    monkeypatch.setattr(sys.modules[__name__], "_environment", lambda: yaml.safe_load(text))
    with pytest.raises(AssertionError, match=r"numpy: pyproject '<3,>=2.0' vs environment.yml \(conda\) '<3,>=1.26'"):
        test_environment_yml_lists_what_pyproject_lists_with_the_same_bounds()


# What the chapters' code needs in someone else's notebook server; nothing of Jupyter, papermill or Jupyter Book.
JUPYTER_STACK = {"papermill", "nbclient", "nbformat", "ipykernel", "jupytext", "jupyter-book", "jupyter", "jupyterlab"}
JUPYTER_STACK |= {"notebook", "jupyter-client", "ipython", "tornado", "pyzmq", "myst-nb"}


def test_the_core_install_brings_no_jupyter_stack_and_the_book_extra_does():
    project = _pyproject()["project"]
    core = {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}
    assert not core & JUPYTER_STACK, f"core dependencies that belong in [book]: {sorted(core & JUPYTER_STACK)}"
    book = {canonicalize_name(Requirement(line).name) for line in project["optional-dependencies"]["book"]}
    assert {"papermill", "jupyter-book", "jupytext", "ipykernel", "jupyterlab"} <= book


def test_python_3_11_to_3_13_and_the_readme_says_so():
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    assert all(Version(v) in requires for v in ("3.11", "3.12", "3.13")), requires
    assert Version("3.10") not in requires, "Keras 3.15 needs Python 3.11"
    assert "Python 3.11–3.13" in (PROJECT / "README.md").read_text()


def test_make_installs_the_book_extra():
    assert "'.[tf-cpu,book,test]'" in (PROJECT / "Makefile").read_text()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(PROJECT)],
        check=True,
        capture_output=True,
    )
    (built,) = folder.glob("xray_cnn_book-*.whl")
    return built


@pytest.mark.slow  # needs PyPI: resolves (downloads metadata, installs nothing) for another Python
@pytest.mark.parametrize("extras", ["", "[tf-cpu]", "[book]"])
def test_everything_resolves_for_python_3_13(wheel, extras, tmp_path):
    """Today's Colab runs Python 3.13: a cap that excludes it (or a pin without cp313 wheels) fails here."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        + ["--python-version", "3.13", "--only-binary=:all:", "--target", str(tmp_path / "t")]
        + ["--report", str(report), f"xray-cnn-book{extras} @ {wheel.as_uri()}"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    resolved = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    print(f"\nPython 3.13, xray-cnn-book{extras}: {len(resolved)} packages, e.g. keras {resolved.get('keras')}")
    assert "keras" in resolved and (extras != "[tf-cpu]" or "tensorflow-cpu" in resolved)
