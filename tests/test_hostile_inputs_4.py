"""Hostile inputs, round 3 continued (issue 24, cases 11 and 17): each failed on the code before it.

Case 11 is a runs folder shared by two users. Root passes every permission
check, so the real two-user tests run a child process as ``nobody`` (through
``setpriv``) against folders this (root) process made, and skip, saying why,
where that is impossible; the simulated tests check the same logic anywhere.
Case 17 is Ctrl-C during ``xray-book run``.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from helpers import make_tree, write_run_folder

from xray_utils import run_folders
from xray_utils.config import TrainConfig
from xray_utils.errors import RunError

ME = pwd.getpwuid(os.getuid()).pw_name  # who owns what the tests write
NOBODY = 65534


# ---- case 11, simulated: the logic on any machine ------------------------------------------


def test_an_unreadable_run_folder_names_its_owner(tmp_path, monkeypatch):
    """Before: `is_finished` let a raw `PermissionError .../COMPLETE` out (a run made under umask 077)."""
    folder = write_run_folder(tmp_path)
    real_is_file = Path.is_file

    def denied(path):
        if folder in path.parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_is_file(path)

    monkeypatch.setattr(Path, "is_file", denied)
    with pytest.raises(RunError, match=f"Run folder '{folder}' belongs to user '{ME}' and cannot be read by you"):
        run_folders.is_finished(folder)
    with pytest.raises(RunError, match="runs_dir elsewhere"):
        run_folders.Run.load(folder)


def test_an_unreadable_run_file_is_not_called_damaged(tmp_path, monkeypatch):
    """Before: `damaged: config.json: [Errno 13] Permission denied ... Delete the folder and retrain`."""
    folder = write_run_folder(tmp_path)
    real_read_text = Path.read_text

    def denied(path, *args, **kwargs):
        if path.parent == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(RunError, match=f"'{folder / 'config.json'}' belongs to user '{ME}' and cannot be read") as e:
        run_folders.Run.load(folder)
    assert "damaged" not in str(e.value) and "Delete" not in str(e.value)


def test_another_users_lock_file_is_named_with_its_owner(tmp_path, monkeypatch):
    """Before: "the runs folder cannot be written (Permission denied)" though only the lock file was refused."""
    lock = tmp_path / ".m1-study-abc.lock"
    lock.write_text("pid 1, training m1-study-abc\n")

    def refused(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(run_folders, "open", refused, raising=False)
    with pytest.raises(RunError, match=f"lock file '{lock}' belongs to user '{ME}'.*runs_dir elsewhere"):
        with run_folders.run_lock(tmp_path, "m1-study-abc"):
            pytest.fail("the lock was taken")


@pytest.mark.backend
@pytest.mark.parametrize("why", ["sticky runs folder", "undeletable run folder"])
def test_another_users_run_that_cannot_be_replaced_is_refused_before_training(why, tmp_path, monkeypatch):
    """Before: the whole run trained, then `publish` failed with `Operation not permitted`, staging left behind.

    Simulated by pretending to be another user (uid 4242): the run folders are this user's.
    """
    from xray_utils import training
    from xray_utils.data import find_dataset, load_images

    images = load_images(find_dataset(make_tree(tmp_path / "data", per_class=8)), 16, 1)
    config = TrainConfig(model="m1", image_size=16, channels=1, epochs=1, batch_size=8, per_class=8)
    runs = tmp_path / "runs"
    first = training.train(config, images, runs_dir=runs, stream=open(os.devnull, "w"))
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    if why == "sticky runs folder":
        runs.chmod(0o1777)
        expected = rf"belongs to user '{ME}', and the runs folder .* is sticky"
    else:
        real_access = os.access
        monkeypatch.setattr(
            run_folders.os,
            "access",
            lambda p, mode, **kw: Path(p) != first.folder and real_access(p, mode, **kw),
        )
        expected = rf"belongs to user '{ME}', and you cannot delete its files"
    monkeypatch.setattr(run_folders.os, "geteuid", lambda: 4242)
    monkeypatch.setattr(training, "_train_into", lambda *a, **k: pytest.fail("trained work it cannot publish"))
    with pytest.raises(RunError, match=expected + r".*runs_dir elsewhere \(--set runs_dir="):
        training.train(config, images, runs_dir=runs, retrain=True, stream=open(os.devnull, "w"))
    assert {p.name: p.read_bytes() for p in first.folder.iterdir()} == before
    assert not [p.name for p in runs.iterdir() if ".incomplete-" in p.name or ".replaced-" in p.name]


def test_a_publish_the_system_refuses_is_one_line_and_keeps_both_runs(tmp_path, monkeypatch):
    """Before: a raw `PermissionError: [Errno 1] Operation not permitted` from `os.replace` in `publish`."""
    final = write_run_folder(tmp_path)
    staging = run_folders.staging_folder(tmp_path, final.name)
    shutil.copytree(final, staging)
    real_replace = os.replace

    def not_permitted(src, dst):
        if Path(src) == final:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(src))
        real_replace(src, dst)

    monkeypatch.setattr(run_folders.os, "replace", not_permitted)
    with pytest.raises(
        RunError,
        match=f"'{final}', which belongs to user '{ME}', could not be replaced.*kept, complete, in '{staging}'",
    ):
        run_folders.publish(staging, final)
    assert run_folders.is_finished(final) and run_folders.is_finished(staging)


# ---- case 11, for real: a second user (root runs a child as nobody) ------------------------

# What `train()` does before it trains, run by the second user: 0 "may train", 2 a one-line error.
_BEFORE_TRAINING = textwrap.dedent("""
    import sys
    from pathlib import Path
    from xray_utils import run_folders
    from xray_utils.errors import XrayError
    runs, name = Path(sys.argv[1]), sys.argv[2]
    try:
        run_folders.recover(runs, name)
        if run_folders.is_finished(runs / name):
            run_folders.Run.load(runs / name).predictions()
        with run_folders.run_lock(runs, name):
            print("may train", name)
    except XrayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
""")


@pytest.fixture
def second_user():
    """``(run, shared)``: ``run(args)`` runs Python as ``nobody``; ``shared`` a folder both users can enter."""
    if os.geteuid() != 0:
        pytest.skip("a second user needs root here (to run a child as nobody); the simulated tests cover the logic")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed: no way to run a child as a second user")
    shared = Path(tempfile.mkdtemp(prefix="xray-two-users-"))
    shared.chmod(0o755)
    (shared / "home").mkdir(mode=0o777)
    (shared / "home").chmod(0o777)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(shared / "home"), "XRAY_CACHE_DIR": str(shared / "home")}
    env.update({k: v for k, v in os.environ.items() if k in ("KERAS_BACKEND", "PYTHONPATH")})
    user = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable]

    def run(args, timeout=120):
        return subprocess.run(user + args, capture_output=True, text=True, env=env, cwd=shared, timeout=timeout)

    probe = run(["-c", "import xray_utils.run_folders"])
    if probe.returncode != 0:
        shutil.rmtree(shared, ignore_errors=True)
        pytest.skip(f"nobody cannot import the package here: {probe.stderr.strip().splitlines()[-1:]}")
    yield run, shared
    shutil.rmtree(shared, ignore_errors=True)


def _one_error_line(done) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error: ")]  # TensorFlow adds notes
    return line


def test_two_users_a_run_made_under_umask_077_names_its_owner(second_user):
    """Before: a raw `PermissionError: [Errno 13] Permission denied: .../COMPLETE` from `is_finished`."""
    run, shared = second_user
    runs = shared / "runs"
    runs.mkdir(mode=0o777)
    runs.chmod(0o777)
    folder = write_run_folder(runs)
    folder.chmod(0o700)
    line = _one_error_line(run(["-c", _BEFORE_TRAINING, str(runs), folder.name]))
    assert f"Run folder '{folder}' belongs to user 'root' and cannot be read by you" in line and "runs_dir" in line


def test_two_users_another_users_read_only_lock_is_named(second_user):
    """Before: the lock's PermissionError (round 3), then "the runs folder cannot be written", naming no owner."""
    run, shared = second_user
    runs = shared / "runs"
    runs.mkdir(mode=0o777)
    runs.chmod(0o777)
    lock = runs / ".m1-study-new.lock"
    lock.write_text("pid 1, training m1-study-new\n")
    lock.chmod(0o644)
    line = _one_error_line(run(["-c", _BEFORE_TRAINING, str(runs), "m1-study-new"]))
    assert f"lock file '{lock}' belongs to user 'root'" in line and "runs_dir elsewhere" in line


def test_two_users_a_sticky_runs_folder_refuses_to_replace_the_other_users_run(second_user):
    """Before: the lock was taken and training began; publish failed at the end (`Operation not permitted`)."""
    run, shared = second_user
    runs = shared / "runs"
    runs.mkdir()
    runs.chmod(0o1777)
    folder = write_run_folder(runs)
    (runs / f".{folder.name}.lock").write_text("")
    (runs / f".{folder.name}.lock").chmod(0o666)
    line = _one_error_line(run(["-c", _BEFORE_TRAINING, str(runs), folder.name]))
    assert f"'{folder}' belongs to user 'root', and the runs folder '{runs}' is sticky" in line
    assert "XRAY_RUNS_DIR" in line
    # what the second user may still do there: read the run, and train a run of its own
    done = run(["-c", _BEFORE_TRAINING, str(runs), "m1-study-other"])
    assert done.returncode == 0 and "may train m1-study-other" in done.stdout, done.stderr


_TRAIN_AGAIN = textwrap.dedent("""
    import sys
    from pathlib import Path
    from xray_utils import training
    from xray_utils.config import TrainConfig
    from xray_utils.data import find_dataset, load_images
    from xray_utils.errors import XrayError
    data, runs = Path(sys.argv[1]), Path(sys.argv[2])
    images = load_images(find_dataset(data), 16, 1)
    config = TrainConfig(model="m1", image_size=16, channels=1, epochs=1, batch_size=8, per_class=8)
    real = training._train_into
    def recorded(*args, **kwargs):
        print("TRAINING", flush=True)
        return real(*args, **kwargs)
    training._train_into = recorded
    try:
        training.train(config, images, runs_dir=runs, retrain=sys.argv[3] == "retrain")
    except XrayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
""")


@pytest.mark.slow  # two TensorFlow start-ups
@pytest.mark.backend
def test_two_users_retraining_the_other_users_run_stops_before_training(second_user):
    """Before: the second user trained the whole run, then lost it to `PermissionError` in `publish`."""
    run, shared = second_user
    data = make_tree(shared / "data", per_class=8)
    runs = shared / "runs"
    runs.mkdir()
    runs.chmod(0o1777)
    first = subprocess.run(
        [sys.executable, "-c", _TRAIN_AGAIN, str(data), str(runs), "reuse"], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr[-2000:]
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    for lock in runs.glob(".*.lock"):
        lock.chmod(0o666)  # as a group-writable lock would be: the lock is not what stops the second user
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    done = run(["-c", _TRAIN_AGAIN, str(data), str(runs), "retrain"], timeout=300)
    line = _one_error_line(done)
    assert "TRAINING" not in done.stdout and f"'{folder}' belongs to user 'root'" in line and "sticky" in line
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p.name for p in runs.iterdir() if ".incomplete-" in p.name]


# ---- case 17: Ctrl-C during `xray-book run` -----------------------------------------------

_RUN = textwrap.dedent("""
    import sys
    from pathlib import Path
    from xray_utils.runner import chapters, main
    chapters.notebooks_dir = lambda: Path({notebooks!r})
    chapters.executed_dir = lambda: Path({out!r})
    sys.exit(main(["run", "--jobs", "{jobs}", "--timeout", "300"]))
""")

_SLEEPING_CHAPTER = '# %% tags=["parameters"]\nseed = 1\n\n# %%\n'
_SLEEPING_CHAPTER += (
    "import os, pathlib, time\npathlib.Path('kernel.pid').write_text(str(os.getpid()))\ntime.sleep(90)\n"
)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


@pytest.mark.slow  # a kernel start-up each: about 20 s here
@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_stops_the_chapter_at_once_without_a_kernel_traceback(jobs, tmp_path):
    """Before: with one job a kernel `ZMQError` traceback; with two, the chapter ran on to its end first."""
    notebooks, out = tmp_path / "notebooks", tmp_path / "out"
    notebooks.mkdir()
    (notebooks / "01_sleeps.py").write_text(_SLEEPING_CHAPTER)
    script = _RUN.format(notebooks=str(notebooks), out=str(out), jobs=jobs)
    # as a terminal's Ctrl-C does: SIGINT to the whole foreground process group
    runner = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (notebooks / "kernel.pid").is_file() or not (notebooks / "kernel.pid").read_text():
            assert runner.poll() is None and time.monotonic() < deadline, "the chapter did not start"
            time.sleep(0.2)
        kernel = int((notebooks / "kernel.pid").read_text())
        time.sleep(0.5)
        interrupted = time.monotonic()
        os.killpg(runner.pid, signal.SIGINT)
        out, err = runner.communicate(timeout=150)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    assert runner.returncode == 130, err
    assert time.monotonic() - interrupted < 45, "Ctrl-C waited for the chapter to finish"
    assert "Interrupted." in err, err
    assert "Traceback" not in out + err and "ZMQError" not in out + err, out[-3000:] + err  # the terminal shows both
    for _ in range(50):
        if not _alive(kernel):
            break
        time.sleep(0.2)
    assert not _alive(kernel), "the chapter's kernel outlived the run"
