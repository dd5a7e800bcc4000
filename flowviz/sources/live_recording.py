"""Recording inside a live Kafka worker: switched on and off by the window, reported in the worker's status.

The file is the one `flowviz record` writes (`flowviz.sources.recording`), so `flowviz open` reads it
back and gives the graph the window showed from the moment recording started.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from flowviz.sources.recording import RecordingError, RecordingWriter


class LiveRecorder:
    """Appends every batch the worker reads to a recording while one is open; never raises on bad files."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.header = dict(header)
        self.path: str | None = None
        self.error = ""
        self.sessions = 0  # recordings asked for so far: the window tells its answer from an older one
        self.messages = 0
        self.bytes = 0  # the file's size (a recording appended to keeps what it had)
        self._writer: RecordingWriter | None = None

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def switch(self, path: str | None) -> None:
        """Start recording to `path` (appending if it is a recording already), or stop with None."""
        self.stop()
        if path is None:
            return
        self.sessions += 1
        self.path, self.error, self.messages, self.bytes = str(path), "", 0, 0
        try:
            writer = RecordingWriter(path, header={**self.header, "recorded_by": "flowviz live window"})
        except RecordingError as error:
            self.error = str(error)
            return
        except OSError as error:  # e.g. a full disk while writing the header
            self.error = f"{path}: {error.strerror or error}"
            return
        self._writer = writer
        try:
            self.bytes = os.path.getsize(path)
        except OSError:
            self.bytes = writer.bytes_written

    def append(self, messages: Sequence) -> None:
        """Write one batch (confluent_kafka Messages) with one write; a failing disk stops the recording."""
        if self._writer is None or not messages:
            return
        try:
            before = self._writer.bytes_written
            self._writer.append(messages)
        except OSError as error:
            self.error = f"{self.path}: {error.strerror or error}"
            self._close(sync=False)
            return
        self.messages += len(messages)
        self.bytes += self._writer.bytes_written - before

    def append_looks(self, looks: Sequence) -> None:
        """Write looks at the consumer groups (`GroupOffsets`), so the recording shows the groups' lag too."""
        if self._writer is None or not looks:
            return
        try:
            before = self._writer.bytes_written
            self._writer.append_looks(looks)
        except OSError as error:
            self.error = f"{self.path}: {error.strerror or error}"
            self._close(sync=False)
            return
        self.bytes += self._writer.bytes_written - before

    def stop(self) -> None:
        """Close the recording (synced to disk); the path stays known until the next switch."""
        self._close(sync=True)

    def _close(self, *, sync: bool) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.close(sync=sync)
        except OSError as error:
            self.error = self.error or f"{self.path}: {error.strerror or error}"

    def status(self) -> dict[str, Any]:
        """`{"active", "sessions", "path", "messages", "bytes", "error"}` for the status line (plain values)."""
        return {
            "active": self._writer is not None,
            "sessions": self.sessions,
            "path": self.path,
            "messages": self.messages,
            "bytes": self.bytes,
            "error": self.error,
        }
