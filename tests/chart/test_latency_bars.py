"""A latency histogram's bars, headless: counts per bar, the bins a range of bars covers, its text."""

from __future__ import annotations

import numpy as np

from flowviz.chart.latency_bars import BAR_COUNT, BAR_EDGES_LOG_MS, bar_counts, bars_of_bins, bins_of_bars, bins_text
from flowviz.store.latency_bins import BIN_COUNT, OVERFLOW_BIN, UNDERFLOW_BIN, bin_of


def test_every_call_lands_in_one_bar_and_a_bar_range_covers_its_bins():
    latencies_ns = np.array([500, 2_000, 1_000_000, 1_000_000, 45_000_000, 10**13], np.int64)
    histogram = np.bincount(bin_of(latencies_ns), minlength=BIN_COUNT)
    counts = bar_counts(histogram)
    assert counts.sum() == len(latencies_ns)
    assert counts[0] >= 1  # below 1 µs: the first bar
    assert counts[-1] >= 1  # overflow: the last bar
    assert len(BAR_EDGES_LOG_MS) == BAR_COUNT + 1
    assert np.all(np.diff(BAR_EDGES_LOG_MS) > 0)
    one_ms_bar = int(np.searchsorted(BAR_EDGES_LOG_MS, 0.0, side="right")) - 1
    assert counts[one_ms_bar] == 2
    first, last = bins_of_bars(one_ms_bar, one_ms_bar)
    assert int(histogram[first : last + 1].sum()) == 2
    assert bins_of_bars(0, BAR_COUNT - 1) == (UNDERFLOW_BIN, OVERFLOW_BIN)


def test_the_range_text_reads_in_latency_units():
    first, last = bins_of_bars(0, BAR_COUNT - 1)
    assert bins_text(first + 40, last).startswith("≥ ")
    assert " – " in bins_text(first + 40, first + 44)


def test_the_bars_of_a_bin_range_are_the_ones_that_cover_it():
    for first_bar, last_bar in ((0, 0), (3, 7), (BAR_COUNT - 1, BAR_COUNT - 1), (0, BAR_COUNT - 1)):
        assert bars_of_bins(*bins_of_bars(first_bar, last_bar)) == (first_bar, last_bar)
    first, last = bins_of_bars(5, 5)
    assert bars_of_bins(first + 1, last - 1) == (5, 5)  # a range inside one bar shows that bar
