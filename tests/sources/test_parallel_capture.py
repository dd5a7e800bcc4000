"""Captures decoded by several processes: the same graph, latencies and problems as one process, whatever the split."""

from __future__ import annotations

import base64
import gzip
import os
import signal
import time
from pathlib import Path

import orjson
import pytest

import flowviz.sources.parallel_capture as parallel_capture
from flowviz.analysis.report import build_report, default_window
from flowviz.bench.encode import otlp_json_lines, otlp_proto_frames
from flowviz.bench.synthetic import synthetic_traces
from flowviz.model.problems import Problems
from flowviz.sources.capture_file import CaptureReader
from flowviz.sources.pipe_messages import Derived, Done, Stop
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.store.rolling_store import RollingStore

REAL_OTLP = (
    "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",
    "otlp-json/jaeger-integration-example-trace.json",
    "otlp-json/jaeger-telemetrygen-otlp2jaeger-in.json",
    "otlp-json/opentelemetry-proto-example-trace.json",
)


@pytest.fixture
def tiny_regions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every capture is split, into regions of a line or a frame or two; counts the splits made."""
    monkeypatch.setattr(parallel_capture, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(parallel_capture, "PROTOBUF_REGION_BYTES", 1)
    monkeypatch.setattr(parallel_capture, "JSON_REGION_BYTES", 1)
    splits: list[int] = []
    merged = parallel_capture._merged

    def counting(tasks, *args):
        tasks = list(tasks)
        splits.append(len(tasks))
        return merged(iter(tasks), *args)

    monkeypatch.setattr(parallel_capture, "_merged", counting)
    return splits


def _report(path: Path, workers: int) -> dict:
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures([path], IngestPipeline(store, problems=problems), workers=workers)
    return build_report(store, default_window(store, totals), totals, problems)


def _lines_of_real_captures(captures_dir: Path) -> bytes:
    """The real OTLP captures as JSON lines, one resource's spans a line (a trace's spans on several lines)."""
    lines = []
    for name in REAL_OTLP:
        document = orjson.loads((captures_dir / name).read_bytes())
        resources = document.get("resourceSpans") or document["batches"]  # Tempo's name
        lines += [orjson.dumps({"resourceSpans": [resource]}) for resource in resources]
    return b"\n".join(lines) + b"\n"


def _base64_ids(value: object) -> object:
    """OTLP JSON's hex ids as protobuf JSON's base64 (ids already in base64 stay)."""
    if isinstance(value, list):
        return [_base64_ids(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in ("traceId", "spanId", "parentSpanId") and item and len(item) in (16, 32):
            item = base64.b64encode(bytes.fromhex(item)).decode()
        out[key] = _base64_ids(item)
    return out


def _frames_of_real_captures(captures_dir: Path) -> bytes:
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    frames = []
    for line in _lines_of_real_captures(captures_dir).splitlines():
        message = ParseDict(_base64_ids(orjson.loads(line)), ExportTraceServiceRequest(), ignore_unknown_fields=True)
        body = message.SerializeToString()
        frames.append(len(body).to_bytes(4, "big") + body)
    return b"".join(frames)


def test_real_captures_as_json_lines_give_the_same_report(
    captures_dir: Path, tmp_path: Path, tiny_regions: list[int]
) -> None:
    path = tmp_path / "real.jsonl"
    path.write_bytes(_lines_of_real_captures(captures_dir))
    one = _report(path, 1)
    assert tiny_regions == []
    two = _report(path, 2)
    assert tiny_regions == [len(path.read_bytes().splitlines())]  # a region per line
    assert one["edges"]
    assert one["input"]["spans"] > 10
    assert two == one


def _report_of_line_batches(path: Path) -> dict:
    """One process, a batch per line: the split that regions of a line each make."""
    problems = Problems()
    store = RollingStore(problems=problems)
    pipeline = IngestPipeline(store, problems=problems)
    reader = CaptureReader(path, problems=problems, batch_spans=1)
    for batch in reader:
        pipeline.feed(batch)
    pipeline.finish()
    pipeline.totals.formats[str(path)] = reader.format_name
    return build_report(store, default_window(store, pipeline.totals), pipeline.totals, problems)


def test_real_zipkin_captures_as_json_lines_give_the_report_of_their_batches(
    captures_dir: Path, tmp_path: Path, tiny_regions: list[int]
) -> None:
    """Zipkin's shared spans across lines: a region per line gives what one process gives with a batch per line.
    (The deriver's result may depend on the batch split for spans further apart than its TTL, as in the
    SmartThings captures, and for some shared-span traces, as in Yelp's: the same in one process.)"""
    captures = sorted((captures_dir / "zipkin-v2").glob("*.json"))
    edges = 0
    for capture in captures:
        spans = orjson.loads(capture.read_bytes())
        lines = [orjson.dumps(spans[i : i + 3]) for i in range(0, len(spans), 3)]  # a trace over several lines
        path = tmp_path / f"{capture.stem}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        splits = len(tiny_regions)
        one, two = _report_of_line_batches(path), _report(path, 2)
        assert tiny_regions[splits:] == ([len(lines)] if len(lines) > 1 else [])  # one line: one document
        assert one["input"]["files"] == {str(path): "zipkin_json"}
        assert two == one, capture.name
        edges += len(one["edges"])
    assert len(captures) == 10
    assert len(tiny_regions) >= 8
    assert edges > 40


def test_real_captures_as_protobuf_frames_give_the_same_report(
    captures_dir: Path, tmp_path: Path, tiny_regions: list[int]
) -> None:
    path = tmp_path / "real.pb"
    path.write_bytes(_frames_of_real_captures(captures_dir))
    one = _report(path, 1)
    three = _report(path, 3)
    assert tiny_regions
    assert tiny_regions[0] > 10
    assert one["edges"]
    assert one["input"]["files"] == {str(path): "otlp_proto"}
    assert three == one


@pytest.mark.parametrize("encode", [otlp_json_lines, otlp_proto_frames], ids=["json_lines", "proto_frames"])
def test_generated_traffic_gives_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_regions: list[int], encode
) -> None:
    monkeypatch.setattr(parallel_capture, "PROTOBUF_REGION_BYTES", 40_000)
    monkeypatch.setattr(parallel_capture, "JSON_REGION_BYTES", 100_000)
    path = tmp_path / "generated"
    path.write_bytes(encode(list(synthetic_traces(spans=6_000, seed=5))))
    one, two = _report(path, 1), _report(path, 2)
    assert tiny_regions[0] > 5
    assert one["input"]["spans"] == 6_000
    assert len(one["edges"]) > 10
    assert [e["p95_ms"] for e in two["edges"]] == [e["p95_ms"] for e in one["edges"]]
    assert two == one


def test_bad_lines_in_any_region_are_counted_where_they_are(tmp_path: Path, tiny_regions: list[int]) -> None:
    lines = otlp_json_lines(list(synthetic_traces(spans=2_000, seed=2))).splitlines()
    lines[3] = b'{"resourceSpans": [{"scopeSpans": '  # cut
    lines[11] = b"{not json at all"
    lines.insert(15, b"")
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    one, two = _report(path, 1), _report(path, 2)
    assert one["problems"]["json: line is not valid JSON"] == {
        "count": 2,
        "first": [f"{path}:4 (unexpected end of data)", f"{path}:12 (unexpected character, expected a string key)"],
    }
    assert two == one


def test_a_damaged_frame_and_a_cut_last_frame_are_counted_where_they_are(
    tmp_path: Path, tiny_regions: list[int]
) -> None:
    data = bytearray(otlp_proto_frames(list(synthetic_traces(spans=3_000, seed=4))))
    second = 4 + int.from_bytes(data[:4], "big")  # the second frame's header
    data[second + 4 : second + 12] = b"\xff" * 8  # its first field is no longer protobuf
    path = tmp_path / "damaged.pb"
    path.write_bytes(bytes(data[:-10]))
    one, two = _report(path, 1), _report(path, 2)
    reasons = " ".join(one["problems"])
    assert "truncated last frame" in reasons
    assert one["problems"]
    assert len(one["problems"]) >= 2
    assert any(f"{path}@{second}" in entry["first"] for entry in one["problems"].values())
    assert two == one


def test_spawned_workers_map_the_file_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_regions: list[int]
) -> None:
    monkeypatch.setattr(parallel_capture, "JSON_REGION_BYTES", 100_000)
    monkeypatch.setattr(parallel_capture, "_start_method", lambda path, data: "spawn")
    path = tmp_path / "spans.jsonl"
    path.write_bytes(otlp_json_lines(list(synthetic_traces(spans=3_000, seed=6))))
    one, two = _report(path, 1), _report(path, 2)
    assert tiny_regions[0] > 2
    assert two == one


def test_gzip_is_decompressed_once_and_shared_with_forked_workers(tmp_path: Path, tiny_regions: list[int]) -> None:
    path = tmp_path / "spans.pb.gz"
    path.write_bytes(gzip.compress(otlp_proto_frames(list(synthetic_traces(spans=1_000, seed=7)))))
    assert parallel_capture._start_method(path, b"") == "fork"
    one, two = _report(path, 1), _report(path, 2)
    assert tiny_regions
    assert two == one


def test_without_fork_a_gzip_is_read_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spans.jsonl.gz"
    plain = otlp_json_lines(list(synthetic_traces(spans=500, seed=8)))
    path.write_bytes(gzip.compress(plain))
    monkeypatch.setattr(parallel_capture.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert parallel_capture._start_method(path, plain) is None
    plain_path = tmp_path / "spans.jsonl"
    plain_path.write_bytes(plain)
    assert parallel_capture._start_method(plain_path, plain) == "spawn"


def test_small_captures_and_single_documents_stay_in_one_process(
    captures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(parallel_capture, "_merged", lambda *args: calls.append(1))
    small = tmp_path / "small.jsonl"
    small.write_bytes(otlp_json_lines(list(synthetic_traces(spans=300, seed=1))))
    assert _report(small, 4)["input"]["spans"] == 300
    monkeypatch.setattr(parallel_capture, "MIN_PARALLEL_BYTES", 0)
    assert _report(captures_dir / REAL_OTLP[0], 4)["edges"]  # one JSON document: not split
    assert calls == []


def test_default_workers_are_the_cores_capped() -> None:
    assert 1 <= parallel_capture.default_workers() <= parallel_capture.MAX_DEFAULT_WORKERS


def test_report_command_with_workers_prints_the_same_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_regions: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    from flowviz.cli import main

    monkeypatch.setattr(parallel_capture, "PROTOBUF_REGION_BYTES", 20_000)
    path = tmp_path / "spans.pb"
    path.write_bytes(otlp_proto_frames(list(synthetic_traces(spans=2_000, seed=9))))
    outputs = []
    for workers in ("1", "2"):
        assert main(["report", "--json", str(path), "--workers", workers]) == 0
        outputs.append(orjson.loads(capsys.readouterr().out))
    assert tiny_regions
    assert outputs[0]["edges"]
    assert outputs[1] == outputs[0]


def test_the_capture_worker_of_a_window_decodes_with_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_regions: list[int]
) -> None:
    from flowviz.sources.capture_source import CaptureSource
    from flowviz.sources.worker import feed_window

    class Collected(list):
        """The window's end of the pipe: keeps what the worker sends; no command until the worker is done."""

        send = list.append

        def poll(self, timeout_s: float = 0.0) -> bool:
            return False

        def recv(self) -> Stop:
            return Stop()

    monkeypatch.setattr(parallel_capture, "JSON_REGION_BYTES", 50_000)
    path = tmp_path / "spans.jsonl"
    path.write_bytes(otlp_json_lines(list(synthetic_traces(spans=2_000, seed=10))))
    calls = []
    for workers in (1, 2):
        messages = Collected()
        feed_window(CaptureSource([path], problems=Problems(), workers=workers), messages)  # type: ignore[arg-type]
        calls.append(sum(int(m.observations.count.sum()) for m in messages if isinstance(m, Derived)))
        assert isinstance(messages[-1], Done)
        assert messages[-1].spans == 2_000
    assert len(tiny_regions) == 1
    assert tiny_regions[0] > 1
    assert calls[0] > 1_000
    assert calls[1] == calls[0]


def test_a_window_feed_with_workers_loads_the_same(tmp_path: Path) -> None:
    from flowviz.sources.process_feed import CaptureSpec, ProcessFeed

    path = tmp_path / "spans.pb"
    path.write_bytes(otlp_proto_frames(list(synthetic_traces(spans=1_000, seed=11))))
    calls = []
    for workers in (1, 2):
        store = RollingStore()
        feed = ProcessFeed(store, CaptureSpec((str(path),), workers=workers), details=False)
        feed.start()
        try:
            assert feed.wait(60)
        finally:
            feed.stop()
        assert feed.status.spans == 1_000
        assert not feed.status.error
        calls.append(feed.status.calls)
    assert calls[0] > 500
    assert calls[1] == calls[0]


def test_a_daemonic_worker_that_may_have_workers_decodes_with_them_and_they_end_with_it(tmp_path: Path) -> None:
    """A window's capture worker (daemonic, spawned) with a large capture: its decoders are started, and they
    end when it is terminated mid-load."""
    import multiprocessing

    path = tmp_path / "spans.jsonl"
    path.write_bytes(otlp_json_lines(list(synthetic_traces(spans=40_000, seed=12))))  # over MIN_PARALLEL_BYTES
    assert path.stat().st_size > parallel_capture.MIN_PARALLEL_BYTES
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    worker = context.Process(target=_decoders_of_a_daemon, args=(str(path), child), daemon=True)
    worker.start()
    try:
        assert parent.poll(120)
        decoders = parent.recv()
    finally:
        worker.terminate()
        worker.join(10)
    assert len(decoders) == 2
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in decoders) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in decoders)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _decoders_of_a_daemon(path: str, connection) -> None:
    """In a daemonic process: start reading with two workers, report their pids, then wait to be terminated."""
    import multiprocessing

    from flowviz.sources.capture_file import CaptureReader

    multiprocessing.current_process().daemon = False  # as the window's capture worker does with workers
    batches = iter(CaptureReader(path, problems=Problems(), workers=2))
    next(batches)
    connection.send([child.pid for child in multiprocessing.active_children()])
    time.sleep(60)


def _dying_in_region(monkeypatch: pytest.MonkeyPatch, region: int, marker: Path | None) -> list:
    """Workers (forked, so they see this patch) kill themselves on the `region`th region: every time, or
    only while `marker` does not exist yet. Returns the regions decoded here, in order, as they are handed out."""
    decode = parallel_capture.decode_region
    tasks: list = []
    merged = parallel_capture._merged

    def listing(tasks_in, *args):
        tasks[:] = list(tasks_in)
        return merged(iter(tasks), *args)

    def dying(task):
        if task == tasks[region] and (marker is None or not marker.exists()):
            if marker is not None:
                marker.write_text("")
            os.kill(os.getpid(), signal.SIGKILL)
        return decode(task)

    monkeypatch.setattr(parallel_capture, "_merged", listing)
    monkeypatch.setattr(parallel_capture, "decode_region", dying)
    monkeypatch.setattr(parallel_capture, "PROTOBUF_REGION_BYTES", 40_000)
    monkeypatch.setattr(parallel_capture, "MIN_PARALLEL_BYTES", 0)
    return tasks


def test_a_region_whose_worker_is_killed_is_decoded_again_and_the_death_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "generated.pb"
    path.write_bytes(otlp_proto_frames(list(synthetic_traces(spans=6_000, seed=5))))
    one = _report(path, 1)
    tasks = _dying_in_region(monkeypatch, 2, tmp_path / "killed once")
    began = time.monotonic()
    two = _report(path, 2)
    assert time.monotonic() - began < 60
    assert len(tasks) > 5
    reason = "decode worker died (killed by signal 9 (SIGKILL)): its region was decoded again in a fresh worker"
    assert two["problems"].pop(reason) == {"count": 1, "first": [f"{path}@{parallel_capture.region_where(tasks[2])}"]}
    assert two == one


def test_a_region_whose_worker_dies_again_is_reported_missing_and_the_others_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "generated.pb"
    path.write_bytes(otlp_proto_frames(list(synthetic_traces(spans=6_000, seed=5))))
    decode = parallel_capture.decode_region
    tasks = _dying_in_region(monkeypatch, 3, None)
    began = time.monotonic()
    two = _report(path, 2)
    assert time.monotonic() - began < 60
    lost = sum(len(batch) for batch in decode(tasks[3]).batches)
    assert 0 < lost < 6_000
    assert two["input"]["spans"] == 6_000 - lost
    where = f"{path}@{parallel_capture.region_where(tasks[3])}"
    assert where.startswith(f"{path}@bytes {tasks[3].frames[0][0]}–{tasks[3].frames[-1][1]} (")
    killed = "killed by signal 9 (SIGKILL)"
    missing = f"decode worker died again ({killed}): the spans of its region are missing"
    assert two["problems"][missing] == {"count": 1, "first": [where]}
    retried = f"decode worker died ({killed}): its region was decoded again in a fresh worker"
    assert two["problems"][retried] == {"count": 1, "first": [where]}


def test_region_sizes_are_equal_and_their_count_a_multiple_of_the_workers() -> None:
    assert parallel_capture.region_bytes(44 << 20, 8 << 20, 2) == -(-(44 << 20) // 6)  # 6 of 7.3 MB, not 5 and a half
    assert parallel_capture.region_bytes(100, 30, 2) == 25  # 4 regions
    assert parallel_capture.region_bytes(100, 30, 3) == 17  # 6 regions
    assert parallel_capture.region_bytes(10, 1, 2) == 1
    assert parallel_capture.region_bytes(7, 100, 2) == 4  # a small capture: still one region per worker


@pytest.mark.parametrize("encode", [otlp_json_lines, otlp_proto_frames], ids=["json_lines", "proto_frames"])
def test_each_worker_gets_the_same_share_of_a_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_regions: list[int], encode
) -> None:
    path = tmp_path / "generated"
    path.write_bytes(encode(list(synthetic_traces(spans=6_000, seed=5))))
    size = path.stat().st_size
    monkeypatch.setattr(parallel_capture, "PROTOBUF_REGION_BYTES", size // 5)  # 5 regions and a bit before
    monkeypatch.setattr(parallel_capture, "JSON_REGION_BYTES", size // 5)
    tasks: list = []
    merged = parallel_capture._merged

    def keeping(regions, *args):
        tasks.extend(regions)
        return merged(iter(tasks), *args)

    monkeypatch.setattr(parallel_capture, "_merged", keeping)
    problems = Problems()
    load_captures([path], IngestPipeline(RollingStore(problems=problems), problems=problems), workers=2)
    if tasks[0].frames is not None:
        sizes = [task.frames[-1][1] - task.frames[0][0] for task in tasks]
        step = max(end - start for task in tasks for start, end in task.frames)  # a region ends with a whole frame
    else:
        sizes = [task.end - task.start for task in tasks]
        step = max(map(len, path.read_bytes().splitlines())) + 1
    assert len(tasks) == 6
    assert sum(sizes) >= size - 4 * len(tasks)  # every byte in a region (a frame's header aside)
    assert max(sizes) - min(sizes) <= 2 * step
    assert min(sizes) > size // 6 - 2 * step
