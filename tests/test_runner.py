import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from xray_utils import runner
from xray_utils.config import CHAPTER_PARAMETERS

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = runner.chapter_sources()


def test_chapters_run_in_order_with_the_front_page_last():
    names = [p.stem for p in runner.chapter_sources()]
    assert names[:8] == [
        "01_data_exploration",
        "02_model1_plain_cnn",
        "03_model2_batchnorm",
        "04_model3_dropout",
        "05_model4_chexnet",
        "06_evaluation",
        "07_uncertainty",
        "08_shortcuts",
    ]
    assert names[-1] == "index"


def test_every_chapter_has_a_known_parameters_cell_goals_summary_and_exercises():
    for source in runner.chapter_sources():
        notebook = runner._as_notebook(source)
        declared = runner._declared_parameters(notebook)
        assert declared and declared <= set(CHAPTER_PARAMETERS), source.name
        text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        if source.stem != "index":
            for heading in ("Learning goals", "## Summary", "## Exercises"):
                assert heading in text, f"{source.name} lacks {heading}"


def test_toc_lists_every_chapter():
    toc = runner._toc_chapters()
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


def test_failing_chapter_names_the_cell_and_keeps_the_traceback(tmp_path, monkeypatch, capsys):
    chapters = tmp_path / "notebooks"
    chapters.mkdir()
    (chapters / "01_ok.py").write_text('# %% tags=["parameters"]\nseed = 1\n\n# %%\nprint("fine")\n')
    (chapters / "02_broken.py").write_text('# %% tags=["parameters"]\nseed = 1\n\n# %%\nraise ValueError("boom")\n')
    (chapters / "03_never.py").write_text('# %%\nprint("not reached")\n')
    monkeypatch.setattr(runner, "notebooks_dir", lambda: chapters)
    monkeypatch.setattr(runner, "executed_dir", lambda: tmp_path / "out")
    assert runner.run("quick", timeout=120) == 1
    err = capsys.readouterr().err
    assert "FAILED: chapter 02_broken" in err and "ValueError: boom" in err and "cell" in err
    executed = nbformat.read(tmp_path / "out" / "02_broken.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
    assert not (tmp_path / "out" / "03_never.ipynb").exists()


def _chapter(folder, name, body):
    (folder / f"{name}.py").write_text('# %% tags=["parameters"]\nseed = 1\n\n# %%\n' + body)


def test_parallel_run_trains_side_by_side_then_reads(tmp_path, monkeypatch):
    import os

    chapters = tmp_path / "notebooks"
    chapters.mkdir()
    for name in ("01_a", "02_b"):
        _chapter(
            chapters,
            name,
            "import os, time\ntime.sleep(1)\n"
            f"open('{name}.done', 'w').write(os.environ.get('TF_NUM_INTRAOP_THREADS', 'unset'))\n",
        )
    # a chapter that reads runs must see both trainers finished
    _chapter(
        chapters,
        "03_reader",
        "# uses chapter.load_runs(...)\nimport pathlib\n"
        "assert pathlib.Path('01_a.done').is_file() and pathlib.Path('02_b.done').is_file()\n",
    )
    monkeypatch.setattr(runner, "notebooks_dir", lambda: chapters)
    monkeypatch.setattr(runner, "executed_dir", lambda: tmp_path / "out")
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    assert runner.run("quick", timeout=120, jobs=2) == 0
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert (chapters / "01_a.done").read_text() == (chapters / "02_b.done").read_text() == share
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ  # restored for the caller
    record = json.loads((tmp_path / "out" / "timings.json").read_text())
    assert record["jobs"] == 2 and list(record["chapters_s"]) == ["01_a", "02_b", "03_reader"]
    assert record["wall_s"] < sum(record["chapters_s"].values())  # 01_a and 02_b ran side by side


def test_parallel_failure_stops_before_the_readers(tmp_path, monkeypatch, capsys):
    chapters = tmp_path / "notebooks"
    chapters.mkdir()
    _chapter(chapters, "01_ok", "print('fine')\n")
    _chapter(chapters, "02_broken", "raise ValueError('boom')\n")
    _chapter(chapters, "03_reader", "# chapter.study_results(...)\nprint('not reached')\n")
    monkeypatch.setattr(runner, "notebooks_dir", lambda: chapters)
    monkeypatch.setattr(runner, "executed_dir", lambda: tmp_path / "out")
    assert runner.run("quick", timeout=120, jobs=2) == 1
    assert "FAILED: chapter 02_broken" in capsys.readouterr().err
    assert (tmp_path / "out" / "01_ok.ipynb").is_file() and not (tmp_path / "out" / "03_reader.ipynb").exists()
    assert runner.main(["run", "--jobs", "0"]) == 2


def test_build_refuses_missing_failed_or_stale_chapters(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "project_root", lambda: tmp_path)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/chapters/index\nchapters:\n- file: book/chapters/01_a\n- file: book/chapters/02_b\n"
    )
    chapters = tmp_path / "book" / "chapters"
    chapters.mkdir(parents=True)

    def write(name, params, error=False):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("x")
        if error:
            cell.outputs = [nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[])]
        nb.cells = [cell]
        nb.metadata["papermill"] = {"parameters": params}
        nbformat.write(nb, chapters / f"{name}.ipynb")

    write("index", {"epochs": 2})
    write("01_a", {"epochs": 2})
    assert any("02_b.ipynb is missing" in p for p in runner.check_executed())
    write("02_b", {"epochs": 3}, error=True)
    problems = runner.check_executed()
    assert any("error output" in p for p in problems) and any("different values of epochs" in p for p in problems)
    assert runner.build() == 1
