"""The app around the chart: the demo window on the live simulator, captures, `flowviz render`, display checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from flowviz.chart.themes import DARK
from flowviz.cli import main
from flowviz.ui.app import display_problem
from flowviz.ui.windows import capture_window, demo_window

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample-shop.otlp.jsonl.gz"


def test_demo_window_shows_the_simulated_platform_live(qtbot):
    window = demo_window(seed=3, rate_per_s=800.0)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    try:
        qtbot.waitUntil(
            lambda: window.model.chart is not None and "payments" in window.model.chart.node_names, timeout=60_000
        )
        names = set(window.model.chart.node_names)
        assert {"api-gateway", "orders", "payments", "user"} <= names
        assert window.feed.status.spans > 0
        assert "spans/s" in window.feed.status.summary()
        spans_before = window.feed.status.spans
        qtbot.waitUntil(lambda: window.feed.status.spans > spans_before, timeout=10_000)  # still live
        assert window.view.select_name("payments")
    finally:
        window.feed.stop()


def test_a_capture_opens_in_the_window_and_is_laid_out_whole(qtbot):
    window = capture_window([str(SAMPLE)])
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.feed.status.finished, timeout=60_000)
        window._update_status()  # the status poll also finishes the load
        window.model.refresh()
        chart = window.model.chart
        assert chart is not None
        assert int(chart.node_visible.sum()) == 37
        assert int(chart.edge_visible.sum()) == 71
        assert window.feed.status.spans == 6000
    finally:
        window.feed.stop()


def test_render_draws_the_chart_at_a_moment_to_a_png(tmp_path, capsys):
    output = tmp_path / "chart.png"
    fixed = tmp_path / "fixed.toml"  # the Kiali-like fixed thresholds: the sample's failures show at once
    fixed.write_text('[health]\nmode = "thresholds"\n')
    arguments = ["render", str(SAMPLE), "--at", "+60", "--window", "60s", "-o", str(output), "--size", "960x540"]
    code = main([*arguments, "--config", str(fixed)])
    assert code == 0
    assert "37 nodes" in capsys.readouterr().out
    image = QImage(str(output))
    assert (image.width(), image.height()) == (960, 540)
    corner = image.pixelColor(2, 2)
    assert (corner.red(), corner.green(), corner.blue()) == DARK.background[:3]
    pixels = np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(0, 960, 3)] for y in range(0, 540, 3)])
    failing = np.abs(pixels - np.array(DARK.failing[:3])).sum(axis=2) < 60
    healthy = np.abs(pixels - np.array(DARK.healthy[:3])).sum(axis=2) < 60
    assert failing.sum() > 10  # the sample's failing edges (api-gateway -> fraud) are drawn red
    assert healthy.sum() > 40  # and the healthy rings green


def test_render_rejects_bad_arguments_with_usage_errors(tmp_path, capsys):
    output = str(tmp_path / "x.png")
    assert main(["render", str(SAMPLE), "-o", output, "--size", "huge"]) == 2
    assert main(["render", str(SAMPLE), "-o", output, "--window=-5s"]) == 2
    assert main(["render", str(SAMPLE), "-o", output, "--at", "yesterday"]) == 2
    assert "flowviz render:" in capsys.readouterr().err


def test_render_of_something_unusable_says_so(tmp_path, capsys):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello, this is not a trace\n")
    assert main(["render", str(junk), "-o", str(tmp_path / "x.png")]) == 1
    assert "not a trace file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"QT_QPA_PLATFORM": "offscreen"}, None),
        ({}, "no display"),
    ],
)
def test_display_problem_explains_what_is_missing(monkeypatch, environment, expected):
    for key in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    problem = display_problem()
    assert (problem is None) if expected is None else (expected in problem)


def test_display_problem_names_missing_xcb_packages(monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr("ctypes.util.find_library", lambda name: None if name == "xcb-cursor" else f"lib{name}.so")
    problem = display_problem()
    assert problem is not None
    assert "libxcb-cursor0" in problem
    assert "libxcb-icccm4" not in problem


def test_display_without_an_x_server_is_named(monkeypatch):
    import ctypes.util

    if ctypes.util.find_library("xcb") is None:
        pytest.skip("libxcb is not installed here: Qt's xcb plugin could not run either")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":87")  # nothing listens there
    real = ctypes.util.find_library
    monkeypatch.setattr("ctypes.util.find_library", lambda name: real(name) or f"lib{name}.so")  # libraries "there"
    problem = display_problem()
    assert problem is not None
    assert "cannot open the display ':87'" in problem


def test_the_application_has_name_version_and_icon(qtbot, monkeypatch):
    from flowviz import __version__
    from flowviz.ui.app import _application

    monkeypatch.setattr("flowviz.ui.app.install_log", lambda: None)  # no log file in the user's home
    app = _application()
    assert app.applicationName() == "flowviz"
    assert app.applicationVersion() == __version__
    assert app.desktopFileName() == "flowviz"
    assert not app.windowIcon().isNull()
    assert app.windowIcon().pixmap(64, 64).toImage().pixelColor(32, 32).alpha() == 255
