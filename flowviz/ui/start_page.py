"""The start page: open a capture, connect to Kafka, receive OTLP, reopen a recent capture, or run the demo."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from flowviz.sources.otlp_receiver import DEFAULT_GRPC, DEFAULT_HTTP
from flowviz.ui.connect_dialog import ask_kafka_settings
from flowviz.ui.settings import recent_files
from flowviz.ui.window_menus import CAPTURE_FILE_FILTER
from flowviz.ui.windows import capture_window, demo_window, listen_window, live_window


class StartPage(QWidget):
    """Five ways in. Choosing one opens the main window on it and closes this page."""

    def __init__(self, *, theme: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.opened = None
        self.setWindowTitle("flowviz")
        layout = QVBoxLayout(self)
        title = QLabel("<h1>flowviz</h1><p>See how data flows between your services — live and in replay.</p>")
        title.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(title)
        self.open_button = QPushButton("Open a trace capture…")
        self.open_button.clicked.connect(self._choose_file)
        layout.addWidget(self.open_button)
        self.connect_button = QPushButton("Connect to Kafka… (live spans, e.g. the Collector's otlp_spans topic)")
        self.connect_button.clicked.connect(self._ask_kafka)
        layout.addWidget(self.connect_button)
        self.listen_button = QPushButton(
            f"Receive OTLP (point an SDK or a collector at gRPC {DEFAULT_GRPC} or HTTP {DEFAULT_HTTP})"
        )
        self.listen_button.clicked.connect(self.open_listen)
        layout.addWidget(self.listen_button)
        self.demo_button = QPushButton("Run the demo (simulated e-commerce platform)")
        self.demo_button.clicked.connect(self.open_demo)
        layout.addWidget(self.demo_button)
        layout.addWidget(QLabel("Recent captures"))
        self.recent = QListWidget()
        for entry in recent_files():
            paths = entry.split(os.pathsep)
            item = QListWidgetItem(", ".join(os.path.basename(p) for p in paths))
            item.setToolTip("\n".join(paths))
            item.setData(Qt.ItemDataRole.UserRole, paths)
            if not all(os.path.exists(p) for p in paths):
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setText(item.text() + "  (missing)")
            self.recent.addItem(item)
        if self.recent.count() == 0:
            self.recent.addItem(QListWidgetItem("No captures opened yet"))
            self.recent.setEnabled(False)
        self.recent.itemActivated.connect(lambda item: self.open_captures(item.data(Qt.ItemDataRole.UserRole)))
        layout.addWidget(self.recent)
        self.resize(560, 420)

    def _choose_file(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Open trace captures",
            "",
            CAPTURE_FILE_FILTER,
        )
        if paths:
            self.open_captures(paths)

    def open_captures(self, paths: list[str]) -> None:
        """A window on these captures (it puts them on the recent list once something in them was read)."""
        self._show(capture_window(paths, theme=self.theme))

    def _ask_kafka(self) -> None:
        settings = ask_kafka_settings(self)
        if settings is not None:
            self.open_live(settings)

    def open_live(self, settings) -> None:
        """A live window on Kafka topics (what the Connect dialog chose)."""
        self._show(live_window(settings, theme=self.theme))

    def open_listen(self) -> None:
        """A live window on OTLP sent to flowviz at the default loopback addresses."""
        self._show(listen_window(theme=self.theme))

    def open_demo(self) -> None:
        self._show(demo_window(theme=self.theme))

    def _show(self, window) -> None:
        self.opened = window
        window.show()
        self.close()
