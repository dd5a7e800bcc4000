"""A latency histogram's bars: `latency_bins` grouped by four on a log axis, their edges, ticks and the range text."""

from __future__ import annotations

import math

import numpy as np

from flowviz.model.time_spec import format_latency_ms
from flowviz.store.latency_bins import BIN_COUNT, BIN_LOWER_NS, FIRST_LOG_BIN, OVERFLOW_BIN, UNDERFLOW_BIN

BINS_PER_BAR = 4  # four log bins (x1.09 each) per bar: a factor of about 1.41
BAR_COUNT = math.ceil((OVERFLOW_BIN - FIRST_LOG_BIN) / BINS_PER_BAR)
_FIRST_BIN_OF_BAR = FIRST_LOG_BIN + BINS_PER_BAR * np.arange(BAR_COUNT)
BAR_EDGES_LOG_MS = np.log10(
    np.append(BIN_LOWER_NS[_FIRST_BIN_OF_BAR], BIN_LOWER_NS[FIRST_LOG_BIN] * 1.09 ** (BINS_PER_BAR * BAR_COUNT)) / 1e6
)
"""log10 of each bar's lower edge in ms, and of the last bar's upper edge."""


def bar_counts(histogram: np.ndarray) -> np.ndarray:
    """Calls per bar of a `latency_bins` histogram (below 1 µs in the first bar, overflow in the last)."""
    histogram = np.asarray(histogram, np.int64)
    padded = np.zeros(BAR_COUNT * BINS_PER_BAR, np.int64)
    padded[: OVERFLOW_BIN - FIRST_LOG_BIN] = histogram[FIRST_LOG_BIN:OVERFLOW_BIN]
    counts = padded.reshape(BAR_COUNT, BINS_PER_BAR).sum(axis=1)
    counts[0] += histogram[UNDERFLOW_BIN]
    counts[-1] += histogram[OVERFLOW_BIN]
    return counts


def bins_of_bars(first_bar: int, last_bar: int) -> tuple[int, int]:
    """The `latency_bins` bins (first, last, inclusive) the bars first_bar..last_bar count."""
    first = UNDERFLOW_BIN if first_bar <= 0 else FIRST_LOG_BIN + BINS_PER_BAR * first_bar
    last = OVERFLOW_BIN if last_bar >= BAR_COUNT - 1 else FIRST_LOG_BIN + BINS_PER_BAR * (last_bar + 1) - 1
    return first, min(last, BIN_COUNT - 1)


def bars_of_bins(first_bin: int, last_bin: int) -> tuple[int, int]:
    """The bars (first, last, inclusive) that hold bins first_bin..last_bin: the inverse of `bins_of_bars`."""

    def bar(bin_index: int) -> int:
        return int(np.clip((bin_index - FIRST_LOG_BIN) // BINS_PER_BAR, 0, BAR_COUNT - 1))

    return bar(first_bin), bar(last_bin)


def tick_label(log_ms: float) -> str:
    """An axis label for 10**log_ms milliseconds: "10 µs", "5 ms", "2 s"."""
    ms = 10**log_ms
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    if ms >= 1:
        return f"{ms:g} ms"
    return f"{ms * 1000:g} µs"


def bins_text(first_bin: int, last_bin: int) -> str:
    """The latency range bins first_bin..last_bin (inclusive) cover: "1.2 ms – 4.5 ms", "≥ 10 s"."""
    low_ms = BIN_LOWER_NS[first_bin] / 1e6
    if last_bin + 1 >= BIN_COUNT:
        return f"≥ {format_latency_ms(low_ms)}"
    return f"{format_latency_ms(low_ms)} – {format_latency_ms(BIN_LOWER_NS[last_bin + 1] / 1e6)}"
