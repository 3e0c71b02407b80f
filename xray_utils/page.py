"""What a chapter page shows besides plain output: prose with this run's numbers, tables, code, the data banner.

The notebooks' display helpers, and nothing else: no data, no training. Every
call shows the same thing in the book, in JupyterLab and in Colab (:class:`Glue`
fills the numbers into the prose itself; myst-nb is not needed to read them).
"""

from __future__ import annotations

import html
import inspect
import os
import re
import sys
from typing import Any

import pandas as pd

from .data import SYNTHETIC_BANNER
from .paths import PROSE_ENV


def _display(obj, metadata: dict | None = None) -> None:
    try:
        from IPython.display import display

        display(obj, metadata=metadata) if metadata else display(obj)
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


class Glue:
    """This run's numbers and the prose that shows them: readable in the book, in JupyterLab and in Colab.

    A chapter makes one, binds numbers to names as it computes them, and writes
    the sentences that quote them as Markdown in :meth:`prose`, each number a
    placeholder as in ``str.format`` (``{name}`` or ``{name:.3f}``)::

        glue = page.Glue()
        glue("epochs", params.epochs)
        glue.prose("This build trains for {epochs} epochs.")

    :meth:`prose` shows the Markdown with every number filled in, so a student
    running the notebook sees the numbers, not markup. A MyST role (a brace
    group followed by a backtick, ``{term}`x```) is not a placeholder. Where ``xray-book`` executes the chapter for the book
    (``XRAY_PROSE=myst`` in the kernel), other MyST roles (``{term}``, ``{cite}``)
    stay for Jupyter Book to render; elsewhere they become plain text (the term in
    italics, a citation as its key in brackets).
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, name: str, value: Any) -> None:
        """Bind ``value`` to ``name`` for later prose (returns nothing: a cell ending in it shows no stray value)."""
        self.values[name] = value.item() if hasattr(value, "item") else value  # NumPy scalars -> Python

    def shown(self, ref: str) -> str:
        """How the placeholder ``ref`` (``name`` or ``name:spec``) reads in the prose."""
        name, _, spec = ref.partition(":")
        if name not in self.values:
            raise KeyError(f"prose quotes {{{name}}} before the chapter bound it (glue({name!r}, ...))")
        return format(self.values[name], spec) if spec else str(self.values[name])

    def fill(self, markdown: str, book: bool | None = None) -> str:
        """``markdown`` with each placeholder replaced by its value (and, outside the book, MyST roles made plain)."""
        filled = _PLACEHOLDER.sub(lambda match: self.shown(match["ref"]), markdown)
        if book is None:
            book = os.environ.get(PROSE_ENV) == "myst"
        if not book:
            filled = _TERM_ROLE.sub(lambda m: f"*{m['text'].split('<')[0].strip()}*", filled)
            filled = _CITE_ROLE.sub(lambda m: f"[{m['keys']}]", filled)
        return filled

    def prose(self, markdown: str) -> None:
        """Show ``markdown`` (a paragraph or more of the chapter) with this run's numbers in it.

        The output's metadata records each number as shown (``xray_book.glued``),
        for a test to find in any rendering of the notebook.
        """
        text = self.fill(inspect.cleandoc(markdown))
        quoted = {match["ref"]: self.shown(match["ref"]) for match in _PLACEHOLDER.finditer(markdown)}
        try:
            from IPython.display import Markdown
        except ImportError:
            print(text)
            return
        _display(Markdown(text), metadata={"xray_book": {"glued": quoted}})


_PLACEHOLDER = re.compile(r"\{(?P<ref>[A-Za-z_]\w*(?::[^{}`]*)?)\}(?!`)")  # {name} or {name:spec}; not a role
_TERM_ROLE = re.compile(r"\{term\}`(?P<text>[^`]+)`")
_CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`(?P<keys>[^`]+)`")
