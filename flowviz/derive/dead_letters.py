"""Dead-letter and retry topics, recognised by name (configurable): each message on one is a failed call on the
flow it left — from the consumer group that gave up on it where the message names it, else from its topic."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from flowviz.decoders.dead_letter_topics import DeadLetterRules
from flowviz.decoders.messages import DeadLetterMessage
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import NO_LATENCY, EdgeObservations

ORIGIN_TOPIC_HEADERS = (
    "kafka_dlt-original-topic",  # Spring Kafka's DeadLetterPublishingRecoverer
    "kafka_original-topic",
    "__connect.errors.topic",  # Kafka Connect's dead letter queue (errors.deadletterqueue.context.headers.enable)
    "x-original-topic",
    "original-topic",
)
ORIGIN_GROUP_HEADERS = ("kafka_dlt-original-consumer-group", "kafka_original-consumer-group")
ORIGIN_TIME_HEADERS = ("kafka_dlt-original-timestamp", "kafka_original-timestamp", "retry_topic-original-timestamp")
REASON_HEADERS = ("kafka_dlt-exception-message", "__connect.errors.exception.message", "kafka_dlt-exception-fqcn")


@dataclass(slots=True)
class DeadLetterFigures:
    """What arrived on one dead-letter/retry topic: messages, from which topic, the latest reason given."""

    kind: str
    origin: str
    messages: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # exception message -> count (the first 20 kept)


class DeadLetterDeriver:
    """Messages read from dead-letter/retry topics -> failed calls into that topic (messaging edges).

    The call comes from the consumer group that gave up on the message where a header names it
    (Spring's `kafka_dlt-original-consumer-group`: the group is also who wrote it there), else from
    the topic it came from: the message's header (Spring's `kafka_dlt-original-topic`, Kafka Connect's
    `__connect.errors.topic`), else the topic's name without its suffix. It is placed at the message's
    Kafka timestamp; its latency is that minus the original message's timestamp header (Spring's
    `kafka_dlt-original-timestamp`) where there is one: how long it took to give up on it.
    """

    def __init__(self, rules: DeadLetterRules | None = None) -> None:
        self.rules = rules or DeadLetterRules()
        self.figures: dict[str, DeadLetterFigures] = {}
        self._known: dict[str, str | None] = {}  # topic -> kind (cached)
        self._rows: list[tuple[str, str, int, int, int]] = []  # (origin, topic, time_ns, latency_ns, origin kind)

    def is_dead_letter(self, topic: str) -> bool:
        kind = self._known.get(topic, "?")
        if kind == "?":
            kind = self._known[topic] = self.rules.kind(topic)
        return kind is not None

    def add(self, topic: str, time_ns: int, headers: Mapping[str, bytes]) -> bool:
        """Count a message of `topic` (headers by lower-case name) when it is a dead-letter/retry topic."""
        if not self.is_dead_letter(topic):
            return False
        origin = _text(_first(headers, ORIGIN_TOPIC_HEADERS)) or self.rules.origin(topic) or f"{topic} (origin)"
        group = _text(_first(headers, ORIGIN_GROUP_HEADERS))
        original_ns = _timestamp_ns(_first(headers, ORIGIN_TIME_HEADERS))
        latency = time_ns - original_ns if original_ns is not None and 0 < original_ns <= time_ns else NO_LATENCY
        kind = NodeKind.SERVICE if group else NodeKind.TOPIC
        self._rows.append((group or origin, topic, time_ns, latency, int(kind)))
        figures = self.figures.get(topic)
        if figures is None:
            figures = self.figures[topic] = DeadLetterFigures(self._known[topic] or "dead letter", origin)
        figures.messages += 1
        reason = _text(_first(headers, REASON_HEADERS))
        if reason and (reason in figures.reasons or len(figures.reasons) < 20):
            figures.reasons[reason[:200]] = figures.reasons.get(reason[:200], 0) + 1
        return True

    def derive(self, messages: Iterable[DeadLetterMessage]) -> EdgeObservations:
        """The failed calls of dead-letter/retry messages a decoder set aside (with those counted before)."""
        for message in messages:
            self.add(message.topic, message.time_ns, message.headers)
        return self.take()

    def take(self) -> EdgeObservations:
        """The calls counted since the last call."""
        rows, self._rows = self._rows, []
        if not rows:
            return EdgeObservations.empty()
        names: dict[str, int] = {"": 0}
        source = [names.setdefault(row[0], len(names)) for row in rows]
        target = [names.setdefault(row[1], len(names)) for row in rows]
        return EdgeObservations.from_columns(
            names,
            source=source,
            target=target,
            source_kind=np.fromiter((row[4] for row in rows), np.int8, len(rows)),
            target_kind=NodeKind.TOPIC,
            connection_type=ConnectionType.MESSAGING_SYSTEM,
            via=target,
            time_ns=np.fromiter((row[2] for row in rows), np.int64, len(rows)),
            latency_ns=np.fromiter((row[3] for row in rows), np.int64, len(rows)),
            failed=True,
        )

    def status(self) -> dict[str, dict[str, object]]:
        """Per dead-letter/retry topic: kind, origin, messages and the most frequent reasons."""
        return {
            topic: {
                "kind": f.kind,
                "origin": f.origin,
                "messages": f.messages,
                "reasons": dict(sorted(f.reasons.items(), key=lambda item: -item[1])[:3]),
            }
            for topic, f in self.figures.items()
        }


def _first(headers: Mapping[str, bytes], names: tuple[str, ...]) -> bytes | None:
    for name in names:
        value = headers.get(name)
        if value:
            return value
    return None


def _text(value: bytes | None) -> str | None:
    if not value:
        return None
    return value.decode("utf-8", "replace").strip() or None


def _timestamp_ns(value: bytes | None) -> int | None:
    """Epoch milliseconds from a header: Spring writes a big-endian 8-byte long, others decimal text."""
    if not value:
        return None
    if len(value) == 8 and not value.isdigit():
        return struct.unpack(">q", value)[0] * 1_000_000
    text = value.decode("ascii", "replace").strip()
    return int(text) * 1_000_000 if text.isdigit() else None
