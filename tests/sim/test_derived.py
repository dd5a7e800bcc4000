"""The simulator through decode -> derive: the expected graph, and the scripted incidents visible in its numbers."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.observations import EdgeObservations
from flowviz.model.span_batch import SpanBatch, SpanKind
from flowviz.sim import Simulator

S = 1_000_000_000
RUN_S = 580  # the default script's first cycle, up to the end of the loyalty lag


@pytest.fixture(scope="module")
def run(decode, derive) -> tuple[Simulator, EdgeObservations, Counter, SpanBatch]:
    sim = Simulator(seed=7, rate_per_s=120, daily_amplitude=0)
    groups = [sim.generate(sim.start_ns + second * S) for second in range(5, RUN_S + 1, 5)]  # pulled as a feed does
    observations, problems = derive(groups)
    return sim, observations, Counter(problems.as_dict()), decode(m for group in groups for m in group)


def _column(observations: EdgeObservations, name: str) -> np.ndarray:
    return np.array(observations.names, dtype=object)[getattr(observations, name)]


def _edges(observations: EdgeObservations) -> set[tuple[str, str, str, str]]:
    columns = [_column(observations, c) for c in ("source", "target", "via")]
    kinds = [ConnectionType(c).label for c in observations.connection_type.tolist()]
    return set(zip(columns[0], columns[1], kinds, columns[2], strict=True))


def _calls(
    observations: EdgeObservations, sim: Simulator, *, source: str | None, target: str, from_s: float, to_s: float
):
    """Latencies (ms) and failure flags of the calls source -> target starting in [from_s, to_s)."""
    elapsed = (observations.time_ns - sim.start_ns) / S
    mask = (_column(observations, "target") == target) & (elapsed >= from_s) & (elapsed < to_s)
    if source is not None:
        mask &= _column(observations, "source") == source
    return observations.latency_ns[mask] / 1e6, observations.failed[mask]


def test_derived_graph_is_the_platform(run) -> None:
    sim, observations, problems, _ = run
    edges = _edges(observations)
    for edge in [
        ("user", "web-frontend", "virtual_node", ""),
        ("user", "mobile-bff", "virtual_node", ""),
        ("web-frontend", "api-gateway", "", ""),
        ("mobile-bff", "api-gateway", "", ""),
        ("api-gateway", "auth", "", ""),
        ("api-gateway", "orders", "", ""),
        ("orders", "payments", "", ""),
        ("payments", "payments-db", "database", ""),
        ("payments", "api.stripe.com", "virtual_node", ""),
        ("auth", "session-cache", "database", ""),
        ("orders", "loyalty", "messaging_system", "OrderPlaced"),  # span links
        ("orders", "notifications", "messaging_system", "OrderPlaced"),  # parent/child
        ("orders", "reporting", "messaging_system", "OrderPlaced"),
        ("orders", "recommendations", "messaging_system", "OrderPlaced"),
        ("payments", "delivery", "messaging_system", "PaymentProcessed"),
        ("inventory", "search", "messaging_system", "InventoryUpdated"),
        ("delivery", "notifications", "messaging_system", "ShipmentCreated"),
    ]:
        assert edge in edges
    expected = {(e.source, e.target, e.connection_type, e.via) for e in sim.topology.edges()}
    assert expected <= edges
    # the only extras: producers whose consumers had not finished when the run stopped
    assert {e for e in edges - expected if e[2] != "virtual_node" or e[1] != e[3]} == set()
    # every consumer found its producer, lagging ones included (all within the deriver's TTL)
    assert problems.get("derive: server span whose parent never arrived") is None


def test_payments_db_slowdown_shows_in_payments_latency(run) -> None:
    sim, observations, _, _ = run
    ((incident, start_ns, _),) = [
        (o.incident, o.start_ns, o.end_ns)
        for o in sim.occurrences(sim.start_ns, sim.start_ns + RUN_S * S)
        if o.incident.name == "payments-db-slow"
    ]
    full_from = (start_ns - sim.start_ns) / S + incident.ramp_in_s
    full_to = (start_ns - sim.start_ns) / S + incident.duration_s - incident.ramp_out_s
    before_db, _ = _calls(observations, sim, source="payments", target="payments-db", from_s=0, to_s=120)
    during_db, _ = _calls(observations, sim, source="payments", target="payments-db", from_s=full_from, to_s=full_to)
    assert len(before_db) > 30
    assert len(during_db) > 30
    assert np.percentile(during_db, 95) > 20 * np.percentile(before_db, 95)
    before, failed_before = _calls(observations, sim, source="orders", target="payments", from_s=0, to_s=120)
    during, failed_during = _calls(
        observations, sim, source="orders", target="payments", from_s=full_from, to_s=full_to
    )
    assert np.percentile(during, 95) > 2.5 * np.percentile(before, 95)
    assert failed_during.mean() > 0.15  # orders gives up on payments: timeouts
    assert failed_before.mean() < 0.08
    # orders back up: checkout through the gateway is slow and fails
    gateway_before, gateway_failed_before = _calls(
        observations, sim, source="api-gateway", target="orders", from_s=0, to_s=120
    )
    gateway_during, gateway_failed_during = _calls(
        observations, sim, source="api-gateway", target="orders", from_s=full_from, to_s=full_to
    )
    assert np.percentile(gateway_during, 95) > 2 * np.percentile(gateway_before, 95)
    assert gateway_failed_during.mean() > 2 * gateway_failed_before.mean()


def test_inventory_error_burst_shows_in_its_error_ratio(run) -> None:
    sim, observations, _, _ = run
    _, failed_before = _calls(observations, sim, source=None, target="inventory", from_s=0, to_s=360)
    _, failed_during = _calls(observations, sim, source=None, target="inventory", from_s=380, to_s=420)
    _, failed_after = _calls(observations, sim, source=None, target="inventory", from_s=440, to_s=RUN_S)
    assert len(failed_during) > 100
    assert failed_before.mean() < 0.02
    assert failed_during.mean() > 0.25
    assert failed_after.mean() < 0.02


def test_loyalty_falls_behind_on_order_placed(run) -> None:
    sim, observations, _, batch = run
    index = {
        key: row
        for row, key in enumerate(
            zip(batch.trace_hi.tolist(), batch.trace_lo.tolist(), batch.span_id.tolist(), strict=True)
        )
    }
    service, destination = np.array(batch.string_column("service")), np.array(batch.string_column("destination"))
    lag_s, at_s = [], []
    for row, trace_hi, trace_lo, span_id in zip(
        batch.link_row.tolist(),
        batch.link_trace_hi.tolist(),
        batch.link_trace_lo.tolist(),
        batch.link_span_id.tolist(),
        strict=True,
    ):
        if service[row] == "loyalty" and destination[row] == "OrderPlaced":
            producer = index[(trace_hi, trace_lo, span_id)]
            assert batch.kind[producer] == SpanKind.PRODUCER
            lag_s.append((batch.start_ns[row] - batch.end_ns[producer]) / S)
            at_s.append((batch.end_ns[producer] - sim.start_ns) / S)
    lag_s, at_s = np.array(lag_s), np.array(at_s)
    assert np.median(lag_s[at_s < 400]) < 0.1
    assert np.median(lag_s[(at_s > 530) & (at_s < 560)]) > 12  # up to 20 s behind
    # its other consumers keep up
    others = (service != "loyalty") & (destination == "OrderPlaced") & (batch.kind == SpanKind.CONSUMER)
    assert others.sum() > 20
    # and the slow loyalty-db is visible in the derived latency of the messaging edge
    before, _ = _calls(observations, sim, source="orders", target="loyalty", from_s=0, to_s=400)
    during, _ = _calls(observations, sim, source="orders", target="loyalty", from_s=450, to_s=550)
    assert np.median(during) > 3 * np.median(before)
