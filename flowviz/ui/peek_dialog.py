"""Peek and Journey (live Kafka windows): the last N messages behind the selected topic or edge, and one event's
journey lit on the chart — read on demand off the UI thread; nothing is kept once a dialog closes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from flowviz.chart.waterfall import waterfall
from flowviz.model.graph_kinds import NodeKind
from flowviz.sources.detail_channel import DetailsUnavailable
from flowviz.sources.kafka_journey import Journey, event_journey
from flowviz.sources.kafka_peek import DEFAULT_COUNT, PeekedMessage, committed_offsets, peek
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.store.detail_queries import TraceQuery
from flowviz.ui.background import PolledJob

COLUMNS = ("time", "where", "producer", "type", "id", "key", "bytes", "value", "headers")


@dataclass(frozen=True, slots=True)
class PeekTarget:
    """What to peek at: a topic, optionally one producer's messages or what one group had consumed."""

    topic: str = ""
    producer: str = ""
    group: str = ""


def target_of(chart, *, edge: tuple[str, str] | None, node: str | None) -> PeekTarget:
    """The peek target of a selection: producer → topic (that producer's messages), topic → group (what the
    group consumed), a topic node (its messages); names are kinds looked up in the chart."""
    kinds = {}
    if chart is not None:
        kinds = {name: int(kind) for name, kind in zip(chart.node_names, chart.node_kind, strict=False)}
    if edge is not None:
        source, target = edge
        if kinds.get(target) == NodeKind.TOPIC and kinds.get(source) != NodeKind.TOPIC:
            return PeekTarget(topic=target, producer=source)
        if kinds.get(source) == NodeKind.TOPIC:
            return PeekTarget(topic=source, group=target if kinds.get(target) != NodeKind.TOPIC else "")
    if node is not None and kinds.get(node) == NodeKind.TOPIC:
        return PeekTarget(topic=node)
    return PeekTarget()


def read_target(settings: KafkaSettings, target: PeekTarget, count: int) -> list[PeekedMessage]:
    """Runs off the UI thread: the group's commits (when a group is named), then the messages."""
    before = committed_offsets(settings, target.group, target.topic) if target.group else None
    return peek(settings, target.topic, count=count, producer=target.producer or None, before=before)


class PeekDialog(QDialog):
    """Topic, producer, group and count (prefilled from the selection), a Read button, the messages' table."""

    def __init__(self, settings: KafkaSettings, target: PeekTarget, topics: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Peek: the last messages")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the messages go with it
        self.settings = settings
        self.topic = QComboBox(self)
        self.topic.setEditable(True)
        self.topic.addItems(topics)
        self.topic.setCurrentText(target.topic or (topics[0] if topics else ""))
        self.producer = QLineEdit(target.producer, self)
        self.producer.setPlaceholderText("any (or a business event producer)")
        self.group = QLineEdit(target.group, self)
        self.group.setPlaceholderText("none (or a consumer group: what it had consumed)")
        self.count = QSpinBox(self)
        self.count.setRange(1, 1000)
        self.count.setValue(DEFAULT_COUNT)
        form = QFormLayout()
        form.addRow("Topic", self.topic)
        form.addRow("Producer", self.producer)
        form.addRow("Group", self.group)
        form.addRow("Messages", self.count)
        self.read_button = QPushButton("Read", self)
        self.read_button.clicked.connect(self.read)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.journey_button = QPushButton("Journey of the selected event", self)
        self.journey_button.clicked.connect(self._journey)
        self.open_journey: Callable[[str], None] | None = None  # set by the window: opens the Journey dialog
        buttons = QHBoxLayout()
        buttons.addWidget(self.read_button)
        buttons.addWidget(self.journey_button)
        buttons.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        self.resize(1100, 520)
        self._job = PolledJob("flowviz-peek", self, button=self.read_button)
        self._job.done.connect(self._read_done)
        self.messages: list[PeekedMessage] = []

    def _journey(self) -> None:
        row = self.table.currentRow()
        if self.open_journey is None or not 0 <= row < len(self.messages) or not self.messages[row].event_id:
            self.note.setText("Select a row with an event id first.")
            return
        self.open_journey(self.messages[row].event_id)

    def target(self) -> PeekTarget:
        return PeekTarget(self.topic.currentText().strip(), self.producer.text().strip(), self.group.text().strip())

    def read(self) -> None:
        target = self.target()
        if not target.topic:
            self.note.setText("Name a topic.")
            return
        if self._job.start(target, read_target, self.settings, target, self.count.value()):
            self.note.setText(f"reading {target.topic} …")

    def _read_done(self, target: PeekTarget, messages: list[PeekedMessage] | None, error: str | None) -> None:
        if error:
            self.note.setText(f"Could not read {target.topic}: {error}")
            return
        self.show_messages(messages, target)

    def show_messages(self, messages: list[PeekedMessage], target: PeekTarget) -> None:
        self.messages = messages
        self.table.setRowCount(len(messages))
        for row, message in enumerate(messages):
            cells = (
                message.time_text,
                message.where,
                message.producer or "",
                message.event_type or "",
                message.event_id or "",
                message.key,
                f"{message.value_bytes:,}",
                message.preview,
                " ".join(f"{name}={value}" for name, value in message.headers),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        scope = f" of {target.producer}" if target.producer else ""
        scope += f" consumed by {target.group}" if target.group else ""
        self.note.setText(f"{len(messages)} newest messages{scope} on {target.topic}, newest first (not kept).")


@dataclass(frozen=True, slots=True)
class FoundJourney:
    """A journey with its path on the chart: producer → topic → groups, and the kept consumers' traces' calls."""

    journey: Journey
    nodes: frozenset[str]
    calls: frozenset[tuple[str, str]]


def find_journey(
    settings: KafkaSettings, event_id: str, topics: tuple[str, ...], history, details=None
) -> FoundJourney | None:
    """Runs off the UI thread: the event found among the topics' newest messages, where it went, and the
    consumers' own traces it went on in (span links or the producer's context, from `details`)."""
    journey = event_journey(settings, event_id, topics=topics, history=history)
    if journey is None:
        return None
    try:
        journey = journey.continued_by(details)
        nodes, calls = journey.path()
        for trace_id in (journey.trace_id, *journey.traces()) if journey.continued else ():
            spans = details.ask(TraceQuery(trace_id)).spans if trace_id else None
            if spans is not None and len(spans):  # kept: the calls it made light up too
                trace_nodes, trace_calls = waterfall(spans).path_on_chart()
                nodes, calls = nodes | trace_nodes, calls | trace_calls
    except DetailsUnavailable:  # the worker holding the spans is gone: the journey as far as Kafka tells it
        nodes, calls = journey.path()
    return FoundJourney(journey, nodes, calls)


class JourneyDialog(QDialog):
    """An event id, Find, and the event's journey listed in order; its path lit on the chart while it is open."""

    def __init__(
        self,
        settings: KafkaSettings,
        topics: list[str],
        *,
        history=None,
        details=None,
        light_path: Callable[[frozenset, frozenset], None] | None = None,
        open_trace: Callable[[str], None] | None = None,
        event_id: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Journey of an event")
        self.details, self.open_trace = details, open_trace
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.settings, self.topics, self.history, self.light_path = settings, topics, history, light_path
        self.event_id = QLineEdit(event_id, self)
        self.event_id.setPlaceholderText("an event id (CloudEvents id, or the id field of a JSON/Avro event)")
        self.event_id.returnPressed.connect(self.find)
        self.find_button = QPushButton("Find", self)
        self.find_button.clicked.connect(self.find)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        self.steps = QListWidget(self)
        self.steps.itemDoubleClicked.connect(self._open_trace)
        row = QHBoxLayout()
        row.addWidget(QLabel("Event id", self))
        row.addWidget(self.event_id, 1)
        row.addWidget(self.find_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.note)
        layout.addWidget(self.steps, 1)
        self.resize(760, 360)
        self.journey: Journey | None = None
        self.found: FoundJourney | None = None
        self._job = PolledJob("flowviz-journey", self, button=self.find_button)
        self._job.done.connect(self._find_done)
        self.finished.connect(lambda _: self._light(None))

    def find(self) -> None:
        event_id = self.event_id.text().strip()
        if not event_id:
            self.note.setText("Give an event id.")
            return
        topics = tuple(self.topics)
        if self._job.start(event_id, find_journey, self.settings, event_id, topics, self.history, self.details):
            self.note.setText(f"looking for {event_id} in the newest messages of {', '.join(topics)} …")

    def _find_done(self, event_id: str, journey: FoundJourney | None, error: str | None) -> None:
        self.steps.clear()
        if error:
            self.note.setText(f"Could not look for {event_id}: {error}")
            return
        self.show_journey(journey, event_id)

    def show_journey(self, found: FoundJourney | None, event_id: str) -> None:
        self.found = found
        self.journey = journey = found.journey if found is not None else None
        if journey is None:
            self.note.setText(f"No event {event_id} among the newest messages of {', '.join(self.topics)}.")
            self._light(None)
            return
        lines = journey.lines()
        self.steps.addItems(lines)
        first = len(lines) - len(journey.continued)
        for index, step in enumerate(journey.continued):  # a double click opens the trace it went on in
            item = self.steps.item(first + index)
            item.setData(Qt.ItemDataRole.UserRole, step.trace_id)
            item.setToolTip("Double-click: open this trace in the waterfall")
        consumed = sum(1 for c in journey.groups if c.covered)
        traces = len(journey.traces())
        went_on = f"; it went on in {traces} trace{'s' if traces != 1 else ''} of its consumers" if traces else ""
        self.note.setText(
            f"{event_id}: consumed by {consumed} of {len(journey.groups)} groups{went_on}; its path is lit."
        )
        self._light(found)

    def _open_trace(self, item) -> None:
        trace_id = item.data(Qt.ItemDataRole.UserRole)
        if trace_id and self.open_trace is not None:
            self.open_trace(trace_id)

    def _light(self, found: FoundJourney | None) -> None:
        if self.light_path is not None:
            self.light_path(*((found.nodes, found.calls) if found is not None else (frozenset(), frozenset())))


def install_peek(window: QMainWindow, settings: KafkaSettings, *, history=None, details=None) -> QAction:
    """Peek… and Journey… actions on the window's toolbar: the dialogs open on the selected edge or topic."""

    def topics_of(chart) -> list[str]:
        topics = list(settings.topics)
        if chart is not None:
            topics += [n for n, k in zip(chart.node_names, chart.node_kind, strict=False) if k == NodeKind.TOPIC]
        return list(dict.fromkeys(topics))

    def open_journey(event_id: str = "") -> None:
        chart = window.model.chart if hasattr(window, "model") else None
        docks = getattr(window, "docks", None)
        dialog = JourneyDialog(
            settings,
            topics_of(chart),
            history=history,
            details=details,
            light_path=window.selection.show_path if hasattr(window, "selection") else None,
            open_trace=docks.show_trace if docks is not None else None,
            event_id=event_id,
            parent=window,
        )
        dialog.show()
        if event_id:
            dialog.find()

    def open_peek() -> None:
        chart = window.model.chart if hasattr(window, "model") else None
        edge_panel = getattr(window, "edge_panel", None)
        service_panel = getattr(window, "service_panel", None)
        edge_dock = getattr(window, "edge_dock", None)
        edge = edge_panel.ends if edge_panel is not None and edge_dock is not None and edge_dock.isVisible() else None
        node = service_panel.name if service_panel is not None else None
        dialog = PeekDialog(settings, target_of(chart, edge=edge, node=node), topics_of(chart), window)
        dialog.open_journey = open_journey
        dialog.show()
        dialog.read()

    action = QAction("Peek…", window)
    action.setToolTip("The last messages behind the selected topic or edge (read now, not kept)")
    action.triggered.connect(open_peek)
    journey = QAction("Journey…", window)
    journey.setToolTip("One event's journey: producer, trace, topic/offset, each group's commit (lit on the chart)")
    journey.triggered.connect(lambda: open_journey())
    toolbar = next((t for t in window.findChildren(QToolBar) if t.windowTitle() == "Chart"), None)
    if toolbar is not None:
        toolbar.addAction(action)
        toolbar.addAction(journey)
    window.peek_action, window.journey_action = action, journey
    return action
