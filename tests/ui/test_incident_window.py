"""Save incident… from a capture window, open the file: the same edges, bookmarks and view, read-only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QDockWidget

from flowviz.sources.incident_package import read_package
from flowviz.ui.incident_window import save_incident
from flowviz.ui.timeline_strip import Bookmark
from flowviz.ui.windows import capture_window, incident_window

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample-shop.otlp.jsonl.gz"
S = 1_000_000_000
FIRST_S = 1_700_000_000


def _loaded(qtbot, window) -> None:
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitUntil(lambda: window.feed.status.finished, timeout=60_000)
    window._update_status()  # the status poll finishes the load (and restores an incident's view)
    window.view.refresh()


def _edges(window) -> dict[tuple[str, str], float]:
    chart = window.model.chart
    return {
        (chart.node_names[s], chart.node_names[t]): float(r)
        for s, t, r in zip(chart.edge_source, chart.edge_target, chart.edge_rate_per_s, strict=True)
        if r > 0
    }


def _positions(window) -> dict[str, tuple[float, float]]:
    """Where the layout put each node (the chart stretches that to the view's width:height)."""
    layout = window.model.layout.result
    return {name: tuple(np.round(layout.positions[i], 6)) for i, name in enumerate(layout.node_names)}


def _center(window) -> np.ndarray:
    view = window.view
    return np.array(view.viewport.to_world(view.width() / 2, view.height() / 2)) / window.model.stretch


def test_an_incident_file_round_trips_edges_bookmarks_and_view(qtbot, tmp_path):
    window = capture_window([str(SAMPLE)], bookmark_key=None)
    try:
        _loaded(qtbot, window)
        model, view = window.model, window.view
        model.time.set_window(30.0)
        model.time.seek((FIRST_S + 75) * S)
        window.theme_box.setCurrentText("light")
        view.refresh()
        chart = model.chart
        tax = chart.node_names.index("tax")
        model.pin(tax, *(chart.node_xy[tax] + [0.0, 140.0]))  # dragged below where it was
        view.refresh()
        view.select(chart.node_names.index("cart"))
        view.viewport.zoom_at(1.7, 300, 200)
        window.strip.set_bookmarks([Bookmark((FIRST_S + 60) * S, "card errors"), Bookmark((FIRST_S + 70) * S, "ok")])
        window.compare.set_baseline((FIRST_S + 10) * S, (FIRST_S + 40) * S)
        window.controls.filter_field.setText("hide name ~ reporting")
        window.controls.apply_filter()
        view.refresh()
        assert "reporting" not in model.chart.node_names
        out = tmp_path / "incident.flowviz"
        save_incident(window, str(out), notes="payments db pool")
        before = (_edges(window), _positions(window), model.time.window_ns(), view.viewport.scale)
        center_before = _center(window)
    finally:
        window.feed.stop()

    assert read_package(str(out)).view.pins.keys() == {"tax"}
    opened = incident_window(str(out))
    try:
        _loaded(qtbot, opened)
        model, view = opened.model, opened.view
        assert "read-only" in opened.windowTitle()
        assert _edges(opened) == before[0]
        assert _positions(opened) == before[1]
        assert model.time.window_ns() == before[2]
        assert view.viewport.scale == before[3]
        assert np.allclose(_center(opened), center_before)
        assert [(b.time_ns, b.name) for b in opened.strip.bookmarks] == [
            ((FIRST_S + 60) * S, "card errors"),
            ((FIRST_S + 70) * S, "ok"),
        ]
        assert model.layout.pins.keys() == {"tax"}
        assert model.theme.name == "light"
        assert opened.controls.filter_field.text() == "hide name ~ reporting"
        assert "reporting" not in model.chart.node_names
        assert opened.compare.baseline == ((FIRST_S + 10) * S, (FIRST_S + 40) * S)
        assert opened.view.overlay is opened.compare.overlay
        assert model.chart.node_names[view.emphasis.selected] == "cart"
        notes = opened.findChild(QDockWidget, "incident_notes")
        assert notes.widget().toPlainText() == "payments db pool"
    finally:
        opened.feed.stop()
