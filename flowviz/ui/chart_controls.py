"""The chart's cut controls: find/hide filter field, focus with depths, grouping, presentation mode, reset,
and remembering pins, groups, filters and the view per capture or live source."""

from __future__ import annotations

import dataclasses
import json

from PySide6.QtCore import QEvent, QObject, QSettings, QStringListModel, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QCompleter, QLabel, QLineEdit, QMainWindow, QMenu, QSpinBox, QToolBar

from flowviz.chart.filter_expr import COMPLETIONS, FilterError, NodeFilter
from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.focus import ALL_HOPS, MAX_HOPS, Focus
from flowviz.chart.grouping import GROUP_MODES
from flowviz.chart.themes import THEMES
from flowviz.ui.flow_view import FlowChartView
from flowviz.ui.presentation import PresentationMode
from flowviz.ui.ui_scale import apply_ui_scale, fit_timeline

_PROBLEMS = "problems"


class ChartControls(QObject):
    """A toolbar row and a Chart menu over `view` in `window`; `memory_key` names the capture or live source
    whose pins, open groups, filter and view are remembered (None: nothing is remembered). A live chart gets
    its view back once it shows something (a capture's window asks for it when loading ended)."""

    def __init__(self, window: QMainWindow, model: FlowChartModel, view: FlowChartView, *, memory_key: str | None):
        super().__init__(window)
        self.window, self.model, self.view = window, model, view
        self.memory_key = memory_key
        self.presentation = PresentationMode(window)
        self._build_toolbar()
        self._build_menu()
        theme_box = getattr(window, "theme_box", None)
        if theme_box is not None:
            theme_box.currentTextChanged.connect(lambda name: apply_ui_scale(window, THEMES[name]))
        apply_ui_scale(window, model.theme)
        window.installEventFilter(self)
        self._restored_view = False
        self.restore()
        if model.live and getattr(self, "_saved_view", None):
            self._view_timer = QTimer(self)
            self._view_timer.timeout.connect(self._restore_view_once_shown)
            self._view_timer.start(250)

    def _restore_view_once_shown(self) -> None:
        chart = self.model.chart
        if chart is not None and chart.node_visible.any():
            self._view_timer.stop()
            self.restore_view()

    # -- widgets -----------------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        bar = QToolBar("Filter and focus", self.window)
        bar.setObjectName("chart-controls")
        bar.setMovable(False)
        self.window.addToolBarBreak()
        self.window.addToolBar(bar)
        self.filter_field = QLineEdit(self.window)
        self.filter_field.setPlaceholderText("Show: errors > 1% AND p95 > 500ms · hide kind = database")
        self.filter_field.setClearButtonEnabled(True)
        self.filter_field.setMinimumWidth(220)
        self.filter_field.setMaximumWidth(560)
        completer = QCompleter(QStringListModel(list(COMPLETIONS), self), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self.filter_field.setCompleter(completer)
        self.filter_field.returnPressed.connect(self.apply_filter)
        self.filter_field.textChanged.connect(lambda text: text or self.apply_filter())
        bar.addWidget(self.filter_field)
        self.problems_action = QAction("Only problems", self.window)
        self.problems_action.setCheckable(True)
        self.problems_action.setToolTip("Show only degraded and failing services (and their calls)")
        self.problems_action.toggled.connect(lambda _: self.apply_filter())
        bar.addAction(self.problems_action)
        bar.addSeparator()
        self.focus_action = QAction("Focus", self.window)
        self.focus_action.setShortcut(QKeySequence("Ctrl+."))
        self.focus_action.setToolTip("Show only the selected service's callers and callees (Ctrl+.)")
        self.focus_action.triggered.connect(self.focus_selection)
        bar.addAction(self.focus_action)
        bar.addWidget(QLabel(" ↑"))
        self.upstream = self._depth_box("callers: hops upstream")
        bar.addWidget(self.upstream)
        bar.addWidget(QLabel(" ↓"))
        self.downstream = self._depth_box("callees: hops downstream")
        bar.addWidget(self.downstream)
        self.through_action = QAction("Paths through", self.window)
        self.through_action.setToolTip("Everything upstream and downstream of the selected service")
        self.through_action.triggered.connect(lambda: self.focus_selection(through=True))
        bar.addAction(self.through_action)
        self.between_action = QAction("Paths to selection", self.window)
        self.between_action.setToolTip("With a focus set: the paths between the focused and the selected service")
        self.between_action.triggered.connect(self.focus_between)
        bar.addAction(self.between_action)
        self.clear_focus_action = QAction("Clear focus", self.window)
        self.clear_focus_action.triggered.connect(self.clear_focus)
        bar.addAction(self.clear_focus_action)
        self.toolbar = bar

    def _depth_box(self, tip: str) -> QSpinBox:
        box = QSpinBox(self.window)
        box.setRange(0, MAX_HOPS)
        box.setValue(1)
        box.setToolTip(tip)
        box.valueChanged.connect(self._depth_changed)
        return box

    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        menu = QMenu("&Chart", self.window)
        help_menu = next((action for action in bar.actions() if action.text() == "&Help"), None)
        bar.insertMenu(help_menu, menu) if help_menu is not None else bar.addMenu(menu)  # Help stays last
        menu.addAction(self.presentation.action)
        menu.addSeparator()
        menu.addAction(self.focus_action)
        menu.addAction(self.through_action)
        menu.addAction(self.between_action)
        menu.addAction(self.clear_focus_action)
        menu.addAction(self.problems_action)
        find_filter = QAction("Filter…", self.window)
        find_filter.setShortcut(QKeySequence("Ctrl+Shift+F"))
        find_filter.triggered.connect(self.filter_field.setFocus)
        menu.addAction(find_filter)
        menu.addSeparator()
        group_menu = menu.addMenu("Group by")
        self.group_actions = QActionGroup(self.window)
        for mode in GROUP_MODES:
            action = QAction(mode, self.window, checkable=True)
            action.setChecked(mode == self.model.scope.group_mode)
            action.triggered.connect(lambda _=False, m=mode: self.set_group_mode(m))
            self.group_actions.addAction(action)
            group_menu.addAction(action)
        close_all = QAction("Close all groups", self.window)
        close_all.triggered.connect(self.close_all_groups)
        menu.addAction(close_all)
        menu.addSeparator()
        reset = QAction("Reset layout", self.window)
        reset.setToolTip("Forget pins, open groups, filter and focus; lay the chart out afresh")
        reset.triggered.connect(self.reset)
        menu.addAction(reset)
        self.menu = menu

    # -- actions -----------------------------------------------------------------------------------

    def _scope(self, **changes) -> None:
        self.model.set_scope(dataclasses.replace(self.model.scope, **changes))
        self.view.refresh()
        self.view.update()

    def apply_filter(self) -> bool:
        """Use the field's expression (and the problems toggle); False, with the reason shown, when it
        does not parse."""
        text = self.filter_field.text().strip()
        if self.problems_action.isChecked():
            text = f"({text}) AND {_PROBLEMS}" if text else _PROBLEMS
        try:
            node_filter = NodeFilter.parse(text) if text else None
        except FilterError as error:
            self.filter_field.setStyleSheet("QLineEdit { border: 2px solid #d62839; }")
            self.filter_field.setToolTip(str(error))
            self.window.statusBar().showMessage(f"Filter: {error}", 6000)
            return False
        self.filter_field.setStyleSheet("")
        self.filter_field.setToolTip("")
        self._scope(node_filter=node_filter)
        return True

    def focus_selection(self, *, through: bool = False) -> bool:
        """Focus on the selected service (or group member); False when nothing is selected."""
        chart, node = self.model.chart, self.view.emphasis.selected
        if chart is None or node is None or self.model.members(node):
            self.window.statusBar().showMessage("Select a service to focus on", 4000)
            return False
        name = chart.node_names[node]
        focus = Focus.paths_through(name) if through else Focus(name, self.upstream.value(), self.downstream.value())
        self._scope(focus=focus)
        self._select(name)
        return True

    def focus_between(self) -> bool:
        chart, node, focus = self.model.chart, self.view.emphasis.selected, self.model.scope.focus
        if chart is None or node is None or focus is None or chart.node_names[node] == focus.node:
            self.window.statusBar().showMessage("Focus on one service, then select another", 4000)
            return False
        until = chart.node_names[node]
        self.model.set_scope(dataclasses.replace(self.model.scope, focus=None))  # the whole graph to search
        self._scope(focus=Focus(focus.node, ALL_HOPS, ALL_HOPS, until=until))
        self._select(until)
        return True

    def _depth_changed(self) -> None:
        focus = self.model.scope.focus
        if focus is not None and focus.until is None and focus.upstream != ALL_HOPS:
            self._scope(focus=Focus(focus.node, self.upstream.value(), self.downstream.value()))

    def clear_focus(self) -> None:
        self._scope(focus=None)

    def _select(self, name: str) -> None:
        chart = self.model.chart
        if chart is not None and name in chart.node_names:
            self.view.select(chart.node_names.index(name))

    def set_group_mode(self, mode: str) -> None:
        self.view.semantic_zoom.forget()
        self._scope(group_mode=mode, expanded=frozenset())

    def close_all_groups(self) -> None:
        self.view.semantic_zoom.forget()
        self._scope(expanded=frozenset())

    def reset(self) -> None:
        """Pins, open groups, filter and focus forgotten, nothing selected; a fresh layout, fitted."""
        self.view.selection.clear()  # its rows are the chart's before the reset
        for name in list(self.model.layout.pins):
            self.model.layout.unpin(name)
        self.filter_field.clear()
        self.problems_action.setChecked(False)
        self.view.semantic_zoom.forget()
        self.model.set_scope(dataclasses.replace(self.model.scope, expanded=frozenset(), focus=None, node_filter=None))
        self.model.relayout()
        self.view.fit()
        if self.memory_key:
            QSettings().remove(f"chart/{self.memory_key}")

    # -- memory ------------------------------------------------------------------------------------

    def remembered(self) -> dict:
        """What is kept for this capture: pins, open groups (and which of them the zoom opened, at what
        scale, so zooming out closes them again), group mode, filter text, and the view when the user moved it."""
        viewport = self.view.viewport
        return {
            "pins": {name: list(xy) for name, xy in self.model.layout.pins.items()},
            "expanded": sorted(self.model.scope.expanded),
            "zoom_opened": dict(sorted(self.view.semantic_zoom.opened_at.items())),
            "group_mode": self.model.scope.group_mode,
            "filter": self.filter_field.text(),
            "only_problems": self.problems_action.isChecked(),
            "view": [viewport.scale, viewport.offset_x, viewport.offset_y] if self.view.user_moved else None,
        }

    def save(self) -> None:
        """Keep what there is to keep for this capture (nothing kept: the entry is removed)."""
        if not self.memory_key:
            return
        kept = self.remembered()
        if any(value for key, value in kept.items() if key != "group_mode") or kept["group_mode"] != "auto":
            QSettings().setValue(f"chart/{self.memory_key}", json.dumps(kept))
        else:
            QSettings().remove(f"chart/{self.memory_key}")

    def restore(self) -> None:
        """Pins (applied as their nodes arrive), groups and filter of this capture's last session."""
        if not self.memory_key:
            return
        try:
            saved = json.loads(str(QSettings().value(f"chart/{self.memory_key}") or "{}"))
        except ValueError:
            return
        for name, xy in (saved.get("pins") or {}).items():
            if isinstance(xy, list) and len(xy) == 2:
                self.model.layout.pin(str(name), float(xy[0]), float(xy[1]))
        mode = saved.get("group_mode")
        changes = {"expanded": frozenset(str(e) for e in saved.get("expanded") or ())}
        if mode in GROUP_MODES:
            changes["group_mode"] = mode
            for action in self.group_actions.actions():
                action.setChecked(action.text() == mode)
        self.model.set_scope(dataclasses.replace(self.model.scope, **changes))
        zoom_opened = saved.get("zoom_opened")
        for label, scale in zoom_opened.items() if isinstance(zoom_opened, dict) else ():
            if label in changes["expanded"] and isinstance(scale, int | float):
                self.view.semantic_zoom.opened_at[label] = float(scale)
        self.filter_field.setText(str(saved.get("filter") or ""))
        self.problems_action.setChecked(bool(saved.get("only_problems")))
        self.apply_filter()
        self._saved_view = saved.get("view")

    def restore_view(self) -> None:
        """The view the user left this capture at (once its chart is shown)."""
        view = getattr(self, "_saved_view", None)
        if view and len(view) == 3 and not self._restored_view:
            self._restored_view = True
            self.view.show_view(*(float(v) for v in view))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window:
            if event.type() == QEvent.Type.Close:
                self.presentation.action.setChecked(False)  # the window's layout is saved as it was before
                self.save()
            elif event.type() == QEvent.Type.Resize:
                fit_timeline(self.window, self.model.theme)
        return False
