"""The window factories: a main window on each source (the demo, Kafka, OTLP received, Prometheus, captures,
incident files), its feed started, its File menu given the openers of the others (`OPENERS`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QMessageBox

from flowviz.chart.flow_model import FlowChartModel
from flowviz.derive.dead_letters import DeadLetterRules
from flowviz.model.time_spec import format_time_ns
from flowviz.sources.incident_package import PackageError, open_package
from flowviz.sources.kafka_events import frame_notes, lag_notes, merged_notes, schema_notes
from flowviz.sources.otlp_receiver import ReceiverSettings
from flowviz.sources.parallel_capture import default_workers
from flowviz.sources.process_feed import CaptureSpec, ProcessFeed, SimulatorSpec
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.incident_window import incident_loaded
from flowviz.ui.main_window import MainWindow
from flowviz.ui.peek_dialog import install_peek
from flowviz.ui.record_button import install_record_button
from flowviz.ui.settings import forget_recent, load_preferences, remember_recent, themed
from flowviz.ui.window_menus import WindowOpeners


def source_memory_key(kind: str, *parts: object) -> str:
    """What a live source's pins, open groups, filter and view are kept under: its kind and what tells it apart
    (Kafka: bootstrap and topics; OTLP: the listen addresses; Prometheus: the URL; the simulator: its seed)."""
    return f"{kind}:" + "|".join(str(part) for part in parts)


def new_chart_model(store, *, live: bool, theme: str | None, window_s: float | None = None) -> FlowChartModel:
    """A chart model on `store` with the remembered window length (unless the source needs its own),
    speed and label size, in the theme asked for on the command line, else the one last chosen."""
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


def demo_window(
    *, seed: int = 0, rate_per_s: float = 1_500.0, theme: str | None = None, history_s: float = 100.0
) -> MainWindow:
    """The window on the built-in simulator, live (the caller shows it and runs the event loop)."""
    store = RollingStore()
    feed = ProcessFeed(store, SimulatorSpec(seed=seed, rate_per_s=rate_per_s, history_s=history_s))
    model = new_chart_model(store, live=True, theme=theme)
    window = MainWindow(
        model,
        title="demo: the e-commerce platform (simulated)",
        status_text=feed.status.summary,
        details=feed.details,
        memory_key=source_memory_key("simulator", f"seed {seed}"),
        openers=OPENERS,
    )
    window.feed = feed
    feed.start()
    return window


def live_window(settings, *, theme: str | None = None) -> MainWindow:
    """A window on Kafka span topics, read by a worker process (no consumer group, no commits)."""
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
    window = MainWindow(
        model,
        title=title,
        status_text=feed.status.summary,
        details=feed.details,
        memory_key=memory,
        openers=OPENERS,
    )
    window.feed = feed
    install_record_button(window, feed, settings)  # the worker records what it reads
    install_peek(window, settings, history=store.consumer_lag, details=feed.details)  # last messages; a journey
    feed.start()
    return window


def listen_window(settings: ReceiverSettings | None = None, *, theme: str | None = None) -> MainWindow:
    """A window on OTLP that SDKs and collectors send to flowviz (gRPC and/or HTTP), received by a worker process."""
    settings = settings or ReceiverSettings()
    store = RollingStore()
    feed = ProcessFeed(store, settings)
    model = new_chart_model(store, live=True, theme=theme)
    title = f"listening for OTLP: {settings.describe()}"
    memory = source_memory_key("otlp", settings.describe())
    window = MainWindow(
        model,
        title=title,
        status_text=feed.status.summary,
        details=feed.details,
        memory_key=memory,
        openers=OPENERS,
    )
    window.feed = feed
    install_record_button(window, feed, SimpleNamespace(topics=("otlp",)))  # the worker records what arrives
    feed.start()
    return window


def metrics_window(spec, *, theme: str | None = None) -> MainWindow:
    """A window on service-graph metrics from Prometheus: a past range (shown whole once read) or, without an
    end, following the present. The resolution is the query step (the scrape interval); the title says so."""
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

    asked_s = spec.settings.step_s
    resolution = f"{asked_s:g} s or the scrape interval, the coarser" if asked_s else "the scrape interval"
    title = f"metrics: {spec.describe()} · {span} · resolution = {resolution}"
    memory = source_memory_key("prometheus", spec.describe())
    window = MainWindow(
        model, title=title, status_text=status, details=feed.details, memory_key=memory, openers=OPENERS
    )
    window.feed = feed
    feed.start()
    return window


def capture_window(
    paths: Sequence[str],
    *,
    format_name: str = "auto",
    theme: str | None = None,
    title: str | None = None,
    bookmark_key: str | None = "",
    on_loaded: Callable[[MainWindow], None] | None = None,
    workers: int | None = None,
) -> MainWindow:
    """A window on capture files, loaded in a worker process (a large capture decoded by `workers` processes,
    by default the machine's cores: `parallel_capture.default_workers`);
    the chart shows the whole capture, or what `on_loaded(window)` sets once loading finished. `bookmark_key`
    None keeps bookmarks with nothing."""
    store = RollingStore()
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
    window = MainWindow(
        model,
        title=title or names,
        status_text=status,
        bookmark_key=key,
        details=feed.details,
        openers=OPENERS,
    )
    window.feed = feed
    window.capture_paths, window.capture_format = tuple(str(p) for p in paths), format_name  # for Save incident
    untouched_moves = model.time.moves  # more when the user scrubs or changes the window while it loads
    feed.start()
    return window


def capture_loaded(window: MainWindow, paths: Sequence[str], *, untouched_moves: int) -> None:
    """Loading ended: a capture with something in it joins the recent list and is shown whole (unless the
    user already scrubbed: that moment is kept); one with nothing readable says why in a dialog, stays off
    the recent list and its window closes."""
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


def incident_window(path: str, *, theme: str | None = None) -> MainWindow:
    """A read-only window on an incident file: its captures loaded, then its view restored. PackageError
    when the file cannot be read."""
    incident = open_package(path)
    package = incident.package
    title = f"incident {os.path.basename(path)} (read-only): {package.source}"
    window = capture_window(
        incident.paths,
        format_name=package.format_name,
        theme=package.view.theme or theme,
        title=title,
        bookmark_key=None,  # read-only: nothing is written back
        on_loaded=lambda w: incident_loaded(w, incident),
    )
    window.incident = incident  # keeps the unpacked captures while the window lives
    window.destroyed.connect(lambda *_: incident.close())
    return window


def open_incident_file(window: QMainWindow, path: str) -> MainWindow | None:
    """Open an incident file in a new window beside `window` (a message instead when it cannot be read)."""
    try:
        return incident_window(path, theme=window.model.theme.name if hasattr(window, "model") else "dark")
    except PackageError as error:
        QMessageBox.warning(window, "Open incident", str(error))
        return None


OPENERS = WindowOpeners(
    capture=lambda paths, theme: capture_window(paths, theme=theme),
    incident=open_incident_file,
    live=lambda settings, theme: live_window(settings, theme=theme),
    listen=lambda theme: listen_window(theme=theme),
    demo=lambda theme: demo_window(theme=theme),
)
