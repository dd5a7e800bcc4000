"""The Preferences dialog: theme, particle density, label size, the window length new windows start with, and
the analysis: where health comes from, how sensitive findings are, service-level objectives."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from flowviz.analysis.config import (
    AnalysisConfig,
    ConfigError,
    default_config_path,
    load_config,
    objective_lines,
    parse_objective_lines,
    save_config,
)
from flowviz.chart.themes import THEMES
from flowviz.model.time_control import WINDOWS_S
from flowviz.model.time_spec import format_duration_s
from flowviz.ui.settings import LABEL_SCALES, PARTICLE_DENSITIES, Preferences, load_preferences, save_preferences

DENSITY_NAMES = {0.25: "sparse (¼)", 0.5: "light (½)", 1.0: "normal", 2.0: "dense (2×)", 4.0: "very dense (4×)"}
LABEL_NAMES = {0.85: "small", 1.0: "normal", 1.2: "large", 1.5: "very large"}
HEALTH_NAMES = {"baseline": "each node's own baseline", "thresholds": "fixed thresholds (Kiali-like)"}
SENSITIVITY_NAMES = {4.0: "more sensitive (z ≥ 4)", 5.0: "normal (z ≥ 5)", 6.0: "calmer (z ≥ 6)"}


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
        layout.addWidget(self._analysis_box())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _analysis_box(self) -> QGroupBox:
        """Health, findings and objectives: the analysis settings file, which `report` and `render` read too."""
        box = QGroupBox("Health, findings and root causes")
        form = QFormLayout(box)
        try:
            self._analysis, problem = load_config(), ""
        except ConfigError as error:
            self._analysis, problem = AnalysisConfig(), f"{error}; OK writes a new one"
        self.health_box = _combo(self, HEALTH_NAMES, self._analysis.mode)
        self.health_box.setToolTip("Colour nodes by departures from their own history, or by fixed thresholds")
        form.addRow("Health from", self.health_box)
        z = self._analysis.findings.z_threshold
        self.sensitivity_box = _combo(self, SENSITIVITY_NAMES, _nearest(z, tuple(SENSITIVITY_NAMES)))
        self.sensitivity_box.setToolTip("How strong the evidence must be before a departure is a finding")
        form.addRow("Findings", self.sensitivity_box)
        self.objectives_edit = QPlainTextEdit(objective_lines(self._analysis.objectives))
        self.objectives_edit.setPlaceholderText("payments*  1  300     (pattern, error %, p95 ms; - for none)")
        self.objectives_edit.setFixedHeight(80)
        form.addRow("Objectives", self.objectives_edit)
        self.analysis_problem = QLabel(problem)
        self.analysis_problem.setWordWrap(True)
        form.addRow(self.analysis_problem)
        where = QLabel(f"Kept in {default_config_path()} (flowviz report and render read it too).")
        where.setWordWrap(True)
        form.addRow(where)
        return box

    def chosen_analysis(self) -> AnalysisConfig:
        """The analysis settings as chosen; ConfigError for objectives that cannot be read."""
        findings = replace(self._analysis.findings, z_threshold=float(self.sensitivity_box.currentData()))
        return replace(
            self._analysis,
            mode=str(self.health_box.currentData()),
            findings=findings,
            objectives=parse_objective_lines(self.objectives_edit.toPlainText()),
        )

    def chosen(self) -> Preferences:
        return Preferences(
            theme=str(self.theme_box.currentData()),
            particle_density=float(self.density_box.currentData()),
            label_scale=float(self.label_box.currentData()),
            window_s=float(self.window_box.currentData()),
            speed=self._initial.speed,
        )

    def accept(self) -> None:
        try:
            analysis = self.chosen_analysis()
        except ConfigError as error:  # the dialog stays open and says what to mend
            self.analysis_problem.setText(str(error))
            return
        save_preferences(self.chosen())
        if analysis != self._analysis:
            self.saved_analysis = save_config(analysis)
        super().accept()
