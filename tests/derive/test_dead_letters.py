"""Dead-letter and retry topics: names, origins, and their messages as failed calls."""

from __future__ import annotations

import struct

import numpy as np

from flowviz.derive.dead_letters import DeadLetterDeriver, DeadLetterRules
from flowviz.model.graph_kinds import NodeKind

S = 1_000_000_000


def test_rules_name_kind_and_origin() -> None:
    rules = DeadLetterRules()
    cases = {
        "orders.DLT": ("dead letter", "orders"),
        "orders-dlq": ("dead letter", "orders"),
        "Payments_DLQ": ("dead letter", "Payments"),
        "orders-retry-0": ("retry", "orders"),
        "orders-retry-1000": ("retry", "orders"),
        "orders.retry": ("retry", "orders"),
        "orders": (None, None),
        "dlq-admin": (None, None),
    }
    assert {topic: (rules.kind(topic), rules.origin(topic)) for topic in cases} == cases
    custom = DeadLetterRules.parse(["errors.*, *.parking-lot"])
    assert (custom.kind("errors.orders"), custom.origin("errors.orders")) == ("dead letter", None)
    assert (custom.kind("orders.parking-lot"), custom.origin("orders.parking-lot")) == ("dead letter", "orders")
    assert custom.kind("orders.DLT") is None  # patterns given replace the defaults
    assert DeadLetterRules.parse([]).patterns == DeadLetterRules().patterns
    assert DeadLetterRules().mask(["a", "a.DLT", "b-retry-2"]).tolist() == [False, True, True]


def test_messages_become_failed_calls_from_the_group_or_the_origin_topic() -> None:
    deriver = DeadLetterDeriver()
    spring = {
        "kafka_dlt-original-topic": b"orders",
        "kafka_dlt-original-consumer-group": b"billing",
        "kafka_dlt-original-timestamp": struct.pack(">q", 100_000),  # ms
        "kafka_dlt-exception-message": b"NullPointerException",
    }
    assert deriver.add("orders.DLT", 102 * S, spring)
    assert deriver.add("payments-dlq", 103 * S, {"__connect.errors.topic": b"payments-v2"})
    assert deriver.add("shipping-retry-0", 104 * S, {})
    assert not deriver.add("orders", 105 * S, {})
    calls = deriver.take()
    names = calls.names
    rows = [
        (names[s], names[t], NodeKind(k), bool(f), int(latency))
        for s, t, k, f, latency in zip(
            calls.source, calls.target, calls.source_kind, calls.failed, calls.latency_ns, strict=True
        )
    ]
    assert rows == [
        ("billing", "orders.DLT", NodeKind.SERVICE, True, 2 * S),  # gave up 2 s after the original message
        ("payments-v2", "payments-dlq", NodeKind.TOPIC, True, -1),
        ("shipping", "shipping-retry-0", NodeKind.TOPIC, True, -1),
    ]
    assert np.array_equal(calls.via, calls.target)
    assert len(deriver.take()) == 0
    status = deriver.status()
    assert status["orders.DLT"] == {
        "kind": "dead letter",
        "origin": "orders",
        "messages": 1,
        "reasons": {"NullPointerException": 1},
    }
    assert status["shipping-retry-0"]["kind"] == "retry"
