"""What flowviz remembers between runs (QSettings): recent captures, bookmarks, preferences, the window's place.

One reader for lists: QSettings' INI files (the native format on Linux) give a one-element list back as
a plain string, so every list goes through `read_list`. The file is `settings_path()`; logs are under
`log_dir()`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

from flowviz.chart.themes import THEMES, Theme
from flowviz.model.time_control import WINDOWS_S

ORGANIZATION = APPLICATION = "flowviz"
RECENT_KEY = "recent_files"
RECENT_LIMIT = 10
WINDOW_STATE_VERSION = 1  # of the saved dock layout; bump when docks are added or renamed
PARTICLE_DENSITIES = (0.25, 0.5, 1.0, 2.0, 4.0)
LABEL_SCALES = (0.85, 1.0, 1.2, 1.5)


def read_list(settings: QSettings, key: str) -> list[str]:
    """A stored list of strings, whatever shape QSettings gives back (None, one string, a list)."""
    value = settings.value(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    return []


def recent_files() -> list[str]:
    """Recent capture entries, newest first; an entry is its files joined with `os.pathsep`."""
    return read_list(QSettings(), RECENT_KEY)


def remember_recent(paths: Sequence[str]) -> None:
    """Put these files (one entry) at the top of the recent list."""
    settings = QSettings()
    joined = os.pathsep.join(os.path.abspath(p) for p in paths)
    recent = [joined, *[r for r in read_list(settings, RECENT_KEY) if r != joined]][:RECENT_LIMIT]
    settings.setValue(RECENT_KEY, recent)


def forget_recent(paths: Sequence[str]) -> None:
    """Take this entry off the recent list (a file that turned out to be no capture)."""
    settings = QSettings()
    joined = os.pathsep.join(os.path.abspath(p) for p in paths)
    settings.setValue(RECENT_KEY, [r for r in read_list(settings, RECENT_KEY) if r != joined])


def load_bookmark_entries(key: str) -> list[tuple[int, str]]:
    """(time_ns, name) of the bookmarks saved for a capture."""
    entries = []
    for entry in read_list(QSettings(), f"bookmarks/{key}"):
        time_text, _, name = entry.partition(" ")
        if time_text.lstrip("-").isdigit() and name:
            entries.append((int(time_text), name))
    return entries


def save_bookmark_entries(key: str, entries: Sequence[tuple[int, str]]) -> None:
    QSettings().setValue(f"bookmarks/{key}", [f"{time_ns} {name}" for time_ns, name in entries])


@dataclass(frozen=True)
class Preferences:
    """The Preferences dialog's values; new windows start with them."""

    theme: str = "dark"
    particle_density: float = 1.0  # × the rate-derived count of particles per edge
    label_scale: float = 1.0  # × the theme's label size
    window_s: float = 60.0  # the chart's window length; [ and ] change it and the last one is kept
    speed: float = 1.0  # replay speed, kept like the window length


def _number(value: object, default: float, low: float, high: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high) if number == number else default


def load_preferences() -> Preferences:
    settings = QSettings()
    default = Preferences()
    theme = str(settings.value("view/theme", default.theme))
    return Preferences(
        theme=theme if theme in THEMES else default.theme,
        particle_density=_number(settings.value("view/particle_density"), 1.0, PARTICLE_DENSITIES[0], 16.0),
        label_scale=_number(settings.value("view/label_scale"), 1.0, 0.5, 3.0),
        window_s=_number(settings.value("view/window_s"), default.window_s, WINDOWS_S[0], WINDOWS_S[-1]),
        speed=_number(settings.value("view/speed"), default.speed, 0.1, 100.0),
    )


def save_preferences(preferences: Preferences) -> None:
    settings = QSettings()
    for field in fields(Preferences):
        settings.setValue(f"view/{field.name}", getattr(preferences, field.name))


def update_preferences(**changes: object) -> Preferences:
    """Change some preferences and keep them (e.g. the window length after `]`)."""
    preferences = replace(load_preferences(), **changes)
    save_preferences(preferences)
    return preferences


def themed(name: str, preferences: Preferences) -> Theme:
    """The theme `name` with the preferred label size."""
    theme = THEMES[name]
    if preferences.label_scale == 1.0:
        return theme
    scale = preferences.label_scale
    return replace(
        theme,
        label_pt=round(theme.label_pt * scale, 1),
        figure_pt=round(theme.figure_pt * scale, 1),
        label_min_px=round(theme.label_min_px * scale, 1),  # the smallest names grow (or shrink) too
        figure_min_px=round(theme.figure_min_px * scale, 1),
    )


def settings_path() -> str:
    """The file the settings are kept in."""
    return QSettings().fileName()


def log_dir() -> Path:
    """Where the window's log file goes (per user, per platform)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(location or Path.home() / ".flowviz") / "logs"
