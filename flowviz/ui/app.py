"""Starting the desktop app: display checks, the start page, `flowviz demo`, `open`, `live` and `listen`."""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Sequence

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


def _application():
    from PySide6.QtWidgets import QApplication

    from flowviz import __version__
    from flowviz.ui.settings import APPLICATION, ORGANIZATION

    QApplication.setApplicationName(APPLICATION)
    QApplication.setOrganizationName(ORGANIZATION)
    QApplication.setApplicationVersion(__version__)
    QApplication.setApplicationDisplayName("flowviz")
    QApplication.setDesktopFileName("flowviz")  # matches packaging/flowviz.desktop (Wayland: the window's icon)
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        close_on_interrupt(app)
    from PySide6.QtGui import QIcon

    from flowviz.resources import icon_path

    app.setWindowIcon(QIcon(str(icon_path())))
    from flowviz.ui.app_log import install_log

    install_log()
    return app


def new_chart_model(store, *, live: bool, theme: str | None, window_s: float | None = None):
    """A chart model on `store` with the remembered window length (unless the source needs its own),
    speed and label size, in the theme asked for on the command line, else the one last chosen."""
    from flowviz.chart.flow_model import FlowChartModel
    from flowviz.ui.settings import load_preferences, themed

    preferences = load_preferences()
    model = FlowChartModel(
        store,
        window_s=window_s or preferences.window_s,
        live=live,
        theme=themed(theme or preferences.theme, preferences),
    )
    model.time.set_speed(preferences.speed)
    model.particles.density = preferences.particle_density
    return model


def _fail_without_display() -> int | None:
    problem = display_problem()
    if problem:
        print(f"flowviz: cannot open a window: {problem}", file=sys.stderr)
        return 1
    return None


def source_memory_key(kind: str, *parts: object) -> str:
    """What a live source's pins, open groups, filter and view are kept under: its kind and what tells it apart
    (Kafka: bootstrap and topics; OTLP: the listen addresses; Prometheus: the URL; the simulator: its seed)."""
    return f"{kind}:" + "|".join(str(part) for part in parts)


def demo_window(*, seed: int = 0, rate_per_s: float = 1_500.0, theme: str | None = None, history_s: float = 100.0):
    """The window on the built-in simulator, live (the caller shows it and runs the event loop)."""
    from flowviz.sources.process_feed import ProcessFeed, SimulatorSpec
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.main_window import MainWindow

    store = RollingStore()
    feed = ProcessFeed(store, SimulatorSpec(seed=seed, rate_per_s=rate_per_s, history_s=history_s))
    model = new_chart_model(store, live=True, theme=theme)
    window = MainWindow(
        model,
        title="demo: the e-commerce platform (simulated)",
        status_text=feed.status.summary,
        details=feed.details,
        memory_key=source_memory_key("simulator", f"seed {seed}"),
    )
    window.feed = feed
    feed.start()
    return window


def live_window(settings, *, theme: str | None = None):
    """A window on Kafka span topics, read by a worker process (no consumer group, no commits)."""
    from flowviz.derive.dead_letters import DeadLetterRules
    from flowviz.sources.kafka_events import frame_notes, lag_notes, merged_notes, schema_notes
    from flowviz.sources.process_feed import ProcessFeed
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.main_window import MainWindow
    from flowviz.ui.peek_dialog import install_peek
    from flowviz.ui.record_button import install_record_button

    store = RollingStore()
    feed = ProcessFeed(store, settings)
    model = new_chart_model(store, live=True, theme=theme)
    model.dead_letters = DeadLetterRules.parse(settings.dead_letters)  # drawn as dead-letter/retry topics
    # consumer groups' lag on event topics: as it was at the cursor (the store keeps every look), else the latest
    model.node_notes = lambda: merged_notes(
        frame_notes(store.consumer_lag.at(model.time.cursor_ns)) or lag_notes(feed.status.source),
        schema_notes(feed.status.source),  # a topic's schema subject and version (Avro/Protobuf events)
    )
    title = f"live: {', '.join(settings.topics)} @ {settings.bootstrap}"
    memory = source_memory_key("kafka", settings.bootstrap, ",".join(sorted(settings.topics)))
    window = MainWindow(model, title=title, status_text=feed.status.summary, details=feed.details, memory_key=memory)
    window.feed = feed
    install_record_button(window, feed, settings)  # the worker records what it reads
    install_peek(window, settings, history=store.consumer_lag, details=feed.details)  # last messages; a journey
    feed.start()
    return window


def run_live(settings, *, theme: str | None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    _application()
    return run_window(live_window(settings, theme=theme))


def listen_window(settings=None, *, theme: str | None = None):
    """A window on OTLP that SDKs and collectors send to flowviz (gRPC and/or HTTP), received by a worker process."""
    from types import SimpleNamespace

    from flowviz.sources.otlp_receiver import ReceiverSettings
    from flowviz.sources.process_feed import ProcessFeed
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.main_window import MainWindow
    from flowviz.ui.record_button import install_record_button

    settings = settings or ReceiverSettings()
    store = RollingStore()
    feed = ProcessFeed(store, settings)
    model = new_chart_model(store, live=True, theme=theme)
    title = f"listening for OTLP: {settings.describe()}"
    memory = source_memory_key("otlp", settings.describe())
    window = MainWindow(model, title=title, status_text=feed.status.summary, details=feed.details, memory_key=memory)
    window.feed = feed
    install_record_button(window, feed, SimpleNamespace(topics=("otlp",)))  # the worker records what arrives
    feed.start()
    return window


def run_listen(settings, *, theme: str | None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    _application()
    return run_window(listen_window(settings, theme=theme))


def metrics_window(spec, *, theme: str | None = None):
    """A window on service-graph metrics from Prometheus: a past range (shown whole once read) or, without an
    end, following the present. The resolution is the query step (the scrape interval); the title says so."""
    from flowviz.model.time_spec import format_time_ns
    from flowviz.sources.process_feed import ProcessFeed
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.main_window import MainWindow

    store = RollingStore()
    feed = ProcessFeed(store, spec)  # panels ask the server: span-metric operations, exemplar trace ids
    live = spec.end_ns is None
    model = new_chart_model(store, live=live, theme=theme, window_s=300.0)  # a few scrape intervals
    span = "live" if live else f"{format_time_ns(spec.start_ns)} .. {format_time_ns(spec.end_ns)}"
    loaded = []

    def status() -> str:
        if not live and feed.status.finished and not loaded:
            loaded.append(True)
            model.show_whole_range()
            model.relayout()
            window.view.fit()
            window.controls.restore_view()  # where the user left this source last time
        return feed.status.summary()

    title = f"metrics: {spec.describe()} · {span} · resolution = the scrape interval"
    memory = source_memory_key("prometheus", spec.describe())
    window = MainWindow(model, title=title, status_text=status, details=feed.details, memory_key=memory)
    window.feed = feed
    feed.start()
    return window


def run_metrics(spec, *, theme: str | None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    _application()
    return run_window(metrics_window(spec, theme=theme))


def capture_window(
    paths: Sequence[str],
    *,
    format_name: str = "auto",
    theme: str | None = None,
    title: str | None = None,
    bookmark_key: str | None = "",
    on_loaded=None,
    workers: int | None = None,
):
    """A window on capture files, loaded in a worker process (a large capture decoded by `workers` processes,
    by default the machine's cores: `parallel_capture.default_workers`);
    the chart shows the whole capture, or what `on_loaded(window)` sets once loading finished. `bookmark_key`
    None keeps bookmarks with nothing."""
    from flowviz.sources.kafka_events import frame_notes
    from flowviz.sources.process_feed import CaptureSpec, ProcessFeed
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.main_window import MainWindow

    store = RollingStore()
    from flowviz.sources.parallel_capture import default_workers

    workers = default_workers() if workers is None else workers
    feed = ProcessFeed(store, CaptureSpec(tuple(str(p) for p in paths), format_name, workers))
    model = new_chart_model(store, live=False, theme=theme)
    model.node_notes = lambda: frame_notes(store.consumer_lag.at(model.time.cursor_ns))  # a recording of events
    names = ", ".join(os.path.basename(p) for p in paths)

    loaded = []

    def status() -> str:
        if (feed.status.finished or feed.status.error) and not loaded:
            loaded.append(True)
            capture_loaded(window, paths, untouched_moves=untouched_moves)
            if on_loaded is not None:
                on_loaded(window)
        return feed.status.summary()

    key = os.pathsep.join(os.path.abspath(p) for p in paths) if bookmark_key == "" else bookmark_key
    window = MainWindow(model, title=title or names, status_text=status, bookmark_key=key, details=feed.details)
    window.feed = feed
    window.capture_paths, window.capture_format = tuple(str(p) for p in paths), format_name  # for Save incident
    untouched_moves = model.time.moves  # more when the user scrubs or changes the window while it loads
    feed.start()
    return window


def capture_loaded(window, paths: Sequence[str], *, untouched_moves: int) -> None:
    """Loading ended: a capture with something in it joins the recent list and is shown whole (unless the
    user already scrubbed: that moment is kept); one with nothing readable says why in a dialog, stays off
    the recent list and its window closes."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from flowviz.ui.settings import forget_recent, remember_recent

    model, feed = window.model, window.feed
    if model.store.time_range_ns() is None:
        forget_recent(paths)
        names = ", ".join(os.path.basename(p) for p in paths)
        reason = feed.status.error or "no spans, events or dependency links were found in it"
        box = QMessageBox(QMessageBox.Icon.Warning, "flowviz", f"Cannot open {names}", parent=window)
        box.setInformativeText(reason)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda *_: window.close())
        window.open_failure = box
        box.open()
        return
    remember_recent(paths)
    if model.time.moves == untouched_moves:
        model.show_whole_range()
    model.relayout()  # the union over the whole capture: nothing moves afterwards
    window.view.fit()
    window.analysis.loaded()  # judged whole now: its parts may have come out of time order
    window.controls.restore_view()  # where the user left this capture last time


def close_on_interrupt(app) -> list[bool]:
    """Ctrl+C in the terminal closes every window (settings saved, workers stopped) and ends the event loop,
    instead of a KeyboardInterrupt traceback. Returns a flag list that is [True] once it happened."""
    import signal

    from PySide6.QtCore import QTimer

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


def run_window(window) -> int:
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
    return run_window(demo_window(seed=seed, rate_per_s=rate_per_s, theme=theme, history_s=history_s))


def run_open(paths: Sequence[str], *, format_name: str, theme: str | None, workers: int | None = None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"flowviz open: no such file: {', '.join(missing)}", file=sys.stderr)
        return 1
    _application()
    return run_window(capture_window(paths, format_name=format_name, theme=theme, workers=workers))


def run_start_page(*, theme: str | None) -> int:
    failure = _fail_without_display()
    if failure is not None:
        return failure
    from flowviz.ui.start_page import StartPage

    app = _application()
    page = StartPage(theme=theme)
    page.show()
    code = app.exec()
    if page.opened is not None:
        feed = getattr(page.opened, "feed", None)
        if feed is not None:
            feed.stop()
    return 130 if was_interrupted(app) else code
