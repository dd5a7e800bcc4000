"""What is wrong: a store's findings and root causes together, as objects, JSON and text (report, render, window)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flowviz.analysis.findings import Finding, FindingsSettings, FindingsTracker, consumer_findings
from flowviz.analysis.root_cause import RootCause, rank_root_causes, visible_findings
from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.time_spec import format_time_ns
from flowviz.store.rolling_store import RollingStore
from flowviz.store.snapshot import StoreSnapshot

SECOND_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Findings worth listing (by onset) and root-cause candidates (best first)."""

    findings: tuple[Finding, ...]
    root_causes: tuple[RootCause, ...]


def graph_calls(snapshot: StoreSnapshot) -> list[tuple[str, str, bool]]:
    """(caller, callee, asynchronous) of every edge the store knows."""
    tables = snapshot.tables
    names = tables.node_names
    messaging = int(ConnectionType.MESSAGING_SYSTEM)
    return [
        (names[source], names[target], kind == messaging)
        for source, target, kind in zip(
            tables.edge_source.tolist(), tables.edge_target.tolist(), tables.edge_connection_type.tolist(), strict=True
        )
    ]


def all_findings(tracker: FindingsTracker) -> list[Finding]:
    """The tracker's findings and the consumer groups' troubled states, by onset."""
    found = [*tracker.findings(), *consumer_findings(tracker.store)]
    return sorted(found, key=lambda f: (f.onset_ns, f.subject, f.signal))


def diagnose_tracker(tracker: FindingsTracker) -> Diagnosis:
    """The diagnosis of a tracker's findings so far (with the consumer groups' states)."""
    findings = visible_findings(all_findings(tracker))
    causes = rank_root_causes(findings, graph_calls(tracker.store.snapshot()))
    return Diagnosis(tuple(findings), tuple(causes))


BATCH_EVALUATIONS = 900
"""A whole capture judged at once takes at most about this many steps (longer captures: coarser steps)."""


def batch_settings(store: RollingStore, settings: FindingsSettings | None = None) -> FindingsSettings:
    """`settings` for judging everything a store holds at once: the step grows with the length (an hour: 4 s)."""
    settings = settings or FindingsSettings()
    retained = store.time_range_ns()
    if retained is None:
        return settings
    step_s = max(settings.step_s, round((retained[1] - retained[0]) / SECOND_NS / BATCH_EVALUATIONS))
    return replace(settings, step_s=float(step_s))


def diagnose(store: RollingStore, settings: FindingsSettings | None = None) -> Diagnosis:
    """Findings and root causes over everything the store holds (`batch_settings`)."""
    tracker = FindingsTracker(store, batch_settings(store, settings))
    retained = store.time_range_ns()
    if retained is not None:
        tracker.update(retained[1])
    return diagnose_tracker(tracker)


def _round(value: float) -> float:
    return round(float(value), 3)


def diagnosis_json(diagnosis: Diagnosis, origin_ns: int) -> dict[str, list[dict[str, Any]]]:
    """`findings` and `root_causes` of `report --json`; `*_s` are seconds after `origin_ns` (the first span)."""

    def seconds(time_ns: int) -> float:
        return round((time_ns - origin_ns) / SECOND_NS, 3)

    return {
        "findings": [
            {
                "node": f.node,
                "edge": None if f.edge is None else f"{f.edge[0]}->{f.edge[1]}",
                "kind": f.kind,
                "signal": f.signal,
                "onset": format_time_ns(f.onset_ns),
                "onset_s": seconds(f.onset_ns),
                "end_s": seconds(f.end_ns),
                "baseline": _round(f.baseline),
                "observed": _round(f.observed),
                "unit": f.unit,
                "score": _round(f.score),
                "active": f.active,
                "why": f.describe(),
            }
            for f in diagnosis.findings
        ],
        "root_causes": [
            {
                "node": c.node,
                "kind": c.kind,
                "signal": c.signal,
                "onset": format_time_ns(c.onset_ns),
                "onset_s": seconds(c.onset_ns),
                "end_s": seconds(c.end_ns),
                "confidence": c.confidence,
                "score": c.score,
                "explains": list(c.explains),
                "under_load": list(c.under_load),
                "why": c.why,
            }
            for c in diagnosis.root_causes
        ],
    }


def format_diagnosis(report: dict[str, Any]) -> list[str]:
    """Text lines for the report's `root_causes` and `findings` (root causes first)."""
    causes, findings = report.get("root_causes") or [], report.get("findings") or []
    if not causes and not findings:
        return ["No findings: every node and edge stayed within its baseline."]
    lines = [f"Root causes ({len(causes)}, best first)"]
    for index, cause in enumerate(causes, 1):
        lines.append(f"  {index}. {cause['why']}  [+{cause['onset_s']:g} s, confidence {cause['confidence']:.2f}]")
    lines += ["", f"Findings ({len(findings)}, by onset)"]
    for finding in findings:
        subject = finding["node"] or finding["edge"]
        lines.append(
            f"  +{finding['onset_s']:g}..{finding['end_s']:g} s  {subject} ({finding['kind']}): {finding['why']}"
            f"  z={finding['score']:.1f}"
        )
    return lines
