"""The OTLP receiver with real clients (the OpenTelemetry SDK's gRPC and HTTP exporters, a collector-shaped gRPC
stub, raw HTTP); answers per the OTLP specification; recordings whose graph equals that of the same spans in a file."""

from __future__ import annotations

import gzip
import http.client
import json
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from flowviz.analysis.report import build_report, default_window
from flowviz.model.problems import Problems
from flowviz.sim.simulator import Simulator
from flowviz.sources.otlp_receiver import (
    OtlpReceiver,
    ReceiverConfigError,
    ReceiverSettings,
    check_receiver_settings,
    record_otlp,
    split_address,
)
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.sources.recording import RecordingWriter, read_recording
from flowviz.store.rolling_store import RollingStore

TLS_DIR = Path(__file__).parent / "otlp_tls"  # a self-signed test pair for localhost / 127.0.0.1 (tests only)
START_NS = 1_700_000_000_000_000_000
LOOPBACK = ReceiverSettings(grpc="127.0.0.1:0", http="127.0.0.1:0")


def graph_of(paths: list[Path]) -> dict:
    """Nodes and edges of the report over everything in `paths` (what `flowviz report --json` prints)."""
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures([str(p) for p in paths], IngestPipeline(store, problems=problems))
    report = build_report(store, default_window(store, totals), totals, problems)
    return {"spans": totals.spans, "nodes": report["nodes"], "edges": report["edges"]}


def write_frames(path: Path, messages: list[bytes]) -> None:
    """A capture of OTLP messages as 4-byte big-endian length-prefixed frames (what `open` reads)."""
    path.write_bytes(b"".join(struct.pack(">I", len(m)) + m for m in messages))


def simulated_messages(seconds: float = 4.0) -> list[bytes]:
    simulator = Simulator(seed=3, rate_per_s=800, start_ns=START_NS)
    return simulator.generate(START_NS + int(seconds * 1e9))


def post(address: str, body: bytes, headers: dict[str, str], *, path: str = "/v1/traces", method: str = "POST"):
    host, port = split_address(address)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


class Recorder:
    """`record_otlp` in a thread until `finish()`; `path` holds the recording."""

    def __init__(self, receiver: OtlpReceiver, path: Path) -> None:
        self.stop = threading.Event()
        self.writer = RecordingWriter(path, header=receiver.recording_header())
        self.thread = threading.Thread(
            target=lambda: setattr(self, "totals", record_otlp(receiver, self.writer, should_stop=self.stop.is_set))
        )
        self.thread.start()

    def finish(self):
        self.stop.set()
        self.thread.join(10)
        self.writer.close()
        return self.totals


# -- real clients ----------------------------------------------------------------------------


def _sdk_traces(exporter_for_service, traces: int = 40) -> list:
    """Spans of a frontend -> checkout -> postgres system made with the SDK, exported by `exporter_for_service(name)`
    and also kept in memory; returns the in-memory spans."""
    from opentelemetry import context, trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode

    memory = InMemorySpanExporter()
    providers = {}
    for name in ("frontend", "checkout"):
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        provider.add_span_processor(BatchSpanProcessor(exporter_for_service(name), schedule_delay_millis=100))
        providers[name] = provider
    frontend = providers["frontend"].get_tracer("test")
    checkout = providers["checkout"].get_tracer("test")
    for number in range(traces):
        with (
            frontend.start_as_current_span("GET /cart", kind=SpanKind.SERVER),
            frontend.start_as_current_span("POST /checkout", kind=SpanKind.CLIENT) as client,
        ):
            remote = trace.set_span_in_context(trace.NonRecordingSpan(client.get_span_context()))
            token = context.attach(remote)
            try:
                with checkout.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as server:
                    with checkout.start_as_current_span(
                        "SELECT orders", kind=SpanKind.CLIENT, attributes={"db.system": "postgresql"}
                    ):
                        time.sleep(0.0005)
                    if number % 5 == 0:
                        server.set_status(Status(StatusCode.ERROR))
            finally:
                context.detach(token)
    for provider in providers.values():
        assert provider.force_flush(10_000)
        provider.shutdown()
    return list(memory.get_finished_spans())


def _spans_file(spans: list, path: Path) -> Path:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    write_frames(path, [encode_spans(spans).SerializeToString()])
    return path


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_exporters_record_the_graph_of_the_same_spans_in_a_file(tmp_path, transport):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    receiver = OtlpReceiver(LOOPBACK)
    recorder = Recorder(receiver, tmp_path / "sdk.fvrec")
    try:
        if transport == "grpc":
            address = receiver.intake.status.grpc
            spans = _sdk_traces(lambda _: GrpcExporter(endpoint=address, insecure=True))
        else:
            url = f"http://{receiver.intake.status.http}/v1/traces"
            spans = _sdk_traces(lambda _: HttpExporter(endpoint=url, compression=Compression.Gzip))
    finally:
        totals = recorder.finish()
    assert totals.spans == len(spans) == 40 * 4
    recorded = graph_of([tmp_path / "sdk.fvrec"])
    from_file = graph_of([_spans_file(spans, tmp_path / "same.pb")])
    assert recorded == from_file
    edges = {(e["source"], e["target"]): e for e in recorded["edges"]}
    assert edges[("frontend", "checkout")]["requests"] == 40
    assert edges[("frontend", "checkout")]["errors"] == 8
    assert edges[("checkout", "postgresql")]["connection_type"] == "database"
    assert receiver.intake.status.refused_invalid == receiver.intake.status.rejected_spans == 0


def test_collector_shaped_grpc_sender_with_gzip_records_losslessly(tmp_path):
    messages = simulated_messages()
    write_frames(tmp_path / "sent.pb", messages)
    receiver = OtlpReceiver(LOOPBACK)
    recorder = Recorder(receiver, tmp_path / "received.fvrec")
    try:
        with grpc.insecure_channel(receiver.intake.status.grpc, compression=grpc.Compression.Gzip) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            for message in messages:  # as the collector's otlp exporter sends: one request per batch, with metadata
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(message)
                response = stub.Export(request, metadata=(("x-scope-orgid", "tenant-1"),), timeout=10)
                assert not response.HasField("partial_success")
    finally:
        recorder.finish()
    contents = read_recording(tmp_path / "received.fvrec")
    assert [m.value for m in contents.messages] == messages  # byte for byte, in order
    assert contents.headers[0]["source"] == "otlp receiver"
    assert graph_of([tmp_path / "received.fvrec"]) == graph_of([tmp_path / "sent.pb"])


def test_otlp_json_over_http_is_read_like_the_same_json_in_a_file(tmp_path):
    simulator = Simulator(seed=5, rate_per_s=600, start_ns=START_NS)
    documents = simulator.generate_json(START_NS + 3_000_000_000)
    (tmp_path / "sent.jsonl").write_bytes(b"\n".join(documents) + b"\n")
    receiver = OtlpReceiver(LOOPBACK)
    recorder = Recorder(receiver, tmp_path / "received.fvrec")
    try:
        for document in documents:
            status, headers, body = post(receiver.intake.status.http, document, {"Content-Type": "application/json"})
            assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", {})
    finally:
        recorder.finish()
    assert graph_of([tmp_path / "received.fvrec"]) == graph_of([tmp_path / "sent.jsonl"])


# -- answers per the specification -----------------------------------------------------------


def _request(resources: list[tuple[str | None, int]], *, bad_ids: int = 0) -> bytes:
    """An export request: per resource (service name or None, span count); the first `bad_ids` spans have no id."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    number = 0
    for service, count in resources:
        resource_spans = request.resource_spans.add()
        if service is not None:
            attribute = resource_spans.resource.attributes.add()
            attribute.key, attribute.value.string_value = "service.name", service
        scope = resource_spans.scope_spans.add()
        for _ in range(count):
            number += 1
            span = scope.spans.add(
                trace_id=number.to_bytes(16, "big"),
                span_id=(b"" if number <= bad_ids else number.to_bytes(8, "big")),
                name="op",
                kind=trace_pb2.Span.SPAN_KIND_SERVER,
                start_time_unix_nano=START_NS,
                end_time_unix_nano=START_NS + 1_000_000,
            )
            assert span
    return request.SerializeToString()


def test_partial_success_counts_rejected_spans_over_grpc_and_http():
    body = _request([("shop", 5), (None, 3)], bad_ids=2)  # 2 without ids, 3 in a resource without service.name
    with OtlpReceiver(LOOPBACK) as receiver:
        with grpc.insecure_channel(receiver.intake.status.grpc) as channel:
            export = channel.unary_unary(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString,
            )
            answer = export(body, timeout=10)
        assert answer.partial_success.rejected_spans == 5
        assert "service.name" in answer.partial_success.error_message
        status, _, raw = post(receiver.intake.status.http, body, {"Content-Type": "application/x-protobuf"})
        assert status == 200
        assert trace_service_pb2.ExportTraceServiceResponse.FromString(raw).partial_success.rejected_spans == 5
        received = receiver.intake.take(1.0)
        assert [len(r.batch) for r in received] == [3, 3]
        assert receiver.intake.status.rejected_spans == 10
        assert receiver.intake.status.spans == 6


def test_bodies_that_are_not_otlp_are_refused_and_counted():
    with OtlpReceiver(LOOPBACK) as receiver:
        address = receiver.intake.status.http
        proto = {"Content-Type": "application/x-protobuf"}
        status, _, raw = post(address, b"\xff\xff\xff\xff", proto)
        assert status == 400
        assert status_pb2.Status.FromString(raw).code == 3  # INVALID_ARGUMENT, in the request's encoding
        status, headers, raw = post(address, b'{"resourceSpans": [', {"Content-Type": "application/json"})
        assert (status, headers["Content-Type"]) == (400, "application/json")
        assert json.loads(raw)["code"] == 3
        assert post(address, b'{"resourceSpans": 5}', {"Content-Type": "application/json"})[0] == 400
        assert post(address, b"[1, 2]", {"Content-Type": "application/json"})[0] == 400
        assert post(address, b'{"unknownField": 1}', {"Content-Type": "application/json"})[0] == 200  # ignored: spec
        assert post(address, b"x", {**proto, "Content-Encoding": "gzip"})[0] == 400
        assert post(address, b"x", {"Content-Type": "text/plain"})[0] == 415
        assert post(address, _request([("a", 1)]), {"Content-Type": "application/protobuf"})[0] == 200
        assert post(address, _request([("a", 1)]), proto, path="/v1/metrics")[0] == 404
        assert post(address, b"", proto, method="GET")[0] == 405
        with grpc.insecure_channel(receiver.intake.status.grpc) as channel:
            export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            with pytest.raises(grpc.RpcError) as refused:
                export(b"\x0a\xff\xff\xff\x0f", timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        snapshot = receiver.intake.snapshot()
        assert snapshot["refused_invalid"] == 6  # 2 protobuf, 3 JSON, 1 gzip (415/404/405 are not requests)
        assert receiver.intake.problems.count("otlp receiver: request is not OTLP (refused, not retried)") == 6
        assert [len(r.batch) for r in receiver.intake.take(0)] == [1]  # only the application/protobuf one


def test_over_the_size_limit_is_413_and_resource_exhausted():
    settings = ReceiverSettings(grpc="127.0.0.1:0", http="127.0.0.1:0", max_body_bytes=4096)
    big = _request([("shop", 200)])
    assert len(big) > 4096
    with OtlpReceiver(settings) as receiver:
        proto = {"Content-Type": "application/x-protobuf"}
        assert post(receiver.intake.status.http, big, proto)[0] == 413
        assert post(receiver.intake.status.http, gzip.compress(big), {**proto, "Content-Encoding": "gzip"})[0] == 413
        with grpc.insecure_channel(receiver.intake.status.grpc) as channel:
            export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            with pytest.raises(grpc.RpcError) as refused:
                export(big, timeout=10)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert receiver.intake.status.refused_too_large >= 2


def test_a_consumer_behind_gets_503_retry_after_and_unavailable_with_retry_info():
    body = _request([("shop", 50)])
    with OtlpReceiver(LOOPBACK) as receiver:
        receiver.intake.max_pending_bytes = len(body) + 10  # one request fills it; nobody takes
        proto = {"Content-Type": "application/x-protobuf"}
        assert post(receiver.intake.status.http, body, proto)[0] == 200
        status, headers, _ = post(receiver.intake.status.http, body, proto)
        assert (status, headers["Retry-After"]) == (503, "1")
        with grpc.insecure_channel(receiver.intake.status.grpc) as channel:
            export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            with pytest.raises(grpc.RpcError) as refused:
                export(body, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        details = dict(refused.value.trailing_metadata())["grpc-status-details-bin"]
        retry = error_details_pb2.RetryInfo()
        assert status_pb2.Status.FromString(details).details[0].Unpack(retry)
        assert retry.retry_delay.seconds == 1
        own_trailer = dict(refused.value.trailing_metadata())["google.rpc.retryinfo-bin"]  # what the Python SDK reads
        assert error_details_pb2.RetryInfo.FromString(own_trailer).retry_delay.seconds == 1
        assert receiver.intake.status.refused_busy == 2
        assert len(receiver.intake.take(0)) == 1  # the consumer catches up: the retry is taken
        assert post(receiver.intake.status.http, body, proto)[0] == 200


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_exporters_refused_while_nobody_consumes_retry_and_lose_nothing(tmp_path, transport):
    """A real overload: the receiver holds at most one request and its consumer starts late, so the SDK's exporters
    are refused as busy, wait the delay the answer gives, send again, and every span ends up in the recording."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    receiver = OtlpReceiver(LOOPBACK)
    receiver.intake.max_pending_bytes = 1  # the first request waiting fills it: the next ones are refused
    recorders: list[Recorder] = []
    late_start = threading.Timer(1.5, lambda: recorders.append(Recorder(receiver, tmp_path / "late.fvrec")))
    late_start.start()
    try:
        if transport == "grpc":
            address = receiver.intake.status.grpc
            spans = _sdk_traces(lambda _: GrpcExporter(endpoint=address, insecure=True, timeout=20))
        else:
            url = f"http://{receiver.intake.status.http}/v1/traces"
            spans = _sdk_traces(lambda _: HttpExporter(endpoint=url, timeout=20))
    finally:
        late_start.join()
        totals = recorders[0].finish()
    assert receiver.intake.status.refused_busy >= 1  # the senders were told to come back
    assert totals.spans == receiver.intake.status.spans == len(spans) == 40 * 4  # and every span came back
    assert graph_of([tmp_path / "late.fvrec"]) == graph_of([_spans_file(spans, tmp_path / "same.pb")])


def test_stopping_refuses_new_requests_as_retryable_and_keeps_those_accepted(tmp_path):
    body = _request([("shop", 3)])
    receiver = OtlpReceiver(LOOPBACK)
    address = receiver.intake.status.http
    assert post(address, body, {"Content-Type": "application/x-protobuf"})[0] == 200
    with RecordingWriter(tmp_path / "r.fvrec") as writer:
        totals = record_otlp(receiver, writer, should_stop=lambda: True)
    assert totals.requests == 1  # accepted before the stop: written, not dropped
    assert receiver.intake.accept(body, "application/x-protobuf", "http").verdict.value == "busy"


# -- where it listens ----------------------------------------------------------------------


def test_loopback_by_default_and_tls_required_beyond_it():
    assert ReceiverSettings().grpc == "127.0.0.1:4317"
    assert ReceiverSettings().http == "127.0.0.1:4318"
    with pytest.raises(ReceiverConfigError, match="allow-remote"):
        check_receiver_settings(ReceiverSettings(grpc="0.0.0.0:4317", http=None))
    with pytest.raises(ReceiverConfigError, match="tls"):
        check_receiver_settings(ReceiverSettings(grpc="0.0.0.0:4317", http=None, allow_remote=True))
    with pytest.raises(ReceiverConfigError, match="HOST:PORT"):
        check_receiver_settings(ReceiverSettings(grpc="4317", http=None))
    check_receiver_settings(ReceiverSettings(grpc="[::1]:4317", http="localhost:4318"))
    check_receiver_settings(
        ReceiverSettings(
            grpc="0.0.0.0:4317",
            http=None,
            allow_remote=True,
            tls_cert=str(TLS_DIR / "cert.pem"),
            tls_key=str(TLS_DIR / "key.pem"),
        )
    )


def test_tls_on_both_protocols():
    settings = ReceiverSettings(
        grpc="127.0.0.1:0", http="127.0.0.1:0", tls_cert=str(TLS_DIR / "cert.pem"), tls_key=str(TLS_DIR / "key.pem")
    )
    body = _request([("shop", 4)])
    with OtlpReceiver(settings) as receiver:
        credentials = grpc.ssl_channel_credentials((TLS_DIR / "cert.pem").read_bytes())
        with grpc.secure_channel(receiver.intake.status.grpc, credentials) as channel:
            export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            assert export(body, timeout=10) == b""  # an empty ExportTraceServiceResponse: all taken
        context = ssl.create_default_context(cafile=str(TLS_DIR / "cert.pem"))
        host, port = split_address(receiver.intake.status.http)
        connection = http.client.HTTPSConnection(host, port, context=context, timeout=10)
        connection.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
        assert connection.getresponse().status == 200
        assert receiver.intake.status.spans == 8


def test_a_port_in_use_is_an_error_naming_it():
    with OtlpReceiver(LOOPBACK) as first:
        taken = first.intake.status.grpc
        with pytest.raises(OSError, match=taken.split(":")[1]):
            OtlpReceiver(ReceiverSettings(grpc=taken, http=None))
        taken = first.intake.status.http
        with pytest.raises(OSError, match=taken.split(":")[1]):
            OtlpReceiver(ReceiverSettings(grpc=None, http=taken))


# -- the commands --------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_flowviz_record_grpc_until_idle_then_report(tmp_path):
    port = _free_port()
    output = tmp_path / "otlp.fvrec"
    command = [sys.executable, "-m", "flowviz", "record", "--grpc", f"127.0.0.1:{port}", "-o", str(output)]
    process = subprocess.Popen([*command, "--until-idle", "2"], stderr=subprocess.PIPE, text=True)
    try:
        messages = simulated_messages(2.0)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            for message in messages:
                export(message, timeout=10)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert f"recorded {len(messages)} requests" in err
    assert "idle for 2 s" in err
    write_frames(tmp_path / "sent.pb", messages)
    assert graph_of([output]) == graph_of([tmp_path / "sent.pb"])


def test_flowviz_listen_refuses_a_public_address_without_tls(capsys):
    from flowviz.cli import main

    assert main(["listen", "--http", "0.0.0.0:4318"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
    assert main(["record", "--grpc", "127.0.0.1:0", "--bootstrap", "b:9092", "-o", "x.fvrec"]) == 2


def _flowviz(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    """`python -m flowviz ARGS` as a user runs it: grpc's own log level not set (so its C core would log)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    return subprocess.run(
        [sys.executable, "-m", "flowviz", *args], capture_output=True, text=True, timeout=timeout_s, env=env
    )


@pytest.mark.parametrize("protocol", ["--grpc", "--http"])
def test_a_bad_tls_pair_is_the_same_one_line_for_both_protocols(tmp_path, protocol):
    cert, key, other_key = (str(TLS_DIR / name) for name in ("cert.pem", "key.pem", "other_key.pem"))
    (tmp_path / "junk.pem").write_text("junk\n")
    junk = str(tmp_path / "junk.pem")
    cases = [
        (cert, other_key, f"{other_key}: not the key of {cert}: [X509: KEY_VALUES_MISMATCH] key values mismatch"),
        (
            junk,
            key,
            f"{junk}: not a certificate in PEM: [X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found",
        ),
        (cert, "/nope.key", "/nope.key: No such file or directory"),
    ]
    for tls_cert, tls_key, message in cases:
        done = _flowviz(
            "record", protocol, f"0.0.0.0:{_free_port()}", "--allow-remote", "--tls-cert", tls_cert,
            "--tls-key", tls_key, "-o", str(tmp_path / "x.fvrec"),
        )  # fmt: skip
        assert (done.returncode, done.stderr) == (2, f"flowviz record: {message}\n")  # no grpc log, no traceback
    assert not (tmp_path / "x.fvrec").exists()


def test_a_grpc_port_in_use_is_flowvizs_one_line_not_grpcs_log(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _flowviz("record", "--grpc", f"127.0.0.1:{port}", "-o", str(tmp_path / "x.fvrec"))
    message = f"flowviz record: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert (done.returncode, done.stderr) == (1, message)  # no grpc log line before it
