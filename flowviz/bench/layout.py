"""`flowviz bench layout`: the layout as drawn — edge crossings, backward edges, edges through nodes,
edges hidden under others, fill of a 16:9 screen, time — on real graphs, beside graphviz `dot` when installed."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import orjson

from flowviz.bench.timing import median_ms
from flowviz.chart.chart_frame import CURVE_SAMPLES, GEOMETRY_RADIUS
from flowviz.chart.flow_model import stretch_for
from flowviz.chart.geometry import edge_curves
from flowviz.decoders.jaeger_deps import read_dependencies
from flowviz.layout.flow_layout import FlowLayout
from flowviz.model.problems import Problems

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO.parent / "shared" / "captures"
SCREEN = (1920, 1080)
DOT_TIMEOUT_S = 60.0

Graph = tuple[list[str], np.ndarray, np.ndarray, np.ndarray]  # names, source, target, layout edge weight


def load_dependency_graph(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(node names in order of appearance, edge source, edge target, call count) of a Jaeger dependencies file."""
    links = read_dependencies(orjson.loads(Path(path).read_bytes()), Problems(), str(path))
    index: dict[str, int] = {}
    for parent, child, _ in links:
        index.setdefault(parent, len(index))
        index.setdefault(child, len(index))
    source = np.fromiter((index[parent] for parent, _, _ in links), dtype=np.int64, count=len(links))
    target = np.fromiter((index[child] for _, child, _ in links), dtype=np.int64, count=len(links))
    calls = np.fromiter((count for _, _, count in links), dtype=np.float64, count=len(links))
    return list(index), source, target, calls


def crossings(polylines: list[np.ndarray], ends: list[tuple[int, int]]) -> int:
    """Points where two drawn edges (polylines) cross, edges sharing an end node left out."""
    segments, owner = [], []
    for index, line in enumerate(polylines):
        segments.append(np.stack([line[:-1], line[1:]], axis=1))
        owner.append(np.full(line.shape[0] - 1, index))
    if not segments:
        return 0
    seg, who = np.concatenate(segments), np.concatenate(owner)
    end_a = np.array([e[0] for e in ends])[who]
    end_b = np.array([e[1] for e in ends])[who]
    total = 0
    p, r = seg[:, 0], seg[:, 1] - seg[:, 0]
    low, high = seg.min(axis=1), seg.max(axis=1)
    for i in range(seg.shape[0]):  # one row of pairs at a time: memory stays small
        j = np.arange(i + 1, seg.shape[0])
        j = j[(who[j] != who[i]) & (end_a[j] != end_a[i]) & (end_a[j] != end_b[i])]
        j = j[(end_b[j] != end_a[i]) & (end_b[j] != end_b[i])]
        j = j[
            (low[j, 0] <= high[i, 0])
            & (high[j, 0] >= low[i, 0])
            & (low[j, 1] <= high[i, 1])
            & (high[j, 1] >= low[i, 1])
        ]
        if not j.size:
            continue
        denominator = r[i, 0] * r[j, 1] - r[i, 1] * r[j, 0]
        qp = p[j] - p[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (qp[:, 0] * r[j, 1] - qp[:, 1] * r[j, 0]) / denominator
            u = (qp[:, 0] * r[i, 1] - qp[:, 1] * r[i, 0]) / denominator
        total += int(np.count_nonzero((denominator != 0) & (t > 0) & (t < 1) & (u > 0) & (u < 1)))
    return total


def _point_segment_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance of each point (P×2) to a polyline (S×2)."""
    a, b = line[:-1], line[1:]
    ab = b - a
    length2 = np.maximum((ab**2).sum(axis=1), 1e-12)
    t = np.clip(((points[:, None, :] - a[None]) * ab[None]).sum(axis=2) / length2, 0.0, 1.0)
    nearest = a[None] + t[..., None] * ab[None]
    return np.sqrt(((points[:, None, :] - nearest) ** 2).sum(axis=2)).min(axis=1)


def through_nodes(polylines: list[np.ndarray], ends: list[tuple[int, int]], xy: np.ndarray, radius: np.ndarray) -> int:
    """Edges whose drawn line passes through a node other than their own two."""
    count = 0
    for line, (a, b) in zip(polylines, ends, strict=True):
        low, high = line.min(axis=0), line.max(axis=0)
        near = np.flatnonzero(
            (xy[:, 0] >= low[0] - radius) & (xy[:, 0] <= high[0] + radius) & (xy[:, 1] >= low[1] - radius)
        )
        near = near[(xy[near, 1] <= high[1] + radius[near]) & (near != a) & (near != b)]
        if near.size and (_point_segment_distance(xy[near], line) < radius[near] * 0.9).any():
            count += 1
    return count


def hidden_edges(polylines: list[np.ndarray], tolerance: float = 3.0) -> int:
    """Edges drawn (all but their ends) within `tolerance` of another edge: one hides the other."""
    count = 0
    for index, line in enumerate(polylines):
        inner = line[2:-2] if line.shape[0] > 6 else line
        for other_index, other in enumerate(polylines):
            if other_index != index and (_point_segment_distance(inner, other) < tolerance).all():
                count += 1
                break
    return count


COUNTED_UP_TO = 600  # edges up to which crossings, edges through nodes and hidden edges are counted


def _figures(polylines, ends, xy, radius, backward: int, seconds: float) -> dict:
    points = np.concatenate([xy - radius[:, None], xy + radius[:, None], *polylines])
    span = np.maximum(points.max(axis=0) - points.min(axis=0), 1.0)
    scale = min(SCREEN[0] / span[0], SCREEN[1] / span[1])
    counted = len(polylines) <= COUNTED_UP_TO  # the pairwise counts take minutes on thousands of edges
    return {
        "crossings": crossings(polylines, ends) if counted else None,
        "backward_edges": backward,
        "edges_through_nodes": through_nodes(polylines, ends, xy, radius) if counted else None,
        "hidden_edges": hidden_edges(polylines) if counted else None,
        "fill_16_9": round(float(span[0] * span[1] * scale**2 / (SCREEN[0] * SCREEN[1])), 3),
        "time_ms": round(seconds * 1e3, 1),
    }


def flowviz_figures(graph: Graph, *, repeats: int = 3) -> dict:
    """The layout as the chart draws it: layered positions spread to 16:9, each edge one curve."""
    names, source, target, weight = graph
    seconds = median_ms(lambda: FlowLayout().update(names, source, target, edge_weight=weight), repeats) / 1e3
    result = FlowLayout().update(names, source, target, edge_weight=weight)
    stretch = np.array(stretch_for(result.positions, SCREEN[0] / SCREEN[1]))
    xy = result.positions * stretch
    radius = np.full(len(names), GEOMETRY_RADIUS)
    routes = {
        edge: result.routes[(names[s], names[t])] * stretch
        for edge, (s, t) in enumerate(zip(source.tolist(), target.tolist(), strict=True))
        if (names[s], names[t]) in result.routes
    }
    curves = edge_curves(xy[source], xy[target], radius[source], radius[target], samples=CURVE_SAMPLES, routes=routes)
    keep = source != target
    polylines = [curves[e] for e in np.flatnonzero(keep).tolist()]
    ends = [(int(s), int(t)) for s, t in zip(source[keep].tolist(), target[keep].tolist(), strict=True)]
    backward = int(np.count_nonzero(xy[target[keep], 0] <= xy[source[keep], 0]))
    return _figures(polylines, ends, xy, radius, backward, seconds)


def _bezier_points(control: np.ndarray, per_curve: int = 6) -> np.ndarray:
    """dot's spline (3k+1 control points) flattened to a polyline."""
    t = np.linspace(0.0, 1.0, per_curve)[:, None]
    parts = [control[:1]]
    for k in range(0, control.shape[0] - 3, 3):
        p0, p1, p2, p3 = control[k : k + 4]
        curve = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
        parts.append(curve[1:])
    return np.concatenate(parts)


def dot_figures(graph: Graph) -> dict | None:
    """The same figures for graphviz `dot -Grankdir=LR` on the same graph; None when dot is not installed."""
    binary = shutil.which("dot")
    if binary is None:
        return None
    names, source, target, _ = graph
    lines = ["digraph G {", "rankdir=LR;", 'node [shape=circle, width=0.6, fixedsize=true, label=""];']
    lines += [f"n{i};" for i in range(len(names))]
    lines += [f"n{s} -> n{t};" for s, t in zip(source.tolist(), target.tolist(), strict=True) if s != t]
    lines.append("}")
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [binary, "-Tplain"],
            input="\n".join(lines),
            capture_output=True,
            text=True,
            timeout=DOT_TIMEOUT_S,
            check=True,
        )
    except (subprocess.SubprocessError, OSError):
        return {"error": f"dot did not finish within {DOT_TIMEOUT_S:.0f} s"}
    seconds = time.perf_counter() - started
    xy = np.zeros((len(names), 2))
    radius = np.zeros(len(names))
    polylines, ends = [], []
    for row in done.stdout.splitlines():
        parts = row.split()
        if parts[:1] == ["node"]:
            index = int(parts[1][1:])
            xy[index] = (float(parts[2]) * 72, -float(parts[3]) * 72)
            radius[index] = min(float(parts[4]), float(parts[5])) * 36
        elif parts[:1] == ["edge"]:
            count = int(parts[3])
            control = np.array(parts[4 : 4 + 2 * count], float).reshape(count, 2) * np.array([72.0, -72.0])
            polylines.append(_bezier_points(control))
            ends.append((int(parts[1][1:]), int(parts[2][1:])))
    backward = sum(1 for a, b in ends if xy[b, 0] <= xy[a, 0])
    return _figures(polylines, ends, xy, radius, backward, seconds)


def _store_graph(paths: list[str]) -> Graph:
    from flowviz.model.graph_kinds import ConnectionType
    from flowviz.model.problems import Problems
    from flowviz.sources.pipeline import IngestPipeline, load_captures
    from flowviz.store.rolling_store import RollingStore

    problems = Problems()
    store = RollingStore(problems=problems)
    load_captures(paths, IngestPipeline(store, problems=problems), format_name="auto")
    start, end = store.time_range_ns()
    frame = store.query(start, end + 1)
    weight = np.where(frame.edge_connection_type == ConnectionType.MESSAGING_SYSTEM, 1.0, 10.0)
    return list(frame.node_names), frame.edge_source.astype(np.int64), frame.edge_target.astype(np.int64), weight


def _platform_graph() -> Graph:
    from flowviz.sim.platforms.ecommerce import ecommerce_platform

    edges = ecommerce_platform().edges()
    index: dict[str, int] = {}
    for edge in edges:
        index.setdefault(edge.source, len(index))
        index.setdefault(edge.target, len(index))
    source = np.array([index[e.source] for e in edges], np.int64)
    target = np.array([index[e.target] for e in edges], np.int64)
    weight = np.array([1.0 if e.connection_type == "messaging_system" else 10.0 for e in edges])
    return list(index), source, target, weight


def _dependency_graph(path: Path) -> Graph:
    names, source, target, _ = load_dependency_graph(path)
    return names, source, target, np.full(source.size, 10.0)


def run_layout_bench(*, quick: bool = False) -> dict:
    """Figures per graph: flowviz's layout as drawn, and dot's (when installed) on the same graph."""
    graphs = {
        "shop sample (resources/sample-shop)": lambda: _store_graph(
            [str(REPO / "resources" / "sample-shop.otlp.jsonl.gz")]
        ),
        "simulator platform": _platform_graph,
        "jaeger dependencies, small": lambda: _dependency_graph(
            CAPTURES / "jaeger-dependencies" / "jaeger-ui-dependencygraph-small.json"
        ),
    }
    if not quick:
        graphs["jaeger dependencies, large (1 238)"] = lambda: _dependency_graph(
            CAPTURES / "jaeger-dependencies" / "jaeger-ui-dependencygraph-large.json"
        )
    figures: dict[str, dict] = {}
    for name, build in graphs.items():
        try:
            graph = build()
        except (OSError, ValueError) as error:
            figures[name] = {"error": str(error)}
            continue
        large = len(graph[0]) > 400
        flowviz = flowviz_figures(graph, repeats=1 if large else 3)
        dot = None if large else dot_figures(graph)  # dot takes minutes on the large graph
        entry = {"nodes": len(graph[0]), "edges": int(graph[1].size), "flowviz": flowviz, "dot": dot}
        if dot and "crossings" in dot and dot["crossings"]:
            entry["crossings_vs_dot"] = round(flowviz["crossings"] / dot["crossings"], 2)
        figures[name] = entry
    return {
        "layout": figures,
        "measured_with": "flowviz: FlowLayout positions spread to 16:9 as the chart does, each edge the curve the "
        "chart draws (20 samples); dot: graphviz `dot -Grankdir=LR -Tplain`, splines flattened; crossings are "
        "points where edges not sharing a node cross; fill is the drawing's bounding box fitted into 1920x1080",
        "dot": shutil.which("dot") or "not installed",
    }


def format_layout_figures(figures: dict) -> str:
    rows = []
    for name, entry in figures["layout"].items():
        if "error" in entry:
            rows.append(f"{name}: {entry['error']}")
            continue
        ours, dot = entry["flowviz"], entry.get("dot") or {}
        rows.append(
            f"{name} ({entry['nodes']} nodes, {entry['edges']} edges): crossings {ours['crossings']}"
            f" (dot {dot.get('crossings', '-')}), backward {ours['backward_edges']}, through nodes "
            f"{ours['edges_through_nodes']} (dot {dot.get('edges_through_nodes', '-')}), "
            f"hidden {ours['hidden_edges']}, fill {ours['fill_16_9']:.0%}, {ours['time_ms']} ms "
            f"(dot {dot.get('time_ms', '-')} ms)"
        )
    return "\n".join(rows)
