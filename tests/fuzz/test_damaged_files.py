"""Whole files are not rejected for one bad part: formats found past a bad start, odd files, bounded memory."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from flowviz.bench.encode import otlp_json_lines, otlp_proto_frames
from flowviz.bench.synthetic import synthetic_traces
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.capture_file import CaptureError, CaptureReader
from flowviz.sources.input_bytes import ReadLimits
from flowviz.sources.recording import RECORDING_MAGIC, _frame, is_recording


def _traces():
    return list(synthetic_traces(spans=300, services=8, seed=5))


def _read(path: Path, **options) -> tuple[str, int, Problems]:
    problems = Problems()
    reader = CaptureReader(path, problems=problems, **options)
    spans = sum(len(item) for item in reader if isinstance(item, SpanBatch))
    return reader.format_name, spans, problems


def _lines() -> list[bytes]:
    return otlp_json_lines(_traces(), spans_per_request=50).rstrip(b"\n").split(b"\n")


def _spans_of(lines: list[bytes]) -> int:
    return sum(len(s["spans"]) for line in lines for r in orjson.loads(line)["resourceSpans"] for s in r["scopeSpans"])


@pytest.mark.parametrize(
    "start",
    [[b"null"], [b"{}"], [b"[]"], [b'{"resourceSp'], [b"\x00\x01garbage", b'{"cut":'], [b"42", b'"text"']],
    ids=["null", "empty-object", "empty-array", "cut-line", "two-damaged-lines", "two-scalars"],
)
def test_json_lines_with_a_bad_start_are_read_past_it(tmp_path: Path, start: list[bytes]) -> None:
    lines = _lines()
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join([*start, *lines]) + b"\n")
    fmt, spans, problems = _read(path)
    assert (fmt, spans) == ("otlp_json", _spans_of(lines))
    assert problems.total == len(start)  # each bad line counted
    assert all(loc.startswith(f"{path}:") for e in problems.as_dict().values() for loc in e["first"])


def test_a_file_of_json_values_in_no_format_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps({"level": "info", "n": i}) for i in range(50)) + b"\n")
    with pytest.raises(CaptureError, match="not a trace file"):
        _read(path)


def _frames_of(traces) -> list[bytes]:
    data, frames, offset = otlp_proto_frames(traces, spans_per_request=50), [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        frames.append(data[offset : offset + 4 + length])
        offset += 4 + length
    return frames


def test_zero_length_frames_anywhere_are_empty_requests(tmp_path: Path) -> None:
    frames = _frames_of(_traces())
    path = tmp_path / "spans.pb"
    empty = b"\x00\x00\x00\x00"
    path.write_bytes(empty + frames[0] + empty + b"".join(frames[1:3]) + empty + b"".join(frames[3:]) + empty)
    fmt, spans, problems = _read(path)
    assert (fmt, spans, problems.total) == ("otlp_proto", 300, 0)


def test_a_damaged_first_frame_loses_only_that_frame(tmp_path: Path) -> None:
    frames = _frames_of(_traces())
    first = bytearray(frames[0])
    first[4:40] = b"\xff" * 36  # the length prefix intact, the request inside damaged
    path = tmp_path / "spans.pb"
    path.write_bytes(bytes(first) + b"".join(frames[1:]))
    fmt, spans, problems = _read(path)
    assert fmt == "otlp_proto"
    assert 300 - 80 <= spans < 300  # the other frames whole
    assert any(f"{path}@0" in loc for e in problems.as_dict().values() for loc in e["first"])


def test_a_procfs_file_is_read(tmp_path: Path) -> None:
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0  # says it is empty, has content
    with pytest.raises(CaptureError, match=r"not a trace file|not valid JSON"):
        _read(status)  # read (no mmap error), and it is no trace


def test_a_fifo_is_read_and_one_without_a_writer_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "spans.fifo"
    os.mkfifo(fifo)
    data = otlp_json_lines(_traces(), spans_per_request=50)

    def write() -> None:
        with open(fifo, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    fmt, spans, _ = _read(fifo)
    writer.join(5)
    assert (fmt, spans) == ("otlp_json", 300)
    with pytest.raises(CaptureError, match=r"nothing arrived within 0\.5 s"):
        _read(fifo, limits=ReadLimits(idle_s=0.5))


def test_a_line_over_the_limit_is_skipped_and_named_unless_it_can_be_split(tmp_path: Path) -> None:
    lines = _lines()
    jaeger_like = b'{"traceID":"ab","spans":[' + b",".join([b'{"x":"' + b"y" * 1000 + b'"}'] * 40) + b"]}"
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join([lines[0], jaeger_like, *lines[1:]]) + b"\n")
    limits = ReadLimits(line_bytes=len(jaeger_like) - 1)
    fmt, spans, problems = _read(path, limits=limits)
    assert (fmt, spans) == ("otlp_json", _spans_of(lines))
    (reason,) = problems.as_dict()
    assert reason.startswith("json: line longer than the")
    assert "FLOWVIZ_MAX_LINE_MB" in reason
    # an envelope line over the limit is read in parts
    merged = orjson.loads(lines[0])
    for line in lines[1:]:
        merged["resourceSpans"] += orjson.loads(line)["resourceSpans"]
    path.write_bytes(orjson.dumps(merged) + b"\n" + lines[0] + b"\n")
    fmt, spans, problems = _read(path, limits=ReadLimits(line_bytes=len(lines[0]) + 10))
    assert (fmt, spans, problems.total) == ("otlp_json", _spans_of(lines) + _spans_of(lines[:1]), 0)


def test_a_gzip_over_the_input_limit_reads_its_first_part_and_says_so(tmp_path: Path) -> None:
    data = otlp_json_lines(_traces(), spans_per_request=50)
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(data))
    limit = data.index(b"\n", len(data) // 2) + 1
    fmt, spans, problems = _read(path, limits=ReadLimits(input_bytes=limit))
    assert fmt == "otlp_json"
    assert spans == _spans_of(data[:limit].rstrip(b"\n").split(b"\n"))
    assert any("FLOWVIZ_MAX_INPUT_MB" in reason for reason in problems.as_dict())


def test_a_recording_whose_header_is_no_object_is_read(tmp_path: Path) -> None:
    path = tmp_path / "rec.flowviz-kafka"
    path.write_bytes(RECORDING_MAGIC + _frame(b"H" + b"[1, 2]"))
    assert is_recording(path.read_bytes())
    fmt, spans, problems = _read(path)
    assert (fmt, spans) == ("kafka_recording", 0)
    assert problems.count("recording: header record is not a JSON object (ignored)") == 1


_MEMORY_SCRIPT = """
import sys
from pathlib import Path
from flowviz.model.problems import Problems
from flowviz.sources.capture_file import CaptureError, CaptureReader
try:
    spans = sum(len(b) for b in CaptureReader(Path(sys.argv[1]), problems=Problems()))
except CaptureError:
    spans = -1
# the peak of this process (VmHWM; ru_maxrss would carry the parent's across exec)
print(spans, next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) // 1024)
"""


def _peak_mib(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(path)], capture_output=True, text=True, check=True, timeout=120
    )
    spans, mib = out.stdout.split()
    return int(spans), int(mib)


def test_memory_is_bounded_by_the_limits_not_by_the_input(tmp_path: Path) -> None:
    """A valid line then 256 MB of spaces; a 40 MB line cut off; a gzip of 256 MB of zeros: each costs a
    bounded amount of memory (the issue measured 2.1 GB for 1 GB of spaces, 2.6 GB for a 100 MB cut line)."""
    line = _lines()[0]
    spaces = tmp_path / "spaces.jsonl"
    with spaces.open("wb") as out:
        out.write(line + b"\n")
        for _ in range(256):
            out.write(b" " * (1 << 20))
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b'{"resourceSpans":[' + b",".join([orjson.dumps({"x": "y" * 4000})] * 10_000))
    zeros = tmp_path / "zeros.gz"
    zeros.write_bytes(gzip.compress(b"\x00" * (256 << 20), compresslevel=1))
    assert _peak_mib(spaces)[0] == _spans_of([line])
    for path in (spaces, cut, zeros):
        _, mib = _peak_mib(path)
        assert mib < 200, (path.name, mib)
