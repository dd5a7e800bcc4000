"""Business events in Kafka messages (CloudEvents binary or structured, plain JSON with a type) -> EventBatch rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import orjson

from flowviz.model.event_batch import UNKNOWN_NS, EventBatch, EventBatchBuilder
from flowviz.model.problems import Problems
from flowviz.model.time_spec import rfc3339_ns

TYPE_FIELDS = ("type", "eventType", "event_type")
TIME_FIELDS = ("time", "timestamp", "eventTime", "event_time")
ID_FIELDS = ("id", "eventId", "event_id")
PRODUCER_FIELDS = ("source", "producer")  # a plain event's producer when nothing else names it
UNKNOWN_PRODUCER = "unknown"
CLOUDEVENTS_JSON = "application/cloudevents+json"

NOT_JSON = "events: message is not valid JSON"
NOT_AN_EVENT = "events: JSON message that is no event (no type, eventType or event_type)"
BINARY_INCOMPLETE = "events: CloudEvents message without a ce_id, ce_source or ce_type header"
STRUCTURED_INCOMPLETE = "events: CloudEvents JSON without a string id, source or type"
BAD_TIME = "events: event time not understood (the Kafka timestamp is used)"
NO_PRODUCER_FIELD = "events: the configured producer field is missing (fallback used)"


class MessageMeta(NamedTuple):
    """What an event needs of a Kafka message besides its value (from a consumed or a recorded message)."""

    topic: str
    partition: int
    offset: int
    timestamp_type: int  # 0 none, 1 create time, 2 log-append time (librdkafka's numbering)
    timestamp_ms: int
    headers: Sequence[tuple[str, bytes | None]] | None
    value_bytes: int = -1  # the value's size (payload sizes on producer → topic edges)

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @property
    def kafka_time_ns(self) -> int:
        return self.timestamp_ms * 1_000_000 if self.timestamp_type and self.timestamp_ms >= 0 else UNKNOWN_NS


def message_meta(message) -> MessageMeta:
    """From a confluent_kafka Message."""
    kind, stamp = message.timestamp()
    value = message.value()
    return MessageMeta(
        message.topic(), message.partition(), message.offset(), kind, stamp, message.headers(), len(value or b"")
    )


@dataclass(frozen=True, slots=True)
class ProducerRule:
    """Where a message names its producer: a header, or a dotted path of JSON fields (`data.service`)."""

    header: str | None = None
    path: tuple[str, ...] = ()

    @staticmethod
    def parse(text: str | None) -> ProducerRule | None:
        """`header:NAME` or a JSON field path such as `producer` or `data.origin.service`; None for nothing."""
        text = (text or "").strip()
        if not text:
            return None
        if text.lower().startswith("header:"):
            name = text[len("header:") :].strip()
            if not name:
                raise ValueError("--event-producer header: needs a header name")
            return ProducerRule(header=name.lower())
        path = tuple(part for part in text.split("."))
        if not all(path):
            raise ValueError(f"--event-producer {text!r}: a JSON field path like producer or data.service")
        return ProducerRule(path=path)

    def describe(self) -> str:
        return f"header {self.header}" if self.header else ".".join(self.path)


@dataclass(frozen=True, slots=True)
class EventFields:
    """Where plain events (JSON, Avro, Protobuf records) keep their type, id and time when not in the usual
    fields: dotted paths (`--event-field type=meta.kind`), tried before `type`/`id`/`time` and the like."""

    type: tuple[str, ...] = ()
    id: tuple[str, ...] = ()
    time: tuple[str, ...] = ()

    @staticmethod
    def parse(texts: Sequence[str] | None) -> EventFields | None:
        """From `NAME=PATH` options (NAME: type, id or time); None for none; ValueError for a bad one."""
        found: dict[str, tuple[str, ...]] = {}
        for text in texts or ():
            name, _, path = text.partition("=")
            parts = tuple(path.strip().split("."))
            if name.strip() not in ("type", "id", "time") or not all(parts):
                raise ValueError(f"--event-field {text!r}: NAME=PATH with NAME type, id or time (e.g. type=meta.kind)")
            found[name.strip()] = parts
        return EventFields(**found) if found else None

    def apply(self, document: dict) -> dict:
        """The document with the configured fields copied to `type`, `id` and `time` where they are present."""
        updates = {}
        for name in ("type", "id", "time"):
            path = getattr(self, name)
            value = _at_path(document, path) if path else None
            if isinstance(value, datetime):
                value = value.isoformat()
            if value is not None and not isinstance(value, dict | list):
                updates[name] = value if name == "time" else str(value)
        return {**document, **updates} if updates else document


def header_map(headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, bytes]:
    """Headers by lower-case name (the last one wins), values as bytes."""
    if not headers:
        return {}
    return {str(name).lower(): value or b"" for name, value in headers}


def is_cloudevents_binary(headers: dict[str, bytes]) -> bool:
    """CloudEvents' Kafka binding, binary mode: attributes in `ce_*` headers, the value is the data."""
    return "ce_specversion" in headers


def is_cloudevents_structured_header(headers: dict[str, bytes]) -> bool:
    return headers.get("content-type", b"").split(b";")[0].strip().lower() == CLOUDEVENTS_JSON.encode()


def looks_like_event(document: object) -> bool:
    """A JSON object that is a CloudEvent (`specversion`) or names its type (`type`/`eventType`/`event_type`)."""
    if not isinstance(document, dict):
        return False
    if "specversion" in document:
        return True
    return any(isinstance(document.get(key), str) and document[key] for key in TYPE_FIELDS)


def parse_time_ns(value: object) -> int | None:
    """Nanoseconds since the epoch from an RFC 3339 / ISO-8601 string or an epoch number (s, ms, µs or ns by
    magnitude, also as a string of digits); None when it is neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if value != value or abs(value) == float("inf"):  # NaN, infinity
            return None
        value = repr(value)  # its shortest decimal form: 1699999998.25 stays exact
    if isinstance(value, str):
        text = value.strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            return _in_range(rfc3339_ns(text))
        if not number.is_finite():
            return None
        return _in_range(int(number * _epoch_scale(abs(number))))
    if isinstance(value, int):
        return _in_range(value * _epoch_scale(abs(value)))
    return None


def _in_range(time_ns: int | None) -> int | None:
    """The time when it fits int64 nanoseconds (1677-09-21 to 2262-04-11), else None: not understood."""
    return time_ns if time_ns is not None and -(1 << 63) < time_ns < (1 << 63) else None


def _epoch_scale(magnitude: Decimal | int) -> int:
    """Nanoseconds per unit of an epoch number, judged by its size: seconds, ms, µs, else ns."""
    for limit, scale in ((1e11, 1_000_000_000), (1e14, 1_000_000), (1e17, 1_000)):
        if magnitude < limit:
            return scale
    return 1


def _first(document: dict, keys: Sequence[str]) -> object:
    for key in keys:
        value = document.get(key)
        if value is not None:
            return value
    return None


def _text(value: object) -> str | None:
    """A non-empty id or name: strings as they are, numbers as their decimal text."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _at_path(document: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


class EventDecoder:
    """Kafka messages -> event rows; `take()` hands out what was decoded since the last call.

    Producer: the configured `producer_rule` (a header or a JSON field path) where the message has it,
    else CloudEvents `source`, else a plain event's `source` or `producer` field, else `unknown`.
    Event time: CloudEvents `time`, else a `time`/`timestamp`/`eventTime`/`event_time` field; the
    Kafka timestamp stands in where there is none. Malformed events are skipped and counted with
    where (`topic[partition]@offset`) and why.
    """

    def __init__(
        self,
        *,
        problems: Problems,
        producer_rule: ProducerRule | None = None,
        label: str = "",
        fields: EventFields | None = None,
    ) -> None:
        self.problems = problems
        self.producer_rule = producer_rule
        self.fields = fields  # where plain events keep type, id and time, when configured
        self.forms: dict[str, int] = {}  # events per form: cloudevents_binary, cloudevents_structured, plain
        self._builder = EventBatchBuilder(label=label)
        self._prefix = f"{label}:" if label else ""

    def __len__(self) -> int:
        return len(self._builder)

    def take(self) -> EventBatch:
        return self._builder.build()

    # -- the three forms ---------------------------------------------------------------------

    def add_binary(self, value: bytes | None, headers: dict[str, bytes], meta: MessageMeta) -> bool:
        """CloudEvents binary mode (`ce_*` headers); False (counted) when a required attribute is missing."""
        event_id, source, event_type = (_decoded(headers.get(f"ce_{name}")) for name in ("id", "source", "type"))
        if not (event_id and source and event_type):
            self.problems.add(BINARY_INCOMPLETE, self._where(meta))
            return False
        time_text = _decoded(headers.get("ce_time"))
        document = None
        if self.producer_rule is not None and self.producer_rule.path and value and value.lstrip()[:1] == b"{":
            try:
                document = orjson.loads(value)
            except orjson.JSONDecodeError:
                document = None
        self._append("cloudevents_binary", meta, headers, document, source, event_type, time_text, event_id)
        return True

    def add_document(self, document: object, headers: dict[str, bytes], meta: MessageMeta) -> bool:
        """A parsed JSON value: a structured CloudEvent or a plain event; False (counted) when it is neither."""
        if isinstance(document, dict) and ("specversion" in document or is_cloudevents_structured_header(headers)):
            event_id, source, event_type = (document.get(key) for key in ("id", "source", "type"))
            if not all(isinstance(v, str) and v for v in (event_id, source, event_type)):
                self.problems.add(STRUCTURED_INCOMPLETE, self._where(meta))
                return False
            self._append(
                "cloudevents_structured", meta, headers, document, source, event_type, document.get("time"), event_id
            )
            return True
        if self.fields is not None and isinstance(document, dict):
            document = self.fields.apply(document)
        if not looks_like_event(document):
            self.problems.add(NOT_AN_EVENT, self._where(meta))
            return False
        assert isinstance(document, dict)
        event_type = next(document[key] for key in TYPE_FIELDS if isinstance(document.get(key), str) and document[key])
        fallback = _text(_first(document, PRODUCER_FIELDS))
        event_id = _text(_first(document, ID_FIELDS))
        self._append("plain", meta, headers, document, fallback, event_type, _first(document, TIME_FIELDS), event_id)
        return True

    def add_record(self, record: dict, type_name: str, headers: dict[str, bytes], meta: MessageMeta) -> bool:
        """A record decoded with its schema (Avro, Protobuf): read as a plain event (or a CloudEvent when it is
        one), typed by its own type field, else by the schema's record name."""
        document = {key: value.isoformat() if isinstance(value, datetime) else value for key, value in record.items()}
        if self.fields is not None:
            document = self.fields.apply(document)
        if not looks_like_event(document):
            document["type"] = type_name or "record"
        return self.add_document(document, headers, meta)

    def add_value(self, value: bytes, headers: dict[str, bytes], meta: MessageMeta) -> bool:
        """A JSON value not parsed yet (forced `events` format, or a CloudEvents content type)."""
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            self.problems.add(NOT_JSON, f"{self._where(meta)} ({str(error).split(':')[0]})")
            return False
        return self.add_document(document, headers, meta)

    # -- shared ----------------------------------------------------------------------------

    def _append(
        self,
        form: str,
        meta: MessageMeta,
        headers: dict[str, bytes],
        document: object,
        fallback_producer: str | None,
        event_type: str,
        time_value: object,
        event_id: str | None,
    ) -> None:
        producer = self._configured_producer(headers, document, meta) or fallback_producer or UNKNOWN_PRODUCER
        event_time_ns = UNKNOWN_NS
        if time_value is not None:
            parsed = parse_time_ns(time_value)
            if parsed is None:
                shown = str(time_value)[:40] if isinstance(time_value, str | int | float) else type(time_value).__name__
                self.problems.add(BAD_TIME, f"{self._where(meta)} ({shown!r})")
            else:
                event_time_ns = parsed
        self._builder.append(
            topic=meta.topic,
            partition=meta.partition,
            offset=meta.offset,
            producer=producer,
            event_type=event_type,
            event_time_ns=event_time_ns,
            kafka_time_ns=meta.kafka_time_ns,
            event_id=event_id,
            value_bytes=meta.value_bytes,
        )
        self.forms[form] = self.forms.get(form, 0) + 1

    def _configured_producer(self, headers: dict[str, bytes], document: object, meta: MessageMeta) -> str | None:
        rule = self.producer_rule
        if rule is None:
            return None
        found = _decoded(headers.get(rule.header)) if rule.header else _text(_at_path(document, rule.path))
        if not found:
            self.problems.add(NO_PRODUCER_FIELD, f"{self._where(meta)} ({rule.describe()})")
        return found

    def location(self, meta: MessageMeta) -> str:
        """Where a message is, for problems: `topic[partition]@offset` after the label (a recording's name)."""
        return self._where(meta)

    def _where(self, meta: MessageMeta) -> str:
        return self._prefix + meta.where


def _decoded(value: bytes | None) -> str | None:
    if not value:
        return None
    return value.decode("utf-8", "replace").strip() or None
