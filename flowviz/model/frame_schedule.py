"""Who the window's frame clock refreshes, and how often: each client at its own rate, all from one clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Client:
    interval_s: float
    refresh: Callable[[], None]
    last_s: float | None = None


class FrameSchedule:
    """A list of refreshes with their intervals. `run_due(now_s)` (the frame clock calls it once per frame, after
    time has passed) calls each refresh whose interval has elapsed since it last ran, in the order they were
    added; a client added runs on the next frame. No timers of its own: nothing runs between frames."""

    def __init__(self) -> None:
        self._clients: list[_Client] = []

    def add(self, interval_s: float, refresh: Callable[[], None]) -> None:
        """Call `refresh` at most every `interval_s` seconds of frames (0: every frame)."""
        self._clients.append(_Client(max(float(interval_s), 0.0), refresh))

    def remove(self, refresh: Callable[[], None]) -> None:
        self._clients = [c for c in self._clients if c.refresh != refresh]

    def run_due(self, now_s: float) -> int:
        """Run what is due at `now_s` (monotonic seconds); returns how many ran."""
        ran = 0
        for client in list(self._clients):
            if client.last_s is None or now_s - client.last_s >= client.interval_s:
                client.last_s = now_s
                client.refresh()
                ran += 1
        return ran

    def __len__(self) -> int:
        return len(self._clients)
