"""Read-only, row-selecting tables of figures, as every panel shows them (text left, numbers right)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget


def figure_table(columns: Sequence[str], parent: QWidget | None = None) -> QTableWidget:
    """A table whose first column stretches and the others fit their figures."""
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(columns)):
        table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return table


def fill_rows(table: QTableWidget, rows: Sequence[Sequence[str]], *, data: Sequence[object] | None = None) -> None:
    """Replace the rows (texts per column; `data` per row is kept in each item's UserRole)."""
    table.setRowCount(len(rows))
    for r, texts in enumerate(rows):
        for column, text in enumerate(texts):
            item = QTableWidgetItem(text)
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if data is not None:
                item.setData(Qt.ItemDataRole.UserRole, data[r])
            table.setItem(r, column, item)


def ms_text(value: float) -> str:
    """Milliseconds in a column headed "ms": "–" for none, one decimal below 100, three significant figures
    below 1 (`0.042`, not `0.0`)."""
    if math.isnan(value):
        return "–"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2g}"
