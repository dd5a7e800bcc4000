"""A node's neighbour rows, headless: busiest first, exact rates, failure and traffic shares."""

from __future__ import annotations

import pytest

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.neighbours import neighbour_rows
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000
BASE_NS = 1_700_000_000 * SECOND_NS


def chart_model(seconds: int = 30) -> FlowChartModel:
    """a → b 10/s, c → b 5/s (one in five failing), b → d 3/s, for `seconds` s; the window: the last 30 s."""
    names = ("", "a", "b", "c", "d")
    calls = [(1, 2, 10, 0.0), (3, 2, 5, 0.2), (2, 4, 3, 0.0)]
    source, target, time_ns, failed = [], [], [], []
    for s, t, per_second, failing in calls:
        for second in range(seconds):
            for k in range(per_second):
                source.append(s)
                target.append(t)
                time_ns.append(BASE_NS + second * SECOND_NS + k)
                failed.append(k < per_second * failing)
    store = RollingStore()
    store.ingest(
        EdgeObservations.from_columns(
            names,
            source=source,
            target=target,
            source_kind=NodeKind.SERVICE,
            target_kind=NodeKind.SERVICE,
            connection_type=ConnectionType.DIRECT,
            via=0,
            time_ns=time_ns,
            latency_ns=20_000_000,
            failed=failed,
        )
    )
    model = FlowChartModel(store, window_s=30.0, live=False)
    model.time.tick(0.0, model.available(), streaming=False)
    model.time.seek(BASE_NS + seconds * SECOND_NS)
    model.refresh()
    return model


def test_neighbour_rows_and_shares_are_exact():
    chart = chart_model().chart
    b = chart.node_names.index("b")
    up = neighbour_rows(chart, b, upstream=True)
    assert [row.name for row in up] == ["a", "c"]
    assert [row.rate_per_s for row in up] == pytest.approx([10.0, 5.0])
    assert [row.share for row in up] == pytest.approx([2 / 3, 1 / 3])
    assert [row.failure_pct for row in up] == pytest.approx([0.0, 20.0])
    assert [chart.node_names[row.node] for row in up] == ["a", "c"]
    assert all(chart.edge_target[row.edge] == b for row in up)
    down = neighbour_rows(chart, b, upstream=False)
    assert [(row.name, row.share) for row in down] == [("d", pytest.approx(1.0))]
    assert down[0].p95_ms == pytest.approx(float(chart.edge_p95_ms[down[0].edge]))
    assert neighbour_rows(chart, chart.node_names.index("a"), upstream=True) == []
