"""Label placement: every node named where it can be, no label over another label or a node (Qt-free).

Placement is greedy in three rounds: first the nodes that matter (failing, selected, hovered, root
cause, on a highlighted path) with their figures; then every other node's name alone, busiest
first; then, where room is left, the others' figures too. A label sits beside its node; where no
spot beside it is free, it moves further out and a leader line ties it to its node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flowviz.model.graph_kinds import NodeKind

GROUP_ASPECT = 1.6  # a group's box is this much wider than high
GAP_PX = 3.0  # between a node's outline and its label
PAD_X_PX, PAD_Y_PX = 5.0, 2.0  # inside a label's box, around its text
MARGIN_PX = 2.0  # labels keep this far inside the chart
_CELL_PX = 48.0
_FAR_RINGS = 10  # how many steps further out a label may move (with a leader line)
_LEADERS_UP_TO = 400  # on-screen nodes up to which labels of ordinary nodes may move away with a leader
_REPAIRS_UP_TO = 24  # names left without room for which neighbours' names are moved aside (each costs a search)

Rect = tuple[float, float, float, float]  # x, y, width, height


@dataclass(frozen=True, slots=True)
class PlacedLabel:
    """A label to draw: node index, its lines, its box (top-left, size in pixels), and where it moved
    away from its node, the leader line from the node's outline to the box (x0, y0, x1, y1)."""

    node: int
    lines: tuple[str, ...]
    x: float
    y: float
    width: float
    height: float
    leader: tuple[float, float, float, float] | None = None

    @property
    def rect(self) -> Rect:
        return (self.x, self.y, self.width, self.height)


@dataclass(frozen=True, slots=True)
class LabelFonts:
    """Line heights and text measures of the name line and the figures line, in pixels."""

    name_px: float
    figure_px: float
    measure_name: Callable[[str], float]
    measure_figure: Callable[[str], float]

    @property
    def name_line_px(self) -> float:
        return self.name_px * 1.25

    @property
    def figure_line_px(self) -> float:
        return self.figure_px * 1.25

    def box_size(self, lines: tuple[str, ...]) -> tuple[float, float]:
        """(width, height) of a label box holding `lines` (a name, then optionally its figures)."""
        width = self.measure_name(lines[0])
        height = self.name_line_px
        if len(lines) > 1:
            width = max(width, self.measure_figure(lines[1]))
            height += self.figure_line_px
        return width + 2 * PAD_X_PX, height + 2 * PAD_Y_PX


def estimated_fonts(name_px: float, figure_px: float) -> LabelFonts:
    """Fonts measured by estimate (average glyph ~0.6 em), for code without a font engine."""
    return LabelFonts(name_px, figure_px, lambda t: len(t) * name_px * 0.6, lambda t: len(t) * figure_px * 0.6)


def node_half_extents(kind: np.ndarray, radius_px: np.ndarray, is_group: np.ndarray | None = None) -> np.ndarray:
    """N×2 half width and half height of each node's drawn shape (as the painter draws them by kind):
    a topic is a wide pill, a database a short cylinder, a group a wide box, everything else a circle."""
    half = np.stack([radius_px, radius_px], axis=1).astype(np.float64)
    if is_group is not None and is_group.any():
        half[is_group, 0] *= GROUP_ASPECT
    plain = np.ones(len(kind), bool) if is_group is None else ~is_group
    topic = (kind == NodeKind.TOPIC) & plain
    half[topic, 0] *= 1.25
    half[topic, 1] *= 0.7
    database = (kind == NodeKind.DATABASE) & plain
    half[database, 1] *= 0.85
    return half


class _Occupancy:
    """Rectangles already taken, in a coarse grid for quick overlap tests."""

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], list[int]] = {}
        self._rects: list[Rect | None] = []

    @staticmethod
    def _cells_of(rect: Rect) -> list[tuple[int, int]]:
        x, y, w, h = rect
        return [
            (cx, cy)
            for cx in range(int(x // _CELL_PX), int((x + w) // _CELL_PX) + 1)
            for cy in range(int(y // _CELL_PX), int((y + h) // _CELL_PX) + 1)
        ]

    def add(self, rect: Rect) -> int:
        handle = len(self._rects)
        self._rects.append(rect)
        for cell in self._cells_of(rect):
            self._cells.setdefault(cell, []).append(handle)
        return handle

    def remove(self, handle: int) -> None:
        self._rects[handle] = None

    def free(self, rect: Rect) -> bool:
        for cell in self._cells_of(rect):
            for handle in self._cells.get(cell, ()):
                other = self._rects[handle]
                if other is not None and overlaps(rect, other):
                    return False
        return True

    def segment_free(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        """Whether a leader line from (x0, y0) to (x1, y1) crosses nothing taken (sampled every few px)."""
        steps = max(2, int(np.hypot(x1 - x0, y1 - y0) / 4.0))
        for t in np.linspace(0.0, 1.0, steps)[1:-1].tolist():
            x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            if not self.free((x - 0.5, y - 0.5, 1.0, 1.0)):
                return False
        return True


# directions around a node, in order of preference: below, above, right, left, then the corners, then
# (further out only) half-way between
_DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))
_HALFWAY = ((0.5, 1), (-0.5, 1), (0.5, -1), (-0.5, -1), (1, 0.5), (1, -0.5), (-1, 0.5), (-1, -0.5))


def _spots(x: float, y: float, half_w: float, half_h: float, box_w: float, box_h: float, ring: int):
    """Top-left corners of a box beside the node (ring 0) or `ring` steps further out, one per direction,
    with the point on the node's outline a leader would start from."""
    step_x, step_y = ring * max(box_h * 0.7, 10.0), ring * max(box_h * 0.6, 8.0)
    for dx, dy in _DIRECTIONS + (_HALFWAY if ring else ()):
        if abs(dx) < 1:  # centred over or under the node, shifted by half its width
            left = x - box_w / 2 + dx * box_w
        elif dx > 0:
            left = x + half_w + GAP_PX + step_x
        else:
            left = x - half_w - GAP_PX - step_x - box_w
        if abs(dy) < 1:
            top = y - box_h / 2 + dy * box_h
        elif dy > 0:
            top = y + half_h + GAP_PX + step_y
        else:
            top = y - half_h - GAP_PX - step_y - box_h
        if abs(dx) == 1 and abs(dy) == 1 and ring == 0:  # corners tuck in against a round node
            left -= dx * half_w * 0.3
            top -= dy * half_h * 0.3
        yield left, top, (x + dx * half_w * (0.7 if dy else 1.0), y + dy * half_h * (0.7 if dx else 1.0))


def place_labels(
    screen_xy: np.ndarray,
    half_extents: np.ndarray,
    lines: list[tuple[str, ...]],
    priority: np.ndarray,
    *,
    fonts: LabelFonts,
    width: float,
    height: float,
    important: frozenset[int] = frozenset(),
    obstacles: np.ndarray | None = None,
    figures: bool = True,
) -> list[PlacedLabel]:
    """Place labels for the nodes with `lines` (empty: no label): `important` ones first with all their
    lines, then everyone else's name by descending `priority`, then (with `figures`) their figures where
    room is left. Labels stay inside width×height and never overlap one another, a node (the
    `half_extents` box around each `screen_xy`) or an `obstacles` box (x, y, w, h rows)."""
    count = len(lines)
    on_screen = (
        (screen_xy[:, 0] + half_extents[:, 0] >= 0)
        & (screen_xy[:, 0] - half_extents[:, 0] <= width)
        & (screen_xy[:, 1] + half_extents[:, 1] >= 0)
        & (screen_xy[:, 1] - half_extents[:, 1] <= height)
    )
    shown = np.flatnonzero(on_screen)
    base: list[Rect] = [
        (
            screen_xy[i, 0] - half_extents[i, 0],
            screen_xy[i, 1] - half_extents[i, 1],
            2 * half_extents[i, 0],
            2 * half_extents[i, 1],
        )
        for i in shown.tolist()
    ]  # every node on screen is an obstacle, labelled or not
    base += [tuple(float(v) for v in rect) for rect in (obstacles if obstacles is not None else ())]
    wanted = [i for i in shown.tolist() if i < count and lines[i]]
    order = sorted(wanted, key=lambda i: (i not in important, -float(priority[i]), i))
    leaders_for_all = len(shown) <= _LEADERS_UP_TO
    placer = _Placer(screen_xy, half_extents, fonts, width, height)

    def names_first(sequence: list[int]) -> tuple[_Occupancy, dict]:
        occupied, placed = _Occupancy(), {}
        for rect in base:
            occupied.add(rect)
        for index in sequence:
            full = lines[index]
            if index in important:
                if not placer.attempt(occupied, placed, index, full, _FAR_RINGS) and len(full) > 1:
                    placer.attempt(occupied, placed, index, full[:1], _FAR_RINGS)
            else:
                placer.attempt(occupied, placed, index, full[:1], _FAR_RINGS if leaders_for_all else 0)
        return occupied, placed

    occupied, placed = names_first(order)
    missing = [i for i in order if i not in placed]
    if missing and leaders_for_all:  # once more, the ones left out first: hard spots before easy ones
        left_out = set(missing)
        retry = [i for i in order if i in important] + [i for i in missing if i not in important]
        retry += [i for i in order if i not in important and i not in left_out]
        second = names_first(retry)
        if len(second[1]) > len(placed):
            occupied, placed = second
        still_missing = [i for i in order if i not in placed]
        if len(still_missing) <= _REPAIRS_UP_TO:  # then make room: move a neighbour's name or two aside
            texts = {i: lines[i][:1] for i in order}
            for index in still_missing:
                placer.make_room(occupied, placed, index, texts[index], texts, important)
    if figures:
        for index in order:
            if index in important or index not in placed or len(lines[index]) < 2:
                continue
            label, handle = placed[index]
            if label.leader is not None:
                continue
            occupied.remove(handle)
            del placed[index]
            if not placer.attempt(occupied, placed, index, lines[index], 0):
                placed[index] = (label, occupied.add(label.rect))
    return [placed[i][0] for i in order if i in placed]


class _Placer:
    """Tries the spots around one node for one label, in order, and takes the first free one."""

    def __init__(self, screen_xy: np.ndarray, half_extents: np.ndarray, fonts: LabelFonts, width: float, height: float):
        self.screen_xy, self.half_extents, self.fonts = screen_xy, half_extents, fonts
        self.width, self.height = width, height

    def attempt(self, occupied: _Occupancy, placed: dict, index: int, text: tuple[str, ...], rings: int) -> bool:
        box_w, box_h = self.fonts.box_size(text)
        x, y = float(self.screen_xy[index, 0]), float(self.screen_xy[index, 1])
        half_w, half_h = float(self.half_extents[index, 0]), float(self.half_extents[index, 1])
        for ring in range(rings + 1):
            for left, top, (rim_x, rim_y) in _spots(x, y, half_w, half_h, box_w, box_h, ring):
                if left < MARGIN_PX or top < MARGIN_PX or left + box_w > self.width - MARGIN_PX:
                    continue
                if top + box_h > self.height - MARGIN_PX:
                    continue
                if not occupied.free((left - 1.0, top - 1.0, box_w + 2.0, box_h + 2.0)):  # a pixel apart at least
                    continue
                leader = None
                if ring:
                    end_x = min(max(rim_x, left), left + box_w)
                    end_y = min(max(rim_y, top), top + box_h)
                    if not occupied.segment_free(rim_x, rim_y, end_x, end_y):
                        continue
                    leader = (rim_x, rim_y, end_x, end_y)
                rect = (left, top, box_w, box_h)
                handle = occupied.add(rect)
                if leader is not None:  # later labels keep off the leader line too
                    _add_segment(occupied, leader)
                placed[index] = (PlacedLabel(index, text, left, top, box_w, box_h, leader), handle)
                return True
        return False

    def make_room(
        self,
        occupied: _Occupancy,
        placed: dict,
        index: int,
        text: tuple[str, ...],
        texts: dict[int, tuple[str, ...]],
        important: frozenset[int],
    ) -> bool:
        """Place a label that found no free spot by moving one or two ordinary labels in its way elsewhere;
        everything stays as it was when they find no other place."""
        box_w, box_h = self.fonts.box_size(text)
        x, y = float(self.screen_xy[index, 0]), float(self.screen_xy[index, 1])
        half_w, half_h = float(self.half_extents[index, 0]), float(self.half_extents[index, 1])
        for ring in range(_FAR_RINGS + 1):
            for left, top, _rim in _spots(x, y, half_w, half_h, box_w, box_h, ring):
                if left < MARGIN_PX or top < MARGIN_PX or left + box_w > self.width - MARGIN_PX:
                    continue
                if top + box_h > self.height - MARGIN_PX:
                    continue
                spot = (left - 1.0, top - 1.0, box_w + 2.0, box_h + 2.0)
                blockers = [i for i, (label, _) in placed.items() if overlaps(spot, label.rect)]
                if not blockers or len(blockers) > 2 or any(i in important for i in blockers):
                    continue
                if self._moved_aside(occupied, placed, index, text, blockers, texts):
                    return True
        return False

    def _moved_aside(
        self, occupied: _Occupancy, placed: dict, index: int, text: tuple[str, ...], blockers: list[int], texts: dict
    ) -> bool:
        before = {i: placed.pop(i) for i in blockers}
        for _label, handle in before.values():
            occupied.remove(handle)
        if self.attempt(occupied, placed, index, text, _FAR_RINGS) and all(
            self.attempt(occupied, placed, i, texts[i], _FAR_RINGS) for i in blockers
        ):
            return True
        for i in [index, *blockers]:  # undo: the new places go, the old ones come back
            if i in placed:
                occupied.remove(placed.pop(i)[1])
        for i, (label, _) in before.items():
            placed[i] = (label, occupied.add(label.rect))
        return False


def _add_segment(occupied: _Occupancy, segment: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = segment
    steps = max(2, int(np.hypot(x1 - x0, y1 - y0) / 6.0))
    for t in np.linspace(0.0, 1.0, steps)[1:-1].tolist():
        occupied.add((x0 + (x1 - x0) * t - 1.0, y0 + (y1 - y0) * t - 1.0, 2.0, 2.0))


def overlaps(a: Rect, b: Rect) -> bool:
    """Whether two (x, y, w, h) boxes share any area."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def with_note(figures: str, note: str) -> str:
    """A node's figure line with its note (`12.3/s · p95 43 ms · lag 1 234`); the note alone without figures."""
    if not note:
        return figures
    return f"{figures} · {note}" if figures else note


def node_note(chart, index: int) -> str:
    """The note of node `index` of a `ChartFrame` ("" when it has none)."""
    notes = chart.node_note
    return notes[index] if index < len(notes) else ""


def place_edge_labels(
    anchors_px: np.ndarray,
    texts: list[str],
    *,
    measure: Callable[[str], float],
    line_px: float,
    taken: list[Rect],
    width: float,
    height: float,
) -> list[tuple[int, Rect]]:
    """Boxes for edge labels centred on one of their anchors (`anchors_px`: labels × candidates × 2, points along
    the edge, best first), in the given order (most important first), each at the first anchor where it overlaps
    nothing in `taken` (node boxes and labels) nor an earlier label and lies on screen; returns (index into
    `texts`, box)."""
    occupancy = _Occupancy()
    for rect in taken:
        occupancy.add(rect)
    placed = []
    for index, text in enumerate(texts):
        box_w, box_h = measure(text) + 2 * PAD_X_PX, line_px + 2 * PAD_Y_PX
        for anchor_x, anchor_y in np.asarray(anchors_px[index], np.float64).reshape(-1, 2).tolist():
            x, y = anchor_x - box_w / 2, anchor_y - box_h / 2
            rect = (x, y, box_w, box_h)
            if x >= 0 and y >= 0 and x + box_w <= width and y + box_h <= height and occupancy.free(rect):
                occupancy.add(rect)
                placed.append((index, rect))
                break
    return placed
