"""Lag in time, trend, Burrow's states, owners, hot partitions and rebalances from scripted looks (no broker)."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.derive.consumer_lag import WINDOW_LOOKS, LagTracker, WatermarkTimes, group_states
from flowviz.derive.consumption import GroupMembers, GroupOffsets
from flowviz.model.event_batch import UNKNOWN_NS, EventBatchBuilder

S = 1_000_000_000


def test_watermark_times_interpolate_between_the_looks_around_the_moment_an_offset_was_written() -> None:
    table = WatermarkTimes()
    table.add(10 * S, 100)
    table.add(11 * S, 100)  # nothing written between 10 s and 11 s
    table.add(12 * S, 200)  # offsets 100..199 written between 11 s and 12 s
    assert table.written_ns(99 + 50) == pytest.approx(11.5 * S)
    assert table.written_ns(199) == pytest.approx(12 * S)
    assert table.written_ns(200) is None  # not written yet
    # before the table's first point: extrapolated at its mean rate (100 offsets in 2 s)
    assert table.written_ns(49) == pytest.approx(9 * S)


def test_watermark_times_stay_bounded_and_keep_their_range() -> None:
    table = WatermarkTimes(capacity=64)
    for second in range(1000):
        table.add(second * S, second * 10)
    assert len(table) <= 64
    assert table.written_ns(9_989) == pytest.approx(999 * S, rel=1e-6)  # 10 per second, linear
    assert table.written_ns(5_004) == pytest.approx(500.5 * S, rel=1e-3)  # thinned, still linear


def _look(second: float, committed: dict, ends: dict, members: dict | None = None) -> GroupOffsets:
    return GroupOffsets(int(second * S), committed, ends, "", members or {})


def _run(looks: list[GroupOffsets], tracker: LagTracker | None = None):
    tracker = tracker or LagTracker()
    frames = [tracker.update(look) for look in looks]
    return tracker, frames


def _states(frame) -> dict[str, str]:
    return {state.group: state.state for state in group_states(frame)}


def test_burrow_states_from_scripted_groups() -> None:
    alive = GroupMembers("stable", 1)
    empty = GroupMembers("empty", 0)
    looks = []
    for step in range(WINDOW_LOOKS + 2):
        end = 100 + 10 * step  # the producer writes 10 per look
        committed = {
            ("ok", "t", 0): end if step % 3 == 0 else end - 5,  # catches up now and then
            ("warning", "t", 0): 50 + 5 * step,  # consumes, but slower than the producer
            ("stalled", "t", 0): 40,  # a member is there, nothing moves
            ("stopped", "t", 0): 30 + 5 * min(step, 1),  # consumed while watched, then nothing; nobody there
            ("none", "t", 0): 20,  # nobody there, never consumed while watched
            ("rewound", "t", 0): 60 + 5 * step if step != WINDOW_LOOKS else 10,
        }
        members = {"stalled": alive, "stopped": empty, "none": empty, "ok": alive, "warning": alive}
        looks.append(_look(step * 1.5, committed, {("t", 0): end}, members))
    _, frames = _run(looks)
    assert set(_states(frames[WINDOW_LOOKS - 2]).values()) == {"ok"}  # judged once the window is full
    assert _states(frames[-1]) == {
        "ok": "ok",
        "warning": "warning",
        "stalled": "stalled",
        "stopped": "stopped",
        "none": "no consumers",
        "rewound": "rewound",
    }
    by_group = {state.group: state for state in frames[-1].groups}
    assert [state.state for state in frames[-1].groups][:2] == ["stopped", "stalled"]  # most severe first
    assert by_group["stalled"].since_ns == 0  # its offset never moved while watched
    assert by_group["stopped"].since_ns == int(1.5 * S)  # the look of its last advance
    warning = by_group["warning"]
    assert warning.consume_per_s == pytest.approx(5 / 1.5, rel=1e-3)
    assert warning.produce_per_s == pytest.approx(10 / 1.5, rel=1e-3)
    assert warning.behind_per_s == pytest.approx(5 / 1.5, rel=1e-3)
    assert warning.eta_s is None
    assert "falling behind at 3 msg/s" in warning.describe()


def test_eta_when_the_consumer_is_faster_and_time_lag_from_read_timestamps() -> None:
    tracker = LagTracker()
    builder = EventBatchBuilder()
    for offset in range(1000):  # written at 100/s from t = 0
        builder.append(
            topic="t",
            partition=0,
            offset=offset,
            producer="p",
            event_type="E",
            event_time_ns=UNKNOWN_NS,
            kafka_time_ns=offset * S // 100,
            event_id=None,
        )
    tracker.note_events(builder.build())
    frame = None
    for step in range(WINDOW_LOOKS):
        second = 10.0 + step
        frame = tracker.update(_look(second, {("g", "t", 0): 200 + 50 * step}, {("t", 0): 1000}))
    state = frame.groups[0]
    assert state.lag == 1000 - 650
    assert state.lag_s == pytest.approx(19.0 - 6.5)  # offset 650 was written at 6.5 s
    assert state.consume_per_s == pytest.approx(50.0)
    assert state.eta_s == pytest.approx(350 / 50)
    assert state.state == "ok"  # lag shrinking
    assert "catching up in 7.0 s" in state.describe()


def test_owners_rebalance_marks_and_hot_partitions() -> None:
    before = GroupMembers("stable", 2, {("t", 0): "a@h1", ("t", 1): "a@h1", ("t", 2): "b@h2"})
    after = GroupMembers("stable", 2, {("t", 0): "a@h1", ("t", 1): "b@h2", ("t", 2): "b@h2"})
    looks = []
    for step in range(4):
        ends = {("t", 0): 1000 * step, ("t", 1): 100 * step, ("t", 2): 90 * step}  # partition 0 is hot
        committed = {("g", "t", p): 0 for p in range(3)}
        looks.append(_look(step, committed, ends, {"g": before if step < 2 else after}))
    _, frames = _run(looks)
    assert [mark.text for frame in frames for mark in frame.marks] == ["rebalance: 1 partitions changed owner"]
    assert frames[2].marks[0].time_ns == 2 * S
    rows = frames[-1].partitions.rows("g", "t")
    assert [row["owner"] for row in rows] == ["a@h1", "b@h2", "b@h2"]
    assert [row["hot"] for row in rows] == [True, False, False]
    assert frames[-1].groups[0].hot_partitions == (0,)
    assert rows[0]["produce_per_s"] == pytest.approx(1000.0)


def test_group_offsets_survive_a_recording_round_trip() -> None:
    look = GroupOffsets(5, {("g", "t", 1): 7}, {("t", 1): 9}, "x", {"g": GroupMembers("stable", 1, {("t", 1): "c@h"})})
    again = GroupOffsets.from_record(look.to_record())
    assert again == look


def test_lag_history_reads_the_frame_at_a_time_and_stays_bounded() -> None:
    from flowviz.store.lag_history import LagHistory

    tracker = LagTracker()
    history = LagHistory(budget_bytes=40_000)
    for step in range(400):
        history.add(tracker.update(_look(step, {("g", "t", 0): step}, {("t", 0): 2 * step})))
    assert history.nbytes <= 40_000
    assert history.at(399 * S).groups[0].lag == 399
    assert history.at(-1) is None
    old = history.at(int(100.5 * S))
    assert old is not None
    assert old.polled_ns <= 100.5 * S
    assert old.groups[0].lag == old.polled_ns // S
    series = history.series("g", "t", 350 * S, 400 * S)
    assert np.array_equal(series["lag"], series["time_ns"] // S)
    assert series["time_ns"].size == 50  # the newest half keeps every look
