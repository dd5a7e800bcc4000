"""`flowviz bench findings`: the cost of keeping findings and root causes current (one update per second)."""

from __future__ import annotations

import time

import numpy as np

from flowviz.analysis.diagnosis import diagnose_tracker
from flowviz.analysis.findings import FindingsTracker

SECOND_NS = 1_000_000_000


def run_findings_bench(*, services: int = 500, edges: int = 2_000, retention_s: int = 3600, updates: int = 60) -> dict:
    """An hour of 1 s traffic at `services`/`edges` (`fill_store`), the tracker caught up to its last minute, then
    `updates` one-second updates (findings, then root causes), each timed, as the window's thread makes them."""
    from flowviz.bench.store_memory import START_NS, fill_store

    store, observations, _ = fill_store(
        services=services, edges=edges, retention_s=retention_s, requests_per_edge_s=2.0
    )
    tracker = FindingsTracker(store)
    end_ns = START_NS + retention_s * SECOND_NS
    first_update_ns = end_ns - updates * SECOND_NS
    started = time.perf_counter()
    tracker.update(first_update_ns)
    catch_up_s = time.perf_counter() - started
    started = time.perf_counter()
    diagnose_tracker(tracker)
    diagnose_once_ms = (time.perf_counter() - started) * 1000
    update_ms = []
    for step in range(1, updates + 1):  # as the window's thread does: root causes again only when findings changed
        started = time.perf_counter()
        if tracker.update(first_update_ns + step * SECOND_NS):
            diagnose_tracker(tracker)
        update_ms.append((time.perf_counter() - started) * 1000)
    total = np.asarray(update_ms)
    return {
        "findings": {
            "services": services,
            "edges": edges,
            "retention_s": retention_s,
            "calls": observations,
            "updates": updates,
            "update_p50_ms": round(float(np.percentile(total, 50)), 1),
            "update_p95_ms": round(float(np.percentile(total, 95)), 1),
            "root_causes_ms": round(diagnose_once_ms, 1),
            "catch_up_s": round(catch_up_s, 2),
            "catch_up_evaluations": int((first_update_ns - START_NS) // tracker.settings.step_ns),
            "findings_found": len(tracker.findings()),
            "findings_by_signal": {
                signal: sum(f.signal == signal for f in tracker.findings())
                for signal in sorted({f.signal for f in tracker.findings()})
            },
        },
        "targets": {"update_ms": 100.0},
        "measured_with": "wall time of one 1 s update (every node and edge judged against its baseline; root causes "
        "ranked again when findings changed, root_causes_ms once) on a store holding an hour at 1 s of stationary "
        "synthetic traffic; catch_up: the first update over the hour before",
    }


def format_findings_figures(figures: dict) -> str:
    f = figures["findings"]
    return (
        f"findings at {f['services']} services / {f['edges']} edges over {f['retention_s']} s: one update p50 "
        f"{f['update_p50_ms']} ms, p95 {f['update_p95_ms']} ms (ranking root causes {f['root_causes_ms']} ms); "
        f"catching up on the hour: {f['catch_up_s']} s; {f['findings_found']} findings {f['findings_by_signal']}"
    )
