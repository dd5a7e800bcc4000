"""`flowviz bench scrub` runs the window's scrub path and accounts for every request of its drag."""

from __future__ import annotations

from flowviz.bench.render import run_scrub_bench


def test_the_scrub_bench_paints_each_jump_and_accounts_for_every_drag_request() -> None:
    figures = run_scrub_bench(services=40, edges=80, retention_s=400, steps=6, drag_steps=20)
    scrub, drag = figures["scrub"], figures["drag"]
    assert 1 <= scrub["steps"] <= 6  # a jump to the moment already shown needs no query
    assert 0 < scrub["p50_ms"] <= scrub["p95_ms"]
    assert drag["requests_sent"] > 0
    # each request sent was painted, overtaken before its query ran, or dropped as stale when it finished
    assert drag["frames_painted"] + drag["coalesced"] + drag["stale_results_dropped"] == drag["requests_sent"]
    assert 0 < drag["p50_ms"] <= drag["p95_ms"]
