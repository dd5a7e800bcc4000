"""The trace view: folding subtrees, the find field, names not cut short, room to grow."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from flowviz.chart.waterfall import has_children, visible_indices
from tests.ui.test_drill_down import node, simulated, window  # noqa: F401 (fixtures)


def _open_trace(window):  # noqa: F811
    window.view.select(node(window, "payments"))
    panel = window.service_panel
    panel.wait_for_details()
    panel.exemplar_table.cellClicked.emit(0, 0)
    window.trace_view.wait()
    return window.trace_view


def test_a_subtree_folds_and_unfolds_with_a_click_on_its_triangle(qtbot, window):  # noqa: F811
    view = _open_trace(window)
    canvas = view.canvas
    fall = view.fall
    rows = len(fall.order)
    parent = int(np.flatnonzero(has_children(fall.depth))[0])
    position = int(np.flatnonzero(canvas.visible == parent)[0])
    y = 22 * (position + 1) + 11
    x = 12 * int(fall.depth[parent]) + 6
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    hidden = rows - len(canvas.visible)
    assert hidden == len(visible_indices(fall.depth, set())) - len(visible_indices(fall.depth, {parent}))
    assert hidden > 0
    assert canvas.minimumHeight() < 22 * (rows + 1) + 8  # the canvas shrinks with the fold
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    assert len(canvas.visible) == rows


def test_find_marks_matching_spans_and_enter_reveals_the_next(qtbot, window):  # noqa: F811
    view = _open_trace(window)
    fall = view.fall
    spans = fall.spans
    service = spans.strings[int(spans.service[int(fall.order[-1])])]  # a service of the last row
    view.canvas.collapsed = {0}  # everything folded under the root
    view.canvas._relayout()
    view.find_field.setText(service.upper())  # any case
    expected = [r for r in fall.order.tolist() if spans.strings[int(spans.service[r])] == service]
    assert view.canvas.matches >= set(expected)
    assert view.find_count.text().endswith("spans match")
    qtbot.keyClick(view.find_field, Qt.Key.Key_Return)
    first = min(view.canvas.matches, key=lambda r: fall.order.tolist().index(r))
    assert view.canvas.selected == first
    index = fall.order.tolist().index(first)
    assert index in view.canvas.visible.tolist()  # unfolded to show it
    assert view.find_count.text().startswith("1 of ")
    assert service in view.span_details.text()


def test_names_are_not_cut_when_there_is_room(qtbot, window):  # noqa: F811
    from PySide6.QtGui import QFontMetrics

    from flowviz.ui.trace_view import WaterfallCanvas

    view = _open_trace(window)
    canvas = WaterfallCanvas(window.model.theme)
    qtbot.addWidget(canvas)
    canvas.set_waterfall(view.fall)
    canvas.resize(2000, 600)  # a wide trace view: half of it is room enough for every name here
    metrics, fall = QFontMetrics(canvas.font()), view.fall
    spans = fall.spans
    for row, level in zip(fall.order.tolist(), fall.depth.tolist(), strict=True):
        name = f"{spans.strings[int(spans.service[row])]}  {spans.strings[int(spans.name[row])]}"
        assert metrics.horizontalAdvance(name) <= canvas.name_column_px() - 12 * level - 25, name
