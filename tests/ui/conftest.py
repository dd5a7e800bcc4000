"""Widget tests never read or write the user's own settings (QSettings goes to an INI file under tmp_path), and
each test's widgets are deleted when it ends, not by a garbage collection during a later test."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QSettings


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> Path:
    """A fresh, empty settings file for each test (same organisation and application names as the app)."""
    folder = tmp_path / "settings"
    QCoreApplication.setOrganizationName("flowviz")
    QCoreApplication.setApplicationName("flowviz")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture(autouse=True)
def widgets_deleted_at_the_end(qapp) -> Iterator[None]:
    """After pytest-qt has closed the test's widgets (and asked Qt to delete them later, which a plain
    `processEvents` never does): delete them now and collect the Python side, at a point where no Qt call runs.

    Otherwise a window of an earlier test was destroyed by whichever garbage collection came next — once inside
    `QObject::disconnect` of a later test, whose signal lock the window's actions then waited on forever (a hang
    seen in a full run: `QAction::~QAction` -> `QBasicMutex::lockInternal` under `gc_collect_main`)."""
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
