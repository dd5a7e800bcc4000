"""The main window's menu bar — File (open a capture, connect to Kafka, receive OTLP, the demo, quit), View
(panels) — and the Problems panel; a window's feed stops when the window closes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QFileDialog, QMainWindow, QMenu

from flowviz.sources.incident_package import is_package
from flowviz.ui.connect_dialog import ask_kafka_settings
from flowviz.ui.help_menu import install_help_menu
from flowviz.ui.problems_panel import install_problems_dock

# the format is read from the content, so every file is offered first; the second filter narrows it down
CAPTURE_FILE_FILTER = "All files (*);;Trace captures (*.json *.jsonl *.ndjson *.gz *.pb *.bin *.otlp *.fvrec *.flowviz)"
_OPENED: list[QMainWindow] = []  # windows opened from a menu, referenced until they are destroyed


@dataclass(frozen=True, slots=True)
class WindowOpeners:
    """How File's entries open a new window (`ui/windows.py` passes its factories in; this module imports none).
    Each returns the new window, or None when there is none to show (an incident file that cannot be read)."""

    capture: Callable[[Sequence[str], str], QMainWindow]  # (capture paths, theme name)
    incident: Callable[[QMainWindow, str], QMainWindow | None]  # (the window asking, incident file path)
    live: Callable[[object, str], QMainWindow]  # (Kafka settings, theme name)
    listen: Callable[[str], QMainWindow]  # (theme name): OTLP at the default addresses
    demo: Callable[[str], QMainWindow]  # (theme name)


class _StopFeedOnClose(QObject):
    """Stops `window.feed` (its worker process) when the window closes."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            feed = getattr(watched, "feed", None)
            if feed is not None:
                feed.stop()
        return False


def install_menus(window: QMainWindow, openers: WindowOpeners | None) -> None:
    """Give `window` its menu bar and Problems panel (called once, from the window's constructor). Without
    `openers` (a window made on its own, as in tests) File has no entries that open other windows."""
    install_problems_dock(window)
    menu_bar = window.menuBar()
    file_menu = menu_bar.addMenu("&File")
    entries = ()
    if openers is not None:
        entries = (
            ("&Open capture…", QKeySequence.StandardKey.Open, lambda: open_capture(window, openers)),
            ("&Connect to Kafka…", QKeySequence("Ctrl+K"), lambda: connect_kafka(window, openers)),
            (
                "&Receive OTLP (gRPC 4317, HTTP 4318)",
                QKeySequence("Ctrl+L"),
                lambda: _show_new(openers.listen(_theme(window))),
            ),
            ("Open the &demo", None, lambda: _show_new(openers.demo(_theme(window)))),
        )
    for text, shortcut, handler in entries:
        action = QAction(text, window)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(handler)
        file_menu.addAction(action)
    file_menu.addSeparator()
    quit_action = QAction("&Quit", window)
    quit_action.setShortcut(QKeySequence.StandardKey.Quit)
    quit_action.triggered.connect(QApplication.closeAllWindows)
    file_menu.addAction(quit_action)
    view_menu = menu_bar.addMenu("&View")
    window.problems_action = window.problems_dock.toggleViewAction()
    window.problems_action.setText("&Problems panel")
    view_menu.aboutToShow.connect(lambda: fill_view_menu(window, view_menu))
    fill_view_menu(window, view_menu)
    window.file_menu, window.view_menu = file_menu, view_menu
    window._stop_feed_on_close = _StopFeedOnClose(window)
    window.installEventFilter(window._stop_feed_on_close)
    install_help_menu(window)  # File ▸ Preferences…, Help


def fill_view_menu(window: QMainWindow, menu: QMenu) -> None:
    """The Problems toggle, then one toggle per other dock (docks added later appear too)."""
    for action in menu.actions():
        menu.removeAction(action)  # (clear() would delete the docks' own toggle actions)
        if action.isSeparator():
            action.deleteLater()
    menu.addAction(window.problems_action)
    others = [d for d in window.findChildren(QDockWidget) if d is not window.problems_dock and d.parent() is window]
    others.sort(key=_dock_order)  # the same order every time, however Qt reorders its children
    if others:
        menu.addSeparator()
    for dock in others:
        menu.addAction(dock.toggleViewAction())


DOCK_ORDER = ("service_dock", "edge_dock", "trace_dock")


def _dock_order(dock: QDockWidget) -> tuple[int, str]:
    name = dock.objectName()
    return (DOCK_ORDER.index(name) if name in DOCK_ORDER else len(DOCK_ORDER), name or dock.windowTitle())


def _theme(window: QMainWindow) -> str:
    model = getattr(window, "model", None)
    return model.theme.name if model is not None else "dark"


def _show_new(new_window: QMainWindow | None) -> None:
    if new_window is None:
        return
    new_window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _OPENED.append(new_window)
    new_window.destroyed.connect(lambda *_: _OPENED.remove(new_window) if new_window in _OPENED else None)
    new_window.show()


def open_capture(window: QMainWindow, openers: WindowOpeners) -> None:
    """Ask for capture files and open them in a new window (an incident file in its own read-only window)."""
    paths, _ = QFileDialog.getOpenFileNames(
        window,
        "Open trace captures",
        "",
        CAPTURE_FILE_FILTER,
    )
    if len(paths) == 1 and is_package(paths[0]):
        _show_new(openers.incident(window, paths[0]))
    elif paths:
        _show_new(openers.capture(paths, _theme(window)))


def connect_kafka(window: QMainWindow, openers: WindowOpeners) -> None:
    """The Connect to Kafka dialog; accepted, a new live window on the chosen topics."""
    settings = ask_kafka_settings(window)
    if settings is not None:
        _show_new(openers.live(settings, _theme(window)))
