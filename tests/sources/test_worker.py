"""The one ingest loop: any source through `run_source` into a store, and through a worker into the window's pipe."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from multiprocessing import Pipe
from pathlib import Path
from typing import Any

import pytest

from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.model.timeline_marks import LagMark, TimelineMarks
from flowviz.sources import worker
from flowviz.sources.capture_file import CaptureReader
from flowviz.sources.capture_source import CaptureSource, CaptureSpec
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.kafka_worker import KafkaSource
from flowviz.sources.metric_details import MetricDetails
from flowviz.sources.otlp_receiver import OtlpSource, ReceiverSettings
from flowviz.sources.pipe_messages import Derived, Done, Failed, Marks, Record, SourceStatus, Stop
from flowviz.sources.pipeline import IngestPipeline, run_source
from flowviz.sources.prometheus import PrometheusSettings
from flowviz.sources.prometheus_feed import PrometheusSource, PrometheusSpec
from flowviz.sources.simulator_source import SimulatorSource, SimulatorSpec
from flowviz.sources.source import FormatFound, Idle, Recordable, SourceFailed, SourceItem, Unreadable
from flowviz.store.drill_down import DrillDownStore
from flowviz.store.rolling_store import RollingStore
from tests.sources.test_pipeline import DSB, EVERYTHING, KIALI, _edges

SECOND_NS = 1_000_000_000


class ListedSource:
    """A source whose `batches()` yields a known list (then, with `fail`, gives its own final verdict)."""

    def __init__(self, items: list[SourceItem], *, fail: str = "", status: dict[str, Any] | None = None) -> None:
        self.items = items
        self.problems = Problems()
        self.fail = fail
        self._status = status or {}
        self.recorded: list[str | None] = []
        self.closed = False

    def batches(self) -> Iterator[SourceItem]:
        try:
            yield from self.items
            if self.fail:
                raise SourceFailed(self.fail)
        finally:
            self.closed = True

    def status(self) -> dict[str, Any]:
        return dict(self._status, items=len(self.items))

    def problem_counts(self) -> dict[str, dict[str, object]]:
        return self.problems.as_dict()

    def drill_down(self) -> DrillDownStore:
        return DrillDownStore()

    def record(self, path: str | None) -> None:
        self.recorded.append(path)


def _spans(items: list[SourceItem]) -> int:
    return sum(len(item) for item in items if isinstance(item, SpanBatch))


def _capture_items(*paths: Path) -> list[SourceItem]:
    items: list[SourceItem] = []
    for path in paths:
        reader = CaptureReader(path, problems=Problems())
        items += list(reader)
        items.append(FormatFound(str(path), reader.format_name))
    return items


def test_a_source_through_the_loop_gives_the_store_a_direct_pipeline_gives(captures_dir: Path) -> None:
    items = _capture_items(captures_dir / KIALI, captures_dir / DSB)
    direct = RollingStore()
    pipeline = IngestPipeline(direct, problems=Problems())
    for item in items:
        pipeline.feed(item)
    pipeline.finish()

    looped = RollingStore()
    marks = TimelineMarks((LagMark(5 * SECOND_NS, "orders", "schema v2"),))
    source = ListedSource([Idle(), *items, marks, Unreadable("gone.json", "gone.json: no such file")])
    totals = run_source(source, IngestPipeline(looped, problems=source.problems))

    assert _edges(looped.query(*EVERYTHING)) == _edges(direct.query(*EVERYTHING))
    assert ("productpage.bookinfo", "reviews.bookinfo") in _edges(looped.query(*EVERYTHING))
    assert totals.spans == pipeline.totals.spans > 0
    assert totals.calls == pipeline.totals.calls
    assert totals.formats == {str(captures_dir / KIALI): "otlp_json", str(captures_dir / DSB): "jaeger_json"}
    assert totals.failed_files == {"gone.json": "gone.json: no such file"}
    assert looped.consumer_lag.marks(0, 10 * SECOND_NS) == list(marks.marks)
    assert source.closed


def test_the_loop_stops_when_told_between_items_and_closes_the_source(captures_dir: Path) -> None:
    items = _capture_items(captures_dir / KIALI, captures_dir / DSB)
    source = ListedSource(items)
    asked: list[int] = []
    totals = run_source(
        source,
        IngestPipeline(RollingStore(), problems=source.problems),
        between=lambda: (asked.append(1), False)[1],
    )
    assert asked == [1]
    assert source.closed
    assert totals.spans == _spans(items[:1])  # only the first item was fed
    assert not totals.formats


class _WindowEnd:
    """The window's end of a worker's pipe, pumped in this thread."""

    def __init__(self) -> None:
        self.parent, self.child = Pipe()
        self.received: list[object] = []

    def run(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=(*args, self.child), daemon=True)
        thread.start()
        return thread

    def until(self, kind: type, *, timeout_s: float = 30.0) -> object:
        while self.parent.poll(timeout_s):
            message = self.parent.recv()
            self.received.append(message)
            if isinstance(message, kind):
                return message
        raise AssertionError(f"no {kind.__name__} in {self.received}")


def test_a_worker_sends_what_a_known_source_yields(captures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = _capture_items(captures_dir / KIALI)
    marks = TimelineMarks((LagMark(5 * SECOND_NS, "orders", "schema v2"),))
    source = ListedSource([*items, marks], status={"kind": "test"})
    monkeypatch.setitem(worker.SOURCES, str, lambda spec, problems: source)
    window = _WindowEnd()
    thread = window.run(worker.run_worker, "a spec of the fake kind")
    done = window.until(Done)
    assert isinstance(done, Done)
    assert done.spans == _spans(items)
    assert done.formats == {str(captures_dir / KIALI): "otlp_json"}
    derived = [m for m in window.received if isinstance(m, Derived)]
    store = RollingStore()
    for message in derived:
        store.ingest(message.observations)
    expected = RollingStore()
    run_source(ListedSource(items), IngestPipeline(expected, problems=Problems()))
    assert _edges(store.query(*EVERYTHING)) == _edges(expected.query(*EVERYTHING))
    assert [m.marks for m in window.received if isinstance(m, Marks)] == [list(marks.marks)]
    statuses = [m.status for m in window.received if isinstance(m, SourceStatus)]
    assert statuses[-1] == {"kind": "test", "items": len(items) + 1}
    window.parent.send(Stop())  # the worker stayed to answer the panels until now
    thread.join(5)
    assert not thread.is_alive()


def test_a_worker_passes_record_commands_on_and_stops_a_live_source(monkeypatch: pytest.MonkeyPatch) -> None:
    endless = ListedSource([])
    endless.batches = lambda: iter(Idle, None)  # type: ignore[method-assign]  # a live source with nothing arriving
    monkeypatch.setitem(worker.SOURCES, str, lambda spec, problems: endless)
    window = _WindowEnd()
    window.parent.send(Record("/tmp/one.fvrec"))
    window.parent.send(Record(None))
    thread = window.run(worker.run_worker, "a spec of the fake kind")
    window.until(SourceStatus)
    window.parent.send(Stop())
    thread.join(5)
    assert not thread.is_alive()
    assert endless.recorded == ["/tmp/one.fvrec", None]
    assert not any(isinstance(m, Done) for m in window.received)  # stopped, not finished


def test_a_sources_own_verdict_ends_the_feed_with_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(worker.SOURCES, str, lambda spec, problems: ListedSource([], fail="nobody there"))
    window = _WindowEnd()
    window.run(worker.run_worker, "a spec of the fake kind").join(5)
    assert window.until(Failed) == Failed("nobody there")


def test_every_spec_a_window_runs_opens_its_source_through_the_table(captures_dir: Path) -> None:
    problems = Problems()
    capture = worker.open_source(CaptureSpec((str(captures_dir / KIALI),)), problems)
    assert isinstance(capture, CaptureSource)
    assert capture.problems is problems  # the pipeline counts into the same
    assert isinstance(worker.open_source(SimulatorSpec(), problems), SimulatorSource)
    kafka = worker.open_source(KafkaSettings(bootstrap="127.0.0.1:1", topics=("orders",)), problems)
    assert isinstance(kafka, KafkaSource)
    assert isinstance(kafka, Recordable)
    assert kafka.status()["state"] != "connected"
    metrics = worker.open_source(PrometheusSpec(PrometheusSettings("http://127.0.0.1:1"), 0), problems)
    assert isinstance(metrics, PrometheusSource)
    assert isinstance(metrics.drill_down(), MetricDetails)  # the panels ask the server, not a span store
    receiver = worker.open_source(ReceiverSettings(grpc=None, http="127.0.0.1:0"), problems)
    assert isinstance(receiver, OtlpSource)
    items = receiver.batches()
    try:
        assert isinstance(next(items), Idle)  # before it first reads: the window's first commands apply
        assert receiver.status()["state"] == "listening"
    finally:
        items.close()
    assert receiver.status()["state"] == "stopped"  # closing the source stops its servers
    assert set(worker.SOURCES) == {SimulatorSpec, CaptureSpec, KafkaSettings, ReceiverSettings, PrometheusSpec}


def test_the_simulator_and_captures_run_through_the_worker_loop(captures_dir: Path) -> None:
    window = _WindowEnd()
    thread = window.run(worker.run_worker, CaptureSpec((str(captures_dir / KIALI), str(captures_dir / "nothere.json"))))
    done = window.until(Done)
    assert done.spans == _spans(_capture_items(captures_dir / KIALI))
    assert "nothere.json" in done.errors
    window.parent.send(Stop())
    thread.join(5)

    window = _WindowEnd()
    thread = window.run(worker.run_worker, SimulatorSpec(seed=3, rate_per_s=400.0, history_s=12.0))
    first = window.until(Derived)
    assert first.spans > 0
    assert len(first.observations) > 0
    window.parent.send(Stop())
    thread.join(5)
    assert not thread.is_alive()
