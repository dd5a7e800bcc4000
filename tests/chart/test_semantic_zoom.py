"""Semantic zoom: which groups a view opens (room on screen for their members' names) and closes again."""

from __future__ import annotations

import numpy as np

from flowviz.chart.chart_frame import build_chart_frame
from flowviz.chart.semantic_zoom import (
    CLOSE_BELOW,
    MIN_BOX_HEIGHT_PX,
    NAME_HEIGHT_PX,
    NAME_WIDTH_PX,
    SemanticZoom,
    openable_groups,
)
from flowviz.chart.themes import HealthThresholds
from flowviz.chart.viewport import Viewport
from flowviz.store.graph_frame import GraphFrame

ROOM = (140.0, 136.0)  # beside a member 140 chart units of room, 136 to the next one down
READABLE = max(NAME_WIDTH_PX / ROOM[0], NAME_HEIGHT_PX / ROOM[1])  # the scale from which names fit
IDLE_BOX = MIN_BOX_HEIGHT_PX / (2 * 22.0)  # the scale from which an idle box (radius 22) is high enough


def _chart(members: list[tuple[str, ...]], xy: list[tuple[float, float]], busy: tuple[int, ...] = ()):
    """Group boxes (plain nodes where members are empty) at `xy`, a chain of calls; nodes in `busy` serve
    a million calls a minute (the largest box), the others none (radius 22)."""
    names = [f"[g{i}]" if m else f"n{i}" for i, m in enumerate(members)]
    n = len(names)
    source, target = np.arange(n - 1, dtype=np.int32), np.arange(1, n, dtype=np.int32)
    requests = np.array([1_000_000 if i in busy else 0 for i in range(n)], np.int64)
    zeros_n, zeros_e = np.zeros(n, np.int64), np.zeros(n - 1, np.int64)
    nan_n, nan_e = np.full(n, np.nan), np.full(n - 1, np.nan)
    frame = GraphFrame(
        0, 60_000_000_000, 1_000_000_000, 1, 1, tuple(names), np.zeros(n, np.int8), requests, zeros_n, zeros_n,
        nan_n, nan_n, nan_n, source, target, np.zeros(n - 1, np.int8), ("",) * (n - 1), zeros_e, zeros_e,
        nan_e, nan_e, nan_e,
    )  # fmt: skip
    return build_chart_frame(frame, np.array(xy, float), thresholds=HealthThresholds(), node_members=tuple(members))


FEW = tuple(f"few-{k}" for k in range(4))


def _view(scale: float, *, centre=(0.0, 0.0)) -> Viewport:
    viewport = Viewport(width=1280, height=720, scale=scale)
    viewport.center_on(*centre)
    return viewport


def test_a_group_opens_once_its_members_names_fit_and_its_box_is_large() -> None:
    chart = _chart([FEW, (), FEW], [(0, 0), (300, 0), (600, 0)], busy=(2,))
    busy_box = MIN_BOX_HEIGHT_PX / (2 * float(chart.node_radius[2]))
    assert busy_box < READABLE < IDLE_BOX  # the busy box is high enough before names fit, the idle box after

    def view(scale: float) -> Viewport:
        return _view(scale, centre=(300, 0))

    assert openable_groups(chart, view(READABLE * 0.95), member_room=ROOM) == []  # names would not fit
    assert openable_groups(chart, view(READABLE * 1.01), member_room=ROOM) == ["g2"]
    assert sorted(openable_groups(chart, view(IDLE_BOX * 1.01), member_room=ROOM)) == ["g0", "g2"]
    assert openable_groups(chart, view(IDLE_BOX * 0.99), member_room=ROOM) == ["g2"]  # g0's box still small
    # off screen: not opened, however far in
    assert openable_groups(chart, _view(8.0, centre=(300, 0)), member_room=ROOM) == []


def test_nearest_to_the_zoom_point_first_one_per_step() -> None:
    chart = _chart([FEW, (), FEW], [(0, 0), (100, 0), (200, 0)])
    view = _view(3.0, centre=(100, 0))
    left, right = view.to_screen(np.array([[0.0, 0.0], [200.0, 0.0]]))
    assert openable_groups(chart, view, member_room=ROOM, at=tuple(right)) == ["g2", "g0"]
    zoom = SemanticZoom()
    assert zoom.decide(chart, view, member_room=ROOM, at=tuple(left)) == (frozenset({"g0"}), frozenset())
    assert zoom.opened_at == {"g0": 3.0}


def test_zooming_out_closes_what_the_zoom_opened_past_a_margin_and_the_user_wins() -> None:
    chart = _chart([FEW, (), FEW], [(0, 0), (300, 0), (600, 0)])
    opened = _chart([(), (), FEW], [(0, 0), (300, 0), (600, 0)])  # g0 shown as its members
    zoom = SemanticZoom()
    opens_at = IDLE_BOX * 1.1  # the scale where the zoom opens g0

    def decide(chart, scale):
        return zoom.decide(chart, _view(scale), member_room=ROOM)

    assert decide(chart, opens_at) == (frozenset({"g0"}), frozenset())
    # zooming out below where it opens (no flicker around the threshold) keeps it open ...
    assert opens_at * CLOSE_BELOW * 1.05 < IDLE_BOX  # below where it opens
    assert decide(opened, opens_at * CLOSE_BELOW * 1.05) == (frozenset(), frozenset())
    # ... until the scale falls below CLOSE_BELOW of where it opened
    assert decide(opened, opens_at * CLOSE_BELOW * 0.95) == (frozenset(), frozenset({"g0"}))
    assert zoom.opened_at == {}
    # a group the user opened or closed is left alone: neither opened nor closed by the zoom
    zoom.note_user("g0")
    assert decide(chart, opens_at) == (frozenset(), frozenset())
    zoom.opened_at["g2"] = opens_at
    zoom.note_user("g2")
    assert decide(opened, 0.2) == (frozenset(), frozenset())
    zoom.forget()
    assert decide(chart, opens_at) == (frozenset({"g0"}), frozenset())
