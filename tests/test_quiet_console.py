"""book/_ext/quiet_console.py leaves each page one sphinx-thebe configuration and a valid colour mode.

The browser check (tests/browser) fails on the console errors these two cause; here the
handlers are run on page contexts shaped as Sphinx 7 passes them.
"""

import importlib.util
from pathlib import Path

from sphinx.builders.html._assets import _JavaScript

EXTENSION = Path(__file__).resolve().parents[1] / "book" / "_ext" / "quiet_console.py"
THEBE = 'const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"; const thebe_selector = ".thebe,.cell"'


def _extension():
    spec = importlib.util.spec_from_file_location("quiet_console", EXTENSION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scripts(context) -> list[str]:
    return [script.filename or script.attributes["body"] for script in context["script_files"]]


def test_a_repeated_thebe_configuration_is_dropped_and_nothing_else():
    context = {
        "script_files": [
            _JavaScript("_static/documentation_options.js"),
            _JavaScript(None, body=THEBE),
            _JavaScript("_static/sphinx-thebe.js", **{"async": "async"}),
            _JavaScript(None, body=THEBE),
            _JavaScript(None, body="var togglebuttonSelector = '.toggle'"),
        ]
    }
    _extension().drop_repeated_thebe_config(None, "page", "page.html", context, None)
    assert _scripts(context) == [
        "_static/documentation_options.js",
        THEBE,
        "_static/sphinx-thebe.js",
        "var togglebuttonSelector = '.toggle'",
    ]


def test_two_different_thebe_configurations_are_both_kept():
    other = THEBE.replace(".thebe,.cell", ".thebe")
    context = {"script_files": [_JavaScript(None, body=THEBE), _JavaScript(None, body=other)]}
    _extension().drop_repeated_thebe_config(None, "page", "page.html", context, None)
    assert _scripts(context) == [THEBE, other]  # the browser check then reports the clash


def test_the_theme_starts_in_auto_mode_unless_the_book_chose_one():
    extension = _extension()
    for given, expected in ((None, "auto"), ("", "auto"), ("dark", "dark")):
        context = {} if given is None else {"default_mode": given}
        extension.default_to_auto_mode(None, "page", "page.html", context, None)
        assert context["default_mode"] == expected
