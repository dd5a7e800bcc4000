"""What flowviz remembers: recent captures and bookmarks survive a restart with one entry or two; theme,
window length, speed, geometry and dock layout come back; the Preferences dialog and the Help menu."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog

from flowviz import __version__
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.help_menu import ReadmeDialog, about_text
from flowviz.ui.main_window import MainWindow, save_bookmarks
from flowviz.ui.preferences_dialog import PreferencesDialog
from flowviz.ui.settings import (
    Preferences,
    forget_recent,
    load_preferences,
    read_list,
    recent_files,
    remember_recent,
    save_preferences,
)
from flowviz.ui.timeline_strip import Bookmark
from flowviz.ui.windows import new_chart_model

REPO = Path(__file__).resolve().parents[2]

# a second process reads what this one wrote: QSettings caches values in-process, so only this shows
# what a restart sees (a one-element list comes back from the INI file as a plain string)
READER = """
import json, sys
from PySide6.QtCore import QCoreApplication, QSettings
QCoreApplication.setOrganizationName("flowviz"); QCoreApplication.setApplicationName("flowviz")
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
from flowviz.ui.main_window import load_bookmarks
from flowviz.ui.settings import recent_files
print(json.dumps({"recent": recent_files(), "bookmarks": [[b.time_ns, b.name] for b in load_bookmarks(sys.argv[2])]}))
"""


def _read_in_a_new_process(settings_dir: Path, key: str) -> dict:
    QSettings().sync()
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", READER, str(settings_dir), key], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("count", [1, 2])
def test_recent_captures_and_bookmarks_survive_a_restart(isolated_settings: Path, tmp_path: Path, count: int) -> None:
    files = [tmp_path / f"capture-{i}.json" for i in range(count)]
    for path in files:
        path.write_text("[]")
        remember_recent([str(path)])
    key = str(files[0])
    bookmarks = [Bookmark(1_700_000_000_000_000_000 + i, f"moment {i} with spaces") for i in range(count)]
    save_bookmarks(key, bookmarks)
    read = _read_in_a_new_process(isolated_settings, key)
    assert read["recent"] == [str(p) for p in reversed(files)]  # newest first, whole paths, not characters
    assert read["bookmarks"] == [[b.time_ns, b.name] for b in bookmarks]


def test_read_list_takes_every_shape_qsettings_gives() -> None:
    stored = QSettings()
    stored.setValue("one", "only/entry")
    stored.setValue("two", ["a", "b"])
    stored.remove("none")
    assert read_list(stored, "one") == ["only/entry"]
    assert read_list(stored, "two") == ["a", "b"]
    assert read_list(stored, "none") == []


def test_recent_list_is_most_recent_first_without_duplicates_and_forgets(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    remember_recent([a])
    remember_recent([b])
    remember_recent([a])
    assert recent_files() == [a, b]
    forget_recent([a])
    assert recent_files() == [b]
    remember_recent([a, b])  # several files opened together are one entry
    assert recent_files() == [os.pathsep.join([a, b]), b]


def _window(qtbot, *, theme: str | None = None) -> MainWindow:
    window = MainWindow(new_chart_model(RollingStore(), live=False, theme=theme), title="test")
    qtbot.addWidget(window)
    return window


def test_theme_window_length_and_speed_are_remembered(qtbot) -> None:
    first = _window(qtbot)
    assert first.model.theme.name == "dark"
    assert first.model.time.window_s == 60.0
    first.theme_box.setCurrentText("light")
    first.model.time.longer_window()  # 120 s
    first.model.time.faster()  # 2×
    first.close()
    second = _window(qtbot)
    assert second.model.theme.name == "light"
    assert second.theme_box.currentText() == "light"
    assert second.model.time.window_s == 120.0
    assert second.model.time.speed == 2.0
    assert _window(qtbot, theme="projector").model.theme.name == "projector"  # --theme wins for that window


def test_a_captures_whole_length_is_not_taken_as_the_chosen_window(qtbot) -> None:
    window = _window(qtbot)
    window.model.time.set_window(598.999)  # what show_whole_range sets for a 10-minute capture
    window.close()
    assert load_preferences().window_s == 60.0


def test_geometry_and_dock_layout_come_back_but_drill_down_panels_stay_closed(qtbot) -> None:
    first = _window(qtbot)
    first.show()
    first.problems_dock.show()
    first.service_dock.show()
    first.resize(760, 560)  # within the offscreen screen (800×800)
    qtbot.wait(50)
    size = (first.width(), first.height())
    first.close()
    assert size != (1400, 860)  # not the default size a new window gets
    second = _window(qtbot)
    second.show()
    qtbot.wait(50)
    assert (second.width(), second.height()) == size
    assert second.problems_dock.isVisible()
    assert not second.service_dock.isVisible()  # its content belongs to a selection made last time


def test_preferences_dialog_stores_the_choice_and_cancel_changes_nothing(qtbot) -> None:
    save_preferences(Preferences(theme="dark", speed=5.0))
    dialog = PreferencesDialog()
    qtbot.addWidget(dialog)
    assert dialog.theme_box.currentText() == "dark"
    assert dialog.window_box.currentText() == "60 s"
    dialog.theme_box.setCurrentText("projector")
    dialog.density_box.setCurrentIndex(dialog.density_box.findData(2.0))
    dialog.label_box.setCurrentIndex(dialog.label_box.findData(1.5))
    dialog.window_box.setCurrentIndex(dialog.window_box.findData(300.0))
    dialog.reject()
    assert load_preferences() == Preferences(theme="dark", speed=5.0)
    dialog.accept()
    assert load_preferences() == Preferences(
        theme="projector", particle_density=2.0, label_scale=1.5, window_s=300.0, speed=5.0
    )
    model = new_chart_model(RollingStore(), live=True, theme=None)
    assert model.theme.name == "projector"
    assert model.theme.label_pt == pytest.approx(15.0 * 1.5)  # the projector theme's labels, half as large again
    assert model.theme.label_min_px == pytest.approx(17.0 * 1.5)  # its smallest names too
    assert model.particles.density == 2.0
    assert model.time.window_s == 300.0


def test_preferences_apply_to_an_open_window(qtbot) -> None:
    window = _window(qtbot)
    window.apply_preferences(Preferences(theme="light", particle_density=0.5, label_scale=1.2))
    assert window.model.theme.name == "light"
    assert window.theme_box.currentText() == "light"
    assert window.model.particles.density == 0.5


def test_help_menu_keys_readme_and_about(qtbot) -> None:
    window = _window(qtbot)
    texts = [a.text() for a in window.help_menu.actions() if not a.isSeparator()]
    assert texts == ["&Keys  (?)", "&README", "&About flowviz"]
    about = about_text()
    assert f"flowviz {__version__}" in about
    assert "Qt 6." in about
    assert "Python 3." in about
    assert QSettings().fileName() in about  # where the settings live
    assert "logs" in about.lower()
    readme = ReadmeDialog(window)
    qtbot.addWidget(readme)
    assert "See how data flows between microservices" in readme.browser.toPlainText()
    assert "(picture: The demo in the dark theme" in readme.browser.toPlainText()  # captions, not missing images
    assert isinstance(readme, QDialog)


def test_preferences_dialog_writes_the_analysis_settings_and_refuses_bad_objectives(qtbot, tmp_path, monkeypatch):
    from flowviz.analysis.config import load_config
    from flowviz.analysis.health import Objective

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # the other tests keep the defaults
    dialog = PreferencesDialog()
    qtbot.addWidget(dialog)
    dialog.health_box.setCurrentIndex(dialog.health_box.findData("thresholds"))
    dialog.sensitivity_box.setCurrentIndex(dialog.sensitivity_box.findData(6.0))
    dialog.objectives_edit.setPlainText("payments* 1 300\nweb x 2")
    dialog.accept()
    assert dialog.isVisible() or dialog.result() != QDialog.DialogCode.Accepted  # stays open
    assert "line 2" in dialog.analysis_problem.text()
    dialog.objectives_edit.setPlainText("payments* 1 300")
    dialog.accept()
    config = load_config()
    assert config.mode == "thresholds"
    assert config.findings.z_threshold == 6.0
    assert config.objectives == (Objective("payments*", 1.0, 300.0),)
