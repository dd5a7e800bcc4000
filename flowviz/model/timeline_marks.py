"""Marks on the timeline from Kafka: a group's rebalance or change of state, a topic's new schema."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LagMark:
    """Something that happened at a time: a group's rebalance or change of state at a look (`group` names the
    group), or a topic's records coming with a new schema (`group` names the topic)."""

    time_ns: int
    group: str
    text: str


@dataclass(frozen=True, slots=True)
class TimelineMarks:
    """Marks that come without a look (a topic's records changed schema), as a source hands them to the ingest."""

    marks: tuple[LagMark, ...]
