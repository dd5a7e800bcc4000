"""Large captures decoded by several processes: regions cut at frame or line boundaries, batches merged in file order.

Decoding (bytes -> `SpanBatch`) is spread over a pool of worker processes; deriving stays in one place
(the caller's `EdgeDeriver`), fed the regions' batches in file order, so the graph is the one a single
process derives. Each worker maps the file itself (with `fork` it shares the caller's mapping, so a
gzip decompressed once, or a pipe read once, is shared too); at most `2 × workers` regions are in
flight, so memory stays bounded whatever the file's size. Problems found in a region are counted
at their place in the file (`file@offset`, `file:line`) and merged in file order.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from flowviz.decoders.formats import OTLP_PROTO
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.allocator import keep_freed_memory
from flowviz.sources.capture_file import (
    UNMATCHED_DOCUMENTS,
    CaptureError,
    CaptureReader,
    ProtobufFrames,
    choose_format,
    decode_frames,
    iter_lines,
    json_lines,
    load_bytes,
    note_truncated_frame,
    protobuf_frames,
    without_bom,
)
from flowviz.sources.decode_pool import LostJob, WorkerDeath, ordered_results
from flowviz.sources.input_bytes import GZIP_MAGIC, ReadLimits

MAX_DEFAULT_WORKERS = 8  # the default worker count: the cores this process may use, at most this many
MIN_PARALLEL_BYTES = 16 << 20  # smaller captures are decoded in one process (starting workers costs more)
PROTOBUF_REGION_BYTES = 8 << 20  # regions at most about this size: ~35 000 spans of typical OTLP
JSON_REGION_BYTES = 16 << 20  # ~30 000 spans of typical OTLP JSON
IN_FLIGHT_PER_WORKER = 2  # regions handed out ahead of the one being merged, per worker
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


def default_workers() -> int:
    """The cores this process may run on, at most `MAX_DEFAULT_WORKERS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


@dataclass(frozen=True, slots=True)
class RegionTask:
    """One region of a capture for a worker: frames of a protobuf capture, or a range of JSON lines."""

    path: str
    limits: ReadLimits
    batch_spans: int
    frames: list[tuple[int, int]] | None = None  # protobuf: the region's frames (absolute offsets)
    is_framed: bool = True
    format_name: str = "auto"  # JSON lines: the format (the first region: as the reader was asked)
    start: int = 0  # JSON lines: [start, end) at line boundaries, the first line numbered `first_line`
    end: int = 0
    first_line: int = 1


@dataclass(slots=True)
class RegionResult:
    """A decoded region: its batches in order and what was skipped in it."""

    batches: list[SpanBatch]
    problems: Problems


_mapped: dict[str, object] = {}  # per process: a capture's bytes (a fork-started worker inherits its parent's)


def _capture_bytes(path: str, limits: ReadLimits):
    data = _mapped.get(path)
    if data is None:
        data = _mapped[path] = load_bytes(Path(path), Problems(), limits)
    return data


def decode_region(task: RegionTask) -> RegionResult:
    """A worker's job: decode one region into batches (runs in the pool's processes)."""
    problems = Problems()
    data = _capture_bytes(task.path, task.limits)
    if task.frames is not None:
        batches = list(decode_frames(data, task.frames, task.is_framed, task.path, problems, task.batch_spans))
        return RegionResult(batches, problems)
    reader = CaptureReader(
        task.path, problems=problems, format_name=task.format_name, batch_spans=task.batch_spans, limits=task.limits
    )
    try:
        batches = [b for b in reader.read_lines(data, task.start, task.end, task.first_line) if len(b)]
    except CaptureError:
        if task.start == 0:
            raise
        batches = []  # only blank lines in this region
    return RegionResult(batches, problems)


def start_decode_worker() -> None:
    """A pool worker's first step: it ends with its parent, and keeps freed memory for its next region."""
    end_with_parent()
    keep_freed_memory()


def end_with_parent() -> None:
    """On Linux, ask the kernel to end this process when its parent ends (however abruptly, a window's
    terminated capture worker too), so no decoder is left behind."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start_method(path: Path, data) -> str | None:
    """`fork` where it is safe (one thread; workers then share the mapped bytes), else `spawn` when a worker
    can map the file itself (a regular file, not gzip); None: decode in this process."""
    if multiprocessing.current_process().daemon:
        return None  # a daemonic process may not start workers
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    try:
        with path.open("rb") as file:
            plain = path.is_file() and file.read(2) != GZIP_MAGIC
    except OSError:
        return None
    return "spawn" if plain and os.path.getsize(path) == len(data) else None


def _merged(
    tasks: Iterator[RegionTask], method: str, workers: int, problems: Problems, path: str
) -> Iterator[SpanBatch]:
    def report(death: WorkerDeath) -> None:
        where = f"{path}@{region_where(death.job)}"
        if death.retried:
            problems.add(f"decode worker died ({death.death}): its region was decoded again in a fresh worker", where)
        else:
            problems.add(f"decode worker died again ({death.death}): the spans of its region are missing", where)

    try:
        for result in ordered_results(
            tasks,
            decode_region,
            method=method,
            workers=workers,
            ahead=workers * IN_FLIGHT_PER_WORKER,
            on_death=report,
            initializer=start_decode_worker,
        ):
            if not isinstance(result, LostJob):
                yield from _take(result, problems)
    finally:
        _mapped.pop(path, None)


def region_where(task: RegionTask) -> str:
    """A region's place in its capture: `bytes 0–8388608 (12 frames)`, `bytes 0–16777216 (lines 1–30211)`."""
    if task.frames is not None:
        count = len(task.frames)
        return f"bytes {task.frames[0][0]}–{task.frames[-1][1]} ({count} frame{'s' if count != 1 else ''})"
    return f"bytes {task.start}–{task.end} (from line {task.first_line})"


def _take(result: RegionResult, problems: Problems) -> list[SpanBatch]:
    problems.merge(result.problems)
    return result.batches


def parallel_batches(reader: CaptureReader, data, workers: int) -> Iterator[SpanBatch] | None:
    """The capture's span batches decoded by `workers` processes, in file order; None when this capture is
    read in one process (small, one worker, not protobuf frames or JSON lines of spans, no way to share it)."""
    if workers <= 1 or len(data) < MIN_PARALLEL_BYTES:
        return None
    method = _start_method(reader.path, data)
    if method is None:
        return None
    label = str(reader.path)
    if reader.format_name == OTLP_PROTO:
        tasks = _protobuf_regions(reader, protobuf_frames(data, label, reader.problems), label, workers)
    else:
        tasks = _json_line_tasks(reader, data, workers)
        if tasks is None:
            return None
    if method == "fork":
        _mapped[label] = data  # the workers, forked with the pool, inherit the mapping
    return _merged(tasks, method, workers, reader.problems, label)


def region_bytes(total_bytes: int, largest_bytes: int, workers: int) -> int:
    """The size of a capture's regions: equal ones, at most `largest_bytes`, as many as a multiple of `workers`,
    so every worker decodes the same share (8 MB regions of 44 MB gave one of 2 workers 3 whole regions and
    the other 2 and a half, and the capture took as long as the first)."""
    count = -(-total_bytes // max(largest_bytes, 1))
    count = -(-count // workers) * workers
    return max(1, -(-total_bytes // count))


def _protobuf_regions(reader: CaptureReader, frames: ProtobufFrames, label: str, workers: int) -> Iterator[RegionTask]:
    ranges, first = frames.ranges, 0
    wanted = region_bytes(ranges[-1][1] - ranges[0][0], PROTOBUF_REGION_BYTES, workers) if ranges else 1
    cut = ranges[0][0] + wanted if ranges else 0  # a region ends with the frame that reaches its cut
    while first < len(ranges):
        last = first + 1
        while last < len(ranges) and ranges[last - 1][1] < cut:
            last += 1
        yield RegionTask(label, reader.limits, reader.batch_spans, frames=ranges[first:last], is_framed=True)
        while cut <= ranges[last - 1][1]:  # the next cut past this region (a frame may be larger than a region)
            cut += wanted
        first = last
    note_truncated_frame(frames, label, reader.problems)  # after every frame before it, as in one process


def _json_line_tasks(reader: CaptureReader, data, workers: int) -> Iterator[RegionTask] | None:
    """Regions of JSON lines once the format is known from the first lines; None when the file is not JSON
    lines of spans (a single document, a dependency list, a format that takes no lines)."""
    if json_lines(data, reader.limits) is None:
        return None
    for seen, (number, start, end) in enumerate(iter_lines(data)):
        if seen >= UNMATCHED_DOCUMENTS or end - start > reader.limits.line_bytes:
            return None  # the one-process reader says why (no format, or a long line to split first)
        try:
            document = orjson.loads(without_bom(data[start:end]) if number == 1 else data[start:end])
        except orjson.JSONDecodeError:
            continue
        chosen = choose_format(document, reader.format_name)
        if chosen is not None:
            break
    else:
        return None
    if chosen.add is None:
        return None  # dependency links: small, and not span batches
    first_format, reader.format_name = reader.format_name, chosen.name
    wanted = region_bytes(len(data), JSON_REGION_BYTES, workers)
    return _json_regions(reader, data, first_format, chosen.name, end, wanted)


def _json_regions(
    reader: CaptureReader, data, first_format: str, format_name: str, first_match_end: int, wanted_bytes: int
) -> Iterator[RegionTask]:
    """Regions of about `wanted_bytes` at line starts (the first one past the first line in the format)."""
    label, size = str(reader.path), len(data)
    view = np.frombuffer(data, np.uint8)
    start, line, cut = 0, 1, wanted_bytes  # a region ends with the line that reaches its cut
    while start < size:
        newline = data.find(b"\n", max(cut - 1, first_match_end if start == 0 else 0))
        end = size if newline < 0 else newline + 1
        while cut <= end:  # the next cut past this region (a line may be longer than a region)
            cut += wanted_bytes
        yield RegionTask(
            label,
            reader.limits,
            reader.batch_spans,
            format_name=first_format if start == 0 else format_name,
            start=start,
            end=end,
            first_line=line,
        )
        line += int(np.count_nonzero(view[start:end] == 10))
        start = end
