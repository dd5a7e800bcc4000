"""The e-commerce platform: its topology (20 services, Kafka fan-out) and its incident story."""

from __future__ import annotations

import pytest

from flowviz.sim import Effect, default_script, ecommerce_platform
from flowviz.sim.topology import NodeType


def test_topology_is_the_platform_support_engineers_know() -> None:
    topology = ecommerce_platform()
    summary = topology.summary()
    assert 45 <= summary["nodes"] <= 55
    assert summary["service"] == 20
    assert summary["topic"] == 5
    for topic in topology.topics:
        assert 2 <= len(topic.subscriptions) <= 4
    for name in ("OrderPlaced", "PaymentProcessed", "InventoryUpdated", "ShipmentCreated"):
        assert topology.node_type(name) is NodeType.TOPIC
    assert {s.style for t in topology.topics for s in t.subscriptions} == {"child", "link"}
    assert topology.node_type("payments-db") is NodeType.DATABASE
    assert topology.node_type("session-cache") is NodeType.CACHE
    assert topology.node_type("api.stripe.com") is NodeType.EXTERNAL


def test_default_script_tells_the_demo_story_every_ten_minutes() -> None:
    script = default_script()
    assert script.cycle_s == 600
    names = [i.name for i in script.incidents]
    assert names == ["payments-db-slow", "orders-backlog", "inventory-errors", "loyalty-db-slow", "loyalty-lag"]
    effects = {i.name: (i.target, i.effect) for i in script.incidents}
    assert effects["payments-db-slow"] == ("payments-db", Effect.LATENCY)
    assert effects["inventory-errors"] == ("inventory", Effect.ERRORS)
    assert effects["loyalty-lag"] == ("loyalty", Effect.CONSUMER_LAG)
    assert all(i.title for i in script.incidents)
    assert min(i.start_s for i in script.incidents) >= 60  # a calm start, then trouble within minutes


def test_default_script_names_nodes_of_the_platform() -> None:
    topology = ecommerce_platform()
    for incident in default_script().incidents:
        topology.node(incident.target)  # raises KeyError for a name the platform does not have
        if incident.topic:
            subscribers = {s.service for s in topology.node(incident.topic).subscriptions}
            assert incident.target in subscribers


def test_scale_the_default_script() -> None:
    short = default_script(cycle_s=120)
    assert short.cycle_s == 120
    assert max(i.end_s for i in short.incidents) <= 120
    assert short.incidents[0].start_s == pytest.approx(24)
