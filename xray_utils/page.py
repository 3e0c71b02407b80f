"""What a chapter page shows besides plain output: numbers bound to its prose, tables, code, the data banner.

The notebooks' display helpers, and nothing else: no data, no training. In the
book (myst-nb) glued numbers appear in the prose; in a plain Jupyter or Colab
kernel the same calls show readable output.
"""

from __future__ import annotations

import html
import inspect
import sys
from typing import Any

import pandas as pd

from .data import SYNTHETIC_BANNER


def glue(name: str, value: Any) -> Any:
    """Bind a number of this run to the chapter's prose; returns ``value``.

    In the book, ``{glue:text}`name``` in Markdown shows it (``name:.3f`` formats
    it). Outside a myst-nb build (a plain Jupyter or Colab kernel) nothing is shown.
    """
    plain = value.item() if hasattr(value, "item") else value  # NumPy scalars -> Python, for myst-nb
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, plain, display=False)
    return value


def _display(obj) -> None:
    try:
        from IPython.display import display

        display(obj)
    except ImportError:
        print(obj)


def show_code(*objects) -> None:
    """Show the source of package functions (highlighted): the code a chapter runs, not a copy of it."""
    source = "\n\n".join(inspect.getsource(obj) for obj in objects)
    try:
        from IPython.display import Code
    except ImportError:
        print(source)
        return
    _display(Code(source, language="python"))


def show_banner(synthetic: bool) -> None:
    """A loud warning box (HTML in the book, text in a terminal) when data is synthetic."""
    if not synthetic:
        return
    print(SYNTHETIC_BANNER, file=sys.stderr)
    try:
        from IPython.display import HTML

        _display(
            HTML(
                '<div class="admonition warning"><p class="admonition-title">Synthetic data</p>'
                f"<p>{html.escape(SYNTHETIC_BANNER)}</p></div>"
            )
        )
    except ImportError:
        pass


def show_table(frame: pd.DataFrame, digits: int = 4) -> None:
    """Display a table for reading: rounded, and without a meaningless 0, 1, 2... index."""
    frame = frame.round(digits)
    if isinstance(frame.index, pd.RangeIndex):
        frame = frame.set_index(frame.columns[0])
    _display(frame)
