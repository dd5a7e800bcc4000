"""Label level of detail: which labels to draw where, so that none collide (greedy by priority)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class PlacedLabel:
    """A label to draw: node index, its lines, and the top-left corner and size of its box in pixels."""

    node: int
    lines: tuple[str, ...]
    x: float
    y: float
    width: float
    height: float


def text_width_px(text: str, font_px: float) -> float:
    """A cheap width estimate (average glyph ~0.58 em) used to reserve space."""
    return len(text) * font_px * 0.58


def place_labels(
    screen_xy: np.ndarray,
    radius_px: np.ndarray,
    lines: list[tuple[str, ...]],
    priority: np.ndarray,
    *,
    font_px: float,
    width: int,
    height: int,
    forced: frozenset[int] = frozenset(),
    measure: Callable[[str], float] | None = None,
) -> list[PlacedLabel]:
    """Labels below their nodes (else above, else to the right), most important first; a label that
    would overlap one already placed everywhere is dropped, except `forced` ones (selected, hovered),
    which always show.
    `measure` gives a line's width in pixels (the painter's font metrics); else it is estimated."""
    line_px = font_px * 1.25
    on_screen = (
        (screen_xy[:, 0] > -200)
        & (screen_xy[:, 0] < width + 200)
        & (screen_xy[:, 1] > -100)
        & (screen_xy[:, 1] < height + 100)
    )
    candidates = np.flatnonzero(on_screen)
    order = candidates[np.argsort(-priority[candidates], kind="stable")]
    forced_first = [i for i in forced if i < len(lines)] + [int(i) for i in order if int(i) not in forced]
    cell = 64.0
    grid: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
    for index in candidates.tolist():  # nodes are obstacles too: a label must not cover another node
        r = float(radius_px[index])
        x, y = float(screen_xy[index, 0]) - r, float(screen_xy[index, 1]) - r
        for cx in range(int(x // cell), int((x + 2 * r) // cell) + 1):
            for cy in range(int(y // cell), int((y + 2 * r) // cell) + 1):
                grid.setdefault((cx, cy), []).append((x, y, 2 * r, 2 * r))
    placed: list[PlacedLabel] = []
    for index in forced_first:
        full = lines[index]
        if not full:
            continue
        # the name with its figures; where that fits nowhere, the name alone
        for text in (full, full[:1]) if len(full) > 1 else (full,):
            spot = _free_spot(
                text,
                index,
                screen_xy,
                radius_px,
                grid,
                cell,
                font_px,
                line_px,
                measure,
                force=index in forced and text is full,
            )
            if spot is not None:
                x, y, box_w, box_h, cells = spot
                for c in cells:
                    grid.setdefault(c, []).append((x, y, box_w, box_h))
                placed.append(PlacedLabel(index, text, x, y, box_w, box_h))
                break
    return placed


def _free_spot(text, index, screen_xy, radius_px, grid, cell, font_px, line_px, measure, *, force):
    """(x, y, width, height, grid cells) of the first free spot for `text` around node `index`:
    below it, above it, or to its right; the first spot when `force`; None when none is free."""
    box_w = max(measure(t) if measure else text_width_px(t, font_px) for t in text) + 10
    box_h = line_px * len(text) + 4
    node_x, node_y, gap = float(screen_xy[index, 0]), float(screen_xy[index, 1]), float(radius_px[index]) + 4
    spots = (
        (node_x - box_w / 2, node_y + gap),
        (node_x - box_w / 2, node_y - gap - box_h),
        (node_x + gap, node_y - box_h / 2),
    )
    for x, y in spots:
        cells = [
            (cx, cy)
            for cx in range(int(x // cell), int((x + box_w) // cell) + 1)
            for cy in range(int(y // cell), int((y + box_h) // cell) + 1)
        ]
        clash = any(
            x < ox + ow and ox < x + box_w and y < oy + oh and oy < y + box_h
            for c in cells
            for ox, oy, ow, oh in grid.get(c, ())
            if not (ox == screen_xy[index, 0] - radius_px[index] and oy == screen_xy[index, 1] - radius_px[index])
        )
        if not clash:
            return x, y, box_w, box_h, cells
    if force:
        x, y = spots[0]
        cells = [
            (cx, cy)
            for cx in range(int(x // cell), int((x + box_w) // cell) + 1)
            for cy in range(int(y // cell), int((y + box_h) // cell) + 1)
        ]
        return x, y, box_w, box_h, cells
    return None


def with_note(figures: str, note: str) -> str:
    """A node's figure line with its note (`12.3/s · p95 43 ms · lag 1 234`); the note alone without figures."""
    if not note:
        return figures
    return f"{figures} · {note}" if figures else note


def node_note(chart, index: int) -> str:
    """The note of node `index` of a `ChartFrame` ("" when it has none)."""
    notes = chart.node_note
    return notes[index] if index < len(notes) else ""
