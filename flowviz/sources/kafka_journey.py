"""One event's journey: found by its id among a topic's newest messages, its producer and trace context, its place
(topic, partition, offset), and each consumer group's commit that covered it, with the delay where it is known."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from flowviz.sources.kafka_peek import PeekedMessage, describe_messages, newest_messages
from flowviz.sources.kafka_settings import KafkaSettings, client_config
from flowviz.store.continuations import Continuation
from flowviz.store.detail_queries import ContinuationsQuery

SCAN_PER_PARTITION = 20_000  # the newest messages of each partition searched for the id


@dataclass(frozen=True, slots=True)
class Coverage:
    """A consumer group and the event: whether its committed offset has passed the event, and when that was
    first seen (a look of the live window; None: only known now), with the delay from the event's time."""

    group: str
    committed: int
    covered: bool
    seen_ns: int | None = None
    delay_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Journey:
    """The event's message, its trace context (W3C ids of the producer's span) and the groups' coverage."""

    event_id: str
    message: PeekedMessage
    trace_id: str | None = None
    span_id: str | None = None
    groups: tuple[Coverage, ...] = field(default_factory=tuple)
    continued: tuple[Continuation, ...] = ()  # the consumers' spans that carry on from the producer's span

    def path(self) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
        """Chart nodes and calls it went through: producer → topic → each group that consumed it, and → each
        service whose span carries on from the producer's (in its own trace by a span link, or the same trace)."""
        topic = self.message.topic
        calls = {(self.message.producer, topic)} if self.message.producer else set()
        calls |= {(topic, coverage.group) for coverage in self.groups if coverage.covered}
        calls |= {(topic, step.service) for step in self.continued if step.service}
        return frozenset(name for call in calls for name in call) | {topic}, frozenset(calls)

    def traces(self) -> tuple[str, ...]:
        """The consumers' own traces the journey continues into (other than the producer's), first seen first."""
        return tuple(dict.fromkeys(step.trace_id for step in self.continued if step.trace_id != self.trace_id))

    def lines(self) -> list[str]:
        """The journey as text, in order (for the panel and the command line)."""
        message = self.message
        produced = f"{message.time_text} produced by {message.producer or 'an unknown producer'}"
        lines = [f"{produced} ({message.event_type or 'no event type'}, id {self.event_id})"]
        if self.trace_id:
            lines.append(f"  trace {self.trace_id}, producer span {self.span_id}")
        lines.append(f"  in {message.where}, {message.value_bytes:,} B")
        for coverage in self.groups:
            if not coverage.covered:
                lines.append(f"  {coverage.group}: not consumed yet (committed {coverage.committed:,})")
            elif coverage.delay_ms is not None:
                lines.append(f"  {coverage.group}: consumed, commit seen {coverage.delay_ms / 1000:,.1f} s after")
            else:
                lines.append(f"  {coverage.group}: consumed (committed {coverage.committed:,})")
        for step in self.continued:
            how = "its own trace, by a span link" if step.relation == "link" else "the producer's trace"
            after = (step.start_ns / 1e6 - message.timestamp_ms) / 1000 if message.timestamp_ms >= 0 else None
            when = f" {after:,.2f} s after" if after is not None else ""
            lines.append(f"  → {step.service or 'a consumer'} went on{when} in {how}: trace {step.trace_id}")
        return lines

    def continued_by(self, details) -> Journey:
        """This journey with the spans that carry on from the producer's span, from the drill-down store (or its
        client) that saw the consumers' spans; unchanged without a producer span or when none are known."""
        if self.trace_id is None or self.span_id is None or details is None:
            return self
        found = details.ask(ContinuationsQuery(self.trace_id, self.span_id)).continuations
        return replace(self, continued=found) if found else self


def parse_traceparent(text: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`); None otherwise."""
    parts = (text or "").strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None
    return parts[1].lower(), parts[2].lower()


def find_event(
    settings: KafkaSettings, event_id: str, topics: Sequence[str], *, scan: int = SCAN_PER_PARTITION, timeout_s=10.0
) -> PeekedMessage | None:
    """The newest message among the topics' newest `scan` per partition whose event id is `event_id`."""
    deadline = time.monotonic() + timeout_s
    found: list[PeekedMessage] = []
    for topic in topics:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            messages = newest_messages(settings, topic, span=scan, timeout_s=left)
        except LookupError:
            continue
        found += [m for m in describe_messages(messages) if m.event_id == event_id]
    return max(found, key=lambda m: (m.timestamp_ms, m.offset)) if found else None


def coverage_from_history(history, topic: str, partition: int, offset: int, time_ms: int) -> dict[str, Coverage]:
    """Per group, the first look (a `LagHistory` of the window) whose committed offset passed the event."""
    found: dict[str, Coverage] = {}
    if history is None:
        return found
    start_ns = max(0, time_ms * 1_000_000 - 1)
    frame = history.at(start_ns)
    frames = ([frame] if frame is not None else []) + list(history.frames_after(start_ns))
    for frame in frames:
        table = frame.partitions
        names = table.names
        for row in range(len(table)):
            if names[table.topic[row]] != topic or int(table.partition[row]) != partition:
                continue
            group, committed = names[table.group[row]], int(table.committed[row])
            if group in found and found[group].covered:
                continue
            covered = committed > offset
            delay = (frame.polled_ns / 1e6 - time_ms) if covered and time_ms >= 0 else None
            found[group] = Coverage(group, committed, covered, frame.polled_ns if covered else None, delay)
    return found


def event_journey(
    settings: KafkaSettings, event_id: str, *, topics: Sequence[str], history=None, timeout_s: float = 10.0
) -> Journey | None:
    """The journey of the event with this id (None when it is not among the topics' newest messages): the
    groups' coverage from the window's looks where it has them, else from the groups' commits now."""
    from confluent_kafka.admin import AdminClient

    from flowviz.sources.kafka_groups import read_group_offsets

    message = find_event(settings, event_id, topics, timeout_s=timeout_s)
    if message is None:
        return None
    coverage = coverage_from_history(history, message.topic, message.partition, message.offset, message.timestamp_ms)
    look = read_group_offsets(AdminClient(client_config(settings)), [message.topic], groups=settings.groups)
    for (group, topic, partition), committed in sorted(look.committed.items()):
        if topic != message.topic or partition != message.partition or committed < 0:
            continue
        known = coverage.get(group)
        if known is None or not known.covered:
            coverage[group] = Coverage(group, committed, committed > message.offset)
    context = parse_traceparent(message.traceparent)
    return Journey(
        event_id,
        message,
        context[0] if context else None,
        context[1] if context else None,
        tuple(sorted(coverage.values(), key=lambda c: (not c.covered, c.delay_ms or 0.0, c.group))),
    )
