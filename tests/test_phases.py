"""xray_utils.phases: `make test`'s phases run in turn, timed, recorded and printed."""

from __future__ import annotations

import json
import stat

import pytest

from xray_utils import phases
from xray_utils.errors import XrayError


@pytest.fixture
def fake_make(tmp_path):
    """A `make` that logs its target, sleeps 0.2 s for `slow`, and fails for `broken`."""
    log = tmp_path / "make.log"
    script = tmp_path / "make"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\ncase "$2" in slow) sleep 0.2;; broken) exit 3;; esac\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_phases_run_in_turn_and_are_recorded_with_the_set_up_first(fake_make, tmp_path, monkeypatch, capsys):
    script, log = fake_make
    monkeypatch.setenv(phases.SETUP_ENV, "venv=61,browser-install=8")
    assert phases.run_phases(["lint", "slow"], make=str(script), root=tmp_path) == 0
    assert log.read_text().splitlines() == ["--no-print-directory lint", "--no-print-directory slow"]
    record = json.loads(phases.record_path(tmp_path).read_text())
    assert [name for name, _ in record["phases"]] == ["venv", "browser-install", "lint", "slow"]
    seconds = dict(record["phases"])
    assert seconds["venv"] == 61 and seconds["browser-install"] == 8
    assert seconds["slow"] >= 0.2 > seconds["lint"]
    assert record["complete"] and record["cores"] >= 1 and record["cpu"]
    printed = capsys.readouterr().out
    assert "Phases of `make test`" in printed and "total" in printed and record["cpu"] in printed


def test_the_first_failing_phase_stops_the_rest_and_its_status_is_returned(fake_make, tmp_path, monkeypatch, capsys):
    script, log = fake_make
    monkeypatch.delenv(phases.SETUP_ENV, raising=False)
    assert phases.run_phases(["lint", "broken", "slow"], make=str(script), root=tmp_path) == 3
    assert len(log.read_text().splitlines()) == 2  # slow never ran
    record = json.loads(phases.record_path(tmp_path).read_text())
    assert [name for name, _ in record["phases"]] == ["lint", "broken"] and not record["complete"]
    captured = capsys.readouterr()
    assert "make broken failed (exit 3)" in captured.err and "stopped at a failure" in captured.out


@pytest.mark.parametrize("text", ["venv", "venv=soon", "=4", "venv=-1"])
def test_a_malformed_set_up_list_names_the_variable(text):
    with pytest.raises(XrayError, match=f"{phases.SETUP_ENV}=.*is not name=seconds"):
        phases.setup_phases(text)


def test_set_up_phases_parse_and_an_empty_list_is_none():
    assert phases.setup_phases("venv=61, browser-install=8.5") == [("venv", 61.0), ("browser-install", 8.5)]
    assert phases.setup_phases("") == phases.setup_phases(None) == []


def test_the_last_record_is_printed_again_or_its_absence_said(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(phases.RUNNING_ENV, raising=False)  # set while `make test` runs this very test
    phases.print_last(tmp_path)
    assert "none recorded yet" in capsys.readouterr().out
    path = phases.record_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("[1, 2")
    phases.print_last(tmp_path)
    assert "not a record this version reads" in capsys.readouterr().out
    path.write_text(json.dumps({"started": "then", "cpu": "AMD EPYC", "cores": 2, "phases": [["lint", 4.0]]}))
    phases.print_last(tmp_path)
    out = capsys.readouterr().out
    assert "AMD EPYC, 2 cores" in out and "lint" in out and "4.0 s" in out


def test_no_targets_is_an_error():
    with pytest.raises(XrayError, match="at least one make target"):
        phases.run_phases([])


def test_a_pair_runs_at_once_and_its_output_is_printed_whole_in_order(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(phases.SETUP_ENV, raising=False)
    times = tmp_path / "times"
    script = tmp_path / "make"
    script.write_text(
        "#!/bin/sh\n"
        f"python3 -c \"import time; print('$2', 'start', time.time())\" >> {times}\n"
        'echo "output of $2"; sleep 0.5; [ "$2" = b ] && sleep 0.4\n'
        f"python3 -c \"import time; print('$2', 'end', time.time())\" >> {times}\n"
        '[ "$2" = broken ] && exit 4\n'
        "exit 0\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert phases.run_phases(["first", "a+b", "last"], make=str(script), root=tmp_path) == 0
    seen = {}
    for line in times.read_text().splitlines():
        target, what, when = line.split()
        seen[(target, what)] = float(when)
    assert max(seen["a", "start"], seen["b", "start"]) < min(seen["a", "end"], seen["b", "end"])  # at once
    assert seen["first", "end"] <= min(seen["a", "start"], seen["b", "start"])
    assert seen["last", "start"] >= max(seen["a", "end"], seen["b", "end"])
    out = capsys.readouterr().out
    assert out.index("----- make a -----") < out.index("output of a") < out.index("----- make b -----")
    assert out.index("----- make b -----") < out.index("output of b")
    record = json.loads(phases.record_path(tmp_path).read_text())
    assert [name for name, _ in record["phases"]] == ["first", "a+b", "a", "b", "last"]
    seconds = dict(record["phases"])
    assert seconds["a+b"] >= max(seconds["a"], seconds["b"])
    assert seconds["a"] < seconds["b"]  # each one's own end: b works 0.4 s longer than a
    # the table's total counts the pair once, not its members again
    total = float(out.split("total")[-1].split()[0])
    assert total == pytest.approx(seconds["first"] + seconds["a+b"] + seconds["last"], abs=0.2)

    times.unlink()
    assert phases.run_phases(["a+broken", "last"], make=str(script), root=tmp_path) == 4
    assert "last" not in times.read_text() and "make broken failed (exit 4)" in capsys.readouterr().err


def test_a_pair_names_each_target_once():
    with pytest.raises(XrayError, match="name each make target once"):
        phases.run_phases(["a+a"])
    with pytest.raises(XrayError, match="name each make target once"):
        phases.run_phases(["a+"])


def test_while_the_phases_run_the_unfinished_record_is_not_printed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(phases.RUNNING_ENV, "1")
    phases.print_last(tmp_path)
    assert capsys.readouterr().out == ""
