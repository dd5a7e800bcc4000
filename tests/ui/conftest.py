"""Widget tests never read or write the user's own settings: QSettings goes to an INI file under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> Path:
    """A fresh, empty settings file for each test (same organisation and application names as the app)."""
    folder = tmp_path / "settings"
    QCoreApplication.setOrganizationName("flowviz")
    QCoreApplication.setApplicationName("flowviz")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder
