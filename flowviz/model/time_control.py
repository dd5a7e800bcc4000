"""The time cursor as a state machine: following live, paused, or playing at a speed; changed only by commands."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

SECOND_NS = 1_000_000_000
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0)
WINDOWS_S = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
MAX_PLAY_FRAME_NS = SECOND_NS  # playing never jumps more than 1 s of data per frame


class PlayMode(Enum):
    FOLLOWING = "following"  # the cursor sits at the newest data
    PAUSED = "paused"
    PLAYING = "playing"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """[start_ns, end_ns) of data available (retained by the store)."""

    start_ns: int
    end_ns: int

    def clamp(self, time_ns: int) -> int:
        return min(max(time_ns, self.start_ns), self.end_ns)


class TimeControl:
    """Where the chart's window ends (`cursor_ns`) and how long it is (`window_s`).

    Commands (`pause`, `play`, `follow`, `seek`, `step`, `set_speed`, `faster`, `slower`,
    `set_window`, `set_loop`) change the state; `tick(dt_s, available, streaming=...)` advances it by real
    time `dt_s` given the data available now and whether more is coming. `notice` holds a message for
    the user when the control had to act on its own (a paused cursor overtaken by retention, playback reaching the end).
    `moves` counts the commands that moved the cursor or changed the window (a scrub made while a
    capture loads is kept when loading ends).
    """

    def __init__(self, *, window_s: float = 60.0, step_ns: int = SECOND_NS, live: bool = True) -> None:
        self.mode = PlayMode.FOLLOWING if live else PlayMode.PAUSED
        self.live = live
        self.cursor_ns: int | None = None
        self.window_s = window_s
        self.speed = 1.0
        self.step_ns = step_ns
        self.loop: TimeRange | None = None
        self.notice = ""
        self.moves = 0
        self._available: TimeRange | None = None

    # -- commands ----------------------------------------------------------------------------

    def pause(self) -> None:
        if self.mode is not PlayMode.PAUSED:
            self.mode = PlayMode.PAUSED

    def play(self) -> None:
        """Play forward from the cursor at the current speed (from the loop's start when outside the loop)."""
        if (
            self.loop is not None
            and self.cursor_ns is not None
            and not (self.loop.start_ns <= self.cursor_ns < self.loop.end_ns)
        ):
            self.cursor_ns = self.loop.start_ns
        self.mode = PlayMode.PLAYING

    def toggle_play(self) -> None:
        self.pause() if self.mode is PlayMode.PLAYING else self.play()

    def follow(self) -> None:
        """Back to live: the cursor follows the newest data (captures: jump to their end)."""
        self.moves += 1
        if self.live:
            self.mode = PlayMode.FOLLOWING
        else:
            self.mode = PlayMode.PAUSED
        if self._available is not None:
            self.cursor_ns = self._available.end_ns

    def seek(self, time_ns: int) -> None:
        """Put the cursor at `time_ns` (scrubbing): pauses following, keeps playing if playing."""
        self.moves += 1
        if self.mode is PlayMode.FOLLOWING:
            self.mode = PlayMode.PAUSED
        self.cursor_ns = self._available.clamp(time_ns) if self._available else time_ns

    def step(self, count: int) -> None:
        """Move `count` buckets forward (negative: back) and pause."""
        self.mode = PlayMode.PAUSED
        if self.cursor_ns is not None:
            self.seek(self.cursor_ns + count * self.step_ns)

    def home(self) -> None:
        if self._available is not None:
            self.seek(self._available.start_ns + int(self.window_s * SECOND_NS))

    def set_speed(self, speed: float) -> None:
        self.speed = min(max(speed, SPEEDS[0]), SPEEDS[-1])

    def faster(self) -> None:
        self.set_speed(next((s for s in SPEEDS if s > self.speed + 1e-9), SPEEDS[-1]))

    def slower(self) -> None:
        self.set_speed(next((s for s in reversed(SPEEDS) if s < self.speed - 1e-9), SPEEDS[0]))

    def set_window(self, window_s: float) -> None:
        self.moves += 1
        self.window_s = min(max(window_s, WINDOWS_S[0]), WINDOWS_S[-1])

    def longer_window(self) -> None:
        self.set_window(next((w for w in WINDOWS_S if w > self.window_s + 1e-9), WINDOWS_S[-1]))

    def shorter_window(self) -> None:
        self.set_window(next((w for w in reversed(WINDOWS_S) if w < self.window_s - 1e-9), WINDOWS_S[0]))

    def set_loop(self, start_ns: int | None, end_ns: int | None = None) -> None:
        """Loop playback over [start_ns, end_ns); None clears the loop."""
        if start_ns is None or end_ns is None or end_ns <= start_ns:
            self.loop = None
        else:
            self.loop = TimeRange(start_ns, end_ns)

    # -- time passing ------------------------------------------------------------------------

    def tick(self, dt_s: float, available: TimeRange | None, *, streaming: bool) -> None:
        """Advance by `dt_s` seconds of wall time, given the data available now and whether the source is still
        streaming (more data will come: a live feed, a capture still loading). Playing into the end of the data
        waits there while the source streams; once it has stopped, playback stops at the end and says so."""
        self._available = available
        self.notice = ""
        if available is None:
            return
        if self.mode is PlayMode.FOLLOWING or self.cursor_ns is None:
            self.cursor_ns = available.end_ns
            return
        if self.mode is PlayMode.PLAYING:
            advance_ns = min(int(dt_s * self.speed * SECOND_NS), MAX_PLAY_FRAME_NS)
            self.cursor_ns += advance_ns
            self._wrap_or_stop(available, streaming)
        if self.cursor_ns < available.start_ns:
            self.cursor_ns = available.start_ns
            self.notice = "The paused moment is no longer retained: moved to the oldest data kept."
        elif self.cursor_ns > available.end_ns:
            self.cursor_ns = available.end_ns

    def _wrap_or_stop(self, available: TimeRange, streaming: bool) -> None:
        if self.loop is not None and self.cursor_ns >= self.loop.end_ns:
            self.cursor_ns = self.loop.start_ns + (self.cursor_ns - self.loop.end_ns) % max(
                self.loop.end_ns - self.loop.start_ns, 1
            )
        elif self.cursor_ns >= available.end_ns:
            self.cursor_ns = available.end_ns
            if self.live and streaming:
                self.mode = PlayMode.FOLLOWING  # caught up with live
            elif not streaming:
                self.mode = PlayMode.PAUSED
                self.notice = (
                    "Reached the end of the capture." if not self.live else "Reached the end: the source stopped."
                )
            # else: a capture still loading: keep playing into what arrives

    # -- questions -----------------------------------------------------------------------------

    def window_ns(self) -> tuple[int, int] | None:
        """[start, end) the chart aggregates, or None before any data."""
        if self.cursor_ns is None:
            return None
        return self.cursor_ns - int(self.window_s * SECOND_NS), self.cursor_ns

    def behind_live_s(self) -> float | None:
        """How far the cursor is behind the newest data (0 when following), None without data."""
        if self._available is None or self.cursor_ns is None:
            return None
        return max(0.0, (self._available.end_ns - self.cursor_ns) / SECOND_NS)
