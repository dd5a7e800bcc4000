"""The Kafka source against a real broker: encodings end to end, start, reconnects, poison messages, record."""

from __future__ import annotations

import argparse
import base64
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from multiprocessing import Pipe
from pathlib import Path

import numpy as np
import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from flowviz.bench.encode import (
    jaeger_json_document,
    otlp_json_lines,
    otlp_json_request,
    otlp_proto_frames,
    otlp_proto_request,
    zipkin_json_traces,
)
from flowviz.bench.live import latency_case, throughput_case
from flowviz.bench.synthetic import synthetic_traces
from flowviz.commands.kafka import add_kafka_commands
from flowviz.decoders.messages import MessageDecoder
from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.problems import Problems
from flowviz.sim.simulator import DEFAULT_START_NS, Simulator
from flowviz.sources.kafka_publish import LocalBroker, Publisher, create_topic, free_port
from flowviz.sources.kafka_reader import KafkaReader
from flowviz.sources.kafka_settings import KafkaSettings, consumer_config
from flowviz.sources.kafka_status import status_text
from flowviz.sources.pipe_messages import Derived, SourceStatus, Stop
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.sources.recording import read_recording
from flowviz.sources.worker import run_worker
from flowviz.store.rolling_store import RollingStore

EVERYTHING = (-(2**62), 2**62)
REPO_ROOT = Path(__file__).resolve().parents[2]


# -- helpers ---------------------------------------------------------------------------------


def _new_topic(broker: LocalBroker, name: str, *, partitions: int = 1) -> str:
    topic = f"{name}-{uuid.uuid4().hex[:8]}"
    create_topic(KafkaSettings(bootstrap=broker.bootstrap, topics=(topic,)), topic, partitions=partitions)
    return topic


def _publish(broker: LocalBroker, topic: str, values: list[bytes]) -> None:
    publisher = Publisher(KafkaSettings(bootstrap=broker.bootstrap, topics=(topic,)), topic)
    publisher.send(values)
    assert publisher.flush(10.0) == 0
    assert publisher.totals.failed == 0, publisher.totals.last_error


def _read(reader: KafkaReader, count: int, *, timeout_s: float = 15.0) -> list:
    """Poll until `count` messages arrived (fails after `timeout_s`)."""
    got: list = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} of {count} messages, status {reader.status}"
        got += reader.poll(timeout_s=0.1)
    return got


def _live_graph(broker: LocalBroker, topic: str, count: int, *, format_name: str = "auto"):
    """(edges, problems, formats) of `count` messages read from the topic's beginning into a store."""
    problems = Problems()
    store = RollingStore(problems=problems)
    pipeline = IngestPipeline(store, problems=problems)
    settings = KafkaSettings(bootstrap=broker.bootstrap, topics=(topic,), start="earliest", format_name=format_name)
    reader = KafkaReader(settings, problems=problems)
    decoder = MessageDecoder(format_name, problems=problems)
    try:
        seen = 0
        deadline = time.monotonic() + 15
        while seen < count:
            assert time.monotonic() < deadline, f"only {seen} of {count} messages"
            messages = reader.poll(timeout_s=0.1)
            if messages:
                pipeline.feed(decoder.decode(messages))
                seen += len(messages)
        pipeline.finish()
    finally:
        reader.close()
    return _edges(store), problems, decoder.formats


def _file_graph(path: Path):
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures([path], IngestPipeline(store, problems=problems))
    assert not totals.failed_files, totals.failed_files
    return _edges(store), totals


def _edges(store: RollingStore) -> dict:
    frame = store.query(*EVERYTHING)
    names = frame.node_names
    return {
        (names[frame.edge_source[e]], names[frame.edge_target[e]]): (
            int(frame.edge_requests[e]),
            int(frame.edge_errors[e]),
            ConnectionType(int(frame.edge_connection_type[e])),
            frame.edge_via[e],
            round(float(frame.edge_p50_ms[e]), 6),
        )
        for e in np.flatnonzero(frame.edge_requests > 0).tolist()
    }


def _groups(traces: list[list], spans_per_message: int = 100) -> list[list]:
    groups, pending = [], []
    for trace in traces:
        pending += trace
        if len(pending) >= spans_per_message:
            groups.append(pending)
            pending = []
    return [*groups, pending] if pending else groups


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _jaeger_protobuf_json(span: dict, process: dict) -> bytes:
    """A Jaeger UI span as the Collector's kafka exporter writes `jaeger_json` (model.Span protobuf-JSON)."""
    start = datetime.fromtimestamp(span["startTime"] // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    tags = []
    for tag in span["tags"]:
        if tag["type"] == "bool":
            tags.append({"key": tag["key"], "vType": "BOOL", "vBool": tag["value"]})
        elif tag["type"] == "int64":
            tags.append({"key": tag["key"], "vType": "INT64", "vInt64": str(tag["value"])})
        else:
            tags.append({"key": tag["key"], "vStr": tag["value"]})
    return orjson.dumps(
        {
            "traceId": _b64(span["traceID"]),
            "spanId": _b64(span["spanID"]),
            "operationName": span["operationName"],
            "references": [{"traceId": _b64(r["traceID"]), "spanId": _b64(r["spanID"])} for r in span["references"]],
            "flags": 1,
            "startTime": f"{start}.{span['startTime'] % 1_000_000:06d}000Z",
            "duration": f"{span['duration'] / 1e6:.6f}s",
            "tags": tags,
            "process": process,
        }
    )


def _encoding(name: str, traces: list[list]) -> tuple[list[bytes], bytes]:
    """(Kafka message values as the Collector's kafka exporter writes them, the same spans as a capture file)."""
    if name == "otlp_proto":
        return [otlp_proto_request(g) for g in _groups(traces)], otlp_proto_frames(traces)
    if name == "otlp_json":
        return [orjson.dumps(otlp_json_request(g)) for g in _groups(traces)], otlp_json_lines(traces)
    if name == "zipkin_json":
        per_trace = zipkin_json_traces(traces)
        messages = [
            orjson.dumps([span for trace in per_trace[i : i + 10] for span in trace])
            for i in range(0, len(per_trace), 10)
        ]
        return messages, orjson.dumps(per_trace)
    document = jaeger_json_document(traces)
    messages = [
        _jaeger_protobuf_json(span, trace["processes"][span["processID"]])
        for trace in document["data"]
        for span in trace["spans"]
    ]
    return messages, orjson.dumps(document)


# -- encodings end to end ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["otlp_proto", "otlp_json", "zipkin_json", "jaeger_json"])
def test_each_encoding_gives_the_graph_of_the_same_spans_in_a_file(kafka_broker, tmp_path, encoding) -> None:
    traces = list(synthetic_traces(spans=1_500, seed=5, services=12))
    messages, file_bytes = _encoding(encoding, traces)
    (tmp_path / "capture").write_bytes(file_bytes)
    expected, _ = _file_graph(tmp_path / "capture")
    topic = _new_topic(kafka_broker, encoding)
    _publish(kafka_broker, topic, messages)
    for format_name in ("auto", encoding):
        edges, problems, formats = _live_graph(kafka_broker, topic, len(messages), format_name=format_name)
        assert edges == expected
        assert not [r for r in problems.as_dict() if r.startswith(("kafka", "otlp", "json", "jaeger", "zipkin"))]
        assert formats == {encoding: len(messages)}


def test_the_simulator_through_kafka_gives_the_graph_of_its_capture_file(kafka_broker, tmp_path) -> None:
    simulator = Simulator(seed=3, rate_per_s=3_000, spans_per_message=100)
    messages = simulator.generate(DEFAULT_START_NS + 20 * 1_000_000_000)
    (tmp_path / "sim.pb").write_bytes(b"".join(len(m).to_bytes(4, "big") + m for m in messages))
    expected, totals = _file_graph(tmp_path / "sim.pb")
    topic = _new_topic(kafka_broker, "otlp_spans", partitions=3)
    _publish(kafka_broker, topic, messages)
    edges, _, formats = _live_graph(kafka_broker, topic, len(messages))
    assert totals.spans > 50_000
    assert len(expected) > 20
    assert any(key[2] == ConnectionType.MESSAGING_SYSTEM for key in expected.values())
    assert edges == expected
    assert formats == {"otlp_proto": len(messages)}


# -- reading: start, poison, group, topics that come later ---------------------------------------


def test_poison_messages_are_counted_not_fatal(kafka_broker) -> None:
    good = otlp_proto_request(next(iter(_groups(list(synthetic_traces(spans=300, seed=2))))))
    topic = _new_topic(kafka_broker, "poison")
    _publish(kafka_broker, topic, [good, b"\x00\xffnot a trace\x01", b"{not json", b"", b'{"hello": 1}', good])
    problems = Problems()
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest")
    reader = KafkaReader(settings, problems=problems)
    decoder = MessageDecoder(problems=problems)
    batch = decoder.decode(_read(reader, 6))
    _publish(kafka_broker, topic, [good])
    after = decoder.decode(_read(reader, 1))
    reader.close()
    assert len(batch) == 2 * len(after) > 0
    counts = {reason: entry["count"] for reason, entry in problems.as_dict().items()}
    assert counts == {
        "otlp-proto: message does not parse (DecodeError)": 1,
        "kafka: message is not valid JSON": 1,
        "kafka: message without a value (skipped)": 1,
        "kafka: JSON message in no trace or event format": 1,
    }
    assert problems.as_dict()["kafka: message is not valid JSON"]["first"][0].startswith(f"{topic}[0]@2")


def test_start_from_a_time_latest_and_earliest(kafka_broker) -> None:
    topic = _new_topic(kafka_broker, "start")
    _publish(kafka_broker, topic, [b"a1", b"a2", b"a3"])
    time.sleep(0.2)
    mark = datetime.now(UTC)
    time.sleep(0.05)
    for value in (b"b1", b"b2"):  # one produce request each: Tansu reports a topic's end as its last batch's start + 1
        _publish(kafka_broker, topic, [value])

    def values(start: str, count: int) -> list[bytes]:
        reader = KafkaReader(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start=start))
        got = [m.value() for m in _read(reader, count)]
        got += [m.value() for m in reader.poll(timeout_s=0.3)]  # nothing more
        reader.close()
        return got

    assert values(mark.isoformat(), 2) == [b"b1", b"b2"]
    assert values("-15m", 5) == [b"a1", b"a2", b"a3", b"b1", b"b2"]
    assert values("earliest", 5) == [b"a1", b"a2", b"a3", b"b1", b"b2"]
    reader = KafkaReader(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="latest"))
    while reader.status.state != "connected":
        assert not reader.poll(timeout_s=0.1)
    _publish(kafka_broker, topic, [b"c1"])
    assert [m.value() for m in _read(reader, 1)] == [b"c1"]
    reader.close()


def test_reading_joins_no_consumer_group_and_commits_nothing(kafka_broker) -> None:
    topic = _new_topic(kafka_broker, "groups")
    _publish(kafka_broker, topic, [b"x"] * 5)
    reader = KafkaReader(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest"))
    _read(reader, 5)
    reader.close()
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    groups = {g.group_id for g in admin.list_consumer_groups().result(10).valid}
    assert "flowviz-viewer" not in groups
    control = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": f"control-{topic}"})
    control.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)  # the listing does see groups
    control.close()
    assert f"control-{topic}" in {g.group_id for g in admin.list_consumer_groups().result(10).valid}


def test_a_topic_created_later_is_waited_for(kafka_broker) -> None:
    later = f"later-{uuid.uuid4().hex[:8]}"
    reader = KafkaReader(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(later,), start="latest"))
    deadline = time.monotonic() + 5
    while reader.status.state != "waiting for topic":
        assert time.monotonic() < deadline
        reader.poll(timeout_s=0.1)
    assert later in status_text(reader.status.as_dict())
    create_topic(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(later,)), later)
    _publish(kafka_broker, later, [b"first", b"second"])
    assert [m.value() for m in _read(reader, 2)] == [b"first", b"second"]  # 'latest' = since the viewer started
    assert reader.status.state == "connected"
    reader.close()


def test_topics_that_exist_are_read_while_another_is_waited_for(kafka_broker) -> None:
    present, later = _new_topic(kafka_broker, "present"), f"later-{uuid.uuid4().hex[:8]}"
    _publish(kafka_broker, present, [b"p1"])
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(present, later), start="earliest")
    reader = KafkaReader(settings)
    assert [m.value() for m in _read(reader, 1)] == [b"p1"]
    assert later in reader.status.last_error
    _publish(kafka_broker, present, [b"p2"])
    assert [m.value() for m in _read(reader, 1)] == [b"p2"]
    create_topic(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(later,)), later)
    _publish(kafka_broker, later, [b"l1"])
    assert [(m.topic(), m.value()) for m in _read(reader, 1)] == [(later, b"l1")]
    assert reader.status.partitions == 2
    reader.close()


def test_no_broker_is_retried_with_back_off_and_shown() -> None:
    reader = KafkaReader(KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}", topics=("otlp_spans",)))
    assert reader.status.state == "connecting"
    deadline = time.monotonic() + 8
    while reader.status.state != "reconnecting" or reader.status.retry_in_s is None:
        assert time.monotonic() < deadline, reader.status
        assert reader.poll(timeout_s=0.1) == []
    first_wait = reader.status.retry_in_s
    started = time.monotonic()
    while reader.status.retry_in_s is not None and reader.status.retry_in_s <= first_wait:
        assert time.monotonic() - started < 8, reader.status
        reader.poll(timeout_s=0.1)  # each call returns soon, so a caller can stop in between
    assert reader.status.retry_in_s > first_wait  # the next wait is longer
    assert "127.0.0.1" in status_text(reader.status.as_dict())
    reader.close()


def test_a_broker_stopped_and_started_again_is_reconnected() -> None:
    with LocalBroker() as broker:
        topic = _new_topic(broker, "restart")
        _publish(broker, topic, [b"before"] * 5)
        reader = KafkaReader(KafkaSettings(bootstrap=broker.bootstrap, topics=(topic,), start="earliest"))
        _read(reader, 5)
        broker.stop()
        deadline = time.monotonic() + 10
        while reader.status.state != "reconnecting":
            assert time.monotonic() < deadline, reader.status
            assert not reader.poll(timeout_s=0.1)
        broker.start()  # memory storage: the topic starts empty again
        create_topic(KafkaSettings(bootstrap=broker.bootstrap, topics=(topic,)), topic)
        _publish(broker, topic, [b"after-1", b"after-2"])
        assert [m.value() for m in _read(reader, 2, timeout_s=20)] == [b"after-1", b"after-2"]
        assert reader.status.state == "connected"
        reader.close()


# -- the worker process side (ProcessFeed) ---------------------------------------------------------


def test_the_live_worker_sends_observations_and_status(kafka_broker) -> None:
    topic = _new_topic(kafka_broker, "worker")
    simulator = Simulator(seed=4, rate_per_s=2_000, spans_per_message=100)
    messages = simulator.generate(DEFAULT_START_NS + 10 * 1_000_000_000)
    _publish(kafka_broker, topic, messages)
    parent, child = Pipe()
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest")
    worker = threading.Thread(target=run_worker, args=(settings, child), daemon=True)
    worker.start()
    calls, spans, status = 0, 0, {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (spans == simulator.spans_emitted and status.get("lag_messages") == 0):
        if parent.poll(0.1):
            message = parent.recv()
            if isinstance(message, Derived):
                calls += int(message.observations.count.sum())
                spans = message.spans
            elif isinstance(message, SourceStatus):
                status = message.status
    parent.send(Stop())
    worker.join(5)
    assert not worker.is_alive()
    assert spans == simulator.spans_emitted
    assert calls > 0
    assert status["state"] == "connected"
    assert status["messages"] == len(messages)
    assert status["formats"] == {"otlp_proto": len(messages)}
    assert status["decode_problems"] == 0
    assert status["lag_messages"] == 0
    assert status["partitions"] == 1


# -- record and simulate --------------------------------------------------------------------------


def _run(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_kafka_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(arguments)
    return args.handler(args)


def test_recording_is_lossless(kafka_broker, tmp_path) -> None:
    topic = _new_topic(kafka_broker, "lossless", partitions=2)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    sent = []
    for index in range(40):
        key = None if index % 5 == 0 else f"key-{index}".encode()
        value = None if index == 7 else bytes(range(256))[index:] + index.to_bytes(2, "big")
        headers = [("ce_type", b"OrderPlaced"), ("empty", None)] if index % 3 == 0 else None
        stamp_ms = 1_700_000_000_000 + index
        producer.produce(topic, value, key, partition=index % 2, headers=headers, timestamp=stamp_ms)
        sent.append((index % 2, key, value, headers, stamp_ms))
    assert producer.flush(10) == 0
    output = tmp_path / "topic.fvrec"
    code = _run(["record", "--bootstrap", kafka_broker.bootstrap, "--topic", topic, "-o", str(output),
                 "--from", "earliest", "--until-idle", "0.5"])  # fmt: skip
    assert code == 0
    contents = read_recording(output)
    assert contents.headers[0]["topics"] == [topic]
    got = sorted(contents.messages, key=lambda m: (m.partition, m.offset))
    expected = sorted(sent, key=lambda s: s[0])  # per partition in produce order
    assert [(m.partition, m.key, m.value, m.headers, m.timestamp_ms) for m in got] == [
        (partition, key, value, headers and [tuple(h) for h in headers], stamp)
        for partition, key, value, headers, stamp in expected
    ]
    assert [m.offset for m in got if m.partition == 0] == list(range(20))
    assert {m.topic for m in got} == {topic}
    assert {m.timestamp_type for m in got} == {1}


def test_a_killed_recorder_leaves_a_readable_file_and_the_graph_is_the_live_one(kafka_broker, tmp_path) -> None:
    simulator = Simulator(seed=6, rate_per_s=3_000, spans_per_message=100)
    messages = simulator.generate(DEFAULT_START_NS + 10 * 1_000_000_000)
    topic = _new_topic(kafka_broker, "kill")
    _publish(kafka_broker, topic, messages)
    output = tmp_path / "killed.fvrec"
    script = (
        "import sys; from flowviz.commands.kafka import add_kafka_commands; import argparse\n"
        "p = argparse.ArgumentParser(); add_kafka_commands(p.add_subparsers())\n"
        "a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))\n"
    )
    arguments = [
        "record",
        "--bootstrap",
        kafka_broker.bootstrap,
        "--topic",
        topic,
        "-o",
        str(output),
        "--from",
        "earliest",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    recorder = subprocess.Popen([sys.executable, "-c", script, *arguments], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while len(read_recording(output).messages if output.exists() and output.stat().st_size > 64 else []) < len(
        messages
    ):
        assert time.monotonic() < deadline
        assert recorder.poll() is None
        time.sleep(0.1)
    recorder.send_signal(signal.SIGKILL)
    recorder.wait(5)
    with output.open("ab") as file:
        file.write(b"\x99\x00\x00")  # what a kill in the middle of a write would leave
    problems = Problems()
    contents = read_recording(output, problems=problems)
    assert [m.value for m in contents.messages] == messages
    assert problems.count("recording: last record is cut off (ignored)") == 1
    expected, _, _ = _live_graph(kafka_broker, topic, len(messages))
    edges, totals = _file_graph(output)  # `flowviz open` / `report` read recordings as captures
    assert totals.spans == simulator.spans_emitted
    assert edges == expected
    # recording again appends a session after cutting off the partial record
    code = _run(["record", "--bootstrap", kafka_broker.bootstrap, "--topic", topic, "-o", str(output),
                 "--from", "earliest", "--max-messages", "3"])  # fmt: skip
    assert code == 0
    problems = Problems()
    contents = read_recording(output, problems=problems)
    assert len(contents.headers) == 2
    assert len(contents.messages) == len(messages) + 3
    assert not problems


def test_simulate_publishes_the_simulator(kafka_broker) -> None:
    topic = _new_topic(kafka_broker, "simulate")
    code = _run(["simulate", "--bootstrap", kafka_broker.bootstrap, "--topic", topic, "--rate", "20000",
                 "--duration", "0.6", "--format", "otlp_json", "--flat"])  # fmt: skip
    assert code == 0
    reader = KafkaReader(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest"))
    messages = _read(reader, 20)
    messages += reader.poll(timeout_s=0.5)
    reader.close()
    decoder = MessageDecoder(problems=Problems())
    spans = len(decoder.decode(messages))
    assert 5_000 < spans < 20_000
    assert set(decoder.formats) == {"otlp_json"}


def test_bad_settings_are_usage_errors(tmp_path, capsys) -> None:
    (tmp_path / "client.properties").write_text("security.protocol=SASL_SSL\nthis line has no separator\n")
    assert _run(["record", "--bootstrap", "127.0.0.1:1", "-o", str(tmp_path / "r"), "--from", "yesterday"]) == 2
    assert _run(["record", "--bootstrap", "127.0.0.1:1", "-o", str(tmp_path / "r"),
                 "--kafka-config", str(tmp_path / "client.properties")]) == 2  # fmt: skip
    assert _run(["record", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "'yesterday' is not a time" in err
    assert "client.properties:2: expected key=value" in err
    assert "no broker given" in err


def test_the_live_bench_runs(kafka_broker) -> None:
    figures = throughput_case(kafka_broker.bootstrap, "otlp_proto", 5_000)
    assert figures["spans"] > 2_000
    assert figures["problems"] == 0
    latency = latency_case(kafka_broker.bootstrap, rate_per_s=5_000, duration_s=1.0)
    assert latency["messages"] > 0
    assert 0 <= latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]


def test_a_properties_file_reaches_librdkafka_and_its_secrets_stay_there(tmp_path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text(
        "# SASL/SCRAM over TLS\n"
        "security.protocol = SASL_SSL\n"
        "sasl.mechanism: SCRAM-SHA-512\n"
        "sasl.username=viewer\n"
        "sasl.password=s3cret-\\\n"
        "continued\n"
        "enable.auto.commit=true\n"
    )
    settings = KafkaSettings(bootstrap="127.0.0.1:9", topics=("otlp_spans",), config_path=str(properties))
    config = consumer_config(settings, on_error=print, on_stats=print)
    assert config["sasl.password"] == "s3cret-continued"
    assert config["security.protocol"] == "SASL_SSL"
    assert config["enable.auto.commit"] is False  # the viewer never commits, whatever the file says
    assert config["fetch.queue.backoff.ms"] == 5
    Consumer(config).close()  # librdkafka accepts every key
    reader = KafkaReader(settings)
    assert "s3cret" not in repr(settings) + repr(reader.status.as_dict())
    reader.close()


def test_process_feed_runs_the_kafka_worker(kafka_broker) -> None:
    from flowviz.sources.process_feed import ProcessFeed

    topic = _new_topic(kafka_broker, "feed")
    simulator = Simulator(seed=8, rate_per_s=2_000, spans_per_message=100)
    _publish(kafka_broker, topic, simulator.generate(DEFAULT_START_NS + 10 * 1_000_000_000))
    store = RollingStore(problems=Problems())
    feed = ProcessFeed(store, KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest"))
    feed.start()
    try:
        deadline = time.monotonic() + 20
        while feed.status.spans < simulator.spans_emitted or feed.status.source.get("state") != "connected":
            assert time.monotonic() < deadline, feed.status
            assert not feed.status.error
            time.sleep(0.1)
        assert feed.status.summary().startswith(f"connected · {topic}")
    finally:
        feed.stop()
    assert len(_edges(store)) > 10
