"""Kafka message values -> spans and business events: the format detected per message (or forced), protobuf values
decoded together, events in JSON, CloudEvents or the Confluent wire format, dead-letter messages set aside."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.dead_letter_topics import DeadLetterRules
from flowviz.decoders.events import (
    EventDecoder,
    EventFields,
    MessageMeta,
    ProducerRule,
    header_map,
    is_cloudevents_binary,
    is_cloudevents_structured_header,
    looks_like_event,
    message_meta,
)
from flowviz.decoders.formats import KAFKA_FORMATS, OTLP_PROTO, JsonFormat, detect_json_format, json_format
from flowviz.decoders.gc_pause import gc_paused
from flowviz.decoders.guard import guarded, guarded_group
from flowviz.decoders.jaeger_model_json import jaeger_model_trace
from flowviz.decoders.otlp_json_fast import try_add_otlp_json_bytes
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.decoders.wire_format import SchemaError, split_wire
from flowviz.model.event_batch import UNKNOWN_NS, EventBatch
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.model.timeline_marks import LagMark

UNKNOWN_SCHEMA = "events: schema id not known (Confluent wire format; the record is skipped)"
BAD_RECORD = "events: record does not decode with its schema (skipped)"


class DecoderSettingsError(ValueError):
    """Settings a message decoder cannot work with: an unknown format, event producer rule or event field."""


@dataclass(frozen=True, slots=True)
class DeadLetterMessage:
    """A message of a dead-letter/retry topic: a copy of one a consumer gave up on (its headers say why and where
    from); `flowviz.derive.dead_letters` makes it a failed call on the flow it left."""

    topic: str
    time_ns: int
    headers: Mapping[str, bytes]


def parse_event_fields(texts: tuple[str, ...]) -> EventFields | None:
    """`type=PATH`, `id=PATH`, `time=PATH` settings parsed (DecoderSettingsError when they cannot be)."""
    try:
        return EventFields.parse(texts)
    except ValueError as error:
        raise DecoderSettingsError(str(error)) from error


def parse_producer_rule(text: str | None) -> ProducerRule | None:
    """An `--event-producer` setting parsed (DecoderSettingsError when it cannot be)."""
    try:
        return ProducerRule.parse(text)
    except ValueError as error:
        raise DecoderSettingsError(str(error)) from error


_PROTOBUF = -1  # `_add_one`'s answer for a protobuf value: decoded with the others of the batch


class MessageDecoder:
    """Kafka message values -> span rows: the format is detected per message (or forced); protobuf
    values are decoded together in one vectorised call; JSON values by the capture decoders.

    The Collector's kafka exporter writes one `TracesData` per message (`otlp_proto`, no length
    prefix) or its JSON (`otlp_json`); `zipkin_json` is an array of v2 spans; `jaeger_json` is one
    span as protobuf-JSON (what the Collector and Jaeger's Kafka writer produce) or a Jaeger UI trace.
    """

    def __init__(
        self,
        format_name: str = "auto",
        *,
        problems: Problems,
        event_producer: str | None = None,
        label: str = "",
        dead_letters: tuple[str, ...] = (),
        schemas: Any = None,
        event_fields: tuple[str, ...] = (),
    ) -> None:
        if format_name not in KAFKA_FORMATS:
            raise DecoderSettingsError(f"unknown format {format_name!r} (one of {', '.join(KAFKA_FORMATS)})")
        self.format_name = format_name
        self.problems = problems
        self.formats: dict[str, int] = {}  # messages read per format
        self._otlp_json = json_format("otlp_json")
        self._last_json: JsonFormat | None = None  # the format of the last JSON message: tried first (fast OTLP path)
        # business events (`events`, or detected in auto mode): `take_events()` hands them out
        self.events = EventDecoder(
            problems=problems,
            producer_rule=parse_producer_rule(event_producer),
            label=label,
            fields=parse_event_fields(event_fields),
        )
        # messages of dead-letter/retry topics (named by `dead_letters`, else the usual names): set aside, not read
        # as events (`take_dead_letters()`; `flowviz.derive.dead_letters` makes them failed calls)
        self.dead_letter_rules = DeadLetterRules.parse(dead_letters)
        self._dead_letter_topics: dict[str, bool] = {}
        self._dead_letters: list[DeadLetterMessage] = []
        # events in the Confluent wire format: schemas by id from a folder or a registry (`wire_format`)
        self.schemas = schemas
        self.topic_schemas: dict[str, dict[str, Any]] = {}  # topic -> the schema of its latest record
        self._schema_changes: list[LagMark] = []
        self._partition_schema_ids: dict[tuple[str, int], int] = {}  # (topic, partition) -> its latest schema id
        # (topic, partition, schema, time) each time a partition's schema id differs from its last, the first
        # included: kept only by a decode worker, whose readings are replayed in read order where marks are made
        self.keep_schema_readings = False
        self._schema_readings: list[tuple[str, int, dict[str, Any], int]] = []

    def take_schema_changes(self) -> list[LagMark]:
        """Marks for the timeline: a topic whose records came with a new schema id since the last call."""
        changes, self._schema_changes = self._schema_changes, []
        return changes

    def take_schema_readings(self) -> list[tuple[str, int, dict[str, Any], int]]:
        """A decode worker's schema readings since the last call (see `keep_schema_readings`)."""
        readings, self._schema_readings = self._schema_readings, []
        return readings

    def forget_schemas(self) -> None:
        """Forget which schema each topic and partition had (a decode worker, before each chunk: the order of
        chunks is known only where they are merged)."""
        self.topic_schemas.clear()
        self._partition_schema_ids.clear()

    def merge_figures(
        self, formats: dict[str, int], schema_readings: list[tuple[str, int, dict[str, Any], int]]
    ) -> None:
        """Count what another process's decoder read here: its formats, and its schema readings in read order
        (so a change is marked once, here, also when it falls between two workers' chunks)."""
        for name, count in formats.items():
            self.formats[name] = self.formats.get(name, 0) + count
        for topic, partition, schema, stamp_ns in schema_readings:
            self._note_schema(topic, partition, schema, stamp_ns)

    def _note_schema(self, topic: str, partition: int, schema: dict[str, Any], stamp_ns: int) -> None:
        """A record of `topic` came with `schema`: a timeline mark when a partition moves to an id that is not
        the topic's latest (its other partitions following later, or read in another order, mark nothing)."""
        if self._partition_schema_ids.get((topic, partition)) == schema["id"]:
            return
        self._partition_schema_ids[(topic, partition)] = schema["id"]
        if self.keep_schema_readings:
            self._schema_readings.append((topic, partition, schema, stamp_ns))
        before = self.topic_schemas.get(topic)
        if before is not None and before["id"] == schema["id"]:
            return
        self.topic_schemas[topic] = schema
        if before is not None:
            version = f" v{schema['version']}" if schema["version"] is not None else ""
            text = f"schema {before['id']} → {schema['id']} ({schema['subject']}{version})"
            self._schema_changes.append(LagMark(stamp_ns, topic, text))

    def _add_wire(self, schema_id: int, payload: memoryview, meta: MessageMeta) -> bool:
        """One value in the Confluent wire format: its schema by id, the record decoded, read as an event."""
        where = self.events.location(meta)
        if self.schemas is None:
            self.problems.add(UNKNOWN_SCHEMA, f"{where} (schema id {schema_id}: no --schema-registry or --schemas)")
            return False
        try:
            schema = self.schemas.get(schema_id)
        except SchemaError as error:
            self.problems.add(UNKNOWN_SCHEMA, f"{where} ({error})")
            return False
        try:
            record = schema.decode(payload)
        except Exception as error:  # fastavro and protobuf raise many kinds on bad bytes: counted, never fatal
            self.problems.add(BAD_RECORD, f"{where} (schema id {schema_id}: {type(error).__name__}: {error})")
            return False
        stamp = meta.kafka_time_ns
        now = {"id": schema_id, "kind": schema.kind, "subject": schema.subject, "version": schema.version}
        self._note_schema(meta.topic, meta.partition, now, stamp if stamp != UNKNOWN_NS else time.time_ns())
        return self.events.add_record(record, schema.name, header_map(meta.headers), meta)

    def _is_dead_letter(self, topic: str) -> bool:
        known = self._dead_letter_topics.get(topic)
        if known is None:
            known = self._dead_letter_topics[topic] = self.dead_letter_rules.kind(topic) is not None
        return known

    def take_dead_letters(self) -> list[DeadLetterMessage]:
        """The dead-letter/retry messages met since the last call."""
        taken, self._dead_letters = self._dead_letters, []
        return taken

    def take_events(self) -> EventBatch:
        """The events decoded since the last call (spans go to the builder, events collect here)."""
        return self.events.take()

    def add(
        self,
        values: Sequence[bytes | None],
        wheres: Sequence[str],
        builder: SpanBatchBuilder,
        *,
        metas: Sequence[MessageMeta] | None = None,
    ) -> int:
        """Append the spans of every value to `builder`; returns the span count. Bad values are counted.

        With `metas` (topic, offsets, timestamp, headers of each message) events are recognised too
        and collect in `events`; without them only spans can be read.
        """
        protobuf: list[bytes] = []
        protobuf_wheres: list[str] = []
        added = 0
        with gc_paused():
            for index, (value, where) in enumerate(zip(values, wheres, strict=True)):
                meta = metas[index] if metas is not None else None
                spans = guarded(self.problems, builder, where, "kafka", self._add_one, value, where, builder, meta)
                if spans == _PROTOBUF:
                    protobuf.append(value)  # decoded together below
                    protobuf_wheres.append(where)
                else:
                    added += spans or 0
            if protobuf:
                added += guarded_group(
                    self.problems, builder, "otlp-proto", self._add_protobuf, protobuf, protobuf_wheres
                )
                self.formats[OTLP_PROTO] = self.formats.get(OTLP_PROTO, 0) + len(protobuf)
        return added

    def _add_one(self, value: bytes | None, where: str, builder: SpanBatchBuilder, meta: MessageMeta | None) -> int:
        """One message: its spans or event added, or `_PROTOBUF` for a protobuf value (decoded with the others)."""
        forced = self.format_name
        if meta is not None and self._is_dead_letter(meta.topic):
            # a copy of a message a consumer gave up on: a failure on its flow, not a new event
            stamp = meta.kafka_time_ns
            self._dead_letters.append(
                DeadLetterMessage(
                    meta.topic, stamp if stamp != UNKNOWN_NS else time.time_ns(), header_map(meta.headers)
                )
            )
            self._count("dead letters")
            return 0
        if forced in ("auto", "events") and meta is not None and meta.headers:
            headers = header_map(meta.headers)
            if is_cloudevents_binary(headers):
                if self.events.add_binary(value, headers, meta):
                    self._count("events")
                return 0
            if forced == "auto" and value and is_cloudevents_structured_header(headers):
                if self.events.add_value(value, headers, meta):
                    self._count("events")
                return 0
        if not value:
            self.problems.add("kafka: message without a value (skipped)", where)
            return 0
        # magic byte 0 (never OTLP protobuf's first byte, a field tag): read as the Confluent wire format
        # when schemas are given (or every message is an event), else left to the trace decoders
        wired = forced == "events" or (forced == "auto" and self.schemas is not None)
        wire = split_wire(value) if wired and meta is not None else None
        if wire is not None:
            if self._add_wire(*wire, meta):
                self._count("events")
            return 0
        if forced == "events":
            if meta is None:
                self.problems.add("kafka: event without its message (topic, offset) skipped", where)
            elif self.events.add_value(value, header_map(meta.headers), meta):
                self._count("events")
            return 0
        if forced == OTLP_PROTO or (forced == "auto" and not _looks_like_json(value)):
            return _PROTOBUF
        return self._add_json(value, where, builder, meta)

    def _add_protobuf(self, values: list[bytes], wheres: list[str], builder: SpanBatchBuilder) -> int:
        return decode_otlp_proto(values, builder, self.problems, wheres)

    def decode(self, messages: Sequence) -> SpanBatch:
        """One span batch from confluent_kafka Messages (or anything with value(), topic(), partition(), offset())."""
        builder = SpanBatchBuilder(self.problems)
        metas = [message_meta(m) for m in messages]
        self.add([m.value() for m in messages], [meta.where for meta in metas], builder, metas=metas)
        with gc_paused():  # building creates no reference cycles
            return builder.build()

    def _add_json(self, value: bytes, where: str, builder: SpanBatchBuilder, meta: MessageMeta | None) -> int:
        forced = self.format_name
        if forced == "otlp_json" or (forced == "auto" and self._last_json is self._otlp_json):
            added = try_add_otlp_json_bytes(value, builder, where)  # any JSON object passes: 0 spans is no proof
            if added:
                self._count("otlp_json")
                return added
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            self.problems.add("kafka: message is not valid JSON", f"{where} ({str(error).split(':')[0]})")
            return 0
        if forced in ("auto", "jaeger_json"):
            trace = jaeger_model_trace(document)
            if trace is not None:
                document = trace
        chosen = self._choose(document)
        if chosen is None:
            if meta is not None and looks_like_event(document):  # no trace: a business event?
                if self.events.add_document(document, header_map(meta.headers), meta):
                    self._count("events")
            else:
                self.problems.add("kafka: JSON message in no trace or event format", where)
            return 0
        self._count(chosen.name)
        return chosen.add(document, builder, self.problems, where)

    def _choose(self, document: object) -> JsonFormat | None:
        if self.format_name != "auto":
            return json_format(self.format_name)
        if self._last_json is not None and self._last_json.looks_like(document):
            return self._last_json
        chosen = detect_json_format(document, spans_only=True)
        if chosen is not None:
            self._last_json = chosen
        return chosen

    def _count(self, name: str) -> None:
        self.formats[name] = self.formats.get(name, 0) + 1


_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # never in JSON text; in protobuf, always soon


def _looks_like_json(value: bytes) -> bool:
    first = value[:1]
    if first in (b"{", b"["):
        return True
    if first in (b" ", b"\t", b"\r", b"\n", b"\xef"):
        # protobuf's field 1 (OTLP's resource_spans) also starts with "\n", and a length of 123 or 91 reads
        # as "{" or "[": JSON only if no control byte follows
        head = value[:64].lstrip(b" \t\r\n\xef\xbb\xbf")
        return head[:1] in (b"{", b"[") and _CONTROL_BYTES.search(value, 0, 64) is None
    return False
