"""Capture files: open (gzip transparently), detect the format from content, stream SpanBatches."""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import orjson

from flowviz.decoders import jaeger_deps
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.formats import FORMAT_NAMES as FORMAT_NAMES  # the table moved; its names stay importable here
from flowviz.decoders.formats import JSON_FORMATS as JSON_FORMATS
from flowviz.decoders.formats import OTLP_PROTO, TRIED, JsonFormat, detect_json_format, json_format
from flowviz.decoders.gc_pause import gc_paused
from flowviz.decoders.guard import guarded, guarded_group
from flowviz.decoders.json_split import split_document
from flowviz.decoders.otlp_proto import decode_otlp_proto, looks_like_otlp_proto
from flowviz.derive.consumption import GroupOffsets
from flowviz.model.event_batch import EventBatch
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.input_bytes import InputError, ReadLimits, limit_text, load_input
from flowviz.sources.recording import is_recording, recording_batches

DEFAULT_BATCH_SPANS = 50_000
WHOLE_DOCUMENT_BYTES = 16 << 20  # single JSON documents up to this size are parsed at once
PROTOBUF_GROUP_BYTES = 4 << 20  # protobuf frames are decoded together (one vectorised call) up to about this size
_SPLIT_KEYS = ("resourceSpans", "batches", "data")  # envelope keys whose arrays hold the payload
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark (Windows tools) that orjson refuses
UNMATCHED_DOCUMENTS = 1_000  # JSON values in no trace format before the first one that is: the file is none
EMPTY_FRAME_RUN = 1_000  # zero-length frames in a row: zeros, not frames


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
        limits: ReadLimits | None = None,
        workers: int = 1,
    ) -> None:
        self.path = Path(path)
        self.workers = workers
        self.problems = problems
        self.format_name = format_name
        self.batch_spans = batch_spans
        self.limits = limits if limits is not None else ReadLimits.from_environment()

    def __iter__(self) -> Iterator[SpanBatch | DependencyLinks | EventBatch | GroupOffsets | EdgeObservations]:
        data = load_bytes(self.path, self.problems, self.limits)
        label = str(self.path)
        if is_recording(data):  # `flowviz record` output: Kafka messages, decoded as live
            forced, self.format_name = self.format_name, "kafka_recording"
            yield from recording_batches(data, label, self.problems, format_name=forced, batch_spans=self.batch_spans)
            return
        if self.format_name == OTLP_PROTO or (
            self.format_name == "auto" and _looks_binary(data) and _is_protobuf(data)
        ):  # text that starts with no `{` or `[` is still tried as JSON lines: their first lines may be damaged
            self.format_name = OTLP_PROTO
            batches = self._in_parallel(data)
            yield from _read_protobuf(data, label, self.problems, self.batch_spans) if batches is None else batches
            return
        if self.format_name == "auto" and _looks_binary(data) and not _looks_like_text(data):
            raise CaptureError(f"{label}: not a trace file (tried {TRIED})")
        batches = self._in_parallel(data)
        yield from self._read_json(data, label) if batches is None else batches

    def _in_parallel(self, data) -> Iterator[SpanBatch] | None:
        """With `workers` > 1: the batches of a large capture decoded by that many processes (None: here)."""
        if self.workers <= 1:
            return None
        from flowviz.sources.parallel_capture import parallel_batches

        return parallel_batches(self, data, self.workers)

    def read_lines(self, data, start: int, end: int, first_number: int) -> Iterator[SpanBatch | DependencyLinks]:
        """Only the JSON lines in [start, end) of `data` (a region at line boundaries; `first_number` is the
        first one's line number), in this reader's format (a region after the first: the format already found)."""
        yield from self._read_json(data, str(self.path), iter_lines(data, start, end, first_number))

    def _read_json(self, data, label: str, lines=None) -> Iterator[SpanBatch | DependencyLinks]:
        problems, limits = self.problems, self.limits
        lines = json_lines(data, limits) if lines is None else lines
        builder = SpanBatchBuilder(problems)
        fast: list = [None]
        if lines is not None:
            documents = _documents_from_lines(lines, data, label, problems, builder, fast, limits)
        else:
            documents = _documents_from_document(data, label, problems, limits, self.format_name)
            try:
                documents = chain([next(documents)], documents)
            except StopIteration:
                documents = iter(())
            except _TryLines:
                lines = iter_lines(data)
                documents = _documents_from_lines(lines, data, label, problems, builder, fast, limits)
        chosen: JsonFormat | None = None
        unmatched = 0
        while True:
            with gc_paused():  # decoding creates no reference cycles: refcounting frees every document
                item = None
                for document, where in documents:
                    if chosen is None:
                        chosen = choose_format(document, self.format_name)
                        if chosen is None:  # a line in no format (`null`, `{}`, damage): look past it
                            unmatched += 1
                            if lines is None or unmatched >= UNMATCHED_DOCUMENTS:
                                raise CaptureError(f"{label}: not a trace file (tried {TRIED})")
                            problems.add("json: value in no trace format (skipped)", where)
                            continue
                        self.format_name = chosen.name
                        fast[0] = chosen.add_bytes
                    if not where:
                        pass  # the fast path took the line
                    elif chosen.add is None:
                        links = guarded(
                            problems, None, where, "json", jaeger_deps.read_dependencies, document, problems, where
                        )
                        item = DependencyLinks(links or [])
                        break
                    else:
                        guarded(problems, builder, where, chosen.name, chosen.add, document, builder, problems, where)
                    if len(builder) >= self.batch_spans:
                        item = builder.build()
                        break
            if item is None:
                break
            yield item
        if chosen is None:
            if unmatched:
                raise CaptureError(f"{label}: not a trace file (tried {TRIED})")
            raise CaptureError(f"{label}: no trace data in the file (tried {TRIED})")
        if len(builder):
            yield builder.build()


def load_bytes(path: Path, problems: Problems | None = None, limits: ReadLimits | None = None) -> bytes | mmap.mmap:
    """A capture's bytes within `limits`: mapped, or streamed / decompressed to a mapped temporary file."""
    try:
        return load_input(
            path, problems if problems is not None else Problems(), limits or ReadLimits.from_environment()
        )
    except InputError as error:
        raise CaptureError(f"{error} (tried {TRIED})" if str(error).endswith("empty") else str(error)) from error


def _first_byte(data: bytes | mmap.mmap) -> int:
    for byte in data[:4096]:
        if byte not in b" \t\r\n\xef\xbb\xbf":
            return byte
    return -1


def _looks_like_text(data: bytes | mmap.mmap) -> bool:
    """Mostly text in the first 64 kB (a damaged start may hold a few control bytes; zeros or binary do not pass)."""
    head = bytes(data[:65536])
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls * 10 <= len(head)


_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r")


def _looks_binary(data: bytes | mmap.mmap) -> bool:
    return _first_byte(data) not in (ord("{"), ord("["))


# -- protobuf -------------------------------------------------------------------------------


def _is_protobuf(data: bytes | mmap.mmap) -> bool:
    """Length-prefixed frames whose chain ends at the end of the file, a first frame that is OTLP, or (not
    framed) the whole file as one request."""
    frames = _frame_ranges(data, limit=2)
    if frames and frames[0][1] <= len(data) and looks_like_otlp_proto(bytes(data[frames[0][0] : frames[0][1]])):
        return True
    if _is_frame_chain(data):
        return True
    return len(data) <= WHOLE_DOCUMENT_BYTES * 4 and looks_like_otlp_proto(bytes(data))


def _is_frame_chain(data: bytes | mmap.mmap) -> bool:
    """True when two or more length prefixes lead exactly to the end of the file (or into a cut-off last frame):
    framed, even when the first frame is damaged (a single request almost never chains so)."""
    frames = _frame_ranges(data)
    whole = [frame for frame in frames if frame[1] <= len(data)]
    return len(whole) >= 2 and whole[-1][1] >= len(data) - 4


def _frame_ranges(data: bytes | mmap.mmap, *, limit: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each length-prefixed frame; the last may run past the end (truncated).

    Zero-length frames (empty requests) are skipped; a long run of them is zeros, not frames: the chain
    ends there (its frames are what comes before)."""
    ranges, offset, size, empty_run = [], 0, len(data), 0
    while offset + 4 <= size and (limit is None or len(ranges) < limit):
        length = int.from_bytes(data[offset : offset + 4], "big")
        if length == 0:
            empty_run += 1
            if empty_run >= EMPTY_FRAME_RUN:
                return ranges
            offset += 4
            continue
        empty_run = 0
        ranges.append((offset + 4, offset + 4 + length))
        offset += 4 + length
    if offset < size and offset + 4 > size:
        ranges.append((offset + 4, size + 1))  # a few stray bytes: a truncated frame header
    return ranges


@dataclass(frozen=True, slots=True)
class ProtobufFrames:
    """Where a protobuf capture's requests lie: (start, end) of each whole frame, or the whole file as one."""

    ranges: list[tuple[int, int]]
    is_framed: bool
    truncated_at: int | None  # the offset of a cut-off last frame's header (not in `ranges`)


def protobuf_frames(data, label: str, problems: Problems) -> ProtobufFrames:
    """The file's frames; zeros after the last whole frame are counted here."""
    frames = _frame_ranges(data)
    is_framed = bool(frames) and (
        (frames[0][1] <= len(data) and looks_like_otlp_proto(bytes(data[slice(*frames[0])]))) or _is_frame_chain(data)
    )
    if not is_framed:
        frames = [(0, len(data))]
    truncated = frames[-1][0] - 4 if frames[-1][1] > len(data) else None
    if truncated is not None:
        frames.pop()
    elif is_framed and frames[-1][1] < len(data) - 4:
        problems.add("otlp-proto: zeros where frames were expected; the rest is not read", f"{label}@{frames[-1][1]}")
    return ProtobufFrames(frames, is_framed, truncated)


def note_truncated_frame(frames: ProtobufFrames, label: str, problems: Problems) -> None:
    """Count a cut-off last frame (after everything before it was read)."""
    if frames.truncated_at is not None:
        problems.add("otlp-proto: truncated last frame (ignored)", f"{label}@{frames.truncated_at}")


def _read_protobuf(data, label: str, problems: Problems, batch_spans: int) -> Iterator[SpanBatch]:
    """The whole file's frames decoded in order; see `decode_frames`."""
    frames = protobuf_frames(data, label, problems)
    yield from decode_frames(data, frames.ranges, frames.is_framed, label, problems, batch_spans)
    note_truncated_frame(frames, label, problems)


def decode_frames(
    data, frames: list[tuple[int, int]], is_framed: bool, label: str, problems: Problems, batch_spans: int
) -> Iterator[SpanBatch]:
    """Frames decoded in groups (a few MB, or about the spans a batch still wants), a batch per `batch_spans`."""
    builder = SpanBatchBuilder(problems)

    def decode(messages: list, wheres: list[str], into: SpanBatchBuilder) -> int:
        return decode_otlp_proto(messages, into, problems, wheres)

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
            spans = guarded_group(
                problems,
                builder,
                "otlp-proto",
                decode,
                [data[start:end] for start, end in group],
                [f"{label}@{start - 4 if is_framed else 0}" for start, _ in group],
            )
            batch = builder.build() if len(builder) >= batch_spans else None
        decoded_bytes, decoded_spans, index = decoded_bytes + size, decoded_spans + spans, stop
        if batch is not None:
            yield batch
    if len(builder):
        with gc_paused():
            batch = builder.build()
        yield batch


# -- JSON -----------------------------------------------------------------------------------


def choose_format(document: object, format_name: str) -> JsonFormat | None:
    """The forced format, or the first whose recogniser accepts `document` (None: no format does)."""
    return json_format(format_name) if format_name != "auto" else detect_json_format(document)


def json_lines(data, limits: ReadLimits) -> Iterator[tuple[int, int, int]] | None:
    """The file's lines, lazily, when it is JSON lines (the first line a whole value, more after).

    A damaged first line does not hide JSON lines when the two lines after it are whole
    objects or arrays (a pretty-printed document never has two such lines in a row). A single
    document followed only by white space is never parsed here (it may be a large one to split).
    """
    first_end = data.find(b"\n", _first_non_space(data))
    if first_end < 0:
        return None
    if _only_space_after(data, first_end):
        return None  # one document (perhaps a large one, to split)
    if first_end > limits.line_bytes:  # one long line: lines if lines follow, or when it can be split
        if _whole_lines_follow(data, first_end + 1, 2) or _splittable(data):
            return iter_lines(data)
        return None
    try:
        orjson.loads(without_bom(data[:first_end]))
    except orjson.JSONDecodeError:
        if not _whole_lines_follow(data, first_end + 1, 2):
            return None
    return iter_lines(data)


def _first_non_space(data) -> int:
    head = bytes(data[:4096])
    return len(head) - len(head.lstrip(b" \t\r\n\xef\xbb\xbf"))


def without_bom(text: bytes) -> bytes:
    return text[3:] if text.startswith(_BOM) else text


def _whole_lines_follow(data, start: int, wanted: int, *, look_at: int | None = None) -> bool:
    """True when the next `wanted` non-empty lines from `start` each parse as an object or array (with
    `look_at`: when `wanted` of the next `look_at` non-empty lines do)."""
    size = len(data)
    tries = wanted if look_at is None else look_at
    while wanted and tries and start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end
        head = bytes(data[start : min(end, start + 64)]).lstrip()
        if head:
            tries -= 1
            whole = False
            if head[:1] in (b"{", b"[") and end - start <= 1 << 20:
                try:
                    whole = isinstance(orjson.loads(data[start:end]), dict | list)
                except orjson.JSONDecodeError:
                    whole = False
            if whole:
                wanted -= 1
            elif look_at is None:
                return False
        start = end + 1
    return wanted == 0


def iter_lines(data, start: int = 0, size: int | None = None, number: int = 1) -> Iterator[tuple[int, int, int]]:
    """(line number, start offset, end offset) of every line (from `start`, numbered from `number`, up to `size`)."""
    size = len(data) if size is None else size
    find = data.find
    while start < size:
        end = find(b"\n", start, size)
        end = size if end < 0 else end
        yield number, start, end
        start, number = end + 1, number + 1


def _only_space_after(data, offset: int, end: int | None = None) -> bool:
    """True when nothing but white space lies from `offset` to `end` (the end of the data), looked at in
    pieces: never a copy of the rest."""
    size = len(data) if end is None else end
    while offset < size:
        stop = min(offset + (1 << 20), size)
        if bytes(data[offset:stop]).strip():
            return False
        _release(data, offset, stop)
        offset = stop
    return True


def _content_end(data) -> int:
    """The offset after the last byte that is not white space (looked at from the end, in pieces)."""
    end = len(data)
    while end > 0:
        start = max(0, end - (1 << 20))
        piece = bytes(data[start:end]).rstrip()
        if piece:
            return start + len(piece)
        _release(data, start, end)
        end = start
    return 0


def _release(data, start: int, end: int) -> None:
    """Let the kernel drop mapped pages already looked at (they are read again from the file if needed)."""
    if isinstance(data, mmap.mmap):
        page = mmap.PAGESIZE
        first = (start + page - 1) // page * page
        if end > first:
            data.madvise(mmap.MADV_DONTNEED, first, min(end, len(data)) - first)


def _documents_from_lines(lines, data, label: str, problems: Problems, builder: SpanBatchBuilder, fast: list, limits):
    """Parsed documents of JSON lines. `fast[0]`, once the format is known, may take a line's bytes
    straight into the builder (returning None when it cannot), so that line yields nothing.
    A line over the limit is split into its envelope's elements when it can be, else skipped and counted."""
    for number, start, end in lines:
        where = f"{label}:{number}"
        if end - start > limits.line_bytes:
            yield from _oversized_line(data, start, end, where, problems, limits)
            continue
        line = data[start:end]
        if (
            fast[0] is not None
            and guarded(problems, builder, where, "json", fast[0], line, builder, where, failed=0) is not None
        ):
            yield None, ""
            continue
        try:
            document = orjson.loads(without_bom(line) if number == 1 else line)
        except orjson.JSONDecodeError as error:
            if not line.strip():
                continue
            reason = (
                "json: last line is cut off (ignored)"
                if _only_space_after(data, end)
                else "json: line is not valid JSON"
            )
            problems.add(reason, f"{where} ({str(error).split(':')[0]})")
            continue
        yield document, where


def _oversized_line(data, start: int, end: int, where: str, problems: Problems, limits: ReadLimits):
    if _only_space_after(data, start, end):
        return
    view = memoryview(data)[start:end]
    if _splittable(view):
        yield from _split_groups(view, where, problems, offset=start)
        return
    problems.add(
        f"json: line longer than the {limit_text(limits.line_bytes)} limit (skipped; FLOWVIZ_MAX_LINE_MB raises it)",
        f"{where} ({end - start:,} bytes)",
    )


class _TryLines(Exception):
    """A document that does not parse, with whole JSON lines in it: read it as JSON lines."""


def _documents_from_document(
    data, label: str, problems: Problems, limits: ReadLimits, format_name: str = "auto"
) -> Iterator[tuple[object, str]]:
    end = _content_end(data)
    content = memoryview(data)[:end] if end < len(data) else data  # trailing white space is never read again
    forced = format_name != "auto"
    if end <= WHOLE_DOCUMENT_BYTES or not _splittable(data):
        if end > limits.line_bytes and not _splittable(data):
            raise CaptureError(
                f"{label}: one JSON document of {end:,} bytes that cannot be read in parts, over the "
                f"{limit_text(limits.line_bytes)} limit (FLOWVIZ_MAX_LINE_MB raises it)"
            )
        try:
            document = orjson.loads(without_bom(bytes(content)))
        except orjson.JSONDecodeError as error:
            if not _splittable(data):
                if _whole_lines_follow(data, 0, 1, look_at=1_000):
                    raise _TryLines from error  # JSON lines whose first lines are damaged
                if not forced and _first_byte(data) not in (
                    ord("{"),
                    ord("["),
                ):  # not even JSON: neither binary nor any format
                    raise CaptureError(f"{label}: not a trace file (tried {TRIED})") from error
                raise CaptureError(f"{label}: not valid JSON ({error})") from error
            # cut off (a killed writer) or damaged: the whole elements before the damage are read below
        else:
            yield document, label
            return
    yield from _split_groups(content, label, problems)


def _split_groups(data, label: str, problems: Problems, *, offset: int = 0) -> Iterator[tuple[object, str]]:
    """The documents of a large array or envelope, a group of elements at a time."""
    try:
        for group in split_document(data):
            if group.key is not None and group.key not in _SPLIT_KEYS:
                continue
            where = f"{label}@{offset + group.first_offset}"
            try:
                elements = orjson.loads(group.array_json)
            except orjson.JSONDecodeError:
                problems.add("json: malformed elements skipped", where, count=group.count)
                continue
            yield (elements if group.key is None else {group.key: elements}), where
    except ValueError as error:
        problems.add(f"json: {error}", label)


_ENVELOPE = re.compile(rb'^\s*\{\s*"(resourceSpans|batches|data)"\s*:\s*\[')


def _splittable(data) -> bool:
    """Large documents are split when their payload is an array: a top-level array or an envelope key."""
    head = bytes(data[:4096]).lstrip(b" \t\r\n\xef\xbb\xbf")
    return head.startswith(b"[") or _ENVELOPE.match(head) is not None
