"""The painter's text for a node: figures, and the live source's note (a consumer group's lag)."""

from __future__ import annotations

from flowviz.chart.flow_model import FlowChartModel
from flowviz.sources.kafka_events import lag_notes
from flowviz.ui.chart_painter import figure_line
from tests.chart.test_node_notes import _store


def test_the_painted_figure_line_carries_the_note() -> None:
    """What the chart labels and the hover tooltip print for a node (`figure_line`) ends with its note."""
    status = {"events": {"groups": [{"topic": "orders", "group": "billing", "lag": 1234}]}}
    model = FlowChartModel(_store(), window_s=30.0, live=False)
    model.node_notes = lambda: lag_notes(status)
    model.refresh()
    chart = model.chart
    assert figure_line(chart, chart.node_names.index("billing")).endswith(" · lag 1 234")
    assert "lag" not in figure_line(chart, chart.node_names.index("shop"))
