"""Events -> producer → topic calls (latency = Kafka timestamp - event time), duplicate ids counted."""

from __future__ import annotations

import numpy as np

from flowviz.derive.events import DUPLICATE_ID, DuplicateIds, EventDeriver
from flowviz.model.event_batch import UNKNOWN_NS, EventBatchBuilder
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import NO_LATENCY
from flowviz.model.problems import Problems

SECOND_NS = 1_000_000_000
BASE_NS = 1_700_000_000 * SECOND_NS


def _batch(rows, *, label: str = ""):
    """rows: (topic, partition, offset, producer, event_time_ns, kafka_time_ns, id)."""
    builder = EventBatchBuilder(label=label)
    for topic, partition, offset, producer, event_ns, kafka_ns, event_id in rows:
        builder.append(
            topic=topic,
            partition=partition,
            offset=offset,
            producer=producer,
            event_type="OrderPlaced",
            event_time_ns=event_ns,
            kafka_time_ns=kafka_ns,
            event_id=event_id,
        )
    return builder.build()


def test_one_messaging_call_per_event_from_producer_to_topic() -> None:
    batch = _batch(
        [
            ("orders", 0, 0, "shop", BASE_NS - 250_000_000, BASE_NS, "a"),  # 250 ms to reach the topic
            ("orders", 0, 1, "shop", UNKNOWN_NS, BASE_NS + SECOND_NS, "b"),  # no event time: no latency
            ("orders", 1, 0, "billing", BASE_NS + 5 * SECOND_NS, BASE_NS + 2 * SECOND_NS, "c"),  # clock skew
            ("payments", 0, 0, "billing", BASE_NS + 3 * SECOND_NS, UNKNOWN_NS, "d"),  # no Kafka time: event time
        ]
    )
    deriver = EventDeriver(problems=Problems())
    obs = deriver.process(batch)
    names = obs.names
    assert [(names[s], names[t], names[v]) for s, t, v in zip(obs.source, obs.target, obs.via, strict=True)] == [
        ("shop", "orders", "orders"),
        ("shop", "orders", "orders"),
        ("billing", "orders", "orders"),
        ("billing", "payments", "payments"),
    ]
    assert obs.latency_ns.tolist() == [250_000_000, NO_LATENCY, NO_LATENCY, NO_LATENCY]
    assert obs.time_ns.tolist() == [BASE_NS, BASE_NS + SECOND_NS, BASE_NS + 2 * SECOND_NS, BASE_NS + 3 * SECOND_NS]
    assert set(obs.source_kind.tolist()) == {NodeKind.SERVICE}
    assert set(obs.target_kind.tolist()) == {NodeKind.TOPIC}
    assert set(obs.connection_type.tolist()) == {ConnectionType.MESSAGING_SYSTEM}
    assert obs.count.tolist() == [1, 1, 1, 1]
    assert not obs.failed.any()
    assert deriver.events == 4
    assert deriver.per_topic == {"orders": 3, "payments": 1}


def test_duplicate_ids_are_counted_with_where_and_still_drawn() -> None:
    problems = Problems()
    deriver = EventDeriver(problems=problems)
    first = _batch([("orders", 0, i, "shop", BASE_NS, BASE_NS, f"id-{i}") for i in range(5)], label="rec")
    again = _batch(
        [
            ("orders", 0, 5, "shop", BASE_NS, BASE_NS, "id-1"),  # duplicate
            ("orders", 0, 6, "other", BASE_NS, BASE_NS, "id-1"),  # another producer's id 1: not a duplicate
            ("payments", 0, 0, "shop", BASE_NS, BASE_NS, "id-2"),  # another topic: not a duplicate
            ("orders", 0, 3, "shop", BASE_NS, BASE_NS, "id-3"),  # the same message read again: not a duplicate
            ("orders", 1, 9, "shop", BASE_NS, BASE_NS, "id-4"),  # duplicate (another partition)
            ("orders", 1, 10, "shop", BASE_NS, BASE_NS, None),  # no id: not checked
        ]
    )
    assert len(deriver.process(first)) == 5
    assert len(deriver.process(again)) == 6
    assert deriver.duplicates.counts == {"orders": 2}
    assert problems.as_dict()[DUPLICATE_ID] == {"count": 2, "first": ["orders[0]@5 (id id-1)", "orders[1]@9 (id id-4)"]}


def test_duplicate_memory_is_bounded_per_topic() -> None:
    ids = DuplicateIds(ids_per_topic=100)
    for offset in range(1_000):
        assert not ids.check("t", "p", str(offset), 0, offset)
    assert len(ids._seen["t"]) == 100
    assert not ids.check("t", "p", "0", 0, 5_000)  # forgotten long ago
    assert ids.check("t", "p", "999", 0, 5_001)  # recent: remembered
    assert ids.total == 1


def test_an_empty_batch_gives_nothing() -> None:
    deriver = EventDeriver(problems=Problems())
    assert len(deriver.process(_batch([]))) == 0
    assert deriver.events == 0


def test_time_columns() -> None:
    batch = _batch(
        [
            ("t", 0, 0, "p", 5, 7, None),
            ("t", 0, 1, "p", UNKNOWN_NS, 7, None),
            ("t", 0, 2, "p", 5, UNKNOWN_NS, None),
            ("t", 0, 3, "p", UNKNOWN_NS, UNKNOWN_NS, None),
        ]
    )
    assert batch.time_ns.tolist() == [7, 7, 5, 0]
    assert batch.origin_ns.tolist() == [5, 7, 5, UNKNOWN_NS]
    assert batch.where(2) == "t[0]@2"
    assert np.array_equal(batch.partition, [0, 0, 0, 0])
