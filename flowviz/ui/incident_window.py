"""Incident files in the window: File ▸ Save incident… (captures or recording, window, baseline, bookmarks,
pins and positions, notes, theme, zoom, selection) and restoring a saved view (`ui/windows.py` opens the file)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
)

from flowviz.chart.focus import Focus
from flowviz.chart.grouping import GROUP_MODES
from flowviz.sources.incident_package import PACKAGE_SUFFIX, IncidentView, UnpackedIncident, write_package
from flowviz.ui.settings import forget_recent
from flowviz.ui.timeline_strip import Bookmark

SECOND_NS = 1_000_000_000


def window_sources(window: QMainWindow) -> tuple[list[str], str]:
    """The files behind the window (captures, or a live window's recording) and their format; OSError
    saying what to do when there are none."""
    paths = list(getattr(window, "capture_paths", ()) or ())
    if paths:
        return paths, getattr(window, "capture_format", "auto")
    recorder = getattr(window, "recorder", None)
    if recorder is not None and recorder.path:
        return [recorder.path], "auto"
    raise OSError(
        "this window has no capture file or recording to save: for a live source, press Record first "
        "(the incident file holds what was recorded)"
    )


def current_view(window: QMainWindow, *, notes: str = "") -> IncidentView:
    """The window's view as an incident file keeps it."""
    model, view = window.model, window.view
    chart = model.chart
    layout = model.layout.result
    center_x, center_y = np.array(view.viewport.to_world(view.width() / 2, view.height() / 2)) / model.stretch
    compare = getattr(window, "compare", None)
    extra: dict[str, object] = {"chart": _chart_cut(window)}
    named = zip(layout.node_names, layout.positions, strict=True)
    extra["positions"] = {name: [float(x), float(y)] for name, (x, y) in named}
    return IncidentView(
        window=model.time.window_ns(),
        baseline=compare.baseline if compare is not None else None,
        bookmarks=[(b.time_ns, b.name) for b in window.strip.bookmarks],
        pins=model.layout.pins,
        notes=notes,
        theme=model.theme.name,
        selected=chart.node_names[view.emphasis.selected]
        if chart is not None and view.emphasis.selected is not None
        else None,
        viewport={"scale": view.viewport.scale, "center_x": float(center_x), "center_y": float(center_y)},
        extra=extra,
    )


def _chart_cut(window: QMainWindow) -> dict[str, object]:
    """The Chart menu's cut of the graph: filter text, only-problems, grouping, open groups, focus."""
    controls, scope = window.controls, window.model.scope
    focus = scope.focus
    return {
        "filter": controls.filter_field.text(),
        "only_problems": controls.problems_action.isChecked(),
        "group_mode": scope.group_mode,
        "expanded": sorted(scope.expanded),
        "focus": None if focus is None else [focus.node, focus.upstream, focus.downstream, focus.until],
    }


def _apply_chart_cut(window: QMainWindow, cut: dict) -> None:
    controls, model = window.controls, window.model
    focus = cut.get("focus")
    changes = {
        "expanded": frozenset(str(e) for e in cut.get("expanded") or ()),
        "focus": None if not focus else Focus(str(focus[0]), int(focus[1]), int(focus[2]), focus[3]),
    }
    if cut.get("group_mode") in GROUP_MODES:
        changes["group_mode"] = cut["group_mode"]
        for action in controls.group_actions.actions():
            action.setChecked(action.text() == cut["group_mode"])
    model.set_scope(dataclasses.replace(model.scope, **changes))
    controls.filter_field.setText(str(cut.get("filter") or ""))
    controls.problems_action.setChecked(bool(cut.get("only_problems")))
    controls.apply_filter()


def save_incident(window: QMainWindow, path: str, *, notes: str = "") -> dict:
    """Write the window's incident file to `path` (OSError with the reason when it cannot)."""
    paths, format_name = window_sources(window)
    source = getattr(window, "source_title", None)
    return write_package(path, paths, current_view(window, notes=notes), format_name=format_name, source=source)


def apply_view(window: QMainWindow, state: IncidentView) -> None:
    """Put the window's view where the incident file says: layout, window, zoom, bookmarks, selection."""
    model, view = window.model, window.view
    if state.theme and hasattr(window, "theme_box"):
        window.theme_box.setCurrentText(state.theme)
    viewport = state.viewport or {}
    if isinstance(state.extra.get("chart"), dict):
        _apply_chart_cut(window, state.extra["chart"])
    positions = state.extra.get("positions") or {}
    for name, (x, y) in {**positions, **{n: list(p) for n, p in state.pins.items()}}.items():
        model.layout.pin(name, x, y)  # every node where it was ...
    if state.window is not None:
        start_ns, end_ns = state.window
        model.time.set_window((end_ns - start_ns) / SECOND_NS)
        model.time.seek(end_ns)
    view.refresh()
    for name in positions:
        if name not in state.pins:
            model.layout.unpin(name)  # ... and only the pinned ones pinned
    window.strip.set_bookmarks([Bookmark(t, n) for t, n in state.bookmarks])
    compare = getattr(window, "compare", None)
    if compare is not None and state.baseline is not None:
        compare.set_baseline(*state.baseline)
    if state.selected:
        hits = [i for i, name in enumerate(model.chart.node_names) if name == state.selected] if model.chart else []
        if hits:
            view.select(hits[0])
    if state.notes:
        show_notes(window, state.notes)
    if viewport:  # last: panels opening above resize the chart, which then keeps this centre and zoom
        scale = viewport["scale"]
        center_x, center_y = np.array([viewport["center_x"], viewport["center_y"]]) * model.stretch
        view.viewport.scale = scale
        view.viewport.offset_x = view.width() / 2 - center_x * scale
        view.viewport.offset_y = view.height() / 2 - center_y * scale
        view.hold_view()
    view.update()


def show_notes(window: QMainWindow, notes: str) -> None:
    """The incident's notes in a read-only panel on the right."""
    dock = QDockWidget("Incident notes", window)
    dock.setObjectName("incident_notes")
    text = QPlainTextEdit(notes, dock)
    text.setReadOnly(True)
    dock.setWidget(text)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.notes_dock = dock


def incident_loaded(window: QMainWindow, incident: UnpackedIncident) -> None:
    """An incident window's captures are loaded: restore the incident's view (the window factory calls this)."""
    forget_recent(incident.paths)  # the unpacked copies go with the window: the recent list keeps the package
    apply_view(window, incident.package.view)


def _ask_save(window: QMainWindow) -> None:
    try:
        window_sources(window)
    except OSError as error:
        QMessageBox.information(window, "Save incident", str(error))
        return
    default = os.path.join(os.path.expanduser("~"), "incident" + PACKAGE_SUFFIX)
    path, _ = QFileDialog.getSaveFileName(window, "Save incident", default, f"flowviz incident (*{PACKAGE_SUFFIX})")
    if not path:
        return
    if not path.endswith(PACKAGE_SUFFIX):
        path += PACKAGE_SUFFIX
    notes, accepted = QInputDialog.getMultiLineText(
        window, "Save incident", "Notes kept with the incident (what happened, what to look at):"
    )
    if not accepted:
        return
    try:
        manifest = save_incident(window, path, notes=notes)
    except OSError as error:
        QMessageBox.warning(window, "Save incident", f"Could not write {path}: {error}")
        return
    left = [c for c in manifest["captures"] if not c["member"]]
    message = f"Saved {path}"
    if left:
        message += " — " + "; ".join(f"{c['name']} {c['note']}" for c in left)
    window.statusBar().showMessage(message, 10_000)


def install_incident_menu(window: QMainWindow) -> None:
    """File ▸ Save incident… (before Export)."""
    action = QAction("Save &incident…", window)
    action.triggered.connect(lambda: _ask_save(window))
    file_menu: QMenu = window.file_menu
    export = getattr(window, "export_menu", None)
    anchor = export.menuAction() if export is not None else None
    file_menu.insertAction(anchor, action) if anchor is not None else file_menu.addAction(action)
    window.save_incident_action = action
