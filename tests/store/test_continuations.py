"""Where a span's work went on: span links from other traces and consumer children, bounded, through the pipe."""

from __future__ import annotations

import multiprocessing

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch, SpanKind
from flowviz.sources.detail_channel import DetailClient, serve_details
from flowviz.store.continuations import TraceContinuations
from flowviz.store.detail_queries import ContinuationsQuery
from flowviz.store.drill_down import DrillDownStore

PRODUCER_TRACE, PRODUCER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
T0 = 1_700_000_000_000_000_000


def consumer_spans(*, link_trace: str = PRODUCER_TRACE, link_span: str = PRODUCER_SPAN) -> SpanBatch:
    """billing consumes in its own trace (a span link to the producer's span) and calls payments there;
    shipping consumes in the producer's trace (its parent is the producer's span); audit links elsewhere."""
    builder = SpanBatchBuilder(Problems())
    own = "b" * 32
    rows = [
        (own, "1" * 16, None, "billing", SpanKind.CONSUMER, 30, [(link_trace, link_span)]),
        (own, "2" * 16, "1" * 16, "billing", SpanKind.CLIENT, 31, []),
        (own, "3" * 16, "2" * 16, "payments", SpanKind.SERVER, 32, []),
        (PRODUCER_TRACE, "4" * 16, PRODUCER_SPAN, "shipping", SpanKind.CONSUMER, 20, []),
        ("c" * 32, "5" * 16, None, "audit", SpanKind.CONSUMER, 10, [(PRODUCER_TRACE, "9" * 16)]),
    ]
    for trace, span, parent, service, kind, start_ms, links in rows:
        start_ns = T0 + start_ms * 1_000_000
        builder.add(
            trace_id=trace, span_id=span, parent_id=parent, service=service, kind=kind,
            start_ns=start_ns, end_ns=start_ns + 5_000_000, links=links,
        )  # fmt: skip
    return builder.build()


def test_links_and_consumer_children_are_found_by_the_span_they_go_on_from() -> None:
    index = TraceContinuations()
    index.add(consumer_spans())
    found = index.after(PRODUCER_TRACE, PRODUCER_SPAN)
    assert [(c.service, c.relation, c.trace_id, c.span_id) for c in found] == [
        ("shipping", "child", PRODUCER_TRACE, "4" * 16),  # started first
        ("billing", "link", "b" * 32, "1" * 16),
    ]
    assert found[1].start_ns == T0 + 30_000_000
    assert index.after(PRODUCER_TRACE, "9" * 16)[0].service == "audit"
    assert index.after(PRODUCER_TRACE, "a" * 16) == []
    assert index.after("not hex", PRODUCER_SPAN) == []


def test_the_ring_keeps_the_newest() -> None:
    index = TraceContinuations(capacity=4)
    for step in range(3):
        index.add(consumer_spans(link_span=f"{step + 1:016x}"))  # three rows each
    assert len(index) == 4
    assert index.after(PRODUCER_TRACE, f"{3:016x}")[0].service == "billing"  # the newest batch is there
    assert index.after(PRODUCER_TRACE, f"{1:016x}") == []  # the oldest is gone


def test_the_window_asks_the_workers_store() -> None:
    details = DrillDownStore()
    details.take(consumer_spans(), None)
    window_end, worker_end = multiprocessing.Pipe()
    serve_details(details, worker_end)
    client = DetailClient(window_end, timeout_s=5)
    found = client.ask(ContinuationsQuery(PRODUCER_TRACE, PRODUCER_SPAN)).continuations
    assert [c.service for c in found] == ["shipping", "billing"]
    assert client.round_trips == 1
    client.close()
