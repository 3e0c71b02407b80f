"""`ChapterParams`: made once from a profile and overrides, frozen, paths absolute from the caller's folder."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from xray_utils.errors import ConfigError
from xray_utils.params import ChapterParams, collect, resolve_params
from xray_utils.runner.execute import notebook_parameters


def test_the_parameters_are_frozen_and_replace_checks_its_values():
    params = resolve_params("quick")
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.epochs = 3
    assert params.replace(epochs=3).epochs == 3 and params.epochs != 3
    with pytest.raises(ConfigError, match="epochs=0"):
        params.replace(epochs=0)
    with pytest.raises(ConfigError, match="unknown parameter.*epoch\\b"):
        params.replace(epoch=3)


def test_relative_paths_are_made_absolute_from_the_callers_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = resolve_params("quick", {"external_dir": "held-out", "runs_dir": "runs", "data_dir": "~/x"})
    assert params.external_dir == str(tmp_path / "held-out")
    assert params.runs_dir == str(tmp_path / "runs")
    assert params.data_dir == str(Path("~/x").expanduser())
    assert resolve_params("quick", {"data_dir": "Synthetic"}).data_dir == "synthetic"  # a word, not a folder
    elsewhere = resolve_params("quick", {"external_dir": "held-out"}, base_dir=tmp_path / "notebooks")
    assert elsewhere.external_dir == str(tmp_path / "notebooks" / "held-out")


def test_a_relative_external_dir_from_the_command_line_reaches_a_kernel_unchanged(tmp_path, monkeypatch):
    """`xray-book run --set external_dir=...` from the repository root: the kernel (in notebooks/) gets it absolute."""
    monkeypatch.chdir(tmp_path)
    from xray_utils.params import parse_overrides

    params = resolve_params("quick", parse_overrides(["external_dir=shared/external"]))
    injected = notebook_parameters(params, {"profile", "overrides"})
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # where papermill runs the kernel
    in_kernel = collect(injected)
    assert in_kernel == params and in_kernel.external_dir == str(tmp_path / "shared" / "external")


def test_overrides_must_be_a_mapping_of_known_names():
    with pytest.raises(ConfigError, match="use a dict"):
        resolve_params("quick", ["epochs=3"])
    with pytest.raises(ConfigError, match="'profile' is not an override"):
        resolve_params("quick", {"profile": "full"})
    with pytest.raises(ConfigError, match="data_dir=3 is not allowed"):
        resolve_params("quick", {"data_dir": 3})


def test_overrides_are_what_differs_from_the_profile():
    params = resolve_params("full", {"epochs": 3, "protocols": ["study"]})
    assert params.overrides() == {"epochs": 3, "protocols": ["study"]}
    assert resolve_params("full").overrides() == {}
    assert ChapterParams() == resolve_params("quick")  # the defaults are the quick profile


def test_nothing_changes_the_environment_to_pass_settings_on(tmp_path, monkeypatch):
    from xray_utils.runner.schedule import kernel_environment

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XRAY_DATA_DIR", "data")
    before = dict(os.environ)
    env = kernel_environment(2)
    assert env["XRAY_DATA_DIR"] == str(tmp_path / "data") and dict(os.environ) == before
