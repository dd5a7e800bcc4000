"""Colours for a comparison: a diverging palette from "better / less" through neutral to "worse / more", and
the signed change each edge or node is coloured by (Qt-free)."""

from __future__ import annotations

import numpy as np

from flowviz.chart.themes import RGBA, Theme

FULL_SCALE = 12.0  # a score this high (or more) gets the palette's end colour


def palette(theme: Theme) -> tuple[RGBA, RGBA, RGBA]:
    """(better, neutral, worse): blue, the theme's edge grey, and the theme's failing colour; on the
    projector the Okabe-Ito blue and vermillion, so the ends stay apart for colour-blind viewers."""
    better = (0, 114, 178, 255) if theme.name == "projector" else (77, 163, 255, 255)
    return better, theme.edge, theme.failing


def signed_change(score: np.ndarray, error_z: np.ndarray, latency_z: np.ndarray, rate_z: np.ndarray) -> np.ndarray:
    """The score with a sign: + where failures, latency or traffic went up (whichever drives the score), -
    where they went down."""
    worse = np.maximum(error_z, latency_z)
    better = np.maximum(-error_z, -latency_z)
    direction = np.where(worse >= better, 1.0, -1.0)
    rate_driven = np.abs(rate_z) * 0.5 >= np.maximum(worse, better * 0.25)
    direction = np.where(rate_driven, np.sign(rate_z), direction)
    return score * direction


def diverging_rgba(values: np.ndarray, theme: Theme) -> np.ndarray:
    """N×4 uint8 colours for signed changes: neutral at 0, the palette's ends at ±FULL_SCALE."""
    better, neutral, worse = (np.array(c, np.float64) for c in palette(theme))
    t = np.clip(np.asarray(values, np.float64) / FULL_SCALE, -1.0, 1.0)[:, None]
    colour = np.where(t >= 0, neutral + (worse - neutral) * t, neutral + (better - neutral) * -t)
    return np.round(colour).astype(np.uint8)
