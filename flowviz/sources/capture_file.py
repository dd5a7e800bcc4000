"""Capture files: open (gzip transparently), detect the format from content, stream SpanBatches."""

from __future__ import annotations

import gc
import gzip
import mmap
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from flowviz.decoders import jaeger_deps
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.formats import FORMAT_NAMES as FORMAT_NAMES  # the table moved; its names stay importable here
from flowviz.decoders.formats import JSON_FORMATS as JSON_FORMATS
from flowviz.decoders.formats import OTLP_PROTO, TRIED, JsonFormat, detect_json_format, json_format
from flowviz.decoders.json_split import split_document
from flowviz.decoders.otlp_proto import looks_like_otlp_proto
from flowviz.decoders.otlp_proto_fast import decode_otlp_proto
from flowviz.derive.consumption import GroupOffsets
from flowviz.derive.observations import EdgeObservations
from flowviz.model.event_batch import EventBatch
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.recording import is_recording, recording_batches

DEFAULT_BATCH_SPANS = 50_000
WHOLE_DOCUMENT_BYTES = 16 << 20  # single JSON documents up to this size are parsed at once
PROTOBUF_GROUP_BYTES = 4 << 20  # protobuf frames are decoded together (one vectorised call) up to about this size
_SPLIT_KEYS = ("resourceSpans", "batches", "data")  # envelope keys whose arrays hold the payload
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark (Windows tools) that orjson refuses


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk decode: the many short-lived objects of parsed
    documents otherwise trigger collections that scan every live container (a quarter of the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class CaptureError(Exception):
    """A file flowviz cannot read at all (missing, unreadable, or not a trace format)."""


@dataclass(frozen=True, slots=True)
class DependencyLinks:
    """Topology without time: (parent, child, call count) rows from a Jaeger dependency list."""

    links: list[tuple[str, str, int]]


class CaptureReader:
    """One capture file streamed as span batches (or dependency links, or a recording's business events);
    bad parts counted in `problems`.

    Iterating raises `CaptureError` when the file cannot be opened or is no trace format at all.
    `format_name` holds the detected (or forced) format once iteration has started.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        problems: Problems,
        format_name: str = "auto",
        batch_spans: int = DEFAULT_BATCH_SPANS,
    ) -> None:
        self.path = Path(path)
        self.problems = problems
        self.format_name = format_name
        self.batch_spans = batch_spans

    def __iter__(self) -> Iterator[SpanBatch | DependencyLinks | EventBatch | GroupOffsets | EdgeObservations]:
        data = load_bytes(self.path)
        label = str(self.path)
        if is_recording(data):  # `flowviz record` output: Kafka messages, decoded as live
            forced, self.format_name = self.format_name, "kafka_recording"
            yield from recording_batches(data, label, self.problems, format_name=forced, batch_spans=self.batch_spans)
            return
        if self.format_name == OTLP_PROTO or (self.format_name == "auto" and _looks_binary(data)):
            if self.format_name == "auto" and not _is_protobuf(data):
                raise CaptureError(f"{label}: not a trace file (tried {TRIED})")
            self.format_name = OTLP_PROTO
            yield from _read_protobuf(data, label, self.problems, self.batch_spans)
            return
        yield from self._read_json(data, label)

    def _read_json(self, data, label: str) -> Iterator[SpanBatch | DependencyLinks]:
        lines = _json_lines(data)
        builder = SpanBatchBuilder(self.problems)
        fast: list = [None]
        if lines is not None:
            documents = _documents_from_lines(lines, data, label, self.problems, builder, fast)
        else:
            documents = _documents_from_document(data, label, self.problems)
        chosen: JsonFormat | None = None
        while True:
            with gc_paused():  # decoding creates no reference cycles: refcounting frees every document
                item = None
                for document, where in documents:
                    if chosen is None:
                        chosen = _choose_format(document, self.format_name, label)
                        self.format_name = chosen.name
                        fast[0] = chosen.add_bytes
                    if not where:
                        pass  # the fast path took the line
                    elif chosen.add is None:
                        item = DependencyLinks(jaeger_deps.read_dependencies(document, self.problems, where))
                        break
                    else:
                        chosen.add(document, builder, self.problems, where)
                    if len(builder) >= self.batch_spans:
                        item = builder.build()
                        break
            if item is None:
                break
            yield item
        if chosen is None:
            raise CaptureError(f"{label}: no trace data in the file (tried {TRIED})")
        if len(builder):
            yield builder.build()


def load_bytes(path: Path) -> bytes | mmap.mmap:
    """A capture's bytes: mapped, or decompressed to a mapped temporary file when gzipped."""
    try:
        with path.open("rb") as file:
            head = file.read(2)
            if head == b"\x1f\x8b":
                file.seek(0)
                return _gunzip_to_map(file, path)
            if not head:
                raise CaptureError(f"{path}: the file is empty (tried {TRIED})")
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as error:
        raise CaptureError(f"{path}: {error.strerror or error}") from error


def _gunzip_to_map(file, path: Path) -> mmap.mmap | bytes:
    """Decompress into an anonymous temporary file and map it: a large capture never sits in memory."""
    with tempfile.TemporaryFile(prefix="flowviz-") as plain:
        try:
            shutil.copyfileobj(gzip.GzipFile(fileobj=file), plain, length=1 << 20)
        except (OSError, EOFError, zlib.error) as error:
            raise CaptureError(f"{path}: damaged gzip data ({error})") from error
        if plain.tell() == 0:
            raise CaptureError(f"{path}: the file is empty (tried {TRIED})")
        plain.flush()
        return mmap.mmap(plain.fileno(), 0, access=mmap.ACCESS_READ)


def _first_byte(data: bytes | mmap.mmap) -> int:
    for byte in data[:4096]:
        if byte not in b" \t\r\n\xef\xbb\xbf":
            return byte
    return -1


def _looks_binary(data: bytes | mmap.mmap) -> bool:
    return _first_byte(data) not in (ord("{"), ord("["))


# -- protobuf -------------------------------------------------------------------------------


def _is_protobuf(data: bytes | mmap.mmap) -> bool:
    frames = _frame_ranges(data, limit=2)
    if frames and frames[0][1] <= len(data):
        return looks_like_otlp_proto(bytes(data[frames[0][0] : frames[0][1]]))
    return looks_like_otlp_proto(bytes(data))


def _frame_ranges(data: bytes | mmap.mmap, *, limit: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each length-prefixed frame; the last may run past the end (truncated)."""
    ranges, offset, size = [], 0, len(data)
    while offset + 4 <= size and (limit is None or len(ranges) < limit):
        length = int.from_bytes(data[offset : offset + 4], "big")
        if length == 0:
            return []
        ranges.append((offset + 4, offset + 4 + length))
        offset += 4 + length
    if offset < size and offset + 4 > size:
        ranges.append((offset + 4, size + 1))  # a few stray bytes: a truncated frame header
    return ranges


def _read_protobuf(data, label: str, problems: Problems, batch_spans: int) -> Iterator[SpanBatch]:
    """Frames decoded in groups (a few MB, or about the spans a batch still wants), a batch per `batch_spans`."""
    builder = SpanBatchBuilder(problems)
    frames = _frame_ranges(data)
    is_framed = bool(frames) and frames[0][1] <= len(data) and looks_like_otlp_proto(bytes(data[slice(*frames[0])]))
    if not is_framed:
        frames = [(0, len(data))]
    truncated = frames[-1][0] if frames[-1][1] > len(data) else None
    if truncated is not None:
        frames.pop()
    decoded_bytes = decoded_spans = 0
    probe_bytes = 0  # until spans are seen: groups of one frame, then of doubling size
    index = 0
    while index < len(frames):
        wanted = batch_spans - len(builder)
        if decoded_spans:
            limit = min(PROTOBUF_GROUP_BYTES, wanted * decoded_bytes / decoded_spans)
        else:
            limit, probe_bytes = probe_bytes, min(max(2 * probe_bytes, 64 << 10), PROTOBUF_GROUP_BYTES)
        stop, size = index + 1, frames[index][1] - frames[index][0]
        while stop < len(frames) and size < limit:  # the frame expected to fill the batch is taken too
            size += frames[stop][1] - frames[stop][0]
            stop += 1
        group = frames[index:stop]
        with gc_paused():
            spans = decode_otlp_proto(
                [data[start:end] for start, end in group],
                builder,
                problems,
                [f"{label}@{start - 4 if is_framed else 0}" for start, _ in group],
            )
            batch = builder.build() if len(builder) >= batch_spans else None
        decoded_bytes, decoded_spans, index = decoded_bytes + size, decoded_spans + spans, stop
        if batch is not None:
            yield batch
    if truncated is not None:
        problems.add("otlp-proto: truncated last frame (ignored)", f"{label}@{truncated - 4}")
    if len(builder):
        with gc_paused():
            batch = builder.build()
        yield batch


# -- JSON -----------------------------------------------------------------------------------


def _choose_format(document: object, format_name: str, label: str) -> JsonFormat:
    if format_name != "auto":
        return json_format(format_name)
    chosen = detect_json_format(document)
    if chosen is None:
        raise CaptureError(f"{label}: not a trace file (tried {TRIED})")
    return chosen


def _json_lines(data) -> Iterator[tuple[int, bytes, bool]] | None:
    """The file's lines, lazily, when it is JSON lines (the first line a whole value, more after).

    A damaged first line does not hide JSON lines when the two lines after it are whole
    objects or arrays (a pretty-printed document never has two such lines in a row). A single
    document followed only by white space is never parsed here (it may be a large one to split).
    """
    first_end = data.find(b"\n", _first_non_space(data))
    if first_end < 0:
        return None
    if not data[first_end : first_end + 65536].strip() and not bytes(data[first_end:]).strip():
        return None
    try:
        orjson.loads(_without_bom(data[:first_end]))
    except orjson.JSONDecodeError:
        if not _whole_lines_follow(data, first_end + 1, 2):
            return None
    return _iter_lines(data)


def _first_non_space(data) -> int:
    head = bytes(data[:4096])
    return len(head) - len(head.lstrip(b" \t\r\n\xef\xbb\xbf"))


def _without_bom(text: bytes) -> bytes:
    return text[3:] if text.startswith(_BOM) else text


def _whole_lines_follow(data, start: int, wanted: int) -> bool:
    """True when the next `wanted` non-empty lines from `start` each parse as an object or array."""
    size = len(data)
    while wanted and start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end
        head = bytes(data[start : min(end, start + 64)]).lstrip()
        if head:
            if head[:1] not in (b"{", b"["):
                return False
            try:
                if not isinstance(orjson.loads(data[start:end]), dict | list):
                    return False
            except orjson.JSONDecodeError:
                return False
            wanted -= 1
        start = end + 1
    return wanted == 0


def _iter_lines(data) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line, offset just past it) for every line."""
    start, number, size = 0, 1, len(data)
    find = data.find
    while start < size:
        end = find(b"\n", start)
        end = size if end < 0 else end
        yield number, data[start:end], end
        start, number = end + 1, number + 1


def _only_space_after(data, offset: int) -> bool:
    return not data[offset : offset + 4096].strip() and not bytes(data[offset:]).strip()


def _documents_from_lines(lines, data, label: str, problems: Problems, builder: SpanBatchBuilder, fast: list):
    """Parsed documents of JSON lines. `fast[0]`, once the format is known, may take a line's bytes
    straight into the builder (returning None when it cannot), so that line yields nothing."""
    for number, line, end in lines:
        if fast[0] is not None and fast[0](line, builder, f"{label}:{number}") is not None:
            yield None, ""
            continue
        try:
            document = orjson.loads(_without_bom(line) if number == 1 else line)
        except orjson.JSONDecodeError as error:
            if not line.strip():
                continue
            reason = (
                "json: last line is cut off (ignored)"
                if _only_space_after(data, end)
                else "json: line is not valid JSON"
            )
            problems.add(reason, f"{label}:{number} ({str(error).split(':')[0]})")
            continue
        yield document, f"{label}:{number}"


def _documents_from_document(data, label: str, problems: Problems) -> Iterator[tuple[object, str]]:
    if len(data) <= WHOLE_DOCUMENT_BYTES or not _splittable(data):
        try:
            document = orjson.loads(_without_bom(bytes(data)))
        except orjson.JSONDecodeError as error:
            if not _splittable(data):
                raise CaptureError(f"{label}: not valid JSON ({error})") from error
            # cut off (a killed writer) or damaged: the whole elements before the damage are read below
        else:
            yield document, label
            return
    try:
        for group in split_document(data):
            if group.key is not None and group.key not in _SPLIT_KEYS:
                continue
            try:
                elements = orjson.loads(group.array_json)
            except orjson.JSONDecodeError:
                problems.add("json: malformed elements skipped", f"{label}@{group.first_offset}", count=group.count)
                continue
            yield (elements if group.key is None else {group.key: elements}), f"{label}@{group.first_offset}"
    except ValueError as error:
        problems.add(f"json: {error}", label)


_ENVELOPE = re.compile(rb'^\s*\{\s*"(resourceSpans|batches|data)"\s*:\s*\[')


def _splittable(data) -> bool:
    """Large documents are split when their payload is an array: a top-level array or an envelope key."""
    head = bytes(data[:4096]).lstrip(b" \t\r\n\xef\xbb\xbf")
    return head.startswith(b"[") or _ENVELOPE.match(head) is not None
