"""SpanBatchBuilder (bad ids and times dropped and counted where they came from) and SpanBatch take/concat."""

from __future__ import annotations

import numpy as np

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.model.problems import Problems
from flowviz.model.span_batch import PeerKind, SpanBatch, SpanKind, StatusCode

T1 = "5b8efff798038103d269b633813fc60c"
T2 = "00000000000000000000000000000abc"
BAD_ID = "span with an invalid trace or span id"
BAD_TIME = "span with an invalid start or end time"


def _add(builder: SpanBatchBuilder, span_id: str, **extra: object) -> None:
    fields: dict[str, object] = {
        "trace_id": T1,
        "span_id": span_id,
        "parent_id": None,
        "service": "svc",
        "name": f"op-{span_id}",
        "start_ns": 1_000,
        "end_ns": 2_000,
    }
    fields.update(extra)
    builder.add(**fields)  # type: ignore[arg-type]


def test_build_converts_every_column() -> None:
    builder = SpanBatchBuilder(Problems())
    _add(
        builder,
        "eee19b7ec3c1b174",
        parent_id="EEE19B7EC3C1B173",
        service="frontend",
        name="GET /",
        kind=SpanKind.CLIENT,
        status=StatusCode.ERROR,
        start_ns="1544712660000000000",
        end_ns=1544712660500000000,
        attributes={"db.system": "postgres", "messaging.destination.name": "orders", "http.status_code": "503"},
        flags=1,
    )
    batch = builder.build()
    assert len(batch) == 1
    assert len(builder) == 0  # build starts afresh
    assert batch.trace_hi.tolist() == [0x5B8EFFF798038103]
    assert batch.trace_lo.tolist() == [0xD269B633813FC60C]
    assert batch.span_id.tolist() == [0xEEE19B7EC3C1B174]
    assert batch.parent_id.tolist() == [0xEEE19B7EC3C1B173]
    assert batch.string_column("service") == ["frontend"]
    assert batch.string_column("name") == ["GET /"]
    assert batch.string_column("peer") == ["postgres"]
    assert batch.string_column("destination") == ["orders"]
    assert batch.kind.tolist() == [SpanKind.CLIENT]
    assert batch.status.tolist() == [StatusCode.ERROR]
    assert batch.peer_kind.tolist() == [PeerKind.DATABASE]
    assert batch.http_status.tolist() == [503]
    assert batch.flags.tolist() == [1]
    assert batch.start_ns.tolist() == [1544712660000000000]
    assert batch.duration_ns.tolist() == [500_000_000]
    assert batch.strings[0] == ""


def test_bad_ids_and_times_are_dropped_and_counted_with_their_locations() -> None:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    _add(builder, "0000000000000001", location="f.json:1")
    _add(builder, "zz", location="f.json:2")  # not hex
    _add(builder, "", location="f.json:3")  # no span id
    _add(builder, "0000000000000004", trace_id="0", location="f.json:4")  # trace id 0
    _add(builder, "0000000000000005", parent_id="nothex", location="f.json:5")
    _add(builder, "0000000000000006", start_ns="soon", location="f.json:6")
    _add(builder, "0000000000000007", end_ns=None, location="f.json:7")
    _add(builder, "0000000000000008", start_ns="12.5", location="f.json:8")
    _add(builder, "0000000000000009", location="f.json:9")
    _add(builder, "zz", start_ns="bad", location="f.json:10")  # bad id and time: counted once, as an id
    batch = builder.build()
    assert batch.span_id.tolist() == [1, 9]
    assert batch.string_column("name") == ["op-0000000000000001", "op-0000000000000009"]
    assert problems.as_dict() == {
        BAD_ID: {"count": 5, "first": ["f.json:2", "f.json:3", "f.json:4", "f.json:5", "f.json:10"]},
        BAD_TIME: {"count": 3, "first": ["f.json:6", "f.json:7", "f.json:8"]},
    }


def test_locations_from_decoder_marks() -> None:
    """Decoders mark "rows from here are `text span k`": a dropped row names its own span index."""
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    builder.marks.append((0, "t.jsonl:3 resourceSpans[1]", 0))
    for index in range(4):
        _add(builder, "zz" if index == 2 else f"{index + 1:016x}")
    builder.marks.append((4, "t.jsonl:4 resourceSpans[0]", 5))  # a later scope starting at its span 5
    _add(builder, "0000000000000010")
    _add(builder, "0000000000000011", start_ns="x")
    assert builder.location_of(2) == "t.jsonl:3 resourceSpans[1] span 2"
    batch = builder.build()
    assert len(batch) == 4
    assert problems.as_dict() == {
        BAD_ID: {"count": 1, "first": ["t.jsonl:3 resourceSpans[1] span 2"]},
        BAD_TIME: {"count": 1, "first": ["t.jsonl:4 resourceSpans[0] span 6"]},
    }


def test_attributes_name_the_peer_and_mark_errors() -> None:
    builder = SpanBatchBuilder(Problems())
    _add(builder, "0000000000000001", kind=SpanKind.CLIENT, attributes={"db.system": "redis", "unrelated": "x"})
    _add(
        builder, "0000000000000002", kind=SpanKind.CLIENT, attributes={"peer.service": "billing", "server.address": "x"}
    )
    _add(builder, "0000000000000003", attributes={"error": "", "span.kind": "server"})  # Zipkin-style tags
    _add(builder, "0000000000000004", kind=SpanKind.CLIENT, remote_service="kafka")
    batch = builder.build()
    assert batch.string_column("peer") == ["redis", "billing", "", "kafka"]
    assert batch.peer_kind.tolist() == [PeerKind.DATABASE, PeerKind.SERVICE, PeerKind.NONE, PeerKind.SERVICE]
    assert batch.status.tolist() == [StatusCode.UNSET, StatusCode.UNSET, StatusCode.ERROR, StatusCode.UNSET]
    assert batch.kind.tolist()[2] == SpanKind.SERVER  # a kind tag fills an unspecified kind


def test_links_are_converted_and_bad_links_dropped() -> None:
    builder = SpanBatchBuilder(Problems())
    _add(builder, "0000000000000001")
    _add(builder, "0000000000000002", links=[(T2, "00000000000000aa"), ("nothex", "00000000000000bb"), (T2, "")])
    _add(builder, "0000000000000003", links=[(T1, "00000000000000cc")])
    batch = builder.build()
    assert batch.link_row.tolist() == [1, 2]
    assert batch.link_trace_lo.tolist() == [0xABC, 0xD269B633813FC60C]
    assert batch.link_trace_hi.tolist() == [0, 0x5B8EFFF798038103]
    assert batch.link_span_id.tolist() == [0xAA, 0xCC]


def _three_with_links() -> SpanBatch:
    builder = SpanBatchBuilder(Problems())
    _add(builder, "0000000000000001", service="a")
    _add(builder, "0000000000000002", service="b", links=[(T2, "00000000000000aa")])
    _add(builder, "0000000000000003", service="c", links=[(T2, "00000000000000bb"), (T2, "00000000000000cc")])
    return builder.build()


def test_take_keeps_links_of_the_kept_rows_renumbered() -> None:
    batch = _three_with_links()
    taken = batch.take(np.array([False, False, True]))
    assert taken.span_id.tolist() == [3]
    assert taken.string_column("service") == ["c"]
    assert taken.link_row.tolist() == [0, 0]
    assert taken.link_span_id.tolist() == [0xBB, 0xCC]
    reordered = batch.take(np.array([2, 1]))
    assert reordered.string_column("service") == ["c", "b"]
    assert sorted(zip(reordered.link_row.tolist(), reordered.link_span_id.tolist(), strict=True)) == [
        (0, 0xBB),
        (0, 0xCC),
        (1, 0xAA),
    ]
    assert len(batch.take(np.zeros(3, bool))) == 0


def test_concat_merges_strings_and_offsets_links() -> None:
    first = _three_with_links()
    builder = SpanBatchBuilder(Problems())
    _add(builder, "0000000000000004", service="c", name="other", links=[(T1, "00000000000000dd")])
    _add(builder, "0000000000000005", service="z")
    second = builder.build()
    merged = SpanBatch.concat([first, SpanBatch.empty(), second])
    assert len(merged) == 5
    assert merged.span_id.tolist() == [1, 2, 3, 4, 5]
    assert merged.string_column("service") == ["a", "b", "c", "c", "z"]
    assert merged.string_column("name")[3] == "other"
    assert len(set(merged.strings)) == len(merged.strings)  # one table, no duplicates
    assert merged.link_row.tolist() == [1, 2, 2, 3]
    assert merged.link_span_id.tolist() == [0xAA, 0xBB, 0xCC, 0xDD]
    assert merged.link_trace_hi.tolist()[3] == 0x5B8EFFF798038103


def test_concat_of_nothing_is_empty() -> None:
    empty = SpanBatch.concat([])
    assert len(empty) == 0
    assert empty.strings == ("",)
    assert len(SpanBatch.concat([SpanBatch.empty(), SpanBatch.empty()])) == 0


def test_an_empty_builder_builds_an_empty_batch() -> None:
    batch = SpanBatchBuilder(Problems()).build()
    assert len(batch) == 0
    assert batch.link_row.shape == (0,)


def test_nested_list_times_are_invalid_times() -> None:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    _add(builder, "0000000000000001", start_ns=[5], end_ns=[10], location="f.json:1")
    batch = builder.build()
    assert batch.start_ns.shape == (0,)
    assert problems.count(BAD_TIME) == 1


def test_a_span_whose_parent_is_itself_is_counted_and_read_as_a_root() -> None:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    _add(builder, "00000000000000a1", parent_id="00000000000000a1", kind=SpanKind.SERVER, location="f.json:3")
    _add(builder, "00000000000000a2", parent_id="00000000000000a1", kind=SpanKind.CLIENT)
    batch = builder.build()
    assert batch.parent_id.tolist() == [0, 0xA1]
    assert problems.as_dict() == {
        "span whose parent id is its own id (read as a root)": {"count": 1, "first": ["f.json:3"]}
    }


def test_rollback_drops_what_was_added_after_the_checkpoint_even_across_a_sealed_block() -> None:
    builder = SpanBatchBuilder(Problems())
    _add(builder, "00000000000000b1", attributes={"peer.service": "kept"})
    mark = builder.checkpoint()
    _add(builder, "00000000000000b2", attributes={"peer.service": "dropped"})
    builder.rollback(mark)
    _add(builder, "00000000000000b3")
    mark = builder.checkpoint()
    _add(builder, "00000000000000b4", attributes={"peer.service": "dropped too"})
    builder._seal_rows()  # a vectorised decoder's add_columns seals the rows before its block
    builder.rollback(mark)
    batch = builder.build()
    assert batch.span_id.tolist() == [0xB1, 0xB3]
    assert batch.string_column("peer") == ["kept", ""]
