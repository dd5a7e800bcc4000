"""Kafka recordings: messages kept losslessly in an append-only file that a kill cannot damage, read back as spans.

Layout: `RECORDING_MAGIC`, then records, each `<u32 body length><u32 CRC-32 of body>` and a body.
A body's first byte is its kind: `H` a header (JSON: when, broker, topics, format; never secrets),
`M` a message (msgpack: topic, partition, offset, timestamp type, timestamp ms, key, value, headers),
`G` a look at the consumer groups (JSON: committed offsets, partition ends, membership; what the
live window polled, so that a recording of events shows the groups and their lag too).
Every batch is appended with one write, so a killed writer leaves at most one partial record at the
end; a reader ignores it with a note, and a writer appending later cuts it off first.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import orjson

from flowviz.decoders.formats import KAFKA_FORMATS
from flowviz.derive.consumption import GroupOffsets
from flowviz.model.event_batch import EventBatch
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.model.timeline_marks import TimelineMarks

RECORDING_MAGIC = b"\x89flowviz-kafka\r\n\x1a\n"  # binary (not JSON, not protobuf), damaged by text-mode copies
RECORDING_VERSION = 1
_FRAME = struct.Struct("<II")
_HEADER, _MESSAGE, _GROUPS = b"H", b"M", b"G"
_MAX_RECORD_BYTES = 1 << 31
DEFAULT_BATCH_SPANS = 50_000


class RecordingError(Exception):
    """A file that is not a recording, or cannot be written."""


class RecordedMessage(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One Kafka message as it was consumed: everything needed to replay it exactly."""

    topic: str
    partition: int
    offset: int
    timestamp_type: int  # 0 none, 1 create time, 2 log-append time (librdkafka's numbering)
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] | None = None

    @classmethod
    def from_kafka(cls, message) -> RecordedMessage:
        """From a confluent_kafka Message."""
        kind, stamp = message.timestamp()
        return cls(
            message.topic(),
            message.partition(),
            message.offset(),
            kind,
            stamp,
            message.key(),
            message.value(),
            message.headers(),
        )

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(RecordedMessage)


def is_recording(data: bytes | memoryview) -> bool:
    """True when `data` (a file's first bytes or all of it) starts like a recording."""
    return bytes(data[: len(RECORDING_MAGIC)]) == RECORDING_MAGIC


# -- writing --------------------------------------------------------------------------------


class RecordingWriter:
    """Appends batches of messages to a recording (creating it with a header); one write per batch."""

    def __init__(self, path: str | Path, *, header: dict | None = None) -> None:
        self.path = Path(path)
        self.messages = 0
        self.bytes_written = 0
        self.cut_bytes = 0  # a partial record left by a killed writer, cut off before appending
        self._fd = self._open()
        record_header = {"version": RECORDING_VERSION, "created_ns": time.time_ns(), **(header or {})}
        self._write(_frame(_HEADER + orjson.dumps(record_header)))

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as error:
            raise RecordingError(f"{self.path}: {error.strerror or error}") from error
        size = os.fstat(fd).st_size
        if size == 0:
            os.write(fd, RECORDING_MAGIC)
            return fd
        with open(self.path, "rb") as existing, mmap.mmap(existing.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if not is_recording(data):
                os.close(fd)
                raise RecordingError(f"{self.path}: exists and is not a flowviz recording (not overwritten)")
            end = _end_of_whole_records(data)
        if end < size:
            os.ftruncate(fd, end)
            self.cut_bytes = size - end
        return fd

    def append(self, messages: Iterable) -> int:
        """Append confluent_kafka Messages or RecordedMessages; returns how many."""
        frames = []
        for message in messages:
            record = message if isinstance(message, RecordedMessage) else RecordedMessage.from_kafka(message)
            frames.append(_frame(_MESSAGE + _ENCODER.encode(record)))
        if frames:
            self._write(b"".join(frames))
            self.messages += len(frames)
        return len(frames)

    def append_looks(self, looks: Iterable[GroupOffsets]) -> int:
        """Append looks at the consumer groups (one write); returns how many."""
        frames = [_frame(_GROUPS + orjson.dumps(look.to_record())) for look in looks]
        if frames:
            self._write(b"".join(frames))
        return len(frames)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.bytes_written += len(data)

    def close(self, *, sync: bool = True) -> None:
        if self._fd >= 0:
            if sync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _frame(body: bytes) -> bytes:
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def _end_of_whole_records(data) -> int:
    end = len(RECORDING_MAGIC)
    for _, body, stop in _records(data, Problems(), ""):
        body.release()
        end = stop
    return end


# -- reading --------------------------------------------------------------------------------


def _records(data, problems: Problems, label: str) -> Iterator[tuple[bytes, memoryview, int]]:
    """(kind, body, end offset) of every whole record; a cut-off or damaged record ends the reading, noted."""
    view = memoryview(data)
    position, size = len(RECORDING_MAGIC), len(view)
    while position < size:
        if position + _FRAME.size > size:
            problems.add("recording: last record is cut off (ignored)", f"{label}@{position}")
            return
        length, checksum = _FRAME.unpack_from(view, position)
        start, stop = position + _FRAME.size, position + _FRAME.size + length
        if stop > size:
            problems.add("recording: last record is cut off (ignored)", f"{label}@{position}")
            return
        body = view[start:stop]
        if length == 0 or zlib.crc32(body) != checksum:
            problems.add("recording: damaged record, the rest of the file is not read", f"{label}@{position}")
            return
        yield bytes(body[:1]), body[1:], stop
        position = stop


@dataclass(slots=True)
class RecordingContents:
    """The headers of a recording (one per writing session) and its messages."""

    headers: list[dict]
    messages: list[RecordedMessage]
    looks: list[GroupOffsets] = field(default_factory=list)


def read_recording(path_or_data: str | Path | bytes, *, problems: Problems | None = None) -> RecordingContents:
    """Every header and message of a recording (for tools and tests; `recording_batches` streams spans)."""
    problems = problems if problems is not None else Problems()
    data = Path(path_or_data).read_bytes() if isinstance(path_or_data, str | Path) else path_or_data
    label = str(path_or_data) if isinstance(path_or_data, str | Path) else "recording"
    if not is_recording(data):
        raise RecordingError(f"{label}: not a flowviz recording")
    headers, messages, looks = [], [], []
    for kind, body, _ in _records(data, problems, label):
        if kind == _MESSAGE:
            messages.append(_DECODER.decode(body))
        elif kind == _HEADER:
            headers.append(orjson.loads(body))
        elif kind == _GROUPS:
            looks.append(GroupOffsets.from_record(orjson.loads(body)))
    return RecordingContents(headers, messages, looks)


def iter_messages(data, problems: Problems, label: str) -> Iterator[RecordedMessage | dict | GroupOffsets]:
    """Messages and looks at the consumer groups in file order, each header (a dict) before the messages of
    its session."""
    for kind, body, _ in _records(data, problems, label):
        if kind == _GROUPS:
            try:
                yield GroupOffsets.from_record(orjson.loads(body))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                problems.add("recording: consumer group record does not decode (skipped)", label)
            continue
        if kind == _MESSAGE:
            try:
                yield _DECODER.decode(body)
            except (msgspec.DecodeError, msgspec.ValidationError):
                problems.add("recording: message record does not decode", label)
        elif kind == _HEADER:
            try:
                header = orjson.loads(body)
            except orjson.JSONDecodeError:
                problems.add("recording: header record does not decode", label)
                continue
            if isinstance(header, dict):
                yield header
            else:
                problems.add("recording: header record is not a JSON object (ignored)", label)
        else:
            problems.add("recording: record of an unknown kind (skipped)", label)


def recording_batches(
    data,
    label: str,
    problems: Problems,
    *,
    format_name: str = "auto",
    batch_spans: int = DEFAULT_BATCH_SPANS,
) -> Iterator[SpanBatch | EventBatch | GroupOffsets | EdgeObservations | TimelineMarks]:
    """The spans (and business events, looks at the consumer groups, schema-change marks) of a recording's
    messages, decoded as live: the same decoder, format and event producer rule from the header unless
    `format_name` forces a format (a capture
    format name other than Kafka's means auto)."""
    from flowviz.decoders.builder import SpanBatchBuilder
    from flowviz.decoders.events import MessageMeta
    from flowviz.decoders.messages import DecoderSettingsError, MessageDecoder
    from flowviz.derive.dead_letters import DeadLetterDeriver

    forced = format_name if format_name in KAFKA_FORMATS and format_name != "auto" else None
    decoder: MessageDecoder | None = None
    builder = SpanBatchBuilder(problems)
    values: list[bytes | None] = []
    wheres: list[str] = []
    metas: list[MessageMeta] = []
    pending_bytes = 0
    dead_letters: list[EdgeObservations] = []  # failed calls of dead-letter/retry messages, handed out as they come
    dead_letter_calls = DeadLetterDeriver()  # of the decoder's dead-letter messages, by its rules

    def decode_pending() -> EventBatch | None:
        nonlocal values, wheres, metas, pending_bytes
        assert decoder is not None
        decoder.add(values, wheres, builder, metas=metas)
        values, wheres, metas, pending_bytes = [], [], [], 0
        dead_letters.append(dead_letter_calls.derive(decoder.take_dead_letters()))
        events = decoder.take_events()
        return events if len(events) else None

    for item in iter_messages(data, problems, label):
        if isinstance(item, GroupOffsets):  # the events read before the look are known to it
            if values and decoder is not None and (events := decode_pending()) is not None:
                yield events
            yield from _drain(dead_letters)
            yield from _schema_marks(decoder)
            yield item
            continue
        if isinstance(item, dict):
            if values and decoder is not None and (events := decode_pending()) is not None:
                yield events
            yield from _drain(dead_letters)
            yield from _schema_marks(decoder)
            recorded_format = item.get("format_name", "auto")
            recorded = recorded_format if recorded_format in KAFKA_FORMATS else "auto"
            producer = item.get("event_producer") if isinstance(item.get("event_producer"), str) else None
            patterns = item.get("dead_letters")
            patterns = tuple(p for p in patterns if isinstance(p, str)) if isinstance(patterns, list) else ()
            schemas = _recorded_schemas(item, problems, label)
            fields = item.get("event_fields")
            fields = tuple(f for f in fields if isinstance(f, str)) if isinstance(fields, list) else ()
            try:
                decoder = MessageDecoder(
                    forced or recorded,
                    problems=problems,
                    event_producer=producer,
                    label=label,
                    dead_letters=patterns,
                    schemas=schemas,
                    event_fields=fields,
                )
            except DecoderSettingsError:
                problems.add("recording: header's event producer rule or event fields not understood (ignored)", label)
                decoder = MessageDecoder(forced or recorded, problems=problems, label=label)
            dead_letter_calls = DeadLetterDeriver(decoder.dead_letter_rules)
            continue
        if decoder is None:
            decoder = MessageDecoder(forced or "auto", problems=problems, label=label)
        values.append(item.value)
        wheres.append(f"{label}:{item.where}")
        metas.append(
            MessageMeta(
                item.topic,
                item.partition,
                item.offset,
                item.timestamp_type,
                item.timestamp_ms,
                item.headers,
                len(item.value or b""),
            )
        )
        pending_bytes += len(item.value or b"")
        if pending_bytes >= 4 << 20:
            if (events := decode_pending()) is not None:
                yield events
            yield from _drain(dead_letters)
            yield from _schema_marks(decoder)
            if len(builder) >= batch_spans:
                yield builder.build()
    if values and decoder is not None and (events := decode_pending()) is not None:
        yield events
    yield from _drain(dead_letters)
    yield from _schema_marks(decoder)
    if len(builder):
        yield builder.build()


def _recorded_schemas(header: dict, problems: Problems, label: str):
    """The schema folder/registry the recording was made with, when it can still be had (else counted)."""
    from flowviz.decoders.wire_format import SchemaError, schema_source

    registry, folder = header.get("schema_registry"), header.get("schemas")
    registry = registry if isinstance(registry, str) else None
    folder = folder if isinstance(folder, str) else None
    try:
        return schema_source(registry=registry, folder=folder)
    except SchemaError as error:
        problems.add("recording: the schemas it was recorded with cannot be had", f"{label} ({error})")
        return None


def _schema_marks(decoder) -> Iterator[TimelineMarks]:
    """A topic's records that came with a new schema id: marks on the timeline, in replay as live."""
    changes = decoder.take_schema_changes() if decoder is not None else []
    if changes:
        yield TimelineMarks(tuple(changes))


def _drain(parts: list[EdgeObservations]) -> Iterator[EdgeObservations]:
    calls = EdgeObservations.concat(parts)
    parts.clear()
    if len(calls):
        yield calls
