"""The span batch builder: rows sealed into column blocks as they come give the batch one block would give."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import flowviz.decoders.builder as builder_module
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch, SpanKind, StatusCode


def _add_spans(builder: SpanBatchBuilder, count: int, first: int = 0) -> None:
    """Spans of every kind of content: attributes naming peers, databases and statuses, links, bad ids and times."""
    for index in range(first, first + count):
        builder.checkpoint()  # as the guard does before each input
        attributes: dict[str, object] = {}
        if index % 3 == 0:
            attributes["peer.service"] = f"peer-{index % 7}"
        if index % 5 == 0:
            attributes["db.system"] = "postgresql"
        if index % 11 == 0:
            attributes["http.status_code"] = 503
        builder.add(
            trace_id=f"{index // 4 + 1:032x}",
            span_id=f"{index + 1:016x}" if index % 97 else "zz",  # an invalid id now and then
            parent_id=f"{index:016x}" if index % 4 else None,
            service=f"svc-{index % 13}",
            name=f"op-{index % 17}",
            kind=SpanKind.CLIENT if index % 2 else SpanKind.SERVER,
            status=StatusCode.ERROR if index % 19 == 0 else StatusCode.UNSET,
            start_ns=1_000 * index,
            end_ns=1_000 * index + 500 if index % 89 else -1,  # an invalid time now and then
            links=[(f"{index:032x}", f"{index + 7:016x}")] if index % 23 == 0 and index else (),
            attributes=attributes,
            location=f"spans.jsonl:{index + 1}",
        )


def _built(monkeypatch: pytest.MonkeyPatch, seal_rows: int, count: int) -> tuple[SpanBatch, dict]:
    monkeypatch.setattr(builder_module, "SEAL_ROWS", seal_rows)
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    _add_spans(builder, count)
    return builder.build(), problems.as_dict()


def test_rows_sealed_in_blocks_give_the_batch_of_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    sealed, sealed_problems = _built(monkeypatch, 1000, 10_000)
    whole, whole_problems = _built(monkeypatch, 10**9, 10_000)
    assert len(whole) > 9_000
    assert sealed.strings == whole.strings
    for column in dataclasses.fields(SpanBatch):
        value = getattr(whole, column.name)
        if isinstance(value, np.ndarray):
            assert np.array_equal(getattr(sealed, column.name), value), column.name
    assert sealed.service_namespaces == whole.service_namespaces
    assert sealed_problems == whole_problems
    assert "span with an invalid trace or span id" in str(whole_problems)


def test_rows_are_sealed_at_a_checkpoint_and_a_rollback_keeps_what_came_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(builder_module, "SEAL_ROWS", 10**9)
    builder = SpanBatchBuilder(Problems())
    _add_spans(builder, 150)
    monkeypatch.setattr(builder_module, "SEAL_ROWS", 100)
    mark = builder.checkpoint()  # 150 rows: sealed into a block here
    assert builder.rows == []
    _add_spans(builder, 120, first=150)  # sealed once more on the way, at its 100th
    builder.rollback(mark)
    assert len(builder) == 150
    kept = builder.build()
    monkeypatch.setattr(builder_module, "SEAL_ROWS", 10**9)
    reference = SpanBatchBuilder(Problems())
    _add_spans(reference, 150)
    expected = reference.build()
    assert np.array_equal(kept.span_id, expected.span_id)
    assert [kept.strings[i] for i in kept.peer] == [expected.strings[i] for i in expected.peer]
