"""The import contracts of pyproject.toml hold (Qt only in flowviz.ui; layers in data-path order; window factories
one way), and they bite."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parents[1]
EXIT_KEPT, EXIT_BROKEN = 0, 1


def _contracts() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]


def _write_ini(path: Path, config: dict) -> Path:
    """The same contracts as an INI file (the format import-linter reads besides pyproject.toml)."""
    lines = ["[importlinter]", f"root_package = {config['root_package']}", "include_external_packages = True", ""]
    for contract in config["contracts"]:
        lines.append(f"[importlinter:contract:{contract['id']}]")
        for key, value in contract.items():
            if key == "id":
                continue
            if isinstance(value, list):
                lines.append(f"{key} =")
                lines.extend(f"    {item}" for item in value)
            else:
                lines.append(f"{key} = {value}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _lint(config_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = lint_imports(config_filename=str(config_path), no_cache=True, no_logo=True)
    return code, capsys.readouterr().out


def test_the_contracts_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _lint(REPO / "pyproject.toml", capsys)
    assert code == EXIT_KEPT, out
    assert "3 kept, 0 broken" in out


def test_an_ignored_arrow_that_is_gone_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the ignore list cannot go stale: when a planned cut is made, its ignore line must go too
    config = _contracts()
    (layers,) = [c for c in config["contracts"] if c["id"] == "data-path-layers"]
    layers.setdefault("ignore_imports", []).append("flowviz.model.ids -> flowviz.ui.app")
    code, out = _lint(_write_ini(tmp_path / "contracts.ini", config), capsys)
    assert code == EXIT_BROKEN
    assert "No matches for ignored import flowviz.model.ids -> flowviz.ui.app" in out


def test_an_upward_arrow_breaks_the_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _contracts()
    (layers,) = [c for c in config["contracts"] if c["id"] == "data-path-layers"]
    # model placed above derive: every derive -> model import (the deriver's span kinds among them) runs up
    layers["layers"].remove("flowviz.model")
    layers["layers"].insert(layers["layers"].index("flowviz.derive"), "flowviz.model")
    code, out = _lint(_write_ini(tmp_path / "contracts.ini", config), capsys)
    assert code == EXIT_BROKEN
    assert "flowviz.derive.deriver -> flowviz.model.span_batch" in out


def test_qt_outside_ui_breaks_the_forbidden_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _contracts()
    (forbidden,) = [c for c in config["contracts"] if c["type"] == "forbidden"]
    forbidden["source_modules"].append("flowviz.bench")  # the render benchmark drives Qt widgets
    code, out = _lint(_write_ini(tmp_path / "contracts.ini", config), capsys)
    assert code == EXIT_BROKEN
    assert "flowviz.bench is not allowed to import PySide6" in out
    assert "flowviz.bench.render -> PySide6" in out


def test_a_menu_that_imports_the_window_factories_breaks_the_one_way_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _contracts()
    (windows,) = [c for c in config["contracts"] if c["id"] == "windows-one-way"]
    windows["layers"].reverse()  # as if the menus imported the factories, and the factories the app
    code, out = _lint(_write_ini(tmp_path / "contracts.ini", config), capsys)
    assert code == EXIT_BROKEN
    assert "flowviz.ui.windows -> flowviz.ui.main_window" in out
