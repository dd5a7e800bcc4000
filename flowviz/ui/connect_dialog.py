"""The Connect to Kafka dialog: broker, topics, format, start and a properties file, checked before it closes."""

from __future__ import annotations

import os
import re
import time
from functools import partial

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from flowviz.decoders.formats import KAFKA_FORMATS
from flowviz.model.time_spec import TimeSpecError
from flowviz.sources.kafka_decoders import default_live_workers
from flowviz.sources.kafka_probe import PROBE_TIMEOUT_S, ProbeResult, probe_topics
from flowviz.sources.kafka_settings import (
    DEFAULT_TOPIC,
    KafkaConfigError,
    KafkaSettings,
    check_settings,
    read_properties,
    start_time_ms,
)
from flowviz.ui.background import PolledJob

SETTINGS_PREFIX = "kafka/"  # QSettings keys: bootstrap, topics, format, start, config_path — never the file's contents
FORMAT_LABELS = {
    "auto": "auto — detected per message",
    "otlp_proto": "otlp_proto — OTLP protobuf (the Collector's default)",
    "otlp_json": "otlp_json — OTLP JSON",
    "jaeger_json": "jaeger_json — Jaeger JSON",
    "zipkin_json": "zipkin_json — Zipkin v2 JSON",
    "simple_json": "simple_json — {traceId, spans} JSON",
    "events": "events — business events (CloudEvents, JSON)",
}
START_PRESETS = ("latest", "earliest", "-15m", "-1h")
_SECRET_WORDS = ("password", "secret", "token", "jaas", ".pem", "key.location", "keystore", "credential")
_HOST_PORT = re.compile(r"^(?:[A-Za-z_]+://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_TEST_POLL_MS = 100
_INVALID_STYLE = "QLineEdit[invalid='true'], QComboBox[invalid='true'] { border: 1px solid #d64545; }"


# -- checks (no widgets) ---------------------------------------------------------------------------


def parse_topics(text: str) -> tuple[str, ...]:
    """Topic names separated by commas and/or spaces, in order, each once."""
    return tuple(dict.fromkeys(name for name in re.split(r"[,\s]+", text) if name))


def bootstrap_problem(text: str) -> str | None:
    """Why `text` is not a list of brokers (`host:port,host:port`); None when it is (or is empty)."""
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            if text.strip():
                return "an empty entry between commas"
            continue
        match = _HOST_PORT.match(entry)
        if match is None:
            return f"{entry!r} is not HOST:PORT"
        port = match.group(2)
        if port is not None and not 0 < int(port) < 65536:
            return f"{entry!r}: port {port} is out of range (1–65535)"
    return None


def properties_note(path: str) -> str:
    """What the properties file sets, without any secret value (or why it cannot be read)."""
    try:
        properties = read_properties(path)
    except KafkaConfigError as error:
        return str(error)
    secrets = sorted(key for key in properties if any(word in key.lower() for word in _SECRET_WORDS))
    shown = [properties[key] for key in ("security.protocol", "sasl.mechanism", "sasl.mechanisms") if key in properties]
    parts = [*shown, f"{len(properties)} setting{'s' if len(properties) != 1 else ''}"]
    if "bootstrap.servers" in properties:
        parts.append(f"brokers {properties['bootstrap.servers']}")
    kept = f"{', '.join(secrets)} stay{'s' if len(secrets) == 1 else ''} in the file" if secrets else ""
    return " · ".join(parts) + (
        f". {kept}; flowviz remembers only the path." if kept else ". flowviz remembers only the path."
    )


def validate(
    *, bootstrap: str, topics_text: str, format_name: str, start: str, config_path: str
) -> tuple[KafkaSettings | None, dict[str, str]]:
    """The settings the fields describe, or the problems by field name (bootstrap, topics, format, start, config)."""
    problems: dict[str, str] = {}
    bootstrap, start, config_path = bootstrap.strip(), start.strip() or "latest", config_path.strip()
    if bootstrap and (problem := bootstrap_problem(bootstrap)):
        problems["bootstrap"] = f"Brokers: {problem}."
    bootstrap = ",".join(part.strip() for part in bootstrap.split(",")) if bootstrap else ""
    topics = parse_topics(topics_text)
    bad_topics = [t for t in topics if not _TOPIC.match(t)]
    if not topics:
        problems["topics"] = "Topics: name at least one topic."
    elif bad_topics:
        problems["topics"] = (
            f"Topics: {', '.join(repr(t) for t in bad_topics)} is not a topic name (letters, digits, . _ -)."
        )
    if format_name not in KAFKA_FORMATS:
        problems["format"] = f"Format: {format_name!r} is not one of {', '.join(KAFKA_FORMATS)}."
    try:
        since_ms = start_time_ms(start)
        if since_ms is not None and since_ms > time.time() * 1000 + 1000:
            problems["start"] = f"Start: {start!r} is in the future."
    except (ValueError, OverflowError) as error:  # TimeSpecError is a ValueError
        problems["start"] = (
            f"Start: {error}."
            if "out of range" in str(error)
            else f"Start: {start!r} is not a start: use latest, earliest, -15m or an ISO time (2024-05-01T12:00Z)."
        )
    properties: dict[str, str] = {}
    if config_path:
        if not os.path.isfile(config_path):
            problems["config"] = f"Properties file: {config_path} does not exist."
        else:
            try:
                properties = read_properties(config_path)
            except KafkaConfigError as error:
                problems["config"] = f"Properties file: {error}."
    if not bootstrap and "config" not in problems and not properties.get("bootstrap.servers"):
        problems["bootstrap"] = "Brokers: enter HOST:PORT (or set bootstrap.servers in the properties file)."
    if problems:
        return None, problems
    settings = KafkaSettings(
        bootstrap=bootstrap,
        topics=topics,
        format_name=format_name,
        start=start,
        config_path=config_path or None,
        workers=default_live_workers(),  # decode processes: the cores beyond the reading process's
    )
    try:
        check_settings(settings)
    except (KafkaConfigError, TimeSpecError) as error:  # anything the checks above missed
        return None, {"config" if config_path else "bootstrap": str(error)}
    return settings, {}


# -- remembered values (QSettings) -----------------------------------------------------------------


def remembered_settings() -> KafkaSettings:
    """The last values used in the dialog (defaults where none); a stale format falls back to auto."""
    stored = QSettings()

    def text(key: str, default: str) -> str:
        value = stored.value(SETTINGS_PREFIX + key, default)
        return value if isinstance(value, str) else default

    format_name = text("format", "auto")
    return KafkaSettings(
        bootstrap=text("bootstrap", ""),
        topics=parse_topics(text("topics", DEFAULT_TOPIC)) or (DEFAULT_TOPIC,),
        format_name=format_name if format_name in KAFKA_FORMATS else "auto",
        start=text("start", "latest") or "latest",
        config_path=text("config_path", "") or None,
    )


def remember_settings(settings: KafkaSettings) -> None:
    """Keep the non-secret values for next time: the properties file's path, never its contents."""
    stored = QSettings()
    stored.setValue(SETTINGS_PREFIX + "bootstrap", settings.bootstrap)
    stored.setValue(SETTINGS_PREFIX + "topics", ", ".join(settings.topics))
    stored.setValue(SETTINGS_PREFIX + "format", settings.format_name)
    stored.setValue(SETTINGS_PREFIX + "start", settings.start)
    stored.setValue(SETTINGS_PREFIX + "config_path", settings.config_path or "")
    stored.sync()


# -- the dialog ------------------------------------------------------------------------------------


class ConnectDialog(QDialog):
    """Asks where and what to read; `chosen` holds the checked KafkaSettings once accepted.

    OK names the problems under the fields and waits; they go away as they are fixed.
    "Test connection" asks the broker for its topics on a worker thread (the window never waits).
    """

    def __init__(self, parent: QWidget | None = None, *, initial: KafkaSettings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to Kafka")
        self.setStyleSheet(_INVALID_STYLE)
        self.chosen: KafkaSettings | None = None
        self._checked_once = False
        self.probe_timeout_s = PROBE_TIMEOUT_S
        initial = initial if initial is not None else remembered_settings()

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.bootstrap_edit = QLineEdit(initial.bootstrap, self)
        self.bootstrap_edit.setPlaceholderText("broker1:9092,broker2:9092")
        form.addRow("Brokers", self.bootstrap_edit)
        self.topics_edit = QLineEdit(", ".join(initial.topics), self)
        self.topics_edit.setPlaceholderText(DEFAULT_TOPIC)
        self.topics_edit.setToolTip("One or more topics, separated by commas or spaces")
        form.addRow("Topics", self.topics_edit)
        self.format_box = QComboBox(self)
        for name in KAFKA_FORMATS:
            self.format_box.addItem(FORMAT_LABELS.get(name, name), name)
        if self.format_box.findData(initial.format_name) < 0:  # an unknown name handed in: shown, and refused
            self.format_box.addItem(f"{initial.format_name} — unknown", initial.format_name)
        self.format_box.setCurrentIndex(self.format_box.findData(initial.format_name))
        form.addRow("Format", self.format_box)
        self.start_box = QComboBox(self)
        self.start_box.setEditable(True)
        self.start_box.addItems(START_PRESETS)
        self.start_box.setCurrentText(initial.start)
        self.start_box.setToolTip(
            "latest: new messages · earliest: all the topic keeps · -15m: that long before now · or an ISO time"
        )
        start_hint = _hint("latest, earliest, -15m (that long before now) or an ISO time: 2024-05-01T12:00Z")
        start_hint.setWordWrap(False)
        form.addRow("Start", _stacked(self.start_box, start_hint))
        config_row = QHBoxLayout()
        self.config_edit = QLineEdit(initial.config_path or "", self)
        self.config_edit.setPlaceholderText("optional: librdkafka properties file (SASL, SSL, mutual TLS)")
        config_row.addWidget(self.config_edit, 1)
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self._choose_properties)
        config_row.addWidget(self.browse_button)
        form.addRow("Properties file", config_row)
        self.config_note = _hint("")  # under the form: a wrapped label in a form row gets the wrong height

        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d64545;")
        self.error_label.hide()
        self.test_button = QPushButton("Test connection", self)
        self.test_button.setToolTip("Ask the broker for its topics (5 s at most); nothing is read")
        self.test_button.clicked.connect(self.test_connection)
        self.test_label = QLabel(self)
        self.test_label.setWordWrap(True)
        self.test_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.test_label, 1)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Connect")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)  # grows as problems appear, never squashes
        layout.addLayout(form)
        layout.addWidget(self.config_note)
        layout.addWidget(self.error_label)
        layout.addLayout(test_row)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self._probe = PolledJob("flowviz-kafka-probe", self, button=self.test_button, poll_ms=_TEST_POLL_MS)
        self._probe.done.connect(self._probe_done)

        for edit in (self.bootstrap_edit, self.topics_edit, self.config_edit):
            edit.textChanged.connect(self._changed)
        self.start_box.currentTextChanged.connect(self._changed)
        self.format_box.currentIndexChanged.connect(self._changed)
        self._update_config_note()
        self.resize(640, self.sizeHint().height())
        self._fit_height()

    # -- values ----------------------------------------------------------------------------------

    def check(self) -> tuple[KafkaSettings | None, dict[str, str]]:
        """The settings of the fields now, or the problems by field."""
        return validate(
            bootstrap=self.bootstrap_edit.text(),
            topics_text=self.topics_edit.text(),
            format_name=str(self.format_box.currentData()),
            start=self.start_box.currentText(),
            config_path=self.config_edit.text(),
        )

    def accept(self) -> None:
        """Close with `chosen` set when the fields are valid; otherwise show why and stay open."""
        self._checked_once = True
        settings, problems = self.check()
        self._show_problems(problems)
        if settings is None:
            return
        self.chosen = settings
        remember_settings(settings)
        super().accept()

    def _changed(self) -> None:
        self._update_config_note()
        if self._checked_once:  # after a refused OK, problems go away as they are fixed
            self._show_problems(self.check()[1])

    def _show_problems(self, problems: dict[str, str]) -> None:
        widgets = {
            "bootstrap": self.bootstrap_edit,
            "topics": self.topics_edit,
            "format": self.format_box,
            "start": self.start_box,
            "config": self.config_edit,
        }
        for name, widget in widgets.items():
            widget.setProperty("invalid", name in problems)
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self.error_label.setText("\n".join(problems.values()))
        self.error_label.setVisible(bool(problems))
        self._fit_height()

    def _fit_height(self) -> None:
        """Grow to show every line (wrapped labels are not in the minimum size Qt keeps by itself)."""
        layout = self.layout()
        layout.activate()
        needed = layout.heightForWidth(self.width()) if layout.hasHeightForWidth() else layout.sizeHint().height()
        if needed > self.height():
            self.resize(self.width(), needed)

    def _update_config_note(self) -> None:
        path = self.config_edit.text().strip()
        if not path:
            self.config_note.setText(
                "For SASL (PLAIN, SCRAM), SSL or mutual TLS: security.protocol, sasl.*, ssl.* in a properties "
                "file. flowviz remembers only its path — passwords and keys stay in that file."
            )
            return
        if not os.path.isfile(path):
            self.config_note.setText("No such file.")
            return
        self.config_note.setText(properties_note(path))

    def _choose_properties(self) -> None:
        start = os.path.dirname(self.config_edit.text()) or os.path.expanduser("~")
        path, _ = QFileDialog.getOpenFileName(
            self, "librdkafka properties file", start, "Properties (*.properties *.conf *.cfg);;All files (*)"
        )
        if path:
            self.config_edit.setText(path)

    # -- test connection (a thread asks; a timer here collects the answer) ---------------------------

    def test_connection(self) -> None:
        """List the broker's topics off the UI thread; the answer appears under the button."""
        settings, problems = self.check()
        if settings is None:
            self._checked_once = True
            self._show_problems(problems)
            return
        if self._probe.start(settings, partial(probe_topics, timeout_s=self.probe_timeout_s), settings):
            self.test_label.setText(f"Asking {settings.bootstrap or 'the broker'}…")

    @property
    def testing(self) -> bool:
        """True from "Test connection" until its answer is shown."""
        return self._probe.running

    def _probe_done(self, settings: KafkaSettings, result: ProbeResult | None, error: str | None) -> None:
        if result is None:
            self.test_label.setText(f"Could not ask {settings.bootstrap or 'the broker'}: {error}")
        else:
            self.test_label.setText(result.describe(settings.topics))
        self.test_label.setStyleSheet("" if result is not None and result.ok else "color: #d64545;")
        self._fit_height()


def _stacked(field: QWidget, hint: QLabel) -> QWidget:
    """A field with its hint right under it (one form row, so the form keeps even spacing)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(field)
    layout.addWidget(hint)
    return box


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def ask_kafka_settings(parent: QWidget | None = None) -> KafkaSettings | None:
    """Run the dialog; the chosen settings, or None when cancelled."""
    dialog = ConnectDialog(parent)
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    return dialog.chosen if accepted else None
