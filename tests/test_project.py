"""xray_utils.project: the version, the one home and the citation, each read from its one file."""

from __future__ import annotations

import importlib.metadata
import textwrap
from pathlib import Path

import pytest

from xray_utils import project

CONFIG = """\
repository:
  url: https://github.com/someone/a-fork/
  branch: trunk
html:
  baseurl: https://someone.github.io/a-fork
"""

CFF = """\
cff-version: 1.2.0
title: "A title"
version: 9.8.7
date-released: 2031-02-03
authors:
  - name: "An entity"
  - given-names: Ada
    family-names: Lovelace
url: "https://someone.github.io/a-fork/"
"""


def _write(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_the_home_is_read_from_config_yml(tmp_path):
    home = project.home(_write(tmp_path, "_config.yml", CONFIG))
    assert home == project.Home("https://github.com/someone/a-fork", "trunk", "https://someone.github.io/a-fork/")
    assert home.owner_repo == "someone/a-fork"
    assert home.file_url("LICENSE") == "https://github.com/someone/a-fork/blob/trunk/LICENSE"


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (("  baseurl: https://someone.github.io/a-fork\n", ""), "`html.baseurl` is missing"),
        (("  branch: trunk\n", ""), "`repository.branch` is missing"),
        (("https://github.com/someone/a-fork/", "https://gitlab.com/someone/a-fork"), "must be https://github.com/"),
        (("https://someone.github.io/a-fork", "http://someone.github.io/a-fork"), "`html.baseurl` must be"),
        ((CONFIG, "- a list\n- not a mapping\n"), "expected a YAML mapping at the top, found list"),
        (("branch: trunk", "branch: [trunk"), r"not valid YAML at line \d+ \(.+\)$"),
        ((CONFIG, ""), "expected a YAML mapping at the top, found NoneType"),
    ],
)
def test_a_config_without_a_usable_home_names_the_file_and_the_key(tmp_path, edit, named):
    _write(tmp_path, "_config.yml", CONFIG.replace(*edit))
    with pytest.raises(project.ProjectError, match=named) as raised:
        project.home(tmp_path)
    assert str(tmp_path / "_config.yml") in str(raised.value) and "\n" not in str(raised.value)


def test_the_version_is_the_checkout_s_pyproject(tmp_path):
    _write(tmp_path, "pyproject.toml", '[project]\nname = "xray-cnn-book"\nversion = "4.5.6"\n')
    assert project.version(tmp_path) == "4.5.6"


def test_another_project_s_pyproject_is_not_taken_for_this_one(tmp_path):
    # project_root() falls back to the working directory, which can be someone else's project
    _write(tmp_path, "pyproject.toml", '[project]\nname = "something-else"\nversion = "4.5.6"\n')
    assert project.version(tmp_path) == importlib.metadata.version(project.DISTRIBUTION)


def test_a_pyproject_without_a_version_is_named(tmp_path):
    _write(tmp_path, "pyproject.toml", '[project]\nname = "xray-cnn-book"\n')
    with pytest.raises(project.ProjectError, match=r"pyproject.toml: `project.version` is missing"):
        project.version(tmp_path)


def test_the_citation_is_read_from_citation_cff(tmp_path):
    found = project.citation(_write(tmp_path, "CITATION.cff", CFF))
    assert found == project.Citation(
        "An entity, Ada Lovelace", "A title", "9.8.7", "2031", "https://someone.github.io/a-fork/"
    )
    assert (
        found.text() == "An entity, Ada Lovelace (2031). *A title* (version 9.8.7). https://someone.github.io/a-fork/"
    )
    bibtex = found.bibtex()
    assert bibtex.startswith("@misc{xray_cnn_book2031,\n") and bibtex.endswith("\n}")
    for line in ("author = {{An entity, Ada Lovelace}}", "title = {{A title}}", "version = {9.8.7}"):
        assert f"  {line}," in bibtex


def test_a_citation_without_authors_names_the_file(tmp_path):
    _write(tmp_path, "CITATION.cff", CFF.split("authors:")[0] + 'url: "https://x.github.io/y/"\n')
    with pytest.raises(project.ProjectError, match=r"CITATION.cff: `authors` must be a non-empty list"):
        project.citation(tmp_path)


def test_how_to_cite_shows_the_citation_and_its_bibtex(tmp_path):
    shown = project.how_to_cite(_write(tmp_path, "CITATION.cff", CFF))
    text, bibtex = shown.split("\n\n", 1)
    assert text == project.citation(tmp_path).text()
    assert bibtex == f"```bibtex\n{project.citation(tmp_path).bibtex()}\n```"


def test_how_to_cite_outside_a_checkout_points_at_the_repository(tmp_path):
    source = dict(u.split(", ", 1) for u in importlib.metadata.metadata(project.DISTRIBUTION).get_all("Project-URL"))
    shown = project.how_to_cite(tmp_path)  # no CITATION.cff here, as in a notebook opened on Colab
    assert f"`CITATION.cff` in the book's repository at {source['Source']} " in shown
