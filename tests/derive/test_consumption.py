"""Committed offsets -> topic → group calls with end-to-end delays, consumer lag, bounded offset memory."""

from __future__ import annotations

import numpy as np

from flowviz.derive.consumption import GroupConsumption, GroupOffsets, OffsetTimes
from flowviz.model.event_batch import UNKNOWN_NS, EventBatchBuilder
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import NO_LATENCY

SECOND_NS = 1_000_000_000
MS = 1_000_000
BASE_NS = 1_700_000_000 * SECOND_NS


def _events(topic: str, partition: int, offsets, *, origin_ns=lambda offset: BASE_NS + offset * MS):
    builder = EventBatchBuilder()
    for offset in offsets:
        builder.append(
            topic=topic,
            partition=partition,
            offset=offset,
            producer="shop",
            event_type="OrderPlaced",
            event_time_ns=origin_ns(offset),
            kafka_time_ns=UNKNOWN_NS,
            event_id=None,
        )
    return builder.build()


def _calls(obs) -> dict:
    """(topic, group) -> (calls, sorted known latencies in ms)."""
    found: dict = {}
    names = obs.names
    for row in range(len(obs)):
        key = (names[obs.source[row]], names[obs.target[row]])
        count, latencies = found.get(key, (0, []))
        latency = int(obs.latency_ns[row])
        found[key] = (count + int(obs.count[row]), latencies + ([latency // MS] if latency != NO_LATENCY else []))
    return {key: (count, sorted(latencies)) for key, (count, latencies) in found.items()}


def test_advances_of_committed_offsets_become_calls_with_end_to_end_delays() -> None:
    consumption = GroupConsumption()
    consumption.note_events(_events("orders", 0, range(10)))  # event times BASE + offset ms
    first = GroupOffsets(BASE_NS + SECOND_NS, {("fast", "orders", 0): 2, ("slow", "orders", 0): 0}, {("orders", 0): 10})
    assert len(consumption.update(first)) == 0  # the first look is the baseline
    assert [(e["group"], e["lag"], e["consumed"]) for e in consumption.status()] == [("slow", 10, 0), ("fast", 8, 0)]
    second = GroupOffsets(
        BASE_NS + 2 * SECOND_NS, {("fast", "orders", 0): 10, ("slow", "orders", 0): 3}, {("orders", 0): 12}
    )
    obs = consumption.update(second)
    assert _calls(obs) == {
        ("orders", "fast"): (8, [2000 - offset for offset in range(9, 1, -1)]),  # offsets 2..9, consumed by 2 s
        ("orders", "slow"): (3, [1998, 1999, 2000]),  # offsets 0..2
    }
    assert set(obs.source_kind.tolist()) == {NodeKind.TOPIC}
    assert set(obs.target_kind.tolist()) == {NodeKind.SERVICE}
    assert set(obs.connection_type.tolist()) == {ConnectionType.MESSAGING_SYSTEM}
    assert {obs.names[v] for v in obs.via.tolist()} == {"orders"}
    assert set(obs.time_ns.tolist()) == {BASE_NS + 2 * SECOND_NS}  # placed at the look
    status = {e["group"]: e for e in consumption.status()}
    assert status["fast"]["lag"] == 2
    assert status["slow"]["lag"] == 9
    assert status["slow"]["consumed"] == 3
    assert status["slow"]["e2e_p50_ms"] == 1999.0
    assert status["slow"]["e2e_latest_ms"] == 1998.0  # of offset 2, the last one consumed


def test_lag_sums_partitions_and_uses_what_was_read_when_the_watermark_is_behind() -> None:
    consumption = GroupConsumption()
    committed = {("g", "t", 0): 4, ("g", "t", 1): 0, ("g", "t", 2): -1001}  # partition 2: nothing committed
    consumption.update(GroupOffsets(BASE_NS, committed, {("t", 0): 5, ("t", 1): 1}), read_to={("t", 1): 7})
    (entry,) = consumption.status()
    assert (entry["lag"], entry["partitions"]) == (1 + 7, 2)


def test_unknown_ends_give_no_lag_and_a_failed_look_changes_nothing() -> None:
    consumption = GroupConsumption()
    consumption.update(GroupOffsets(BASE_NS, {("g", "t", 0): 4}, {}))
    assert consumption.status()[0]["lag"] is None
    assert len(consumption.update(GroupOffsets(BASE_NS, {}, {}, error="broker down"))) == 0
    assert consumption.error == "broker down"
    assert consumption.status()[0]["partitions"] == 1


def test_offsets_not_read_have_no_latency_and_those_beyond_the_reader_wait() -> None:
    consumption = GroupConsumption()
    consumption.note_events(_events("t", 0, range(5, 10)))  # offsets 0..4 were never read (started later)
    consumption.update(GroupOffsets(BASE_NS, {("g", "t", 0): 0}, {}), read_to={("t", 0): 10})
    obs = consumption.update(GroupOffsets(BASE_NS + SECOND_NS, {("g", "t", 0): 14}, {}), read_to={("t", 0): 10})
    assert _calls(obs) == {("t", "g"): (10, [991, 992, 993, 994, 995])}  # 0..4 without latency, 10..13 wait
    consumption.note_events(_events("t", 0, range(10, 14)))
    obs = consumption.update(GroupOffsets(BASE_NS + 3 * SECOND_NS, {("g", "t", 0): 14}, {}), read_to={("t", 0): 14})
    # consumed before the look that first saw the commit (1 s), not before this one (3 s)
    assert _calls(obs) == {("t", "g"): (4, [987, 988, 989, 990])}
    assert consumption.status()[0]["consumed"] == 14


def test_a_group_reset_to_an_earlier_offset_starts_a_new_baseline() -> None:
    consumption = GroupConsumption()
    consumption.update(GroupOffsets(BASE_NS, {("g", "t", 0): 50}, {("t", 0): 60}))
    assert len(consumption.update(GroupOffsets(BASE_NS + 1, {("g", "t", 0): 10}, {("t", 0): 60}))) == 0
    obs = consumption.update(GroupOffsets(BASE_NS + 2, {("g", "t", 0): 15}, {("t", 0): 60}))
    assert _calls(obs) == {("t", "g"): (5, [])}
    assert consumption.status()[0]["lag"] == 45


def test_offset_times_are_bounded_and_forget_a_partition_read_again() -> None:
    times = OffsetTimes(capacity=1_000)
    for start in range(0, 5_000, 100):
        offsets = np.arange(start, start + 100)
        times.add(offsets, offsets * 10)
    assert 1_000 <= len(times) < 1_100
    assert times.lookup(0, 3_900).size == 0
    assert times.lookup(4_990, 5_100).tolist() == [offset * 10 for offset in range(4_990, 5_000)]
    times.add(np.arange(0, 3), np.array([7, UNKNOWN_NS, 9]))  # read from the beginning again
    assert len(times) == 3
    assert times.lookup(0, 10).tolist() == [7, 9]  # unknown times are left out
