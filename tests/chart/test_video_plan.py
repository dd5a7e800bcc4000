"""Video plans: how many frames, where the cursor is on each, which bookmark is captioned."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.chart.video_plan import VideoPlanError, caption_at, plan_video

S = 1_000_000_000
T0 = 1_700_000_000 * S


@pytest.mark.parametrize(
    ("range_s", "speed", "fps", "frames"),
    [(60, 1.0, 10, 600), (60, 5.0, 10, 120), (60, 4.0, 15, 225), (10, 3.0, 10, 34), (1, 100.0, 30, 1)],
)
def test_frame_count_is_the_range_over_the_speed_times_the_rate(range_s, speed, fps, frames):
    plan = plan_video(T0, T0 + range_s * S, speed=speed, fps=fps)
    assert plan.frame_count == frames
    assert plan.cursor_ns[-1] == T0 + range_s * S
    assert (np.diff(plan.cursor_ns) > 0).all()
    assert plan.cursor_ns[0] > T0


def test_a_bookmark_is_captioned_for_a_few_video_seconds_after_the_cursor_passes_it():
    plan = plan_video(T0, T0 + 60 * S, speed=2.0, fps=10)  # 0.2 s of data a frame
    bookmarks = [(T0 + 20 * S, "db slow"), (T0 + 40 * S, "recovered")]
    shown = [caption_at(plan, k, bookmarks, hold_s=3.0) for k in range(plan.frame_count)]
    assert shown[98] == ""  # cursor at 19.8 s
    assert shown[99] == "db slow"  # at 20 s
    assert shown[99 + 30] == "db slow"  # 3 video seconds = 6 data seconds later
    assert shown[99 + 31] == ""
    assert shown[199] == "recovered"


@pytest.mark.parametrize(("end_s", "speed", "fps"), [(0, 1.0, 10), (10, 0.0, 10), (10, 1.0, 0), (100_000, 1.0, 30)])
def test_plans_that_give_no_reasonable_video_are_refused(end_s, speed, fps):
    with pytest.raises(VideoPlanError):
        plan_video(T0, T0 + end_s * S, speed=speed, fps=fps)
