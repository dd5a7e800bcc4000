"""Scrubbing the flow chart: window queries off the UI thread, newest position only, stale results dropped."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QTimer

from flowviz.store.rolling_store import RollingStore
from tests.ui.test_flow_view import SECOND, T0, make_view, traffic


@pytest.fixture
def store() -> RollingStore:
    """Ten quiet seconds, then ten busy ones: each 10 s window shows its own rate."""
    store = RollingStore()
    store.ingest(traffic([("gateway", "orders", 2, 0.0)], seconds=10))
    store.ingest(traffic([("gateway", "orders", 40, 0.0)], seconds=10, start_ns=T0 + 10 * SECOND))
    return store


class GatedQuery:
    """Wraps a store's query: each call waits for `release` and records the window it ran and on which thread."""

    def __init__(self, store: RollingStore) -> None:
        self._query = store.query
        self.release = threading.Event()
        self.started = threading.Event()
        self.finished = threading.Event()
        self.ran: list[tuple[int, int]] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, start_ns: int, end_ns: int):
        self.ran.append((start_ns, end_ns))
        self.threads.append(threading.current_thread())
        self.started.set()
        assert self.release.wait(10)
        frame = self._query(start_ns, end_ns)
        self.finished.set()
        return frame


def gate(monkeypatch, view) -> GatedQuery:
    query = GatedQuery(view.model.store)
    monkeypatch.setattr(view.model.store, "query", query)
    return query


def shown_window(view) -> tuple[int, int]:
    return view.model.shown_window_ns


def rate_of(view, name: str) -> float:
    chart = view.model.chart
    return float(chart.node_rate_per_s[chart.node_names.index(name)])


def test_the_ui_thread_handles_events_while_a_slow_window_query_runs(qtbot, store, monkeypatch):
    view = make_view(qtbot, store)
    view.model.time.set_window(10.0)
    query = gate(monkeypatch, view)
    started = time.perf_counter()
    view.follow_scrub(T0 + 20 * SECOND)
    assert time.perf_counter() - started < 0.5  # returned without waiting for the query
    assert query.started.wait(5)
    fired = []
    QTimer.singleShot(0, lambda: fired.append(query.finished.is_set()))
    qtbot.waitUntil(lambda: bool(fired), timeout=2000)
    assert fired == [False]  # an event was handled while the query was still running
    assert query.threads[0] is not threading.main_thread()
    with qtbot.waitSignal(view.frame_applied, timeout=5000):
        query.release.set()
    assert view.model.chart is not None
    assert rate_of(view, "orders") == pytest.approx(40.0, rel=0.05)  # the busy window is shown


def test_a_scrub_burst_applies_only_the_newest_position(qtbot, store, monkeypatch):
    view = make_view(qtbot, store)
    view.model.time.set_window(10.0)
    view.follow_interval_s = 60.0  # no drag-through frames: only the newest position may be shown
    query = gate(monkeypatch, view)
    applied = []
    view.frame_applied.connect(applied.append)
    view.follow_scrub(T0 + 10 * SECOND)  # runs (and waits at the gate) ...
    assert query.started.wait(5)
    for second in range(11, 21):  # ... while the user drags on
        view.follow_scrub(T0 + second * SECOND)
    newest = view.window_queries.latest_sequence
    query.release.set()
    qtbot.waitUntil(lambda: bool(applied), timeout=5000)
    qtbot.wait(100)  # nothing else arrives
    assert [r.sequence for r in applied] == [newest]
    assert query.ran == [(T0, T0 + 10 * SECOND), (T0 + 10 * SECOND, T0 + 20 * SECOND)]
    assert view.window_queries.coalesced == 9  # 11 s .. 19 s never ran
    assert view.stale_results == 1  # the 10 s result came back after the user had moved on
    assert shown_window(view) == (T0 + 10 * SECOND, T0 + 20 * SECOND)
    assert rate_of(view, "orders") == pytest.approx(40.0, rel=0.05)


def test_a_result_for_an_older_position_never_replaces_a_newer_frame(qtbot, store, monkeypatch):
    view = make_view(qtbot, store)
    view.model.time.set_window(10.0)
    query = gate(monkeypatch, view)
    view.follow_scrub(T0 + 20 * SECOND)  # the busy seconds, queued off the UI thread
    assert query.started.wait(5)
    query.release.set()  # later calls pass at once; the first is still ahead of the event loop
    view.scrub_to(T0 + 10 * SECOND)  # a jump made now, on the UI thread: the quiet seconds
    assert shown_window(view) == (T0, T0 + 10 * SECOND)
    qtbot.waitUntil(lambda: view.stale_results == 1, timeout=5000)  # the busy result arrived and was dropped
    assert shown_window(view) == (T0, T0 + 10 * SECOND)
    assert rate_of(view, "orders") == pytest.approx(2.0, rel=0.05)


def test_a_long_drag_shows_where_it_passes_in_order(qtbot, store, monkeypatch):
    view = make_view(qtbot, store)
    view.model.time.set_window(10.0)
    view.follow_interval_s = 0.0  # every finished query is recent enough to show
    query = gate(monkeypatch, view)
    applied = []
    view.frame_applied.connect(applied.append)
    view.follow_scrub(T0 + 10 * SECOND)
    assert query.started.wait(5)
    view.follow_scrub(T0 + 20 * SECOND)
    query.release.set()
    qtbot.waitUntil(lambda: len(applied) == 2, timeout=5000)
    assert [r.end_ns for r in applied] == [T0 + 10 * SECOND, T0 + 20 * SECOND]
    assert shown_window(view) == (T0 + 10 * SECOND, T0 + 20 * SECOND)


def test_the_periodic_refresh_queries_off_the_ui_thread(qtbot, store, monkeypatch):
    view = make_view(qtbot, store)
    view.model.time.set_window(10.0)
    view.model.time.seek(T0 + 15 * SECOND)  # as a key or the transport bar moves the cursor
    query = gate(monkeypatch, view)
    query.release.set()
    with qtbot.waitSignal(view.frame_applied, timeout=5000):
        view.tick()
    assert query.threads
    assert all(t is not threading.main_thread() for t in query.threads)
    assert shown_window(view) == (T0 + 5 * SECOND, T0 + 15 * SECOND)
    query.ran.clear()
    view._last_refresh = 0.0
    view.tick()  # nothing changed: nothing is queried
    qtbot.wait(50)
    assert query.ran == []
