"""File ▸ Export: the chart as PNG or SVG (title, time range, legend, current theme), the image to the
clipboard, and the window's nodes, edges (and comparison) as CSV or JSON."""

from __future__ import annotations

import os

import orjson
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMenu, QMessageBox

from flowviz.analysis.diagnosis import diagnosis_json
from flowviz.analysis.report import edge_rows, node_rows
from flowviz.analysis.table_export import EDGE_COLUMNS, NODE_COLUMNS, columns_of, rows_csv
from flowviz.model.time_spec import format_time_ns
from flowviz.ui.chart_export import picture_image, source_title, view_caption, view_legend, write_picture
from flowviz.ui.video_dialog import ask_export_loop_video

SECOND_NS = 1_000_000_000


def _baseline(window: QMainWindow) -> tuple[int, int] | None:
    compare = getattr(window, "compare", None)
    return compare.baseline if compare is not None else None


def window_tables(window: QMainWindow) -> dict[str, object] | None:
    """The window's figures as the report's JSON shape: window, nodes, edges, findings and root causes (seconds
    after the first data kept), and changes when comparing."""
    model = window.model
    span = model.time.window_ns()
    if span is None:
        return None
    frame = model.store.query(*span)
    tables: dict[str, object] = {
        "source": source_title(window),
        "window": {
            "start": format_time_ns(span[0]),
            "end": format_time_ns(span[1]),
            "seconds": (span[1] - span[0]) / SECOND_NS,
        },
        "nodes": node_rows(frame),
        "edges": edge_rows(frame),
    }
    compare = getattr(window, "compare", None)
    if compare is not None:
        tables.update(compare.export_tables())  # changes and node_changes, when comparing
    analysis = getattr(window, "analysis", None)
    retained = model.store.time_range_ns()
    if analysis is not None and retained is not None:  # findings and root causes, as report --json gives them
        tables.update(diagnosis_json(analysis.service.latest().diagnosis, retained[0]))
    return tables


def export_picture(window: QMainWindow, path: str, *, legend: bool = True) -> None:
    """The chart as the window shows it, with title, time range and legend, to a PNG or SVG file."""
    view = window.view
    caption = view_caption(view, source_title(window), baseline=_baseline(window)) if legend else None
    write_picture(view, path, caption, view_legend(view) if legend else [])


def copy_picture(window: QMainWindow) -> None:
    view = window.view
    image = picture_image(view, view_caption(view, source_title(window), baseline=_baseline(window)), view_legend(view))
    QApplication.clipboard().setImage(image)
    window.statusBar().showMessage("Chart image copied to the clipboard", 3000)


def export_tables(window: QMainWindow, path: str) -> None:
    """The window's tables to `path`: one JSON object (.json), or CSV (edges to `path`, nodes to
    `…-nodes.csv`, and each further table, e.g. changes, to `…-NAME.csv`)."""
    tables = window_tables(window)
    if tables is None:
        raise OSError("nothing to export yet: the window has no data")
    if path.lower().endswith(".json"):
        with open(path, "wb") as out:
            out.write(orjson.dumps(tables, option=orjson.OPT_INDENT_2))
        return
    stem = path[:-4] if path.lower().endswith(".csv") else path
    files = {
        path: rows_csv(tables["edges"], EDGE_COLUMNS),
        f"{stem}-nodes.csv": rows_csv(tables["nodes"], NODE_COLUMNS),
    }
    for name, rows in tables.items():
        if name not in ("nodes", "edges") and isinstance(rows, list) and rows and isinstance(rows[0], dict):
            files[f"{stem}-{name.replace('_', '-')}.csv"] = rows_csv(rows, columns_of(rows))
    for file_path, text in files.items():
        with open(file_path, "w", encoding="utf-8", newline="") as out:
            out.write(text)


def _default_name(window: QMainWindow, suffix: str) -> str:
    base = "".join(c if c.isalnum() or c in "-_." else "-" for c in source_title(window))[:60].strip("-") or "flowviz"
    span = window.model.time.window_ns()
    when = format_time_ns(span[1])[:19].replace(":", "") if span else ""
    return os.path.join(os.path.expanduser("~"), f"{base}-{when}{suffix}".replace("--", "-"))


def _ask_and_run(window: QMainWindow, title: str, suffix: str, filters: str, action) -> None:
    path, _ = QFileDialog.getSaveFileName(window, title, _default_name(window, suffix), filters)
    if not path:
        return
    try:
        action(path)
    except OSError as error:
        QMessageBox.warning(window, title, str(error))
        return
    window.statusBar().showMessage(f"Wrote {path}", 5000)


def install_export_menu(window: QMainWindow) -> QMenu:
    """Add File ▸ Export (before Quit) to a window that has `view`, `model` and `file_menu`."""
    menu = QMenu("&Export", window)
    entries = (
        ("Chart as &PNG…", None, ".png", "PNG image (*.png)", lambda p: export_picture(window, p)),
        ("Chart as &SVG…", None, ".svg", "SVG vector image (*.svg)", lambda p: export_picture(window, p)),
        ("Tables as &CSV…", None, ".csv", "CSV (*.csv)", lambda p: export_tables(window, p)),
        ("Tables as &JSON…", None, ".json", "JSON (*.json)", lambda p: export_tables(window, p)),
    )
    for text, shortcut, suffix, filters, action in entries:
        item = QAction(text, window)
        if shortcut:
            item.setShortcut(shortcut)
        item.triggered.connect(
            lambda _=False, t=text, s=suffix, f=filters, a=action: _ask_and_run(window, t.rstrip("…"), s, f, a)
        )
        menu.addAction(item)
        if suffix == ".svg":
            copy = QAction("C&opy chart image", window)
            copy.setShortcut(QKeySequence("Ctrl+Shift+C"))
            copy.triggered.connect(lambda: copy_picture(window))
            menu.addAction(copy)
            window.addAction(copy)
            menu.addSeparator()
    menu.addSeparator()
    video = QAction("&Video of the loop range…", window)
    video.triggered.connect(lambda: ask_export_loop_video(window))
    menu.addAction(video)
    file_menu: QMenu = window.file_menu
    separators = [a for a in file_menu.actions() if a.isSeparator()]
    anchor = separators[-1] if separators else None  # with the openers, above Preferences and Quit
    file_menu.insertMenu(anchor, menu) if anchor is not None else file_menu.addMenu(menu)
    window.export_menu = menu
    return menu
