"""File ▸ Export and the chart's right-click menus: pictures with title and legend, SVG with text as text,
tables that add up, the clipboard, pin/unpin and copy from a node's menu."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import orjson
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import THEMES
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.chart_menus import menu_at
from flowviz.ui.export_menu import copy_picture, export_picture, export_tables
from flowviz.ui.main_window import MainWindow
from tests.ui.test_flow_view import T0, node_center, traffic

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def window(qtbot) -> MainWindow:
    store = RollingStore()
    store.ingest(traffic([("checkout", "payments", 6, 0.5), ("checkout", "catalog", 4, 0.0)], seconds=30))
    model = FlowChartModel(store, window_s=30.0, live=False, theme=THEMES["light"])
    window = MainWindow(model, title="orders-capture.json")
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    model.time.seek(T0 + 30 * 1_000_000_000)
    window.view.refresh()
    window.view.fit()
    return window


def test_svg_export_parses_and_holds_names_title_and_range_as_text(window, tmp_path):
    path = tmp_path / "chart.svg"
    export_picture(window, str(path))
    root = ET.parse(path).getroot()
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert {"checkout", "payments", "catalog"} <= set(texts)
    assert "orders-capture.json" in texts
    assert any(t.endswith("UTC (30 s)") for t in texts)
    assert any(t.startswith("failing: ≥ 10 %") for t in texts)  # the legend, as text too
    assert root.find(f"{SVG}title").text == "orders-capture.json"


def test_png_export_adds_title_and_legend_around_the_chart_in_the_theme(window, tmp_path):
    path = tmp_path / "chart.png"
    export_picture(window, str(path))
    image = QImage(str(path))
    view = window.view
    assert image.width() == view.width()
    assert image.height() > view.height() + 80
    background = THEMES["light"].background
    corner = image.pixelColor(2, 2)
    assert (corner.red(), corner.green(), corner.blue()) == background[:3]
    bare = tmp_path / "bare.png"
    export_picture(window, str(bare), legend=False)
    assert QImage(str(bare)).height() == view.height()


def test_copy_puts_the_picture_on_the_clipboard(window):
    QApplication.clipboard().clear()
    copy_picture(window)
    image = QApplication.clipboard().image()
    assert image.width() == window.view.width()
    assert image.height() > window.view.height()


def test_tables_as_csv_add_up_to_the_json(window, tmp_path):
    export_tables(window, str(tmp_path / "t.json"))
    export_tables(window, str(tmp_path / "t.csv"))
    tables = orjson.loads((tmp_path / "t.json").read_bytes())
    edges = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    nodes = list(csv.DictReader(io.StringIO((tmp_path / "t-nodes.csv").read_text())))
    assert sum(int(e["requests"]) for e in edges) == sum(e["requests"] for e in tables["edges"]) == 300
    assert sum(int(e["errors"]) for e in edges) == sum(e["errors"] for e in tables["edges"]) == 90
    assert {n["name"] for n in nodes} == {n["name"] for n in tables["nodes"]} == {"checkout", "payments", "catalog"}
    assert tables["window"]["seconds"] == 30.0


def _action(menu, prefix):
    return next(a for a in menu.actions() if a.text().startswith(prefix))


def test_node_menu_copies_the_name_and_pins_and_unpins(window):
    view = window.view
    center = node_center(view, "payments")
    menu = menu_at(window, center)
    _action(menu, "Copy name").trigger()
    assert QApplication.clipboard().text() == "payments"
    _action(menu, "Pin where it is").trigger()
    assert "payments" in window.model.layout.pins
    menu = menu_at(window, center)
    _action(menu, "Unpin").trigger()
    assert "payments" not in window.model.layout.pins
    _action(menu_at(window, center), "Open panel").trigger()
    chart = window.model.chart
    assert chart.node_names[view.emphasis.selected] == "payments"


def test_edge_and_background_menus(window):
    view, chart = window.view, window.model.chart
    edge = next(e for e in range(chart.edge_count) if chart.node_names[chart.edge_target[e]] == "payments")
    x, y = view.viewport.to_screen(chart.edge_curve[edge][len(chart.edge_curve[edge]) // 2])
    menu = menu_at(window, QPoint(round(x), round(y)))
    _action(menu, "Copy caller").trigger()
    assert QApplication.clipboard().text() == "checkout → payments"
    _action(menu, "Open panel").trigger()
    assert view.emphasis.selected_edge == edge
    background = menu_at(window, QPoint(3, 3))
    assert [a.text() for a in background.actions()][:2] == ["Fit (F)", "Re-layout (R)"]
    assert any(a.menu() is window.export_menu for a in background.actions())


def test_file_menu_has_export_before_quit(window):
    texts = [a.text() for a in window.file_menu.actions()]
    assert texts.index("&Export") < texts.index("&Quit")
    assert [a.text() for a in window.export_menu.actions() if a.text()][:3] == [
        "Chart as &PNG…",
        "Chart as &SVG…",
        "C&opy chart image",
    ]


def test_node_menu_focuses_and_hides_and_the_background_shows_everything_again(window):
    view = window.view
    _action(menu_at(window, node_center(view, "payments")), "Focus").trigger()
    assert window.model.scope.focus.node == "payments"
    assert set(window.model.chart.node_names) == {"checkout", "payments"}
    _action(menu_at(window, QPoint(3, 3)), "Show everything").trigger()
    assert window.model.scope.focus is None
    view.fit()
    _action(menu_at(window, node_center(view, "catalog")), "Hide").trigger()
    assert "catalog" not in window.model.chart.node_names
    assert "payments" in window.model.chart.node_names
    view.fit()
    _action(menu_at(window, node_center(view, "payments")), "Hide").trigger()
    assert set(window.model.chart.node_names) == {"checkout"}
    _action(menu_at(window, QPoint(3, 3)), "Show everything").trigger()
    assert set(window.model.chart.node_names) == {"checkout", "payments", "catalog"}
