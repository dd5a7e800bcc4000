"""Decoded business events as parallel columns: one row per Kafka message that carried an event."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNKNOWN_NS = np.iinfo(np.int64).min  # a time that is not known (event time, Kafka timestamp)


@dataclass(frozen=True, slots=True, eq=False)
class EventBatch:
    """Events as columns; `topic`, `producer` and `event_type` index into `names` (0 = "").

    `event_time_ns` is the event's own time (CloudEvents `time`, a `time`/`timestamp` field) and
    `kafka_time_ns` the message's Kafka timestamp (producer create time or broker append time);
    either is `UNKNOWN_NS` where unknown. `event_id` is kept as Python strings (None: no id):
    only duplicate counting reads it. `label` prefixes locations (a recording's file name).
    """

    names: tuple[str, ...]
    topic: np.ndarray  # int32
    partition: np.ndarray  # int32
    offset: np.ndarray  # int64
    producer: np.ndarray  # int32
    event_type: np.ndarray  # int32
    event_time_ns: np.ndarray  # int64
    kafka_time_ns: np.ndarray  # int64
    event_id: tuple[str | None, ...]
    label: str = ""
    value_bytes: np.ndarray | None = None  # int64, the message value's size (-1: not known); None: none known

    def __len__(self) -> int:
        return int(self.topic.shape[0])

    @property
    def time_ns(self) -> np.ndarray:
        """When each event reached its topic: the Kafka timestamp, else the event time (0 when neither is known)."""
        known_kafka = self.kafka_time_ns != UNKNOWN_NS
        fallback = np.where(self.event_time_ns != UNKNOWN_NS, self.event_time_ns, 0)
        return np.where(known_kafka, self.kafka_time_ns, fallback)

    @property
    def origin_ns(self) -> np.ndarray:
        """Where end-to-end delays start: the event time, else the Kafka timestamp (UNKNOWN_NS when neither)."""
        return np.where(self.event_time_ns != UNKNOWN_NS, self.event_time_ns, self.kafka_time_ns)

    def where(self, row: int) -> str:
        """`topic[partition]@offset` of one row (after the label, if any)."""
        text = f"{self.names[self.topic[row]]}[{self.partition[row]}]@{self.offset[row]}"
        return f"{self.label}:{text}" if self.label else text

    @staticmethod
    def empty() -> EventBatch:
        return EventBatchBuilder().build()


@dataclass(slots=True)
class EventBatchBuilder:
    """Collects events row by row (names interned) and builds an `EventBatch`."""

    label: str = ""
    _names: dict[str, int] = field(default_factory=lambda: {"": 0})
    _rows: list[tuple[int, int, int, int, int, int, int, int]] = field(default_factory=list)
    _ids: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._rows)

    def append(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        producer: str,
        event_type: str,
        event_time_ns: int,
        kafka_time_ns: int,
        event_id: str | None,
        value_bytes: int = -1,
    ) -> None:
        names = self._names
        self._rows.append(
            (
                names.setdefault(topic, len(names)),
                partition,
                offset,
                names.setdefault(producer, len(names)),
                names.setdefault(event_type, len(names)),
                event_time_ns,
                kafka_time_ns,
                value_bytes,
            )
        )
        self._ids.append(event_id)

    def build(self) -> EventBatch:
        """The batch of every row appended since the last build (the builder starts over)."""
        rows = np.array(self._rows, np.int64).reshape(-1, 8)
        batch = EventBatch(
            names=tuple(self._names),
            topic=rows[:, 0].astype(np.int32),
            partition=rows[:, 1].astype(np.int32),
            offset=rows[:, 2].copy(),
            producer=rows[:, 3].astype(np.int32),
            event_type=rows[:, 4].astype(np.int32),
            event_time_ns=rows[:, 5].copy(),
            kafka_time_ns=rows[:, 6].copy(),
            event_id=tuple(self._ids),
            label=self.label,
            value_bytes=rows[:, 7].copy(),
        )
        self._names, self._rows, self._ids = {"": 0}, [], []
        return batch
