"""Findings on synthetic traffic with known departures: onset, signal, baseline and observed values; calm stays calm."""

from __future__ import annotations

import numpy as np

from flowviz.analysis.findings import FindingsSettings, FindingsTracker, analyse_store
from flowviz.model.graph_kinds import NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000
BASE_NS = 1_700_000_000 * SECOND_NS
NAMES = ("", "web", "orders", "orders-db", "user")


def _traffic(
    rng: np.random.Generator,
    seconds: int,
    *,
    rate_per_s: float = 20.0,
    slow_from_s: float | None = None,
    fail_from_s: float | None = None,
    stop_from_s: float | None = None,
) -> EdgeObservations:
    """user -> web -> orders -> orders-db, `rate_per_s` calls each; departures on orders-db from the given times."""
    count = rng.poisson(rate_per_s * seconds)
    time_ns = BASE_NS + np.sort(rng.integers(0, seconds * SECOND_NS, count))
    parts = []
    for source, target, median_ms in ((4, 1, 30.0), (1, 2, 25.0), (2, 3, 5.0)):
        latency = median_ms * 1e6 * rng.lognormal(0.0, 0.4, count)
        failed = rng.random(count) < 0.002
        keep = np.ones(count, bool)
        offset_s = (time_ns - BASE_NS) / SECOND_NS
        if slow_from_s is not None and target in (1, 2, 3):
            latency = np.where(offset_s >= slow_from_s, latency + 8 * 5e6, latency)
        if fail_from_s is not None and target == 3:
            failed |= (offset_s >= fail_from_s) & (rng.random(count) < 0.3)
        if stop_from_s is not None and target == 3:
            keep = offset_s < stop_from_s
        parts.append(
            EdgeObservations.from_columns(
                NAMES,
                source=np.full(keep.sum(), source),
                target=np.full(keep.sum(), target),
                source_kind=NodeKind.USER if source == 4 else NodeKind.SERVICE,
                target_kind=NodeKind.DATABASE if target == 3 else NodeKind.SERVICE,
                connection_type=2 if target == 3 else 0,
                via=0,
                time_ns=time_ns[keep],
                latency_ns=latency[keep].astype(np.int64),
                failed=failed[keep],
                count=1,
            )
        )
    return EdgeObservations.concat(parts)


def _store(obs: EdgeObservations) -> RollingStore:
    store = RollingStore()
    store.ingest(obs)
    return store


def test_calm_traffic_gives_no_finding() -> None:
    findings = analyse_store(_store(_traffic(np.random.default_rng(1), 900)))
    assert findings == []


def test_latency_departure_found_with_onset_baseline_and_observed() -> None:
    findings = analyse_store(_store(_traffic(np.random.default_rng(2), 600, slow_from_s=300)))
    db = [f for f in findings if f.node == "orders-db" and f.signal == "latency"]
    assert len(db) == 1
    finding = db[0]
    assert abs((finding.onset_ns - BASE_NS) / SECOND_NS - 300) <= 5
    assert 5.0 <= finding.baseline <= 12.0  # p95 of a 5 ms lognormal(0.4)
    assert finding.observed >= 40.0  # + 40 ms
    assert finding.unit == "ms"
    assert finding.kind == "database"
    assert finding.score >= 4.5


def test_failures_found_but_a_single_failure_is_not() -> None:
    findings = analyse_store(_store(_traffic(np.random.default_rng(3), 600, fail_from_s=400)))
    db = [f for f in findings if f.node == "orders-db" and f.signal == "errors"]
    assert len(db) == 1
    assert abs((db[0].onset_ns - BASE_NS) / SECOND_NS - 400) <= 5
    assert db[0].observed > 20.0
    assert db[0].baseline < 1.0
    # one extra failure at 400 s on a calm edge is no finding
    obs = _traffic(np.random.default_rng(3), 600)
    failed = obs.failed.copy()
    failed[np.flatnonzero((obs.time_ns >= BASE_NS + 400 * SECOND_NS) & (obs.target == 3))[0]] = True
    columns = {name: getattr(obs, name) for name in obs.__dataclass_fields__ if name != "names"}
    columns["failed"] = failed
    assert analyse_store(_store(EdgeObservations(names=obs.names, **columns))) == []


def test_traffic_drop_and_finding_end() -> None:
    findings = analyse_store(_store(_traffic(np.random.default_rng(4), 600, stop_from_s=350)))
    drops = [f for f in findings if f.node == "orders-db" and f.signal == "traffic_drop"]
    assert len(drops) == 1
    assert abs((drops[0].onset_ns - BASE_NS) / SECOND_NS - 350) <= 5
    assert drops[0].observed == 0.0


def test_incremental_updates_equal_one_pass() -> None:
    obs = _traffic(np.random.default_rng(5), 600, slow_from_s=300)
    store = _store(obs)
    stepped = FindingsTracker(store, FindingsSettings())
    for until_s in [*range(0, 600, 7), 600]:
        stepped.update(BASE_NS + until_s * SECOND_NS)
    once = analyse_store(store)
    key = [(f.subject, f.signal, f.onset_ns, f.end_ns, round(f.score, 6)) for f in stepped.findings()]
    assert key == [(f.subject, f.signal, f.onset_ns, f.end_ns, round(f.score, 6)) for f in once]
    assert key


def test_a_headline_says_a_departure_in_a_few_words():
    from flowviz.analysis.findings import Finding, headline

    def finding(signal: str, baseline: float, observed: float) -> Finding:
        return Finding("payments", None, "service", signal, 0, 0, baseline, observed, 9.0)

    assert headline(finding("latency", 10.0, 570.0)) == "p95 ×57"
    assert headline(finding("latency", 0.0, 5.0)) == "slow"
    assert headline(finding("errors", 0.5, 38.2)) == "failures 38 %"
    assert headline(finding("lag", 0.0, 12.4)) == "lag 12 s"
    assert headline(finding("traffic_drop", 9.0, 3.0)) == "traffic ÷3"
    assert headline(finding("traffic_drop", 9.0, 0.0)) == "traffic stopped"
    assert headline(finding("traffic_surge", 2.0, 8.0)) == "traffic ×4"
    assert headline(None) == "departed"
