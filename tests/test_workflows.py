"""The publishing workflow (``.github/workflows/``), checked offline, and ``xray-book download``, which it runs.

GitHub cannot be reached from here, so everything a workflow run would find out
early is checked instead: GitHub's workflow schema (vendored in check-jsonschema),
zizmor's offline audits, actions pinned by commit, least permissions, and that
every command a ``run:`` step calls exists here (a Makefile target, an
``xray-book`` subcommand, a script in the repository, or a short list of tools).
Each check is also shown failing on a deliberately broken copy of the workflow.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import types
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from xray_utils.data import KAGGLE_HANDLE
from xray_utils.runner import cli

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.y*ml"))
BOOK = PROJECT / ".github" / "workflows" / "book.yml"

# Commands a step may run besides the project's own: shell basics that need no installing.
ALLOWED_TOOLS = {"echo", "printf", "test", "true", "mkdir", "cp", "ls", "cat", "du", "df"}
SEPARATORS = {";", "&&", "||", "|", "&"}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<tag>\S+))?")
# Permissions the deploy job needs (deploy-pages' README) and no other job may have.
DEPLOY_PERMISSIONS = {"pages": "write", "id-token": "write"}


def _tool(name: str) -> str:
    """The test extra's command ``name`` (this interpreter's bin folder first), or fail naming the install."""
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed here: pip install -e '.[test]' (it is in the test extra)")
    return path


def _load(path: Path) -> dict:
    """A workflow as data; PyYAML reads the ``on`` key as the boolean True (YAML 1.1), so it is renamed."""
    workflow = yaml.safe_load(path.read_text())
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """``book.yml`` with its first ``old`` replaced by ``new``, in ``tmp_path``."""
    text = BOOK.read_text()
    assert old in text, f"{old!r} is not in {BOOK.name}: update this test"
    copy = tmp_path / "book.yml"
    copy.write_text(text.replace(old, new, 1))
    return copy


# --- the checks -------------------------------------------------------------------------------


def schema_errors(paths: list[Path]) -> str:
    """check-jsonschema's report for ``paths`` against GitHub's workflow schema ("" when all are valid)."""
    command = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return "" if done.returncode == 0 else done.stdout + done.stderr


def zizmor_findings(paths: list[Path]) -> list[str]:
    """zizmor's offline findings above low severity, one line each (ignore comments and configs not honoured)."""
    command = [_tool("zizmor"), "--offline", "--no-config", "--no-ignores", "--format", "json", *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    try:
        findings = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"zizmor gave no JSON report (exit {done.returncode}): {done.stderr[-2000:]}")
    lines = []
    for finding in findings:
        severity = finding["determinations"]["severity"]
        if severity.lower() in ("medium", "high"):
            where = finding["locations"][0]
            row = where["concrete"]["location"]["start_point"]["row"] + 1
            file = where["symbolic"]["key"]["Local"]["verbatim_path"]
            lines.append(f"{finding['ident']} ({severity}): {finding['desc']} at {file}:{row}")
    return lines


def unpinned_actions(path: Path) -> list[str]:
    """Each ``uses:`` not pinned to a full commit SHA with its tag in a comment (``@<40 hex> # v1.2.3``)."""
    problems = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = USES_LINE.match(line)
        if not match or match["ref"].startswith("./"):  # an action in this repository has no version
            continue
        if not PINNED.match(match["ref"]):
            problems.append(f"{path.name}:{number}: {match['ref']} is not pinned to a commit SHA")
        elif not (match["tag"] or "").startswith("v"):
            problems.append(f"{path.name}:{number}: {match['ref']} does not say which tag the SHA is (# vX.Y.Z)")
    return problems


def permission_problems(workflow: dict) -> list[str]:
    """Write access beyond reading the repository, anywhere but the deploy job's Pages permissions."""
    problems = []
    top = workflow.get("permissions")
    if top not in ({}, {"contents": "read"}):
        problems.append(f"top-level permissions are {top!r}: use {{}} or {{contents: read}}")
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", {})
        if not isinstance(granted, dict):
            problems.append(f"job {name} has permissions {granted!r}: name each one")
            continue
        deploys = any("actions/deploy-pages@" in step.get("uses", "") for step in job.get("steps", []))
        for scope, level in granted.items():
            if level == "write" and not (deploys and DEPLOY_PERMISSIONS.get(scope) == "write"):
                problems.append(f"job {name} may write {scope}: only the deploy job may, and only pages and id-token")
    return problems


@cache
def make_targets() -> frozenset[str]:
    """The Makefile's targets, from make's own database (``make -pRrq``: nothing is run)."""
    # Under `make test` the parent make's flags (-w: "make[1]: Entering directory") would reach this make.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    command = ["make", "-pRrq", "-f", "Makefile"]
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=60)
    targets, not_a_target = set(), False
    for line in done.stdout.splitlines():
        if line.startswith("# Not a target"):
            not_a_target = True
            continue
        match = re.match(r"^([A-Za-z0-9][^\s:#=$]*):(?!=)", line)
        if match and not not_a_target:
            targets.add(match.group(1))
        if not line.startswith("#"):
            not_a_target = False
    assert "test" in targets, f"could not read the Makefile's targets from `make -pRrq`: {done.stderr[-1000:]}"
    return frozenset(targets)


def xray_book_commands() -> set[str]:
    """The subcommands ``xray-book`` accepts, read from its own argument parser."""
    parser = cli._parser()
    (sub,) = [action for action in parser._actions if action.choices and action.dest == "command"]
    return set(sub.choices)


def commands_of(script: str) -> list[list[str]]:
    """The simple commands of a ``run:`` script (lines, ``;``, ``&&``, ``||``, pipes), each as its words."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token in SEPARATORS:
                while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):  # VAR=value before a command
                    words.pop(0)
                if words:
                    commands.append(words)
                words = []
            else:
                words.append(token)
    return commands


def unknown_command(words: list[str]) -> str | None:
    """Why ``words`` would fail in a workflow step here, or None when the command exists."""
    program, arguments = words[0], [w for w in words[1:] if not w.startswith("-")]
    if program == "make":
        missing = [t for t in arguments if "=" not in t and t not in make_targets()]
        return f"`make {' '.join(missing)}`: no such Makefile target" if missing else None
    if program == "xray-book" or program.endswith("/xray-book"):
        if not arguments or arguments[0] not in xray_book_commands():
            return f"`{' '.join(words)}`: xray-book has no such command ({', '.join(sorted(xray_book_commands()))})"
        return None
    if program in ("bash", "sh"):
        script = PROJECT / arguments[0] if arguments else None
        return None if script and script.is_file() else f"`{' '.join(words)}`: no such script in the repository"
    if "/" in program:
        script = PROJECT / program
        if not script.is_file() or not os.access(script, os.X_OK):
            return f"`{program}`: not an executable file in the repository"
        return None
    if program in ("python", "python3") and words[1:3] == ["-m", "pip"]:
        return None
    if program not in ALLOWED_TOOLS:
        return f"`{program}`: not a Makefile target, an xray-book command, a script here or an allowed tool"
    return None


def missing_commands(path: Path) -> list[str]:
    """Every ``run:`` step of the workflow at ``path`` whose commands do not all exist, with the reason."""
    problems = []
    for name, job in _load(path)["jobs"].items():
        for index, step in enumerate(job.get("steps", []), start=1):
            if "run" not in step:
                continue
            if step.get("shell", "bash") not in ("bash", "sh"):
                problems.append(f"{path.name}, job {name}, step {index}: shell {step['shell']} is not checked")
                continue
            for words in commands_of(step["run"]):
                reason = unknown_command(words)
                if reason:
                    problems.append(f"{path.name}, job {name}, step {index} ({step.get('name', 'unnamed')}): {reason}")
    return problems


def the_one_home() -> list[str]:
    """The repository URL and the published book's URL as ``_config.yml`` defines them."""
    config = yaml.safe_load((PROJECT / "_config.yml").read_text())
    sphinx = (config.get("sphinx") or {}).get("config") or {}
    published = [(config.get("html") or {}).get("baseurl"), sphinx.get("html_baseurl")]
    return [url.rstrip("/") for url in [config["repository"]["url"], *published] if url]


def foreign_urls(text: str) -> list[str]:
    """URLs of this book's repository or site (github.com/<owner>/<repo>, *.github.io) not from ``_config.yml``."""
    homes = the_one_home()
    found = []
    for url in re.findall(r"https?://[^\s'\"<>)]+", text):
        host, parts = urlparse(url).netloc, [p for p in urlparse(url).path.split("/") if p]
        names_a_repository = host == "github.com" and len(parts) >= 2 and parts[0] != "actions"
        if (names_a_repository or host.endswith(".github.io")) and not any(url.startswith(h) for h in homes):
            found.append(url)
    return found


# --- the real workflows pass ------------------------------------------------------------------


def test_there_is_a_publishing_workflow():
    assert BOOK in WORKFLOWS, f"{BOOK} is missing"


def test_workflows_validate_against_github_s_schema():
    assert schema_errors(WORKFLOWS) == ""


def test_zizmor_finds_nothing_above_low():
    assert zizmor_findings(WORKFLOWS) == []


def test_every_action_is_pinned_to_a_commit():
    assert [problem for path in WORKFLOWS for problem in unpinned_actions(path)] == []


def test_only_the_deploy_job_may_write():
    assert [problem for path in WORKFLOWS for problem in permission_problems(_load(path))] == []


def test_every_command_a_step_runs_exists():
    assert [problem for path in WORKFLOWS for problem in missing_commands(path)] == []


def test_urls_in_the_workflows_are_the_one_in_config():
    assert [url for path in WORKFLOWS for url in foreign_urls(path.read_text())] == []


def test_the_book_workflow_tests_builds_deploys_and_checks_links_as_the_readme_says():
    workflow = _load(BOOK)
    triggers, jobs = workflow["on"], workflow["jobs"]
    assert triggers["push"]["branches"] == ["main"] and "workflow_dispatch" in triggers
    assert triggers["schedule"] and "pull_request" in triggers
    assert set(jobs) == {"test", "book", "deploy", "linkcheck"}
    assert all(job.get("timeout-minutes") for job in jobs.values()), "every job needs timeout-minutes"
    assert [step.get("run") for step in jobs["test"]["steps"] if "run" in step] == [".ci/run"]
    assert "pull_request" in jobs["book"]["if"] and "pull_request" in jobs["deploy"]["if"], "PRs never build or deploy"
    assert "refs/heads/main" in jobs["deploy"]["if"] and set(jobs["deploy"]["needs"]) == {"test", "book"}
    assert jobs["deploy"]["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert jobs["deploy"]["environment"]["name"] == "github-pages"
    assert jobs["linkcheck"]["continue-on-error"] is True and "deploy" not in jobs["linkcheck"].get("needs", [])
    runs = [step.get("run") for step in jobs["book"]["steps"]]
    assert runs.index("make download") < runs.index("make book PDF=never") < runs.index("make pdf")
    assert [s["run"] for s in jobs["linkcheck"]["steps"] if "run" in s] == ["make linkcheck"]


def test_the_workflow_caches_the_dataset_this_package_downloads():
    workflow = _load(BOOK)
    assert workflow["env"]["KAGGLE_DATASET"] == KAGGLE_HANDLE
    (cached,) = [s for s in workflow["jobs"]["book"]["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert cached["with"]["path"] == "~/.cache/kagglehub" and "${{ env.KAGGLE_DATASET }}" in cached["with"]["key"]
    for step in workflow["jobs"].values():
        for s in step.get("steps", []):
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s.get("with", {}).get("persist-credentials") is False, "checkout must not keep the token"


# --- each check fails on a broken copy --------------------------------------------------------


def test_the_schema_check_rejects_a_job_without_runs_on(tmp_path):
    broken = _broken_copy(tmp_path, "runs-on: ubuntu-latest", "runs_on: ubuntu-latest")
    assert "'runs-on' is a required property" in schema_errors([broken])


def test_zizmor_flags_write_all_permissions(tmp_path):
    broken = _broken_copy(tmp_path, "permissions:\n  contents: read\n", "permissions: write-all\n")
    (finding,) = zizmor_findings([broken])
    assert finding.startswith("excessive-permissions (High)")
    assert permission_problems(_load(broken)) == ["top-level permissions are 'write-all': use {} or {contents: read}"]


def test_zizmor_flags_a_checkout_that_keeps_the_token(tmp_path):
    broken = _broken_copy(tmp_path, "        with:\n          persist-credentials: false\n", "")
    assert any(line.startswith("artipacked") for line in zizmor_findings([broken]))


def test_the_permission_check_rejects_a_writing_build_job(tmp_path):
    broken = _broken_copy(
        tmp_path,
        "    timeout-minutes: 90\n    env:",
        "    timeout-minutes: 90\n    permissions:\n      contents: write\n    env:",
    )
    assert permission_problems(_load(broken)) == [
        "job book may write contents: only the deploy job may, and only pages and id-token"
    ]


def test_the_pin_check_rejects_a_tag_and_a_sha_without_its_tag(tmp_path):
    checkout = next(line.strip() for line in BOOK.read_text().splitlines() if "uses: actions/checkout@" in line)
    broken = _broken_copy(tmp_path, checkout, "uses: actions/checkout@v4")
    number = next(n for n, line in enumerate(broken.read_text().splitlines(), start=1) if "@v4" in line)
    assert unpinned_actions(broken) == [f"book.yml:{number}: actions/checkout@v4 is not pinned to a commit SHA"]
    untagged = _broken_copy(tmp_path, checkout, checkout.split(" #")[0])
    assert unpinned_actions(untagged) == [
        f"book.yml:{number}: {USES_LINE.match(checkout)['ref']} does not say which tag the SHA is (# vX.Y.Z)"
    ]


def test_the_command_check_rejects_a_missing_target_subcommand_script_or_tool(tmp_path):
    broken = _broken_copy(tmp_path, "run: make linkcheck", "run: make nonexistent")
    assert set(missing_commands(broken)) - set(missing_commands(BOOK)) == {
        "book.yml, job linkcheck, step 4 (Check every external link): `make nonexistent`: no such Makefile target"
    }
    script = "XRAY_DATA_DIR=x .venv/bin/xray-book publish && ./deploy.sh | tee log\ncurl -O x; make book html"
    assert [unknown_command(words) for words in commands_of(script)] == [
        f"`.venv/bin/xray-book publish`: xray-book has no such command ({', '.join(sorted(xray_book_commands()))})",
        "`./deploy.sh`: not an executable file in the repository",
        "`tee`: not a Makefile target, an xray-book command, a script here or an allowed tool",
        "`curl`: not a Makefile target, an xray-book command, a script here or an allowed tool",
        None,
    ]


def test_the_command_check_accepts_what_exists():
    script = "make download DATA_DIR=/tmp/d\nxray-book download --data-dir d && .ci/run\nbash .ci/run; echo done"
    assert [unknown_command(words) for words in commands_of(script)] == [None] * 5


def test_the_url_check_flags_another_repository_or_site():
    home = the_one_home()[0]
    text = f"see {home}/issues and https://github.com/someone/else and https://someone.github.io/book/ and https://github.com/actions/checkout"
    assert foreign_urls(text) == ["https://github.com/someone/else", "https://someone.github.io/book/"]


# --- xray-book download -----------------------------------------------------------------------


def _fake_kagglehub(monkeypatch, result):
    """A ``kagglehub`` whose ``dataset_download`` returns ``result`` (a path) or raises it (an exception)."""

    def dataset_download(handle):
        assert handle == KAGGLE_HANDLE
        if isinstance(result, Exception):
            raise result
        return str(result)

    monkeypatch.setitem(sys.modules, "kagglehub", types.SimpleNamespace(dataset_download=dataset_download))


def test_download_links_the_dataset_where_the_chapters_look(tmp_path, monkeypatch, capsys):
    fetched = tmp_path / "kagglehub" / "versions" / "5"
    (fetched / "COVID-19_Radiography_Dataset").mkdir(parents=True)
    _fake_kagglehub(monkeypatch, fetched)
    assert cli.main(["download", "--data-dir", str(tmp_path / "data")]) == 0
    assert (tmp_path / "data" / "kaggle-download").resolve() == fetched.resolve()
    assert f"linked into {tmp_path / 'data'}" in capsys.readouterr().out
    monkeypatch.setenv("XRAY_DATA_DIR", str(tmp_path / "elsewhere"))
    assert cli.main(["download"]) == 0
    assert (tmp_path / "elsewhere" / "kaggle-download").is_symlink()


def test_a_failed_download_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    _fake_kagglehub(monkeypatch, ConnectionError("network unreachable"))
    assert cli.main(["download", "--data-dir", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: Could not download the COVID-19 Radiography Database (ConnectionError")
    assert "kaggle.com/datasets/" + KAGGLE_HANDLE in line


# A core install: nothing of Jupyter importable, and a kagglehub that cannot reach Kaggle.
_WITHOUT_THE_BOOK_EXTRA = textwrap.dedent("""
    import importlib.abc, sys, types
    BLOCKED = {"papermill", "nbformat", "nbclient", "jupytext", "ipykernel", "jupyter_book", "myst_nb", "IPython"}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
            return None

    def offline(handle):
        raise OSError("no network")

    sys.meta_path.insert(0, Block())
    sys.modules["kagglehub"] = types.SimpleNamespace(dataset_download=offline)
    from xray_utils.runner import cli
    sys.exit(cli.main(["download", "--data-dir", sys.argv[1]]))
""")


def test_download_needs_no_book_extra(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_THE_BOOK_EXTRA, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith("error: Could not download"), done.stderr[-2000:]
    assert "book's tools" not in done.stderr
