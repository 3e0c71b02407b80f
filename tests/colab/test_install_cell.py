"""The chapters' install cell and the README name one pinned source: `_config.yml`'s repository + the version."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xray_utils import project
from xray_utils.runner import install_cell
from xray_utils.runner.chapters import chapter_sources

PROJECT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("source", chapter_sources(), ids=lambda s: s.name)
def test_every_chapter_installs_from_the_one_pinned_place(source):
    assert install_cell.cell_in(source.read_text()) == install_cell.render(), (
        f"{source.name}: its install cell differs; run `python -m xray_utils.runner.install_cell` then `make sync`"
    )


def test_the_pin_is_a_release_tag_of_the_book_s_repository():
    requirement, version = install_cell.pinned_source()
    url = yaml.safe_load((PROJECT / "_config.yml").read_text())["repository"]["url"]
    assert requirement == f"xray-cnn-book @ git+{url}@v{version}"


def test_the_pin_follows_the_one_home_and_the_version(monkeypatch):
    # A fork that changes _config.yml's repository (or a release that bumps pyproject.toml) gets a new cell.
    monkeypatch.setattr(
        install_cell.project, "home", lambda: project.Home("https://github.com/acme/fork", "main", "https://a/")
    )
    monkeypatch.setattr(install_cell.project, "version", lambda: "2.3.4")
    assert install_cell.pinned_source() == ("xray-cnn-book @ git+https://github.com/acme/fork@v2.3.4", "2.3.4")
    assert 'PACKAGE, VERSION = "xray-cnn-book @ git+https://github.com/acme/fork@v2.3.4", "2.3.4"' in (
        install_cell.render()
    )


def test_the_readme_names_the_same_requirement():
    requirement, _ = install_cell.pinned_source()
    assert f'pip install "{requirement}"' in (PROJECT / "README.md").read_text()


def test_the_cell_does_nothing_outside_colab_and_when_the_version_is_there(monkeypatch):
    calls = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a))
    exec(install_cell.render(), {})  # not on Colab: nothing runs
    monkeypatch.setitem(__import__("sys").modules, "google.colab", object())
    monkeypatch.setattr("importlib.metadata.version", lambda name: install_cell.pinned_source()[1])
    exec(install_cell.render(), {})  # on Colab with the release installed: nothing runs either
    assert calls == []
    monkeypatch.setattr("importlib.metadata.version", lambda name: "0.0.1")
    exec(install_cell.render(), {})
    assert len(calls) == 1 and calls[0][0][-1] == install_cell.pinned_source()[0]
