"""Capture files as a `Source`: each file's batches in turn (a large one decoded by several processes)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowviz.model.problems import Problems
from flowviz.sources.capture_file import CaptureError, CaptureReader
from flowviz.sources.raw_inputs import CaptureFiles
from flowviz.sources.source import FormatFound, SourceItem, Unreadable
from flowviz.store.drill_down import DrillDownStore


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    """Capture files, bulk-loaded as fast as they decode (a large one by `workers` decoding processes)."""

    paths: tuple[str, ...]
    format_name: str = "auto"
    workers: int = 1


class CaptureSource:
    """The captures at `paths`, read one after the other; a file that cannot be read is yielded as `Unreadable`."""

    def __init__(
        self, paths: Iterable[str | Path], *, problems: Problems, format_name: str = "auto", workers: int = 1
    ) -> None:
        self.paths = list(paths)
        self.problems = problems
        self.format_name = format_name
        self.workers = workers

    @classmethod
    def from_spec(cls, spec: CaptureSpec, *, problems: Problems) -> CaptureSource:
        return cls(spec.paths, problems=problems, format_name=spec.format_name, workers=spec.workers)

    def batches(self) -> Iterator[SourceItem]:
        if self.workers > 1:
            # multiprocessing refuses children to a daemonic process (they would outlive it when it is terminated);
            # the decoding workers end with this process (`parallel_capture.start_decode_worker`), so it may have them
            multiprocessing.current_process().daemon = False
        for path in self.paths:
            reader = CaptureReader(path, problems=self.problems, format_name=self.format_name, workers=self.workers)
            try:
                yield from reader
            except CaptureError as error:
                yield Unreadable(str(path), str(error))
            else:
                yield FormatFound(str(path), reader.format_name)

    def status(self) -> dict[str, Any]:
        return {}  # loaded or spans per second: the window's counts say it

    def problem_counts(self) -> dict[str, dict[str, object]]:
        return self.problems.as_dict()

    def drill_down(self) -> DrillDownStore:
        details = DrillDownStore(max_time_share=1.0)  # files wait for their reader: every trace may be kept
        details.raw_spans = CaptureFiles([str(path) for path in self.paths]).span_details
        return details
