"""Captions of exported pictures: the time range in words, and a legend that states the thresholds in use."""

from __future__ import annotations

from flowviz.chart.caption import legend_entries, range_text, window_caption
from flowviz.chart.themes import DARK, HealthThresholds

S = 1_000_000_000
NOON = 1_701_777_600 * S  # 2023-12-05 12:00:00 UTC


def test_range_text_names_both_ends_and_the_length():
    assert range_text(NOON, NOON + 60 * S) == "2023-12-05 12:00:00 – 12:01:00 UTC (60 s)"
    assert range_text(NOON, NOON + 300 * S).endswith("(5 min)")
    # across midnight the end gets its date too
    late = NOON + 11 * 3600 * S + 59 * 60 * S
    assert range_text(late, late + 120 * S) == "2023-12-05 23:59:00 – 2023-12-06 00:01:00 UTC (2 min)"


def test_a_comparison_caption_says_what_it_is_compared_with():
    caption = window_caption("orders.json", NOON + 60 * S, NOON + 120 * S, baseline=(NOON, NOON + 60 * S))
    assert caption.title == "orders.json"
    assert caption.subtitle.startswith("2023-12-05 12:01:00")
    assert caption.note == "compared with 2023-12-05 12:00:00 – 12:01:00 UTC (60 s)"


def test_the_legend_states_the_thresholds_and_colours_in_use():
    thresholds = HealthThresholds(degraded_failure_ratio=0.02, failing_p95_ms=1500.0)
    entries = legend_entries(DARK, thresholds)
    texts = {entry.text: entry for entry in entries}
    degraded = next(e for e in entries if e.text.startswith("degraded"))
    failing = next(e for e in entries if e.text.startswith("failing"))
    assert "2 %" in degraded.text
    assert degraded.color == DARK.degraded
    assert "1.5 s" in failing.text
    assert failing.color == DARK.failing
    assert {"service", "database", "topic", "external", "user"} <= set(texts)
    sizes = next(e for e in entries if e.mark == "size")
    assert list(sizes.radii) == sorted(sizes.radii)
    assert sizes.radii[0] < sizes.radii[-1]


def test_a_capture_without_time_says_so_instead_of_1970() -> None:
    from flowviz.chart.caption import window_caption

    caption = window_caption("deps.json", -59_000_000_000, 1_000_000_000)
    assert caption.subtitle == "no time in this capture (a dependency list)"
