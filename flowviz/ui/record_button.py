"""The Record button of a live Kafka window: the worker appends every message it reads to a recording file."""

from __future__ import annotations

import os
import time
from typing import Any

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QToolBar, QWidget

from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.kafka_status import human_bytes as size_text
from flowviz.sources.pipe_messages import Record
from flowviz.sources.recording import RECORDING_MAGIC, is_recording

RECORDING_SUFFIX = ".fvrec"
LAST_DIRECTORY_KEY = "recording/directory"
SYNC_INTERVAL_S = 0.25  # the window's frame clock syncs the button with the worker this often
IDLE_TEXT, ACTIVE_TEXT = "● Record", "■ Stop recording"
RECORDING_STYLE = "color: #d62f3f; font-weight: bold;"


def default_recording_path(settings: KafkaSettings, directory: str, *, now_s: float | None = None) -> str:
    """`DIRECTORY/flowviz-TOPIC-YYYYMMDD-HHMMSS.fvrec` (the first topic, made safe for a file name)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now_s))
    topic = "".join(c if c.isalnum() or c in "._-" else "_" for c in settings.topics[0]) if settings.topics else "kafka"
    return os.path.join(directory, f"flowviz-{topic}-{stamp}{RECORDING_SUFFIX}")


def existing_file_problem(path: str) -> str | None:
    """Why `path` cannot be recorded to (it exists and is something else); None when it is new or a recording."""
    try:
        with open(path, "rb") as file:
            head = file.read(len(RECORDING_MAGIC))
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    if head and not is_recording(head):
        return f"{os.path.basename(path)} exists and is not a flowviz recording; choose another file."
    return None


class RecordControl(QObject):
    """A checkable toolbar action: on, it asks for a file and tells the worker `("record", path)`; off,
    `("record", None)`. It follows what the worker reports (a file that cannot be written turns it off): `sync()`,
    which the window's frame clock calls every `SYNC_INTERVAL_S`."""

    def __init__(self, window: QMainWindow, feed: Any, settings: KafkaSettings) -> None:
        super().__init__(window)
        self.window, self.feed, self.settings = window, feed, settings
        self.path: str | None = None
        self.button: QWidget | None = None  # the toolbar's button for the action, red while recording
        self._asked = 0  # recordings asked for: the worker's status counts them too
        self.action = QAction(IDLE_TEXT, window)
        self.action.setCheckable(True)
        self.action.setToolTip("Record what this window reads to a file (the format of `flowviz record`)")
        self.action.triggered.connect(self._triggered)
        window.on_frame(SYNC_INTERVAL_S, self.sync)

    @property
    def recording(self) -> bool:
        return self.path is not None

    def worker_recording(self) -> dict[str, Any]:
        """The worker's latest word on the recording (`LiveRecorder.status()`), {} before any."""
        source = getattr(self.feed.status, "source", None) or {}
        return source.get("recording") or {}

    def _triggered(self, checked: bool) -> None:
        if not checked:
            self.stop()
            return
        path = self.choose_path()
        if path is None or not self.start(path):
            self._show_state()

    def choose_path(self) -> str | None:
        """Ask for the output file; existing recordings are appended to (after asking), other files refused."""
        stored = QSettings()
        directory = stored.value(LAST_DIRECTORY_KEY, "")
        directory = directory if isinstance(directory, str) and os.path.isdir(directory) else os.path.expanduser("~")
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            "Record to",
            default_recording_path(self.settings, directory),
            f"flowviz recordings (*{RECORDING_SUFFIX});;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not path:
            return None
        problem = existing_file_problem(path)
        if problem is not None:
            QMessageBox.warning(self.window, "Record", problem)
            return None
        if os.path.exists(path) and os.path.getsize(path) > 0:
            answer = QMessageBox.question(
                self.window,
                "Record",
                f"{os.path.basename(path)} is a recording already. Append this session to it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
        stored.setValue(LAST_DIRECTORY_KEY, os.path.dirname(os.path.abspath(path)))
        return path

    def start(self, path: str) -> bool:
        """Tell the worker to record to `path` from now on; False (with a message) when it cannot."""
        problem = existing_file_problem(path)
        if problem is None and not self.feed.send(Record(os.path.abspath(path))):
            problem = "the reading process has stopped; nothing to record"
        if problem is not None:
            self.window.statusBar().showMessage(f"Not recording: {problem}", 8000)
            return False
        self._asked += 1
        self.path = os.path.abspath(path)
        self._show_state()
        return True

    def stop(self) -> None:
        """Close the recording (the worker syncs it); says where it is."""
        if self.path is None:
            return
        self.feed.send(Record(None))
        report = self.worker_recording()
        size = report.get("bytes", 0) if report.get("path") == self.path else 0
        self.window.statusBar().showMessage(f"Recording saved: {self.path} ({size_text(size)})", 10_000)
        self.path = None
        self._show_state()

    def sync(self) -> None:
        """Turn the button off when the worker reports that this recording failed (or the worker ended)."""
        if self.path is None:
            return
        if not getattr(self.feed.status, "running", True):
            self._failed(getattr(self.feed.status, "error", "") or "the reading process has stopped")
            return
        report = self.worker_recording()
        if report.get("sessions", 0) < self._asked:
            return  # the worker has not answered this recording yet
        if report.get("error"):
            self._failed(report["error"])

    def _failed(self, reason: str) -> None:
        self.path = None
        self._show_state()
        self.window.statusBar().showMessage(f"Recording stopped: {reason}", 15_000)

    def _show_state(self) -> None:
        if self.button is not None:
            self.button.setStyleSheet(RECORDING_STYLE if self.path is not None else "")
        self.action.setChecked(self.path is not None)
        self.action.setText(ACTIVE_TEXT if self.path is not None else IDLE_TEXT)
        self.action.setToolTip(
            f"Recording to {self.path} — click to stop"
            if self.path is not None
            else "Record what this window reads to a file (the format of `flowviz record`)"
        )


def install_record_button(window: QMainWindow, feed: Any, settings: KafkaSettings) -> RecordControl:
    """The Record toggle at the end of the window's toolbar (a toolbar of its own if it has none);
    kept as `window.recorder`."""
    control = RecordControl(window, feed, settings)
    toolbar = next((t for t in window.findChildren(QToolBar) if t.windowTitle() == "Chart"), None)
    if toolbar is None:
        toolbar = QToolBar("Recording", window)
        toolbar.setObjectName("recording_toolbar")
        toolbar.setMovable(False)
        window.addToolBar(toolbar)
    else:
        toolbar.addSeparator()
    toolbar.addAction(control.action)
    control.button = toolbar.widgetForAction(control.action)
    window.recorder = control
    return control
