"""Time travel in the window: scrubbing to an incident, keys, live following, marks, bookmarks."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QSettings, Qt

from flowviz.chart.chart_frame import Health
from flowviz.chart.flow_model import FlowChartModel
from flowviz.model.time_control import PlayMode
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.main_window import MainWindow
from tests.ui.test_flow_view import SECOND, T0, traffic

INCIDENT_START_S, INCIDENT_END_S, CAPTURE_S = 300, 360, 600


@pytest.fixture
def incident_store() -> RollingStore:
    """Ten minutes of a capture: payments fails half its calls between minute 5 and minute 6."""
    store = RollingStore()
    store.ingest(traffic([("checkout", "payments", 5, 0.0), ("checkout", "catalog", 5, 0.0)], seconds=CAPTURE_S))
    store.ingest(
        traffic(
            [("checkout", "payments", 5, 0.5)],
            seconds=INCIDENT_END_S - INCIDENT_START_S,
            start_ns=T0 + INCIDENT_START_S * SECOND,
        )
    )
    return store


def make_window(qtbot, store: RollingStore, *, live: bool = False, key: str | None = None) -> MainWindow:
    model = FlowChartModel(store, window_s=30.0, live=live)
    window = MainWindow(model, title="test", bookmark_key=key)
    qtbot.addWidget(window)
    window.resize(1100, 800)
    with qtbot.waitActive(window):  # window shortcuts (the time keys) fire only in the active window
        window.show()
        window.activateWindow()
    window.view.setFocus()
    model.tick(0.0)
    window.view.refresh()
    window.strip.refresh()
    return window


def edge_health(window: MainWindow, target: str) -> int:
    chart = window.model.chart
    edge = next(e for e in range(chart.edge_count) if chart.node_names[chart.edge_target[e]] == target)
    return int(chart.edge_health[edge])


def wait_for_analysis(qtbot, window: MainWindow) -> None:
    """Findings are judged off the UI thread: wait until they reach the end of the data."""
    end = window.model.store.time_range_ns()[1]
    qtbot.waitUntil(
        lambda: (window.analysis.service.latest().evaluated_until_ns or 0) >= end - 10 * SECOND, timeout=30_000
    )


def test_scrubbing_the_strip_to_the_incident_shows_it_failing_and_before_it_not(qtbot, incident_store):
    window = make_window(qtbot, incident_store)
    wait_for_analysis(qtbot, window)
    before = T0 + (INCIDENT_START_S - 60) * SECOND
    during = T0 + (INCIDENT_START_S + 40) * SECOND
    qtbot.mouseClick(window.strip.plot.viewport(), Qt.MouseButton.LeftButton, pos=window.strip.x_of(before))
    qtbot.wait(120)  # the chart follows within 100 ms
    assert abs(window.model.time.cursor_ns - before) < 3 * SECOND
    assert edge_health(window, "payments") == Health.HEALTHY
    qtbot.mouseClick(window.strip.plot.viewport(), Qt.MouseButton.LeftButton, pos=window.strip.x_of(during))
    qtbot.wait(120)
    assert abs(window.model.time.cursor_ns - during) < 3 * SECOND
    assert edge_health(window, "payments") == Health.FAILING
    assert edge_health(window, "catalog") == Health.HEALTHY


def test_the_strip_marks_the_findings_and_a_mark_leads_to_its_node(qtbot, incident_store):
    window = make_window(qtbot, incident_store)

    def marks():
        window.strip.refresh()  # findings are computed off the UI thread; the strip draws them on a refresh
        return window.strip.marks

    qtbot.waitUntil(lambda: any(m.node == "payments" and m.signal == "errors" for m in marks()), timeout=10_000)
    failure_marks = [m for m in window.strip.marks if m.signal == "errors"]
    assert {m.subject for m in failure_marks} == {"payments"}  # catalog and checkout stayed calm
    first = failure_marks[0]
    assert abs(first.onset_ns - (T0 + INCIDENT_START_S * SECOND)) <= 5 * SECOND
    assert first.end_ns <= T0 + (INCIDENT_END_S + 30) * SECOND
    assert "failures" in first.describe()
    # clicking a mark scrubs to just after its onset and selects its node
    window.strip.finding_clicked.emit(first)
    assert abs(window.model.time.cursor_ns - (first.onset_ns + 30 * SECOND)) <= SECOND
    assert window.model.chart.node_names[window.view.emphasis.selected] == "payments"


def test_keys_drive_the_time_control(qtbot, incident_store):
    window = make_window(qtbot, incident_store)
    time_control = window.model.time
    window.view.setFocus()
    end = time_control.cursor_ns
    qtbot.keyClick(window.view, Qt.Key.Key_Left)
    assert time_control.cursor_ns == end - SECOND
    qtbot.keyClick(window.view, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert time_control.cursor_ns == end - 11 * SECOND
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert time_control.mode is PlayMode.PLAYING
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert time_control.mode is PlayMode.PAUSED
    qtbot.keyClick(window.view, Qt.Key.Key_Plus)
    assert time_control.speed == 2.0
    qtbot.keyClick(window.view, Qt.Key.Key_Minus)
    assert time_control.speed == 1.0
    qtbot.keyClick(window.view, Qt.Key.Key_BracketRight)
    assert time_control.window_s == 60.0
    qtbot.keyClick(window.view, Qt.Key.Key_BracketLeft)
    assert time_control.window_s == 30.0
    qtbot.keyClick(window.view, Qt.Key.Key_Home)
    assert time_control.cursor_ns == T0 + 30 * SECOND
    qtbot.keyClick(window.view, Qt.Key.Key_End)
    assert time_control.cursor_ns == end
    qtbot.keyClick(window.view, Qt.Key.Key_Question)
    assert window.help.isVisible()
    qtbot.keyClick(window.help, Qt.Key.Key_Escape)
    assert not window.help.isVisible()


def test_playing_a_capture_moves_the_chart_through_time(qtbot, incident_store):
    window = make_window(qtbot, incident_store)
    wait_for_analysis(qtbot, window)
    window.model.time.seek(T0 + (INCIDENT_START_S - 5) * SECOND)
    window.model.time.set_speed(10)  # 30 s of wall time before the capture ends, even on a busy machine
    window.model.time.play()
    qtbot.waitUntil(lambda: edge_health(window, "payments") == Health.FAILING, timeout=5_000)
    assert window.model.time.cursor_ns > T0 + INCIDENT_START_S * SECOND
    assert "playing" in window.transport.time_label.text()


def test_live_following_continues_while_paused_and_end_returns_to_live(qtbot):
    store = RollingStore()
    store.ingest(traffic([("web", "api", 5, 0.0)], seconds=5, start_ns=T0))
    window = make_window(qtbot, store, live=True)
    stop = threading.Event()

    def paced_source() -> None:  # one more second of traffic every 100 ms
        second = 5
        while not stop.is_set() and second < 200:
            store.ingest(traffic([("web", "api", 5, 0.0)], seconds=1, start_ns=T0 + second * SECOND))
            second += 1
            time.sleep(0.1)

    feeder = threading.Thread(target=paced_source, daemon=True)
    feeder.start()
    try:
        qtbot.waitUntil(lambda: window.model.time.cursor_ns >= T0 + 8 * SECOND, timeout=5_000)
        assert "LIVE" in window.transport.time_label.text()
        window.model.time.pause()
        paused_at = window.model.time.cursor_ns
        qtbot.wait(600)
        assert window.model.time.cursor_ns == paused_at
        assert window.model.time.behind_live_s() >= 3
        qtbot.waitUntil(lambda: "behind live" in window.transport.time_label.text(), timeout=2_000)
        qtbot.keyClick(window.view, Qt.Key.Key_End)
        qtbot.wait(300)
        assert window.model.time.mode is PlayMode.FOLLOWING
        assert window.model.time.behind_live_s() < 1.5
    finally:
        stop.set()
        feeder.join()


def test_bookmarks_are_kept_with_the_capture(qtbot, incident_store, tmp_path):
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    key = "/captures/incident.jsonl"
    window = make_window(qtbot, incident_store, key=key)
    window.model.time.seek(T0 + INCIDENT_START_S * SECOND)
    window.add_bookmark("payments starts failing")
    assert [b.name for b in window.strip.bookmarks] == ["payments starts failing"]
    reopened = make_window(qtbot, incident_store, key=key)
    assert [(b.time_ns, b.name) for b in reopened.strip.bookmarks] == [
        (T0 + INCIDENT_START_S * SECOND, "payments starts failing")
    ]
    other = make_window(qtbot, incident_store, key="/captures/other.jsonl")
    assert other.strip.bookmarks == []


def test_loop_key_loops_the_window_and_clears_it(qtbot, incident_store):
    window = make_window(qtbot, incident_store)
    window.model.time.seek(T0 + 200 * SECOND)
    qtbot.keyClick(window.view, Qt.Key.Key_L)
    loop = window.model.time.loop
    assert loop is not None
    assert (loop.start_ns, loop.end_ns) == (T0 + 170 * SECOND, T0 + 200 * SECOND)
    assert "✓" in window.transport.loop_button.text()
    qtbot.keyClick(window.view, Qt.Key.Key_L)
    assert window.model.time.loop is None
