"""Point the book's Colab, Binder and edit buttons at the committed notebooks.

The book's pages are the executed copies in ``book/chapters/`` (not committed);
the repository holds their twins in ``notebooks/`` under the same names, each
paired with the reviewed source ``notebooks/NN_name.py``. sphinx-book-theme
builds these links from the page's own path, so this rewrites them after it
(its handlers run at priority 501): Colab and Binder open the ``.ipynb`` twin,
"Suggest edit" opens the ``.py`` source, the file a change must be made in.
"""

from __future__ import annotations

PAGES = "book/chapters/"  # where the book reads the executed notebooks
NOTEBOOKS = "notebooks/"  # where the repository keeps them
SOURCE_SUFFIX = ".py"  # the reviewed jupytext source of each twin (jupytext.toml pairs them)


def source_path(pagename: str) -> str:
    """The repository path a chapter page is edited in: ``book/chapters/06_x`` -> ``notebooks/06_x.py``."""
    return NOTEBOOKS + pagename[len(PAGES) :] + SOURCE_SUFFIX


def _edit_url(url: str, pagename: str, suffix: str) -> str:
    """``url`` (an edit link ending in the page's generated file) ending in its source file instead."""
    generated = f"/{pagename}{suffix}"
    if not url.endswith(generated):
        raise ValueError(f"edit link {url!r} of page {pagename} does not end in {generated!r}")
    return url[: -len(generated)] + "/" + source_path(pagename)


def _buttons(header_buttons: list[dict]):
    """Every button of the page header, inside groups or alone."""
    for item in header_buttons:
        yield from item.get("buttons", [item])


def point_buttons_at_the_notebooks(app, pagename, templatename, context, doctree):
    """Rewrite a chapter page's launch links (to the twin) and edit link (to the ``.py`` source)."""
    if not pagename.startswith(PAGES):
        return
    suffix = context.get("page_source_suffix", ".ipynb")
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            for button in group.get("buttons", []):
                if "url" in button:
                    button["url"] = button["url"].replace(PAGES, NOTEBOOKS)
    for button in _buttons(context.get("header_buttons", [])):
        if button.get("label") == "source-edit-button":
            button["url"] = _edit_url(button["url"], pagename, suffix)
    original = context.get("get_edit_provider_and_url")
    if original is not None:  # the theme's other "edit this page" links call this

        def edit_provider_and_url():
            provider, url = original()
            return provider, _edit_url(url, pagename, suffix)

        context["get_edit_provider_and_url"] = edit_provider_and_url


def setup(app):
    app.connect("html-page-context", point_buttons_at_the_notebooks, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
