"""Opening captures in the window: what cannot be read says so in a dialog and stays off the recent list;
what can is remembered; a scrub made while loading is kept."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from flowviz.model.time_control import PlayMode
from flowviz.model.time_spec import parse_time_ns
from flowviz.resources import sample_capture_path
from flowviz.ui.settings import recent_files
from flowviz.ui.windows import capture_window

SAMPLE = sample_capture_path()
SECOND = 1_000_000_000


def _loaded(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.feed.status.finished or bool(window.feed.status.error), timeout=60_000)
    window._update_status()  # the status poll finishes the load


def test_a_file_that_is_no_trace_says_why_and_is_not_remembered(qtbot, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello, this is not a trace\n")
    window = capture_window([str(junk)])
    qtbot.addWidget(window)
    window.show()
    try:
        _loaded(qtbot, window)
        box = window.open_failure
        assert isinstance(box, QMessageBox)
        assert box.isVisible()
        assert box.text() == "Cannot open notes.txt"
        assert "not a trace file" in box.informativeText()
        assert recent_files() == []
        box.accept()
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)  # no empty "waiting for data" window
    finally:
        window.feed.stop()


def test_a_capture_that_loads_joins_the_recent_list_and_is_shown_whole(qtbot) -> None:
    window = capture_window([str(SAMPLE)])
    qtbot.addWidget(window)
    try:
        assert recent_files() == []  # not before anything was read
        _loaded(qtbot, window)
        assert recent_files() == [str(SAMPLE)]
        assert window.model.time.window_s == 120.0  # the whole two minutes
    finally:
        window.feed.stop()


def test_a_scrub_made_while_loading_is_kept(qtbot) -> None:
    window = capture_window([str(SAMPLE)])
    qtbot.addWidget(window)
    try:
        first_ns = parse_time_ns("2023-11-14T22:13:20Z", origin_ns=0)
        moment = first_ns + 50 * SECOND
        window.model.time.seek(moment)  # the user scrubs before the load has ended
        _loaded(qtbot, window)
        window.model.refresh()
        assert window.model.time.cursor_ns == moment
        assert window.model.time.window_s == 60.0  # not widened to the whole capture
        assert window.model.time.mode is PlayMode.PAUSED
    finally:
        window.feed.stop()


def test_the_time_control_is_told_while_the_capture_still_loads(qtbot) -> None:
    window = capture_window([str(SAMPLE)])
    qtbot.addWidget(window)
    try:
        assert window.model.source_streaming() is window.feed.status.running
        assert window.model.source_streaming()  # loading
        _loaded(qtbot, window)
        assert not window.model.source_streaming()  # loaded: playing to the end stops there
        window.model.time.seek(window.model.available().end_ns - SECOND)
        window.model.time.play()
        for _ in range(5):
            window.model.tick(0.5)
        assert window.model.time.mode is PlayMode.PAUSED
    finally:
        window.feed.stop()


def test_playing_to_the_end_says_so_in_the_status_bar(qtbot) -> None:
    """The notice lives for one tick of the time model: the window's one frame clock shows it in that frame."""
    window = capture_window([str(SAMPLE)])
    qtbot.addWidget(window)
    window.show()
    try:
        _loaded(qtbot, window)
        window.model.time.seek(window.model.available().end_ns - SECOND // 2)
        window.model.time.play()
        qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "Reached the end of the capture.", timeout=5_000)
        assert window.model.time.mode is PlayMode.PAUSED
    finally:
        window.feed.stop()


def test_a_dependency_list_has_no_timeline_and_says_so(qtbot, captures_dir: Path) -> None:
    from flowviz.model.problems import Problems
    from flowviz.sources.pipeline import IngestPipeline, load_captures
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.main_window import MainWindow
    from flowviz.ui.windows import new_chart_model

    store = RollingStore()
    deps = captures_dir / "jaeger-dependencies" / "jaeger-ui-dependencygraph-small.json"
    load_captures([str(deps)], IngestPipeline(store, problems=Problems()))
    model = new_chart_model(store, live=False, theme=None)
    window = MainWindow(model, title="deps")
    qtbot.addWidget(window)
    window.show()
    model.show_whole_range()
    model.refresh()
    window._update_status()
    assert window.strip.isHidden()  # no 1970 timeline
    assert window.transport.isHidden()
    assert "no time in this capture" in window._status.text()
    assert "8 nodes" in window._status.text()


def test_a_capture_with_time_keeps_its_timeline(qtbot) -> None:
    window = capture_window([str(SAMPLE)])
    qtbot.addWidget(window)
    window.show()
    try:
        _loaded(qtbot, window)
        assert not window.strip.isHidden()
        assert not window.transport.isHidden()
    finally:
        window.feed.stop()
