"""The Preferences dialog: theme, particle density, label size, the window length new windows start with."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from flowviz.chart.themes import THEMES
from flowviz.model.time_control import WINDOWS_S
from flowviz.model.time_spec import format_duration_s
from flowviz.ui.settings import LABEL_SCALES, PARTICLE_DENSITIES, Preferences, load_preferences, save_preferences

DENSITY_NAMES = {0.25: "sparse (¼)", 0.5: "light (½)", 1.0: "normal", 2.0: "dense (2×)", 4.0: "very dense (4×)"}
LABEL_NAMES = {0.85: "small", 1.0: "normal", 1.2: "large", 1.5: "very large"}


def _combo(parent: QWidget, choices: dict[float, str] | dict[str, str], current: object) -> QComboBox:
    box = QComboBox(parent)
    for value, text in choices.items():
        box.addItem(text, value)
    index = box.findData(current)
    box.setCurrentIndex(index if index >= 0 else 0)
    return box


def _nearest(value: float, choices: tuple[float, ...]) -> float:
    return min(choices, key=lambda choice: abs(choice - value))


class PreferencesDialog(QDialog):
    """Shows the stored preferences; OK stores the chosen ones (`chosen()`), Cancel changes nothing."""

    def __init__(self, parent: QWidget | None = None, *, preferences: Preferences | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("flowviz — Preferences")
        self.setMinimumWidth(420)
        self._initial = preferences or load_preferences()
        initial = self._initial
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.theme_box = _combo(self, {name: name for name in THEMES}, initial.theme)
        form.addRow("Theme", self.theme_box)
        self.density_box = _combo(self, DENSITY_NAMES, _nearest(initial.particle_density, PARTICLE_DENSITIES))
        self.density_box.setToolTip("How many particles flow along an edge for a given rate")
        form.addRow("Particle density", self.density_box)
        self.label_box = _combo(self, LABEL_NAMES, _nearest(initial.label_scale, LABEL_SCALES))
        self.label_box.setToolTip("Size of the labels on the chart, relative to the theme's")
        form.addRow("Label size", self.label_box)
        self.window_box = _combo(
            self, {w: format_duration_s(w) for w in WINDOWS_S}, _nearest(initial.window_s, WINDOWS_S)
        )
        self.window_box.setToolTip("How much time the chart aggregates when a window opens ([ and ] change it)")
        form.addRow("Window length", self.window_box)
        layout.addLayout(form)
        note = QLabel("New windows start with these; open windows take the theme, density and label size now.")
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen(self) -> Preferences:
        return Preferences(
            theme=str(self.theme_box.currentData()),
            particle_density=float(self.density_box.currentData()),
            label_scale=float(self.label_box.currentData()),
            window_s=float(self.window_box.currentData()),
            speed=self._initial.speed,
        )

    def accept(self) -> None:
        save_preferences(self.chosen())
        super().accept()
