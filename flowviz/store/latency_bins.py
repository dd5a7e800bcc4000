"""Log-spaced latency bins: the bin of a latency, each bin's value, and vectorised percentiles of histograms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BIN_RATIO = 1.09
"""Upper edge / lower edge of a log bin; its geometric mid-point is within ±4.4 % of any value in it."""
MIN_LATENCY_NS = 1_000
"""Lower edge of the first log bin (1 µs); faster calls share the underflow bin."""
LOG_BIN_COUNT = 241
"""Log bins cover [1 µs, 1 µs · 1.09**241 ≈ 1 080 s); slower calls share the overflow bin."""

NO_LATENCY_BIN = 0
"""Calls without a known latency (`latency_ns == -1`): requests, but no latency sample."""
UNDERFLOW_BIN = 1
FIRST_LOG_BIN = 2
OVERFLOW_BIN = FIRST_LOG_BIN + LOG_BIN_COUNT
BIN_COUNT = OVERFLOW_BIN + 1
"""244 bins in all, so a bin index fits in uint8."""

_INV_LOG_RATIO = 1.0 / np.log(BIN_RATIO)
MAX_LOG_LATENCY_NS = MIN_LATENCY_NS * BIN_RATIO**LOG_BIN_COUNT


def _bin_lower_ns() -> np.ndarray:
    lower = np.empty(BIN_COUNT, np.float64)
    lower[NO_LATENCY_BIN] = np.nan
    lower[UNDERFLOW_BIN] = 0.0
    lower[FIRST_LOG_BIN:OVERFLOW_BIN] = MIN_LATENCY_NS * BIN_RATIO ** np.arange(LOG_BIN_COUNT)
    lower[OVERFLOW_BIN] = MAX_LOG_LATENCY_NS
    return lower


BIN_LOWER_NS = _bin_lower_ns()
"""Lower edge of each bin in ns (NaN for the no-latency bin)."""


def _bin_value_ms() -> np.ndarray:
    value_ns = BIN_LOWER_NS * np.sqrt(BIN_RATIO)  # geometric mid-point of each log bin (overflow: of its first ×1.09)
    value_ns[UNDERFLOW_BIN] = MIN_LATENCY_NS / 2
    return value_ns / 1e6


BIN_VALUE_MS = _bin_value_ms()
"""The latency each bin reports, in milliseconds (NaN for the no-latency bin)."""
BIN_VALUE_MS.flags.writeable = False
BIN_LOWER_NS.flags.writeable = False


def bin_of(latency_ns: np.ndarray) -> np.ndarray:
    """Bin index (uint8) of each latency; negative latencies (unknown) go to `NO_LATENCY_BIN`."""
    latency_ns = np.asarray(latency_ns, np.int64)
    scaled = np.maximum(latency_ns, MIN_LATENCY_NS).astype(np.float64)
    scaled *= 1.0 / MIN_LATENCY_NS
    index = np.log(scaled)
    index *= _INV_LOG_RATIO
    index += 1e-9  # a latency exactly on a bin edge belongs to the bin above, despite rounding in the log
    bins = np.minimum(index, LOG_BIN_COUNT).astype(np.uint8)  # truncation == floor for index ≥ 0
    bins += FIRST_LOG_BIN
    bins[latency_ns < MIN_LATENCY_NS] = UNDERFLOW_BIN
    bins[latency_ns < 0] = NO_LATENCY_BIN
    return bins


def _ranks(totals: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """rows × len(qs) ranks (1-based) of the q-th percentile: ceil(q/100 · total), at least 1."""
    fractions = np.asarray(qs, np.float64) / 100.0
    if np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"percentiles must be in [0, 100], got {list(qs)}")
    ranks = np.ceil(totals[:, None].astype(np.float64) * fractions[None, :] - 1e-6).astype(np.int64)
    return np.clip(ranks, 1, np.maximum(totals, 1)[:, None])


def percentiles(hist: np.ndarray, qs: Sequence[float] = (50, 95, 99)) -> np.ndarray:
    """Percentiles (`qs` in percent) in milliseconds of each row of a rows × `BIN_COUNT` histogram.

    The no-latency column is ignored; rows without latency samples give NaN. A percentile is the
    value of the bin holding the ceil(q/100 · n)-th smallest sample, so it is within 5 % of it.
    """
    hist = np.asarray(hist)
    if hist.ndim != 2 or hist.shape[1] != BIN_COUNT:
        raise ValueError(f"expected a rows × {BIN_COUNT} histogram, got shape {hist.shape}")
    rows = hist.shape[0]
    out = np.full((rows, len(qs)), np.nan)
    samples = hist[:, UNDERFLOW_BIN:].astype(np.int64)
    totals = samples.sum(axis=1)
    (have,) = np.nonzero(totals)
    if have.size == 0:
        return out
    samples, totals = samples[have], totals[have]
    # One monotone cumulative sum over all rows, so a single searchsorted finds every row's bin.
    flat = np.cumsum(samples.ravel())
    row_base = np.concatenate(([0], np.cumsum(totals)[:-1]))
    targets = row_base[:, None] + _ranks(totals, qs)
    position = np.searchsorted(flat, targets.ravel(), side="left").reshape(targets.shape)
    columns = position - (np.arange(have.size) * samples.shape[1])[:, None] + UNDERFLOW_BIN
    out[have] = BIN_VALUE_MS[columns]
    return out


def sparse_percentiles(
    row: np.ndarray, bin_index: np.ndarray, count: np.ndarray, rows: int, qs: Sequence[float] = (50, 95, 99)
) -> np.ndarray:
    """Like `percentiles` for a sparse histogram: cells (row, bin, count) sorted by (row, bin), rows unique per bin.

    Cells in the no-latency bin must already be left out. Returns rows × len(qs) milliseconds.
    """
    out = np.full((rows, len(qs)), np.nan)
    if row.size == 0:
        return out
    count = np.asarray(count, np.int64)
    flat = np.cumsum(count)
    starts = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))
    present = row[starts]
    totals = np.add.reduceat(count, starts)
    row_base = flat[starts] - count[starts]
    targets = row_base[:, None] + _ranks(totals, qs)
    position = np.searchsorted(flat, targets.ravel(), side="left").reshape(targets.shape)
    out[present] = BIN_VALUE_MS[bin_index[position]]
    return out
