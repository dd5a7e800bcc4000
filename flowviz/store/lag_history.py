"""Consumer groups' lag over time: every look's `LagFrame`, bounded in bytes, read back at any time (scrubbing)."""

from __future__ import annotations

import bisect
import threading

import numpy as np

from flowviz.derive.consumer_lag import GroupState, LagFrame, LagMark

DEFAULT_BUDGET_BYTES = 64 << 20
MARKS_KEPT = 10_000


class LagHistory:
    """The frames of the looks at the consumer groups, in time order (one writer: `add`).

    Bounded: when the frames take more than `budget_bytes`, every other frame of the older half goes,
    so recent minutes keep every look and older hours keep fewer (at 10 000 group partitions a look takes
    ~0.5 MB: 64 MiB keep ~130 looks; at 100, ~10 000 looks — four hours at 1.5 s). Marks (rebalances,
    changes of state) are kept apart and not thinned (the newest `MARKS_KEPT`). Readers (`at`, `marks`,
    `series`) may run on any thread.
    """

    def __init__(self, *, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self.version = 0
        self._times: list[int] = []
        self._frames: list[LagFrame] = []
        self._marks: list[LagMark] = []
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def add(self, frame: LagFrame) -> None:
        with self._lock:
            index = bisect.bisect_right(self._times, frame.polled_ns)
            self._times.insert(index, frame.polled_ns)
            self._frames.insert(index, frame)
            self._bytes += frame.nbytes
            self._marks.extend(frame.marks)
            if len(self._marks) > MARKS_KEPT:
                del self._marks[: len(self._marks) - MARKS_KEPT]
            while self._bytes > self.budget_bytes and len(self._frames) > 2:
                self._thin()
            self.version += 1

    def add_marks(self, marks: list[LagMark]) -> None:
        """Marks that come without a frame (a topic's records changed schema)."""
        with self._lock:
            self._marks.extend(marks)
            self._marks.sort(key=lambda mark: mark.time_ns)
            del self._marks[: max(0, len(self._marks) - MARKS_KEPT)]
            self.version += 1

    def _thin(self) -> None:
        half = len(self._frames) // 2
        kept = [i for i in range(len(self._frames)) if i >= half or i % 2 == 0]
        self._bytes -= sum(self._frames[i].nbytes for i in range(half) if i % 2)
        self._times = [self._times[i] for i in kept]
        self._frames = [self._frames[i] for i in kept]

    def at(self, time_ns: int | None = None) -> LagFrame | None:
        """The last frame at or before `time_ns` (None: the latest); None when there is none."""
        with self._lock:
            if not self._frames:
                return None
            if time_ns is None:
                return self._frames[-1]
            index = bisect.bisect_right(self._times, time_ns)
            return self._frames[index - 1] if index else None

    def frames_after(self, time_ns: int) -> list[LagFrame]:
        """The frames of looks after `time_ns`, oldest first."""
        with self._lock:
            return self._frames[bisect.bisect_right(self._times, time_ns) :]

    def frames(self, start_ns: int, end_ns: int) -> list[LagFrame]:
        """The frames of the looks in [start_ns, end_ns), in time order."""
        with self._lock:
            low, high = bisect.bisect_left(self._times, start_ns), bisect.bisect_left(self._times, end_ns)
            return self._frames[low:high]

    def marks(self, start_ns: int, end_ns: int) -> list[LagMark]:
        """Rebalances and changes of state in [start_ns, end_ns)."""
        with self._lock:
            return [mark for mark in self._marks if start_ns <= mark.time_ns < end_ns]

    def series(self, group: str, topic: str, start_ns: int, end_ns: int) -> dict[str, np.ndarray]:
        """One group's lag on one topic over [start_ns, end_ns): `time_ns`, `lag`, `lag_s` (nan: unknown)."""
        with self._lock:
            low, high = bisect.bisect_left(self._times, start_ns), bisect.bisect_left(self._times, end_ns)
            frames = self._frames[low:high]
        times, lags, ages = [], [], []
        for frame in frames:
            state = _find(frame.groups, group, topic)
            if state is not None:
                times.append(frame.polled_ns)
                lags.append(np.nan if state.lag is None else state.lag)
                ages.append(np.nan if state.lag_s is None else state.lag_s)
        return {
            "time_ns": np.asarray(times, np.int64),
            "lag": np.asarray(lags, np.float64),
            "lag_s": np.asarray(ages, np.float64),
        }


def _find(groups: tuple[GroupState, ...], group: str, topic: str) -> GroupState | None:
    for state in groups:
        if state.group == group and state.topic == topic:
            return state
    return None
