"""The live worker goes on: poison among good Kafka messages is counted where it is and the spans after it
arrive; a worker that dies is started again with back-off, and the status says so."""

from __future__ import annotations

import os
import signal
import time
import uuid

import orjson

from flowviz.bench.encode import otlp_json_request, otlp_proto_request
from flowviz.bench.synthetic import synthetic_traces
from flowviz.model.problems import Problems
from flowviz.sources.kafka_publish import Publisher, create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.process_feed import ProcessFeed, SimulatorSpec
from flowviz.store.detail_queries import StatusQuery
from flowviz.store.rolling_store import RollingStore

DEEP = 1_500


def _poison() -> list[bytes]:
    deep = "[" * DEEP + "1" + "]" * DEEP
    document = otlp_json_request(next(iter(synthetic_traces(spans=10, seed=9))))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = [{"key": "K", "value": "V"}]
    attribute = orjson.dumps(document).decode()
    return [
        attribute.replace('"K"', '{"a":1}').encode(),
        attribute.replace('"K"', '"peer.service"')
        .replace('"V"', '{"arrayValue":' + "[" * 900 + "]" * 900 + "}")
        .encode(),
        ('{"resourceSpans":' + deep + "}").encode(),
        b'{"type":"OrderPlaced","id":"1","source":"orders","time":1e19}',
        b'{"type":"OrderPlaced","id":"2","source":"orders","time":"0001-01-01T00:00:00Z"}',
        ('{"specversion":"1.0","id":"3","source":"s","type":"t","data":' + deep + "}").encode(),
        b"\x00\xff\x00\xff",
        b"",
    ]


def test_poison_among_good_messages_is_counted_and_the_spans_after_it_arrive(kafka_broker) -> None:
    topic = f"poison-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest")
    create_topic(settings, topic)
    traces = list(synthetic_traces(spans=600, seed=4))
    good = [otlp_proto_request(trace) for trace in traces]
    poison = _poison()
    values = [good[0], *poison, *good[1:]]
    publisher = Publisher(settings, topic)
    publisher.send(values)
    assert publisher.flush(10.0) == 0
    store = RollingStore(problems=Problems())
    feed = ProcessFeed(store, settings, details=False)
    feed.start()
    try:
        deadline = time.monotonic() + 30
        expected = sum(len(trace) for trace in traces)
        while feed.status.spans < expected:
            assert time.monotonic() < deadline, feed.status
            assert not feed.status.error, feed.status.error
            assert feed.status.restarts == 0, feed.status.restart_note
            time.sleep(0.1)
    finally:
        feed.stop()
    assert feed.status.spans >= expected  # every good message, including all of those after the poison
    located = [loc for entry in feed.status.problems.values() for loc in entry["first"]]
    poisoned_offsets = [1, *range(3, 1 + len(poison))]  # @2: an array value names no peer; the span is sound
    assert {f"{topic}[0]@{offset}" for offset in poisoned_offsets} <= {loc.split(" ")[0] for loc in located}


def test_a_live_worker_that_dies_is_restarted_with_back_off_and_the_status_says_so() -> None:
    store = RollingStore(problems=Problems())
    feed = ProcessFeed(store, SimulatorSpec(seed=2, rate_per_s=500.0, history_s=5.0), details=True)
    feed.start()
    try:
        deadline = time.monotonic() + 30
        while feed.status.spans == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(feed._process.pid, signal.SIGKILL)  # the worker dies (any reason: out of memory, a bug)
        while not feed.status.restart_note:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert feed.status.summary().startswith("worker stopped (the worker process ended unexpectedly); restart 1")
        before = feed.status.spans
        while feed.status.spans <= before or "restarted" not in feed.status.restart_note:
            assert time.monotonic() < deadline, feed.status
            time.sleep(0.05)
        assert feed.status.restarts == 1
        assert feed.status.summary().startswith("worker restarted 1× (last: the worker process ended unexpectedly)")
        assert not feed.status.error
        assert feed.details is not None
        assert feed.details.ask(StatusQuery()).memory_bytes > 0  # the panels talk to the new worker
    finally:
        feed.stop()


def test_a_broker_that_restarts_without_its_data_is_read_again_from_the_new_beginning() -> None:
    """Three runs of the issue's case: 5 messages read, the broker restarts empty, 105 published: all 105
    arrive (104 were skipped before), and the reset is counted."""
    from flowviz.sources.kafka_publish import LocalBroker
    from flowviz.sources.kafka_reader import KafkaReader

    def read(reader, count: int) -> list[bytes]:
        got: list[bytes] = []
        deadline = time.monotonic() + 25
        while len(got) < count:
            assert time.monotonic() < deadline, (len(got), reader.status)
            got += [m.value() for m in reader.poll(timeout_s=0.1)]
        return got

    with LocalBroker() as broker:
        for run in range(3):
            topic = f"reset-{run}-{uuid.uuid4().hex[:6]}"
            settings = KafkaSettings(bootstrap=broker.bootstrap, topics=(topic,), start="earliest")
            create_topic(settings, topic)
            publisher = Publisher(settings, topic)
            publisher.send([b"before-%d" % i for i in range(5)])
            assert publisher.flush(10.0) == 0
            problems = Problems()
            reader = KafkaReader(settings, problems=problems)
            assert len(read(reader, 5)) == 5
            broker.stop()
            deadline = time.monotonic() + 10
            while reader.status.state != "reconnecting":
                assert time.monotonic() < deadline, reader.status
                assert not reader.poll(timeout_s=0.1)
            broker.start()  # memory storage: every topic is gone
            create_topic(settings, topic)
            publisher = Publisher(settings, topic)
            publisher.send([b"after-%d" % i for i in range(105)])
            assert publisher.flush(10.0) == 0
            after = read(reader, 105)
            reader.close()
            assert after == [b"after-%d" % i for i in range(105)]
            reasons = problems.as_dict()
            assert any(reason.startswith("kafka: partition was reset") for reason in reasons), reasons
