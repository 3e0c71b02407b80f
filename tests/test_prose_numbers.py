"""Numbers in the chapters' prose come from the run, or from the study and the literature.

A number written into a chapter's Markdown stays the same whatever profile or data
the chapter ran with, so it must be one that does not depend on them: a figure of
the original study, of the dataset's releases, or of a cited paper. Anything a run
measures is bound to the prose with ``glue(name, value)`` and ``glue.prose`` (``{name}`` in its text) or
phrased conditionally. This test lists every number left in the Markdown of
``notebooks/*.py`` (after removing roles such as glue and cite, inline code, math,
URLs, code blocks, "chapter N"/"Model N"/"Figure N", list numbers, years and the
integers 0-4) and fails on any that is not in :data:`ALLOWED`, naming file, line and
number. Adding a number to ALLOWED needs a source: say where it comes from.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# Each group: where its figures come from. Numbers are written as in the prose
# (thousands separators kept), compared after removing the separators.
ALLOWED_GROUPS: dict[str, set[str]] = {
    # The original study's notebook (../shared/reference/original_study.md): input size
    # 192x192x3, 50 epochs, batch 32 (98 steps per epoch), Adam at 0.001,
    # ReduceLROnPlateau dividing by 10 (factor 0.1) after 3 stalled epochs, the 80/20
    # split with random_state 1987, 3,886 images (1,200 / 1,341 / 1,345), 778 test
    # images (240 / 269 / 269), 3,108 training images, pixels divided by 255, filters
    # 128, 64, 32, dense layers 100 and 50, dropout 0.8 and 0.2, seed 123.
    "original study: recipe and data": set(
        "192 50 32 98 0.001 10 0.1 80 20 1987 3,886 1,200 1,341 1,345 778 240 269 3,108 255 128 64 100 0.8 0.2 123".split()
    ),
    # The study's architecture at 192 px (same file, "inferred"): maps of 96, 48, 24, 12
    # pixels, 4,608 flattened features, the first dense layer about 90 % of the weights,
    # 1,024 batch-norm parameters; DenseNet121's 6x6 feature map and its 7 million
    # parameters.
    "original study: architecture": set("6 7 12 24 48 90 96 1,024 4,608".split()),
    # The study's printed results: published accuracies (also rounded to whole per
    # cent), Model 3's normal recall 0.28 and pneumonia recall 0.97, and the training
    # logs quoted in chapters 3 and 4 (Model 2: 0.35 and 0.31 with loss 5.0, then 0.97;
    # Model 3: 0.9997 training accuracy, validation loss 13.5, best 0.896 in epoch 9,
    # final loss 2.38 against training loss 0.003).
    "original study: results": set(
        "0.978 0.9781 0.972 0.9717 0.717 0.7172 0.987 0.9871 97 98 72 0.28 0.97 0.35 0.31 5.0 0.9997 13.5 0.896 9 2.38 0.003".split()
    ),
    # The dataset's releases (Chowdhury et al. 2020, Rahman et al. 2021; Kaggle file
    # names): the 2021 class counts (3,616 / 10,192 / 1,345 / 6,012), the file-number
    # ranges (Normal-63 ... Normal-1403, COVID-1 ... COVID-1900), the 15,153 images and
    # 8,851 adult normals of data_subset=all (README), and the children's ages (1 to 5).
    "dataset": set("5 63 1403 1900 1901 3,616 6,012 8,851 10,192 15,153".split()),
    # The literature: Roberts et al. 2021 (2,212 studies identified, 62 included in the
    # review); the 95-99 % accuracies reported in 2020; ChestX-ray14 (Wang et al. 2017:
    # 112,120 images of 30,805 patients, 14 findings); CheXNet's 224 px input
    # (Rajpurkar et al. 2017); DenseNet121 (Huang et al. 2017).
    "literature": set("14 62 95 99 121 224 2,212 30,805 112,120".split()),
    # Keras: BatchNormalization's default momentum 0.99, and what follows from it
    # (0.99 to the 100th is 37 %; it falls under 1 % after about 460 steps).
    "keras": set("0.99 37 460".split()),
    # This book's protocols (xray_utils/data/splits.py): 70 % train, 10 % validation.
    "protocols": set("10 70".split()),
    # Conventions of the statistics taught: 95 % intervals, 5 % significance; and the
    # worked example of calibration ("a model that says 90 %").
    "statistics": set("5 90 95".split()),
    # pyproject.toml, requires-python: the Python versions the front page names.
    "software": set("3.11 3.13".split()),
}
ALLOWED = {number.replace(",", "") for group in ALLOWED_GROUPS.values() for number in group}

# What is not prose, or not a figure: removed before numbers are looked for.
_FENCE = re.compile(r"^\s*(```|~~~)")
_STRIP = [
    re.compile(r"\{[\w:.-]+\}`[^`]*`"),  # roles: {cite}`a,b`, {term}`x`, {doc}`x`
    re.compile(r"\{[A-Za-z_]\w*(?::[^{}`]*)?\}"),  # glue.prose placeholders: {steps}, {accuracy:.3f}
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$|\$[^$]*\$"),  # math
    re.compile(r"\]\([^)]*\)"),  # the target of a Markdown link (its text is prose and stays)
    re.compile(r"<[^>]+>"),  # HTML tags (their content stays)
    re.compile(r"https?://\S+"),  # bare URLs
    re.compile(r"\b(?:[Cc]hapters?|[Mm]odels?|[Ff]igures?|Exercises?)\s+\d+(?:\s*(?:–|-|,|and|or|to)\s*\d+)*"),
    re.compile(r"^\s*(?:#+\s*)?(?:\d+\.|[-*])\s"),  # list and heading numbers at the start of a line
]
_NUMBER = re.compile(
    r"(?<![A-Za-z_\d.,])(?<![A-Za-z]-)"  # not part of a name such as COVID-19, DenseNet121, m4
    r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?![A-Za-wyz\d])"  # "8x8" counts, "1st" does not
)


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of every line of prose of a jupytext percent file, code blocks left out.

    Prose is a Markdown cell's text, and the Markdown a code cell shows with this
    run's numbers in it (``glue.prose(\"\"\" ... \"\"\")``, see ``xray_utils.page.Glue``).
    """
    lines, in_markdown, in_fence, in_glued = [], False, False, False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith("# %%"):
            in_markdown, in_fence, in_glued = "[markdown]" in line or "[md]" in line, False, False
            continue
        if not in_markdown:
            if line.strip() == "glue.prose(":
                in_glued = "opening"
            elif in_glued == "opening" and line.strip() == '"""':
                in_glued = True
            elif in_glued is True and line.strip() == '"""':
                in_glued = False
            elif in_glued is True:
                lines.append((number, line))
            continue
        if not line.startswith("#"):
            continue
        text = line[2:] if line.startswith("# ") else line[1:]
        if _FENCE.match(text):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append((number, text))
    return lines


def numbers_in(text: str) -> list[str]:
    """The numbers of one line of prose that need a source (years and 0-4 left out)."""
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    found = []
    for raw in _NUMBER.findall(text):
        plain = raw.replace(",", "")
        if "." not in plain and (int(plain) <= 4 or (1900 <= int(plain) <= 2099 and "," not in raw)):
            continue
        found.append(raw)
    return found


def unexplained(path: Path) -> list[str]:
    return [
        f"{path.name}:{line}: {raw}  ({text.strip()[:90]})"
        for line, text in prose_lines(path)
        for raw in numbers_in(text)
        if raw.replace(",", "") not in ALLOWED
    ]


SOURCES = sorted(NOTEBOOKS.glob("*.py"))
SOURCES = [p for p in SOURCES if p.name != "conftest.py"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_prose_numbers_come_from_the_run_or_a_source(path):
    problems = unexplained(path)
    assert not problems, (
        "numbers in the prose that neither come from the run (glue them) nor are on the allow-list "
        "(tests/test_prose_numbers.py, with their source):\n" + "\n".join(problems)
    )


def test_glued_prose_in_code_cells_is_read_too(tmp_path):
    chapter = tmp_path / "09_x.py"
    chapter.write_text(
        '# %%\nx = 1\n\n# %% tags=["remove-input"]\nglue.prose(\n    """\nWe trained 17 models.\n"""\n)\n'
    )
    assert [(line, numbers_in(text)) for line, text in prose_lines(chapter)] == [(7, ["17"])]


def test_the_extractor_skips_what_is_not_a_figure():
    line = (
        "In 2020, chapter 6 and Models 1–3 on COVID-19 with DenseNet121 gave {acc:.3f} "
        "(`per_class=400`, $n = 778$, [link](https://x.org/7)) at 1/3 and 0.93, 8×8 and 1,234 images."
    )
    assert numbers_in(line) == ["0.93", "8", "8", "1,234"]
    assert numbers_in("3. a list item of 12 images") == ["12"]
