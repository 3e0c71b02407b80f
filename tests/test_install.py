"""The package installs beside an environment's own TensorFlow (Colab, conda) without replacing it.

`pip install xray-cnn-book` names no Keras backend; TensorFlow CPU comes only with
the [tf-cpu] extra, which `make` installs. The check builds the real wheel (its
metadata as setuptools writes it) and lets pip resolve it, offline, in a fresh
virtual environment that holds a stand-in `tensorflow` 2.21.0 and every other
dependency (linked from this environment) but not `tensorflow-cpu`: pip must be
content with what is there. Building the wheel needs setuptools>=77 from PyPI;
without PyPI the check is skipped with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # fetches the build backend (setuptools) from PyPI


def test_make_installs_the_tf_cpu_extra():
    """Offline: `make` (the CPU path) asks for [tf-cpu]; the core requirements name no backend."""
    install = re.search(r"pip install .*-e '\.\[([^\]]*)\]'", (PROJECT / "Makefile").read_text())
    assert install, "the Makefile's install line is not `pip install ... -e '.[...]'`"
    assert "tf-cpu" in install.group(1).split(",")


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def stand_in_wheel(folder: Path, name: str = "tensorflow", version: str = "2.21.0") -> Path:
    """A tiny pure-Python wheel that claims to be ``name`` ``version`` (no dependencies)."""
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"  # a stand-in for the tests\n'.encode(),
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: xray-cnn-book tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = f"{name}-{version}.dist-info/RECORD"
    lines = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()] + [f"{record},,"]
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(record, "\n".join(lines) + "\n")
    return wheel


def _pip(python: Path | str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def project_wheel(tmp_path_factory) -> Path:
    """The package's wheel, built from a copy of the sources (the working tree stays untouched)."""
    root = tmp_path_factory.mktemp("build")
    backend = root / "backend"
    got = _pip(sys.executable, "download", "--quiet", "-d", str(backend), "setuptools>=77", "wheel")
    if got.returncode:
        reason = (got.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"\nPyPI unreachable, install check skipped: {reason}")
        pytest.skip(f"PyPI unreachable (needed for setuptools>=77, the build backend): {reason}")
    source = root / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    shutil.copytree(PROJECT / "xray_utils", source / "xray_utils", ignore=shutil.ignore_patterns("__pycache__"))
    out = root / "dist"
    built = _pip(
        sys.executable,
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--find-links",
        str(backend),
        "-w",
        str(out),
        str(source),
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = out.glob("xray_cnn_book-*.whl")
    return wheel


def _ours_or_tensorflow(name: str) -> bool:
    return bool(re.match(r"(tensorflow|xray_cnn_book|__editable__\W*xray_cnn_book)", name, re.IGNORECASE))


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory) -> Path:
    """A fresh venv with `tensorflow` 2.21.0 (stand-in) and the other dependencies, but no tensorflow-cpu.

    Every other distribution of this environment is linked in, read-only in spirit:
    only dry runs touch them. Returns the venv's python.
    """
    root = tmp_path_factory.mktemp("colab")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    ours = Path(sysconfig.get_paths()["purelib"])
    for entry in ours.iterdir():
        if not _ours_or_tensorflow(entry.name):
            (site / entry.name).symlink_to(entry)
    installed = _pip(python, "install", "--quiet", "--no-index", "--no-deps", str(stand_in_wheel(root)))
    assert installed.returncode == 0, installed.stderr
    return python


def _dry_run(python: Path, target: str, report: Path) -> subprocess.CompletedProcess:
    return _pip(
        python,
        "install",
        "--dry-run",
        "--no-index",
        "--find-links",
        str(Path(target.split("[")[0]).parent),
        "--report",
        str(report),
        target,
    )


def test_pip_keeps_an_installed_tensorflow_and_wants_no_tensorflow_cpu(project_wheel, colab_like, tmp_path):
    requires = _metadata_requires(project_wheel)
    assert [r for r in requires if r.startswith("tensorflow")] == ['tensorflow-cpu<2.22,>=2.21; extra == "tf-cpu"']
    out = _dry_run(colab_like, str(project_wheel), tmp_path / "report.json")
    assert out.returncode == 0, f"pip could not resolve the package beside TensorFlow without PyPI:\n{out.stderr}"
    to_install = {item["metadata"]["name"] for item in json.loads((tmp_path / "report.json").read_text())["install"]}
    assert to_install == {"xray-cnn-book"}  # no tensorflow-cpu, no other tensorflow: the one there stays
    version = subprocess.run(
        [str(colab_like), "-c", "import importlib.metadata as m; print(m.version('tensorflow'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip() == "2.21.0"


def test_the_tf_cpu_extra_does_ask_for_tensorflow_cpu(project_wheel, colab_like, tmp_path):
    """The same set-up catches a tensorflow-cpu requirement: with [tf-cpu], pip has to look for it."""
    out = _dry_run(colab_like, f"{project_wheel}[tf-cpu]", tmp_path / "report.json")
    assert out.returncode != 0
    assert "No matching distribution found for tensorflow-cpu" in out.stderr


def _metadata_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
