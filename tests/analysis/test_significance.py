"""The count statistics: no change scores near 0, a real change high, little traffic little evidence."""

from __future__ import annotations

import numpy as np

from flowviz.analysis.significance import error_ratio_z, latency_change_z, rate_change_z


def test_one_failure_in_a_quiet_minute_is_not_a_jump() -> None:
    # 0 of 600 calls failed before; 1 of 30 now: well below any threshold
    assert error_ratio_z(0, 600, 1, 30) < 2.0
    # 10 of 30 now is overwhelming
    assert error_ratio_z(0, 600, 10, 30) > 6.0
    # the same ratio on a busy edge is stronger evidence than on a quiet one
    assert error_ratio_z(10, 10_000, 60, 1_000) > error_ratio_z(1, 1_000, 6, 100) > 0


def test_rate_change_sign_and_size() -> None:
    assert abs(float(rate_change_z(600, 600, 30, 30))) < 0.2  # same rate
    assert rate_change_z(600, 600, 5, 30) < -4  # traffic dropped to a sixth
    assert rate_change_z(600, 600, 90, 30) > 4  # tripled
    assert rate_change_z(0, 600, 0, 30) == 0.0  # nothing at all: no evidence


def test_null_distribution_is_about_standard_normal() -> None:
    rng = np.random.default_rng(3)
    n0, n1, p = 3_000, 300, 0.05
    z = latency_change_z(rng.binomial(n0, p, 20_000), n0, rng.binomial(n1, p, 20_000), n1)
    assert abs(float(np.mean(z))) < 0.1
    assert np.mean(z > 4.0) < 1e-3
    counts0, counts1 = rng.poisson(600, 20_000), rng.poisson(30, 20_000)
    assert np.mean(np.abs(rate_change_z(counts0, 600, counts1, 30)) > 4.0) < 1e-3
