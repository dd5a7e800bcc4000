"""Tiered retention: rolling into coarser tiers keeps totals, late and too-old data, tier validation."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.store.rolling_store import DROP_TOO_OLD, RollingStore

from .conftest import BASE_NS, SECOND_NS, brute_force, frame_edges, random_observations

MINUTE_NS = 60 * SECOND_NS
SMALL_TIERS = ((SECOND_NS, 2 * MINUTE_NS), (10 * SECOND_NS, 10 * MINUTE_NS), (MINUTE_NS, None))


def _fill(store: RollingStore, rng: np.random.Generator, minutes: int, rows_per_minute: int = 2000) -> list:
    batches = []
    for minute in range(minutes):
        obs = random_observations(
            rng, rows_per_minute, start_ns=BASE_NS + minute * MINUTE_NS, span_ns=MINUTE_NS, weights=True
        )
        store.ingest(obs)
        batches.append(obs)
    return batches


def test_rolling_keeps_totals_and_coarsens_old_data() -> None:
    rng = np.random.default_rng(10)
    store = RollingStore(tiers=SMALL_TIERS)
    batches = _fill(store, rng, 30)
    total = sum(int(b.count.sum()) for b in batches)
    failures = sum(int(b.count[b.failed].sum()) for b in batches)
    first_ns, end_ns = store.time_range_ns()
    assert first_ns == BASE_NS // MINUTE_NS * MINUTE_NS  # the oldest data is in 1 min buckets now
    assert end_ns == BASE_NS + 30 * MINUTE_NS
    everything = store.query(first_ns, end_ns)
    assert everything.edge_requests.sum() == total
    assert everything.edge_errors.sum() == failures
    assert everything.resolution_ns == MINUTE_NS
    timeline = store.timeline(first_ns, end_ns, step_ns=SECOND_NS)
    assert timeline.requests.sum() == total
    resolution = timeline.resolution_ns[timeline.requests > 0]
    assert set(resolution.tolist()) == {SECOND_NS, 10 * SECOND_NS, MINUTE_NS}
    assert np.all(np.diff(resolution) <= 0)  # fine recently, coarser further back
    # Tier 0 holds its span (2 min) plus at most one grid cell (1 min) of 1 s buckets.
    fine = timeline.bucket_start_ns[timeline.resolution_ns == SECOND_NS]
    assert end_ns - fine.min() <= 3 * MINUTE_NS


def test_windows_aligned_to_coarse_buckets_stay_exact() -> None:
    rng = np.random.default_rng(11)
    store = RollingStore(tiers=SMALL_TIERS)
    batches = _fill(store, rng, 25)
    merged = type(batches[0]).concat(batches)
    for start_min, end_min in [(0, 1), (3, 9), (10, 24), (0, 25), (23, 25)]:
        start_ns = BASE_NS // MINUTE_NS * MINUTE_NS + start_min * MINUTE_NS
        end_ns = BASE_NS // MINUTE_NS * MINUTE_NS + end_min * MINUTE_NS
        assert frame_edges(store.query(start_ns, end_ns)) == brute_force(merged, start_ns, end_ns)


def test_late_data_lands_in_the_tier_covering_its_time() -> None:
    rng = np.random.default_rng(12)
    store = RollingStore(tiers=SMALL_TIERS)
    _fill(store, rng, 20)
    late = random_observations(rng, 500, start_ns=BASE_NS + 60 * SECOND_NS, span_ns=30 * SECOND_NS)
    version = store.data_version
    window = (BASE_NS // MINUTE_NS * MINUTE_NS, BASE_NS + 20 * MINUTE_NS)
    before = store.query(*window).edge_requests.sum()
    store.ingest(late)
    assert store.data_version > version
    assert store.query(*window).edge_requests.sum() == before + 500
    minute_ns = (BASE_NS + 60 * SECOND_NS) // MINUTE_NS * MINUTE_NS  # the 1 min bucket holding the late calls
    timeline = store.timeline(minute_ns, minute_ns + MINUTE_NS, step_ns=SECOND_NS)
    assert np.flatnonzero(timeline.requests).tolist() == [0]
    assert timeline.resolution_ns[0] == MINUTE_NS
    assert not store.problems


def test_data_older_than_everything_retained_is_dropped_and_counted() -> None:
    rng = np.random.default_rng(13)
    store = RollingStore(tiers=((SECOND_NS, MINUTE_NS), (10 * SECOND_NS, 2 * MINUTE_NS)))
    _fill(store, rng, 10, rows_per_minute=300)
    first_ns, end_ns = store.time_range_ns()
    assert end_ns - first_ns <= 5 * MINUTE_NS  # 1 + 2 minutes of spans, plus up to a grid cell each
    old = random_observations(rng, 400, start_ns=BASE_NS, span_ns=MINUTE_NS, weights=True)
    version = store.data_version
    store.ingest(old)
    assert store.problems.count(DROP_TOO_OLD) == old.count.sum()
    assert store.data_version == version
    assert store.time_range_ns() == (first_ns, end_ns)


def test_one_big_replay_batch_is_split_across_tiers() -> None:
    rng = np.random.default_rng(14)
    obs = random_observations(rng, 20_000, span_ns=30 * MINUTE_NS)
    store = RollingStore(tiers=SMALL_TIERS)
    store.ingest(obs)
    first_ns, end_ns = store.time_range_ns()
    timeline = store.timeline(first_ns, end_ns, step_ns=MINUTE_NS)
    assert timeline.requests.sum() == len(obs)
    assert timeline.resolution_ns[0] == MINUTE_NS
    assert timeline.resolution_ns[-1] == SECOND_NS
    assert frame_edges(store.query(first_ns, end_ns)) == brute_force(obs, first_ns, end_ns)


@pytest.mark.parametrize(
    "tiers",
    [
        (),
        ((SECOND_NS, None), (10 * SECOND_NS, None)),
        ((SECOND_NS, MINUTE_NS), (1_500_000_000, None)),
        ((0, MINUTE_NS),),
        ((SECOND_NS, 0),),
    ],
)
def test_invalid_tiers_are_refused(tiers: tuple) -> None:
    with pytest.raises(ValueError, match="tier"):
        RollingStore(tiers=tiers)
