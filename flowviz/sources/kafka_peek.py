"""Peek: the last N messages of a topic (or of one producer on it, or before a group's commits), read on demand
by assign() with a client of its own, described for people (key, headers, time, a preview of the value)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from flowviz.decoders.events import EventDecoder, header_map, is_cloudevents_binary, message_meta
from flowviz.model.problems import Problems
from flowviz.sources.kafka_groups import OWN_GROUP, read_group_offsets
from flowviz.sources.kafka_settings import KafkaSettings, client_config

DEFAULT_COUNT = 20
MAX_SCAN = 5_000  # messages read per partition at most when looking for one producer's
PREVIEW_CHARS = 240


@dataclass(frozen=True, slots=True)
class PeekedMessage:
    """One message as Peek shows it (plain values; nothing of it is kept once shown)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int  # -1: none
    key: str
    headers: tuple[tuple[str, str], ...]
    value_bytes: int
    preview: str
    producer: str | None = None  # when it is a business event
    event_type: str | None = None
    event_id: str | None = None
    traceparent: str | None = None  # W3C trace context of the producer's span (header, CloudEvents extension)

    @property
    def time_text(self) -> str:
        if self.timestamp_ms < 0:
            return "–"
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def line(self) -> str:
        """`2026-12-02T20:15:01.123Z orders[0]@123 checkout OrderPlaced o-17 key=… 312 B {"id": …}`."""
        event = " ".join(part for part in (self.producer, self.event_type, self.event_id) if part)
        key = f" key={self.key}" if self.key else ""
        return f"{self.time_text} {self.where}{' ' + event if event else ''}{key} {self.value_bytes} B {self.preview}"


def text_preview(data: bytes | None, limit: int = PREVIEW_CHARS) -> str:
    """JSON compacted, other UTF-8 text as it is, binary as hex (the Confluent wire format named), cut at `limit`."""
    if not data:
        return ""
    if data[:1] == b"\x00" and len(data) >= 5:  # Confluent wire format: magic byte 0, schema id, payload
        schema_id = int.from_bytes(data[1:5], "big")
        return f"(schema id {schema_id}) {data[5:21].hex(' ')}" + (" …" if len(data) > 21 else "")
    try:
        text = orjson.dumps(orjson.loads(data)).decode()
    except orjson.JSONDecodeError:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data[:32].hex(" ") + (" …" if len(data) > 32 else "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def peek(
    settings: KafkaSettings,
    topic: str,
    *,
    count: int = DEFAULT_COUNT,
    producer: str | None = None,
    before: Mapping[int, int] | None = None,
    timeout_s: float = 5.0,
) -> list[PeekedMessage]:
    """The newest `count` messages of `topic` (newest first): of `producer` only when given (events whose
    producer is that), and only offsets before `before[partition]` when given (what a group had consumed).
    Reads by assign() without committing; returns within about `timeout_s`."""
    span = count if producer is None else MAX_SCAN
    described = describe_messages(newest_messages(settings, topic, span=span, before=before, timeout_s=timeout_s))
    if producer is not None:
        described = [m for m in described if m.producer == producer]
    described.sort(key=lambda m: (m.timestamp_ms, m.offset), reverse=True)
    return described[:count]


def newest_messages(
    settings: KafkaSettings,
    topic: str,
    *,
    span: int,
    before: Mapping[int, int] | None = None,
    timeout_s: float = 5.0,
) -> list:
    """The newest `span` messages of each partition of `topic` (confluent_kafka Messages), before
    `before[partition]` when given; LookupError when the topic does not exist."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    config = {
        **client_config(settings),
        "group.id": OWN_GROUP,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
    }
    consumer = Consumer(config)
    deadline = time.monotonic() + timeout_s
    try:
        metadata = consumer.list_topics(topic, timeout=max(0.1, deadline - time.monotonic()))
        entry = metadata.topics.get(topic)
        if entry is None or entry.error is not None:
            raise LookupError(f"topic {topic!r} not found")
        assignment, stops = [], {}
        for partition in sorted(entry.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=max(0.1, deadline - time.monotonic())
            )
            stop = before.get(partition, low) if before is not None else None  # no commit there: nothing consumed
            limit = high if stop is None else stop  # a reported end can be low (Tansu): read on to the stop
            if stop is not None and stop <= low:
                continue
            stops[partition] = stop  # None: read to the end
            assignment.append(TopicPartition(topic, partition, max(low, limit - span)))
        if not assignment:
            return []
        consumer.assign(assignment)
        found: dict[int, list] = {p: [] for p in stops}
        open_partitions = set(stops)
        while open_partitions and time.monotonic() < deadline:
            for message in consumer.consume(1000, min(0.2, max(0.01, deadline - time.monotonic()))):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        open_partitions.discard(message.partition())
                    continue
                stop = stops.get(message.partition())
                if stop is not None and message.offset() >= stop:
                    open_partitions.discard(message.partition())
                    continue
                found[message.partition()].append(message)
        return [m for partition in found.values() for m in partition[-span:]]
    finally:
        consumer.close()


def committed_offsets(settings: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on the topic's partitions (partition -> the next offset it consumes)."""
    from confluent_kafka.admin import AdminClient

    look = read_group_offsets(AdminClient(client_config(settings)), [topic], groups=[group])
    if look.error and not look.committed:
        raise LookupError(f"group {group!r}: {look.error}")
    return {p: offset for (g, t, p), offset in look.committed.items() if g == group and t == topic and offset >= 0}


def describe_messages(messages: Sequence) -> list[PeekedMessage]:
    """confluent_kafka Messages -> PeekedMessages, reading business events as the live path does."""
    decoder = EventDecoder(problems=Problems())
    for message in messages:
        meta = message_meta(message)
        headers = header_map(meta.headers)
        value = message.value()
        if is_cloudevents_binary(headers):
            decoder.add_binary(value, headers, meta)
        elif value and value.lstrip()[:1] == b"{":
            try:
                document = orjson.loads(value)
            except orjson.JSONDecodeError:
                continue
            if isinstance(document, dict):
                decoder.add_document(document, headers, meta)
    events = decoder.take()
    names = events.names
    by_place = {
        (int(events.partition[row]), int(events.offset[row])): (
            names[events.producer[row]],
            names[events.event_type[row]],
            events.event_id[row],
        )
        for row in range(len(events))
    }
    out = []
    for message in messages:
        producer, event_type, event_id = by_place.get((message.partition(), message.offset()), (None, None, None))
        kind, stamp = message.timestamp()
        out.append(
            PeekedMessage(
                message.topic(),
                message.partition(),
                message.offset(),
                stamp if kind else -1,
                text_preview(message.key(), 80),
                tuple((name, text_preview(value, 80)) for name, value in message.headers() or ()),
                len(message.value() or b""),
                text_preview(message.value()),
                producer,
                event_type,
                event_id,
                _traceparent(message),
            )
        )
    return out


def _traceparent(message) -> str | None:
    """The W3C `traceparent` a message carries: header, CloudEvents binary `ce_traceparent`, or a structured
    CloudEvent's `traceparent` attribute."""
    headers = header_map(message.headers())
    for name in ("traceparent", "ce_traceparent"):
        if headers.get(name):
            return headers[name].decode("ascii", "replace").strip()
    value = message.value()
    if value and b"traceparent" in value[:4096]:
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        found = document.get("traceparent") if isinstance(document, dict) else None
        return found if isinstance(found, str) else None
    return None
