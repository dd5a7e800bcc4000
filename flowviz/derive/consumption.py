"""Consumer groups' committed offsets -> topic → group calls, consumer lag and end-to-end delays."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from flowviz.model.event_batch import UNKNOWN_NS, EventBatch
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import NO_LATENCY, EdgeObservations

DEFAULT_OFFSETS_PER_PARTITION = 200_000
DELAYS_KEPT = 4_096  # per topic and group, for the status's percentiles

Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True)
class GroupMembers:
    """A group's membership at a look: the broker's group state (`stable`, `empty`, `preparing_rebalance`,
    `completing_rebalance`, `dead`, `unknown`), how many members, and who owns which partition (when the
    broker describes the members' assignments)."""

    state: str = "unknown"
    members: int = 0
    owners: dict[Partition, str] = field(default_factory=dict)  # (topic, partition) -> `client-id@host`

    @property
    def alive(self) -> bool | None:
        """True: someone is in the group; False: nobody is; None: the broker did not say."""
        if self.state in ("unknown", ""):
            return None
        return self.state not in ("empty", "dead")

    @property
    def rebalancing(self) -> bool:
        return self.state in ("preparing_rebalance", "completing_rebalance")


@dataclass(frozen=True, slots=True)
class GroupOffsets:
    """One look at the broker: the groups' committed offsets (the next offset each would consume) on the
    watched topics, the partitions' end offsets and the groups' membership, taken at `polled_ns` (wall clock)."""

    polled_ns: int
    committed: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (group, topic, partition) -> offset
    ends: dict[Partition, int] = field(default_factory=dict)
    error: str = ""
    members: dict[str, GroupMembers] = field(default_factory=dict)  # group -> membership (where described)

    def to_record(self) -> dict:
        """Plain JSON values (a recording's `G` record)."""
        return {
            "polled_ns": self.polled_ns,
            "committed": [[g, t, p, o] for (g, t, p), o in self.committed.items()],
            "ends": [[t, p, e] for (t, p), e in self.ends.items()],
            "error": self.error,
            "members": {
                group: {"state": m.state, "members": m.members, "owners": [[t, p, o] for (t, p), o in m.owners.items()]}
                for group, m in self.members.items()
            },
        }

    @staticmethod
    def from_record(record: dict) -> GroupOffsets:
        """The inverse of `to_record` (KeyError/TypeError/ValueError for a record of another shape)."""
        members = {
            str(group): GroupMembers(
                str(m["state"]), int(m["members"]), {(str(t), int(p)): str(o) for t, p, o in m["owners"]}
            )
            for group, m in record.get("members", {}).items()
        }
        return GroupOffsets(
            int(record["polled_ns"]),
            {(str(g), str(t), int(p)): int(o) for g, t, p, o in record["committed"]},
            {(str(t), int(p)): int(e) for t, p, e in record["ends"]},
            str(record.get("error", "")),
            members,
        )


class OffsetTimes:
    """When the events at the offsets read from one partition began (event time, else Kafka timestamp):
    the newest `capacity` offsets, in chunks of numpy arrays (bounded memory)."""

    def __init__(self, capacity: int = DEFAULT_OFFSETS_PER_PARTITION) -> None:
        self.capacity = capacity
        self._chunks: deque[tuple[np.ndarray, np.ndarray]] = deque()  # (offsets ascending, origin_ns)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, offsets: np.ndarray, origin_ns: np.ndarray) -> None:
        if not offsets.size:
            return
        order = np.argsort(offsets, kind="stable")
        offsets, origin_ns = offsets[order], origin_ns[order]
        first = int(offsets[0])
        while self._chunks and int(self._chunks[-1][0][-1]) >= first:  # read again from earlier: forget the rest
            dropped = self._chunks.pop()
            self._size -= dropped[0].size
        self._chunks.append((offsets, origin_ns))
        self._size += offsets.size
        while self._size - self._chunks[0][0].size >= self.capacity:
            self._size -= self._chunks.popleft()[0].size

    def at(self, offsets: np.ndarray) -> np.ndarray:
        """The time remembered for each of `offsets` (UNKNOWN_NS where none is)."""
        found = np.full(offsets.shape, UNKNOWN_NS, np.int64)
        if not offsets.size:
            return found
        low, high = int(offsets.min()), int(offsets.max())
        for chunk_offsets, chunk_times in self._chunks:
            if chunk_offsets[-1] < low or chunk_offsets[0] > high:
                continue
            index = np.minimum(np.searchsorted(chunk_offsets, offsets), chunk_offsets.size - 1)
            hit = chunk_offsets[index] == offsets
            found[hit] = chunk_times[index[hit]]
        return found

    def lookup(self, start: int, stop: int) -> np.ndarray:
        """Origin times (ns, known ones only) of the offsets in [start, stop) that are remembered."""
        found = []
        for offsets, origin_ns in self._chunks:
            if offsets[-1] < start or offsets[0] >= stop:
                continue
            low, high = np.searchsorted(offsets, [start, stop])
            found.append(origin_ns[low:high])
        times = np.concatenate(found) if found else np.zeros(0, np.int64)
        return times[times != UNKNOWN_NS]


@dataclass(slots=True)
class GroupFigures:
    """What one group did with one topic since it was first seen: consumed messages, lag now, e2e delays."""

    consumed: int = 0
    lag: int | None = None  # summed over the partitions the group committed on (None: no end known)
    partitions: int = 0
    delays_ns: deque = field(default_factory=lambda: deque(maxlen=DELAYS_KEPT))

    def as_dict(self, topic: str, group: str) -> dict[str, object]:
        p50 = p95 = latest = None
        if self.delays_ns:
            delays_ms = np.fromiter(self.delays_ns, np.int64) / 1e6
            p50, p95 = (round(float(v), 3) for v in np.percentile(delays_ms, [50, 95]))
            latest = round(float(delays_ms[-1]), 3)
        return {
            "topic": topic,
            "group": group,
            "lag": self.lag,
            "partitions": self.partitions,
            "consumed": self.consumed,
            "e2e_p50_ms": p50,
            "e2e_p95_ms": p95,
            "e2e_latest_ms": latest,
        }


class GroupConsumption:
    """Turns successive looks at the groups' committed offsets into topic → group calls.

    The first committed offset seen for a group and partition is the baseline; from then on each
    advance of it is that many calls on topic → group, placed at the poll time. Their latency is the
    end-to-end delay: the poll time (consumption is only known to have happened before it) minus the
    event's time, for the offsets this reader has read (their times are remembered, `offsets_per_partition`
    per partition); offsets not read get no latency. Offsets past what the reader has read yet (`read_to`)
    wait until it has. Lag = end offset - committed offset, summed over the group's partitions; the end
    is the broker's high watermark or, when higher, the offset after the last message read.
    """

    def __init__(self, *, offsets_per_partition: int = DEFAULT_OFFSETS_PER_PARTITION) -> None:
        self.offsets_per_partition = offsets_per_partition
        self.figures: dict[tuple[str, str], GroupFigures] = {}  # (topic, group) -> figures
        self.error = ""
        self.polls = 0
        self._times: dict[Partition, OffsetTimes] = {}
        self._counted: dict[tuple[str, str, int], int] = {}  # (group, topic, partition) -> offset counted up to
        self._waiting_since: dict[tuple[str, str, int], int] = {}  # commits seen beyond what was read, since when

    def note_events(self, batch: EventBatch) -> None:
        """Remember when the events read began (by topic, partition and offset) for end-to-end delays."""
        if not len(batch):
            return
        keys = batch.topic.astype(np.int64) << 32 | batch.partition.astype(np.int64)
        origin = batch.origin_ns
        for key in np.unique(keys).tolist():
            rows = keys == key
            partition = (batch.names[key >> 32], key & 0xFFFFFFFF)
            times = self._times.get(partition)
            if times is None:
                times = self._times[partition] = OffsetTimes(self.offsets_per_partition)
            times.add(batch.offset[rows], origin[rows])

    def update(self, offsets: GroupOffsets, *, read_to: Mapping[Partition, int] | None = None) -> EdgeObservations:
        """Calls consumed since the last look (topic → group), and the lag now; a failed look changes nothing."""
        self.polls += 1
        self.error = offsets.error
        if offsets.error and not offsets.committed:
            return EdgeObservations.empty()
        read_to = read_to or {}
        names: dict[str, int] = {"": 0}
        parts: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # (topic, group, latency_ns, count)
        lags: dict[tuple[str, str], list[int]] = {}
        now_ns = offsets.polled_ns
        for (group, topic, partition), committed in sorted(offsets.committed.items()):
            if committed < 0:
                continue  # nothing committed on this partition
            figures = self.figures.get((topic, group))
            if figures is None:
                figures = self.figures[(topic, group)] = GroupFigures()
            end = max(offsets.ends.get((topic, partition), -1), read_to.get((topic, partition), -1))
            lag = lags.setdefault((topic, group), [0, 0, 0])
            lag[2] += 1
            if end >= 0:
                lag[0] += max(0, end - committed)
                lag[1] += 1
            key = (group, topic, partition)
            counted = self._counted.get(key)
            if counted is None or committed < counted:  # first look, or the group was reset to an earlier offset
                self._counted[key] = committed
                self._waiting_since.pop(key, None)
                continue
            read = read_to.get((topic, partition))
            ready = committed if read is None else min(committed, max(read, counted))
            since_ns = self._waiting_since.get(key, now_ns)
            if ready < committed:
                self._waiting_since.setdefault(key, now_ns)
            else:
                self._waiting_since.pop(key, None)
            if ready <= counted:
                continue
            self._counted[key] = ready
            count = ready - counted
            figures.consumed += count
            times = self._times.get((topic, partition))
            origins = times.lookup(counted, ready) if times is not None else np.zeros(0, np.int64)
            delays = since_ns - origins
            delays = delays[delays >= 0]  # a clock ahead of ours: no delay to show
            figures.delays_ns.extend(delays[-DELAYS_KEPT:].tolist())
            latency = np.append(delays, NO_LATENCY) if count > delays.size else delays
            counts = np.ones(latency.size, np.int64)
            counts[delays.size :] = count - delays.size
            parts.append((names.setdefault(topic, len(names)), names.setdefault(group, len(names)), latency, counts))
        for (topic, group), (total, known, partitions) in lags.items():
            figures = self.figures[(topic, group)]
            figures.lag, figures.partitions = (total if known else None), partitions
        if not parts:
            return EdgeObservations.empty()
        sizes = [latency.size for _, _, latency, _ in parts]
        topics = np.repeat([topic for topic, _, _, _ in parts], sizes)
        return EdgeObservations.from_columns(
            names,
            source=topics,
            target=np.repeat([group for _, group, _, _ in parts], sizes),
            source_kind=NodeKind.TOPIC,
            target_kind=NodeKind.SERVICE,
            connection_type=ConnectionType.MESSAGING_SYSTEM,
            via=topics,
            time_ns=np.full(topics.size, now_ns, np.int64),
            latency_ns=np.concatenate([latency for _, _, latency, _ in parts]),
            failed=False,
            count=np.concatenate([counts for _, _, _, counts in parts]),
        )

    def status(self) -> list[dict[str, object]]:
        """Per topic and group: lag, consumed, end-to-end delay p50/p95/latest (ms), most lag first."""
        entries = [figures.as_dict(topic, group) for (topic, group), figures in self.figures.items()]
        return sorted(entries, key=lambda e: (-(e["lag"] or 0), e["topic"], e["group"]))
