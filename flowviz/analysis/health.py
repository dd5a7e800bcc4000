"""Health from departures and objectives: which nodes and edges a window should colour, and why (Qt-free).

A node or edge is *degraded* while it has a finding (it departed from its own baseline) or misses
a service-level objective the user set, and *failing* when the departure is severe (failures ≥
`failing_error_percent`, p95 ≥ `failing_latency_factor` × its baseline, traffic stopped) or the
objective is missed twice over — whichever is worse. Whatever its baseline, a node or edge that
fails `failing_error_percent` of its calls in the window (at least `MIN_FAILING_ERRORS` of them) is
failing: a chronic failure is not calm just because it is old. Each coloured entity carries the sentence
that says why ("p95 ×4.1 over its baseline (12 ms → 49 ms) since 10:04:12").
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flowviz.analysis.findings import Finding
from flowviz.model.time_spec import format_time_ns
from flowviz.store.graph_frame import GraphFrame

IDLE, HEALTHY, DEGRADED, FAILING = 0, 1, 2, 3
SECOND_NS = 1_000_000_000
MIN_FAILING_ERRORS = 5
RECENT_NS = 30 * SECOND_NS
"""A finding colours a window when it was active in the window's last 30 s (its "now")."""


@dataclass(frozen=True, slots=True)
class Objective:
    """A service-level objective for the nodes whose name matches `pattern` (shell-style, e.g. `payments*`)."""

    pattern: str
    error_percent: float | None = None  # failures above this % of calls miss the objective
    p95_ms: float | None = None  # a p95 above this misses it

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)


@dataclass(frozen=True, slots=True)
class HealthLevels:
    """Per node and edge of a frame: a level (IDLE..FAILING) and the reason ("" where healthy)."""

    node_level: np.ndarray  # int8
    edge_level: np.ndarray
    node_reason: tuple[str, ...]
    edge_reason: tuple[str, ...]
    node_root_cause: np.ndarray  # bool: a root cause active in the window


def severity(finding: Finding, failing_error_percent: float = 10.0, failing_latency_factor: float = 4.0) -> int:
    """DEGRADED, or FAILING for a severe departure (see the module docstring)."""
    if finding.signal == "errors" and finding.observed >= failing_error_percent:
        return FAILING
    if (
        finding.signal == "latency"
        and finding.baseline > 0
        and finding.observed >= failing_latency_factor * finding.baseline
    ):
        return FAILING
    if finding.signal == "traffic_drop" and finding.observed == 0:
        return FAILING
    return DEGRADED


def health_levels(
    frame: GraphFrame,
    findings: Sequence[Finding],
    *,
    root_causes: Sequence[str] = (),
    objectives: Sequence[Objective] = (),
    failing_error_percent: float = 10.0,
    failing_latency_factor: float = 4.0,
) -> HealthLevels:
    """Levels and reasons for `frame` from every finding (edge ones included) active in its last 30 s, and from the
    objectives on its figures; `root_causes` names the candidate culprits to mark."""
    names = frame.node_names
    index = {name: i for i, name in enumerate(names)}
    pairs = {
        (names[s], names[t]): e
        for e, (s, t) in enumerate(zip(frame.edge_source.tolist(), frame.edge_target.tolist(), strict=True))
    }
    node_level = np.where(frame.node_requests > 0, HEALTHY, IDLE).astype(np.int8)
    edge_level = np.where(frame.edge_requests > 0, HEALTHY, IDLE).astype(np.int8)
    node_reason = [""] * len(names)
    edge_reason = [""] * frame.edge_count
    now_from = max(frame.start_ns, frame.end_ns - RECENT_NS)

    def note(levels, reasons, row: int, level: int, reason: str) -> None:
        if level > levels[row]:
            levels[row] = level
        reasons[row] = f"{reasons[row]}\n{reason}" if reasons[row] else reason

    for finding in findings:
        if finding.onset_ns >= frame.end_ns or finding.end_ns < now_from:
            continue
        level = severity(finding, failing_error_percent, failing_latency_factor)
        reason = f"{finding.describe()} since {format_time_ns(finding.onset_ns)[11:19]}"
        if finding.node is not None and finding.node in index:
            note(node_level, node_reason, index[finding.node], level, reason)
        elif finding.edge is not None and finding.edge in pairs:
            note(edge_level, edge_reason, pairs[finding.edge], level, reason)
    for requests, errors, levels, reasons in (
        (frame.node_requests, frame.node_errors, node_level, node_reason),
        (frame.edge_requests, frame.edge_errors, edge_level, edge_reason),
    ):
        with np.errstate(invalid="ignore", divide="ignore"):
            percent = np.where(requests > 0, 100.0 * errors / np.maximum(requests, 1), 0.0)
        chronic = (percent >= failing_error_percent) & (errors >= MIN_FAILING_ERRORS)
        for row in np.flatnonzero(chronic).tolist():
            note(levels, reasons, row, FAILING, f"failures {percent[row]:.1f} % of its calls in the window")
    for objective in objectives:
        _apply_objective(frame, objective, node_level, node_reason, note)
    root = np.zeros(len(names), bool)
    for name in root_causes:
        if name in index and node_level[index[name]] >= DEGRADED:
            root[index[name]] = True
    return HealthLevels(node_level, edge_level, tuple(node_reason), tuple(edge_reason), root)


def _apply_objective(frame: GraphFrame, objective: Objective, level, reason, note) -> None:
    for row, name in enumerate(frame.node_names):
        requests = int(frame.node_requests[row])
        if requests <= 0 or not objective.matches(name):
            continue
        if objective.error_percent is not None:
            percent = 100.0 * int(frame.node_errors[row]) / requests
            if percent > objective.error_percent:
                severity = FAILING if percent > 2 * objective.error_percent else DEGRADED
                note(
                    level,
                    reason,
                    row,
                    severity,
                    f"failures {percent:.2f} % miss the objective of {objective.error_percent:g} %",
                )
        p95 = float(frame.node_p95_ms[row])
        if objective.p95_ms is not None and not np.isnan(p95) and p95 > objective.p95_ms:
            severity = FAILING if p95 > 2 * objective.p95_ms else DEGRADED
            note(level, reason, row, severity, f"p95 {p95:.1f} ms misses the objective of {objective.p95_ms:g} ms")


class FindingsHealth:
    """A chart's health source (`flowviz.chart.chart_frame.HealthSource`) from live findings and the settings:
    departures (mode "baseline") or the fixed thresholds (mode "thresholds"), and the objectives, worse of all."""

    def __init__(self, latest, config) -> None:
        self._latest = latest  # () -> LiveDiagnosis
        self.config = config  # AnalysisConfig
        self.use_thresholds = config.mode == "thresholds"

    def key(self) -> object:
        return (self._latest().version, self.config)

    def levels(self, frame: GraphFrame) -> HealthLevels:
        latest = self._latest()
        findings = () if self.use_thresholds else latest.all_findings
        return health_levels(
            frame,
            findings,
            root_causes=[c.node for c in latest.diagnosis.root_causes],
            objectives=self.config.objectives,
            failing_error_percent=self.config.failing_error_percent,
            failing_latency_factor=self.config.failing_latency_factor,
        )
