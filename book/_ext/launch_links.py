"""Point the book's Colab and Binder buttons at the committed notebooks.

The book's pages are the executed copies in ``book/chapters/`` (not committed);
the repository holds their twins in ``notebooks/`` under the same names.
sphinx-book-theme builds launch links from the page's own path, so this
rewrites them after it (its handler runs at priority 501).
"""

from __future__ import annotations

PAGES = "book/chapters/"  # where the book reads the executed notebooks
NOTEBOOKS = "notebooks/"  # where the repository keeps them


def point_launch_buttons_at_the_notebooks(app, pagename, templatename, context, doctree):
    if not pagename.startswith(PAGES):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if "url" in button:
                button["url"] = button["url"].replace(PAGES, NOTEBOOKS)


def setup(app):
    app.connect("html-page-context", point_launch_buttons_at_the_notebooks, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
