"""Kafka recordings: lossless round trip, cut-off and damaged files, appending, and reading them as captures."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import orjson
import pytest

from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.problems import Problems
from flowviz.sim.simulator import DEFAULT_START_NS, Simulator
from flowviz.sources.capture_file import CaptureReader
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.sources.recording import (
    RECORDING_MAGIC,
    RecordedMessage,
    RecordingError,
    RecordingWriter,
    is_recording,
    read_recording,
)
from flowviz.store.rolling_store import RollingStore

CUT_OFF = "recording: last record is cut off (ignored)"
DAMAGED = "recording: damaged record, the rest of the file is not read"
EVERYTHING = (-(2**62), 2**62)


class FakeKafkaMessage:
    """What confluent_kafka's Message offers to the writer."""

    def __init__(self, record: RecordedMessage) -> None:
        self._record = record

    def topic(self) -> str:
        return self._record.topic

    def partition(self) -> int:
        return self._record.partition

    def offset(self) -> int:
        return self._record.offset

    def timestamp(self) -> tuple[int, int]:
        return self._record.timestamp_type, self._record.timestamp_ms

    def key(self) -> bytes | None:
        return self._record.key

    def value(self) -> bytes | None:
        return self._record.value

    def headers(self) -> list | None:
        return self._record.headers


def _messages(count: int = 30, *, topic: str = "otlp_spans") -> list[RecordedMessage]:
    return [
        RecordedMessage(
            topic,
            index % 3,
            index // 3,
            index % 3,  # none, create time, log-append time
            1_700_000_000_000 + index,
            None if index % 4 == 0 else f"k{index}".encode(),
            None if index == 5 else bytes([index % 256]) * index + b"\x00\xff",
            None if index % 2 else [("ce_type", b"OrderPlaced"), ("null", None), ("utf8-\u00e9", b"\xc3\xa9")],
        )
        for index in range(count)
    ]


def _write(path: Path, batches: list[list[RecordedMessage]], **header) -> RecordingWriter:
    with RecordingWriter(path, header=header) as writer:
        for batch in batches:
            writer.append(batch)
    return writer


def test_round_trip_keeps_every_field(tmp_path) -> None:
    messages = _messages()
    path = tmp_path / "r.fvrec"
    writer = _write(path, [messages[:10], [FakeKafkaMessage(m) for m in messages[10:]]], topics=["otlp_spans"])
    assert writer.messages == len(messages)
    problems = Problems()
    contents = read_recording(path, problems=problems)
    assert contents.messages == messages
    assert contents.headers[0]["topics"] == ["otlp_spans"]
    assert contents.headers[0]["version"] == 1
    assert not problems
    assert is_recording(path.read_bytes())


def test_every_cut_reads_the_whole_records_before_it(tmp_path) -> None:
    messages = _messages(8)
    path = tmp_path / "r.fvrec"
    _write(path, [[m] for m in messages])
    data = path.read_bytes()
    ends = _record_ends(data)
    for size in range(len(RECORDING_MAGIC), len(data) + 1):
        problems = Problems()
        contents = read_recording(data[:size], problems=problems)
        whole = sum(1 for end in ends if end <= size)
        assert len(contents.headers) + len(contents.messages) == whole
        assert contents.messages == messages[: max(0, whole - 1)]
        assert problems.count(CUT_OFF) == (0 if size in ends or size == len(RECORDING_MAGIC) else 1)


def _record_ends(data: bytes) -> list[int]:
    ends, position = [], len(RECORDING_MAGIC)
    while position < len(data):
        position += 8 + int.from_bytes(data[position : position + 4], "little")
        ends.append(position)
    return ends


def test_a_damaged_record_stops_the_reading_with_a_note(tmp_path) -> None:
    messages = _messages(6)
    path = tmp_path / "r.fvrec"
    _write(path, [[m] for m in messages])
    data = bytearray(path.read_bytes())
    ends = _record_ends(bytes(data))
    data[ends[3] + 12] ^= 0x40  # inside the body of the fifth record (the fourth message)
    problems = Problems()
    contents = read_recording(bytes(data), problems=problems)
    assert contents.messages == messages[:3]
    assert problems.count(DAMAGED) == 1


def test_appending_cuts_off_a_partial_record_first(tmp_path) -> None:
    messages = _messages(10)
    path = tmp_path / "r.fvrec"
    _write(path, [messages[:6]], session=1)
    with path.open("ab") as file:
        file.write(b"\x40\x00\x00\x00\x12")  # a kill in the middle of a write
    writer = _write(path, [messages[6:]], session=2)
    assert writer.cut_bytes == 5
    problems = Problems()
    contents = read_recording(path, problems=problems)
    assert [h["session"] for h in contents.headers] == [1, 2]
    assert contents.messages == messages
    assert not problems


def test_a_file_that_is_no_recording_is_not_touched(tmp_path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b'{"resourceSpans": []}\n')
    with pytest.raises(RecordingError, match="not a flowviz recording"):
        RecordingWriter(path)
    assert path.read_bytes() == b'{"resourceSpans": []}\n'
    with pytest.raises(RecordingError, match="not a flowviz recording"):
        read_recording(path)


# -- recordings are captures: `flowviz open` / `report` -------------------------------------------


def _edges(paths: list[Path], format_name: str = "auto") -> tuple[dict, object, Problems]:
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures(paths, IngestPipeline(store, problems=problems), format_name=format_name)
    frame = store.query(*EVERYTHING)
    names = frame.node_names
    edges = {
        (names[frame.edge_source[e]], names[frame.edge_target[e]]): (
            int(frame.edge_requests[e]),
            int(frame.edge_errors[e]),
            ConnectionType(int(frame.edge_connection_type[e])),
            round(float(frame.edge_p50_ms[e]), 6),
        )
        for e in np.flatnonzero(frame.edge_requests > 0).tolist()
    }
    return edges, totals, problems


def _as_records(values: list[bytes], topic: str = "otlp_spans") -> list[RecordedMessage]:
    return [
        RecordedMessage(topic, 0, offset, 1, 1_700_000_000_000, None, value, None)
        for offset, value in enumerate(values)
    ]


def test_a_recording_reads_as_the_capture_of_its_messages(tmp_path) -> None:
    simulator = Simulator(seed=9, rate_per_s=2_000, spans_per_message=100)
    values = simulator.generate(DEFAULT_START_NS + 15 * 1_000_000_000)
    frames = tmp_path / "spans.pb"
    frames.write_bytes(b"".join(len(v).to_bytes(4, "big") + v for v in values))
    recording = tmp_path / "spans.fvrec"
    _write(recording, [_as_records(values[:40]), _as_records(values[40:])], topics=["otlp_spans"])
    expected, expected_totals, _ = _edges([frames])
    edges, totals, problems = _edges([recording])
    assert edges == expected
    assert totals.spans == expected_totals.spans == simulator.spans_emitted
    assert totals.formats == {str(recording): "kafka_recording"}
    assert not problems
    zipped = tmp_path / "spans.fvrec.gz"
    zipped.write_bytes(gzip.compress(recording.read_bytes()))
    assert _edges([zipped])[0] == expected
    with recording.open("ab") as file:
        file.write(b"\x07\x00")
    edges, _, problems = _edges([recording])
    assert edges == expected
    assert problems.count(CUT_OFF) == 1


def test_messages_of_mixed_formats_are_each_detected(tmp_path) -> None:
    simulator = Simulator(seed=2, rate_per_s=1_000, spans_per_message=100)
    proto = simulator.generate(DEFAULT_START_NS + 5 * 1_000_000_000)
    json = Simulator(seed=2, rate_per_s=1_000, spans_per_message=100).generate_json(
        DEFAULT_START_NS + 5 * 1_000_000_000
    )
    recording = tmp_path / "mixed.fvrec"
    _write(recording, [_as_records([p for pair in zip(proto, json, strict=True) for p in pair])])
    problems = Problems()
    reader = CaptureReader(recording, problems=problems)
    spans = sum(len(batch) for batch in reader)
    assert spans == 2 * simulator.spans_emitted
    assert reader.format_name == "kafka_recording"
    assert not problems
    # a forced format applies to every message: the JSON ones then fail as protobuf, counted
    problems = Problems()
    spans = sum(len(batch) for batch in CaptureReader(recording, problems=problems, format_name="otlp_proto"))
    assert spans == simulator.spans_emitted
    assert problems.count("otlp-proto: message does not parse (DecodeError)") == len(json)


def test_the_recorded_format_is_used_unless_one_is_forced(tmp_path) -> None:
    value = orjson.dumps({"traceId": "ab", "spans": [{"service": "a", "durationMs": 3}]})
    recording = tmp_path / "forced.fvrec"
    _write(recording, [_as_records([value])], format_name="otlp_json")
    problems = Problems()
    assert sum(len(b) for b in CaptureReader(recording, problems=problems)) == 0
    assert problems  # read as OTLP JSON, as it was watched: not a request
    assert sum(len(b) for b in CaptureReader(recording, problems=Problems(), format_name="simple_json")) == 1


def test_a_schema_change_in_a_recording_is_a_mark_in_replay(tmp_path) -> None:
    """As live: the topic's records come with a new schema id → a mark at the first such record's time,
    through the in-process pipeline and through the worker that loads captures for a window."""
    from datetime import UTC, datetime

    from flowviz.sources.pipeline import IngestPipeline, load_captures
    from flowviz.sources.process_feed import CaptureSpec, ProcessFeed
    from flowviz.store.rolling_store import RollingStore
    from tests.decoders.test_wire_format import SCHEMAS, avro_value

    base_ms = 1_700_000_000_000
    stamp = datetime.fromtimestamp(base_ms / 1000, UTC)
    messages = [
        RecordedMessage(
            "orders", 0, offset, 1, base_ms + 1000 * offset, None,
            avro_value(17 if offset < 3 else 18, {"id": f"o-{offset}", "source": "checkout", "time": stamp,
                                                 "total_cents": 1, **({"currency": "EUR"} if offset >= 3 else {})}),
        )
        for offset in range(5)
    ]  # fmt: skip
    path = tmp_path / "orders.fvrec"
    _write(path, [messages], topics=["orders"], format_name="auto", schemas=str(SCHEMAS))
    problems = Problems()
    store = RollingStore(problems=problems)
    load_captures([path], IngestPipeline(store, problems=problems))
    marks = store.consumer_lag.marks(0, 2**62)
    assert [(mark.time_ns, mark.group, mark.text) for mark in marks] == [
        ((base_ms + 3000) * 1_000_000, "orders", "schema 17 → 18 (orders-value)")
    ]
    window_store = RollingStore()
    feed = ProcessFeed(window_store, CaptureSpec((str(path),)))
    feed.start()
    try:
        assert feed.wait(60)  # the marks come before the worker says it is done
        assert [m.text for m in window_store.consumer_lag.marks(0, 2**62)] == ["schema 17 → 18 (orders-value)"]
    finally:
        feed.stop()
