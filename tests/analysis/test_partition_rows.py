"""The partition table's model: rows of the selected group, topic or edge at the cursor, sorted, following the looks."""

from __future__ import annotations

import pytest

from flowviz.analysis.partition_rows import PartitionTableModel, partition_rows, trend_text
from flowviz.derive.consumer_lag import LagTracker
from flowviz.derive.consumption import GroupMembers, GroupOffsets
from flowviz.store.lag_history import LagHistory

S = 1_000_000_000


def _history(steps: int = 12) -> LagHistory:
    """Group `fast` keeps up on both partitions of `orders`; `slow` falls behind on partition 1 and never
    commits on partition 0; `audit` reads another topic."""
    tracker, history = LagTracker(), LagHistory()
    members = {"fast": GroupMembers("stable", 2, {("orders", 0): "f1@h", ("orders", 1): "f2@h"})}
    for step in range(steps):
        ends = {("orders", 0): 100 * step, ("orders", 1): 20 * step, ("audit", 0): 5 * step}
        committed = {
            ("fast", "orders", 0): 100 * step,
            ("fast", "orders", 1): 20 * step,
            ("slow", "orders", 1): 10 * step,
            ("audit-reader", "audit", 0): 5 * step,
        }
        history.add(tracker.update(GroupOffsets(step * S, committed, ends, "", members)))
    return history


def test_rows_of_a_group_a_topic_and_an_edge() -> None:
    frame = _history().at()
    slow = partition_rows(frame, ["slow"])
    assert [(r.group, r.topic, r.partition) for r in slow] == [("slow", "orders", 1)]
    row = slow[0]
    assert (row.committed, row.end, row.lag) == (110, 220, 110)
    assert row.trend_per_s == pytest.approx(10.0)  # written at 20/s, read at 10/s
    assert row.lag_s == pytest.approx(5.5, abs=0.6)  # offset 110 was written at 5.5 s; the look is at 11 s
    assert row.state == "warning"
    assert row.owner is None
    # a topic node: every group on it; owners where the group's membership says them
    topic = partition_rows(frame, ["orders"])
    assert [(r.group, r.partition, r.owner) for r in topic] == [
        ("fast", 0, "f1@h"),
        ("fast", 1, "f2@h"),
        ("slow", 1, None),
    ]
    assert topic[0].hot
    assert not topic[1].hot
    # an edge orders → fast: only that pair; producer → orders: every group on the topic
    assert {r.group for r in partition_rows(frame, ["orders", "fast"], pair=("orders", "fast"))} == {"fast"}
    assert len(partition_rows(frame, ["shop", "orders"], pair=("shop", "orders"))) == 3
    assert partition_rows(frame, ["nobody"]) == []


def test_texts_say_lag_time_trend_and_unknowns() -> None:
    row = partition_rows(_history().at(), ["slow"])[0]
    texts = dict(
        zip(
            ("group", "topic", "partition", "offset", "end", "lag", "time", "trend", "state", "owner"),
            row.texts(),
            strict=True,
        )
    )
    assert texts["lag"] == "110"
    assert texts["trend"] == "↑ 10/s"
    assert texts["state"] == "warning"
    assert texts["owner"] == "–"
    assert trend_text(-12.4) == "↓ 12/s"
    assert trend_text(0.1) == "steady"
    assert trend_text(None) == "–"


def test_model_follows_the_cursor_and_sorts() -> None:
    history = _history()
    cursor: list[int | None] = [None]
    model = PartitionTableModel(history, lambda: cursor[0])
    model.select(["orders"])
    assert model.polled_ns == 11 * S
    version = model.version
    assert model.refresh() is False
    assert model.version == version
    model.sort(5, descending=True)  # lag, largest first
    assert next((r.group, r.partition) for r in model.rows) == ("slow", 1)
    cursor[0] = 4 * S  # scrubbed back: the look at 4 s
    assert model.refresh() is True
    assert model.polled_ns == 4 * S
    assert next(r.lag for r in model.rows) == 40  # still sorted by lag: slow's 80 - 40
    model.sort(None)
    assert [(r.group, r.partition) for r in model.rows] == [("fast", 0), ("fast", 1), ("slow", 1)]
    assert model.summary().startswith("2 groups on orders: 3 partitions · lag 40")
    assert model.constant_columns() == {1}  # one topic: its column goes, the summary names it
    model.select(["fast", "orders"], pair=("orders", "fast"))
    assert {r.group for r in model.rows} == {"fast"}
    cursor[0] = -S  # before the first look
    model.refresh()
    assert model.rows == []
    assert model.polled_ns is None
