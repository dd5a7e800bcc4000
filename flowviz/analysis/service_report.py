"""One service in a window: callers and callees (the store's figures), operations, exemplar traces, bottleneck share."""

from __future__ import annotations

import math

import numpy as np

from flowviz.store.exemplars import ExemplarStore, TimeSplit
from flowviz.store.graph_frame import GraphFrame
from flowviz.store.rolling_store import RollingStore


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 3)


def service_summary(
    store: RollingStore,
    exemplars: ExemplarStore | None,
    name: str,
    start_ns: int,
    end_ns: int,
    *,
    limit: int = 5,
    frame: GraphFrame | None = None,
) -> dict[str, object]:
    """The report's "service" object for [start_ns, end_ns); pass the panel's `frame` to share its store query.

    `upstream`/`downstream`: the edges into / out of the node with traffic in the window, busiest
    first — requests, errors and p95 exactly as the store's `GraphFrame`, `share` of the node's
    incoming (outgoing) requests, `via` the topic of messaging edges. `operations`: per span name
    of the service's entry spans. `exemplars`: the `limit` slowest, failing and most recent kept
    traces (in that order, each once); `duration_ms` is the latency at this service, `trace_id`
    hex as in the capture. `critical_path_share`: the service's share of critical-path time over
    the kept traces through it in the window (None without any); time waiting on an uninstrumented peer
    (database, cache, third-party API) counts for the peer, which is a service here too. `time_split`: its own
    time vs time waiting on what it called in those traces (`operation_time_splits` per main operation).
    Raises KeyError for a name
    neither the store nor the exemplars know.
    """
    if frame is None:
        frame = store.query(start_ns, end_ns)
    known = exemplars is not None and name in exemplars.services()
    if name not in frame.node_names and not known:
        raise KeyError(name)
    node = frame.node_names.index(name) if name in frame.node_names else -1
    summary: dict[str, object] = {
        "name": name,
        "upstream": _neighbours(frame, node, incoming=True),
        "downstream": _neighbours(frame, node, incoming=False),
        "operations": [],
        "exemplars": [],
        "critical_path_share": None,
        "time_split": None,
        "operation_time_splits": [],
    }
    if exemplars is not None:
        summary["operations"] = [
            {
                "name": op.name,
                "requests": op.requests,
                "errors": op.errors,
                "p50_ms": _ms(op.p50_ms),
                "p95_ms": _ms(op.p95_ms),
                "p99_ms": _ms(op.p99_ms),
            }
            for op in exemplars.operations(name, start_ns, end_ns)
        ]
        summary["exemplars"] = _exemplars(exemplars, name, start_ns, end_ns, limit)
        share = exemplars.critical_path_share(name, start_ns, end_ns)
        summary["critical_path_share"] = None if share is None else round(share, 4)
        split = exemplars.time_split(name, start_ns, end_ns)
        if split is not None:
            summary["time_split"] = _split_json(split)
            summary["operation_time_splits"] = [
                _split_json(s) for s in exemplars.operation_time_splits(name, start_ns, end_ns)
            ]
    return summary


def _split_json(split: TimeSplit) -> dict[str, object]:
    return {
        "name": split.name,
        "traces": split.traces,
        "self_ms": round(split.self_ns / 1e6, 3),
        "waiting_ms": round(split.waiting_ns / 1e6, 3),
        "self_share": round(split.self_share, 4),
    }


def _neighbours(frame: GraphFrame, node: int, *, incoming: bool) -> list[dict[str, object]]:
    if node < 0:
        return []
    own, other = (frame.edge_target, frame.edge_source) if incoming else (frame.edge_source, frame.edge_target)
    total = int(frame.node_requests[node] if incoming else frame.node_out_requests[node])
    edges = np.flatnonzero((own == node) & (frame.edge_requests > 0)).tolist()
    edges.sort(key=lambda e: (-int(frame.edge_requests[e]), frame.node_names[other[e]], frame.edge_via[e]))
    return [
        {
            "name": frame.node_names[other[e]],
            "requests": int(frame.edge_requests[e]),
            "errors": int(frame.edge_errors[e]),
            "p95_ms": _ms(frame.edge_p95_ms[e]),
            "share": round(int(frame.edge_requests[e]) / total, 4) if total else None,
            "via": frame.edge_via[e] or None,
        }
        for e in edges
    ]


def _exemplars(store: ExemplarStore, name: str, start_ns: int, end_ns: int, limit: int) -> list[dict[str, object]]:
    listed: dict[str, dict[str, object]] = {}
    for kind in ("slowest", "failing", "recent"):
        for exemplar in store.exemplars(name, start_ns, end_ns, kind=kind, limit=limit):
            listed.setdefault(
                exemplar.trace_id,
                {"trace_id": exemplar.trace_id, "duration_ms": round(exemplar.duration_ms, 3), "error": exemplar.error},
            )
    return list(listed.values())


def format_service_summary(summary: dict[str, object]) -> str:
    """A readable plain-text rendering of `service_summary`'s object (for `flowviz report --service`)."""
    lines = [f"Service {summary['name']}"]
    share = summary["critical_path_share"]
    if share is not None:
        lines.append(f"  critical-path share: {100 * share:.1f} % of the kept traces' time")  # type: ignore[operator]
    split = summary.get("time_split")
    if split:
        lines.append(
            f"  own time {100 * split['self_share']:.0f} %, "  # type: ignore[index]
            f"waiting on what it calls {100 - 100 * split['self_share']:.0f} %"  # type: ignore[index]
            f" ({split['traces']} kept traces)"  # type: ignore[index]
        )
        for op in summary.get("operation_time_splits", []):  # type: ignore[attr-defined]
            lines.append(f"    {op['name'] or '(unnamed)'}: own {100 * op['self_share']:.0f} %, {op['traces']} traces")
    for title in ("upstream", "downstream"):
        lines.append(f"  {title}:")
        for entry in summary[title]:  # type: ignore[attr-defined]
            p95 = "-" if entry["p95_ms"] is None else f"{entry['p95_ms']:.1f} ms"
            via = f" via {entry['via']}" if entry["via"] else ""
            lines.append(f"    {entry['name']}{via}: {entry['requests']} requests, {entry['errors']} errors, p95 {p95}")
    lines.append("  operations:")
    for op in summary["operations"]:  # type: ignore[attr-defined]
        p95 = "-" if op["p95_ms"] is None else f"{op['p95_ms']:.1f} ms"
        lines.append(f"    {op['name'] or '(unnamed)'}: {op['requests']} requests, {op['errors']} errors, p95 {p95}")
    lines.append("  exemplar traces:")
    for exemplar in summary["exemplars"]:  # type: ignore[attr-defined]
        mark = " error" if exemplar["error"] else ""
        lines.append(f"    {exemplar['trace_id']}  {exemplar['duration_ms']:.1f} ms{mark}")
    return "\n".join(lines)
