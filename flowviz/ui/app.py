"""Starting the desktop app: display checks, the application object, and running `flowviz demo`, `open`, `live`,
`listen`, `--prometheus`, an incident file and the start page (the windows come from `ui/windows.py`)."""

from __future__ import annotations

import ctypes.util
import os
import signal
import sys
from collections.abc import Sequence
from types import ModuleType

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMainWindow

from flowviz import __version__
from flowviz.resources import icon_path
from flowviz.sources.incident_package import PackageError
from flowviz.ui.app_log import install_log
from flowviz.ui.settings import APPLICATION, ORGANIZATION, remember_recent

XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xcb-xinerama": "libxcb-xinerama0",
    "xcb-randr": "libxcb-randr0",
    "xcb-shape": "libxcb-shape0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-image": "libxcb-image0",
}


def display_problem() -> str | None:
    """Why a window cannot open here, in words a person can act on; None when it can."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc")) or not sys.platform.startswith("linux"):
        return None
    if not platform and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return (
            "no display: set DISPLAY (X11) or WAYLAND_DISPLAY, run under Xvfb, or use "
            "`flowviz render` / `flowviz report` to work without a window"
        )
    if platform in ("", "xcb") and not os.environ.get("WAYLAND_DISPLAY"):
        missing = [package for library, package in XCB_LIBRARIES.items() if ctypes.util.find_library(library) is None]
        if missing:
            return (
                "Qt's X11 (xcb) plugin needs system libraries that are missing here. Install them, e.g. "
                f"`sudo apt-get install {' '.join(missing)}`"
            )
        display = os.environ.get("DISPLAY", "")
        if not x_display_answers(display):
            return (
                f"cannot open the display {display!r}: no X server answers there (is DISPLAY right, is the "
                "X server or Xvfb running, may you connect to it?)"
            )
    return None


def x_display_answers(display: str) -> bool:
    """Whether an X server accepts a connection at `display` (asked through libxcb, as Qt's plugin will);
    True when libxcb itself is missing (the library check names it then)."""
    name = ctypes.util.find_library("xcb")
    if name is None:
        return True
    try:
        xcb = ctypes.CDLL(name)
    except OSError:
        return True
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode() or None, None)
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def _application() -> QApplication:
    QApplication.setApplicationName(APPLICATION)
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationVersion(__version__)
    QApplication.setApplicationDisplayName("flowviz")
    QApplication.setDesktopFileName("flowviz")  # matches packaging/flowviz.desktop (Wayland: the window's icon)
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        close_on_interrupt(app)
    app.setWindowIcon(QIcon(str(icon_path())))
    install_log()
    return app


def _windows() -> ModuleType:
    """`ui/windows.py`, imported when the first window is built: after the application exists and Ctrl+C is
    handled (importing every view takes seconds on a busy machine; a Ctrl+C meanwhile must close cleanly)."""
    from flowviz.ui import windows

    return windows


def _fail_without_display() -> int | None:
    problem = display_problem()
    if problem:
        print(f"flowviz: cannot open a window: {problem}", file=sys.stderr)
        return 1
    return None


def run_live(settings, *, theme: str | None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    _application()
    return run_window(_windows().live_window(settings, theme=theme))


def run_listen(settings, *, theme: str | None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    _application()
    return run_window(_windows().listen_window(settings, theme=theme))


def run_metrics(spec, *, theme: str | None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    _application()
    return run_window(_windows().metrics_window(spec, theme=theme))


def close_on_interrupt(app) -> list[bool]:
    """Ctrl+C in the terminal closes every window (settings saved, workers stopped) and ends the event loop,
    instead of a KeyboardInterrupt traceback. Returns a flag list that is [True] once it happened."""
    interrupted: list[bool] = []

    def close_all() -> None:
        app.closeAllWindows()
        app.quit()

    def interrupt(*_: object) -> None:
        interrupted.append(True)
        QTimer.singleShot(0, close_all)  # now, or as soon as the event loop runs (a window still being built)

    signal.signal(signal.SIGINT, interrupt)
    waker = QTimer(app)  # Python runs signal handlers only between bytecodes: give it some, 5 times a second
    waker.timeout.connect(lambda: None)
    waker.start(200)
    app._interrupt_waker = waker
    app._interrupted = interrupted
    return interrupted


def was_interrupted(app) -> bool:
    return bool(getattr(app, "_interrupted", None))


def run_window(window: QMainWindow) -> int:
    app = _application()
    window.show()
    code = app.exec()
    feed = getattr(window, "feed", None)
    if feed is not None:
        feed.stop()
    return 130 if was_interrupted(app) else code


def run_demo(*, seed: int, rate_per_s: float, theme: str | None, history_s: float = 100.0) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    _application()
    return run_window(_windows().demo_window(seed=seed, rate_per_s=rate_per_s, theme=theme, history_s=history_s))


def run_open(paths: Sequence[str], *, format_name: str, theme: str | None, workers: int | None = None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"flowviz open: no such file: {', '.join(missing)}", file=sys.stderr)
        return 1
    _application()
    return run_window(_windows().capture_window(paths, format_name=format_name, theme=theme, workers=workers))


def run_incident(path: str, *, theme: str | None) -> int:
    """`flowviz open INCIDENT.flowviz`."""
    failure = _fail_without_display()
    if failure is not None:
        return failure
    _application()
    try:
        window = _windows().incident_window(path, theme=theme)
    except PackageError as error:
        print(f"flowviz open: {error}", file=sys.stderr)
        return 1
    remember_recent([path])
    return run_window(window)


def run_start_page(*, theme: str | None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    app = _application()
    from flowviz.ui.start_page import StartPage  # (as `_windows`: imported once Ctrl+C is handled)

    page = StartPage(theme=theme)
    page.show()
    code = app.exec()
    if page.opened is not None:
        feed = getattr(page.opened, "feed", None)
        if feed is not None:
            feed.stop()
    return 130 if was_interrupted(app) else code
