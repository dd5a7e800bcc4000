"""The render benchmark draws the case it names: every service, not the automatic grouping's boxes."""

from flowviz.bench.render import _frame_times
from flowviz.ui.render import offscreen_application


def test_a_case_above_the_grouping_threshold_draws_all_its_services() -> None:
    offscreen_application()
    case = _frame_times(150, 400, 500, frames=3, width=640, height=360)
    assert case["nodes"] == 150  # auto grouping would draw a handful of group boxes
    assert case["edges"] >= 300
    assert case["frames"] == 3
    assert case["p95_ms"] > 0
