"""What an exported picture says besides the chart: its title, time range and legend entries (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flowviz.chart.chart_frame import node_radius_for
from flowviz.chart.themes import RGBA, HealthThresholds, Theme
from flowviz.model.graph_kinds import NodeKind

SECOND_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Caption:
    """The header of an exported picture: `title` (the source), `subtitle` (the window), optional `note`."""

    title: str
    subtitle: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class LegendEntry:
    """One item of the legend. `mark` says how to draw its sample: `ring` (a node ringed in `color`),
    `shape` (a node of `node_kind`), `size` (nodes of `radii`), `line` (an edge `width` wide in `color`),
    `dot` (a particle in `color`), `dash` (a dashed line in `color`), `ramp` (a diverging colour ramp
    through `colors`)."""

    mark: str
    text: str
    color: RGBA | None = None
    node_kind: int = 0
    radii: tuple[float, ...] = ()
    width: float = 1.0
    colors: tuple[RGBA, ...] = ()


def clock_text(time_ns: int, *, with_date: bool = False) -> str:
    """`12:37:56` (with the date: `2023-12-05 12:37:56`), UTC."""
    moment = datetime.fromtimestamp(time_ns / SECOND_NS, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def _seconds_text(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def range_text(start_ns: int, end_ns: int) -> str:
    """`2023-12-05 12:37:56 – 12:38:56 UTC (60 s)`; the date repeated only when the day changes."""
    same_day = start_ns // (86_400 * SECOND_NS) == (end_ns - 1) // (86_400 * SECOND_NS)
    seconds = (end_ns - start_ns) / SECOND_NS
    return (
        f"{clock_text(start_ns, with_date=True)} – {clock_text(end_ns, with_date=not same_day)} UTC "
        f"({_seconds_text(round(seconds, 3))})"
    )


def window_caption(source: str, start_ns: int, end_ns: int, *, baseline: tuple[int, int] | None = None) -> Caption:
    """The caption for a chart of `source` over [start_ns, end_ns) (compared with `baseline`, when given)."""
    timeless = end_ns <= SECOND_NS  # a dependency list: every link at the epoch
    subtitle = "no time in this capture (a dependency list)" if timeless else range_text(start_ns, end_ns)
    note = f"compared with {range_text(*baseline)}" if baseline is not None else ""
    return Caption(title=source, subtitle=subtitle, note=note)


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g} %"


def _duration_ms(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def legend_entries(theme: Theme, thresholds: HealthThresholds) -> list[LegendEntry]:
    """Colours (health rings and edges), node kinds, sizes (nodes by throughput, edges by rate), particles."""
    t = thresholds
    sizes = tuple(float(r) for r in node_radius_for([1.0, 10.0, 100.0, 1000.0], scale=theme.node_scale))
    return [
        LegendEntry("ring", "healthy", theme.healthy),
        LegendEntry(
            "ring",
            f"degraded: ≥ {_percent(t.degraded_failure_ratio)} failed or p95 ≥ {_duration_ms(t.degraded_p95_ms)}",
            theme.degraded,
        ),
        LegendEntry(
            "ring",
            f"failing: ≥ {_percent(t.failing_failure_ratio)} failed or p95 ≥ {_duration_ms(t.failing_p95_ms)}",
            theme.failing,
        ),
        LegendEntry("ring", "no calls in the window", theme.idle),
        *(
            LegendEntry("shape", kind.label, node_kind=int(kind))
            for kind in (NodeKind.SERVICE, NodeKind.DATABASE, NodeKind.TOPIC, NodeKind.EXTERNAL, NodeKind.USER)
        ),
        LegendEntry("size", "node size: calls served per s (1, 10, 100, 1000)", radii=sizes),
        LegendEntry("line", "edge width: calls per s; colour: health", theme.edge, width=4.0),
        LegendEntry("dot", "a call", theme.particle),
        LegendEntry("dot", "a failed call", theme.failed_particle),
    ]
