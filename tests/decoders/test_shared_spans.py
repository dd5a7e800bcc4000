"""Shared span ids: server halves separated from their client halves with ids that depend only on themselves."""

from __future__ import annotations

import dataclasses

import numpy as np

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.shared_spans import rekeyed_span_id, separate_shared_spans
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SPAN_FLAG_SHARED, SpanBatch, SpanKind

TRACE = "0af7651916cd43dd8448eb211c80319c"
T0 = 1_700_000_000_000_000_000


def _span(span_id: int, service: str, kind: SpanKind, parent: int = 0, start: int = 0, end: int = 100, **extra):
    return {
        "trace_id": extra.pop("trace", TRACE),
        "span_id": f"{span_id:016x}",
        "parent_id": f"{parent:016x}" if parent else None,
        "service": service,
        "kind": kind,
        "start_ns": T0 + start,
        "end_ns": T0 + end,
        **extra,
    }


def _raw(*spans: dict) -> SpanBatch:
    """A batch as the rows were added, shared ids left alone (the builder would separate them)."""
    builder = SpanBatchBuilder(Problems())
    for span in spans:
        builder.add(**span)
    batch = builder.build()
    ids = [int(span["span_id"], 16) for span in spans]
    parents = [int(span["parent_id"] or "0", 16) for span in spans]
    return dataclasses.replace(
        batch,
        span_id=np.array(ids, np.uint64),
        parent_id=np.array(parents, np.uint64),
        flags=np.zeros(len(spans), np.uint8),
    )


def _row(batch: SpanBatch, service: str, kind: SpanKind, start: int | None = None) -> int:
    services = batch.string_column("service")
    rows = [
        r
        for r in range(len(batch))
        if services[r] == service and batch.kind[r] == kind and (start is None or batch.start_ns[r] == T0 + start)
    ]
    assert len(rows) == 1
    return rows[0]


def test_a_batch_without_shared_ids_is_returned_as_it_is() -> None:
    builder = SpanBatchBuilder(Problems())
    builder.add(**_span(0xA, "front", SpanKind.CLIENT))
    builder.add(**_span(0xB, "back", SpanKind.SERVER, parent=0xA))
    batch = builder.build()
    assert separate_shared_spans(batch) is batch
    assert batch.span_id.tolist() == [0xA, 0xB]


def test_the_builder_separates_a_shared_server_half_and_its_children_follow_it() -> None:
    builder = SpanBatchBuilder(Problems())
    for span in (
        _span(0xA, "front", SpanKind.CLIENT, parent=0x1, end=300),
        _span(0xA, "back", SpanKind.SERVER, parent=0x1, start=10, end=200),
        _span(0xB, "back", SpanKind.UNSPECIFIED, parent=0xA, start=20, end=30),  # the server's own work
        _span(0xC, "front", SpanKind.UNSPECIFIED, parent=0xA, start=250, end=260),  # the client's
    ):
        builder.add(**span)
    batch = builder.build()
    client, server = _row(batch, "front", SpanKind.CLIENT), _row(batch, "back", SpanKind.SERVER)
    new_id = rekeyed_span_id(0xA, "back", T0 + 10)
    assert (batch.span_id[client], batch.flags[client]) == (0xA, 0)
    assert (batch.span_id[server], batch.parent_id[server]) == (new_id, 0xA)
    assert batch.flags[server] == SPAN_FLAG_SHARED
    assert batch.parent_id[_row(batch, "back", SpanKind.UNSPECIFIED)] == new_id
    assert batch.parent_id[_row(batch, "front", SpanKind.UNSPECIFIED)] == 0xA


def test_a_repeated_server_half_gets_the_same_id_and_another_server_a_different_one() -> None:
    batch = separate_shared_spans(
        _raw(
            _span(0xA, "front", SpanKind.PRODUCER, end=900),
            _span(0xA, "back", SpanKind.CONSUMER, start=10, end=100),
            _span(0xA, "back", SpanKind.CONSUMER, start=10, end=100),  # the same span, reported twice
            _span(0xA, "back", SpanKind.CONSUMER, start=500, end=600),  # a second delivery of the message
            _span(0xB, "back", SpanKind.CLIENT, parent=0xA, start=520, end=530),
        )
    )
    consumers = np.flatnonzero(batch.kind == SpanKind.CONSUMER)
    ids = batch.span_id[consumers].tolist()
    assert ids[0] == ids[1] != ids[2]
    assert 0xA not in ids
    # the child started inside the second delivery's time: it belongs to that one
    assert batch.parent_id[_row(batch, "back", SpanKind.CLIENT)] == ids[2]


def test_halves_of_one_trace_match_by_the_low_64_bits_of_its_id() -> None:
    batch = separate_shared_spans(
        _raw(
            _span(0xA, "front", SpanKind.CLIENT, trace=TRACE[16:]),  # a 64-bit trace id
            _span(0xA, "back", SpanKind.SERVER, trace=TRACE),
            _span(0xA, "other", SpanKind.SERVER, trace="1" * 16 + TRACE[:16]),  # another trace
        )
    )
    assert batch.flags.tolist() == [0, SPAN_FLAG_SHARED, 0]
    assert batch.span_id[2] == 0xA


def test_a_server_half_whose_client_is_elsewhere_is_separated_when_told() -> None:
    raw = _raw(_span(0xA, "back", SpanKind.SERVER, start=10), _span(0xB, "back", SpanKind.CLIENT, parent=0xA))
    assert separate_shared_spans(raw) is raw  # nothing in the batch says it is shared
    batch = separate_shared_spans(raw, shared_elsewhere=np.array([True, False]))
    assert batch.span_id[0] == rekeyed_span_id(0xA, "back", T0 + 10)
    assert batch.parent_id.tolist() == [0xA, batch.span_id[0]]


def test_rekeyed_ids_are_deterministic_and_never_zero() -> None:
    assert rekeyed_span_id(0xA, "back", 5) == rekeyed_span_id(0xA, "back", 5)
    ids = {rekeyed_span_id(span_id, service, start) for span_id in (1, 2) for service in "ab" for start in (0, 1)}
    assert len(ids) == 8
    assert 0 not in ids
