"""Problems: counts by reason, the first locations, merged from another collector in order."""

from __future__ import annotations

import io

from flowviz.model.problems import MAX_LOCATIONS_PER_REASON, Problems


def test_merge_adds_counts_and_keeps_the_first_locations_in_order() -> None:
    echo = io.StringIO()
    here, there = Problems(echo=echo), Problems()
    here.add("bad line", "f:1")
    for line in range(2, 10):
        there.add("bad line", f"f:{line}")
    there.add("cut frame", "f@99", count=3)
    here.merge(there)
    assert here.as_dict() == {
        "bad line": {"count": 9, "first": [f"f:{n}" for n in range(1, MAX_LOCATIONS_PER_REASON + 1)]},
        "cut frame": {"count": 3, "first": ["f@99"]},
    }
    assert echo.getvalue().splitlines() == ["flowviz: skipped: bad line at f:1", "flowviz: skipped: cut frame at f@99"]
