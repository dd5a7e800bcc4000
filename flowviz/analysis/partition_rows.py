"""The partition table's Qt-free model: a consumer group's partitions at the cursor (offsets, lag in messages and
time, trend, Burrow state, owner), chosen by the selected node or edge, sortable by any column."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from flowviz.derive.consumer_lag import STATES, LagFrame, duration_text, grouped_count
from flowviz.store.lag_history import LagHistory

COLUMNS = ("group", "topic", "partition", "offset", "end", "lag", "lag time", "trend", "state", "owner")
TREND_STEADY_PER_S = 0.5  # lag changing slower than this (messages/s) reads as steady
NO_VALUE = "–"


@dataclass(frozen=True, slots=True)
class PartitionRow:
    """One partition of one group at a look; None where the look could not tell."""

    group: str
    topic: str
    partition: int
    committed: int  # the group's current (committed) offset
    end: int | None  # the partition's end offset (high watermark)
    lag: int | None  # messages
    lag_s: float | None  # age of the oldest unconsumed message
    trend_per_s: float | None  # lag change in messages/s (positive: falling behind)
    state: str  # one of STATES
    owner: str | None  # the group member that owns the partition
    hot: bool  # written much faster than the topic's other partitions

    def texts(self) -> tuple[str, ...]:
        """The row's cells, in `COLUMNS` order."""
        return (
            self.group,
            self.topic,
            f"{self.partition} hot" if self.hot else str(self.partition),
            _count(self.committed) if self.committed >= 0 else NO_VALUE,
            _count(self.end),
            _count(self.lag),
            NO_VALUE if self.lag_s is None else duration_text(self.lag_s) if self.lag else "0 s",
            trend_text(self.trend_per_s),
            self.state,
            self.owner or NO_VALUE,
        )

    def sort_value(self, column: int) -> tuple:
        """A key that sorts the column's values (unknown values last, whichever the direction)."""
        value = (
            self.group,
            self.topic,
            self.partition,
            self.committed,
            self.end,
            self.lag,
            self.lag_s,
            self.trend_per_s,
            STATES.index(self.state),
            self.owner,
        )[column]
        return (value is None, value if value is not None else 0)


def trend_text(per_s: float | None) -> str:
    """`↑ 40/s` (lag growing), `↓ 12/s` (catching up), `steady`, or `–` when the rates are not known yet."""
    if per_s is None or math.isnan(per_s):
        return NO_VALUE
    if abs(per_s) < TREND_STEADY_PER_S:
        return "steady"
    return f"{'↑' if per_s > 0 else '↓'} {abs(per_s):,.0f}/s"


def _count(value: int | None) -> str:
    return NO_VALUE if value is None else grouped_count(value)


def partition_rows(
    frame: LagFrame | None, names: Iterable[str], *, pair: tuple[str, str] | None = None
) -> list[PartitionRow]:
    """The partitions of the groups and topics named `names` (a selected group or topic node), or of an edge's
    ends: with `pair`, the rows whose group and topic are both among `names` when there are any (topic → group),
    else those of its topics (producer → topic: every group on it). By group, topic, partition."""
    if frame is None or not len(frame.partitions):
        return []
    table = frame.partitions
    index = {name: i for i, name in enumerate(table.names) if i}
    codes = np.asarray([index[name] for name in set(names) if name in index], np.int32)
    in_group, in_topic = np.isin(table.group, codes), np.isin(table.topic, codes)
    if pair is not None and (in_group & in_topic).any():
        chosen = np.flatnonzero(in_group & in_topic)
    elif pair is not None:
        chosen = np.flatnonzero(in_topic)
    else:
        chosen = np.flatnonzero(in_group | in_topic)
    rows = [_row(frame, int(row)) for row in chosen]
    return sorted(rows, key=lambda r: (r.group, r.topic, r.partition))


def _row(frame: LagFrame, row: int) -> PartitionRow:
    table, names = frame.partitions, frame.partitions.names
    lag_s, consume = float(table.lag_s[row]), float(table.consume_per_s[row])
    end, lag = int(table.end[row]), int(table.lag[row])
    return PartitionRow(
        group=names[table.group[row]],
        topic=names[table.topic[row]],
        partition=int(table.partition[row]),
        committed=int(table.committed[row]),
        end=end if end >= 0 else None,
        lag=lag if lag >= 0 else None,
        lag_s=None if math.isnan(lag_s) else lag_s,
        trend_per_s=None if math.isnan(consume) else float(table.produce_per_s[row]) - consume,
        state=STATES[int(table.state[row])],
        owner=names[table.owner[row]] or None,
        hot=bool(table.hot[row]),
    )


class PartitionTableModel:
    """The rows the partition table shows: the selection's partitions in the look at or before the cursor
    (`cursor_ns()`: None follows the latest look), kept in the chosen sort order.

    `refresh()` rebuilds them only when the history, the cursor or the selection changed and says whether
    they did; `version` counts the rebuilds (a view redraws when it moved)."""

    def __init__(self, history: LagHistory, cursor_ns: Callable[[], int | None]) -> None:
        self.history = history
        self.cursor_ns = cursor_ns
        self.rows: list[PartitionRow] = []
        self.polled_ns: int | None = None  # the look the rows come from
        self.version = 0
        self.sort_column: int | None = None
        self.sort_descending = False
        self._names: tuple[str, ...] = ()
        self._pair: tuple[str, str] | None = None
        self._seen: tuple | None = None

    def select(self, names: Iterable[str] = (), *, pair: tuple[str, str] | None = None) -> None:
        """What to show: a group or topic node's name, or an edge's end names (with `pair`, see `partition_rows`)."""
        self._names, self._pair = tuple(names), pair
        self.refresh()

    def sort(self, column: int | None, *, descending: bool = False) -> None:
        """Order the rows by a column (None: by group, topic and partition)."""
        self.sort_column, self.sort_descending = column, descending
        self._order()
        self.version += 1

    def refresh(self) -> bool:
        frame = self.history.at(self.cursor_ns())
        key = (id(frame), self._names, self._pair)
        if key == self._seen:
            return False
        self._seen = key
        self.rows = partition_rows(frame, self._names, pair=self._pair) if self._names else []
        self.polled_ns = frame.polled_ns if frame is not None and self.rows else None
        self._order()
        self.version += 1
        return True

    def _order(self) -> None:
        if self.sort_column is None:
            self.rows.sort(key=lambda r: (r.group, r.topic, r.partition))
            return
        column = self.sort_column
        known = [r for r in self.rows if r.sort_value(column)[0] is False]
        unknown = [r for r in self.rows if r.sort_value(column)[0] is True]
        known.sort(key=lambda r: r.sort_value(column), reverse=self.sort_descending)
        self.rows = known + unknown

    def constant_columns(self) -> frozenset[int]:
        """The group and topic columns when every row has the same one (the summary names it instead)."""
        return frozenset(
            column
            for column, values in ((0, {r.group for r in self.rows}), (1, {r.topic for r in self.rows}))
            if len(values) == 1
        )

    def summary(self) -> str:
        """A line over the table: which groups on which topics, how many partitions, their total lag and oldest."""
        if not self.rows:
            return ""
        groups, topics = sorted({r.group for r in self.rows}), sorted({r.topic for r in self.rows})
        who = groups[0] if len(groups) == 1 else f"{len(groups)} groups"
        where = topics[0] if len(topics) == 1 else f"{len(topics)} topics"
        lag = sum(r.lag for r in self.rows if r.lag is not None)
        worst = max((r.lag_s for r in self.rows if r.lag_s is not None and r.lag), default=None)
        text = f"{who} on {where}: {len(self.rows)} partitions · lag {_count(lag)}"
        return text + (f" (oldest {duration_text(worst)})" if worst is not None else "")
