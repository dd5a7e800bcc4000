"""Right-click menus on the chart: on a node (open panel, focus, hide, pin/unpin, copy name, export), on an edge
(open panel, copy, export) and on the background (fit, re-layout, show everything, export, copy image)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu

from flowviz.ui.export_menu import copy_picture


def _add(menu: QMenu, text: str, handler, *, enabled: bool = True) -> None:
    action = menu.addAction(text)
    action.triggered.connect(handler)
    action.setEnabled(enabled)


def _copy_text(window: QMainWindow, text: str) -> None:
    QApplication.clipboard().setText(text)
    window.statusBar().showMessage(f"Copied “{text}”", 3000)


def _add_export(menu: QMenu, window: QMainWindow) -> None:
    menu.addSeparator()
    export = getattr(window, "export_menu", None)
    if export is not None:
        menu.addMenu(export)
    _add(menu, "Copy chart image", lambda: copy_picture(window))


def hide_text(current: str, name: str) -> str:
    """The filter text that also hides `name`: added to what a `hide` filter hides, or cut out of what a
    filter shows."""
    clause = f'name = "{name}"'
    body = current.strip()
    if not body:
        return f"hide {clause}"
    if body.lower().startswith("hide "):
        return f"hide ({body[5:]}) OR {clause}"
    if body.lower().startswith("show "):
        body = body[5:]
    return f"({body}) AND NOT {clause}"


def _focus(window: QMainWindow, node: int) -> None:
    window.view.select(node)
    window.controls.focus_selection()  # the Chart menu's focus, with its depths


def _hide(window: QMainWindow, name: str) -> None:
    controls = window.controls
    controls.filter_field.setText(hide_text(controls.filter_field.text(), name))
    controls.apply_filter()


def _show_everything(window: QMainWindow) -> None:
    controls = window.controls
    controls.clear_focus()
    controls.filter_field.clear()
    controls.problems_action.setChecked(False)
    controls.apply_filter()


def node_menu(window: QMainWindow, node: int) -> QMenu:
    view, model = window.view, window.model
    name = model.chart.node_names[node]
    menu = QMenu(window)
    menu.setTitle(name)
    _add(menu, f"Open panel: {name}", lambda: view.select(node))
    if not model.members(node):  # an ordinary node (not a group)
        _add(menu, "Focus: it, its callers and callees", lambda: _focus(window, node))
        if '"' not in name:
            _add(menu, "Hide", lambda: _hide(window, name))
    pinned = name in model.layout.pins
    if pinned:
        _add(menu, "Unpin (re-layout may move it)", lambda: (model.layout.unpin(name), view.update()))
    else:

        def pin_here() -> None:
            model.pin(node, *model.chart.node_xy[node])
            model.refresh()
            view.update()

        _add(menu, "Pin where it is", pin_here)
    _add(menu, "Copy name", lambda: _copy_text(window, name))
    for text, handler in getattr(window, "node_menu_extras", lambda _node: [])(node):
        _add(menu, text, handler)
    _add_export(menu, window)
    return menu


def edge_menu(window: QMainWindow, edge: int) -> QMenu:
    view, chart = window.view, window.model.chart
    text = f"{chart.node_names[int(chart.edge_source[edge])]} → {chart.node_names[int(chart.edge_target[edge])]}"
    menu = QMenu(window)
    _add(menu, f"Open panel: {text}", lambda: view.select_edge(edge))
    _add(menu, "Copy caller → callee", lambda: _copy_text(window, text))
    _add_export(menu, window)
    return menu


def background_menu(window: QMainWindow) -> QMenu:
    view, model = window.view, window.model
    menu = QMenu(window)
    _add(menu, "Fit (F)", view.fit)
    _add(menu, "Re-layout (R)", lambda: (model.relayout(), view.fit()))
    if model.scope.is_cut:
        _add(menu, "Show everything (no focus, no filter)", lambda: _show_everything(window))
    for text, handler in getattr(window, "background_menu_extras", lambda: [])():
        _add(menu, text, handler)
    _add_export(menu, window)
    return menu


def menu_at(window: QMainWindow, position: QPoint) -> QMenu:
    """The menu for what is under `position` (view coordinates): a node, else an edge, else the background."""
    view, model = window.view, window.model
    if model.chart is not None:
        world = view.viewport.to_world(position.x(), position.y())
        node = model.node_at(*world, slop=4.0 / view.viewport.scale)
        if node is not None:
            return node_menu(window, node)
        edge = model.edge_at(*world, slop=6.0 / view.viewport.scale)
        if edge is not None:
            return edge_menu(window, edge)
    return background_menu(window)


def install_chart_menus(window: QMainWindow) -> None:
    """Right-click on the window's chart opens the menu for what is under the pointer."""
    view = window.view
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def show(position: QPoint) -> None:
        menu = menu_at(window, position)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(view.mapToGlobal(position))

    view.customContextMenuRequested.connect(show)
