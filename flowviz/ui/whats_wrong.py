"""The "What's wrong" panel: root-cause candidates (newest incident first) with their blast radius, and the findings."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from flowviz.analysis.findings import Finding, headline
from flowviz.analysis.live_findings import LiveDiagnosis
from flowviz.analysis.root_cause import RootCause
from flowviz.model.time_spec import format_time_ns

REFRESH_INTERVAL_S = 0.5  # the window's frame clock refreshes the panel this often


def _clock(time_ns: int) -> str:
    return format_time_ns(time_ns)[11:19]


class WhatsWrongPanel(QWidget):
    """Lists what `latest()` (the live analysis) found. Choosing a root cause emits `cause_chosen`, a finding
    `finding_chosen`; the window scrubs to its onset and lights it on the chart. `refresh()` is cheap when the
    analysis has nothing new (the window's frame clock calls it every `REFRESH_INTERVAL_S`)."""

    cause_chosen = Signal(object)  # RootCause
    finding_chosen = Signal(object)  # Finding

    def __init__(self, latest: Callable[[], LiveDiagnosis], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.latest = latest
        self._version = -1
        self.summary = QLabel("Judging against each node's own baseline…")
        self.summary.setWordWrap(True)
        self.summary.setMinimumWidth(120)  # wraps rather than widening the window
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setMinimumWidth(120)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        self.tree.itemClicked.connect(self._chosen)
        self.tree.itemActivated.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        self.refresh()

    def refresh(self) -> None:
        latest = self.latest()
        if latest.version == self._version:
            return
        self._version = latest.version
        diagnosis = latest.diagnosis
        causes = sorted(diagnosis.root_causes, key=lambda c: -c.onset_ns)  # newest incident first
        findings = sorted(diagnosis.findings, key=lambda f: -f.onset_ns)
        judged = f" (judged up to {_clock(latest.evaluated_until_ns)})" if latest.evaluated_until_ns else ""
        if latest.error:
            self.summary.setText(f"The analysis stopped: {latest.error}")
        elif not findings:
            self.summary.setText(
                "All calm: every node and edge within its own baseline" + judged
                if latest.evaluated_until_ns
                else "Learning each node's baseline (90 s of history needed)…"
            )
        else:
            self.summary.setText(
                f"<b>{len(causes)} likely root cause{'s' * (len(causes) != 1)}</b>, "
                f"{len(findings)} finding{'s' * (len(findings) != 1)}{judged}. Click one to see it on the chart."
            )
        expanded = {
            self.tree.topLevelItem(i).text(0)
            for i in range(self.tree.topLevelItemCount())
            if self.tree.topLevelItem(i).isExpanded()
        }
        self.tree.clear()
        for cause in causes:
            item = QTreeWidgetItem(
                [
                    f"1. {cause.node}: {headline(cause.findings[0] if cause.findings else None)}"
                    f" · {_clock(cause.onset_ns)}"
                ]
            )
            item.setToolTip(0, f"{cause.why}\nconfidence {cause.confidence:.2f} · onset {_clock(cause.onset_ns)}")
            item.setData(0, Qt.ItemDataRole.UserRole, cause)
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            for number, name in enumerate(cause.explains, 2):  # numbered as on the chart, in onset order
                child = QTreeWidgetItem(
                    [f"{number}. {name}" + (" · under the load" if name in cause.under_load else "")]
                )
                child.setData(0, Qt.ItemDataRole.UserRole, cause)
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
        if findings:
            group = QTreeWidgetItem([f"All findings ({len(findings)}, newest first)"])
            for finding in findings:
                active = " · active" if finding.active else ""
                child = QTreeWidgetItem([f"{_clock(finding.onset_ns)} {finding.subject}: {finding.describe()}{active}"])
                child.setToolTip(0, f"{finding.kind} · z = {finding.score:.1f} · until {_clock(finding.end_ns)}")
                child.setData(0, Qt.ItemDataRole.UserRole, finding)
                group.addChild(child)
            self.tree.addTopLevelItem(group)
            group.setExpanded(group.text(0) in expanded or not causes)

    def _chosen(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        value = item.data(0, Qt.ItemDataRole.UserRole)
        if isinstance(value, RootCause):
            self.cause_chosen.emit(value)
        elif isinstance(value, Finding):
            self.finding_chosen.emit(value)
