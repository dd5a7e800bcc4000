"""A replay as video, planned: one cursor time per frame from the range, speed and frame rate, and which
bookmark's caption shows on each frame (Qt-free)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SECOND_NS = 1_000_000_000
CAPTION_HOLD_S = 3.0  # a bookmark's caption stays this long on the video (video seconds)
MAX_FRAMES = 36_000  # 20 minutes at 30 fps: beyond this, ask for a higher speed


class VideoPlanError(ValueError):
    """A range, speed or frame rate that gives no video or an unreasonably long one."""


@dataclass(frozen=True, slots=True)
class VideoPlan:
    """The cursor runs over [start_ns, end_ns] at `speed` data seconds per video second, `fps` frames a
    second; frame k shows the window ending at `cursor_ns[k]` (the last frame: at `end_ns`)."""

    start_ns: int
    end_ns: int
    speed: float
    fps: int
    cursor_ns: np.ndarray  # int64, one per frame

    @property
    def frame_count(self) -> int:
        return int(self.cursor_ns.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps


def plan_video(start_ns: int, end_ns: int, *, speed: float, fps: int) -> VideoPlan:
    """ceil(range / speed × fps) frames, evenly spaced, the last one at `end_ns`."""
    if end_ns <= start_ns:
        raise VideoPlanError("the video's range must end after it starts (--to after --from)")
    if not (speed > 0 and math.isfinite(speed)):
        raise VideoPlanError(f"speed {speed} is not a positive number")
    if not 1 <= fps <= 120:
        raise VideoPlanError(f"{fps} frames per second is outside 1..120")
    frames = math.ceil((end_ns - start_ns) / SECOND_NS / speed * fps - 1e-9)
    if frames > MAX_FRAMES:
        raise VideoPlanError(
            f"that would be {frames} frames ({frames / fps / 60:.0f} min of video): raise --speed or shorten the range"
        )
    step_ns = (end_ns - start_ns) / frames
    cursor = start_ns + np.round(step_ns * np.arange(1, frames + 1)).astype(np.int64)
    cursor[-1] = end_ns
    return VideoPlan(start_ns, end_ns, speed, fps, cursor)


def caption_at(
    plan: VideoPlan, frame: int, bookmarks: Sequence[tuple[int, str]], *, hold_s: float = CAPTION_HOLD_S
) -> str:
    """The name of the latest bookmark the cursor passed within the last `hold_s` of video ("" when none)."""
    cursor = int(plan.cursor_ns[frame])
    hold_ns = hold_s * plan.speed * SECOND_NS
    passed = [(t, name) for t, name in bookmarks if t <= cursor and cursor - t <= hold_ns]
    return max(passed)[1] if passed else ""
