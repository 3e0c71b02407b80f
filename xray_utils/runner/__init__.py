"""``xray-book``: run the chapters through papermill, then build the Jupyter Book.

One module per job, each readable alone:

* :mod:`.chapters`: which chapters there are, their order, where executed copies
  go, and what a chapter's header declares (``xray_book: reads_runs``);
* :mod:`.exercises`: each exercise made from its solution cell, before a chapter runs;
* :mod:`.execute`: one chapter through papermill;
* :mod:`.kernel_clock`: the audit hook each kernel loads to time its statements (``xray-bench --breakdown``);
* :mod:`.schedule`: the run: trainers first, then readers, ``--jobs`` at a time,
  each kernel with its share of the cores;
* :mod:`.interrupt`: Ctrl-C stops every running kernel at once, without a traceback;
* :mod:`.lock`: one ``xray-book`` at a time per output folder;
* :mod:`.timings`: the wall-time record ``book/chapters/timings.json``;
* :mod:`.book`: publish checks (``_toc.yml``) and the strict book build;
* :mod:`.browser`: the Chromium or Chrome found on this machine (the PDF, the browser check);
* :mod:`.pdf`: the built book as one PDF (``xray-book pdf``);
* :mod:`.twins`: the committed ``.ipynb`` twins: tidy them, hold executed chapters to them;
* :mod:`.cli`: the ``xray-book`` command (``run``, ``build``, ``all``, ``pdf``, ``train``, ``evidence``,
  ``download``, ``tidy``).

Nothing here imports Jupyter, papermill or TensorFlow at import time, so
``xray-book train`` works on a GPU machine without them.
"""

from .book import build, check_executed
from .chapters import chapter_sources
from .cli import main, train
from .schedule import DEFAULT_TIMEOUT_S, run
from .timings import timings_file
from .twins import compare_with_twin, tidy_twins

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "build",
    "chapter_sources",
    "check_executed",
    "compare_with_twin",
    "main",
    "run",
    "tidy_twins",
    "timings_file",
    "train",
]
