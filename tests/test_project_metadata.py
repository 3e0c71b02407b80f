"""The files that describe the project agree: licences, citation, changelog, version and the one home.

The repository, its branch and the published book's address are defined once,
in ``_config.yml`` (:func:`xray_utils.project.home`); the version once, in
``pyproject.toml``. Every copy a reader meets outside the book (the README,
``CITATION.cff``, ``pyproject.toml``'s URLs, the changelog's links, the
workflows, the notebooks' install cell) is held to them here: any other address
of this project in a tracked file fails the scan, naming the file and line.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from xray_utils import project
from xray_utils.runner import cli

PROJECT = Path(__file__).resolve().parent.parent
# sha256 of Creative Commons' plain-text legal code of CC BY 4.0, as published at
# https://creativecommons.org/licenses/by/4.0/legalcode.txt (copied byte for byte from
# github/choosealicense.com@027890a, _licenses/cc-by-4.0.txt, without its front matter).
CC_BY_4_LEGALCODE_SHA256 = "fd3a263fe19ed8faa9068b43abaebafc02c77897b0c6fc09abc04bb592e5f16e"


def _pyproject() -> dict:
    return tomllib.loads((PROJECT / "pyproject.toml").read_text())


def _citation_file() -> dict:
    return yaml.safe_load((PROJECT / "CITATION.cff").read_text())


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    """``check-jsonschema`` with the CFF 1.2.0 schema it vendors (draft-07, formats checked)."""
    tool = Path(sys.executable).with_name("check-jsonschema")
    if not tool.is_file():
        pytest.fail(f"{tool} is missing: install the test tools, pip install -e '.[test]'")
    command = [str(tool), "--builtin-schema", "vendor.citation-file-format", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


# --- licences ---------------------------------------------------------------------------------


def test_the_code_licence_is_mit_for_the_authors():
    text = (PROJECT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 The xray-cnn-book authors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_the_content_licence_is_creative_commons_legal_code_unaltered():
    path = PROJECT / project.LICENSE_FILES[project.CONTENT_LICENSE]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == CC_BY_4_LEGALCODE_SHA256, (
        f"{path.relative_to(PROJECT)} differs from Creative Commons' legal code (a whitespace fixer?)"
    )


def test_pyproject_states_the_code_licence_and_ships_its_text():
    meta = _pyproject()["project"]
    assert meta["license"] == project.CODE_LICENSE
    assert meta["license-files"] == [project.LICENSE_FILES[project.CODE_LICENSE]]
    assert all((PROJECT / name).is_file() for name in meta["license-files"])


def test_the_readme_says_what_each_licence_covers_and_that_the_data_is_not_covered():
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Licence and citation", 1)[1].split("\n## ", 1)[0]
    for needed in (
        "**Code: MIT** (`LICENSE`)",
        "**Text and figures: CC BY 4.0** (`LICENSES/CC-BY-4.0.txt`",
        "**Not covered: the data.**",
        "`xray_utils/`",
        "`tests/`",
        "`book/_ext/`",
        "`CITATION.cff`",
    ):
        assert needed in section, f"README's licence section lacks {needed!r}"


# --- citation, changelog, version ----------------------------------------------------------------


def test_citation_file_validates_against_the_cff_1_2_0_schema():
    done = _check_jsonschema(PROJECT / "CITATION.cff")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (
            ("date-released: 2026-12-01", "date-released: 1 December 2026"),
            "$['date-released']: '1 December 2026' is not a 'date'",
        ),
        (('  - name: "The xray-cnn-book authors"\n', ""), "$.authors: None is not of type 'array'"),
        (("  - CC-BY-4.0\n", "  - CC-BY-4\n"), "$.license: "),
    ],
)
def test_the_schema_check_rejects_a_broken_citation_file(tmp_path, edit, complaint):
    text = (PROJECT / "CITATION.cff").read_text()
    assert edit[0] in text
    broken = tmp_path / "CITATION.cff"
    broken.write_text(text.replace(*edit))
    done = _check_jsonschema(broken)
    assert done.returncode != 0 and complaint in done.stdout + done.stderr


def test_the_citation_names_this_release_its_licences_and_its_home():
    cff, home = _citation_file(), project.home()
    config = yaml.safe_load((PROJECT / "_config.yml").read_text())
    assert str(cff["version"]) == _pyproject()["project"]["version"] == project.version()
    assert cff["title"] == config["title"]
    assert cff["authors"] == [{"name": config["author"]}]
    assert cff["license"] == [project.CODE_LICENSE, project.CONTENT_LICENSE]
    assert cff["repository-code"] == home.repository and cff["url"] == home.book
    titles = {ref["title"] for ref in cff["references"]}
    assert {"Deep-Learning-X-Ray-Classification", "COVID-19 Radiography Database"} <= titles


def _changelog_releases() -> list[tuple[str, str]]:
    """``(version, date)`` of each release heading of CHANGELOG.md, newest first."""
    text = (PROJECT / "CHANGELOG.md").read_text()
    return re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", text, re.M)


def test_the_changelog_keeps_a_changelog_and_starts_with_this_release():
    text = (PROJECT / "CHANGELOG.md").read_text()
    assert "https://keepachangelog.com/en/1.1.0/" in text
    headings = re.findall(r"^## .*$", text, re.M)
    assert headings[0] == "## [Unreleased]", "Keep a Changelog: an Unreleased section comes first"
    releases = _changelog_releases()
    assert len(releases) == len(headings) - 1, f"a release heading is not `## [x.y.z] - YYYY-MM-DD`: {headings}"
    newest, released = releases[0]
    assert newest == project.version(), "the newest release in CHANGELOG.md is not pyproject.toml's version"
    assert datetime.date.fromisoformat(released) == _citation_file()["date-released"]
    home = project.home()
    for version, _ in releases:
        assert f"[{version}]: {home.repository}/releases/tag/v{version}" in text, f"no link for {version}"


def test_the_installed_package_is_this_checkout_s_release():
    import importlib.metadata

    meta = importlib.metadata.metadata(project.DISTRIBUTION)
    assert meta["Version"] == project.version(), "reinstall: pip install -e . (the metadata is stale)"
    assert meta["License-Expression"] == project.CODE_LICENSE


def test_xray_book_version_prints_pyproject_s_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"xray-book {_pyproject()['project']['version']}\n"


def test_pyproject_urls_are_the_one_home():
    home, urls = project.home(), _pyproject()["project"]["urls"]
    assert urls == {
        "Homepage": home.book,
        "Source": home.repository,
        "Issues": f"{home.repository}/issues",
        "Changelog": home.file_url("CHANGELOG.md"),
    }


def test_the_book_turns_on_the_repository_issues_and_edit_buttons():
    html = yaml.safe_load((PROJECT / "_config.yml").read_text())["html"]
    assert html["use_repository_button"] and html["use_issues_button"] and html["use_edit_page_button"]


# --- one home: every address of this project in the repository --------------------------------

# (pattern, what it addresses): each captures an owner and a repository, and may go on with a branch.
_REPO_PATTERNS = [
    re.compile(r"github\.com[/:](?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)(?:/(?:blob|tree|edit|raw)/(?P<branch>[\w.-]+))?"),
    re.compile(r"raw\.githubusercontent\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)(?:/(?P<branch>[\w.-]+))?"),
    re.compile(
        r"colab\.research\.google\.com/github/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)(?:/blob/(?P<branch>[\w.-]+))?"
    ),
    re.compile(r"mybinder\.org/v2/gh/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)(?:/(?P<branch>[\w.-]+))?"),
]
_PAGES = re.compile(r"(?P<url>https?://(?P<owner>[\w-]+)\.github\.io(?P<path>/[^\s\"'<>)\]`]*)?)")
_TAG = re.compile(r"git\+(?P<repository>https://github\.com/[\w.-]+/[\w.-]+)@v(?P<version>\d+(?:\.\d+)*)")


def _key(name: str) -> str:
    """A name as GitHub compares it: case and ``-``/``_`` do not tell repositories apart."""
    return name.lower().replace("_", "-").removesuffix(".git").rstrip(".")


def foreign_addresses(text: str, home: project.Home, version: str) -> list[str]:
    """Every address in ``text`` that names this project but not its one home: ``line N: why``."""
    owner, repo = home.owner_repo.split("/")
    ours = {_key(owner), _key(repo), _key(project.DISTRIBUTION)}
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern in _REPO_PATTERNS:
            for match in pattern.finditer(line):
                names = (_key(match["owner"]), _key(match["repo"]))
                if not ours & set(names):
                    continue  # another project's repository (the original study's, an action's)
                if names != (_key(owner), _key(repo)):
                    found.append(f"line {number}: {match[0]} is not {home.repository}")
                elif match["branch"] and match["branch"] != home.branch:
                    found.append(f"line {number}: {match[0]} is not on branch {home.branch}")
        for match in _PAGES.finditer(line):
            first = (match["path"] or "/").strip("/").split("/")[0]
            if ours & {_key(match["owner"]), _key(first)} and not match["url"].lower().startswith(home.book.lower()):
                found.append(f"line {number}: {match['url']} is not under {home.book}")
        for match in _TAG.finditer(line):
            if _key(match["repository"]) == _key(home.repository) and match["version"] != version:
                found.append(f"line {number}: {match[0]} pins v{match['version']}, not this release v{version}")
    return found


def _repository_text_files() -> list[Path]:
    """Tracked files and new ones not yet added (not ignored), plus any workflow: everything a push carries."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    paths = {PROJECT / name for name in listed if name} | set((PROJECT / ".github" / "workflows").glob("*.y*ml"))
    return sorted(path for path in paths if path.is_file())


def test_the_scan_finds_another_owner_repository_branch_book_or_release():
    # A made-up home, so that this file's own examples are not addresses of this project.
    home = project.Home("https://github.com/acme/widget", "main", "https://acme.github.io/widget/")
    good = """
        https://github.com/acme/widget/blob/main/LICENSE and git@github.com:acme/widget.git
        https://acme.github.io/widget/book/dataset.html, the study github.com/melissafeeney/Deep-Learning-X-Ray-Classification
        https://colab.research.google.com/github/acme/widget/blob/main/notebooks/01_x.ipynb
        pip install "widget @ git+https://github.com/acme/widget@v0.1.0", uses: actions/checkout@v5
    """
    assert foreign_addresses(good, home, "0.1.0") == []
    bad = {
        "https://github.com/someone/widget": "is not https://github.com/acme/widget",
        "https://github.com/acme/other-name/issues": "is not https://github.com/acme/widget",
        "https://github.com/ACME/widget/tree/master/notebooks": "is not on branch main",
        "https://mybinder.org/v2/gh/someone/widget/main?urlpath=lab": "is not https://github.com/acme/widget",
        "https://someone.github.io/widget/index.html": "is not under https://acme.github.io/widget/",
        "https://acme.github.io/old-name/": "is not under https://acme.github.io/widget/",
        "git+https://github.com/acme/widget@v0.0.9": "pins v0.0.9, not this release v0.1.0",
    }
    for text, why in bad.items():
        found = foreign_addresses(f"first line\nsee {text}.", home, "0.1.0")
        assert len(found) == 1 and found[0].startswith("line 2: ") and why in found[0], (text, found)


def test_every_address_of_this_project_in_the_repository_is_the_one_home():
    home, version = project.home(), project.version()
    problems, scanned = [], 0
    for path in _repository_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file holds no address a reader follows
        scanned += 1
        problems += [f"{path.relative_to(PROJECT)}: {problem}" for problem in foreign_addresses(text, home, version)]
    assert scanned > 50, f"only {scanned} text files found: is this a git checkout?"
    assert not problems, "addresses that are not the one home in _config.yml:\n  " + "\n  ".join(problems)


def test_the_places_that_must_carry_the_home_carry_it():
    home = project.home()
    for name in ("README.md", "CITATION.cff", "pyproject.toml", "CHANGELOG.md"):
        assert home.repository in (PROJECT / name).read_text(), f"{name} does not name {home.repository}"
    assert home.book in (PROJECT / "CITATION.cff").read_text()
    for workflow in sorted((PROJECT / ".github" / "workflows").glob("*.y*ml")):
        foreign = foreign_addresses(workflow.read_text(), home, project.version())
        assert not foreign, f"{workflow.name}: {foreign}"
