"""A live Kafka feed decoded by several processes: the graph and problems of one, whatever the split."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
import uuid
from multiprocessing import Pipe
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Producer

import flowviz.sources.kafka_decoders as kafka_decoders
from flowviz.bench.encode import otlp_proto_request
from flowviz.bench.synthetic import synthetic_traces
from flowviz.decoders.messages import MessageDecoder
from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.problems import Problems
from flowviz.sim.simulator import DEFAULT_START_NS, Simulator
from flowviz.sources.kafka_decoders import KafkaDecoders, MessageCopy, messages_where, partition_chunks
from flowviz.sources.kafka_publish import create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.pipe_messages import Derived, SourceStatus, Stop
from flowviz.sources.worker import run_worker
from flowviz.store.rolling_store import RollingStore

EVERYTHING = (-(2**62), 2**62)


class _Message:
    """A consumed message's accessors, for tests without a broker."""

    def __init__(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        self._state = (topic, partition, offset, value)

    def topic(self) -> str:
        return self._state[0]

    def partition(self) -> int:
        return self._state[1]

    def offset(self) -> int:
        return self._state[2]

    def value(self) -> bytes | None:
        return self._state[3]

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000 + self._state[2])

    def headers(self) -> None:
        return None


def test_a_poll_is_cut_by_partition_into_chunks_of_about_equal_bytes() -> None:
    messages = [_Message("t", offset % 4, offset, b"x" * 100) for offset in range(40)]
    chunks = partition_chunks(messages, 2)
    assert len(chunks) == 2
    assert sorted(m.offset() for chunk in chunks for m in chunk) == list(range(40))
    assert [{m.partition() for m in chunk} for chunk in chunks] == [{0, 2}, {1, 3}]
    assert all([m.offset() for m in chunk] == sorted(m.offset() for m in chunk) for chunk in chunks)
    assert partition_chunks(messages, 4) == [[m for m in messages if m.partition() == p] for p in range(4)]


def test_one_partition_larger_than_a_share_is_cut_into_runs() -> None:
    messages = [_Message("t", 0, offset, b"x" * 100) for offset in range(30)]
    chunks = partition_chunks(messages, 3)
    assert [len(chunk) for chunk in chunks] == [10, 10, 10]
    assert [m.offset() for chunk in chunks for m in chunk] == list(range(30))


def test_where_names_each_partitions_offsets() -> None:
    messages = [_Message("orders", 1, 7, b""), _Message("orders", 0, 3, b""), _Message("orders", 1, 9, b"")]
    assert messages_where(messages) == "orders[1]@7…9, orders[0]@3"


def test_a_message_copy_pickles_with_what_the_decoders_read() -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(MessageCopy(_Message("t", 2, 5, b"abc"))))
    assert (copy.topic(), copy.partition(), copy.offset(), copy.value(), copy.headers()) == ("t", 2, 5, b"abc", None)
    assert copy.timestamp() == (1, 1_700_000_000_005)


def _decoded_spans(messages: list, workers: int) -> tuple[list[int], dict]:
    problems = Problems()
    settings = KafkaSettings(bootstrap="127.0.0.1:1", topics=("t",), workers=workers)
    decoders = KafkaDecoders(settings, MessageDecoder(problems=problems), workers)
    sizes = []
    try:
        for first in range(0, len(messages), 7):
            decoders.submit(messages[first : first + 7])
            sizes += [len(d.batch) for d in decoders.take()]
        while decoders.pending:
            sizes += [len(d.batch) for d in decoders.take(block=True)]
        sizes += [len(d.batch) for d in decoders.take()]
    finally:
        decoders.close()
    return sizes, problems.as_dict()


def test_decode_workers_give_the_spans_and_problems_of_one_in_read_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_decoders, "INLINE_BYTES", 0)
    groups = list(synthetic_traces(spans=600, seed=3))[:28]
    values = [otlp_proto_request(group) for group in groups]
    values[9] = values[20] = b"{not json"
    messages = [_Message("t", index % 3, index // 3, value) for index, value in enumerate(values)]
    why = "unexpected character, expected a string key"
    one_sizes, one_problems = _decoded_spans(messages, 1)
    three_sizes, three_problems = _decoded_spans(messages, 3)
    assert sum(three_sizes) == sum(one_sizes) == sum(len(group) for i, group in enumerate(groups) if i not in (9, 20))
    assert (
        three_problems
        == one_problems
        == {"kafka: message is not valid JSON": {"count": 2, "first": [f"t[0]@3 ({why})", f"t[2]@6 ({why})"]}}
    )


def test_a_decode_worker_killed_twice_costs_its_messages_counted_where_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers (forked: they see this patch) kill themselves on partition 1's messages, every time."""
    monkeypatch.setattr(kafka_decoders, "INLINE_BYTES", 0)
    decode = kafka_decoders.decode_chunk

    def dying(chunk):
        if any(message.partition() == 1 for message in chunk.messages):
            os.kill(os.getpid(), signal.SIGKILL)
        return decode(chunk)

    monkeypatch.setattr(kafka_decoders, "decode_chunk", dying)
    traces = list(synthetic_traces(spans=600, seed=3))[:9]
    messages = [_Message("t", index % 3, index // 3, otlp_proto_request(t)) for index, t in enumerate(traces)]
    began = time.monotonic()
    sizes, problems = _decoded_spans(messages, 3)
    assert time.monotonic() - began < 30
    polls = [messages[:7], messages[7:]]  # as `_decoded_spans` submits them
    lost = [chunk for poll in polls for chunk in partition_chunks(poll, 3) if any(m.partition() == 1 for m in chunk)]
    lost_offsets = {(m.partition(), m.offset()) for chunk in lost for m in chunk}
    kept = [t for i, t in enumerate(traces) if (i % 3, i // 3) not in lost_offsets]
    assert len(lost) >= 2
    assert 0 < sum(sizes) == sum(len(trace) for trace in kept) < sum(len(trace) for trace in traces)
    killed = "killed by signal 9 (SIGKILL)"
    wheres = [messages_where(chunk) for chunk in lost]
    assert "t[1]@" in wheres[0]
    assert problems == {
        f"kafka: decode worker died ({killed}): its messages were decoded again in a fresh worker": {
            "count": len(lost),
            "first": wheres,
        },
        f"kafka: messages not decoded: their decode worker died again ({killed})": {
            "count": len(lost_offsets),
            "first": wheres,
        },
    }


# -- against the broker ------------------------------------------------------------------------


def _topic(bootstrap: str, partitions: int) -> str:
    topic = f"decoders-{uuid.uuid4().hex[:8]}"
    create_topic(KafkaSettings(bootstrap=bootstrap, topics=(topic,)), topic, partitions=partitions)
    return topic


def _publish_to_partitions(bootstrap: str, topic: str, values: list[tuple[int, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for partition, value in values:
        producer.produce(topic, value, partition=partition)
    assert producer.flush(10.0) == 0


def _worker_graph(bootstrap: str, topic: str, spans: int, workers: int) -> tuple[dict, dict]:
    """(edges, last status) of the live worker reading the topic from its beginning until `spans` spans came."""
    settings = KafkaSettings(bootstrap=bootstrap, topics=(topic,), start="earliest", workers=workers)
    parent, child = Pipe()
    worker = threading.Thread(target=run_worker, args=(settings, child), daemon=True)
    worker.start()
    store = RollingStore(problems=Problems())
    seen, status = 0, {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (seen == spans and status.get("lag_messages") == 0):
        if parent.poll(0.1):
            message = parent.recv()
            if isinstance(message, Derived):
                store.ingest(message.observations)
                seen = message.spans
            elif isinstance(message, SourceStatus):
                status = message.status
    parent.send(Stop())
    worker.join(15)
    assert not worker.is_alive()
    assert seen == spans
    frame = store.query(*EVERYTHING)
    names = frame.node_names
    edges = {
        (names[frame.edge_source[e]], names[frame.edge_target[e]]): (
            int(frame.edge_requests[e]),
            int(frame.edge_errors[e]),
            ConnectionType(int(frame.edge_connection_type[e])),
            round(float(frame.edge_p50_ms[e]), 6),
        )
        for e in np.flatnonzero(frame.edge_requests > 0).tolist()
    }
    return edges, status


def test_partitions_decoded_by_several_workers_give_the_graph_of_one(kafka_broker, monkeypatch) -> None:
    monkeypatch.setattr(kafka_decoders, "INLINE_BYTES", 0)  # every poll goes to the decode workers
    chunks: list[int] = []

    class CountingPool(kafka_decoders.DecodePool):
        def submit(self, job) -> None:
            chunks.append(len(job.messages))
            super().submit(job)

    monkeypatch.setattr(kafka_decoders, "DecodePool", CountingPool)
    simulator = Simulator(seed=6, rate_per_s=2_000, spans_per_message=50)
    messages = simulator.generate(DEFAULT_START_NS + 10 * 1_000_000_000)
    topic = _topic(kafka_broker.bootstrap, 3)
    # a trace's spans in several partitions: they reach different decode workers
    _publish_to_partitions(kafka_broker.bootstrap, topic, [(i % 3, m) for i, m in enumerate(messages)])
    one, one_status = _worker_graph(kafka_broker.bootstrap, topic, simulator.spans_emitted, 1)
    assert len(one) > 15
    assert chunks == []
    three, three_status = _worker_graph(kafka_broker.bootstrap, topic, simulator.spans_emitted, 3)
    assert sum(chunks) == len(messages)
    assert three == one
    for status in (one_status, three_status):
        assert status["formats"] == {"otlp_proto": len(messages)}
        assert status["messages"] == len(messages)
        assert status["decode_problems"] == 0
        assert status["partitions"] == 3


def test_a_poison_message_in_one_partition_is_counted_where_it_is_and_the_rest_read(kafka_broker, monkeypatch) -> None:
    monkeypatch.setattr(kafka_decoders, "INLINE_BYTES", 0)
    groups = list(synthetic_traces(spans=3_000, seed=8))
    values = [(index % 3, otlp_proto_request(group)) for index, group in enumerate(groups)]
    values.insert(10, (1, b"{not json"))
    topic = _topic(kafka_broker.bootstrap, 3)
    _publish_to_partitions(kafka_broker.bootstrap, topic, values)
    poison_offset = sum(1 for partition, _ in values[:10] if partition == 1)
    _, status = _worker_graph(kafka_broker.bootstrap, topic, 3_000, 3)
    assert status["decode_problems"] == 1
    assert status["problem_samples"] == [
        f"kafka: message is not valid JSON at {topic}[1]@{poison_offset} (unexpected character, expected a string key)"
    ]
    assert status["formats"] == {"otlp_proto": len(groups)}
    assert status["messages"] == len(values)


def test_the_live_bench_measures_the_scaling_with_decode_workers(kafka_broker) -> None:
    from flowviz.bench.live import format_live_figures, scaling_case

    case = scaling_case(kafka_broker.bootstrap, "otlp_proto", 20_000, 2)
    assert case["partitions"] == 2
    assert case["workers"] == 2
    assert case["same_spans"]
    assert 15_000 < case["spans"] < 25_000
    assert abs(case["speedup"] - case["one_worker_seconds"] / case["workers_seconds"]) < 0.05
    text = format_live_figures({"live": {"throughput": [], "scaling": [case], "latency": _latency()}})
    assert f"2 partitions decoded by 1 → 2 processes, derived in one: {case['one_worker_spans_per_s']:,} → " in text


def _latency() -> dict:
    return {"rate_spans_per_s": 1.0, "p50_ms": 1.0, "p99_ms": 2.0, "target_p99_ms": 500.0, "max_ms": 3.0}


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def test_the_window_feed_decodes_with_worker_processes_that_end_with_it(kafka_broker) -> None:
    from flowviz.sources.process_feed import ProcessFeed

    simulator = Simulator(seed=8, rate_per_s=2_000, spans_per_message=100)
    messages = simulator.generate(DEFAULT_START_NS + 10 * 1_000_000_000)
    topic = _topic(kafka_broker.bootstrap, 2)
    _publish_to_partitions(kafka_broker.bootstrap, topic, [(i % 2, m) for i, m in enumerate(messages)])
    store = RollingStore(problems=Problems())
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest", workers=2)
    feed = ProcessFeed(store, settings)
    feed.start()
    try:
        deadline = time.monotonic() + 30
        while feed.status.spans < simulator.spans_emitted or feed.status.source.get("state") != "connected":
            assert time.monotonic() < deadline, feed.status
            assert not feed.status.error
            time.sleep(0.1)
        worker = feed._process.pid
        decoders = [
            pid for pid in _children(worker) if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text()
        ]
        assert len(decoders) == 2
    finally:
        feed.stop()
    assert feed.status.spans == simulator.spans_emitted
    assert feed.status.restarts == 0
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in decoders):
        assert time.monotonic() < deadline, "decode workers left behind"
        time.sleep(0.1)


def test_a_schema_change_is_marked_once_in_read_order_whichever_workers_decode_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each worker sees only its chunks: the marks are made where the chunks are merged, in read order — one
    mark per change, also when the change falls between two workers' chunks or a worker saw both ids."""
    from datetime import UTC, datetime

    from tests.decoders.test_wire_format import SCHEMAS, avro_value

    monkeypatch.setattr(kafka_decoders, "INLINE_BYTES", 0)
    stamp = datetime.fromtimestamp(1_700_000_000, UTC)
    ids = [17] * 12 + [18] * 12 + [17] * 6  # a change, and a change back
    messages = [
        _Message("orders", index % 3, index // 3, avro_value(schema_id, {
            "id": f"o-{index}", "source": "checkout", "time": stamp, "total_cents": 1,
            **({"currency": "EUR"} if schema_id == 18 else {}),
        }))
        for index, schema_id in enumerate(ids)
    ]  # fmt: skip
    for workers in (1, 3):
        problems = Problems()
        settings = KafkaSettings(bootstrap="127.0.0.1:1", topics=("orders",), workers=workers, schemas=str(SCHEMAS))
        decoder = MessageDecoder(problems=problems, schemas=kafka_decoders.settings_schemas(settings))
        decoders = KafkaDecoders(settings, decoder, workers)
        try:
            for first in range(0, len(messages), 7):
                decoders.submit(messages[first : first + 7])
                list(decoders.take())
            while decoders.pending:
                list(decoders.take(block=True))
        finally:
            decoders.close()
        marks = [(mark.time_ns, mark.text.split(" (")[0]) for mark in decoder.take_schema_changes()]
        assert marks == [
            ((1_700_000_000_000 + 12 // 3) * 1_000_000, "schema 17 → 18"),
            ((1_700_000_000_000 + 24 // 3) * 1_000_000, "schema 18 → 17"),
        ], workers
        assert problems.as_dict() == {}


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 1), (4, 3), (8, 7)])
def test_a_live_topic_decodes_on_the_cores_beyond_the_reading_process(
    monkeypatch: pytest.MonkeyPatch, cores: int, expected: int
) -> None:
    import flowviz.sources.kafka_decoders as kafka_decoders
    from flowviz.commands.kafka import _decode_workers

    monkeypatch.setattr(kafka_decoders, "default_workers", lambda: cores)
    assert kafka_decoders.default_live_workers() == expected
    assert _decode_workers(argparse.Namespace(workers=None)) == expected
    assert _decode_workers(argparse.Namespace(workers=3)) == 3
