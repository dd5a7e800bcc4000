"""Business events through a real broker: producer → topic → consumer groups, lag, duplicates, poison, recording."""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from multiprocessing import Pipe
from pathlib import Path

import numpy as np
import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from flowviz.commands.kafka import add_kafka_commands, settings_from_args
from flowviz.decoders.events import BINARY_INCOMPLETE
from flowviz.derive.events import DUPLICATE_ID
from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.sources.kafka_events import lag_notes
from flowviz.sources.kafka_publish import LocalBroker, create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.kafka_status import status_text
from flowviz.sources.pipe_messages import Crashed, Derived, Failed, SourceStatus, Stop
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.sources.worker import run_worker
from flowviz.store.rolling_store import RollingStore

EVERYTHING = (-(2**62), 2**62)
EVENT_AGE_S = 2.0  # the events happened this long before they are published


def _topic(broker: LocalBroker, name: str, partitions: int) -> str:
    topic = f"{name}-{uuid.uuid4().hex[:8]}"
    create_topic(KafkaSettings(bootstrap=broker.bootstrap, topics=(topic,)), topic, partitions=partitions)
    return topic


def _ce_headers(event_id: str | None, source: str, event_type: str, time_text: str) -> list:
    headers = [("ce_specversion", b"1.0"), ("ce_source", source.encode()), ("ce_type", event_type.encode())]
    headers.append(("ce_time", time_text.encode()))
    return headers + ([("ce_id", event_id.encode())] if event_id else [])


def _publish_events(broker: LocalBroker, topic: str) -> None:
    """Partition 0: 7 CloudEvents (binary mode; o-1 twice), then a poison message; partition 1: 4 structured
    CloudEvents, 2 plain events, then a CloudEvent without an id. 13 events in 15 messages."""
    when = (datetime.now(UTC) - timedelta(seconds=EVENT_AGE_S)).isoformat(timespec="microseconds")
    messages: list[tuple[int, bytes | None, list | None]] = []
    for index in [0, 1, 2, 3, 4, 5, 1]:
        messages.append(
            (0, b'{"orderId": %d}' % index, _ce_headers(f"o-{index}", "orders-service", "OrderPlaced", when))
        )
    messages.append((0, b"{not json", None))
    for index in range(4):
        event = {"specversion": "1.0", "id": f"i-{index}", "source": "inventory", "type": "InventoryUpdated"}
        messages.append((1, orjson.dumps({**event, "time": when, "data": {"sku": index}}), None))
    for index in range(2):
        messages.append(
            (1, orjson.dumps({"type": "OrderShipped", "id": f"s-{index}", "producer": "shipping", "time": when}), None)
        )
    messages.append((1, b"{}", _ce_headers(None, "orders-service", "OrderPlaced", when)))
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for partition, value, headers in messages:
        producer.produce(topic, value, partition=partition, headers=headers)
    assert producer.flush(10) == 0


def _commit(broker: LocalBroker, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit offsets for `group` without joining it (what Tansu and Kafka both allow)."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
    consumer.close()


def _consume_as_member(broker: LocalBroker, group: str, topic: str, count: int) -> None:
    """Join `group` (subscribe), consume exactly `count` messages, commit them, leave."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "session.timeout.ms": 6000,  # Tansu's joins take ~23 s with the default
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    consumed = 0
    deadline = time.monotonic() + 30
    while consumed < count:
        assert time.monotonic() < deadline, f"the member of {group} consumed only {consumed}"
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            consumed += 1
    consumer.commit(asynchronous=False)
    consumer.close()


class _Worker:
    """A Kafka worker (`run_worker`) in a thread; `until()` pumps what it sends until the latest status holds a
    condition."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.parent, child = Pipe()
        self.thread = threading.Thread(target=run_worker, args=(settings, child), daemon=True)
        self.observations: list[EdgeObservations] = []
        self.status: dict = {}
        self.problems: dict = {}
        self.thread.start()

    def until(self, condition, *, timeout_s: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while not condition(self.status):
            assert time.monotonic() < deadline, f"status never got there: {self.status}"
            if self.parent.poll(0.1):
                message = self.parent.recv()
                if isinstance(message, Derived):
                    self.observations.append(message.observations)
                    self.problems = message.problems
                elif isinstance(message, SourceStatus):
                    self.status = message.status
                elif isinstance(message, Failed | Crashed):
                    raise AssertionError(message.reason)
        return self.status

    def stop(self) -> None:
        self.parent.send(Stop())
        self.thread.join(10)
        assert not self.thread.is_alive()


def _groups(status: dict) -> dict[str, dict]:
    return {entry["group"]: entry for entry in (status.get("events") or {}).get("groups", [])}


def _edges(observations: list[EdgeObservations]) -> dict:
    store = RollingStore(problems=Problems())
    store.ingest(EdgeObservations.concat(observations))
    return _store_edges(store)


def _store_edges(store: RollingStore) -> dict:
    frame = store.query(*EVERYTHING)
    names = frame.node_names
    return {
        (names[frame.edge_source[e]], names[frame.edge_target[e]]): (
            int(frame.edge_requests[e]),
            ConnectionType(int(frame.edge_connection_type[e])),
            frame.edge_via[e],
            round(float(frame.edge_p50_ms[e]), 6),
        )
        for e in np.flatnonzero(frame.edge_requests > 0).tolist()
    }


def test_events_give_producer_topic_and_group_edges_with_lag(kafka_broker) -> None:
    topic = _topic(kafka_broker, "orders", partitions=2)
    billing, analytics = f"billing-{topic}", f"analytics-{topic}"
    _publish_events(kafka_broker, topic)
    for group in (billing, analytics):  # committed before the viewer looks: its baseline
        _commit(kafka_broker, group, {(topic, 0): 0, (topic, 1): 0})
    worker = _Worker(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest"))
    try:
        status = worker.until(
            lambda s: (
                (s.get("events") or {}).get("events") == 13
                and {g: e["lag"] for g, e in _groups(s).items()} == {billing: 15, analytics: 15}
            )
        )
        _commit(kafka_broker, billing, {(topic, 0): 8, (topic, 1): 7})  # consumed everything
        _consume_as_member(kafka_broker, analytics, topic, 5)  # a real member consumed five
        status = worker.until(
            lambda s: (
                {g: (e["consumed"], e["lag"]) for g, e in _groups(s).items()} == {billing: (15, 0), analytics: (5, 10)}
            )
        )
    finally:
        worker.stop()
    edges = _edges(worker.observations)
    counts = {key: value[0] for key, value in edges.items()}
    assert counts == {
        ("orders-service", topic): 7,
        ("inventory", topic): 4,
        ("shipping", topic): 2,
        (topic, billing): 15,
        (topic, analytics): 5,
    }
    assert {value[1:3] for value in edges.values()} == {(ConnectionType.MESSAGING_SYSTEM, topic)}
    for producer in ("orders-service", "inventory", "shipping"):  # Kafka timestamp - event time
        assert EVENT_AGE_S * 1000 * 0.95 <= edges[(producer, topic)][3] <= EVENT_AGE_S * 1000 + 1500
    groups = _groups(status)
    assert groups[billing]["e2e_p50_ms"] >= EVENT_AGE_S * 1000  # event time -> seen committed
    assert groups[billing]["partitions"] == 2
    events = status["events"]
    assert events["duplicates"] == {topic: 1}
    assert events["per_topic"] == {topic: 13}
    assert status["formats"] == {"events": 13}
    # poison: counted with where, not fatal (everything after it was read)
    assert worker.problems["kafka: message is not valid JSON"]["first"][0].startswith(f"{topic}[0]@7")
    assert worker.problems[BINARY_INCOMPLETE] == {"count": 1, "first": [f"{topic}[1]@6"]}
    assert worker.problems[DUPLICATE_ID]["count"] == 1
    assert worker.problems[DUPLICATE_ID]["first"][0].startswith(f"{topic}[0]@6")
    text = status_text(status)
    assert "events 13" in text
    assert "1 duplicate ids" in text
    assert f"{analytics} lag 10" in text
    assert "2 decode problems" in text  # the two poison messages; duplicates are no decode problem
    assert lag_notes(status) == {billing: "lag 0", analytics: "lag 10", topic: f"max lag 10 ({analytics})"}


def test_named_groups_only_and_forced_events_format(kafka_broker) -> None:
    topic = _topic(kafka_broker, "named", partitions=1)
    wanted, other = f"wanted-{topic}", f"other-{topic}"
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for index in range(6):
        producer.produce(topic, orjson.dumps({"type": "Tick", "id": str(index), "app": {"name": "clock"}}))
    assert producer.flush(10) == 0
    for group in (wanted, other):
        _commit(kafka_broker, group, {(topic, 0): 1})
    settings = KafkaSettings(
        bootstrap=kafka_broker.bootstrap,
        topics=(topic,),
        start="earliest",
        format_name="events",
        event_producer="app.name",
        groups=(wanted,),
    )
    worker = _Worker(settings)
    try:
        worker.until(lambda s: _groups(s).get(wanted, {}).get("lag") == 5)
        _commit(kafka_broker, wanted, {(topic, 0): 4})
        _commit(kafka_broker, other, {(topic, 0): 6})
        status = worker.until(lambda s: _groups(s).get(wanted, {}).get("consumed") == 3)
        looks = status["events"]["group_looks"]
        status = worker.until(lambda s: s["events"]["group_looks"] >= looks + 2)  # the other group stays unseen
    finally:
        worker.stop()
    assert set(_groups(status)) == {wanted}
    assert {key: value[0] for key, value in _edges(worker.observations).items()} == {
        ("clock", topic): 6,
        (topic, wanted): 3,
    }


def _run(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_kafka_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(arguments)
    return args.handler(args)


def test_a_recording_of_events_gives_the_producer_to_topic_graph_of_live(kafka_broker, tmp_path: Path) -> None:
    topic = _topic(kafka_broker, "recorded", partitions=2)
    _publish_events(kafka_broker, topic)
    worker = _Worker(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest"))
    try:
        worker.until(lambda s: (s.get("events") or {}).get("events") == 13)
    finally:
        worker.stop()
    live = {key: value for key, value in _edges(worker.observations).items() if key[1] == topic}
    recording = tmp_path / "events.rec"
    arguments = ["record", "--bootstrap", kafka_broker.bootstrap, "--topic", topic, "--from", "earliest"]
    assert _run([*arguments, "-o", str(recording), "--max-messages", "15"]) == 0
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures([recording], IngestPipeline(store, problems=problems))
    assert totals.events == 13
    assert totals.usable
    assert _store_edges(store) == live
    assert len(live) == 3
    assert problems.count(DUPLICATE_ID) == 1
    assert problems.count(BINARY_INCOMPLETE) == 1
    assert problems.as_dict()[BINARY_INCOMPLETE]["first"] == [f"{recording}:{topic}[1]@6"]


def test_event_options_on_the_command_line() -> None:
    from flowviz.cli import build_parser

    live = ["live", "--bootstrap", "h:1", "--topic", "t", "--format", "events", "--event-producer", "header:app"]
    settings = settings_from_args(build_parser().parse_args([*live, "--group", "a", "--group", "b"]))
    assert (settings.format_name, settings.event_producer, settings.groups) == ("events", "header:app", ("a", "b"))
    args = build_parser().parse_args(["record", "--bootstrap", "h:1", "-o", "x", "--format", "events"])
    assert settings_from_args(args).format_name == "events"


def test_process_feed_shows_events_and_group_lag(kafka_broker) -> None:
    from flowviz.sources.process_feed import ProcessFeed

    topic = _topic(kafka_broker, "feed-events", partitions=2)
    group = f"reporting-{topic}"
    _publish_events(kafka_broker, topic)
    _commit(kafka_broker, group, {(topic, 0): 3, (topic, 1): 0})
    store = RollingStore(problems=Problems())
    feed = ProcessFeed(store, KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest"))
    feed.start()
    try:
        deadline = time.monotonic() + 20
        while _groups(feed.status.source).get(group, {}).get("lag") != 12:
            assert time.monotonic() < deadline, feed.status
            assert not feed.status.error
            time.sleep(0.1)
        assert f"{group} lag 12" in feed.status.summary()
        assert lag_notes(feed.status.source)[group] == "lag 12"
    finally:
        feed.stop()
    assert feed.status.calls == 13
