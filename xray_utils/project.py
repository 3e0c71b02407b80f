"""The project's identity: its version, its one home on the web, its licences and how to cite it.

Each fact is written down once. The version is ``pyproject.toml``'s (read from
the checkout, or from the installed package's metadata where there is no
checkout, as on Colab); the repository, its branch and the published book's
address are ``_config.yml``'s ``repository`` and ``html.baseurl``; the citation
is ``CITATION.cff``. The install cell, the book's footer and buttons,
``xray-book --version`` and the citation shown on the front page read them here;
the README, ``CITATION.cff`` and ``pyproject.toml``'s URLs are held to them by
``tests/test_project_metadata.py``.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import XrayError
from .paths import project_root

DISTRIBUTION = "xray-cnn-book"
# SPDX identifiers, and the file in the repository that holds each licence's text.
CODE_LICENSE = "MIT"
CONTENT_LICENSE = "CC-BY-4.0"
LICENSE_FILES = {CODE_LICENSE: "LICENSE", CONTENT_LICENSE: "LICENSES/CC-BY-4.0.txt"}
CONTENT_LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"


class ProjectError(XrayError):
    """A file that defines the project (pyproject.toml, _config.yml, CITATION.cff) lacks what is needed."""


def _read_yaml(path: Path) -> dict:
    """``path`` parsed as a YAML mapping, or a :class:`ProjectError` naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:  # PyYAML's own message spans several lines: keep the line and the problem
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ProjectError(f"{path}: not valid YAML{where} ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a YAML mapping at the top, found {type(data).__name__}")
    return data


def _field(data: dict, path: Path, *keys: str) -> str:
    """The non-empty string at ``data[keys[0]][keys[1]]...``, or a :class:`ProjectError` naming file and key."""
    value = data
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None or isinstance(value, dict | list) or not str(value).strip():  # a YAML date is fine: str() it
        raise ProjectError(f"{path}: `{'.'.join(keys)}` is missing or empty")
    return str(value).strip()


def version(root: Path | None = None) -> str:
    """This release's version: ``pyproject.toml``'s in a checkout, else the installed package's."""
    pyproject = (root or project_root()) / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError(f"{pyproject}: not valid TOML ({exc})") from None
        # project_root() falls back to the working directory, which may hold another project's file
        if data.get("project", {}).get("name") == DISTRIBUTION:
            return _field(data, pyproject, "project", "version")
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ProjectError(f"no {pyproject} and no installed {DISTRIBUTION}: the version is unknown") from None


@dataclass(frozen=True)
class Home:
    """Where the project lives: its GitHub repository, the branch links point at, and the published book."""

    repository: str  # https://github.com/<owner>/<name>, no trailing slash
    branch: str
    book: str  # the published book's address, ending in "/"

    @property
    def owner_repo(self) -> str:
        """``<owner>/<name>`` of the repository."""
        return self.repository.split("github.com/", 1)[1]

    def file_url(self, path: str) -> str:
        """The repository page of ``path`` (relative to the repository root) on :attr:`branch`."""
        return f"{self.repository}/blob/{self.branch}/{path}"


def home(root: Path | None = None) -> Home:
    """The one home, as ``_config.yml`` defines it (``repository.url``/``branch``, ``html.baseurl``)."""
    config = (root or project_root()) / "_config.yml"
    data = _read_yaml(config)
    repository = _field(data, config, "repository", "url").rstrip("/")
    if not repository.startswith("https://github.com/") or repository.count("/") != 4:
        raise ProjectError(f"{config}: `repository.url` must be https://github.com/<owner>/<name>, not {repository}")
    book = _field(data, config, "html", "baseurl")
    if not book.startswith("https://"):
        raise ProjectError(f"{config}: `html.baseurl` must be the published book's https:// address, not {book}")
    return Home(repository, _field(data, config, "repository", "branch"), book.rstrip("/") + "/")


@dataclass(frozen=True)
class Citation:
    """How to cite this book, from ``CITATION.cff``: one line for reading and a BibTeX entry."""

    authors: str
    title: str
    version: str
    year: str
    url: str

    def text(self) -> str:
        """The citation as one line of Markdown (APA's pattern for software)."""
        return f"{self.authors} ({self.year}). *{self.title}* (version {self.version}). {self.url}"

    def bibtex(self) -> str:
        """The citation as a BibTeX ``@misc`` entry (understood by every BibTeX style)."""
        key = DISTRIBUTION.replace("-", "_") + self.year
        # Double braces keep BibTeX from reading the entity as a person's name or recasing the title.
        return (
            f"@misc{{{key},\n"
            f"  author = {{{{{self.authors}}}}},\n"
            f"  title = {{{{{self.title}}}}},\n"
            f"  year = {{{self.year}}},\n"
            f"  version = {{{self.version}}},\n"
            f"  howpublished = {{\\url{{{self.url}}}}}\n"
            "}"
        )


def citation(root: Path | None = None) -> Citation:
    """The book's citation from ``CITATION.cff`` (a :class:`ProjectError` naming what is missing)."""
    path = (root or project_root()) / "CITATION.cff"
    data = _read_yaml(path)
    authors = data.get("authors")
    if not isinstance(authors, list) or not authors or not all(isinstance(a, dict) for a in authors):
        raise ProjectError(f"{path}: `authors` must be a non-empty list of persons or entities")
    names = [a.get("name") or " ".join(filter(None, (a.get("given-names"), a.get("family-names")))) for a in authors]
    return Citation(
        authors=", ".join(names),
        title=_field(data, path, "title"),
        version=_field(data, path, "version"),
        year=_field(data, path, "date-released")[:4],
        url=_field(data, path, "url"),
    )


def how_to_cite(root: Path | None = None) -> str:
    """Markdown for the front page: the citation and its BibTeX entry, or where to find them.

    Outside a checkout (a notebook opened on Colab) there is no ``CITATION.cff``:
    the text then names the repository from the installed package's metadata.
    """
    root = root or project_root()
    if not (root / "CITATION.cff").is_file():
        try:
            urls = importlib.metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
        except importlib.metadata.PackageNotFoundError:  # imported from a copied folder, not installed
            urls = []
        source = next((u.split(",", 1)[1].strip() for u in urls if u.lower().startswith("source,")), "")
        where = f" at {source}" if source else ""
        return f"The citation is in `CITATION.cff` in the book's repository{where} (this copy is not a checkout of it)."
    found = citation(root)
    return f"{found.text()}\n\n```bibtex\n{found.bibtex()}\n```"
