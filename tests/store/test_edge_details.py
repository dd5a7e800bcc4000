"""Edge details: client- and server-side latency and calls by status, per edge and window."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import NO_LATENCY, EdgeObservations
from flowviz.sim.simulator import Simulator
from flowviz.store.edge_details import NO_HTTP_FAILED, NO_HTTP_OK, EdgeDetails

S = 1_000_000_000
MS = 1_000_000


def calls(rows: list[tuple[str, str, int, int, int, bool, int]]) -> EdgeObservations:
    """(source, target, time s, client ms (-1 unknown), server ms (-1 unknown), failed, http status) rows."""
    names = ["", *sorted({n for r in rows for n in r[:2]})]
    index = {n: i for i, n in enumerate(names)}
    client = [r[3] * MS if r[3] >= 0 else NO_LATENCY for r in rows]
    server = [r[4] * MS if r[4] >= 0 else NO_LATENCY for r in rows]
    return EdgeObservations.from_columns(
        names,
        source=[index[r[0]] for r in rows],
        target=[index[r[1]] for r in rows],
        source_kind=0,
        target_kind=0,
        connection_type=0,
        via=0,
        time_ns=[r[2] * S for r in rows],
        latency_ns=[s if s >= 0 else c for c, s in zip(client, server, strict=True)],
        client_latency_ns=client,
        server_latency_ns=server,
        failed=[r[5] for r in rows],
        http_status=[r[6] for r in rows],
    )


def test_client_and_server_sides_are_kept_apart_per_edge_and_window() -> None:
    details = EdgeDetails()
    rows = [("web", "api", 10, 120, 100, False, 200)] * 90 + [("web", "api", 10, 900, 100, True, 504)] * 10
    rows += [("web", "api", 70, 50, 40, False, 200)] * 5  # outside the window below
    rows += [("api", "db", 10, 7, -1, False, 0)] * 3  # a database: client side only
    details.add(calls(rows))
    sides = details.sides("web", "api", 0, 60 * S)
    assert sides["client"].calls == 100
    assert sides["server"].calls == 100
    assert abs(sides["server"].p95_ms - 100) / 100 < 0.05
    assert abs(sides["client"].p50_ms - 120) / 120 < 0.05
    assert abs(sides["client"].p99_ms - 900) / 900 < 0.05  # the timeouts show only on the caller's side
    assert sides["client"].histogram.sum() == 100
    db = details.sides("api", "db", 0, 60 * S)
    assert db["client"].calls == 3
    assert db["server"].calls == 0
    assert np.isnan(db["server"].p50_ms)
    assert details.sides("api", "web", 0, 60 * S)["client"].calls == 0  # direction matters
    assert details.sides("web", "api", 60 * S, 120 * S)["client"].calls == 5


def test_calls_by_status_list_failing_statuses_first() -> None:
    details = EdgeDetails()
    rows = [("a", "b", 1, 10, 9, False, 200)] * 50 + [("a", "b", 1, 10, 9, True, 503)] * 7
    rows += [("a", "b", 2, 10, 9, True, 0)] * 2 + [("a", "b", 2, 10, 9, False, 0)] * 4
    rows += [("a", "b", 3, 10, 9, False, 404)] * 3
    details.add(calls(rows))
    statuses = details.statuses("a", "b", 0, 10 * S)
    assert [(s.label, s.calls, s.failures) for s in statuses] == [
        ("HTTP 503", 7, 7),
        ("failed, no HTTP status (timeout, connection)", 2, 2),
        ("HTTP 200", 50, 0),
        ("ok (no HTTP status)", 4, 0),
        ("HTTP 404", 3, 0),
    ]
    assert {s.code for s in statuses} >= {NO_HTTP_FAILED, NO_HTTP_OK}
    assert details.statuses("a", "b", 2 * S, 3 * S)[0].label == "failed, no HTTP status (timeout, connection)"
    assert details.statuses("b", "a", 0, 10 * S) == []


def test_simulator_failures_carry_their_http_status() -> None:
    """The simulator's payments timeouts are 504s; derived calls carry the HTTP status to the details."""
    from flowviz.decoders.builder import SpanBatchBuilder
    from flowviz.decoders.otlp_proto import decode_otlp_proto
    from flowviz.derive.deriver import EdgeDeriver
    from flowviz.model.problems import Problems

    problems = Problems()
    simulator = Simulator(seed=3, rate_per_s=800, start_ns=0)
    deriver, builder, details = EdgeDeriver(problems=problems), SpanBatchBuilder(problems), EdgeDetails()
    observations = []
    for end_s in range(10, 121, 10):
        messages = simulator.generate(end_s * S)
        decode_otlp_proto(messages, builder, problems, ["sim"] * len(messages))
        observations.append(deriver.process(builder.build()))
    observations.append(deriver.flush())
    merged = EdgeObservations.concat(observations)
    details.add(merged)
    has_http = merged.http_status != 0
    assert has_http.any()
    assert set(np.unique(merged.http_status[has_http & merged.failed]).tolist()) <= {500, 503, 504}
    # the totals by status add up to the calls of each edge
    for source, target in {
        (merged.names[s], merged.names[t]) for s, t in zip(merged.source, merged.target, strict=False)
    }:
        on_edge = (np.array(merged.names)[merged.source] == source) & (np.array(merged.names)[merged.target] == target)
        statuses = details.statuses(source, target, 0, 200 * S)
        assert sum(s.calls for s in statuses) == int(on_edge.sum())
        assert sum(s.failures for s in statuses) == int(merged.failed[on_edge].sum())


def test_memory_stays_within_the_budget_on_a_busy_hour() -> None:
    """An hour of 200 edges busy every second: old seconds are merged into minutes, the budget holds."""
    budget = 2 << 20
    details = EdgeDetails(memory_budget_bytes=budget)
    rng = np.random.default_rng(1)
    for minute in range(60):
        count = 200 * 60 * 5
        source = rng.integers(1, 21, count)
        target = rng.integers(21, 31, count)
        client = rng.lognormal(3, 1, count).astype(np.int64) * MS
        names = ["", *(f"s{i}" for i in range(1, 31))]
        details.add(
            EdgeObservations.from_columns(
                names,
                source=source,
                target=target,
                source_kind=0,
                target_kind=0,
                connection_type=0,
                via=0,
                time_ns=minute * 60 * S + rng.integers(0, 60 * S, count),
                latency_ns=client // 2,
                client_latency_ns=client,
                server_latency_ns=client // 2,
                failed=rng.random(count) < 0.01,
                http_status=200,
            )
        )
        assert details.memory_bytes() <= budget + 200 * 120 + 4096
    assert details.sides("s1", "s21", 0, 3600 * S)["client"].calls > 0


def test_payload_sizes_per_edge_in_bytes() -> None:

    sizes = np.arange(1, 1001, dtype=np.int64) * 10  # 10 B .. 10 kB, evenly
    calls = EdgeObservations.from_columns(
        ("", "checkout", "orders"),
        source=np.full(sizes.size, 1),
        target=np.full(sizes.size, 2),
        source_kind=NodeKind.SERVICE,
        target_kind=NodeKind.TOPIC,
        connection_type=ConnectionType.MESSAGING_SYSTEM,
        via=2,
        time_ns=np.full(sizes.size, 5_000_000_000),
        latency_ns=-1,
        failed=False,
    )
    details = EdgeDetails()
    details.add_payloads(calls, np.where(np.arange(sizes.size) == 0, -1, sizes))  # one size not known
    payload = details.payload("checkout", "orders", 0, 10_000_000_000)
    assert payload.calls == 999
    assert payload.p50_ms == pytest.approx(5_000, rel=0.09)  # bytes
    assert payload.p95_ms == pytest.approx(9_500, rel=0.09)
    assert details.payload("checkout", "orders", 6_000_000_000, 7_000_000_000).calls == 0
    assert details.payload("nobody", "orders", 0, 10_000_000_000).calls == 0
    assert details.sides("checkout", "orders", 0, 10_000_000_000)["client"].calls == 0  # sizes are no latency
