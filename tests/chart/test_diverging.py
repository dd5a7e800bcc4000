"""The comparison palette: neutral at no change, towards "worse" for rises, towards "better" for falls."""

from __future__ import annotations

import numpy as np

from flowviz.chart.diverging import FULL_SCALE, diverging_rgba, palette, signed_change
from flowviz.chart.themes import DARK, PROJECTOR


def test_the_ends_and_the_middle_of_the_palette():
    better, neutral, worse = palette(DARK)
    colours = diverging_rgba(np.array([0.0, FULL_SCALE * 3, -FULL_SCALE, FULL_SCALE / 2]), DARK)
    assert tuple(colours[0]) == neutral
    assert tuple(colours[1]) == worse
    assert tuple(colours[2]) == better
    halfway = (np.array(neutral) + np.array(worse)) / 2
    assert np.abs(colours[3].astype(float) - halfway).max() <= 1
    assert palette(PROJECTOR)[0] == (0, 114, 178, 255)  # Okabe-Ito blue on the projector


def test_the_sign_follows_what_drives_the_score():
    score = np.array([10.0, 10.0, 10.0, 10.0])
    error_z = np.array([10.0, -40.0, 0.0, 0.0])
    latency_z = np.array([0.0, 0.0, 0.0, 1.0])
    rate_z = np.array([1.0, 0.0, -20.0, 20.0])
    assert signed_change(score, error_z, latency_z, rate_z).tolist() == [10.0, -10.0, -10.0, 10.0]
