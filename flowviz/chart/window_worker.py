"""Window queries on a worker thread, newest request only: a scrub never waits for the store on the UI thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flowviz.store.graph_frame import GraphFrame


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """One asked-for window; `sequence` grows with every request, so a higher one is always newer."""

    sequence: int
    start_ns: int
    end_ns: int
    requested_at_s: float  # time.perf_counter() when it was asked for


@dataclass(frozen=True, slots=True)
class WindowResult:
    """A request's store frame, or why there is none (`error`: the query raised)."""

    request: WindowRequest
    frame: GraphFrame | None
    error: str = ""


class WindowQueryWorker:
    """Runs `query(start_ns, end_ns)` off the calling thread and hands each result to `deliver` (called on
    the worker thread). Only the newest waiting request runs: one asked for while another waits replaces
    it (`coalesced` counts those). A thread is started for a burst of requests and ends when none has
    come for `idle_s`."""

    idle_s = 1.0

    def __init__(self, query: Callable[[int, int], GraphFrame], deliver: Callable[[WindowResult], None]) -> None:
        self._query = query
        self._deliver = deliver
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiting: WindowRequest | None = None
        self._running = False
        self._closed = False
        self._sequence = 0
        self.coalesced = 0
        self.completed = 0

    @property
    def latest_sequence(self) -> int:
        """The sequence number of the newest request (0 before any)."""
        return self._sequence

    def request(self, start_ns: int, end_ns: int) -> WindowRequest:
        """Ask for a window; returns at once. A request still waiting to run is dropped for this one."""
        with self._lock:
            self._sequence += 1
            request = WindowRequest(self._sequence, int(start_ns), int(end_ns), time.perf_counter())
            if self._waiting is not None:
                self.coalesced += 1
            self._waiting = request
            self._wake.notify()
            if not self._running and not self._closed:
                self._running = True
                threading.Thread(target=self._run, name="flowviz-window-query", daemon=True).start()
        return request

    def close(self) -> None:
        """Run nothing more (a request already running still finishes, and is still delivered)."""
        with self._lock:
            self._closed = True
            self._waiting = None
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._waiting is None and not self._closed:
                    self._wake.wait(self.idle_s)
                request, self._waiting = self._waiting, None
                if request is None or self._closed:
                    self._running = False
                    return
            try:
                result = WindowResult(request, self._query(request.start_ns, request.end_ns))
            except Exception as error:  # reported to the caller, which decides what to show
                result = WindowResult(request, None, f"{type(error).__name__}: {error}")
            self.completed += 1
            self._deliver(result)
