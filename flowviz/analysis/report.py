"""The headless report: a window's nodes, edges and problems as the JSON schema of GUIDE §4, or a readable table."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from flowviz.analysis.diagnosis import Diagnosis, diagnose, diagnosis_json, format_diagnosis
from flowviz.analysis.findings import FindingsSettings
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.problems import Problems
from flowviz.model.time_spec import format_time_ns
from flowviz.sources.pipeline import IngestTotals
from flowviz.store.edge_details import EdgeDetails
from flowviz.store.graph_frame import GraphFrame
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReportWindow:
    """The window a report covers, snapped outwards to whole seconds (the store's finest buckets)."""

    start_ns: int
    end_ns: int

    @staticmethod
    def snapped(start_ns: int, end_ns: int) -> ReportWindow:
        start = start_ns // SECOND_NS * SECOND_NS
        end = -(-end_ns // SECOND_NS) * SECOND_NS
        return ReportWindow(start, max(end, start + SECOND_NS))


def default_window(store: RollingStore, totals: IngestTotals) -> ReportWindow | None:
    """Everything retained (whole buckets, however coarse); None for topology-only captures."""
    retained = store.time_range_ns()
    if totals.first_start_ns is None or retained is None:
        return None
    return ReportWindow.snapped(*retained)


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 3)


def build_report(
    store: RollingStore,
    window: ReportWindow | None,
    totals: IngestTotals,
    problems: Problems,
    *,
    settings: FindingsSettings | None = None,
) -> dict[str, object]:
    """The report object. Without a window (topology-only captures) everything retained is reported.
    `findings` and `root_causes` cover the whole capture, whatever the window."""
    if window is None:
        frame = store.query(np.iinfo(np.int64).min // 2, np.iinfo(np.int64).max // 2)
        window_json: dict[str, object] = {"start": None, "end": None, "seconds": None}
    else:
        frame = store.query(window.start_ns, window.end_ns)
        window_json = {
            "start": format_time_ns(window.start_ns),
            "end": format_time_ns(window.end_ns),
            "seconds": (window.end_ns - window.start_ns) / SECOND_NS,
        }
    diagnosis = diagnose(store, settings) if totals.first_start_ns is not None else Diagnosis((), ())
    origin_ns = totals.first_start_ns or 0
    return {
        "window": window_json,
        "nodes": node_rows(frame),
        "edges": edge_rows(frame),
        **diagnosis_json(diagnosis, origin_ns),
        "problems": problems.as_dict(),
        "input": {
            "files": totals.formats,
            "unreadable": totals.failed_files,
            "spans": totals.spans,
            "dependency_links": totals.dependency_links,
            "events": totals.events,
            "calls": totals.calls,
        },
    }


def node_rows(frame: GraphFrame) -> list[dict[str, object]]:
    """The nodes with traffic in the frame, busiest first, as the report's JSON rows."""
    active = np.zeros(frame.node_count, bool)
    has_traffic = (frame.edge_requests > 0) | (frame.edge_errors > 0)
    active[frame.edge_source[has_traffic]] = True
    active[frame.edge_target[has_traffic]] = True
    order = sorted(np.flatnonzero(active).tolist(), key=lambda i: (-int(frame.node_requests[i]), frame.node_names[i]))
    return [
        {
            "name": frame.node_names[i],
            "kind": NodeKind(int(frame.node_kind[i])).label,
            "requests": int(frame.node_requests[i]),
            "errors": int(frame.node_errors[i]),
            "p50_ms": _ms(frame.node_p50_ms[i]),
            "p95_ms": _ms(frame.node_p95_ms[i]),
            "p99_ms": _ms(frame.node_p99_ms[i]),
        }
        for i in order
    ]


def edge_rows(frame: GraphFrame) -> list[dict[str, object]]:
    """The edges with calls in the frame, busiest first, as the report's JSON rows."""
    names = frame.node_names
    active = np.flatnonzero(frame.edge_requests > 0).tolist()
    active.sort(key=lambda e: (-int(frame.edge_requests[e]), names[frame.edge_source[e]], names[frame.edge_target[e]]))
    return [
        {
            "source": names[frame.edge_source[e]],
            "target": names[frame.edge_target[e]],
            "connection_type": ConnectionType(int(frame.edge_connection_type[e])).label,
            "requests": int(frame.edge_requests[e]),
            "errors": int(frame.edge_errors[e]),
            "p50_ms": _ms(frame.edge_p50_ms[e]),
            "p95_ms": _ms(frame.edge_p95_ms[e]),
            "p99_ms": _ms(frame.edge_p99_ms[e]),
            "via": frame.edge_via[e] or None,
        }
        for e in active
    ]


def add_payload_sizes(report: dict[str, object], payloads: EdgeDetails, window: ReportWindow | None) -> None:
    """Give each edge that carried business events (producer → topic) its message sizes in the window:
    `"payload_bytes": {"messages", "p50", "p95", "p99"}` (log bins, within 9 %); other edges get none."""
    start_ns, end_ns = (window.start_ns, window.end_ns) if window is not None else (-(1 << 62), 1 << 62)
    for row in report["edges"]:  # type: ignore[attr-defined]
        sizes = payloads.payload(row["source"], row["target"], start_ns, end_ns)
        if sizes.calls:
            row["payload_bytes"] = {
                "messages": sizes.calls,
                "p50": round(sizes.p50_ms),
                "p95": round(sizes.p95_ms),
                "p99": round(sizes.p99_ms),
            }


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    numeric = [h in ("requests", "errors", "p50 ms", "p95 ms", "p99 ms") for h in header]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True))

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_report(report: dict[str, object]) -> str:
    """A readable plain-text rendering of `build_report`'s object."""
    window = report["window"]
    lines = []
    if window["start"] is None:  # type: ignore[index]
        lines.append("Window: whole capture (topology only, no times)")
    else:
        lines.append(f"Window: {window['start']} .. {window['end']} ({window['seconds']:g} s)")  # type: ignore[index]
    info = report["input"]
    lines.append(
        f"Read {info['spans']} spans, {info['dependency_links']} dependency links -> {info['calls']} calls"  # type: ignore[index]
    )
    if window["start"] is not None:  # type: ignore[index]
        lines += ["", *format_diagnosis(report)]
    nodes = report["nodes"]
    lines += ["", f"Nodes ({len(nodes)})"]  # type: ignore[arg-type]
    lines += _table(
        [
            [n["name"], n["kind"], *(_cell(n[k]) for k in ("requests", "errors", "p50_ms", "p95_ms", "p99_ms"))]
            for n in nodes
        ],  # type: ignore[union-attr]
        ["name", "kind", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"],
    )
    edges = report["edges"]
    lines += ["", f"Edges ({len(edges)})"]  # type: ignore[arg-type]
    lines += _table(
        [
            [
                f"{e['source']} -> {e['target']}",
                e["connection_type"] or "direct",
                *(_cell(e[k]) for k in ("requests", "errors", "p50_ms", "p95_ms", "p99_ms")),
                e["via"] or "",
            ]
            for e in edges
        ],  # type: ignore[union-attr]
        ["edge", "type", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "via"],
    )
    problems = report["problems"]
    if problems:
        lines += ["", "Problems"]
        for reason, entry in problems.items():  # type: ignore[union-attr]
            first = f" (first at {', '.join(entry['first'])})" if entry["first"] else ""
            lines.append(f"  {entry['count']} × {reason}{first}")
    for error in info["unreadable"].values():  # type: ignore[index]
        lines.append(f"Unreadable: {error}")
    return "\n".join(lines)
