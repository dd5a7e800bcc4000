"""Where a worker finds a trace's raw spans again: a ring of the latest raw messages, or the capture files."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from flowviz.decoders.span_details import SpanDetail, details_in, details_in_chunk
from flowviz.sources.capture_file import CaptureError, load_bytes

DEFAULT_RING_BYTES = 64 << 20


class RawRing:
    """The latest raw messages (simulator or Kafka values), at most `max_bytes`; searched on demand."""

    def __init__(self, max_bytes: int = DEFAULT_RING_BYTES) -> None:
        self.max_bytes = max_bytes
        self._values: deque[bytes] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, values: Sequence[bytes | None]) -> None:
        with self._lock:
            for value in values:
                if value:
                    self._values.append(value)
                    self._bytes += len(value)
            while self._bytes > self.max_bytes and self._values:
                self._bytes -= len(self._values.popleft())

    def span_details(self, trace_hi: int, trace_lo: int) -> dict[int, SpanDetail]:
        with self._lock:
            values = list(self._values)
        return details_in(values, trace_hi, trace_lo)


class CaptureFiles:
    """Capture files searched again, one at a time, when a trace's details are asked for."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = [Path(p) for p in paths]

    def span_details(self, trace_hi: int, trace_lo: int) -> dict[int, SpanDetail]:
        found: dict[int, SpanDetail] = {}
        for path in self.paths:
            try:
                data = load_bytes(path)
            except CaptureError:
                continue
            try:
                found.update(details_in_chunk(data, trace_hi, trace_lo) or {})
            finally:
                with contextlib.suppress(AttributeError, BufferError):
                    data.close()
        return found
