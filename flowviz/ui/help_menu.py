"""File ▸ Preferences… and the Help menu (keys, the README, About with versions and where settings and logs live)."""

from __future__ import annotations

import platform
import re
import sys
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QMessageBox, QTextBrowser, QVBoxLayout, QWidget

from flowviz import __version__
from flowviz.ui.settings import load_preferences, log_dir, settings_path


def readme_text() -> str:
    """The README: from the installed package's metadata (wheels and app bundles carry it), else the
    checkout's README.md beside the package."""
    try:
        description = metadata.metadata("flowviz").get_payload()  # type: ignore[attr-defined]
    except metadata.PackageNotFoundError:
        description = ""
    if description and description.strip():
        return str(description)
    source = Path(__file__).resolve().parents[2] / "README.md"
    return source.read_text(encoding="utf-8") if source.is_file() else "The README is not available here."


def without_pictures(markdown: str) -> str:
    """The README's screenshots are files beside it (absent from an installed app): their captions stand in."""
    return re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"*(picture: \1)*", markdown)


def about_text() -> str:
    """Versions and locations, as rich text for the About box (also what `--version` names)."""
    return (
        f"<h3>flowviz {__version__}</h3>"
        "<p>See how data flows between microservices — live from Kafka and in replay of trace captures.</p>"
        f"<p>Qt {qVersion()} · PySide6 {pyside_version} · Python {platform.python_version()}"
        f" ({sys.platform})</p>"
        f"<p>Settings: <code>{settings_path()}</code><br>Logs: <code>{log_dir()}</code></p>"
        "<p>Licensed under the Apache License 2.0.</p>"
    )


class ReadmeDialog(QDialog):
    """The README as formatted text, searchable with the platform's find keys."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("flowviz — README")
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(without_pictures(readme_text()))
        layout.addWidget(self.browser)
        self.resize(900, 700)


def show_about(parent: QWidget) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About flowviz")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setText(about_text())
    icon = parent.windowIcon()
    if not icon.isNull():
        box.setIconPixmap(icon.pixmap(64, 64))
    box.exec()


def show_preferences(window: QMainWindow) -> None:
    """The Preferences dialog; accepted, every open flowviz window takes the new look."""
    from PySide6.QtWidgets import QApplication

    from flowviz.ui.preferences_dialog import PreferencesDialog

    dialog = PreferencesDialog(window)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return
    preferences = load_preferences()
    analysis = dialog.chosen_analysis()
    for widget in QApplication.topLevelWidgets():
        apply = getattr(widget, "apply_preferences", None)
        if apply is not None:
            apply(preferences)
        dock = getattr(widget, "analysis", None)
        if dock is not None and dock.config != analysis:
            dock.set_config(analysis)  # judged again with the new settings


def install_help_menu(window: QMainWindow) -> None:
    """Preferences… above Quit in the File menu, and a Help menu at the end of the menu bar."""
    preferences = QAction("&Preferences…", window)
    preferences.setShortcut(QKeySequence.StandardKey.Preferences)
    preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
    preferences.triggered.connect(lambda: show_preferences(window))
    quit_action = next((a for a in window.file_menu.actions() if a.menuRole() == QAction.MenuRole.QuitRole), None)
    quit_action = quit_action or next((a for a in window.file_menu.actions() if a.text() == "&Quit"), None)
    window.file_menu.insertAction(quit_action, preferences)  # None: at the end
    window.preferences_action = preferences
    help_menu = window.menuBar().addMenu("&Help")
    keys = QAction("&Keys  (?)", window)
    keys.triggered.connect(window.help.show)
    help_menu.addAction(keys)
    readme = QAction("&README", window)
    readme.setShortcut(QKeySequence.StandardKey.HelpContents)
    readme.triggered.connect(lambda: ReadmeDialog(window).exec())
    help_menu.addAction(readme)
    help_menu.addSeparator()
    about = QAction("&About flowviz", window)
    about.setMenuRole(QAction.MenuRole.AboutRole)
    about.triggered.connect(lambda: show_about(window))
    help_menu.addAction(about)
    window.help_menu = help_menu
