"""Consumer groups' lag in time, its trend and catch-up, partition owners, hot partitions, rebalances, and
Burrow's consumer states (no thresholds), from successive looks at committed offsets and partition ends."""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from flowviz.derive.consumption import GroupMembers, GroupOffsets, OffsetTimes
from flowviz.model.event_batch import EventBatch

SECOND_NS = 1_000_000_000
STATES = ("ok", "warning", "rewound", "no consumers", "stalled", "stopped")
"""Burrow's evaluation, least to most severe: a group's state is its worst partition's."""
STATE_CODE = {name: code for code, name in enumerate(STATES)}
WINDOW_LOOKS = 10  # Burrow's default window: a partition is judged on its last ten looks
WATERMARK_POINTS = 720  # per partition: the end-offset/time table lag in time is interpolated from
READ_TIMES_PER_PARTITION = 50_000  # Kafka timestamps of the newest offsets read, per partition
HOT_FACTOR = 2.0  # a partition written at more than twice the median rate of its topic's others is hot
NO_LAG = -1


class WatermarkTimes:
    """When a partition's end offset passed each value seen: the table Kafka Lag Exporter interpolates lag in
    time from. Each point is (the first look that saw this end, the last look before it, the end); the
    messages between the previous end and this one were written between those two looks. Bounded: when
    full, every other point of the older half goes (its segment merges into the next)."""

    def __init__(self, capacity: int = WATERMARK_POINTS) -> None:
        self.capacity = capacity
        self._seen_ns: list[int] = []
        self._since_ns: list[int] = []
        self._ends: list[int] = []
        self._last_look_ns: int | None = None

    def __len__(self) -> int:
        return len(self._ends)

    def add(self, time_ns: int, end: int) -> None:
        ends = self._ends
        if ends and end < ends[-1]:  # the partition was recreated or truncated: start over
            self._seen_ns.clear(), self._since_ns.clear(), ends.clear()
        if not ends or end > ends[-1]:
            since = self._last_look_ns if self._last_look_ns is not None and ends else time_ns
            self._seen_ns.append(time_ns)
            self._since_ns.append(since)
            ends.append(end)
            if len(ends) > self.capacity:
                self._thin()
        self._last_look_ns = time_ns

    def _thin(self) -> None:
        half = len(self._ends) // 2
        drop = set(range(1, half, 2))  # the first point stays: it anchors extrapolation
        for index in sorted(drop, reverse=True):
            self._since_ns[index + 1] = self._since_ns[index]
            del self._seen_ns[index], self._since_ns[index], self._ends[index]

    def written_ns(self, offset: int) -> float | None:
        """When the message at `offset` was written: interpolated between the looks around the moment the end
        passed it, extrapolated at the table's mean rate before its first point; None when it cannot tell."""
        target = offset + 1
        ends = self._ends
        if not ends or target > ends[-1]:
            return None
        index = bisect.bisect_left(ends, target)
        if index == 0:
            if len(ends) < 2 or self._seen_ns[-1] <= self._seen_ns[0]:
                return None
            per_ns = (ends[-1] - ends[0]) / (self._seen_ns[-1] - self._seen_ns[0])
            return self._seen_ns[0] - (ends[0] - target) / per_ns
        low = ends[index - 1]
        since, seen = self._since_ns[index], self._seen_ns[index]
        return since + (target - low) / (ends[index] - low) * (seen - since)


@dataclass(frozen=True, slots=True)
class GroupState:
    """One consumer group on one topic at a look: Burrow's state (since when), lag in messages and in time,
    the rates that make its trend, and the time to catch up (or how fast it falls behind)."""

    group: str
    topic: str
    state: str  # one of STATES
    since_ns: int  # onset of the state (when the evidence for it began)
    lag: int | None  # messages, summed over the partitions it committed on (None: no end known)
    lag_s: float | None  # age of the oldest unconsumed message, the worst partition's (None: not known)
    consume_per_s: float | None  # committed offsets' advance over the window
    produce_per_s: float | None  # partition ends' advance over the window
    eta_s: float | None  # time to catch up at the window's rates (None: not catching up, or no lag)
    behind_per_s: float | None  # lag growth when it grows (messages/s)
    partitions: int
    hot_partitions: tuple[int, ...] = ()
    members: int | None = None  # None: the broker did not describe the group
    polled_ns: int = 0

    @property
    def trend_per_s(self) -> float | None:
        """Lag change in messages/s (positive: growing)."""
        if self.consume_per_s is None or self.produce_per_s is None:
            return None
        return self.produce_per_s - self.consume_per_s

    def as_dict(self) -> dict[str, object]:
        """Plain values (status, JSON) with the text `describe` gives."""
        return {**asdict(self), "hot_partitions": list(self.hot_partitions), "text": self.describe()}

    def describe(self) -> str:
        """`stalled · lag 1 234 (12 s) · falling behind at 40 msg/s` for labels, tooltips and findings."""
        parts = [self.state]
        if self.lag is not None:
            lag = f"lag {_grouped(self.lag)}"
            if self.lag_s is not None and self.lag:
                lag += f" ({duration_text(self.lag_s)})"
            parts.append(lag)
        if self.behind_per_s and self.behind_per_s >= 0.5:
            parts.append(f"falling behind at {self.behind_per_s:,.0f} msg/s")
        elif self.eta_s is not None:
            parts.append(f"catching up in {duration_text(self.eta_s)}")
        return " · ".join(parts)


@dataclass(frozen=True, slots=True, eq=False)
class PartitionTable:
    """Per group and partition at a look, as columns: `group`, `topic` and `owner` index `names` (0 = "")."""

    names: tuple[str, ...]
    group: np.ndarray  # int32
    topic: np.ndarray  # int32
    partition: np.ndarray  # int32
    committed: np.ndarray  # int64
    end: np.ndarray  # int64 (NO_LAG: not known)
    lag: np.ndarray  # int64 (NO_LAG: not known)
    lag_s: np.ndarray  # float32 (nan: not known)
    consume_per_s: np.ndarray  # float32 (nan: not known)
    produce_per_s: np.ndarray  # float32
    state: np.ndarray  # int8, STATE_CODE
    owner: np.ndarray  # int32 (0: not known)
    hot: np.ndarray  # bool

    def __len__(self) -> int:
        return int(self.group.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in _COLUMNS)

    def rows(self, group: str, topic: str | None = None) -> list[dict[str, object]]:
        """The partitions of one group (and topic) as plain rows, by partition."""
        names = self.names
        found = []
        for row in range(len(self)):
            if names[self.group[row]] != group or (topic is not None and names[self.topic[row]] != topic):
                continue
            lag_s, consume = float(self.lag_s[row]), float(self.consume_per_s[row])
            found.append(
                {
                    "topic": names[self.topic[row]],
                    "partition": int(self.partition[row]),
                    "committed": int(self.committed[row]),
                    "end": int(self.end[row]) if self.end[row] >= 0 else None,
                    "lag": int(self.lag[row]) if self.lag[row] >= 0 else None,
                    "lag_s": None if np.isnan(lag_s) else round(lag_s, 3),
                    "consume_per_s": None if np.isnan(consume) else round(consume, 3),
                    "produce_per_s": round(float(self.produce_per_s[row]), 3),
                    "state": STATES[self.state[row]],
                    "owner": names[self.owner[row]] or None,
                    "hot": bool(self.hot[row]),
                }
            )
        return sorted(found, key=lambda r: (r["topic"], r["partition"]))


_COLUMNS = ("group", "topic", "partition", "committed", "end", "lag", "lag_s", "consume_per_s", "produce_per_s")
_COLUMNS += ("state", "owner", "hot")


@dataclass(frozen=True, slots=True)
class LagMark:
    """Something that happened to a group at a look: a rebalance, or a change of state."""

    time_ns: int
    group: str
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class LagFrame:
    """Everything about the consumer groups at one look (what the rolling store keeps per look)."""

    polled_ns: int
    groups: tuple[GroupState, ...]
    partitions: PartitionTable
    marks: tuple[LagMark, ...] = ()

    @property
    def nbytes(self) -> int:
        return self.partitions.nbytes + 200 * len(self.groups) + 100 * len(self.marks)


@dataclass(slots=True)
class _Track:
    """One group's partition across looks: the last WINDOW_LOOKS (time, committed, end, lag)."""

    looks: deque = field(default_factory=lambda: deque(maxlen=WINDOW_LOOKS))
    changed_ns: int = 0  # the first look with the current committed offset
    advanced: bool = False  # the committed offset moved forward while watched


class LagTracker:
    """Looks at the groups (`GroupOffsets`) -> `LagFrame`s.

    **Lag in time** of a partition is the age of the message at the committed offset (the oldest not
    consumed): its Kafka timestamp where this reader has read it, else the time interpolated from the
    partition's end-offset history (`WatermarkTimes`, Kafka Lag Exporter's method). **Trend**: the
    committed offsets' and the ends' advance over the window; their difference is the lag's growth;
    a lag shrinking at N msg/s is caught up in lag / N seconds.

    **States** (Burrow's rules, no thresholds), over each partition's last `window_looks` looks, judged
    once the window is full: *ok* when the lag is zero now or at any look of the window; *rewound* when
    the committed offset moved back; when the committed offset did not move over the window and the
    lag is not zero: *stalled* if the group has members (alive, stuck: committing the same offset),
    *stopped* if it has none (or they are not described) after it consumed while watched, *no consumers*
    if it has none and never consumed while watched; *warning* when it advanced but the lag never
    decreased from one look to the next. Polling cannot see a commit of the same offset again, so life
    is read from the group's membership (DescribeGroups) where Burrow reads the commit stream.
    """

    def __init__(self, *, window_looks: int = WINDOW_LOOKS, read_times_per_partition: int = READ_TIMES_PER_PARTITION):
        self.window_looks = window_looks
        self.read_times_per_partition = read_times_per_partition
        self._tracks: dict[tuple[str, str, int], _Track] = {}
        self._watermarks: dict[tuple[str, int], WatermarkTimes] = {}
        self._read_times: dict[tuple[str, int], OffsetTimes] = {}
        self._states: dict[tuple[str, str], tuple[str, int]] = {}  # (group, topic) -> (state, since_ns)
        self._owners: dict[str, dict[tuple[str, int], str]] = {}
        self._membership: dict[str, str] = {}
        self._announced: dict[tuple[str, str], tuple[str, int]] = {}  # state changes marked already
        self.latest: LagFrame | None = None

    def note_events(self, batch: EventBatch) -> None:
        """Remember the Kafka timestamps of the messages read (by topic, partition and offset)."""
        if not len(batch):
            return
        keys = batch.topic.astype(np.int64) << 32 | batch.partition.astype(np.int64)
        times = batch.time_ns
        for key in np.unique(keys).tolist():
            rows = keys == key
            partition = (batch.names[key >> 32], key & 0xFFFFFFFF)
            table = self._read_times.get(partition)
            if table is None:
                table = self._read_times[partition] = OffsetTimes(self.read_times_per_partition)
            table.add(batch.offset[rows], times[rows])

    def update(self, look: GroupOffsets, *, read_to: Mapping[tuple[str, int], int] | None = None) -> LagFrame | None:
        """The frame of this look (None for a look that failed altogether)."""
        if look.error and not look.committed:
            return None
        read_to = read_to or {}
        now = look.polled_ns
        ends: dict[tuple[str, int], int] = {}
        for partition in set(look.ends) | {(t, p) for _, t, p in look.committed}:
            end = max(look.ends.get(partition, -1), read_to.get(partition, -1))
            if end >= 0:
                ends[partition] = end
                table = self._watermarks.get(partition)
                if table is None:
                    table = self._watermarks[partition] = WatermarkTimes()
                table.add(now, end)
        names: dict[str, int] = {"": 0}
        columns: dict[str, list] = {name: [] for name in _COLUMNS}
        per_group: dict[tuple[str, str], list[int]] = {}
        for (group, topic, partition), committed in sorted(look.committed.items()):
            if committed < 0:
                continue
            key = (group, topic, partition)
            track = self._tracks.get(key)
            if track is None:
                track = self._tracks[key] = _Track(changed_ns=now)
            end = ends.get((topic, partition), NO_LAG)
            lag = max(0, end - committed) if end >= 0 else NO_LAG
            if track.looks and track.looks[-1][1] != committed:
                track.changed_ns = now
                track.advanced |= committed > track.looks[-1][1]
            track.looks.append((now, committed, end, lag))
            members = look.members.get(group)
            row = len(columns["group"])
            per_group.setdefault((group, topic), []).append(row)
            columns["group"].append(names.setdefault(group, len(names)))
            columns["topic"].append(names.setdefault(topic, len(names)))
            columns["partition"].append(partition)
            columns["committed"].append(committed)
            columns["end"].append(end)
            columns["lag"].append(lag)
            columns["lag_s"].append(self._lag_s(topic, partition, committed, lag, now))
            consume, produce = _rates(track.looks)
            columns["consume_per_s"].append(np.nan if consume is None else consume)
            columns["produce_per_s"].append(produce)
            columns["state"].append(STATE_CODE[self._judge(track, members)])
            owner = members.owners.get((topic, partition), "") if members is not None else ""
            columns["owner"].append(names.setdefault(owner, len(names)))
            columns["hot"].append(False)
        table = _table(names, columns)
        _mark_hot(table)
        groups = tuple(self._group_state(group, topic, rows, table, look) for (group, topic), rows in per_group.items())
        marks = self._marks(look, groups)
        self.latest = LagFrame(
            now, tuple(sorted(groups, key=lambda g: (-STATE_CODE[g.state], g.group, g.topic))), table, marks
        )
        return self.latest

    # -- pieces ------------------------------------------------------------------------------

    def _lag_s(self, topic: str, partition: int, committed: int, lag: int, now_ns: int) -> float:
        if lag == 0:
            return 0.0
        if lag < 0:
            return np.nan
        written: float | None = None
        read = self._read_times.get((topic, partition))
        if read is not None:
            found = read.lookup(committed, committed + 1)
            found = found[found > 0]
            if found.size:
                written = float(found[0])
        if written is None:
            table = self._watermarks.get((topic, partition))
            written = table.written_ns(committed) if table is not None else None
        return np.nan if written is None else max(0.0, (now_ns - written) / SECOND_NS)

    def _judge(self, track: _Track, members: GroupMembers | None) -> str:
        """Burrow's rules on one partition's window (see the class docstring)."""
        looks = track.looks
        lag_now = looks[-1][3]
        if lag_now <= 0 or len(looks) < self.window_looks:
            return "ok"
        lags = [entry[3] for entry in looks]
        if min(lags) == 0:
            return "ok"
        committed = [entry[1] for entry in looks]
        if any(b < a for a, b in itertools.pairwise(committed)):
            return "rewound"
        if committed[0] == committed[-1]:
            alive = members.alive if members is not None else None
            if alive:
                return "stalled"
            return "stopped" if track.advanced or alive is None else "no consumers"
        if all(b >= a for a, b in itertools.pairwise(lags)):
            return "warning"
        return "ok"

    def _group_state(
        self, group: str, topic: str, rows: list[int], table: PartitionTable, look: GroupOffsets
    ) -> GroupState:
        now = look.polled_ns
        lags = table.lag[rows]
        known = lags >= 0
        lag = int(lags[known].sum()) if known.any() else None
        lag_s_values = table.lag_s[rows]
        lag_s = float(np.nanmax(lag_s_values)) if not np.isnan(lag_s_values).all() else None
        consumes = table.consume_per_s[rows]
        consume = None if np.isnan(consumes).any() else float(consumes.sum())
        produce = float(table.produce_per_s[rows].sum())
        eta = behind = None
        if lag and consume is not None:
            if consume > produce:
                eta = lag / (consume - produce)
            elif produce > consume:
                behind = produce - consume
        code = int(table.state[rows].max())
        state = STATES[code]
        previous = self._states.get((group, topic))
        if previous is None or previous[0] != state:
            since = self._onset(group, topic, rows, table, state, now)
            self._states[(group, topic)] = (state, since)
        else:
            since = previous[1]
        members = look.members.get(group)
        hot = tuple(int(p) for p in table.partition[rows][table.hot[rows]])
        return GroupState(
            group,
            topic,
            state,
            since,
            lag,
            None if lag_s is None else round(lag_s, 3),
            None if consume is None else round(consume, 3),
            round(produce, 3),
            None if eta is None else round(eta, 3),
            None if behind is None else round(behind, 3),
            len(rows),
            hot,
            None if members is None else members.members,
            now,
        )

    def _onset(self, group: str, topic: str, rows: list[int], table: PartitionTable, state: str, now_ns: int) -> int:
        """When the evidence for a new state began: the offset stopped moving (stuck states), the window
        began (warning), else this look."""
        tracks = [self._tracks[(group, topic, int(table.partition[row]))] for row in rows]
        worst = [track for track, row in zip(tracks, rows, strict=True) if STATES[table.state[row]] == state]
        if state in ("stalled", "stopped", "no consumers"):
            return min(track.changed_ns for track in worst)
        if state == "warning":
            return min(track.looks[0][0] for track in worst)
        return now_ns

    def _marks(self, look: GroupOffsets, groups: tuple[GroupState, ...]) -> tuple[LagMark, ...]:
        now = look.polled_ns
        marks = []
        for group, members in look.members.items():
            before = self._owners.get(group)
            if members.owners and before and members.owners != before:
                moved = sum(1 for key, owner in members.owners.items() if before.get(key) != owner)
                moved += sum(1 for key in before if key not in members.owners)
                marks.append(LagMark(now, group, f"rebalance: {moved} partitions changed owner"))
            elif members.rebalancing and self._membership.get(group) != members.state:
                marks.append(LagMark(now, group, "rebalance"))
            if members.owners:
                self._owners[group] = dict(members.owners)
            self._membership[group] = members.state
        for state in groups:
            key, seen = (state.group, state.topic), (state.state, state.since_ns)
            if state.state != "ok" and self._announced.get(key) != seen:
                self._announced[key] = seen
                marks.append(LagMark(state.since_ns, state.group, f"{state.topic}: {state.state}"))
        return tuple(marks)


def _rates(looks: deque) -> tuple[float | None, float]:
    """(consumed/s, produced/s) over the window; consumed is None when it moved back or cannot be told."""
    first, last = looks[0], looks[-1]
    seconds = (last[0] - first[0]) / SECOND_NS
    if seconds <= 0:
        return None, 0.0
    produce = max(0.0, (last[2] - first[2]) / seconds) if first[2] >= 0 and last[2] >= 0 else 0.0
    committed = [entry[1] for entry in looks]
    if any(b < a for a, b in itertools.pairwise(committed)):
        return None, produce
    return (last[1] - first[1]) / seconds, produce


def _table(names: dict[str, int], columns: dict[str, list]) -> PartitionTable:
    dtypes = {
        "group": np.int32,
        "topic": np.int32,
        "partition": np.int32,
        "committed": np.int64,
        "end": np.int64,
        "lag": np.int64,
        "lag_s": np.float32,
        "consume_per_s": np.float32,
        "produce_per_s": np.float32,
        "state": np.int8,
        "owner": np.int32,
        "hot": bool,
    }
    return PartitionTable(tuple(names), **{name: np.asarray(columns[name], dtypes[name]) for name in _COLUMNS})


def _mark_hot(table: PartitionTable) -> None:
    """Partitions written at more than HOT_FACTOR x the median rate of their topic's other partitions."""
    if not len(table):
        return
    for topic in np.unique(table.topic).tolist():
        rows = np.flatnonzero(table.topic == topic)
        partitions, first = np.unique(table.partition[rows], return_index=True)
        if partitions.size < 2:
            continue
        rates = table.produce_per_s[rows[first]].astype(np.float64)
        for index, rate in enumerate(rates.tolist()):
            others = np.delete(rates, index)
            median = float(np.median(others))
            if rate > 0 and rate > HOT_FACTOR * median:
                table.hot[rows[table.partition[rows] == partitions[index]]] = True


def group_states(frame: LagFrame | None) -> list[GroupState]:
    """The groups' states at a frame, most severe first (what findings are made of: a group that is not
    `ok` is falling behind, stuck or gone since `since_ns`)."""
    return list(frame.groups) if frame is not None else []


def duration_text(seconds: float) -> str:
    """3.2 s, 45 s, 12 min, 3.5 h."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _grouped(count: int) -> str:
    return f"{count:,}".replace(",", " ")
