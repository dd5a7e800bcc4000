"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def median_ms(call: Callable[[], object], repeats: int = 3) -> float:
    """Median wall time of `repeats` calls (the first one included), in milliseconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1e3)
    return float(np.median(times))
