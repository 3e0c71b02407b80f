import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from helpers import CHAPTERS

from xray_utils import runner
from xray_utils.errors import XrayError
from xray_utils.params import resolve_params
from xray_utils.runner import book, chapters

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = runner.chapter_sources()


def test_chapters_run_in_order_with_the_front_page_last():
    names = [p.stem for p in runner.chapter_sources()]
    assert names[:-1] == CHAPTERS == sorted(CHAPTERS) and len(CHAPTERS) == 8
    assert all(name[:2].isdigit() and name[2] == "_" for name in CHAPTERS)
    assert names[-1] == "index"


def test_every_chapter_has_a_known_parameters_cell_goals_summary_and_exercises():
    for source in runner.chapter_sources():
        notebook = chapters.as_notebook(source)
        assert chapters.declared_parameters(notebook) == {"profile", "overrides"}, source.name  # see chapter.py
        text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        if source.stem != "index":
            for heading in ("Learning goals", "## Summary", "## Exercises"):
                assert heading in text, f"{source.name} lacks {heading}"


def test_toc_lists_every_chapter():
    toc = book.toc_chapters()
    for source in runner.chapter_sources():
        assert f"book/chapters/{source.stem}" in toc


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name)
def test_py_and_ipynb_twins_have_the_same_cells(source):
    twin = source.with_suffix(".ipynb")
    assert twin.is_file(), f"{twin.name} is missing: run `make sync`"
    script = jupytext.read(source)
    notebook = nbformat.read(twin, as_version=4)
    assert [(c.cell_type, c.source) for c in script.cells] == [(c.cell_type, c.source) for c in notebook.cells], (
        f"{source.name} and {twin.name} disagree: run `make sync`"
    )


def test_unknown_only_and_overrides_fail_before_running(capsys):
    assert runner.main(["run", "--only", "99"]) == 2
    assert "matches no chapter" in capsys.readouterr().err
    assert runner.main(["run", "--set", "epoch=3"]) == 2
    assert "unknown parameter(s) epoch" in capsys.readouterr().err
    assert runner.main(["run", "--profile", "fastest"]) == 2


@pytest.fixture
def book_dirs(tmp_path, monkeypatch):
    """``(notebooks, out)``: the runner finds its chapters in ``notebooks`` and executes them into ``out``."""
    folder, out = tmp_path / "notebooks", tmp_path / "out"
    folder.mkdir()
    monkeypatch.setattr(chapters, "notebooks_dir", lambda: folder)
    monkeypatch.setattr(chapters, "executed_dir", lambda: out)
    return folder, out


READS_RUNS = "# ---\n# jupyter:\n#   xray_book:\n#     reads_runs: true\n# ---\n\n"


def _chapter(folder, name, body, header=""):
    (folder / f"{name}.py").write_text(header + '# %% tags=["parameters"]\nseed = 1\n\n# %%\n' + body)


def test_failing_chapter_names_the_cell_and_keeps_the_traceback(book_dirs, capsys):
    folder, out = book_dirs
    _chapter(folder, "01_ok", 'print("fine")\n')
    _chapter(folder, "02_broken", 'raise ValueError("boom")\n')
    (folder / "03_never.py").write_text('# %%\nprint("not reached")\n')
    assert runner.run("quick", timeout=120) == 1
    err = capsys.readouterr().err
    assert "FAILED: chapter 02_broken" in err and "ValueError: boom" in err and "cell" in err
    executed = nbformat.read(out / "02_broken.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
    assert not (out / "03_never.ipynb").exists()
    assert not list(out.glob(".*.input.ipynb"))  # the staged inputs are gone, failure or not


def test_parallel_run_trains_side_by_side_then_reads(book_dirs, monkeypatch):
    import os

    folder, out = book_dirs
    for name in ("01_a", "02_b"):
        _chapter(
            folder,
            name,
            "import os, time\ntime.sleep(1)\n"
            f"open('{name}.done', 'w').write(os.environ.get('TF_NUM_INTRAOP_THREADS', 'unset'))\n",
        )
    # a chapter whose header says it reads runs must see both trainers finished
    _chapter(
        folder,
        "03_reader",
        "import pathlib\nassert pathlib.Path('01_a.done').is_file() and pathlib.Path('02_b.done').is_file()\n",
        header=READS_RUNS,
    )
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    assert runner.run("quick", timeout=120, jobs=2) == 0
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert (folder / "01_a.done").read_text() == (folder / "02_b.done").read_text() == share
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ  # restored for the caller
    record = json.loads((out / "timings.json").read_text())
    assert record["jobs"] == 2 and list(record["chapters_s"]) == ["01_a", "02_b", "03_reader"]
    # 01_a and 02_b ran side by side (their clocks overlap), the reader only after both: read from the
    # recorded start and end times, not from wall time, which a busy machine stretches
    a, b, reader = (record["chapters"][stem] for stem in ("01_a", "02_b", "03_reader"))
    assert max(a["start"], b["start"]) < min(a["end"], b["end"])
    assert reader["start"] >= max(a["end"], b["end"])


def _trainer_and_reader(folder, skip: int, reader_body: str) -> list[str]:
    """01_quick; 05_trainer announcing the quick profile's planned runs but the first ``skip`` (as
    xray_utils.training does after publishing each), then working on for 3 s; 06_reader running
    ``reader_body``. Returns the names announced."""
    from xray_utils.params import resolve_params
    from xray_utils.runner.kernel_clock import RUN_EVENT
    from xray_utils.runner.schedule import planned_run_prefixes

    names = [f"{prefix}key" for prefix in sorted(planned_run_prefixes(resolve_params("quick")))[skip:]]
    announce = "".join(f"sys.audit({RUN_EVENT!r}, {{'run': {name!r}}})\n" for name in names)
    _chapter(folder, "01_quick", "pass\n")
    _chapter(folder, "05_trainer", f"import sys, time\n{announce}time.sleep(3)\nopen('05_trainer.done', 'w')\n")
    _chapter(folder, "06_reader", "import pathlib\n" + reader_body, header=READS_RUNS)
    return names


def test_a_reader_starts_once_every_planned_run_is_published_not_when_the_trainer_ends(book_dirs, capsys):
    """The reader takes the slot 01 frees while the trainer, its runs all out, is still working."""
    folder, out = book_dirs
    names = _trainer_and_reader(
        folder, 0, "open('06_reader.saw', 'w').write(str(pathlib.Path('05_trainer.done').exists()))\n"
    )
    assert runner.run("quick", timeout=120, jobs=2) == 0
    assert (folder / "06_reader.saw").read_text() == "False"  # it ran while the trainer was still working
    assert "every run it reads is published; 05_trainer still running" in capsys.readouterr().out
    record = json.loads((out / "timings.json").read_text())
    trainer, reader = record["chapters"]["05_trainer"], record["chapters"]["06_reader"]
    assert trainer["start"] < reader["ready"] <= reader["start"] < trainer["end"]
    assert [run["run"] for run in trainer["runs"]] == names


def test_a_reader_waits_for_the_trainers_while_a_planned_run_is_missing(book_dirs):
    folder, out = book_dirs
    _trainer_and_reader(folder, 1, "assert pathlib.Path('05_trainer.done').exists()\n")  # one run not announced
    assert runner.run("quick", timeout=120, jobs=2) == 0
    record = json.loads((out / "timings.json").read_text())
    assert record["chapters"]["06_reader"]["start"] >= record["chapters"]["05_trainer"]["end"]


def test_a_trainer_that_crashes_outside_its_cells_stops_a_waiting_reader(book_dirs, monkeypatch):
    """Not a cell error (say, a disk error staging the notebook): the error reaches the caller and the
    reader waiting for the trainer's runs gives up instead of waiting for ever."""
    import threading

    from xray_utils.runner import schedule

    folder, _ = book_dirs
    _trainer_and_reader(folder, 1, "open('06_reader.ran', 'w')\n")
    real = schedule.run_chapter

    def crash_the_trainer(source, *args):
        if source.stem == "05_trainer":
            raise OSError("No space left on device")
        return real(source, *args)

    monkeypatch.setattr(schedule, "run_chapter", crash_the_trainer)
    outcome = []

    def run():
        try:
            outcome.append(runner.run("quick", timeout=120, jobs=2))
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the reader kept waiting for a trainer that had crashed"
    assert isinstance(outcome[0], OSError) and not (folder / "06_reader.ran").exists()


def test_parallel_failure_stops_before_the_readers(book_dirs, capsys):
    folder, out = book_dirs
    _chapter(folder, "01_ok", "print('fine')\n")
    _chapter(folder, "02_broken", "raise ValueError('boom')\n")
    _chapter(folder, "03_reader", "print('not reached')\n", header=READS_RUNS)
    assert runner.run("quick", timeout=120, jobs=2) == 1
    assert "FAILED: chapter 02_broken" in capsys.readouterr().err
    assert (out / "01_ok.ipynb").is_file() and not (out / "03_reader.ipynb").exists()
    assert runner.main(["run", "--jobs", "0"]) == 2


def test_the_run_order_comes_from_the_header_not_from_the_code(tmp_path):
    folder = tmp_path
    _chapter(folder, "01_plain", "print('trains')\n")
    _chapter(folder, "02_declared", "print('no call here')\n", header=READS_RUNS)
    _chapter(
        folder, "03_says_no", "runs = plan.load_runs(params, images)\n", header=READS_RUNS.replace("true", "false")
    )
    assert [chapters.reads_runs(folder / f"{n}.py") for n in ("01_plain", "02_declared", "03_says_no")] == [
        False,
        True,
        False,
    ]
    _chapter(folder, "04_undeclared", "table = plan.study_results(params, images)\n")
    with pytest.raises(XrayError, match=r"(?s)04_undeclared.py calls plan.study_results.*reads_runs: true"):
        chapters.reads_runs(folder / "04_undeclared.py")
    _chapter(folder, "05_typo", "print(1)\n", header=READS_RUNS.replace("reads_runs: true", "reads_run: true"))
    with pytest.raises(XrayError, match="must be exactly"):
        chapters.reads_runs(folder / "05_typo.py")
    _chapter(folder, "06_string", "print(1)\n", header=READS_RUNS.replace("true", "'yes'"))
    with pytest.raises(XrayError, match="must be exactly"):
        chapters.reads_runs(folder / "06_string.py")


def test_the_book_s_reading_chapters_declare_it_in_both_twins():
    readers = {"06_evaluation", "07_uncertainty", "08_shortcuts", "index"}
    for source in runner.chapter_sources():
        assert chapters.reads_runs(source) == (source.stem in readers), source.name
        twin = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        assert twin.metadata.get("xray_book", {}).get("reads_runs", False) == (source.stem in readers), twin
        # without xray_book in the filter, `jupytext --sync` would drop the declaration
        assert "xray_book" in jupytext.read(source).metadata["jupytext"]["notebook_metadata_filter"] or (
            source.stem not in readers
        )


# A first `xray-book run`, in its own process, holding the output folder while its chapter waits.
_FIRST_RUN = textwrap.dedent("""
    import sys
    from pathlib import Path
    from xray_utils.runner import chapters, main
    chapters.notebooks_dir = lambda: Path({notebooks!r})
    chapters.executed_dir = lambda: Path({out!r})
    sys.exit(main(["run", "--jobs", "1", "--timeout", "120"]))
""")


def test_a_second_run_into_the_same_folder_fails_at_once_and_leaves_the_first_alone(book_dirs, capsys):
    folder, out = book_dirs
    _chapter(
        folder,
        "01_data_exploration",
        "import pathlib, time\npathlib.Path('started').touch()\n"
        "for _ in range(600):\n    if pathlib.Path('release').exists():\n        break\n    time.sleep(0.1)\n"
        "raise ValueError('first run fails')\n",
    )
    first = subprocess.Popen(
        [sys.executable, "-c", _FIRST_RUN.format(notebooks=str(folder), out=str(out))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (folder / "started").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first run did not start its chapter"
            time.sleep(0.2)
        started = time.monotonic()
        assert runner.main(["run", "--jobs", "1", "--timeout", "120"]) == 2
        assert time.monotonic() - started < 15  # at once: it did not wait for, or run beside, the first
        err = capsys.readouterr().err
        assert "another xray-book is using" in err and str(out) in err and f"pid {first.pid}" in err
    finally:
        (folder / "release").touch()
        _, first_err = first.communicate(timeout=120)
    assert first.returncode == 1
    # the first run's message points at its own executed copy, which still holds its own traceback
    assert f"is at {out / '01_data_exploration.ipynb'}" in first_err
    executed = nbformat.read(out / "01_data_exploration.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert [e["evalue"] for e in errors] == ["first run fails"]
    assert not list(out.glob(".*.input.ipynb"))


def test_the_same_process_may_run_then_build(tmp_path):
    """`xray-book all` takes the output lock twice (run, then build); another process is refused meanwhile."""
    from xray_utils.runner.lock import output_lock

    other = [
        sys.executable,
        "-c",
        f"from xray_utils.runner.lock import output_lock\nwith output_lock({str(tmp_path)!r}, 'b'): pass",
    ]
    with output_lock(tmp_path, "outer"), output_lock(tmp_path, "inner"):
        refused = subprocess.run(other, capture_output=True, text=True)
        assert refused.returncode != 0 and "another xray-book is using" in refused.stderr
        assert "`outer`" in (tmp_path / ".xray-book.lock").read_text()  # the holder is named
    assert subprocess.run(other).returncode == 0  # released after use


def test_build_refuses_missing_failed_or_stale_chapters(tmp_path, monkeypatch):
    monkeypatch.setattr(chapters, "project_root", lambda: tmp_path)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/chapters/index\nchapters:\n- file: book/chapters/01_a\n- file: book/chapters/02_b\n"
    )
    folder = tmp_path / "book" / "chapters"
    folder.mkdir(parents=True)

    def write(name, params, error=False):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("x")
        if error:
            cell.outputs = [nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[])]
        nb.cells = [cell]
        nb.metadata["papermill"] = {"parameters": params, "end_time": "2026-12-01T10:00:00"}  # it finished
        nbformat.write(nb, folder / f"{name}.ipynb")

    write("index", {"epochs": 2})
    write("01_a", {"epochs": 2})
    assert any("02_b.ipynb is missing" in p for p in runner.check_executed())
    write("02_b", {"epochs": 3}, error=True)
    problems = runner.check_executed()
    assert any("error output" in p for p in problems) and any("different values of epochs" in p for p in problems)
    assert runner.build() == 1
    # as `xray-book run` passes them: the profile, and what differs from it
    write("01_a", {"profile": "quick", "overrides": {"epochs": 2}})
    write("02_b", {"profile": "quick", "overrides": {}})
    write("index", {"profile": "quick", "overrides": {"epochs": 2}})
    assert runner.check_executed() == [
        "chapters were executed with different values of epochs (2, 6): "
        "stale chapters from an earlier run? Run all chapters again."
    ]
    write("02_b", {"profile": "quick", "overrides": {"epochs": 2}})
    assert runner.check_executed() == []
    write("02_b", {"profile": "fastest"})
    assert "not valid now" in runner.check_executed()[0]


def test_toc_entries_are_read_at_any_depth(tmp_path, monkeypatch):
    monkeypatch.setattr(chapters, "project_root", lambda: tmp_path)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/chapters/index\nparts:\n- caption: A\n  chapters:\n"
        "  - file: book/intro\n    sections:\n    - file: book/chapters/01_a\n"
    )
    assert book.toc_chapters() == ["book/chapters/index", "book/chapters/01_a"]
    (tmp_path / "_toc.yml").write_text("format: jb-book\nchapters: []\n")
    with pytest.raises(XrayError, match="table of contents"):
        book.toc_chapters()


def test_executed_chapters_are_held_to_their_twins_by_nbval_s_rules(tmp_path):
    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text("[paths]\nregex: (/[\\w.\\-]+)+/\nreplace: PATH/\n")

    def notebook(path, counted, logged, unchecked, injected=False):
        nb = nbformat.v4.new_notebook()
        checked = nbformat.v4.new_code_cell("print(n)", execution_count=2)
        checked.metadata["tags"] = ["nbval-check-output"]
        checked.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=f"{counted} images in "),
            nbformat.v4.new_output("stream", name="stdout", text=f"{path.parent}/data/\n"),
            nbformat.v4.new_output("stream", name="stderr", text=logged),
        ]
        free = nbformat.v4.new_code_cell("print(t)", execution_count=3)
        free.outputs = [nbformat.v4.new_output("stream", name="stdout", text=unchecked)]
        params = nbformat.v4.new_code_cell("n = 1", execution_count=1)
        params.metadata["tags"] = ["parameters"]
        nb.cells = [nbformat.v4.new_markdown_cell("# A"), params, checked, free]
        if injected:
            cell = nbformat.v4.new_code_cell("n = 2", execution_count=2)
            cell.metadata["tags"] = ["injected-parameters"]
            nb.cells.insert(2, cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path

    twin = notebook(tmp_path / "twin" / "01_a.ipynb", 72, "TF says hello", "took 3.2 s")
    same = notebook(tmp_path / "elsewhere" / "01_a.ipynb", 72, "TF says bye", "took 9.9 s", injected=True)
    assert runner.compare_with_twin(same, twin, sanitize) == []  # paths sanitized; stderr, unchecked cells ignored
    assert runner.compare_with_twin(same, twin) != []  # without the sanitize file the folders differ
    other = notebook(tmp_path / "elsewhere" / "01_a.ipynb", 71, "", "took 3.2 s", injected=True)
    (problem,) = runner.compare_with_twin(other, twin, sanitize)
    assert "cell 2 differs" in problem and "72 images" in problem and "71 images" in problem
    edited = nbformat.read(twin, as_version=4)
    edited.cells[1].source = "n = 3"
    edited_path = tmp_path / "edited.ipynb"
    nbformat.write(edited, edited_path)
    assert "was not executed from the cells of its twin" in runner.compare_with_twin(edited_path, twin, sanitize)[0]


def test_parameter_defaults_are_the_quick_profile():
    """papermill runs the book with the quick profile; the twins (`make twins`) and a reader in Jupyter run the
    parameters cell as written. They must be one run, or book-check holds the book to twins of another run."""
    from xray_utils.params import collect

    quick = resolve_params("quick")
    for source in runner.chapter_sources():
        cell = next(c for c in chapters.as_notebook(source).cells if "parameters" in c.metadata.get("tags", []))
        defaults = {}
        exec(cell.source, defaults)
        assert collect(defaults) == quick, source.name


def test_chapters_get_the_profile_and_what_the_command_line_changed(tmp_path, monkeypatch):
    """`--set` reaches a chapter through `overrides`; the publish check compares what each chapter ran with."""
    from xray_utils.runner.execute import notebook_parameters

    params = resolve_params("quick", {"epochs": 3, "data_dir": "/data"})
    injected = notebook_parameters(params, {"profile", "overrides"})
    assert (
        injected["profile"] == "quick" and {"epochs": 3, "data_dir": "/data"}.items() <= injected["overrides"].items()
    )
    assert book.effective_parameters(injected) == params
    assert book.effective_parameters({"epochs": 3, "data_dir": "/data"}) == params  # names set one by one
    assert notebook_parameters(params, {"seed"}) == {"seed": params.seed}


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_twins_name_no_path_of_the_machine_that_made_them(source):
    """The twins are committed: their outputs come from a fresh training run (`make twins`), not a reused one."""
    twin = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    text = json.dumps([cell.get("outputs", []) for cell in twin.cells])
    for leak in (str(PROJECT), "/root/", "/home/", "/tmp/", "Reusing finished run"):
        assert leak not in text, f"{source.with_suffix('.ipynb').name} outputs contain {leak!r}: run `make twins`"
