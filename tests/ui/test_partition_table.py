"""The Partitions tab of the service and edge panels: the selected group's partitions at the cursor, sorting by a
header click, following new looks and scrubs, state colours from the theme, legible in the projector theme."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.selection import Selection
from flowviz.chart.themes import THEMES
from flowviz.derive.consumer_lag import LagTracker
from flowviz.derive.consumption import GroupMembers, GroupOffsets
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.edge_panel import EdgePanel
from flowviz.ui.main_window import MainWindow
from flowviz.ui.partition_table import STATE_COLUMN
from flowviz.ui.service_panel import ServicePanel
from flowviz.ui.ui_scale import apply_ui_scale, base_point_size
from tests.ui.test_flow_view import SECOND, T0, traffic

SECONDS = 120
PARTITIONS = 6


def _looks(store: RollingStore, *, until_s: int = SECONDS) -> None:
    """`billing` keeps up on `orders` (6 partitions); `audit` falls behind on partition 2 and is stalled on 4."""
    tracker = LagTracker()
    owners = {("orders", p): f"billing-{p % 3}@10.0.0.{p % 3 + 1}" for p in range(PARTITIONS)}
    members = {"billing": GroupMembers("stable", 3, owners), "audit": GroupMembers("stable", 1, {})}
    for second in range(0, until_s, 2):
        ends = {("orders", p): (40 if p == 0 else 8) * second for p in range(PARTITIONS)}
        committed = {("billing", "orders", p): ends[("orders", p)] for p in range(PARTITIONS)}
        for p in range(PARTITIONS):
            committed[("audit", "orders", p)] = {2: 4 * second, 4: 60}.get(p, ends[("orders", p)])
        store.consumer_lag.add(tracker.update(GroupOffsets(T0 + second * SECOND, committed, ends, "", members)))


@pytest.fixture
def model() -> FlowChartModel:
    store = RollingStore()
    store.ingest(
        traffic(
            [("shop", "orders", 10, 0.0), ("orders", "billing", 10, 0.0), ("orders", "audit", 5, 0.0)], seconds=SECONDS
        )
    )
    _looks(store)
    model = FlowChartModel(store, window_s=30.0, live=False)
    model.time.tick(0.0, model.available(), streaming=False)
    model.time.seek(T0 + 100 * SECOND)
    model.refresh()
    return model


def _texts(panel) -> list[list[str]]:
    item_model = panel.partitions.item_model
    return [
        [item_model.data(item_model.index(r, c)) for c in range(item_model.columnCount())]
        for r in range(item_model.rowCount())
    ]


def _tab_shown(panel) -> bool:
    return panel.tabs.isTabVisible(panel.tabs.indexOf(panel.partitions))


def test_a_group_shows_its_partitions_sorted_and_scrubbed(qtbot, model):
    panel = ServicePanel(model, Selection())
    qtbot.addWidget(panel)
    panel.selection.select_node(model.chart.node_names.index("audit"))
    assert _tab_shown(panel)
    rows = _texts(panel)
    assert [row[2] for row in rows] == ["0 hot", "1", "2", "3", "4", "5"]
    assert rows[2][5] == "400"
    assert rows[2][7] == "↑ 4/s"
    assert rows[2][8] == "warning"
    assert rows[4][8] == "stalled"
    assert rows[4][3] == "60"
    assert rows[0][9] == "–"  # the broker named no owners for audit
    colors = panel.partitions.item_model.colors
    state_color = panel.partitions.item_model.data(
        panel.partitions.item_model.index(4, STATE_COLUMN), Qt.ItemDataRole.ForegroundRole
    )
    assert state_color == colors["stalled"] != colors["ok"]
    # a header click sorts by lag, largest first on the second click
    header = panel.partitions.table.horizontalHeader()
    header.sectionClicked.emit(5)
    panel.partitions.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)
    assert [row[2] for row in _texts(panel)][:2] == ["4", "2"]
    # scrubbed back: the look as it was, still sorted by lag
    model.time.seek(T0 + 40 * SECOND)
    model.refresh()
    panel.refresh()
    rows = _texts(panel)
    assert rows[0][2] == "4"
    assert rows[0][5] == f"{8 * 40 - 60}"
    assert panel.partitions.summary.text().startswith("audit on orders: 6 partitions · lag 420")
    assert panel.partitions.table.isColumnHidden(0)
    assert panel.partitions.table.isColumnHidden(1)
    # a service without groups: no tab
    panel.selection.select_node(model.chart.node_names.index("shop"))
    assert not _tab_shown(panel)


def test_an_edge_shows_its_pair_and_a_producer_edge_every_group(qtbot, model):
    panel = EdgePanel(model, Selection())
    qtbot.addWidget(panel)
    chart = model.chart
    names = chart.node_names
    edges = {(names[s], names[t]): e for e, (s, t) in enumerate(zip(chart.edge_source, chart.edge_target, strict=True))}
    panel.selection.select_edge(edges[("orders", "billing")])
    assert {row[0] for row in _texts(panel)} == {"billing"}
    assert _texts(panel)[1][9] == "billing-1@10.0.0.2"
    panel.selection.select_edge(edges[("shop", "orders")])
    assert {row[0] for row in _texts(panel)} == {"audit", "billing"}


def test_new_looks_update_the_table_live(qtbot):
    store = RollingStore()
    store.ingest(traffic([("orders", "audit", 5, 0.0)], seconds=SECONDS))
    _looks(store, until_s=20)
    model = FlowChartModel(store, window_s=30.0, live=True)
    model.time.tick(0.0, model.available(), streaming=True)
    model.refresh()
    panel = ServicePanel(model, Selection())
    qtbot.addWidget(panel)
    panel.selection.select_node(model.chart.node_names.index("audit"))
    before = _texts(panel)[2][5]
    tracker_store = RollingStore()
    _looks(tracker_store)  # the same group, looked at for longer: its newest look arrives
    store.consumer_lag.add(tracker_store.consumer_lag.at())
    panel.refresh()
    assert _texts(panel)[2][5] != before
    assert _texts(panel)[2][5] == f"{8 * 118 - 4 * 118}"


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_projector_theme_renders_the_partitions_legibly(qtbot, model, size, tmp_path):
    model.theme = THEMES["projector"]
    window = MainWindow(model, title="partitions")
    qtbot.addWidget(window)
    apply_ui_scale(window, THEMES["projector"])
    window.resize(*size)
    window.show()
    window.view.refresh()
    window.view.select(model.chart.node_names.index("audit"))
    panel = window.service_panel
    panel.tabs.setCurrentWidget(panel.partitions)
    panel.refresh()
    qtbot.wait(50)
    image = window.grab().toImage()
    out = os.environ.get("FLOWVIZ_RENDER_DIR")
    if out:
        image.save(os.path.join(out, f"partitions-projector-{size[0]}x{size[1]}.png"))
    table = panel.partitions.table
    assert table.isVisible()
    # the projector's type: the table's font is the window's (the theme's scale), and every shown column's
    # texts fit (no elision)
    assert table.font().pointSizeF() == pytest.approx(window.font().pointSizeF(), abs=0.05)
    assert table.font().pointSizeF() > base_point_size() * 1.15
    metrics = table.fontMetrics()
    for column in range(2, panel.partitions.item_model.columnCount()):
        widest = max(metrics.horizontalAdvance(row[column]) for row in _texts(panel))
        assert table.columnWidth(column) >= widest
    # the stalled partition's state is drawn in the projector's failing red
    state = panel.partitions.item_model.data(
        panel.partitions.item_model.index(4, STATE_COLUMN), Qt.ItemDataRole.ForegroundRole
    )
    assert state.name() == "#ff2d2d"
