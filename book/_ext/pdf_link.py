"""Offer the whole book as one PDF in every page's download menu.

sphinx-book-theme's download menu has the page's source and "print this page";
this adds "whole book (.pdf)", a link to ``_downloads/xray-cnn-book.pdf``. The HTML
is built before the PDF can be printed from it, so the file arrives afterwards:
``xray-book pdf`` (run by ``xray-book all`` and ``make pdf``) writes it there, and
``tests/browser/test_pdf.py`` checks that the link then resolves to it.
"""

from __future__ import annotations

from xray_utils.runner.pdf import DOWNLOAD_DIR, PDF_NAME

PDF_HREF = f"{DOWNLOAD_DIR}/{PDF_NAME}"  # relative to the book's root: where `xray-book pdf` copies the PDF
LABEL = "download-book-pdf-button"


def add_book_pdf_button(app, pagename, templatename, context, doctree):
    """Append the whole-book PDF to the page's download menu, and say which PDF the print button makes."""
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = group.setdefault("buttons", [])
        for button in buttons:
            if button.get("label") == "download-pdf-button":  # the theme's window.print()
                button["text"] = ".pdf (this page)"
        buttons.append(
            {
                "type": "link",
                "url": context["pathto"](PDF_HREF, 1),
                "text": "whole book (.pdf)",
                "tooltip": "Download the whole book as one PDF",
                "icon": "fas fa-book",
                "label": LABEL,
            }
        )


def setup(app):
    # After the theme has made the download menu (its handler runs at priority 501).
    app.connect("html-page-context", add_book_pdf_button, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
