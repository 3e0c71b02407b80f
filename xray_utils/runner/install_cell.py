"""The first cell of every chapter: install this book's package on Colab, from one pinned place.

The package cannot be imported before it is installed, so each notebook holds the
cell as text; this module renders it from the one definition (the repository in
``_config.yml`` and the release tag ``v<version>`` of ``pyproject.toml``, both read
by :mod:`xray_utils.project`) and
``python -m xray_utils.runner.install_cell`` rewrites the notebooks' copies.
``tests/colab/test_install_cell.py`` fails when a copy or the README disagrees
with it.

On Colab the cell installs the core package only: no Jupyter server, kernel,
papermill or Jupyter Book, so nothing Colab pins (ipykernel, jupyter-client,
notebook, tornado, pyzmq, TensorFlow, NumPy) is replaced; Keras is upgraded to
the 3.15 line the book is tested with. Elsewhere, or when that version is
already installed, the cell does nothing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .. import project

TAG = "remove-cell"
_MARKER = "# In Google Colab: install this book's package"


def pinned_source() -> tuple[str, str]:
    """``(pip requirement, version)``: the package at its release tag in the book's one home."""
    version = project.version()
    return f"{project.DISTRIBUTION} @ git+{project.home().repository}@v{version}", version


def render() -> str:
    """The install cell's source (without the jupytext ``# %%`` line)."""
    requirement, version = pinned_source()
    return f'''{_MARKER} (release {version}) first.
# Colab's own TensorFlow, NumPy and Jupyter stay as they are; Keras moves to the 3.15 line the book is tested with.
import importlib.metadata
import subprocess
import sys

PACKAGE, VERSION = "{requirement}", "{version}"
try:
    installed = importlib.metadata.version("xray-cnn-book")
except importlib.metadata.PackageNotFoundError:
    installed = None
if "google.colab" in sys.modules and installed != VERSION:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PACKAGE], check=True)
    print(
        "Installed xray-cnn-book. Without data the chapters run on a synthetic stand-in (every output says so); "
        "for the real X-rays run `from xray_utils.data import download; download()` in a cell. "
        "The full profile wants a GPU: Runtime > Change runtime type."
    )'''


_CELL = re.compile(rf'# %% tags=\["{TAG}"\]\n{re.escape(_MARKER)}.*?(?=\n\n# %%)', re.S)


def cell_in(text: str) -> str | None:
    """The install cell's source in a jupytext ``.py`` chapter, or None."""
    found = _CELL.search(text)
    return found.group(0).split("\n", 1)[1] if found else None


def rewrite(path: Path) -> bool:
    """Replace ``path``'s install cell with :func:`render`'s; True when it changed."""
    text = path.read_text()
    if cell_in(text) is None:
        raise SystemExit(f"{path}: no install cell (a '{TAG}' cell starting with {_MARKER!r})")
    new = _CELL.sub(lambda _: f'# %% tags=["{TAG}"]\n{render()}', text, count=1)
    if new != text:
        path.write_text(new)
    return new != text


def main() -> int:
    from .chapters import chapter_sources

    changed = [p.name for p in chapter_sources() if rewrite(p)]
    print(f"install cell rewritten in {', '.join(changed)}; now `make sync`" if changed else "install cells agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
