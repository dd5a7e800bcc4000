"""Colour themes (dark, light, projector) and health thresholds, as plain data."""

from __future__ import annotations

from dataclasses import dataclass

RGBA = tuple[int, int, int, int]


def _hex(code: str, alpha: int = 255) -> RGBA:
    code = code.lstrip("#")
    return (int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16), alpha)


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """When a node or edge counts as degraded or failing (defaults like Kiali's)."""

    degraded_failure_ratio: float = 0.001  # 0.1 % failures
    failing_failure_ratio: float = 0.10  # 10 % failures
    degraded_p95_ms: float = 500.0
    failing_p95_ms: float = 2000.0


@dataclass(frozen=True, slots=True)
class Theme:
    """Everything the painter needs to know about colours and type sizes."""

    name: str
    background: RGBA
    grid: RGBA
    text: RGBA
    text_dim: RGBA
    label_background: RGBA
    healthy: RGBA
    degraded: RGBA
    failing: RGBA
    idle: RGBA  # nodes and edges without traffic in the window
    edge: RGBA
    selection: RGBA
    particle: RGBA
    failed_particle: RGBA
    kind_fill: dict[int, RGBA]  # NodeKind -> fill
    font_family: str = "DejaVu Sans"
    label_pt: float = 9.0
    figure_pt: float = 8.0
    node_scale: float = 1.0
    edge_scale: float = 1.0
    particle_px: float = 3.0
    dim_alpha: int = 50
    label_min_px: float = 11.0  # chart names never smaller than this, however far zoomed out
    figure_min_px: float = 10.0
    ui_scale: float = 1.0  # panels, tables, tooltips, timeline and transport bar: font size factor


def _kinds(service: str, database: str, topic: str, external: str, user: str) -> dict[int, RGBA]:
    return {0: _hex(service), 1: _hex(database), 2: _hex(topic), 3: _hex(external), 4: _hex(user)}


DARK = Theme(
    name="dark",
    background=_hex("#14171c"),
    grid=_hex("#1f242b"),
    text=_hex("#e6e9ee"),
    text_dim=_hex("#8a93a0"),
    label_background=_hex("#14171c", 200),
    healthy=_hex("#3ddc97"),
    degraded=_hex("#ffb020"),
    failing=_hex("#ff4d5e"),
    idle=_hex("#4a525e"),
    edge=_hex("#5c6b7f"),
    selection=_hex("#4da3ff"),
    particle=_hex("#9ecbff"),
    failed_particle=_hex("#ff4d5e"),
    kind_fill=_kinds("#263241", "#2d2a45", "#203a3a", "#3a2f24", "#2a2f36"),
)

LIGHT = Theme(
    name="light",
    background=_hex("#f7f8fa"),
    grid=_hex("#e9ecf0"),
    text=_hex("#1c2430"),
    text_dim=_hex("#5f6b7a"),
    label_background=_hex("#f7f8fa", 210),
    healthy=_hex("#1a9e5f"),
    degraded=_hex("#d98200"),
    failing=_hex("#d62839"),
    idle=_hex("#a7b0bc"),
    edge=_hex("#98a4b3"),
    selection=_hex("#1f6fd1"),
    particle=_hex("#2f6db5"),
    failed_particle=_hex("#d62839"),
    kind_fill=_kinds("#ffffff", "#f1edff", "#e8f6f4", "#fff3e6", "#eef0f3"),
)

# High contrast, large type; healthy / degraded / failing as sky blue / yellow / red: apart in hue and
# in lightness, so they stay apart on a washed-out projector and for colour-blind viewers.
PROJECTOR = Theme(
    name="projector",
    background=_hex("#000000"),
    grid=_hex("#111111"),
    text=_hex("#ffffff"),
    text_dim=_hex("#d0d0d0"),
    label_background=_hex("#000000", 220),
    healthy=_hex("#56b4e9"),
    degraded=_hex("#f0e442"),
    failing=_hex("#ff2d2d"),
    idle=_hex("#777777"),
    edge=_hex("#9aa0a6"),
    selection=_hex("#ffffff"),
    particle=_hex("#ffffff"),
    failed_particle=_hex("#ff2d2d"),
    kind_fill=_kinds("#0b2233", "#24123a", "#06302a", "#33240a", "#202020"),
    label_pt=15.0,
    figure_pt=12.0,
    node_scale=1.35,
    edge_scale=1.6,
    particle_px=5.0,
    dim_alpha=70,
    label_min_px=17.0,
    figure_min_px=16.0,
    ui_scale=1.2,
)

THEMES: dict[str, Theme] = {theme.name: theme for theme in (DARK, LIGHT, PROJECTOR)}
