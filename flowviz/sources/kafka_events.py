"""The event side of a live Kafka worker: producer → topic calls, consumer groups' consumption and lag, status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flowviz.derive.consumer_lag import LagFrame, LagTracker, duration_text, grouped_count
from flowviz.derive.consumption import GroupConsumption, GroupOffsets
from flowviz.derive.events import EventDeriver
from flowviz.model.event_batch import EventBatch
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.sources.kafka_groups import GroupOffsetPoller
from flowviz.sources.kafka_settings import KafkaSettings

Partition = tuple[str, int]


class LiveEvents:
    """Derives the calls of decoded events and, for the topics that carry events, watches the consumer
    groups' committed offsets (a poller thread) to derive topic → group calls and lag."""

    def __init__(self, settings: KafkaSettings, *, problems: Problems, poller: GroupOffsetPoller | None = None) -> None:
        self.deriver = EventDeriver(problems=problems)
        self.consumption = GroupConsumption()
        self.lag = LagTracker()
        self.frames: list[LagFrame] = []  # lag frames made by `apply` since the last `take_frames`
        self.looks: list[GroupOffsets] = []  # the looks applied since the last `take_looks` (for recordings)
        self.poller = poller if poller is not None else GroupOffsetPoller(settings)

    @property
    def events(self) -> int:
        return self.deriver.events

    def process(self, batch: EventBatch) -> EdgeObservations:
        """producer → topic calls of `batch`; its topics are watched for consumer groups from now on."""
        if not len(batch):
            return EdgeObservations.empty()
        self.consumption.note_events(batch)
        self.lag.note_events(batch)
        observations = self.deriver.process(batch)
        self.poller.watch(self.deriver.per_topic)
        return observations

    def poll_groups(self, *, read_to: Callable[[], Mapping[Partition, int]]) -> EdgeObservations:
        """topic → group calls from the looks at the groups made since the last call; `read_to` gives the
        reader's positions (asked only when there is a look)."""
        looks = self.poller.take()
        return self.apply(looks, read_to=read_to()) if looks else EdgeObservations.empty()

    def apply(self, looks: list[GroupOffsets], *, read_to: Mapping[Partition, int]) -> EdgeObservations:
        """topic → group calls of `looks`; their lag frames collect in `frames`, the looks in `looks`."""
        observations = []
        for look in looks:
            observations.append(self.consumption.update(look, read_to=read_to))
            frame = self.lag.update(look, read_to=read_to)
            if frame is not None:
                self.frames.append(frame)
        self.looks += looks
        return EdgeObservations.concat(observations)

    def take_frames(self) -> list[LagFrame]:
        frames, self.frames = self.frames, []
        return frames

    def take_looks(self) -> list[GroupOffsets]:
        looks, self.looks = self.looks, []
        return looks

    def status(self) -> dict[str, Any]:
        """For the status line and the chart: events per topic, duplicates, and per topic and group the lag,
        messages consumed and end-to-end delay."""
        return {
            "events": self.deriver.events,
            "per_topic": dict(self.deriver.per_topic),
            "duplicates": dict(self.deriver.duplicates.counts),
            "groups": self.consumption.status(),
            "groups_error": self.consumption.error,
            "group_looks": self.consumption.polls,
            "states": [state.as_dict() for state in (self.lag.latest.groups if self.lag.latest else ())],
        }

    def close(self) -> None:
        self.poller.stop()


def events_text(status: dict[str, Any], *, groups_shown: int = 3) -> str:
    """`events 1,234 · 2 duplicate ids · billing lag 12 (e2e p95 850 ms) · ...` from `LiveEvents.status()`."""
    parts = [f"events {status.get('events', 0):,}"]
    duplicates = sum(status.get("duplicates", {}).values())
    if duplicates:
        parts.append(f"{duplicates:,} duplicate ids")
    groups = status.get("groups") or []
    for entry in groups[:groups_shown]:
        text = f"{entry['group']} lag {entry['lag']:,}" if entry.get("lag") is not None else f"{entry['group']} lag ?"
        if entry.get("e2e_p95_ms") is not None:
            text += f" (e2e p95 {_duration_text(entry['e2e_p95_ms'])})"
        parts.append(text)
    if len(groups) > groups_shown:
        parts.append(f"{len(groups) - groups_shown} more groups")
    troubled = [entry for entry in status.get("states") or () if entry["state"] != "ok"]  # most severe first
    parts += [f"{entry['group']} {entry['state']}" for entry in troubled[:groups_shown]]
    if status.get("groups_error"):
        parts.append(f"groups: {status['groups_error']}")
    return " · ".join(parts)


def _duration_text(ms: float) -> str:
    if ms >= 10_000:
        return f"{ms / 1000:,.0f} s"
    if ms >= 1000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def lag_notes(source_status: dict[str, Any] | None) -> dict[str, str]:
    """Node name -> `lag 1 234` for the chart: on each consumer group's node (its lag summed over the event
    topics it consumes); a topic whose groups lag gets `max lag N (group)`, so a group that never committed
    since the viewer started (no node yet) still shows. From a Kafka worker's status (`FeedStatus.source`)."""
    groups = ((source_status or {}).get("events") or {}).get("groups") or []
    by_group: dict[str, int] = {}
    worst: dict[str, tuple[int, str]] = {}
    for entry in groups:
        lag = entry.get("lag")
        if lag is None:
            continue
        by_group[entry["group"]] = by_group.get(entry["group"], 0) + lag
        if lag > worst.get(entry["topic"], (0, ""))[0]:
            worst[entry["topic"]] = (lag, entry["group"])
    notes = {group: f"lag {grouped_count(lag)}" for group, lag in by_group.items()}
    for topic, (lag, group) in worst.items():
        notes[topic] = f"max lag {grouped_count(lag)} ({group})"
    return notes


def frame_notes(frame: LagFrame | None) -> dict[str, str]:
    """Node name -> note from the consumer groups' lag at a look (the store's `consumer_lag.at(cursor)`), so
    scrubbing shows the lag as it was: on a group `stalled · lag 1 234 (12 s) ↑40/s` (the state unless ok,
    lag in messages and in time, then its growth or the time to catch up; its worst topic, `+N topics`),
    on a topic `max lag N (group)`."""
    if frame is None:
        return {}
    notes: dict[str, str] = {}
    topics_of: dict[str, int] = {}
    worst: dict[str, tuple[int, str]] = {}
    for state in frame.groups:  # most severe first
        topics_of[state.group] = topics_of.get(state.group, 0) + 1
        if state.group not in notes:
            notes[state.group] = _state_note(state)
        if state.lag and state.lag > worst.get(state.topic, (0, ""))[0]:
            who = state.group if state.state == "ok" else f"{state.group}: {state.state}"
            worst[state.topic] = (state.lag, who)  # a group without a node yet (never consumed) shows here
    for group, count in topics_of.items():
        if count > 1:
            notes[group] += f" +{count - 1} topics"
    for topic, (lag, who) in worst.items():
        notes[topic] = f"max lag {grouped_count(lag)} ({who})"
    return notes


def _state_note(state) -> str:
    parts = [] if state.state == "ok" else [state.state]
    if state.lag is not None:
        lag = f"lag {grouped_count(state.lag)}"
        if state.lag and state.lag_s is not None:
            lag += f" ({duration_text(state.lag_s)})"
        if state.behind_per_s and state.behind_per_s >= 0.5:
            lag += f" ↑{state.behind_per_s:,.0f}/s"
        elif state.eta_s is not None:
            lag += f" ETA {duration_text(state.eta_s)}"
        parts.append(lag)
    if state.hot_partitions:  # written much faster than the topic's other partitions
        parts.append("hot " + ",".join(f"p{p}" for p in state.hot_partitions))
    return " · ".join(parts)


SCHEMA_KINDS = {"AVRO": "Avro", "PROTOBUF": "Protobuf", "JSON": "JSON Schema"}


def schema_notes(source_status: dict[str, Any] | None) -> dict[str, str]:
    """Topic -> `Avro orders-value v3` (the schema of its latest record in the Confluent wire format)."""
    notes = {}
    for topic, schema in ((source_status or {}).get("schemas") or {}).items():
        version = f" v{schema['version']}" if schema.get("version") is not None else f" (id {schema['id']})"
        notes[topic] = f"{SCHEMA_KINDS.get(schema['kind'], schema['kind'])} {schema['subject']}{version}"
    return notes


def merged_notes(*parts: Mapping[str, str]) -> dict[str, str]:
    """Notes of several kinds on the same nodes, joined with ` · `."""
    merged: dict[str, str] = {}
    for notes in parts:
        for name, note in notes.items():
            merged[name] = f"{merged[name]} · {note}" if name in merged else note
    return merged
