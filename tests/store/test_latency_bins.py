"""Latency bins: binning edges and percentiles within 5 % of exact sample percentiles."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.store.latency_bins import (
    BIN_COUNT,
    BIN_LOWER_NS,
    BIN_RATIO,
    BIN_VALUE_MS,
    FIRST_LOG_BIN,
    MAX_LOG_LATENCY_NS,
    MIN_LATENCY_NS,
    NO_LATENCY_BIN,
    OVERFLOW_BIN,
    UNDERFLOW_BIN,
    bin_of,
    percentiles,
    sparse_percentiles,
)


def test_bin_count_fits_uint8_and_values_are_within_5_percent_of_bin_edges() -> None:
    assert BIN_COUNT <= 256
    log_bins = slice(FIRST_LOG_BIN, OVERFLOW_BIN)
    lower_ms = BIN_LOWER_NS[log_bins] / 1e6
    upper_ms = lower_ms * BIN_RATIO
    value = BIN_VALUE_MS[log_bins]
    assert np.all(value / lower_ms - 1 <= 0.05)
    assert np.all(1 - value / upper_ms <= 0.05)


def test_bin_of_special_values() -> None:
    latency = np.array([-1, 0, 999, 1000, 1089, 1090, int(MAX_LOG_LATENCY_NS) + 10, 10**15])
    bins = bin_of(latency)
    assert bins.dtype == np.uint8
    assert bins.tolist() == [
        NO_LATENCY_BIN,
        UNDERFLOW_BIN,
        UNDERFLOW_BIN,
        FIRST_LOG_BIN,
        FIRST_LOG_BIN,
        FIRST_LOG_BIN + 1,
        OVERFLOW_BIN,
        OVERFLOW_BIN,
    ]


def test_bin_of_puts_every_latency_between_its_bin_edges() -> None:
    latency = np.unique(np.geomspace(MIN_LATENCY_NS, MAX_LOG_LATENCY_NS * 0.999, 50_000).astype(np.int64))
    bins = bin_of(latency)
    lower = BIN_LOWER_NS[bins]
    assert np.all(lower <= latency * (1 + 1e-12))
    assert np.all(latency < lower * BIN_RATIO * (1 + 1e-12))


@pytest.mark.parametrize(
    ("median_ns", "sigma"),
    [(3_000, 0.4), (250_000, 1.0), (20e6, 0.5), (4e9, 0.3), (800e6, 1.5)],
    ids=["3us", "250us-wide", "20ms", "4s", "800ms-very-wide"],
)
def test_percentiles_within_5_percent_of_numpy(median_ns: float, sigma: float) -> None:
    rng = np.random.default_rng(int(median_ns) % 1000)
    rows = []
    expected = []
    for n in (20_000, 5_000, 50_000):
        samples = (median_ns * rng.lognormal(0, sigma, n)).astype(np.int64)
        rows.append(np.bincount(bin_of(samples), minlength=BIN_COUNT))
        expected.append(np.percentile(samples, [50, 95, 99]) / 1e6)
    got = percentiles(np.array(rows), (50, 95, 99))
    assert got.shape == (3, 3)
    np.testing.assert_allclose(got, np.array(expected), rtol=0.05)


def test_percentiles_nan_without_samples_and_ignores_unknown_latency() -> None:
    hist = np.zeros((3, BIN_COUNT), np.int64)
    hist[0, NO_LATENCY_BIN] = 100  # only calls without latency
    hist[2, FIRST_LOG_BIN + 10] = 1
    hist[2, NO_LATENCY_BIN] = 1000
    got = percentiles(hist, (50, 99))
    assert np.isnan(got[0]).all()
    assert np.isnan(got[1]).all()
    np.testing.assert_allclose(got[2], BIN_VALUE_MS[FIRST_LOG_BIN + 10])


def test_percentile_rank_definition() -> None:
    hist = np.zeros((1, BIN_COUNT), np.int64)
    hist[0, 50] = 95
    hist[0, 60] = 4
    hist[0, 70] = 1
    p50, p95, p96, p99, p100 = percentiles(hist, (50, 95, 96, 99, 100))[0]
    assert p50 == p95 == BIN_VALUE_MS[50]  # the 95th of 100 samples is still in bin 50
    assert p96 == p99 == BIN_VALUE_MS[60]
    assert p100 == BIN_VALUE_MS[70]


def test_sparse_percentiles_match_dense() -> None:
    rng = np.random.default_rng(3)
    hist = rng.integers(0, 4, (40, BIN_COUNT)) * (rng.random((40, BIN_COUNT)) < 0.1)
    hist[5] = 0
    rows, bins = np.nonzero(hist)  # row-major order: sorted by (row, bin)
    keep = bins != NO_LATENCY_BIN
    sparse = sparse_percentiles(rows[keep], bins[keep], hist[rows, bins][keep], 40, (50, 95, 99))
    np.testing.assert_array_equal(sparse, percentiles(hist, (50, 95, 99)))
