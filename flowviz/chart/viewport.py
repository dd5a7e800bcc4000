"""The view transform between layout coordinates and screen pixels: zoom at a point, pan, fit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SCALE, MAX_SCALE = 0.02, 8.0


@dataclass(slots=True)
class Viewport:
    """`screen = world * scale + offset`; `width`/`height` are the widget's size in pixels."""

    width: int = 1280
    height: int = 720
    scale: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_screen(self, xy: np.ndarray) -> np.ndarray:
        return xy * self.scale + np.array([self.offset_x, self.offset_y])

    def to_world(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.offset_x) / self.scale, (y - self.offset_y) / self.scale

    def zoom_at(self, factor: float, x: float, y: float) -> None:
        """Zoom by `factor` keeping the world point under screen (x, y) where it is."""
        world_x, world_y = self.to_world(x, y)
        self.scale = float(np.clip(self.scale * factor, MIN_SCALE, MAX_SCALE))
        self.offset_x = x - world_x * self.scale
        self.offset_y = y - world_y * self.scale

    def pan(self, dx: float, dy: float) -> None:
        self.offset_x += dx
        self.offset_y += dy

    def fit(
        self, bounds: tuple[float, float, float, float], *, margin_px: float = 60.0, margin_x_px: float | None = None
    ) -> None:
        """Show the world rectangle (x0, y0, x1, y1) whole and centred, `margin_px` from the edges
        (`margin_x_px` left and right, when given)."""
        x0, y0, x1, y1 = bounds
        margin_x = margin_px if margin_x_px is None else margin_x_px
        span_x, span_y = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        usable_w, usable_h = max(self.width - 2 * margin_x, 50.0), max(self.height - 2 * margin_px, 50.0)
        self.scale = float(np.clip(min(usable_w / span_x, usable_h / span_y), MIN_SCALE, 2.0))
        self.offset_x = self.width / 2 - (x0 + x1) / 2 * self.scale
        self.offset_y = self.height / 2 - (y0 + y1) / 2 * self.scale

    def center_on(self, x: float, y: float) -> None:
        self.offset_x = self.width / 2 - x * self.scale
        self.offset_y = self.height / 2 - y * self.scale
