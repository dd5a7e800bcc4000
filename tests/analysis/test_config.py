"""The analysis settings file: defaults, round trip, objectives, and errors that name the key at fault."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import pytest

from flowviz.analysis.config import (
    AnalysisConfig,
    ConfigError,
    config_toml,
    load_config,
    objective_lines,
    parse_config,
    parse_objective_lines,
    save_config,
)
from flowviz.analysis.findings import FindingsSettings
from flowviz.analysis.health import Objective


def test_defaults_without_a_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_config() == AnalysisConfig()
    with pytest.raises(ConfigError, match="no such settings file"):
        load_config(tmp_path / "missing.toml")


def test_round_trip_through_toml(tmp_path) -> None:
    config = AnalysisConfig(
        mode="thresholds",
        findings=replace(FindingsSettings(), z_threshold=6.0, min_errors=8),
        objectives=(Objective("payments*", 1.0, 300.0), Objective('odd "name"', None, 50.0)),
    )
    path = save_config(config, tmp_path / "analysis.toml")
    again = load_config(path)
    assert replace(again, path="") == config
    assert isinstance(again.findings.min_errors, int)
    assert tomllib.loads(config_toml(config))["health"]["mode"] == "thresholds"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[health]\nmode = "vibes"\n', "health.mode must be one of"),
        ("[findings]\nz_treshold = 3\n", "unknown setting findings.z_treshold"),
        ("[findings]\nz_threshold = -1\n", "findings.z_threshold must be a number"),
        ("[[objective]]\nerror_percent = 1\n", "objective #1.pattern"),
        ("[health\n", "not valid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "analysis.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(path)
    assert str(path) in str(raised.value)


def test_objective_lines() -> None:
    objectives = (Objective("pay*", 1.0, None), Objective("db", None, 30.0))
    assert parse_objective_lines(objective_lines(objectives)) == objectives
    assert parse_objective_lines("# a comment\n\n  web  2%  150ms \n") == (Objective("web", 2.0, 150.0),)
    with pytest.raises(ConfigError, match="line 2"):
        parse_objective_lines("web 1 2\nweb x 2")
    with pytest.raises(ConfigError, match="error % or a p95"):
        parse_objective_lines("web - -")
    assert parse_config({}).objectives == ()
