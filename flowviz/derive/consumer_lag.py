"""Consumer groups' lag in time, its trend and catch-up, partition owners, hot partitions, rebalances, and
Burrow's consumer states (no thresholds), from successive looks at committed offsets and partition ends."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from flowviz.derive.consumption import GroupOffsets, OffsetTimes
from flowviz.model.event_batch import EventBatch
from flowviz.model.timeline_marks import LagMark

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

    def written_many(self, offsets: np.ndarray) -> np.ndarray:
        """`written_ns` of each offset at once (nan where it cannot tell)."""
        written = np.full(offsets.shape, np.nan)
        if not self._ends:
            return written
        ends = np.asarray(self._ends, np.int64)
        seen = np.asarray(self._seen_ns, np.float64)
        since = np.asarray(self._since_ns, np.float64)
        target = offsets.astype(np.int64) + 1
        index = np.searchsorted(ends, target)
        inside = (target <= ends[-1]) & (index > 0)
        i = index[inside]
        low = ends[i - 1]
        written[inside] = since[i] + (target[inside] - low) / (ends[i] - low) * (seen[i] - since[i])
        if ends.size >= 2 and seen[-1] > seen[0]:
            before = index == 0
            per_ns = (ends[-1] - ends[0]) / (seen[-1] - seen[0])
            written[before] = seen[0] - (ends[0] - target[before]) / per_ns
        return written

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
            lag = f"lag {grouped_count(self.lag)}"
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


class _Windows:
    """Each (group, topic, partition)'s last looks as rows of ring arrays: time, committed, end, lag."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.row_of: dict[tuple[str, str, int], int] = {}
        capacity = 64
        self.time = np.zeros((capacity, window), np.int64)
        self.committed = np.zeros((capacity, window), np.int64)
        self.end = np.zeros((capacity, window), np.int64)
        self.lag = np.zeros((capacity, window), np.int64)
        self.looks = np.zeros(capacity, np.int64)  # looks so far
        self.changed_ns = np.zeros(capacity, np.int64)  # the first look with the current committed offset
        self.advanced = np.zeros(capacity, bool)  # the committed offset moved forward while watched

    def rows(self, keys: list[tuple[str, str, int]]) -> np.ndarray:
        row_of = self.row_of
        for key in keys:
            if key not in row_of:
                row_of[key] = len(row_of)
        if len(row_of) > self.looks.shape[0]:
            self._grow(len(row_of))
        return np.fromiter((row_of[key] for key in keys), np.int64, len(keys))

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * self.looks.shape[0])
        for name in ("time", "committed", "end", "lag", "looks", "changed_ns", "advanced"):
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def append(self, rows: np.ndarray, now_ns: int, committed: np.ndarray, end: np.ndarray, lag: np.ndarray) -> None:
        before = self.looks[rows]
        seen = before > 0
        previous = self.committed[rows, (before - 1) % self.window]
        changed = seen & (previous != committed)
        self.changed_ns[rows[changed | ~seen]] = now_ns
        self.advanced[rows[changed & (committed > previous)]] = True
        slot = before % self.window
        self.time[rows, slot] = now_ns
        self.committed[rows, slot] = committed
        self.end[rows, slot] = end
        self.lag[rows, slot] = lag
        self.looks[rows] = before + 1

    def ordered(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """(count, time, committed, end, lag) of the rows' windows, oldest look first (`count` valid)."""
        looks = self.looks[rows]
        count = np.minimum(looks, self.window)
        start = np.where(looks >= self.window, looks % self.window, 0)
        index = (start[:, None] + np.arange(self.window)[None, :]) % self.window
        picked = rows[:, None]
        return (
            count,
            self.time[picked, index],
            self.committed[picked, index],
            self.end[picked, index],
            self.lag[picked, index],
        )


class LagTracker:
    """Looks at the groups (`GroupOffsets`) -> `LagFrame`s, in numpy batches over all group partitions.

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
        self._windows = _Windows(window_looks)
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
        items = sorted((key, offset) for key, offset in look.committed.items() if offset >= 0)
        partitions = sorted({(topic, partition) for (_, topic, partition), _ in items} | set(look.ends))
        ends: dict[tuple[str, int], int] = {}
        for partition in partitions:
            end = max(look.ends.get(partition, -1), read_to.get(partition, -1))
            if end >= 0:
                ends[partition] = end
                table = self._watermarks.get(partition)
                if table is None:
                    table = self._watermarks[partition] = WatermarkTimes()
                table.add(now, end)
        names: dict[str, int] = {"": 0}
        keys = [key for key, _ in items]
        size = len(keys)
        group = np.fromiter((names.setdefault(g, len(names)) for g, _, _ in keys), np.int32, size)
        topic = np.fromiter((names.setdefault(t, len(names)) for _, t, _ in keys), np.int32, size)
        partition = np.fromiter((p for _, _, p in keys), np.int32, size)
        committed = np.fromiter((offset for _, offset in items), np.int64, size)
        end = np.fromiter((ends.get((t, p), NO_LAG) for _, t, p in keys), np.int64, size)
        lag = np.where(end >= 0, np.maximum(end - committed, 0), NO_LAG)
        rows = self._windows.rows(keys)
        self._windows.append(rows, now, committed, end, lag)
        consume, produce, state = self._judge(rows, group, names, look)
        owner = np.zeros(size, np.int32)
        position = (
            {key: index for index, key in enumerate(keys)} if any(m.owners for m in look.members.values()) else {}
        )
        for name, members in look.members.items():
            for (t, p), who in members.owners.items():
                index = position.get((name, t, p))
                if index is not None:
                    owner[index] = names.setdefault(who, len(names))
        table = PartitionTable(
            tuple(names),
            group,
            topic,
            partition,
            committed,
            end,
            lag,
            self._lag_s(keys, topic, partition, committed, lag, now).astype(np.float32),
            consume.astype(np.float32),
            produce.astype(np.float32),
            state.astype(np.int8),
            owner,
            np.zeros(size, bool),
        )
        _mark_hot(table)
        groups = self._group_states(table, look)
        marks = self._marks(look, groups)
        ordered = tuple(sorted(groups, key=lambda g: (-STATE_CODE[g.state], g.group, g.topic)))
        self.latest = LagFrame(now, ordered, table, marks)
        return self.latest

    # -- pieces ------------------------------------------------------------------------------

    def _judge(
        self, rows: np.ndarray, group: np.ndarray, names: dict[str, int], look: GroupOffsets
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(consumed/s, produced/s, Burrow's state code) per row, over each row's window."""
        count, times, committed, ends, lags = self._windows.ordered(rows)
        size, width = committed.shape
        last = np.maximum(count - 1, 0)
        at_last = np.arange(size), last
        seconds = (times[at_last] - times[:, 0]) / SECOND_NS
        pairs = np.arange(1, width)[None, :] < count[:, None]  # (row, step) valid step from the previous look
        steps = np.diff(committed, axis=1)
        rewound = ((steps < 0) & pairs).any(axis=1)
        timed = seconds > 0
        safe = np.where(timed, seconds, 1.0)
        known_ends = (ends[:, 0] >= 0) & (ends[at_last] >= 0)
        produce = np.where(timed & known_ends, np.maximum(ends[at_last] - ends[:, 0], 0) / safe, 0.0)
        consume = np.where(timed & ~rewound, (committed[at_last] - committed[:, 0]) / safe, np.nan)
        state = np.zeros(size, np.int8)
        lag_now = lags[at_last]
        judged = (count >= self.window_looks) & (lag_now > 0) & (lags.min(axis=1) > 0)
        stuck = judged & ~rewound & (committed[:, 0] == committed[at_last])
        alive_of = np.full(len(names), -1, np.int8)  # per name: 1 members, 0 none, -1 not described
        for name, members in look.members.items():
            if name in names and members.alive is not None:
                alive_of[names[name]] = 1 if members.alive else 0
        alive = alive_of[group]
        advanced = self._windows.advanced[rows]
        growing = ((np.diff(lags, axis=1) >= 0) | ~pairs).all(axis=1)
        state[judged & ~stuck & ~rewound & growing] = STATE_CODE["warning"]
        state[judged & rewound] = STATE_CODE["rewound"]
        state[stuck & (alive == 1)] = STATE_CODE["stalled"]
        state[stuck & (alive != 1) & (advanced | (alive == -1))] = STATE_CODE["stopped"]
        state[stuck & (alive == 0) & ~advanced] = STATE_CODE["no consumers"]
        return consume, produce, state

    def _lag_s(
        self,
        keys: list[tuple[str, str, int]],
        topic: np.ndarray,
        partition: np.ndarray,
        committed: np.ndarray,
        lag: np.ndarray,
        now_ns: int,
    ) -> np.ndarray:
        """Age in seconds of each row's message at the committed offset (0 without lag, nan when unknown)."""
        ages = np.where(lag == 0, 0.0, np.nan)
        waiting = np.flatnonzero(lag > 0)
        if not waiting.size:
            return ages
        key = topic[waiting].astype(np.int64) << 32 | partition[waiting].astype(np.int64)
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1], True])
        for low, high in itertools.pairwise(bounds.tolist()):
            picked = waiting[order[low:high]]
            _, name, number = keys[picked[0]]
            offsets = committed[picked]
            written = np.full(offsets.shape, np.nan)
            read = self._read_times.get((name, number))
            if read is not None:
                found = read.at(offsets)
                written = np.where(found > 0, found.astype(np.float64), np.nan)
            missing = np.isnan(written)
            table = self._watermarks.get((name, number))
            if missing.any() and table is not None:
                written[missing] = table.written_many(offsets[missing])
            ages[picked] = np.maximum((now_ns - written) / SECOND_NS, 0.0)
        return ages

    def _group_states(self, table: PartitionTable, look: GroupOffsets) -> list[GroupState]:
        """One GroupState per (group, topic): rows are sorted by group, topic, partition."""
        size = len(table)
        if not size:
            return []
        now = look.polled_ns
        pair = table.group.astype(np.int64) << 32 | table.topic.astype(np.int64)
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
        counts = np.diff(np.r_[starts, size])
        known = table.lag >= 0
        lag_sum = np.add.reduceat(np.where(known, table.lag, 0), starts)
        lag_known = np.add.reduceat(known.astype(np.int64), starts) > 0
        ages = np.fmax.reduceat(table.lag_s.astype(np.float64), starts)
        consume = np.add.reduceat(table.consume_per_s.astype(np.float64), starts)  # nan when any is nan
        produce = np.add.reduceat(table.produce_per_s.astype(np.float64), starts)
        worst = np.maximum.reduceat(table.state, starts)
        names = table.names
        found = []
        for index, (start, count) in enumerate(zip(starts.tolist(), counts.tolist(), strict=True)):
            group, topic = names[table.group[start]], names[table.topic[start]]
            lag = int(lag_sum[index]) if lag_known[index] else None
            consumed = None if np.isnan(consume[index]) else float(consume[index])
            produced = float(produce[index])
            eta = behind = None
            if lag and consumed is not None:
                if consumed > produced:
                    eta = lag / (consumed - produced)
                elif produced > consumed:
                    behind = produced - consumed
            state = STATES[int(worst[index])]
            previous = self._states.get((group, topic))
            if previous is None or previous[0] != state:
                since = self._onset(table, start, count, state, now)
                self._states[(group, topic)] = (state, since)
            else:
                since = previous[1]
            rows = slice(start, start + count)
            members = look.members.get(group)
            found.append(
                GroupState(
                    group,
                    topic,
                    state,
                    since,
                    lag,
                    None if np.isnan(ages[index]) else round(float(ages[index]), 3),
                    None if consumed is None else round(consumed, 3),
                    round(produced, 3),
                    None if eta is None else round(eta, 3),
                    None if behind is None else round(behind, 3),
                    count,
                    tuple(table.partition[rows][table.hot[rows]].tolist()),
                    None if members is None else members.members,
                    now,
                )
            )
        return found

    def _onset(self, table: PartitionTable, start: int, count: int, state: str, now_ns: int) -> int:
        """When the evidence for a new state began: the offset stopped moving (stuck states), the window
        began (warning), else this look."""
        if state not in ("stalled", "stopped", "no consumers", "warning"):
            return now_ns
        names = table.names
        rows = [
            self._windows.row_of[(names[table.group[r]], names[table.topic[r]], int(table.partition[r]))]
            for r in range(start, start + count)
            if table.state[r] == STATE_CODE[state]
        ]
        picked = np.asarray(rows, np.int64)
        if state == "warning":
            return int(self._windows.ordered(picked)[1][:, 0].min())
        return int(self._windows.changed_ns[picked].min())

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


def grouped_count(count: int) -> str:
    """1234567 -> `1 234 567` (thin groups read at a glance on a chart and in tables)."""
    return f"{count:,}".replace(",", " ")
