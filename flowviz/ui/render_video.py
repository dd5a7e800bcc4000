"""`flowviz render ... -o OUT.mp4|OUT.gif`: the replay of a range as a video, without a display."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from flowviz.chart.video_plan import plan_video
from flowviz.ui.render import MIN_CHART_SHARE, offscreen_application, parse_size


@dataclass(frozen=True, slots=True)
class VideoRequest:
    """The cursor runs from `start` to `end` (time specs; None: the capture's ends, or `packed`) at `speed`,
    `fps` frames a second, each frame the window of `window_s` before the cursor."""

    start: str | None
    end: str | None
    speed: float
    fps: int
    window_s: float
    size: str
    theme: str
    legend: bool
    source: str
    bookmarks: tuple[tuple[str, str], ...] = ()  # (name, time spec)
    packed_range: tuple[int, int] | None = None  # an incident file's window, used without start/end
    packed_bookmarks: tuple[tuple[int, str], ...] = ()


def render_video_captures(paths: Sequence[str], request: VideoRequest, output_path: str, *, format_name: str):
    """Load captures, then write the video; returns (figures, totals). TimeSpecError / VideoPlanError for
    bad times or ranges, OSError when the video cannot be written."""
    from flowviz.chart.caption import legend_entries
    from flowviz.chart.flow_model import FlowChartModel
    from flowviz.chart.themes import THEMES
    from flowviz.model.problems import Problems
    from flowviz.model.time_spec import parse_time_ns
    from flowviz.sources.pipeline import IngestPipeline, load_captures
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.flow_view import FlowChartView
    from flowviz.ui.video_export import chart_height_for, write_video

    width, height = parse_size(request.size)
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures(paths, IngestPipeline(store, problems=problems), format_name=format_name)
    retained = store.time_range_ns()
    if not totals.usable or retained is None:
        return {"frames": 0}, totals
    origin = totals.first_start_ns if totals.first_start_ns is not None else retained[0]
    default = request.packed_range if request.packed_range and not (request.start or request.end) else retained
    start_ns = parse_time_ns(request.start, origin_ns=origin) if request.start else default[0]
    end_ns = parse_time_ns(request.end, origin_ns=origin) if request.end else default[1]
    plan = plan_video(start_ns, end_ns, speed=request.speed, fps=request.fps)
    bookmarks = [*request.packed_bookmarks, *((parse_time_ns(t, origin_ns=origin), n) for n, t in request.bookmarks)]
    offscreen_application()
    theme = THEMES[request.theme]
    model = FlowChartModel(store, window_s=request.window_s, live=False, theme=theme)
    # lay out the union of the whole range first, so that nothing moves and everything fits
    model.time.set_window(max((end_ns - start_ns) / 1e9 + request.window_s, request.window_s))
    model.time.seek(end_ns)
    model.refresh()
    model.relayout()
    model.time.set_window(request.window_s)
    view = FlowChartView(model)
    legend = legend_entries(theme, model.thresholds) if request.legend else []
    even_height = height - height % 2
    view.resize(width - width % 2, even_height)  # the legend wraps by the width
    chart_height = chart_height_for(view, even_height, source=request.source, legend=legend, captions=request.legend)
    if legend and chart_height < even_height * MIN_CHART_SHARE:  # small videos: the chart before the legend
        legend = []
        chart_height = chart_height_for(view, even_height, source=request.source, legend=[], captions=request.legend)
    view.resize(width - width % 2, chart_height)
    view.viewport.width, view.viewport.height = view.width(), chart_height
    view.fit()
    started = time.perf_counter()
    frames = write_video(
        view, plan, output_path, source=request.source, legend=legend, bookmarks=bookmarks, with_caption=request.legend
    )
    count = sum(1 for _ in frames)
    elapsed = time.perf_counter() - started
    return {"frames": count, "seconds": plan.duration_s, "encode_s": round(elapsed, 2), "fps": plan.fps}, totals
