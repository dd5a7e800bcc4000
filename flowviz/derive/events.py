"""Events -> producer → topic calls, with duplicate event ids counted in bounded memory."""

from __future__ import annotations

import numpy as np

from flowviz.model.event_batch import UNKNOWN_NS, EventBatch
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import NO_LATENCY, EdgeObservations
from flowviz.model.problems import Problems

DUPLICATE_ID = "events: duplicate event id (the same producer and id again on the topic; drawn as a call)"
DEFAULT_IDS_PER_TOPIC = 100_000


class DuplicateIds:
    """Event ids seen per topic, the most recent `ids_per_topic` of each (older ones are forgotten).

    An id is (producer, id) — CloudEvents' identity of an event. The same message read again (same
    partition and offset, e.g. after a partition restarted) is no duplicate.
    """

    def __init__(self, *, ids_per_topic: int = DEFAULT_IDS_PER_TOPIC) -> None:
        self.ids_per_topic = ids_per_topic
        self.counts: dict[str, int] = {}  # duplicates per topic
        self._seen: dict[str, dict[tuple[str, str], tuple[int, int]]] = {}

    def check(self, topic: str, producer: str, event_id: str, partition: int, offset: int) -> bool:
        """Remember the id; True when it was seen before at another place (a duplicate, counted)."""
        seen = self._seen.get(topic)
        if seen is None:
            seen = self._seen[topic] = {}
        key = (producer, event_id)
        place = (partition, offset)
        before = seen.pop(key, None)
        seen[key] = place  # re-inserted: the most recent stay, dicts keep insertion order
        if len(seen) > self.ids_per_topic:
            del seen[next(iter(seen))]
        if before is None or before == place:
            return False
        self.counts[topic] = self.counts.get(topic, 0) + 1
        return True

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class EventDeriver:
    """Event batches -> one producer → topic call per event (messaging edge, via the topic).

    The call is placed at the message's Kafka timestamp (else the event time); its latency is the
    Kafka timestamp minus the event time where both are known and the difference is not negative.
    Duplicate ids are counted (in `duplicates` and in `problems`) and still drawn: they were produced.
    """

    def __init__(self, *, problems: Problems, ids_per_topic: int = DEFAULT_IDS_PER_TOPIC) -> None:
        self.problems = problems
        self.duplicates = DuplicateIds(ids_per_topic=ids_per_topic)
        self.events = 0
        self.per_topic: dict[str, int] = {}

    def process(self, batch: EventBatch) -> EdgeObservations:
        size = len(batch)
        if not size:
            return EdgeObservations.empty()
        self.events += size
        self._count_duplicates(batch)
        names = batch.names
        for topic, count in zip(*np.unique(batch.topic, return_counts=True), strict=True):
            self.per_topic[names[topic]] = self.per_topic.get(names[topic], 0) + int(count)
        known = (batch.kafka_time_ns != UNKNOWN_NS) & (batch.event_time_ns != UNKNOWN_NS)
        delay = np.where(known, batch.kafka_time_ns - np.where(known, batch.event_time_ns, 0), NO_LATENCY)
        latency = np.where(delay >= 0, delay, NO_LATENCY)
        return EdgeObservations.from_columns(
            names,
            source=batch.producer,
            target=batch.topic,
            source_kind=NodeKind.SERVICE,
            target_kind=NodeKind.TOPIC,
            connection_type=ConnectionType.MESSAGING_SYSTEM,
            via=batch.topic,
            time_ns=batch.time_ns,
            latency_ns=latency,
            failed=False,
        )

    def _count_duplicates(self, batch: EventBatch) -> None:
        names, check = batch.names, self.duplicates.check
        topics, producers = batch.topic.tolist(), batch.producer.tolist()
        partitions, offsets = batch.partition.tolist(), batch.offset.tolist()
        for row, event_id in enumerate(batch.event_id):
            if event_id is None:
                continue
            if check(names[topics[row]], names[producers[row]], event_id, partitions[row], offsets[row]):
                self.problems.add(DUPLICATE_ID, f"{batch.where(row)} (id {event_id[:40]})")
