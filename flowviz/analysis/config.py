"""The analysis settings file (TOML): health mode, fixed thresholds, findings sensitivity, service-level objectives.

Read by the window, `report` and `render` alike, from `--config FILE` or else `analysis.toml` in
flowviz's configuration folder (`$XDG_CONFIG_HOME/flowviz`, by default `~/.config/flowviz`). Every
key is optional; an unknown key or a wrong type is an error naming the file and the key:

    [health]
    mode = "baseline"            # "baseline": departures from each node's own history (default);
                                 # "thresholds": the fixed Kiali-like thresholds below
    failing_error_percent = 10   # a departure is "failing" from this failure % ...
    failing_latency_factor = 4   # ... or from p95 × this over its baseline

    [thresholds]                 # for mode = "thresholds"
    degraded_error_percent = 0.1
    failing_error_percent = 10
    degraded_p95_ms = 500
    failing_p95_ms = 2000

    [findings]                   # how departures are judged (flowviz.analysis.findings.FindingsSettings)
    z_threshold = 4.5
    latency_ratio = 1.5

    [[objective]]                # service-level objectives, whichever of them and the baseline is worse
    pattern = "payments*"
    error_percent = 1
    p95_ms = 300
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from flowviz.analysis.findings import FindingsSettings
from flowviz.analysis.health import Objective

HEALTH_MODES = ("baseline", "thresholds")


class ConfigError(ValueError):
    """The settings file cannot be used (the message names the file and what is wrong)."""


@dataclass(frozen=True, slots=True)
class FixedThresholds:
    """The Kiali-like thresholds of mode "thresholds"."""

    degraded_error_percent: float = 0.1
    failing_error_percent: float = 10.0
    degraded_p95_ms: float = 500.0
    failing_p95_ms: float = 2000.0


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    """Everything the settings file says (defaults where it is silent)."""

    mode: str = "baseline"
    failing_error_percent: float = 10.0
    failing_latency_factor: float = 4.0
    thresholds: FixedThresholds = field(default_factory=FixedThresholds)
    findings: FindingsSettings = field(default_factory=FindingsSettings)
    objectives: tuple[Objective, ...] = ()
    path: str = ""  # where it was read from ("" for the defaults)


def config_dir() -> Path:
    """flowviz's configuration folder."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "flowviz"


def default_config_path() -> Path:
    return config_dir() / "analysis.toml"


def load_config(path: str | Path | None = None) -> AnalysisConfig:
    """The settings from `path`, else from the default file if it exists, else the defaults."""
    explicit = path is not None
    target = Path(path) if explicit else default_config_path()
    if not target.is_file():
        if explicit:
            raise ConfigError(f"{target}: no such settings file")
        return AnalysisConfig()
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{target}: cannot be read ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{target}: not valid TOML ({error})") from None
    return parse_config(data, source=str(target))


def parse_config(data: dict[str, Any], *, source: str = "settings") -> AnalysisConfig:
    """An `AnalysisConfig` from parsed TOML; ConfigError names the offending key."""
    _known(data, {"health", "thresholds", "findings", "objective"}, source, "")
    health = _table(data, "health", source)
    _known(health, {"mode", "failing_error_percent", "failing_latency_factor"}, source, "health.")
    mode = health.get("mode", "baseline")
    if mode not in HEALTH_MODES:
        raise ConfigError(f"{source}: health.mode must be one of {', '.join(HEALTH_MODES)} (not {mode!r})")
    thresholds = _dataclass_from(FixedThresholds(), _table(data, "thresholds", source), source, "thresholds.")
    findings = _dataclass_from(FindingsSettings(), _table(data, "findings", source), source, "findings.")
    objectives = []
    raw_objectives = data.get("objective", [])
    if not isinstance(raw_objectives, list):
        raise ConfigError(f"{source}: objective must be an array of tables ([[objective]])")
    for number, entry in enumerate(raw_objectives, 1):
        where = f"objective #{number}."
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: {where[:-1]} must be a table")
        _known(entry, {"pattern", "error_percent", "p95_ms"}, source, where)
        pattern = entry.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{source}: {where}pattern must be a non-empty string")
        objectives.append(
            Objective(
                pattern,
                _number(entry.get("error_percent"), source, where + "error_percent"),
                _number(entry.get("p95_ms"), source, where + "p95_ms"),
            )
        )
    return AnalysisConfig(
        mode=mode,
        failing_error_percent=_number(
            health.get("failing_error_percent", 10.0), source, "health.failing_error_percent"
        ),
        failing_latency_factor=_number(
            health.get("failing_latency_factor", 4.0), source, "health.failing_latency_factor"
        ),
        thresholds=thresholds,
        findings=findings,
        objectives=tuple(objectives),
        path=source,
    )


def config_toml(config: AnalysisConfig) -> str:
    """The settings as TOML text that `parse_config` reads back (for the Preferences dialog)."""
    lines = [
        '# flowviz analysis settings (see the README, "Health, findings and root causes")',
        "[health]",
        f'mode = "{config.mode}"',
        f"failing_error_percent = {config.failing_error_percent!r}",
        f"failing_latency_factor = {config.failing_latency_factor!r}",
        "",
        "[thresholds]",
        *(f"{f.name} = {getattr(config.thresholds, f.name)!r}" for f in fields(FixedThresholds)),
        "",
        "[findings]",
        *(f"{f.name} = {getattr(config.findings, f.name)!r}" for f in fields(FindingsSettings)),
    ]
    for objective in config.objectives:
        lines += ["", "[[objective]]", f"pattern = {_toml_string(objective.pattern)}"]
        if objective.error_percent is not None:
            lines.append(f"error_percent = {objective.error_percent!r}")
        if objective.p95_ms is not None:
            lines.append(f"p95_ms = {objective.p95_ms!r}")
    return "\n".join(lines) + "\n"


def save_config(config: AnalysisConfig, path: str | Path | None = None) -> Path:
    """Write the settings (default: the default file); returns where."""
    target = Path(path) if path is not None else default_config_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(config_toml(config), encoding="utf-8")
    return target


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return table


def _known(table: dict[str, Any], keys: set[str], source: str, prefix: str) -> None:
    unknown = sorted(set(table) - keys)
    if unknown:
        raise ConfigError(f"{source}: unknown setting {prefix}{unknown[0]} (known: {', '.join(sorted(keys))})")


def _number(value: object, source: str, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{source}: {key} must be a number ≥ 0 (not {value!r})")
    return float(value)


def _dataclass_from(default, table: dict[str, Any], source: str, prefix: str):
    known = {f.name: f for f in fields(default)}
    _known(table, set(known), source, prefix)
    values = {}
    for key, value in table.items():
        number = _number(value, source, prefix + key)
        values[key] = int(number) if isinstance(getattr(default, key), int) else number
    return replace(default, **values)


def objective_lines(objectives: tuple[Objective, ...]) -> str:
    """Objectives as the Preferences dialog edits them: `PATTERN ERROR% P95MS` a line, `-` where none."""

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    return "\n".join(f"{o.pattern} {number(o.error_percent)} {number(o.p95_ms)}" for o in objectives)


def parse_objective_lines(text: str) -> tuple[Objective, ...]:
    """`objective_lines` read back; ConfigError names the line at fault."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 3:
            raise ConfigError(f"objective line {number}: write PATTERN ERROR% P95MS, '-' for none (got {line!r})")
        values = []
        for word, what in zip(words[1:], ("error %", "p95 ms"), strict=True):
            if word == "-":
                values.append(None)
                continue
            try:
                value = float(word.rstrip("%").removesuffix("ms"))
            except ValueError:
                raise ConfigError(f"objective line {number}: {what} {word!r} is not a number") from None
            if value < 0:
                raise ConfigError(f"objective line {number}: {what} must be ≥ 0")
            values.append(value)
        if values == [None, None]:
            raise ConfigError(f"objective line {number}: give an error % or a p95 (or both)")
        out.append(Objective(words[0], values[0], values[1]))
    return tuple(out)
