"""Root causes: the direction rules on hand-made findings, and the simulator's scripted incidents end to end."""

from __future__ import annotations

import pytest

from flowviz.analysis.diagnosis import diagnose
from flowviz.analysis.findings import Finding
from flowviz.analysis.root_cause import rank_root_causes, visible_findings
from flowviz.sim.incidents import NO_INCIDENTS
from flowviz.sim.simulator import Simulator

from .conftest import SECOND_NS, simulated_store

T0 = 1_700_000_000 * SECOND_NS
CALLS = [("user", "web"), ("web", "orders"), ("orders", "payments"), ("payments", "payments-db"), ("web", "search")]


def _finding(node: str, signal: str, onset_s: float, end_s: float = 300, score: float = 8.0, kind: str = "service"):
    return Finding(
        node, None, kind, signal, T0 + int(onset_s * SECOND_NS), T0 + int(end_s * SECOND_NS), 1.0, 5.0, score
    )


def test_latency_travels_up_so_the_deepest_slow_node_is_the_cause() -> None:
    findings = [
        _finding("web", "latency", 102),
        _finding("orders", "latency", 101),
        _finding("payments", "errors", 110),
        _finding("payments-db", "latency", 100, kind="database"),
    ]
    causes = rank_root_causes(findings, CALLS)
    assert [c.node for c in causes] == ["payments-db"]
    assert set(causes[0].explains) == {"web", "orders", "payments"}
    assert causes[0].confidence == 0.8  # explains the whole incident; z = 8 of the 10 that counts as certain
    assert causes[0].why.startswith("payments-db: p95")


def test_traffic_travels_down_so_a_drop_below_a_failure_is_explained() -> None:
    findings = [
        _finding("orders", "errors", 100),
        _finding("payments", "traffic_drop", 103),
        _finding("payments-db", "traffic_drop", 104),
    ]
    causes = rank_root_causes(findings, CALLS)
    assert [c.node for c in causes] == ["orders"]
    assert set(causes[0].explains) == {"payments", "payments-db"}


def test_a_callee_that_departed_much_later_does_not_explain_its_caller() -> None:
    findings = [_finding("orders", "latency", 100), _finding("payments", "latency", 200)]
    causes = rank_root_causes(findings, CALLS)
    assert {c.node for c in causes} == {"orders", "payments"}
    assert all(not c.explains for c in causes)


def test_asynchronous_calls_do_not_carry_latency_up() -> None:
    calls = [("orders", "loyalty", True), ("loyalty", "loyalty-db")]
    findings = [
        _finding("orders", "latency", 100),
        _finding("loyalty", "latency", 99),
        _finding("loyalty-db", "latency", 98),
    ]
    causes = {c.node: c for c in rank_root_causes(findings, calls)}
    assert set(causes) == {"orders", "loyalty-db"}
    assert causes["loyalty-db"].explains == ("loyalty",)


SHOP = [
    ("gateway", "cart"),
    ("gateway", "catalog"),
    ("cart", "pricing"),
    ("catalog", "pricing"),
    ("cart", "shipping"),
    ("catalog", "shopdb"),
]


def surge_findings() -> list[Finding]:
    """Entry traffic up: everything below surges, pricing saturates, its callers slow with it (calls: `SHOP`)."""
    return [
        _finding("gateway", "traffic_surge", 100, score=117),
        _finding("cart", "traffic_surge", 100, score=70),
        _finding("cart", "latency", 100, score=104),
        _finding("catalog", "traffic_surge", 100, score=87),
        _finding("catalog", "latency", 100, score=123),
        _finding("pricing", "traffic_surge", 100, score=121),
        _finding("pricing", "latency", 100, score=174),
        _finding("shipping", "traffic_surge", 100, score=62),
        _finding("shopdb", "traffic_surge", 100, score=93, kind="database"),
    ]


def test_a_surge_at_the_entry_is_the_cause_and_the_service_it_saturated_is_named_under_the_load() -> None:
    """The surge is the cause; pricing is where it hurt (in the why), not a rival candidate that claims the surges
    below its callers."""
    causes = rank_root_causes(surge_findings(), SHOP)
    assert [c.node for c in causes] == ["gateway"]
    assert set(causes[0].explains) == {"cart", "catalog", "pricing", "shipping", "shopdb"}
    assert "; under the load: pricing p95" in causes[0].why
    assert causes[0].under_load == ("pricing",)  # cart and catalog slowed under it too, but because pricing did
    assert causes[0].confidence == 1.0


def test_a_caller_that_only_slowed_does_not_explain_a_surge_below_it() -> None:
    findings = [
        _finding("pricing", "latency", 100, score=20),
        _finding("cart", "latency", 101, score=10),
        _finding("shipping", "traffic_surge", 102, score=9),
    ]
    causes = {c.node: c for c in rank_root_causes(findings, SHOP)}
    assert set(causes) == {"pricing", "shipping"}  # cart's slowness sends shipping no more calls
    assert causes["pricing"].explains == ("cart",)
    assert "under the load" not in causes["pricing"].why


def test_a_stalled_caller_explains_the_burst_below_it_when_it_catches_up() -> None:
    findings = [
        _finding("fulfillment", "traffic_drop", 100, end_s=180, score=9),
        _finding("shopdb", "traffic_surge", 180, end_s=250, score=9.5, kind="database"),
    ]
    causes = rank_root_causes(findings, [("orders", "fulfillment", True), ("fulfillment", "shopdb")])
    assert [(c.node, c.explains) for c in causes] == [("fulfillment", ("shopdb",))]


def test_a_slow_service_whose_traffic_did_not_surge_is_not_under_load() -> None:
    """A database slowing while the traffic above surged for another reason stays its own cause: only a node whose
    own traffic surged with its slowing counts as saturated."""
    findings = [
        _finding("gateway", "traffic_surge", 100, score=50),
        _finding("cart", "traffic_surge", 100, score=40),
        _finding("shopdb", "latency", 100, score=60, kind="database"),
        _finding("catalog", "latency", 101, score=30),
    ]
    causes = {c.node: c for c in rank_root_causes(findings, SHOP)}
    assert set(causes) == {"gateway", "shopdb"}
    assert causes["shopdb"].explains == ("catalog",)
    assert causes["gateway"].explains == ("cart",)


def test_a_failing_database_hammered_by_retries_stays_the_cause() -> None:
    """Retries surge a failing database's traffic: its failures are its own, not load from the caller whose
    failures it causes (no circle of explanations, whichever began a second earlier)."""
    findings = [
        _finding("catalog", "errors", 99, score=30),
        _finding("shopdb", "errors", 100, score=40, kind="database"),
        _finding("shopdb", "traffic_surge", 100, score=20, kind="database"),
    ]
    causes = rank_root_causes(findings, SHOP)
    assert [(c.node, c.explains) for c in causes] == [("shopdb", ("catalog",))]
    assert "under the load" not in causes[0].why


def test_edge_finding_left_out_when_its_target_says_it() -> None:
    node = _finding("payments-db", "latency", 100)
    edge = Finding(None, ("payments", "payments-db"), "database", "latency", node.onset_ns, node.end_ns, 1.0, 5.0, 8.0)
    other = Finding(None, ("web", "search"), "service", "errors", node.onset_ns, node.end_ns, 1.0, 5.0, 8.0)
    assert visible_findings([node, edge, other]) == [node, other]
    # an edge finding whose target has none stands for the target in the ranking
    assert [c.node for c in rank_root_causes([other], CALLS)] == ["search"]


@pytest.fixture(scope="module")
def incident_store():
    simulator = Simulator(seed=3, rate_per_s=200)
    return simulator, simulated_store(simulator, 600)


def test_each_scripted_incident_names_its_culprit_first(incident_store) -> None:
    simulator, store = incident_store
    diagnosis = diagnose(store)
    causes = diagnosis.root_causes
    scripted = {"payments-db": 120, "inventory": 370, "loyalty-db": 420}  # culprit -> scripted start (s)
    found = {}
    for cause in causes:
        found.setdefault(cause.node, (cause.onset_ns - simulator.start_ns) / SECOND_NS)
    for culprit, start_s in scripted.items():
        assert culprit in found, [c.why for c in causes]
        assert abs(found[culprit] - start_s) <= 30, (culprit, found[culprit])
    # the consequences are explained, not named: orders and payments follow payments-db
    first = next(c for c in causes if c.node == "payments-db")
    assert {"orders", "payments"} <= set(first.explains)
    assert {c.node for c in causes} <= set(scripted)
    # nothing departs in the calm minutes before the first incident
    assert min(f.onset_ns for f in diagnosis.findings) >= simulator.start_ns + 110 * SECOND_NS


def test_calm_platform_stays_calm() -> None:
    simulator = Simulator(seed=8, rate_per_s=200, script=NO_INCIDENTS)
    diagnosis = diagnose(simulated_store(simulator, 900))
    assert len(diagnosis.findings) <= 1, [(f.subject, f.signal, f.describe()) for f in diagnosis.findings]


def test_a_slow_third_party_api_and_a_service_s_own_code_are_named_with_their_onsets() -> None:
    """Two more kinds of incident: a third-party API (its calls held back by the deriver's TTL, judged later on
    complete data) and a service whose own code slows down (its callees stay calm)."""
    from flowviz.sim.incidents import Effect, Incident, IncidentScript

    script = IncidentScript(
        (
            Incident("stripe-slow", "stripe slow", "api.stripe.com", Effect.LATENCY, 6.0, start_s=200, duration_s=120),
            Incident("catalog-code", "catalog slow", "catalog", Effect.LATENCY, 5.0, start_s=400, duration_s=80),
        )
    )
    simulator = Simulator(seed=5, rate_per_s=200, script=script)
    diagnosis = diagnose(simulated_store(simulator, 540))
    onset = {c.node: (c.onset_ns - simulator.start_ns) / SECOND_NS for c in diagnosis.root_causes}
    assert set(onset) == {"api.stripe.com", "catalog"}, [c.why for c in diagnosis.root_causes]
    assert abs(onset["api.stripe.com"] - 200) <= 30
    assert abs(onset["catalog"] - 400) <= 30
    stripe = next(c for c in diagnosis.root_causes if c.node == "api.stripe.com")
    assert "payments" in stripe.explains  # payments waits on stripe
    assert min(f.onset_ns for f in diagnosis.findings) >= simulator.start_ns + 170 * SECOND_NS  # calm before
