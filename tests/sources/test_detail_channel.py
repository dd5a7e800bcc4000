"""The drill-down store in the ingest worker, queried from this process, answers as an in-process one does."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from flowviz.model.problems import Problems
from flowviz.sources.capture_file import CaptureReader
from flowviz.sources.detail_channel import DetailClient, DetailsUnavailable, serve_details
from flowviz.sources.pipeline import IngestPipeline
from flowviz.sources.process_feed import CaptureSpec, ProcessFeed
from flowviz.store.detail_queries import EdgeQuery, ServiceQuery, StatusQuery, TraceQuery
from flowviz.store.drill_down import DrillDownStore
from flowviz.store.rolling_store import RollingStore

DEATHSTARBENCH = "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json"
WHOLE = (-(1 << 62), 1 << 62)


def local_details(path: Path) -> DrillDownStore:
    problems = Problems()
    details = DrillDownStore()
    pipeline = IngestPipeline(RollingStore(problems=problems), problems=problems, details=details)
    for item in CaptureReader(path, problems=problems):
        pipeline.feed(item)
    pipeline.finish()
    return details


def test_worker_details_answer_like_local_ones(captures_dir: Path) -> None:
    path = captures_dir / DEATHSTARBENCH
    local = local_details(path)
    feed = ProcessFeed(RollingStore(), CaptureSpec((str(path),)))
    feed.start()
    try:
        assert feed.wait(60)
        remote = feed.details
        assert remote is not None
        query = ServiceQuery("compose-post-service", *WHOLE, exemplar_limit=5)
        there, here = remote.ask(query), local.ask(query)
        for kind, slowest in there.exemplars.items():
            assert [e.trace_id for e in slowest] == [e.trace_id for e in here.exemplars[kind]]
        assert there.exemplars["slowest"], "the capture's compose-post traces are kept"
        assert there.operations == here.operations
        assert there.operations
        assert np.array_equal(there.histogram, here.histogram)
        assert there.histogram.sum() > 0
        assert there.critical_path_share == pytest.approx(here.critical_path_share)
        assert there.time_split == here.time_split
        trace = remote.ask(TraceQuery(there.exemplars["slowest"][0].trace_id))
        assert trace.spans is not None
        assert len(trace.spans) == len(local.ask(TraceQuery(there.exemplars["slowest"][0].trace_id)).spans)
        edge = EdgeQuery("nginx-web-server", "compose-post-service", *WHOLE, exemplar_limit=5)
        remote_edge, local_edge = remote.ask(edge), local.ask(edge)
        assert remote_edge.sides["server"].calls == local_edge.sides["server"].calls > 0
        assert remote_edge.statuses == local_edge.statuses
        assert remote_edge.payload.calls == local_edge.payload.calls  # the edge panel's payload, asked for too
        assert np.array_equal(remote_edge.payload.histogram, local_edge.payload.histogram)
        with pytest.raises(DetailsUnavailable, match="not a drill-down query"):
            remote.ask("services")  # only the typed requests are answered
    finally:
        feed.stop()
    with pytest.raises(DetailsUnavailable):
        feed.details.ask(StatusQuery())


def test_a_silent_worker_times_out_instead_of_hanging() -> None:
    parent, child = multiprocessing.Pipe()
    client = DetailClient(parent, timeout_s=0.2)
    with pytest.raises(DetailsUnavailable, match="no answer"):
        client.ask(StatusQuery())
    serve_details(DrillDownStore(), child)  # answers from now on; the stale request's answer is skipped
    assert client.ask(StatusQuery()).kept_traces == 0
    assert client.ask(EdgeQuery("a", "b", 0, 1, exemplar_limit=5)).statuses == []
    assert client.round_trips == 3


def test_a_busy_worker_samples_exemplars_but_keeps_every_call_in_the_edge_details(captures_dir: Path) -> None:
    """With a time share of 0, every batch after the first skips the exemplar store; edge details see all."""
    problems = Problems()
    details = DrillDownStore(max_time_share=0.0)
    pipeline = IngestPipeline(RollingStore(problems=problems), problems=problems, details=details)
    batches = list(CaptureReader(captures_dir / DEATHSTARBENCH, problems=problems))
    for item in batches * 3:
        pipeline.feed(item)
    pipeline.finish()
    status = details.status()
    assert status["skipped_spans"] == 3 * sum(len(b) for b in batches) - len(batches[0])
    assert status["kept_traces"] > 0
    everything = local_details(captures_dir / DEATHSTARBENCH)
    sides = details.edges.sides("nginx-web-server", "compose-post-service", *WHOLE)
    assert (
        sides["server"].calls
        == everything.edges.sides("nginx-web-server", "compose-post-service", *WHOLE)["server"].calls
    )


def test_a_capture_worker_reads_a_traces_attributes_again_from_the_file(captures_dir: Path) -> None:
    path = captures_dir / "otlp-json/opentelemetry-proto-example-trace.json"
    feed = ProcessFeed(RollingStore(), CaptureSpec((str(path),)))
    feed.start()
    try:
        assert feed.wait(60)
        remote = feed.details
        [exemplar] = remote.ask(ServiceQuery("my.service", *WHOLE, exemplar_limit=5)).exemplars["recent"]
        details = remote.ask(TraceQuery(exemplar.trace_id)).span_details
        [detail] = details.values()
        assert ("my.span.attr", "some value") in detail.attributes
        gone = remote.ask(TraceQuery("00000000000000000000000000000bad"))
        assert (gone.spans, gone.span_details) == (None, None)
    finally:
        feed.stop()


def test_the_edge_panels_payload_query_is_served() -> None:
    """Live Kafka windows ask the worker for a producer → topic edge's message sizes (the edge panel's line)."""
    import numpy as np

    from flowviz.model.graph_kinds import ConnectionType, NodeKind
    from flowviz.model.observations import EdgeObservations

    calls = EdgeObservations.from_columns(
        ("", "checkout", "orders"),
        source=[1] * 3, target=[2] * 3, source_kind=NodeKind.SERVICE, target_kind=NodeKind.TOPIC,
        connection_type=ConnectionType.MESSAGING_SYSTEM, via=0, time_ns=[10, 20, 30], latency_ns=1_000_000,
        failed=False,
    )  # fmt: skip
    details = DrillDownStore()
    details.edges.add(calls)
    details.edges.add_payloads(calls, np.array([100, 200, 400]))
    parent, child = multiprocessing.Pipe()
    serve_details(details, child)
    client = DetailClient(parent, timeout_s=5)
    payload = client.ask(EdgeQuery("checkout", "orders", 0, 100, exemplar_limit=5)).payload
    assert payload is not None
    assert payload.calls == 3
    assert payload.p50_ms == pytest.approx(200, rel=0.09)  # bytes
    client.close()
