"""Capture files: format from content, gzip, JSON lines and protobuf frames with damage, split documents."""

from __future__ import annotations

import functools
import gzip
import io
import random
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml

import flowviz.sources.capture_file as capture_file
from flowviz.bench.encode import otlp_json_lines, otlp_json_request, otlp_proto_frames, otlp_proto_request
from flowviz.bench.synthetic import SyntheticSpan, synthetic_traces
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.json_split import ElementGroup, split_document
from flowviz.decoders.otlp_json import add_otlp_json
from flowviz.model.problems import Problems
from flowviz.model.span_batch import _INT_COLUMNS, SpanBatch
from flowviz.sources.capture_file import CaptureError, CaptureReader, DependencyLinks

TRIED = ("OTLP JSON", "OTLP protobuf", "Jaeger JSON", "Zipkin v2 JSON", "Jaeger dependency lists")
CUT_OFF = "json: last line is cut off (ignored)"
BAD_LINE = "json: line is not valid JSON"
TRUNCATED_FRAME = "otlp-proto: truncated last frame (ignored)"
ENDS_EARLY = "json: the document ends early (truncated?)"

# (path, detected format, spans, dependency links, problem reasons)
CAPTURES = [
    ("jaeger-dependencies/jaeger-ui-dependencygraph-large.json", "jaeger_dependencies", 0, 4271, {}),
    ("jaeger-dependencies/jaeger-ui-dependencygraph-small.json", "jaeger_dependencies", 0, 7, {}),
    ("jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json", "jaeger_json", 660, 0, {}),
    ("jaeger-json/jaeger-telemetrygen-otlp2jaeger-out.json", "jaeger_json", 2, 0, {}),
    ("jaeger-json/jaeger-ui-genai-agent-trace.json", "jaeger_json", 57, 0, {}),
    ("otlp-json/jaeger-integration-example-trace.json", "otlp_json", 5, 0, {}),
    ("otlp-json/jaeger-telemetrygen-otlp2jaeger-in.json", "otlp_json", 2, 0, {}),
    ("otlp-json/opentelemetry-proto-example-trace.json", "otlp_json", 1, 0, {}),
    ("otlp-protojson/kiali-istio-bookinfo-tempo-trace.json", "otlp_json", 8, 0, {}),
    ("zipkin-v2/zipkin-lens-ascend.json", "zipkin_json", 8, 0, {}),
    ("zipkin-v2/zipkin-lens-envoy.json", "zipkin_json", 1, 0, {}),
    ("zipkin-v2/zipkin-lens-messaging-kafka.json", "zipkin_json", 28, 0, {}),
    ("zipkin-v2/zipkin-lens-messaging.json", "zipkin_json", 4, 0, {}),
    ("zipkin-v2/zipkin-lens-messaging2.json", "zipkin_json", 11, 0, {}),
    ("zipkin-v2/zipkin-lens-simple-db-p6.json", "zipkin_json", 5, 0, {}),
    ("zipkin-v2/zipkin-lens-skew.json", "zipkin_json", 4, 0, {}),
    (
        "zipkin-v2/zipkin-lens-smartthings-mobile-web-install.json",
        "zipkin_json",
        957,
        0,
        {"zipkin: timestamp-less fragment merged into its same-id span": 84},
    ),
    ("zipkin-v2/zipkin-lens-smartthings-oauth-authorization.json", "zipkin_json", 175, 0, {}),
    ("zipkin-v2/zipkin-lens-yelp.json", "zipkin_json", 16, 0, {}),
]
YAML_CAPTURES = [
    "otlp-golden-yaml/otelcol-contrib-servicegraph-messaging-system-trace.yaml",
    "otlp-golden-yaml/otelcol-contrib-servicegraph-virtual-node-label-trace.yaml",
]


def _read(path: Path, **options: object) -> tuple[CaptureReader, list[SpanBatch | DependencyLinks], Problems]:
    problems = Problems()
    reader = CaptureReader(path, problems=problems, **options)  # type: ignore[arg-type]
    return reader, list(reader), problems


def _spans(path: Path, **options: object) -> tuple[str, SpanBatch, Problems]:
    reader, items, problems = _read(path, **options)
    assert not any(isinstance(i, DependencyLinks) for i in items)
    return reader.format_name, SpanBatch.concat(items), problems  # type: ignore[arg-type]


def _rows(batch: SpanBatch) -> list[tuple]:
    """Every column of every span (strings resolved, links attached), sorted: equal rows, equal batches."""
    links: dict[int, list[tuple[int, int, int]]] = {}
    for row, hi, lo, span in zip(
        batch.link_row.tolist(),
        batch.link_trace_hi.tolist(),
        batch.link_trace_lo.tolist(),
        batch.link_span_id.tolist(),
        strict=True,
    ):
        links.setdefault(row, []).append((hi, lo, span))
    columns = [
        batch.string_column(name)
        if name in ("service", "name", "peer", "destination")
        else getattr(batch, name).tolist()
        for name in _INT_COLUMNS
    ]
    return sorted((*values, tuple(links.get(row, ()))) for row, values in enumerate(zip(*columns, strict=True)))


@functools.cache
def _traces(spans: int = 300, seed: int = 3) -> list[list[SyntheticSpan]]:
    return list(synthetic_traces(spans=spans, services=8, seed=seed))


def _span_count(line: bytes) -> int:
    doc = orjson.loads(line)
    return sum(len(scope["spans"]) for rs in doc["resourceSpans"] for scope in rs["scopeSpans"])


def _one_line(message: str) -> None:
    assert "\n" not in message
    for name in TRIED:
        assert name in message


# -- every real capture ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt", "spans", "links", "reasons"), CAPTURES)
def test_every_capture_reads(
    captures_dir: Path, name: str, fmt: str, spans: int, links: int, reasons: dict[str, int]
) -> None:
    reader, items, problems = _read(captures_dir / name)
    assert reader.format_name == fmt
    batches = [i for i in items if isinstance(i, SpanBatch)]
    deps = [i for i in items if isinstance(i, DependencyLinks)]
    assert sum(len(b) for b in batches) == spans
    assert sum(len(d.links) for d in deps) == links
    assert {reason: entry["count"] for reason, entry in problems.as_dict().items()} == reasons


def test_every_capture_file_is_covered(captures_dir: Path) -> None:
    listed = {name for name, *_ in CAPTURES} | set(YAML_CAPTURES)
    on_disk = {str(p.relative_to(captures_dir)) for p in captures_dir.rglob("*") if p.is_file()} - {"SOURCES.md"}
    assert on_disk == listed


def test_dependency_links_hold_the_rows(captures_dir: Path) -> None:
    _, items, _ = _read(captures_dir / "jaeger-dependencies/jaeger-ui-dependencygraph-small.json")
    (links,) = items
    assert isinstance(links, DependencyLinks)
    assert links.links[0] == ("Service1", "Service2", 30489)
    assert ("Service2", "Service4", 129216) in links.links
    assert sum(count for _, _, count in links.links) == 290225


@pytest.mark.parametrize("name", YAML_CAPTURES)
def test_collector_golden_yaml_is_not_a_capture_format_but_its_json_is(
    captures_dir: Path, tmp_path: Path, name: str
) -> None:
    with pytest.raises(CaptureError) as caught:
        list(CaptureReader(captures_dir / name, problems=Problems()))
    _one_line(str(caught.value))
    converted = tmp_path / "golden.json"
    converted.write_bytes(orjson.dumps(yaml.safe_load((captures_dir / name).read_text())))
    fmt, batch, problems = _spans(converted)
    assert (fmt, len(batch), problems.total) == ("otlp_json", 2, 0)
    assert set(batch.kind.tolist()) == {2, 3}


# -- format from content, gzip -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",
        "jaeger-json/jaeger-ui-genai-agent-trace.json",
        "zipkin-v2/zipkin-lens-yelp.json",
        "jaeger-dependencies/jaeger-ui-dependencygraph-small.json",
    ],
)
def test_detection_ignores_the_file_name(captures_dir: Path, tmp_path: Path, name: str) -> None:
    original = captures_dir / name
    renamed = tmp_path / "capture.txt"
    shutil.copyfile(original, renamed)
    first, first_items, _ = _read(original)
    second, second_items, _ = _read(renamed)
    assert first.format_name == second.format_name
    if isinstance(first_items[0], DependencyLinks):
        assert first_items == second_items
    else:
        assert _rows(SpanBatch.concat(first_items)) == _rows(SpanBatch.concat(second_items))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "file_name"),
    [
        ("otlp-protojson/kiali-istio-bookinfo-tempo-trace.json", "capture.json.gz"),
        ("jaeger-json/jaeger-ui-genai-agent-trace.json", "capture.json.gz"),
        ("zipkin-v2/zipkin-lens-smartthings-mobile-web-install.json", "capture.json"),  # gzip, whatever the name
    ],
)
def test_gzip_is_read_transparently(captures_dir: Path, tmp_path: Path, name: str, file_name: str) -> None:
    original = captures_dir / name
    packed = tmp_path / file_name
    packed.write_bytes(gzip.compress(original.read_bytes()))
    plain_format, plain, plain_problems = _spans(original)
    packed_format, unpacked, packed_problems = _spans(packed)
    assert packed_format == plain_format
    assert len(unpacked) == len(plain) > 0
    assert _rows(unpacked) == _rows(plain)
    assert packed_problems.total == plain_problems.total


def test_gzip_of_json_lines_and_of_protobuf_frames(tmp_path: Path) -> None:
    lines, frames = tmp_path / "a.gz", tmp_path / "b.gz"
    lines.write_bytes(gzip.compress(otlp_json_lines(_traces(), spans_per_request=50)))
    frames.write_bytes(gzip.compress(otlp_proto_frames(_traces(), spans_per_request=50)))
    (lines_format, from_lines, _), (frames_format, from_frames, _) = _spans(lines), _spans(frames)
    assert (lines_format, frames_format) == ("otlp_json", "otlp_proto")
    assert len(from_lines) == len(from_frames) == 300
    assert _rows(from_lines) == _rows(from_frames)


def test_a_cut_off_gzip_gives_what_was_decompressed_before_the_cut(tmp_path: Path) -> None:
    lines = otlp_json_lines(_traces(), spans_per_request=50)
    packed = gzip.compress(lines)
    path = tmp_path / "cut.gz"
    for kept in (0.99, 0.6):
        cut = packed[: int(len(packed) * kept)]
        path.write_bytes(cut)
        came_through = zlib.decompressobj(wbits=31).decompress(cut)
        whole_lines = came_through[: came_through.rfind(b"\n")].split(b"\n")
        expected = len(SpanBatch.concat(_lines_batch(whole_lines)))
        fmt, batch, problems = _spans(path)
        assert fmt == "otlp_json"
        assert 0 < len(batch) == expected < 300  # every whole line before the cut
        assert any(reason.startswith("gzip: the data is cut off") for reason in problems.as_dict())


def _lines_batch(lines: list[bytes]) -> list[SpanBatch]:
    builder = SpanBatchBuilder(Problems())
    for line in lines:
        add_otlp_json(orjson.loads(line), builder, Problems(), "line")
    return [builder.build()]


def test_damaged_gzip_data_keeps_what_came_before(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(otlp_json_lines(_traces(), spans_per_request=50), compresslevel=1))
    packed[len(packed) // 2] ^= 0xFF
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(packed))
    _, batch, problems = _spans(path)
    assert 0 < len(batch) < 300
    assert problems.total >= 1


def test_a_gzip_with_nothing_usable_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(otlp_json_lines(_traces()))[:12])
    with pytest.raises(CaptureError, match="no data in the gzip stream") as caught:
        list(CaptureReader(path, problems=Problems()))
    assert "\n" not in str(caught.value)


# -- JSON lines ------------------------------------------------------------------------------


def _json_lines() -> list[bytes]:
    return otlp_json_lines(_traces(), spans_per_request=50).rstrip(b"\n").split(b"\n")


def test_json_lines_read_every_line(tmp_path: Path) -> None:
    lines = _json_lines()
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch), problems.total) == ("otlp_json", 300, 0)
    assert len(lines) == 6


def test_json_lines_with_a_broken_middle_line(tmp_path: Path) -> None:
    lines = _json_lines()
    broken = [*lines[:2], lines[2][: len(lines[2]) // 2], *lines[3:]]
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(broken) + b"\n")
    echo = io.StringIO()
    reader = CaptureReader(path, problems=Problems(echo=echo))
    batch = SpanBatch.concat(list(reader))
    assert len(batch) == 300 - _span_count(lines[2])
    entry = reader.problems.as_dict()[BAD_LINE]
    assert entry["count"] == 1
    assert entry["first"][0].startswith(f"{path}:3 ")
    assert echo.getvalue().startswith(f"flowviz: skipped: {BAD_LINE} at {path}:3 ")
    # the other lines were all read: their spans are exactly the rest
    others = SpanBatch.concat(_spans(_write(tmp_path / "others.jsonl", lines[:2] + lines[3:]))[1:2])
    assert _rows(batch) == _rows(others)


def _write(path: Path, lines: list[bytes], end: bytes = b"\n") -> Path:
    path.write_bytes(b"\n".join(lines) + end)
    return path


def test_json_lines_with_a_cut_off_last_line(tmp_path: Path) -> None:
    lines = _json_lines()
    for end in (b"", b"\n", b"\n\n  \n"):
        path = _write(tmp_path / "killed.jsonl", [*lines[:-1], lines[-1][:-40]], end)
        _, batch, problems = _spans(path)
        assert len(batch) == 300 - _span_count(lines[-1])
        assert problems.as_dict()[CUT_OFF]["first"][0].startswith(f"{path}:6 ")
        assert problems.total == 1


def test_json_lines_with_a_broken_first_line(tmp_path: Path) -> None:
    lines = _json_lines()
    path = _write(tmp_path / "export.jsonl", [lines[0][:100], *lines[1:]])
    fmt, batch, problems = _spans(path)
    assert fmt == "otlp_json"
    assert len(batch) == 300 - _span_count(lines[0])
    assert problems.as_dict()[BAD_LINE]["first"][0].startswith(f"{path}:1 ")


def test_json_lines_with_blank_lines_crlf_and_a_byte_order_mark(tmp_path: Path) -> None:
    lines = _json_lines()
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n\r\n".join(lines) + b"\r\n")
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch), problems.total) == ("otlp_json", 300, 0)
    path.write_bytes(b"\n\n" + b"\n".join(lines))
    assert len(_spans(path)[1]) == 300


def test_a_byte_order_mark_before_a_document(captures_dir: Path, tmp_path: Path) -> None:
    original = captures_dir / "zipkin-v2/zipkin-lens-yelp.json"
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + original.read_bytes())
    fmt, batch, problems = _spans(path)
    assert (fmt, problems.total) == ("zipkin_json", 0)
    assert _rows(batch) == _rows(_spans(original)[1])


# -- protobuf ----------------------------------------------------------------------------------


def _frame_offsets(data: bytes) -> list[int]:
    offsets, offset = [], 0
    while offset < len(data):
        offsets.append(offset)
        offset += 4 + int.from_bytes(data[offset : offset + 4], "big")
    return offsets


def test_protobuf_frames(tmp_path: Path) -> None:
    data = otlp_proto_frames(_traces(), spans_per_request=50)
    path = tmp_path / "export.pb"
    path.write_bytes(data)
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch), problems.total) == ("otlp_proto", 300, 0)
    assert _rows(batch) == _rows(_spans(_write(tmp_path / "same.jsonl", _json_lines()))[1])


def test_protobuf_frames_with_a_truncated_last_frame(tmp_path: Path) -> None:
    data = otlp_proto_frames(_traces(), spans_per_request=50)
    last = _frame_offsets(data)[-1]
    last_spans = sum(len(t) for t in _traces()) - len(_spans(_write(tmp_path / "head.pb", [data[:last]], b""))[1])
    path = tmp_path / "killed.pb"
    path.write_bytes(data[:-30])
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch)) == ("otlp_proto", 300 - last_spans)
    assert problems.as_dict() == {TRUNCATED_FRAME: {"count": 1, "first": [f"{path}@{last}"]}}
    # a kill inside the next frame's 4-byte length: the stray bytes are the truncated frame
    path.write_bytes(data + b"\x00\x00")
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch)) == ("otlp_proto", 300)
    assert problems.as_dict() == {TRUNCATED_FRAME: {"count": 1, "first": [f"{path}@{len(data)}"]}}


def test_protobuf_frames_in_groups_read_like_one_frame_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames are decoded many at a time: the same spans, and problems at the same frames, as one by one."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = [s for t in _traces(600) for s in t]
    messages = [otlp_proto_request(spans[i : i + 40]) for i in range(0, len(spans), 40)]
    damaged = ExportTraceServiceRequest.FromString(messages[4])
    damaged.resource_spans[0].scope_spans[0].spans[1].span_id = b""
    messages[4] = damaged.SerializeToString()
    messages[7] = b"\x0a\x05abc"  # does not parse
    path = tmp_path / "export.pb"
    path.write_bytes(b"".join(len(m).to_bytes(4, "big") + m for m in messages))
    offset = sum(4 + len(m) for m in messages[:4])
    expected_problems = {
        "otlp-proto: message does not parse (DecodeError)": {
            "count": 1,
            "first": [f"{path}@{offset + sum(4 + len(m) for m in messages[4:7])}"],
        },
        "span with an invalid trace or span id": {"count": 1, "first": [f"{path}@{offset} resourceSpans[0] span 1"]},
    }
    results = []
    for group_bytes, batch_spans in [(1, 50_000), (capture_file.PROTOBUF_GROUP_BYTES, 50_000), (1 << 20, 100)]:
        monkeypatch.setattr(capture_file, "PROTOBUF_GROUP_BYTES", group_bytes)
        reader, items, problems = _read(path, batch_spans=batch_spans)
        assert reader.format_name == "otlp_proto"
        assert problems.as_dict() == expected_problems
        sizes = [len(b) for b in items]  # type: ignore[arg-type]
        assert sum(sizes) == len(spans) - 40 - 1
        assert all(size >= batch_spans for size in sizes[:-1])
        results.append(_rows(SpanBatch.concat(items)))  # type: ignore[arg-type]
    assert results[0] == results[1] == results[2]


def test_a_single_protobuf_message_without_framing(tmp_path: Path) -> None:
    spans = [s for t in _traces() for s in t]
    path = tmp_path / "request.bin"
    path.write_bytes(otlp_proto_request(spans))
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch), problems.total) == ("otlp_proto", 300, 0)
    assert _rows(batch) == _rows(_spans(_write(tmp_path / "same.jsonl", _json_lines()))[1])


# -- not a trace at all -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"hello world\nthis is a plain text file\n",
        random.Random(1).randbytes(5000),
        b"",
        b"   \n\n",
        b'{"hello": [1, 2, 3]}',
        b"[1, 2, 3]\n[4]\n",
        b'{"resourceSpans": [{"resource": {}, "scopeSp',  # cut off, nothing whole in it
    ],
    ids=["text", "random", "empty", "blank", "other-json", "other-json-lines", "damaged"],
)
def test_no_trace_at_all_is_one_line_naming_the_formats(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "capture.json"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as caught:
        list(CaptureReader(path, problems=Problems()))
    message = str(caught.value)
    assert message.startswith(str(path))
    _one_line(message)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="No such file"):
        list(CaptureReader(tmp_path / "missing.json", problems=Problems()))
    with pytest.raises(CaptureError, match="directory"):
        list(CaptureReader(tmp_path, problems=Problems()))


# -- --format --------------------------------------------------------------------------------


def test_forcing_the_detected_format_changes_nothing(captures_dir: Path) -> None:
    path = captures_dir / "zipkin-v2/zipkin-lens-messaging-kafka.json"
    assert _rows(_spans(path, format_name="zipkin_json")[1]) == _rows(_spans(path)[1])


@pytest.mark.parametrize(
    ("forced", "reason"),
    [
        ("jaeger_json", "jaeger: trace without a spans list"),
        ("simple_json", "simple: trace without a spans list"),
        ("otlp_json", "otlp-json: document is not an object"),
        ("otlp_proto", "otlp-proto: message does not parse (DecodeError)"),
    ],
)
def test_a_forced_format_is_used_and_its_complaints_counted(captures_dir: Path, forced: str, reason: str) -> None:
    fmt, batch, problems = _spans(captures_dir / "zipkin-v2/zipkin-lens-yelp.json", format_name=forced)
    assert (fmt, len(batch)) == (forced, 0)
    assert problems.count(reason) >= 1


def test_forced_dependencies_on_spans(captures_dir: Path) -> None:
    reader, items, problems = _read(captures_dir / "zipkin-v2/zipkin-lens-yelp.json", format_name="jaeger_dependencies")
    assert reader.format_name == "jaeger_dependencies"
    assert items == [DependencyLinks([])]
    assert problems.count("dependencies: link without parent or child name") == 16


def test_forcing_json_on_protobuf_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "export.pb"
    path.write_bytes(otlp_proto_frames(_traces()))
    with pytest.raises(CaptureError, match="not valid JSON") as caught:
        list(CaptureReader(path, problems=Problems(), format_name="otlp_json"))
    assert "\n" not in str(caught.value)


# -- large documents: the split path -----------------------------------------------------------


@pytest.fixture
def split_small(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every document takes the split path, in groups of a few hundred bytes; records each split's group count."""
    splits: list[int] = []

    def small_groups(data: object) -> Iterator[ElementGroup]:
        splits.append(0)
        for group in split_document(data, group_bytes=400, chunk_bytes=8192):  # type: ignore[arg-type]
            splits[-1] += 1
            yield group

    monkeypatch.setattr(capture_file, "WHOLE_DOCUMENT_BYTES", 64)
    monkeypatch.setattr(capture_file, "split_document", small_groups)
    return splits


@functools.cache
def _whole(path: Path) -> tuple[str, list[tuple]]:
    """The file read as one document, even where a test made every document take the split path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capture_file, "WHOLE_DOCUMENT_BYTES", 1 << 40)
        fmt, batch, _ = _spans(path)
    return fmt, _rows(batch)


@pytest.mark.parametrize(
    "name",
    [
        "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json",  # {"data": [...]}
        "otlp-json/jaeger-integration-example-trace.json",  # {"resourceSpans": [...]}
        "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",  # {"batches": [...]}
        "zipkin-v2/zipkin-lens-messaging-kafka.json",  # flat arrays of spans without shared spans
        "zipkin-v2/zipkin-lens-simple-db-p6.json",
    ],
)
def test_split_path_gives_the_same_spans(captures_dir: Path, split_small: list[int], name: str) -> None:
    whole_format, whole_rows = _whole(captures_dir / name)
    fmt, batch, problems = _spans(captures_dir / name)
    assert split_small
    assert split_small[0] >= 2  # really split, into several groups
    assert fmt == whole_format
    assert _rows(batch) == whole_rows
    assert problems.total == 0


def test_split_path_for_a_synthetic_otlp_request(tmp_path: Path, split_small: list[int]) -> None:
    spans = [s for t in _traces() for s in t]
    path = tmp_path / "request.json"
    path.write_bytes(orjson.dumps(otlp_json_request(spans), option=orjson.OPT_INDENT_2) + b"\n")
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch), problems.total) == ("otlp_json", 300, 0)
    assert split_small[0] == 8  # one resource per service, each bigger than a group
    assert _rows(batch) == _rows(_spans(_write(tmp_path / "same.jsonl", _json_lines()))[1])


def test_split_path_for_zipkin_traces_as_nested_arrays(
    captures_dir: Path, tmp_path: Path, split_small: list[int]
) -> None:
    names = ["zipkin-lens-smartthings-mobile-web-install.json", "zipkin-lens-smartthings-oauth-authorization.json"]
    traces = [orjson.loads((captures_dir / "zipkin-v2" / n).read_bytes()) for n in names]
    path = tmp_path / "traces.json"
    path.write_bytes(orjson.dumps(traces))
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch)) == ("zipkin_json", 957 + 175)
    assert _rows(batch) == sorted(
        _whole(captures_dir / "zipkin-v2" / names[0])[1] + _whole(captures_dir / "zipkin-v2" / names[1])[1]
    )
    assert problems.count("zipkin: timestamp-less fragment merged into its same-id span") == 84


@pytest.mark.parametrize("name", ["zipkin-lens-yelp.json", "zipkin-lens-smartthings-mobile-web-install.json"])
def test_split_path_for_a_flat_zipkin_array_with_shared_spans(
    captures_dir: Path, split_small: list[int], name: str
) -> None:
    # shared server halves get ids that depend only on themselves, not on which spans share their group
    path = captures_dir / "zipkin-v2" / name
    assert _rows(_spans(path)[1]) == _whole(path)[1]


def test_split_path_never_parses_the_whole_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_small: list[int]
) -> None:
    spans = [s for t in _traces() for s in t]
    document = orjson.dumps(otlp_json_request(spans)) + b"\n"  # one line, with a trailing newline
    path = tmp_path / "big.json"
    path.write_bytes(document)
    sizes: list[int] = []
    real_loads = orjson.loads

    class Spy:
        JSONDecodeError = orjson.JSONDecodeError

        @staticmethod
        def loads(data: bytes) -> object:
            sizes.append(len(data))
            return real_loads(data)

    monkeypatch.setattr(capture_file, "orjson", Spy)
    _, batch, _ = _spans(path)
    assert len(batch) == 300
    assert sizes
    assert max(sizes) < len(document) / 4


def test_a_cut_off_large_document_loses_only_the_cut_element(tmp_path: Path, split_small: list[int]) -> None:
    spans = [s for t in _traces() for s in t]
    document = orjson.dumps(otlp_json_request(spans))
    resources = orjson.loads(document)["resourceSpans"]
    per_resource = [len(rs["scopeSpans"][0]["spans"]) for rs in resources]
    path = tmp_path / "killed.json"
    path.write_bytes(document[:-200])  # inside the last resource
    fmt, batch, problems = _spans(path)
    assert (fmt, len(batch)) == ("otlp_json", 300 - per_resource[-1])
    assert problems.as_dict() == {ENDS_EARLY: {"count": 1, "first": [str(path)]}}


def test_a_cut_off_small_document_reads_its_whole_elements(captures_dir: Path, tmp_path: Path) -> None:
    original = (captures_dir / "zipkin-v2/zipkin-lens-yelp.json").read_bytes()
    path = tmp_path / "killed.json"
    path.write_bytes(original[: len(original) * 3 // 4])
    fmt, batch, problems = _spans(path)
    elements = orjson.loads(original)
    assert fmt == "zipkin_json"
    assert 0 < len(batch) < len(elements)
    assert problems.count(ENDS_EARLY) == 1
    whole = _spans(captures_dir / "zipkin-v2/zipkin-lens-yelp.json")[1]

    def spans(b: SpanBatch) -> set[tuple]:
        return set(zip(b.string_column("service"), b.string_column("name"), b.start_ns.tolist(), strict=True))

    assert spans(batch) < spans(whole)


# -- batches -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["jsonl", "pb"])
def test_batch_spans_splits_the_output(tmp_path: Path, kind: str) -> None:
    if kind == "jsonl":
        path = _write(tmp_path / "export.jsonl", _json_lines())
    else:
        path = tmp_path / "export.pb"
        path.write_bytes(otlp_proto_frames(_traces(), spans_per_request=50))
    _, items, _ = _read(path, batch_spans=100)
    sizes = [len(b) for b in items]  # type: ignore[arg-type]
    assert sum(sizes) == 300
    assert len(sizes) >= 2
    assert all(100 <= size < 100 + 70 for size in sizes[:-1])  # a batch closes after the request that fills it
    single = SpanBatch.concat(_read(path)[1])  # type: ignore[arg-type]
    assert _rows(SpanBatch.concat(items)) == _rows(single)  # type: ignore[arg-type]
    starts = np.concatenate([b.start_ns for b in items])  # type: ignore[union-attr]
    assert np.array_equal(np.sort(starts), np.sort(single.start_ns))
