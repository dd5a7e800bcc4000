"""The Problems panel: a capture with malformed lines lists its reasons, counts and lines; menus open it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDockWidget

from flowviz.chart.themes import DARK, LIGHT
from flowviz.ui.problems_panel import ProblemsPanel, split_reason
from flowviz.ui.windows import capture_window

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample-shop.otlp.jsonl.gz"


@pytest.fixture
def bad_capture(tmp_path) -> Path:
    """Six good OTLP JSON lines of the sample with three bad ones: not JSON (line 4), a wrong shape (line 8)
    and a cut-off last line (line 9)."""
    good = gzip.decompress(SAMPLE.read_bytes()).splitlines()[:6]
    lines = [*good[:3], b"this is not json {", *good[3:6], b'{"resourceSpans": 5}', b'{"resourceSpans": [']
    path = tmp_path / "bad.otlp.jsonl"
    path.write_bytes(b"\n".join(lines))
    return path


def test_a_capture_with_malformed_lines_shows_its_problems(qtbot, bad_capture):
    window = capture_window([str(bad_capture)])
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.feed.status.finished, timeout=60_000)
        assert not window.problems_dock.isVisible()  # hidden by default
        qtbot.waitUntil(lambda: window.problems_panel.total == 3, timeout=5_000)  # refreshed by its timer
        panel = window.problems_panel
        assert {reason: entry["count"] for reason, entry in panel.problems.items()} == {
            "json: line is not valid JSON": 1,
            "otlp-json: resourceSpans is not a list": 1,
            "json: last line is cut off (ignored)": 1,
        }
        rows = {}
        for index in range(panel.tree.topLevelItemCount()):
            item = panel.tree.topLevelItem(index)
            rows[(item.text(1), item.text(2))] = (
                item.text(0),
                [item.child(c).text(2) for c in range(item.childCount())],
            )
        assert rows[("json", "line is not valid JSON")][0] == "1"
        assert rows[("json", "line is not valid JSON")][1][0].startswith(f"{bad_capture}:4")
        assert rows[("otlp-json", "resourceSpans is not a list")] == ("1", [f"{bad_capture}:8"])
        assert rows[("json", "last line is cut off (ignored)")][1][0].startswith(f"{bad_capture}:9")
        assert window.problems_dock.windowTitle() == "Problems (3)"
        assert "3 problems of 3 kinds" in panel.summary.text()
        # the status bar says how many, and clicking that opens the panel
        assert window.problems_button.isVisibleTo(window)
        assert window.problems_button.text() == "⚠ 3 problems"
        window.problems_button.click()
        assert window.problems_dock.isVisible()
        # View ▸ Problems toggles it
        window.view_menu.aboutToShow.emit()
        assert window.problems_action in window.view_menu.actions()
        window.problems_action.trigger()
        assert not window.problems_dock.isVisible()
        assert f"{bad_capture}:8" in panel.as_text()
    finally:
        window.feed.stop()


def test_the_window_has_a_file_and_view_menu(qtbot, bad_capture):
    window = capture_window([str(bad_capture)])
    qtbot.addWidget(window)
    try:
        titles = [action.text() for action in window.menuBar().actions()]
        assert titles == ["&File", "&View", "&Chart", "&Compare", "&Help"]
        entries = [action.text() for action in window.file_menu.actions() if not action.isSeparator()]
        assert entries == [
            "&Open capture…",
            "&Connect to Kafka…",
            "&Receive OTLP (gRPC 4317, HTTP 4318)",
            "Open the &demo",
            "Save &incident…",
            "&Export",
            "&Preferences…",
            "&Quit",
        ]
        window.view_menu.aboutToShow.emit()
        docks = [a for a in window.view_menu.actions() if not a.isSeparator()]
        assert docks[0] is window.problems_action
        other_docks = [d for d in window.findChildren(QDockWidget) if d is not window.problems_dock]
        assert len(docks) == 1 + len(other_docks)  # every other panel can be toggled there too
        window.view_menu.aboutToShow.emit()  # filled afresh each time it opens, nothing doubled or deleted
        assert [a for a in window.view_menu.actions() if not a.isSeparator()] == docks
    finally:
        window.feed.stop()


class _Status:
    def __init__(self, problems: dict, error: str = "") -> None:
        self.problems, self.error = problems, error


def test_the_panel_rebuilds_only_on_change_and_keeps_what_was_expanded(qtbot):
    status = _Status({"derive: server span whose parent never arrived": {"count": 2, "first": ["trace 1 span 2"]}})
    panel = ProblemsPanel(lambda: status, theme=DARK)
    qtbot.addWidget(panel)
    assert panel.refresh() is True
    assert panel.refresh() is False  # same problems object: nothing to do
    status.problems = dict(status.problems)  # a new dict with the same content (each feed batch sends one)
    assert panel.refresh() is False
    first = panel.tree.topLevelItem(0)
    assert (first.text(0), first.text(1), first.text(2)) == ("2", "derive", "server span whose parent never arrived")
    first.setExpanded(True)
    status.problems = {
        **status.problems,
        "kafka: message is not valid JSON": {"count": 40, "first": ["spans[0]@7", "spans[0]@9"]},
    }
    assert panel.refresh() is True
    assert panel.tree.topLevelItemCount() == 2
    assert panel.tree.topLevelItem(0).text(0) == "40"  # the most frequent first
    assert panel.tree.topLevelItem(1).isExpanded()  # still expanded after the rebuild
    assert [panel.tree.topLevelItem(0).child(i).text(2) for i in range(2)] == ["spans[0]@7", "spans[0]@9"]
    assert panel.total == 42
    status.error = "bad.json: not a trace file"
    assert panel.refresh() is True
    assert panel.tree.topLevelItem(0).text(2) == "bad.json: not a trace file"
    panel.apply_theme(LIGHT)
    assert panel.tree.topLevelItemCount() == 3


def test_reasons_split_into_kind_and_text():
    assert split_reason("otlp-json: malformed span") == ("otlp-json", "malformed span")
    assert split_reason("something odd: here") == ("", "something odd: here")


def test_no_problems_no_status_count(qtbot):
    panel = ProblemsPanel(lambda: _Status({}), theme=DARK)
    qtbot.addWidget(panel)
    panel.refresh()
    assert "No problems" in panel.summary.text()
    assert panel.tree.isHidden()
    assert not panel.copy_button.isEnabled()
