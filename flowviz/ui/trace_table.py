"""A table of kept traces (exemplars): when, latency at the service or edge, failed, why kept; a click opens one."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from flowviz.store.exemplars import Exemplar

COLUMNS = ("time", "latency ms", "trace ms", "status", "trace id")


def exemplar_time(time_ns: int) -> str:
    """UTC wall time with milliseconds (captures are replayed from any time zone)."""
    return dt.datetime.fromtimestamp(time_ns / 1e9, dt.UTC).strftime("%H:%M:%S.%f")[:-3]


class TraceTable(QTableWidget):
    """Rows of `Exemplar`s; clicking a row emits `trace_chosen` with its hex trace id."""

    trace_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.exemplars: list[Exemplar] = []
        self.failing_color = QColor("#e05050")
        self.cellClicked.connect(lambda row, _column: self.trace_chosen.emit(self.exemplars[row].trace_id))

    def set_exemplars(self, exemplars: list[Exemplar]) -> None:
        if [e.trace_id for e in exemplars] == [e.trace_id for e in self.exemplars]:
            return  # unchanged: keep the user's selection and scroll position
        self.exemplars = list(exemplars)
        self.setRowCount(len(exemplars))
        for row, exemplar in enumerate(exemplars):
            texts = (
                exemplar_time(exemplar.start_ns),
                f"{exemplar.duration_ms:.1f}",
                f"{exemplar.trace_duration_ms:.1f}",
                "failed" if exemplar.error else "ok",
                exemplar.trace_id,
            )
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if column in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 3 and exemplar.error:
                    item.setForeground(self.failing_color)
                item.setToolTip("kept as: " + ", ".join(exemplar.reasons))
                self.setItem(row, column, item)
