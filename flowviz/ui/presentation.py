"""Presentation mode: the chart and a slim timeline full screen, no menus, toolbars, docks or status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar, QWidget

PRESENTATION_KEY = Qt.Key.Key_F5


class PresentationMode:
    """Toggles `window` between its working layout and a presentation: full screen, the chart fitted,
    everything but the chart and the timeline hidden. Esc (or the key again) leaves and restores what
    was shown before."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.action = QAction("Presentation mode", window)
        self.action.setShortcut(QKeySequence(PRESENTATION_KEY))
        self.action.setCheckable(True)
        self.action.toggled.connect(self._set)
        window.addAction(self.action)
        self.leave_action = QAction("Leave presentation mode", window)
        self.leave_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.leave_action.setEnabled(False)  # Esc keeps its other meanings outside a presentation
        self.leave_action.triggered.connect(lambda: self.action.setChecked(False))
        window.addAction(self.leave_action)
        self._hidden: list[QWidget] = []
        self._was_full_screen = False

    @property
    def active(self) -> bool:
        return self.action.isChecked()

    def _set(self, on: bool) -> None:
        window = self.window
        if on:
            self._was_full_screen = window.isFullScreen()
            bars = [window.menuBar(), window.statusBar(), *window.findChildren(QToolBar)]
            docks = [dock for dock in window.findChildren(QDockWidget) if dock.parent() is window]
            transport = getattr(window, "transport", None)
            self._hidden = [w for w in (*bars, *docks, transport) if w is not None and w.isVisible()]
            for widget in self._hidden:
                widget.hide()
            window.showFullScreen()
            self.leave_action.setEnabled(True)
        else:
            for widget in self._hidden:
                widget.show()
            self._hidden = []
            if not self._was_full_screen:
                window.showNormal()
            self.leave_action.setEnabled(False)
        view = getattr(window, "view", None)
        if view is not None:
            view.setFocus()
            view.fit()
