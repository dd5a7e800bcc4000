"""The topology schema: node types, validation of every name a call, subscription or entry point uses, edges."""

from __future__ import annotations

import pytest

from flowviz.sim.topology import (
    Call,
    Datastore,
    Edge,
    EntryPoint,
    ExternalApi,
    NodeType,
    Operation,
    Service,
    Subscription,
    Topic,
    Topology,
)


def _shop(*extra_services: Service, subscriber_operation: str = "Paid process") -> Topology:
    front = Service(
        "front",
        "go",
        (Operation("POST /buy", 1, (Call("pay", "POST /pay"), Call("db", "INSERT"), Call("Paid"))),),
    )
    pay = Service("pay", "java", (Operation("POST /pay", 2, (Call("api.bank.com", "POST /charge"),)),))
    mail = Service("mail", "python", (Operation("Paid process", 1),))
    return Topology(
        (front, pay, mail, *extra_services),
        (Datastore("db", "postgresql", 2.0), Datastore("cache", "redis", 0.4)),
        (ExternalApi("api.bank.com", 100),),
        (Topic("Paid", (Subscription("mail", subscriber_operation, "link"),)),),
        (EntryPoint("buy", "front", "POST /buy", 1.0),),
    )


def test_node_types_and_edges_in_the_derivers_vocabulary() -> None:
    topology = _shop()
    topology.validate()
    assert [topology.node_type(n) for n in ("front", "db", "cache", "api.bank.com", "Paid")] == [
        NodeType.SERVICE,
        NodeType.DATABASE,
        NodeType.CACHE,
        NodeType.EXTERNAL,
        NodeType.TOPIC,
    ]
    assert topology.edges() == (
        Edge("user", "front", "virtual_node"),
        Edge("front", "pay", ""),
        Edge("front", "db", "database"),
        Edge("front", "mail", "messaging_system", "Paid"),
        Edge("pay", "api.bank.com", "virtual_node"),
    )


def test_validate_names_what_refers_to_nothing() -> None:
    broken = Service("broken", "go", (Operation("GET /", 1, (Call("nowhere"),)),))
    with pytest.raises(ValueError, match="unknown target"):
        _shop(broken).validate()
    wrong_operation = Service("caller", "go", (Operation("GET /", 1, (Call("pay", "GET /nothing"),)),))
    with pytest.raises(ValueError, match="no operation 'GET /nothing'"):
        _shop(wrong_operation).validate()
    with pytest.raises(ValueError, match="topic Paid"):
        _shop(subscriber_operation="Other process").validate()
    with pytest.raises(ValueError, match="duplicate node name 'db'"):
        _shop(Service("db", "go", (Operation("GET /", 1),)))
