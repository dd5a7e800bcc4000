"""Comparing a scripted incident's window with its calm baseline: the incident's edges rank first, untouched
edges stay out of the top, new and vanished edges are told apart, and `report --baseline-*` gives the shapes."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.analysis.compare import Change, change_rows, compare_windows, node_change_rows
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.model.problems import Problems
from flowviz.sim.incidents import Effect, Incident, IncidentScript
from flowviz.sim.simulator import Simulator
from flowviz.sources.pipeline import IngestPipeline
from flowviz.store.rolling_store import RollingStore
from tests.ui.test_flow_view import SECOND, T0, traffic

S = 1_000_000_000
SCRIPT = IncidentScript(
    (
        Incident("inventory-errors", "inventory fails", "inventory", Effect.ERRORS, 0.3, start_s=150, duration_s=90),
        Incident("payments-db-slow", "payments-db slow", "payments-db", Effect.LATENCY, 30.0, 150, 90),
    )
)


@pytest.fixture(scope="module")
def simulated() -> tuple[RollingStore, int]:
    """Four simulated minutes at 600 spans/s: calm until 150 s, then inventory fails 30 % and payments-db is
    30x slower."""
    simulator = Simulator(seed=9, rate_per_s=600, script=SCRIPT, daily_amplitude=0.0)
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    store = RollingStore(problems=problems)
    pipeline = IngestPipeline(store, problems=problems)
    for second in range(5, 241, 5):
        messages = simulator.generate(simulator.start_ns + second * S)
        decode_otlp_proto(messages, builder, problems, [""] * len(messages))
        pipeline.feed(builder.build())
    pipeline.finish()
    return store, simulator.start_ns


def _upstream_of(targets: set[str], rows: list[dict]) -> set[str]:
    """Every node with a call path to one of `targets` (the targets included)."""
    reached, changed = set(targets), True
    while changed:
        changed = False
        for row in rows:
            if row["target"] in reached and row["source"] not in reached:
                reached.add(row["source"])
                changed = True
    return reached


def test_the_incidents_edges_rank_first_and_untouched_ones_stay_out_of_the_top(simulated):
    store, start = simulated
    comparison = compare_windows(store, (start + 60 * S, start + 140 * S), (start + 170 * S, start + 230 * S))
    rows = change_rows(comparison)
    targets = {"inventory", "payments-db"}
    direct = [i for i, r in enumerate(rows) if r["target"] in targets]
    assert {rows[0]["target"], rows[1]["target"]} == targets  # the faults themselves come first
    assert len(direct) == 4
    assert max(direct) < 10
    for i in direct:
        assert rows[i]["change"] == "changed"
        if rows[i]["target"] == "inventory":
            assert rows[i]["error_ratio"][1] > 0.2 > rows[i]["error_ratio"][0]
        else:
            assert rows[i]["p95_ms"][1] > 10 * rows[i]["p95_ms"][0]
    # what else changed is on a path to the faults (callers that failed or waited); nothing untouched did
    affected = _upstream_of(targets, rows)
    top = [r for r in rows if r["change"] == "changed"]
    assert all(r["target"] in affected for r in top)
    untouched = [r for r in rows if r["target"] not in affected]
    assert len(untouched) > 20
    assert all(r["change"] == "same" for r in untouched)
    assert max(r["score"] for r in untouched) < rows[max(direct)]["score"]
    nodes = node_change_rows(comparison)
    assert {n["name"] for n in nodes[:2]} == targets
    assert {n["name"] for n in nodes if n["change"] == "same"} >= {"catalog", "search", "catalog-cache"}


def test_the_same_window_twice_changes_nothing(simulated):
    store, start = simulated
    window = (start + 60 * S, start + 120 * S)
    comparison = compare_windows(store, window, window)
    assert (comparison.edges.change[comparison.edges.active] == Change.SAME).all()
    assert np.allclose(comparison.edges.score, 0.0)


def test_new_and_gone_edges_and_quiet_noise():
    store = RollingStore()
    store.ingest(traffic([("web", "api", 200, 0.0), ("web", "legacy", 5, 0.0), ("api", "db", 3, 0.0)], seconds=60))
    late = T0 + 60 * SECOND
    store.ingest(
        traffic([("web", "api", 200, 0.0), ("web", "shiny", 50, 0.2), ("api", "db", 3, 0.0)], seconds=60, start_ns=late)
    )
    # one failure on a quiet edge is noise, not a change
    store.ingest(traffic([("api", "db", 1, 1.0)], seconds=1, start_ns=late + 30 * SECOND))
    comparison = compare_windows(store, (T0, late), (late, late + 60 * SECOND))
    by_edge = {(r["source"], r["target"]): r for r in change_rows(comparison)}
    assert by_edge[("web", "shiny")]["change"] == "new"
    assert by_edge[("web", "shiny")]["requests_per_s"] == [0.0, 50.0]
    assert by_edge[("web", "legacy")]["change"] == "gone"
    assert by_edge[("web", "legacy")]["requests_per_s"] == [5.0, 0.0]
    assert by_edge[("web", "api")]["change"] == "same"
    assert by_edge[("api", "db")]["change"] == "same"
    assert next(iter(by_edge)) == ("web", "shiny")  # a new edge that fails 20 % of its calls comes first


def test_report_with_a_baseline_adds_changes_and_node_changes(tmp_path, capsys):
    from pathlib import Path

    import orjson

    from flowviz.cli import EXIT_OK, EXIT_USAGE, main

    sample = Path(__file__).resolve().parents[2] / "resources" / "sample-shop.otlp.jsonl.gz"
    args = ["report", str(sample), "--from", "+60", "--to", "+120", "--baseline-from", "+0", "--baseline-to", "+60"]
    assert main([*args, "--json"]) == EXIT_OK
    report = orjson.loads(capsys.readouterr().out)
    assert report["baseline"]["seconds"] == 60.0
    changes, edges = report["changes"], report["edges"]
    assert set(changes[0]) == {"source", "target", "change", "requests_per_s", "error_ratio", "p95_ms", "score"}
    assert {(c["source"], c["target"]) for c in changes} >= {(e["source"], e["target"]) for e in edges}
    assert [c["score"] for c in changes] == sorted((c["score"] for c in changes), reverse=True)
    after = {(e["source"], e["target"]): e["requests"] / 60 for e in edges}
    for change in changes:
        assert change["change"] in ("new", "gone", "changed", "same")
        assert change["requests_per_s"][1] == pytest.approx(
            after.get((change["source"], change["target"]), 0.0), abs=1e-4
        )
    assert set(report["node_changes"][0]) == {"name", "change", "requests_per_s", "error_ratio", "p95_ms", "score"}
    assert main([*args[:-2], "--json"]) == EXIT_USAGE  # a baseline needs both ends
