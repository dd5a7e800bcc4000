"""`flowviz render`: the flow chart as it stood at a moment, drawn offscreen to a PNG or SVG (same code as the
window), with a title, the time range and a legend."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

PARTICLE_WARMUP_S = 1.5  # particles flow this long before the picture is taken, so they spread out
MIN_CHART_SHARE = 0.55  # the legend is left out where it would leave the chart less of the picture than this


class OutsideCapture(ValueError):
    """`--at` names a moment whose window holds none of the capture."""


def output_problem(path: str) -> str | None:
    """Why `path` cannot take the picture (a folder, a folder that does not exist, no extension), in one
    line; None when it looks writable. Checked before the captures are read."""
    if os.path.isdir(path):
        return f"-o {path} is a folder: give a file name, e.g. {os.path.join(path, 'chart.png')}"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"cannot write {path}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"cannot write {path}: the folder {folder} is not writable"
    if not os.path.splitext(path)[1].strip("."):
        return f"-o {path} has no extension: say which format, e.g. {path}.png"
    return None


@dataclass(frozen=True, slots=True)
class RenderRequest:
    """What to draw: the window [at_ns - window_s, at_ns) of the store, at `size` pixels (the whole picture:
    title and legend included); `source` names the data in the title; `legend` False leaves title and legend out."""

    at_ns: int
    window_s: float
    width: int
    height: int
    theme: str
    scope: object | None = None  # a `ChartScope`: focus, filter and grouping (None: the defaults)
    source: str = ""
    legend: bool = True
    baseline: tuple[int, int] | None = None  # [start_ns, end_ns): draw the comparison with this window


def offscreen_application():
    """A QApplication that needs no display (offscreen platform unless one is configured)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["flowviz"])


def render_store(
    store,
    request: RenderRequest,
    output_path: str,
    *,
    selected: str | None = None,
    describe_path: str | None = None,
    analysis_config=None,
) -> dict:
    """Draw the store's window into `output_path`; returns what was drawn (counts), for the caller to
    report. `describe_path` also gets the drawn scene as JSON (see `chart.scene.describe_scene`)."""
    offscreen_application()
    from flowviz.chart.flow_model import FlowChartModel
    from flowviz.chart.themes import THEMES
    from flowviz.sources.kafka_events import frame_notes
    from flowviz.ui.chart_export import picture_margins, view_caption, view_legend, write_picture
    from flowviz.ui.flow_view import FlowChartView

    model = FlowChartModel(store, window_s=request.window_s, live=False, theme=THEMES[request.theme])
    model.node_notes = lambda: frame_notes(store.consumer_lag.at(model.time.cursor_ns))  # groups' lag (events)
    model.health_source = analysis_health(store, analysis_config)  # as the window colours it
    model.time.seek(request.at_ns)
    if request.scope is not None:
        model.set_scope(request.scope)
    view = FlowChartView(model)
    if request.baseline is not None:
        from flowviz.analysis.compare import compare_windows
        from flowviz.ui.compare_overlay import ComparisonOverlay

        view.overlay = ComparisonOverlay(model)
        view.overlay.comparison = compare_windows(store, request.baseline, model.time.window_ns())
    caption = view_caption(view, request.source or "flowviz", baseline=request.baseline) if request.legend else None
    legend = view_legend(view) if request.legend else []
    header, legend_h = picture_margins(view, caption, legend, request.width)
    if legend and request.height - header - legend_h < request.height * MIN_CHART_SHARE:
        legend, legend_h = [], 0.0  # small pictures: the chart before the legend
    chart_height = max(64, round(request.height - header - legend_h))
    model.aspect = request.width / chart_height
    view.resize(request.width, chart_height)
    view.viewport.width, view.viewport.height = request.width, chart_height
    model.refresh()
    view.fit()
    if selected:
        view.select_name(selected)
    frames = int(PARTICLE_WARMUP_S * 60)
    for _ in range(frames):
        model.tick(1 / 60)
    write_picture(view, output_path, caption, legend)
    chart = model.chart
    if describe_path is not None:
        write_description(
            view, describe_path, top_px=header, size=(request.width, round(header + chart_height + legend_h))
        )
    return {
        "nodes": int(chart.node_visible.sum()) if chart else 0,
        "edges": int(chart.edge_visible.sum()) if chart else 0,
        "particles": len(model.particles),
        "width": request.width,
        "height": request.height,
    }


def analysis_health(store, config=None):
    """The chart's health source for a whole store judged at once (render, tests): findings, objectives."""
    from flowviz.analysis.config import AnalysisConfig
    from flowviz.analysis.diagnosis import all_findings, batch_settings, diagnose_tracker
    from flowviz.analysis.findings import FindingsTracker
    from flowviz.analysis.health import FindingsHealth
    from flowviz.analysis.live_findings import LiveDiagnosis

    config = config or AnalysisConfig()
    tracker = FindingsTracker(store, batch_settings(store, config.findings))
    retained = store.time_range_ns()
    if retained is not None:
        tracker.update(retained[1])
    latest = LiveDiagnosis(1, diagnose_tracker(tracker), tuple(all_findings(tracker)), tracker.evaluated_until_ns, 0.0)
    return FindingsHealth(lambda: latest, config)


def write_description(view, path: str, *, top_px: float = 0.0, size: tuple[int, int] | None = None) -> None:
    """The scene `view` drew last (its painter's label placement, node boxes and edge routes) as JSON; in a
    picture of `size` whose chart starts `top_px` down (under its title), in pixels of that picture."""
    import orjson

    from flowviz.chart.scene import describe_scene

    chart = view.model.chart
    if chart is None:
        scene = {"size": [view.width(), view.height()], "theme": view.painter.theme.name, "items": [], "edges": []}
    else:
        centres, half = view.painter.node_boxes(chart, view.viewport)
        scene = describe_scene(
            chart,
            view.viewport,
            centres_px=centres,
            half_extents_px=half,
            labels=view.painter.labels,
            name_font_px=view.painter.label_font_px[0],
            theme=view.painter.theme.name,
            particles=len(view.model.particles),
        )
    if size is not None:
        scene = _in_picture(scene, top_px, size)
    with open(path, "wb") as file:
        file.write(orjson.dumps(scene, option=orjson.OPT_INDENT_2))


def _in_picture(scene: dict, top_px: float, size: tuple[int, int]) -> dict:
    """The scene moved down by `top_px` into a picture of `size`; `chart_rect` says where the chart is."""

    def down(values: list, ys: tuple[int, ...] = (1,)) -> list:
        return [round(v + top_px, 1) if i in ys else v for i, v in enumerate(values)]

    for item in scene["items"]:
        item["rect"] = down(item["rect"])
        label = item["label"]
        if label is not None:
            label["rect"] = down(label["rect"])
            label["leader"] = None if label["leader"] is None else down(label["leader"], (1, 3))
    for edge in scene["edges"]:
        edge["points"] = [down(point) for point in edge["points"]]
    width, height = scene["size"]
    return {**scene, "size": list(size), "chart_rect": [0, round(top_px), width, height]}


def parse_size(text: str) -> tuple[int, int]:
    """`1920x1080` -> (1920, 1080); ValueError when malformed or out of range."""
    width_text, _, height_text = text.lower().partition("x")
    try:
        width, height = int(width_text), int(height_text)
    except ValueError:
        raise ValueError(f"size {text!r} is not WIDTHxHEIGHT in pixels (e.g. 1920x1080)") from None
    if not (64 <= width <= 16384 and 64 <= height <= 16384):
        raise ValueError(f"size {text!r} is out of range (64..16384 per side)")
    return width, height


def render_captures(
    paths: Sequence[str],
    *,
    at: str | None,
    window_s: float,
    size: str,
    theme: str,
    output_path: str,
    format_name: str,
    scope: object | None = None,
    describe_path: str | None = None,
    legend: bool = True,
    source: str | None = None,
    baseline: tuple[str, str] | tuple[int, int] | None = None,
    analysis_config=None,
) -> tuple[dict, object]:
    """Load captures, then draw the window ending at `at` (default: the end of the capture)."""
    from flowviz.model.problems import Problems
    from flowviz.model.time_spec import format_time_ns, parse_time_ns
    from flowviz.sources.pipeline import IngestPipeline, load_captures
    from flowviz.store.rolling_store import RollingStore

    width, height = parse_size(size)
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures(paths, IngestPipeline(store, problems=problems), format_name=format_name)
    retained = store.time_range_ns()
    if not totals.usable or retained is None:
        return {"nodes": 0, "edges": 0, "particles": 0}, totals
    origin = totals.first_start_ns if totals.first_start_ns is not None else retained[0]
    at_ns = parse_time_ns(at, origin_ns=origin) if at else retained[1]
    if at_ns <= retained[0] or at_ns - int(window_s * 1e9) >= retained[1]:
        raise OutsideCapture(
            f"--at {at} is outside the capture: its window [{format_time_ns(at_ns - int(window_s * 1e9))}, "
            f"{format_time_ns(at_ns)}) holds none of it; the capture runs from {format_time_ns(retained[0])} "
            f"to {format_time_ns(retained[1])} (+0 s to +{(retained[1] - origin) / 1e9:.0f} s)"
        )
    source = source or ", ".join(os.path.basename(p) for p in paths)
    if baseline is not None and isinstance(baseline[0], str):  # time specs: +T after the first span, or ISO
        baseline = (parse_time_ns(baseline[0], origin_ns=origin), parse_time_ns(baseline[1], origin_ns=origin))
    request = RenderRequest(
        at_ns, window_s, width, height, theme, scope, source=source, legend=legend, baseline=baseline
    )
    drawn = render_store(store, request, output_path, describe_path=describe_path, analysis_config=analysis_config)
    return drawn, totals
