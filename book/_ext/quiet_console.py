"""Keep the browser console of every page free of the theme stack's own two errors.

A reader's console (and the browser check, tests/browser) saw on every page:

- ``Identifier 'THEBE_JS_URL' has already been declared``: sphinx-thebe adds its inline
  configuration script each time ``env-before-read-docs`` fires, which is more than
  once in a Jupyter Book build, so the page declares the same ``const`` twice and the
  second script throws. Identical copies are dropped here; differing ones are kept
  (then the check reports them, as it should).
- ``Got invalid theme mode: . Resetting to auto.``: pydata-sphinx-theme writes
  ``localStorage.getItem("mode") || "<default_mode>"`` into the page, and its default is
  empty (the book sets no ``html_context["default_mode"]``), so a first visit logs the
  error and falls back to ``auto``. Starting from ``auto`` keeps that behaviour without it.
"""

from __future__ import annotations

THEBE_CONFIG_START = "const THEBE_JS_URL"  # how sphinx-thebe's inline configuration script begins


def drop_repeated_thebe_config(app, pagename, templatename, context, doctree):
    """Leave one copy of each identical sphinx-thebe configuration script in the page's scripts."""
    seen = set()
    kept = []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body", "")
        if body.startswith(THEBE_CONFIG_START):
            if body in seen:
                continue
            seen.add(body)
        kept.append(script)
    context["script_files"] = kept


def default_to_auto_mode(app, pagename, templatename, context, doctree):
    """Give the theme's page template a valid colour mode to start from (``auto``) unless the book chose one."""
    if not context.get("default_mode"):  # pydata-sphinx-theme reads it from html_context, never sets it
        context["default_mode"] = "auto"


def setup(app):
    app.connect("html-page-context", default_to_auto_mode)
    app.connect("html-page-context", drop_repeated_thebe_config, priority=900)  # after the theme adds its scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
