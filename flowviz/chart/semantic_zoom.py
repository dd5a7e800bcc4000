"""Semantic zoom: which groups zooming in opens (its members, where they will be placed, would have room on screen
for readable names) and zooming out closes again, past a margin so nothing flickers; the user's own openings and
closings win (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowviz.chart.chart_frame import ChartFrame
from flowviz.chart.viewport import Viewport

NAME_WIDTH_PX = 110.0  # room a member's name needs beside it (~10 characters at 13-16 px) ...
NAME_HEIGHT_PX = 40.0  # ... and above and below it (its name and figures lines)
MIN_BOX_HEIGHT_PX = 48.0  # a group's box is this high on screen at least before it opens: the user zoomed into it
CLOSE_BELOW = 1 / 1.6  # a group the zoom opened closes when the scale falls below this share of where it opened


@dataclass(slots=True)
class SemanticZoom:
    """The groups the zoom opened (with the scale it opened each at) and the groups the user decided on.

    `decide` gives the changes for a view. A collapsed group whose box is on screen and at least
    `MIN_BOX_HEIGHT_PX` high opens once its members, placed as they unfold (`member_room`, chart units: the
    room beside each across, the distance to the next down), would have `NAME_WIDTH_PX` beside and
    `NAME_HEIGHT_PX` down on screen: room for each one's name. One opens per step, the one nearest the
    zoom's point, so it unfolds first and takes the places nearest its box. A group the zoom opened closes
    once the scale drops below `CLOSE_BELOW` of the scale it opened at. Groups the user opened or closed
    (`note_user`) are left alone until `forget`.
    """

    opened_at: dict[str, float] = field(default_factory=dict)  # group label -> view scale when the zoom opened it
    user_decided: set[str] = field(default_factory=set)

    def note_user(self, label: str) -> None:
        """The user opened or closed this group: the zoom no longer touches it."""
        self.user_decided.add(label)
        self.opened_at.pop(label, None)

    def forget(self) -> None:
        """Start afresh (layout reset, another grouping)."""
        self.opened_at.clear()
        self.user_decided.clear()

    def decide(
        self,
        chart: ChartFrame,
        viewport: Viewport,
        *,
        member_room: tuple[float, float],
        at: tuple[float, float] | None = None,
    ) -> tuple[frozenset[str], frozenset[str]]:
        """(groups to open, groups to close) at this view, zoomed at screen point `at` (default: the centre);
        the opened one is remembered as the zoom's."""
        scale = viewport.scale
        close = frozenset(label for label, opened in self.opened_at.items() if scale < opened * CLOSE_BELOW)
        for label in close:
            del self.opened_at[label]
        ready = [
            label
            for label in openable_groups(chart, viewport, member_room=member_room, at=at)
            if label not in self.user_decided and label not in close
        ]
        for label in ready[:1]:
            self.opened_at[label] = scale
        return frozenset(ready[:1]), close


def openable_groups(
    chart: ChartFrame,
    viewport: Viewport,
    *,
    member_room: tuple[float, float],
    at: tuple[float, float] | None = None,
) -> list[str]:
    """Labels of the collapsed groups on screen that this view would show readably opened (see `SemanticZoom`),
    nearest to screen point `at` (default: the centre) first."""
    members = chart.node_members
    scale = viewport.scale
    across_px, down_px = member_room[0] * scale, member_room[1] * scale  # beside a member, and to the next
    if len(members) != chart.node_count or across_px < NAME_WIDTH_PX or down_px < NAME_HEIGHT_PX:
        return []
    rows = np.flatnonzero(np.fromiter((bool(m) for m in members), bool, len(members)) & chart.node_visible)
    centre = viewport.to_screen(chart.node_xy[rows])
    on_screen = (
        (centre[:, 0] >= 0) & (centre[:, 0] <= viewport.width) & (centre[:, 1] >= 0) & (centre[:, 1] <= viewport.height)
    )
    ready = np.flatnonzero(on_screen & (2 * chart.node_radius[rows] * scale >= MIN_BOX_HEIGHT_PX))
    x, y = at if at is not None else (viewport.width / 2, viewport.height / 2)
    nearest = ready[np.argsort(np.hypot(centre[ready, 0] - x, centre[ready, 1] - y), kind="stable")]
    return [chart.node_names[i][1:-1] for i in rows[nearest].tolist()]
