"""The book's footer: this release's version, its licences and how to cite it.

Nothing here is typed twice: the version is ``pyproject.toml``'s
(:func:`xray_utils.project.version`), the licence links point into the
repository that ``_config.yml`` names (the same theme options the repository
buttons use), and "How to cite" is the front page's section, which shows
``CITATION.cff``. sphinx-book-theme renders ``theme_extra_footer`` under each
page (its ``extra-footer.html``); this fills it in per page, so the relative
links work from every folder and offline.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

from xray_utils import project

CITE_ANCHOR = "how-to-cite"  # the id MyST gives the front page's "## How to cite" heading
DATASET_PAGE = "book/dataset"  # where the images' own terms are stated


def _link(href: str, text: str) -> str:
    """An HTML link, both parts escaped."""
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def footer_html(version: str, home: project.Home, cite_href: str, dataset_href: str) -> str:
    """The footer's HTML: version, the two licences with links, the data's exception, the citation link."""
    return (
        '<p class="xray-footer">'
        f"Version {html.escape(version)} · {_link(cite_href, 'How to cite')} · "
        f"Code: {_link(home.file_url(project.LICENSE_FILES[project.CODE_LICENSE]), 'MIT licence')} · "
        f"Text and figures: {_link(project.CONTENT_LICENSE_URL, 'CC BY 4.0')} · "
        f"The X-ray images are under neither: {_link(dataset_href, 'their sources’ own terms')} apply."
        "</p>"
    )


@functools.cache
def _version(srcdir: str) -> str:
    """The version of the checkout the book is built from (read once per build)."""
    return project.version(Path(srcdir))


def _relative(app, context, docname: str) -> str:
    """The link from this page to ``docname``'s file (Sphinx's ``pathto`` gives "#" for the page itself)."""
    if docname == context["pagename"]:
        return Path(docname).name + app.builder.out_suffix
    return context["pathto"](docname)


def add_footer(app, pagename, templatename, context, doctree):
    """Put the footer into this page's ``theme_extra_footer``, after any footer _config.yml sets."""
    options = app.config.html_theme_options  # Jupyter Book fills these from _config.yml's `repository`
    home = project.Home(
        repository=options["repository_url"].rstrip("/"),
        branch=options.get("repository_branch") or "main",
        book=app.config.html_baseurl,
    )
    footer = footer_html(
        _version(app.srcdir),
        home,
        f"{_relative(app, context, app.config.root_doc)}#{CITE_ANCHOR}",
        _relative(app, context, DATASET_PAGE),
    )
    context["theme_extra_footer"] = (context.get("theme_extra_footer") or "") + footer


def setup(app):
    app.connect("html-page-context", add_footer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
