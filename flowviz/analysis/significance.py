"""Count statistics for "did this change?": vectorised z-scores for rates, failure ratios and slow-call ratios.

Every test here works on counts, so little traffic gives little evidence: one failure in a quiet
minute is not a jump, and a shift on a busy edge outranks the same shift on a quiet one. The
scores are signed (positive: the "after" side is higher) and roughly standard normal under "no
change", so one threshold (e.g. 4) means the same everywhere.
"""

from __future__ import annotations

import numpy as np


def _float(values: np.ndarray | float) -> np.ndarray:
    return np.asarray(values, np.float64)


def rate_change_z(
    before_count: np.ndarray | float,
    before_s: np.ndarray | float,
    after_count: np.ndarray | float,
    after_s: np.ndarray | float,
) -> np.ndarray:
    """Poisson rates compared by the conditional binomial test: given the total, the "after" count is
    Binomial(total, after_s / (before_s + after_s)) when the rate did not change. Continuity-corrected;
    0 where there are no calls at all or a side has no duration."""
    c0, c1 = _float(before_count), _float(after_count)
    t0, t1 = _float(before_s), _float(after_s)
    total = c0 + c1
    with np.errstate(invalid="ignore", divide="ignore"):
        share = t1 / (t0 + t1)
        expected = total * share
        spread = np.sqrt(total * share * (1.0 - share))
        excess = c1 - expected
        corrected = np.sign(excess) * np.maximum(np.abs(excess) - 0.5, 0.0)
        z = corrected / spread
    return np.where((total > 0) & (t0 > 0) & (t1 > 0) & (spread > 0), z, 0.0)


def proportion_increase_z(
    before_hits: np.ndarray | float,
    before_total: np.ndarray | float,
    after_hits: np.ndarray | float,
    after_total: np.ndarray | float,
) -> np.ndarray:
    """Two-proportion z-score (pooled, continuity-corrected) of hits/total after vs before.

    The pooled ratio gets half a hit of prior so that a clean baseline (0 of n) still has a
    spread, and the continuity correction makes the first hit or two on a quiet entity count
    for little. 0 where either side has no calls.
    """
    k0, n0 = _float(before_hits), _float(before_total)
    k1, n1 = _float(after_hits), _float(after_total)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (k0 + k1 + 0.5) / (n0 + n1 + 1.0)
        spread = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1))
        difference = k1 / n1 - k0 / n0
        correction = 0.5 * (1.0 / n0 + 1.0 / n1)
        corrected = np.sign(difference) * np.maximum(np.abs(difference) - correction, 0.0)
        z = corrected / spread
    return np.where((n0 > 0) & (n1 > 0) & (spread > 0), z, 0.0)


def error_ratio_z(
    before_errors: np.ndarray | float,
    before_requests: np.ndarray | float,
    after_errors: np.ndarray | float,
    after_requests: np.ndarray | float,
) -> np.ndarray:
    """How significantly the failure ratio rose (negative: fell), by `proportion_increase_z`."""
    return proportion_increase_z(before_errors, before_requests, after_errors, after_requests)


def latency_change_z(
    before_slow: np.ndarray | float,
    before_requests: np.ndarray | float,
    after_slow: np.ndarray | float,
    after_requests: np.ndarray | float,
) -> np.ndarray:
    """How significantly the share of slow calls rose, where "slow" is at or above the baseline's p95 (so
    about 5 % before): a count statistic for latency, see `WindowStats.slow_calls`."""
    return proportion_increase_z(before_slow, before_requests, after_slow, after_requests)
