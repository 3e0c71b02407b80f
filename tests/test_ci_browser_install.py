"""CI installs a browser for the browser check when it has none, and a developer's machine never does.

.ci/install-browser runs here against fakes on an otherwise empty PATH: an ``apt-get``
that records its arguments and, for ``install``, drops an executable named after the
package beside itself (as Debian's chromium lands on PATH), a ``sudo`` that runs the rest
of its command, and a ``make`` that only records. Nothing is installed for real.
"""

import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / ".ci" / "install-browser"
RUN = ROOT / ".ci" / "run"

FAKE_APT_GET = """#!{python}
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["apt-get", *args, os.environ.get("DEBIAN_FRONTEND", "")]) + "\\n")
if args[0] == "update" and os.environ.get("FAKE_APT_FAILS") == "update":
    sys.exit(100)
if args[0] == "install":
    package = args[-1]
    if package not in os.environ.get("FAKE_APT_HAS", "chromium chromium-browser").split():
        print(f"E: Unable to locate package {{package}}", file=sys.stderr)
        sys.exit(100)
    if os.environ.get("FAKE_APT_DROPS", "yes") == "yes":
        browser = Path(__file__).with_name(package)
        browser.write_text("#!/bin/sh\\n")
        browser.chmod(0o755)
"""
FAKE_SUDO = """#!{python}
import json, os, sys
args, env = sys.argv[1:], dict(os.environ)
while "=" in args[0]:
    name, value = args.pop(0).split("=", 1)
    env[name] = value
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["sudo"]) + "\\n")
os.execve(args[0], args, env)
"""
FAKE_MAKE = """#!{python}
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["make", *sys.argv[1:]]) + "\\n")
"""


def _fake(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(source.format(python=sys.executable))
    path.chmod(0o755)
    return path


def _load_install_script():
    """.ci/install-browser as a module (it has no .py suffix), to run its main() in this process."""
    loader = importlib.machinery.SourceFileLoader("install_browser", str(INSTALL))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


install_browser = _load_install_script()


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A PATH holding only the fakes (apt-get, sudo, make) and no browser; yields the fakes' folder.

    Playwright's own download is never there: it is looked for by starting Playwright's
    driver (a second or more a call), so that lookup answers None at once.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, source in (("apt-get", FAKE_APT_GET), ("sudo", FAKE_SUDO), ("make", FAKE_MAKE)):
        _fake(bin_dir, name, source)
    for name in ("CI", "XRAY_BROWSER", "DEBIAN_FRONTEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-playwright-browsers"))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    lookup = sys.modules[install_browser.find_browser.__module__]
    monkeypatch.setattr(lookup, "_playwright_chromium", lambda: None)
    install_browser.find_browser.cache_clear()
    yield bin_dir
    install_browser.find_browser.cache_clear()


def _calls() -> list[list[str]]:
    """What the fakes were asked to do, in order (sudo's own line left out)."""
    log = Path(os.environ["FAKE_LOG"])
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [call for call in lines if call != ["sudo"]]


def _install(monkeypatch, capfd, **env) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of .ci/install-browser with ``env`` added to the environment."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    install_browser.find_browser.cache_clear()
    status = install_browser.main()
    out = capfd.readouterr()
    return status, out.out, out.err


APT_INSTALL = ["install", "-y", "--no-install-recommends"]


def test_on_ci_without_a_browser_it_installs_chromium_and_says_how_long(machine, monkeypatch, capfd):
    status, out, err = _install(monkeypatch, capfd, CI="true")
    assert status == 0, out + err
    assert _calls() == [
        ["apt-get", "update", "noninteractive"],
        ["apt-get", *APT_INSTALL, "chromium", "noninteractive"],
    ]
    assert "CI is set and no Chromium or Chrome found" in out
    assert re.search(
        rf"installed chromium with apt-get in \d+ s: {re.escape(str(machine))}/chromium \(chromium on PATH\)", out
    )


def test_not_root_it_goes_through_sudo(machine, monkeypatch, capfd):
    monkeypatch.setattr(install_browser.os, "geteuid", lambda: 1000)
    status, out, err = _install(monkeypatch, capfd, CI="true")
    assert status == 0, out + err
    assert f"$ {machine / 'sudo'} DEBIAN_FRONTEND=noninteractive {machine / 'apt-get'} update" in out
    assert _calls()[-1] == ["apt-get", *APT_INSTALL, "chromium", "noninteractive"]


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_without_ci_nothing_is_installed(machine, monkeypatch, capfd, ci):
    status, out, _ = _install(monkeypatch, capfd, **({} if ci is None else {"CI": ci}))
    assert status == 0 and _calls() == []
    assert "CI is not set, nothing installed" in out


def test_a_browser_on_path_or_in_xray_browser_is_used_as_it_is(machine, monkeypatch, capfd, tmp_path):
    chosen = _fake(tmp_path, "my-chrome", "#!/bin/sh\n")
    status, out, _ = _install(monkeypatch, capfd, CI="1", XRAY_BROWSER=str(chosen))
    assert status == 0 and f"will use {chosen} (XRAY_BROWSER), nothing installed" in out
    monkeypatch.delenv("XRAY_BROWSER")
    _fake(machine, "google-chrome", "#!/bin/sh\n")
    status, out, _ = _install(monkeypatch, capfd, CI="1")
    assert status == 0 and "(google-chrome on PATH), nothing installed" in out
    assert _calls() == []


def test_a_wrong_xray_browser_fails_without_installing(machine, monkeypatch, capfd, tmp_path):
    status, _, err = _install(monkeypatch, capfd, CI="1", XRAY_BROWSER=str(tmp_path / "missing"))
    assert status == 1 and _calls() == []
    assert err.strip() == f"install-browser: error: XRAY_BROWSER={tmp_path / 'missing'} is not an executable file"


def test_ubuntu_without_a_chromium_package_gets_chromium_browser(machine, monkeypatch, capfd):
    status, out, err = _install(monkeypatch, capfd, CI="1", FAKE_APT_HAS="chromium-browser")
    assert status == 0, out + err
    assert [call[1:-1] for call in _calls()] == [
        ["update"],
        [*APT_INSTALL, "chromium"],
        [*APT_INSTALL, "chromium-browser"],
    ]
    assert re.search(
        rf"installed chromium-browser with apt-get in \d+ s: {re.escape(str(machine))}/chromium-browser", out
    )


@pytest.mark.parametrize(
    "fakes, message",
    [
        ({"FAKE_APT_HAS": ""}, "apt-get could not install chromium or chromium-browser (output above)"),
        ({"FAKE_APT_FAILS": "update"}, "apt-get update failed (output above): no Chromium installed"),
        ({"FAKE_APT_DROPS": "no"}, "apt-get installed chromium but the browser check still finds none"),
    ],
)
def test_a_failed_install_fails_the_script_with_one_line(machine, monkeypatch, capfd, fakes, message):
    status, _, err = _install(monkeypatch, capfd, CI="1", **fakes)
    assert status == 1
    assert err.strip().splitlines()[-1].startswith(f"install-browser: error: {message}"), err


def test_no_apt_get_fails_with_what_to_do(machine, monkeypatch, capfd):
    (machine / "apt-get").unlink()
    status, _, err = _install(monkeypatch, capfd, CI="1")
    assert status == 1
    assert "cannot install Chromium: no apt-get here (not Debian or Ubuntu)" in err and "XRAY_BROWSER" in err


def test_apt_get_runs_as_root_directly_else_through_sudo():
    assert install_browser.apt_prefix(0, "/usr/bin/sudo") == []
    assert install_browser.apt_prefix(1000, "/usr/bin/sudo") == ["/usr/bin/sudo", "DEBIAN_FRONTEND=noninteractive"]
    with pytest.raises(install_browser.InstallError, match="not root and no sudo here"):
        install_browser.apt_prefix(1000, None)


def _ci_run(**env) -> subprocess.CompletedProcess:
    """.ci/run as CI starts it (its own process: the script, the venv's python, the fakes)."""
    return subprocess.run(
        ["/bin/bash", str(RUN)], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


def test_ci_run_installs_a_browser_before_the_tests_and_only_on_ci(machine):
    out = _ci_run(CI="true")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [call[:2] for call in _calls()] == [
        ["make", "venv"],
        ["apt-get", "update"],
        ["apt-get", "install"],
        ["make", "test"],
    ]
    Path(os.environ["FAKE_LOG"]).unlink()
    (machine / "chromium").unlink()
    assert _ci_run().returncode == 0
    assert _calls() == [["make", "venv"], ["make", "test"]]


def test_ci_run_stops_before_the_tests_when_the_install_fails(machine):
    out = _ci_run(CI="true", FAKE_APT_HAS="")
    assert out.returncode != 0
    assert [call[:2] for call in _calls()][-1] == ["apt-get", "install"]  # `make test` never ran
    assert "install-browser: error: apt-get could not install chromium or chromium-browser" in out.stderr
