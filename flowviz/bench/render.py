"""`flowviz bench render`: whole animation frames (particles moved, chart painted) at 1920×1080 offscreen."""

from __future__ import annotations

import time

import numpy as np

from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000
T0_NS = 1_700_000_000 * SECOND_NS
CASES = ((100, 300, 2_000), (500, 2_000, 10_000), (2_000, 10_000, 50_000))


def synthetic_graph_store(nodes: int, edges: int, *, seed: int = 0) -> RollingStore:
    """A store holding one minute of traffic on a random layered service graph (callers to callees)."""
    rng = np.random.default_rng(seed)
    layer = np.sort(rng.integers(0, max(4, int(np.sqrt(nodes) / 2)), nodes))
    source = rng.integers(0, nodes, edges * 8)  # oversample: only distinct forward pairs are kept
    target = rng.integers(0, nodes, edges * 8)
    forward = layer[source] < layer[target]
    pairs = np.unique(np.stack([source[forward], target[forward]], axis=1), axis=0)
    pairs = pairs[rng.permutation(pairs.shape[0])[:edges]]
    calls_per_edge = rng.integers(5, 60, pairs.shape[0])
    rows = np.repeat(np.arange(pairs.shape[0]), calls_per_edge)
    names = ["", *(f"svc-{i:05d}" for i in range(nodes))]
    observations = EdgeObservations.from_columns(
        names,
        source=pairs[rows, 0] + 1,
        target=pairs[rows, 1] + 1,
        source_kind=NodeKind.SERVICE,
        target_kind=NodeKind.SERVICE,
        connection_type=ConnectionType.DIRECT,
        via=0,
        time_ns=T0_NS + rng.integers(0, 60 * SECOND_NS, rows.shape[0]),
        latency_ns=(rng.lognormal(np.log(20e6), 0.6, rows.shape[0])).astype(np.int64),
        failed=rng.random(rows.shape[0]) < np.where(pairs[rows, 1] % 17 == 0, 0.2, 0.002),
    )
    store = RollingStore()
    store.ingest(observations)
    return store


def _frame_times(nodes: int, edges: int, particles: int, *, frames: int, width: int, height: int) -> dict:
    from PySide6.QtGui import QImage

    from flowviz.chart.flow_model import FlowChartModel
    from flowviz.chart.reduction import ChartScope
    from flowviz.ui.flow_view import FlowChartView

    store = synthetic_graph_store(nodes, edges)
    # the budget floors each edge's share: allow a little over, so the case's count is reached
    model = FlowChartModel(store, window_s=60.0, live=False, particle_budget=int(particles * 1.15))
    # every service drawn, as when a user has opened every group: the case's worst frame, not the ~10
    # group boxes the automatic grouping would draw for graphs of more than ~80 services
    model.set_scope(ChartScope(group_mode="none"))
    model.time.seek(T0_NS + 60 * SECOND_NS)
    view = FlowChartView(model)
    view.resize(width, height)
    view.viewport.width, view.viewport.height = width, height
    started = time.perf_counter()
    model.refresh()
    first_frame_s = time.perf_counter() - started
    # the case's particle count: raise the density until the budget is what limits it
    model.particles.density = 1.0
    while len(model.particles) < particles and model.particles.density < 64:
        model.particles.density *= 1.5
        model.particles.update(model.chart)
    view.fit()
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    view.render(image)  # paints the static layers once
    static_ms = []
    for _ in range(3):  # a zoom invalidates the cached layers: what one wheel step costs
        view.viewport.zoom_at(1.0001, width / 2, height / 2)
        started = time.perf_counter()
        view.render(image)
        static_ms.append((time.perf_counter() - started) * 1000)
    durations = []
    for _ in range(frames):
        started = time.perf_counter()
        model.tick(1 / 60)
        view.render(image)
        durations.append((time.perf_counter() - started) * 1000)
    chart = model.chart
    return {
        "nodes": int(chart.node_count),
        "edges": int(chart.edge_count),
        "particles": len(model.particles),
        "frames": frames,
        "p50_ms": round(float(np.percentile(durations, 50)), 2),
        "p95_ms": round(float(np.percentile(durations, 95)), 2),
        "static_layer_ms": round(float(np.median(static_ms)), 1),
        "first_refresh_s": round(first_frame_s, 3),
    }


def run_render_bench(*, frames: int = 200, width: int = 1920, height: int = 1080, quick: bool = False) -> dict:
    """Frame times for each case (node, edge and particle counts) at `width`×`height` offscreen."""
    from flowviz.ui.render import offscreen_application

    offscreen_application()
    cases = CASES[:1] if quick else CASES
    return {
        "render": [_frame_times(n, e, p, frames=frames, width=width, height=height) for n, e, p in cases],
        "size": f"{width}x{height}",
        "targets": {"500/2000/10000_p95_ms": 16.7, "2000/10000/50000_p95_ms": 33.0},
        "measured_with": "wall time per frame: particles stepped, cached layers + particles painted into a QImage",
    }


def format_render_figures(figures: dict) -> str:
    lines = [f"{'nodes':>6} {'edges':>6} {'particles':>9} {'p50 ms':>7} {'p95 ms':>7} {'static ms':>9}"]
    for case in figures["render"]:
        lines.append(
            f"{case['nodes']:>6} {case['edges']:>6} {case['particles']:>9} {case['p50_ms']:>7} "
            f"{case['p95_ms']:>7} {case['static_layer_ms']:>9}"
        )
    return "\n".join(lines)


def run_scrub_bench(
    *, services: int = 500, edges: int = 2_500, retention_s: int = 3600, steps: int = 60, drag_steps: int = 120
) -> dict:
    """Scrubbing over an hour at 1 s as the window does it: the cursor is sought, the window queried on the
    view's worker thread, the finished frame applied and painted. Timed from the request to the end of
    the paint of that position's frame: `steps` jumps (each waited for) and a drag of `drag_steps`
    positions 16 ms apart (newer positions overtake the queries under way)."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtGui import QImage

    from flowviz.bench.store_memory import START_NS, fill_store
    from flowviz.chart.flow_model import FlowChartModel
    from flowviz.ui.flow_view import FlowChartView
    from flowviz.ui.render import offscreen_application

    app = offscreen_application()
    store, observations, _ = fill_store(
        services=services, edges=edges, retention_s=retention_s, requests_per_edge_s=2.0
    )
    model = FlowChartModel(store, window_s=60.0, live=False)
    view = FlowChartView(model)
    view.resize(1920, 1080)
    view.viewport.width, view.viewport.height = 1920, 1080
    model.tick(0.0)
    model.refresh()
    view.fit()
    image = QImage(1920, 1080, QImage.Format.Format_ARGB32_Premultiplied)
    view.render(image)
    painted: list[tuple[int, float]] = []  # (request sequence, seconds from request to painted)

    def paint(request) -> None:
        view.render(image)
        painted.append((request.sequence, time.perf_counter() - request.requested_at_s))

    view.frame_applied.connect(paint)
    rng = np.random.default_rng(0)
    moments = START_NS + rng.integers(120, retention_s, steps) * SECOND_NS
    jumps = []
    for moment in moments.tolist():
        request = view.follow_scrub(int(moment))
        while request is not None and (not painted or painted[-1][0] < request.sequence):
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        if request is not None:
            jumps.append(painted[-1][1] * 1000)
    # a drag through the hour: 16 ms apart (a mouse's move events), seconds of data further each time
    worker = view.window_queries
    coalesced_before, stale_before, painted_before = worker.coalesced, view.stale_results, len(painted)
    step_s = max(1, (retention_s - 120) // drag_steps)
    positions = (START_NS + 120 * SECOND_NS + np.arange(drag_steps) * step_s * SECOND_NS).tolist()
    loop = QEventLoop()
    sent: list = []
    timer = QTimer()
    timer.setInterval(16)

    def finished() -> bool:
        newest = max((r.sequence for r in sent if r is not None), default=0)
        return len(sent) == len(positions) and (not newest or (painted and painted[-1][0] >= newest))

    def move() -> None:
        sent.append(view.follow_scrub(int(positions[len(sent)])))
        if len(sent) == len(positions):
            timer.stop()
        if finished():
            loop.quit()

    def done(_request) -> None:
        if finished():
            loop.quit()

    timer.timeout.connect(move)
    view.frame_applied.connect(done)
    timer.start()
    QTimer.singleShot(120_000, loop.quit)  # never hangs
    loop.exec()
    view.frame_applied.disconnect(done)
    drag = [seconds * 1000 for _, seconds in painted[painted_before:]]
    return {
        "scrub": {
            "services": services,
            "edges": edges,
            "retention_s": retention_s,
            "calls": observations,
            "window_s": 60,
            "steps": len(jumps),
            "p50_ms": round(float(np.percentile(jumps, 50)), 1),
            "p95_ms": round(float(np.percentile(jumps, 95)), 1),
        },
        "drag": {
            "requests": drag_steps,
            "requests_sent": sum(r is not None for r in sent),  # the others changed nothing: no query
            "interval_ms": 16,
            "frames_painted": len(drag),
            "coalesced": worker.coalesced - coalesced_before,
            "stale_results_dropped": view.stale_results - stale_before,
            "p50_ms": round(float(np.percentile(drag, 50)), 1),
            "p95_ms": round(float(np.percentile(drag, 95)), 1),
        },
        "targets": {"scrub_step_ms": 50.0},
        "measured_with": "from the scrub request (cursor sought, window query handed to the view's worker thread) "
        "until the frame of that position is painted at 1920x1080; jumps each waited for; a drag of requests 16 ms "
        "apart, where requests overtaken before their query ran are coalesced and finished queries older than "
        "the newest request are dropped (node labels keep their figures until the scrub pauses for 150 ms)",
    }
