"""One event's journey through a real broker: found by id, its producer span, its place, two groups' commits."""

from __future__ import annotations

import argparse
import io
import time
import uuid

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from flowviz.commands.kafka import add_kafka_commands
from flowviz.derive.consumer_lag import LagTracker
from flowviz.sources.kafka_groups import read_group_offsets
from flowviz.sources.kafka_journey import event_journey, parse_traceparent
from flowviz.sources.kafka_publish import create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.store.lag_history import LagHistory

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def test_parse_traceparent() -> None:
    assert parse_traceparent(f"00-{TRACE}-{SPAN}-01") == (TRACE, SPAN)
    assert parse_traceparent("00-xyz-1-01") is None
    assert parse_traceparent(None) is None


def _commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    client = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    client.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    client.close()


def test_the_journey_of_a_known_event_through_two_groups(kafka_broker) -> None:
    topic = f"journey-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,))
    create_topic(settings, topic, partitions=2)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for index in range(10):
        headers = [("ce_specversion", b"1.0"), ("ce_id", f"o-{index}".encode()), ("ce_source", b"checkout")]
        headers += [("ce_type", b"OrderPlaced"), ("ce_traceparent", f"00-{TRACE}-{index:016x}-01".encode())]
        producer.produce(topic, b'{"n": %d}' % index, partition=index % 2, headers=headers)
    assert producer.flush(10) == 0  # o-7 is partition 1, offset 3
    billing, analytics = f"billing-{topic}", f"analytics-{topic}"
    for group in (billing, analytics):
        _commit(kafka_broker.bootstrap, group, topic, {0: 1, 1: 1})
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    tracker, history = LagTracker(), LagHistory()
    history.add(tracker.update(read_group_offsets(admin, [topic])))  # a look before anyone consumed o-7
    time.sleep(0.3)
    _commit(kafka_broker.bootstrap, billing, topic, {0: 5, 1: 5})  # billing consumed everything
    _commit(kafka_broker.bootstrap, analytics, topic, {0: 5, 1: 3})  # analytics stopped just before o-7
    look = read_group_offsets(admin, [topic])
    history.add(tracker.update(look))
    journey = event_journey(settings, "o-7", topics=(topic,), history=history)
    assert journey is not None
    message = journey.message
    assert (message.topic, message.partition, message.offset) == (topic, 1, 3)
    assert (message.producer, message.event_type) == ("checkout", "OrderPlaced")
    assert (journey.trace_id, journey.span_id) == (TRACE, f"{7:016x}")
    groups = {c.group: c for c in journey.groups}
    assert groups[billing].covered
    assert groups[billing].seen_ns == look.polled_ns  # the first look that saw its commit pass the event
    assert groups[billing].delay_ms == pytest.approx(look.polled_ns / 1e6 - message.timestamp_ms)
    assert not groups[analytics].covered
    assert groups[analytics].committed == 3
    nodes, calls = journey.path()
    assert calls == {("checkout", topic), (topic, billing)}
    assert nodes == {"checkout", topic, billing}
    text = "\n".join(journey.lines())
    assert f"{analytics}: not consumed yet (committed 3)" in text
    assert f"in {topic}[1]@3" in text
    assert event_journey(settings, "o-404", topics=(topic,)) is None
    parser = argparse.ArgumentParser()
    add_kafka_commands(parser.add_subparsers(dest="command"))
    base = ["journey", "--bootstrap", kafka_broker.bootstrap, "--topic", topic, "--id", "o-7"]
    out = io.StringIO()
    args = parser.parse_args([*base, "--json"])
    assert args.handler(args, out=out, err=io.StringIO()) == 0
    document = orjson.loads(out.getvalue())
    assert (document["offset"], document["trace_id"]) == (3, TRACE)
    assert {g["group"]: g["consumed"] for g in document["groups"] if g["group"] in (billing, analytics)} == {
        billing: True,
        analytics: False,
    }


def test_the_journey_goes_on_into_the_consumers_traces() -> None:
    from flowviz.sources.kafka_journey import Coverage, Journey
    from flowviz.sources.kafka_peek import PeekedMessage
    from flowviz.store.drill_down import DrillDownStore
    from tests.store.test_continuations import PRODUCER_SPAN, PRODUCER_TRACE, T0, consumer_spans

    message = PeekedMessage(
        "orders", 0, 7, T0 // 1_000_000, "", (), 120, "{}", "checkout", "OrderPlaced", "o-7",
        f"00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01",
    )  # fmt: skip
    journey = Journey("o-7", message, PRODUCER_TRACE, PRODUCER_SPAN, (Coverage("billing-group", 8, True),))
    assert journey.continued_by(DrillDownStore()) is journey  # nothing known: unchanged
    details = DrillDownStore()
    details.take(consumer_spans(), None)
    went_on = journey.continued_by(details)
    assert [step.service for step in went_on.continued] == ["shipping", "billing"]
    assert went_on.traces() == ("b" * 32,)  # shipping went on in the producer's own trace
    nodes, calls = went_on.path()
    assert calls == {("checkout", "orders"), ("orders", "billing-group"), ("orders", "shipping"), ("orders", "billing")}
    assert {"billing", "shipping"} <= nodes
    lines = went_on.lines()
    assert lines[-2] == f"  → shipping went on 0.02 s after in the producer's trace: trace {PRODUCER_TRACE}"
    assert lines[-1] == f"  → billing went on 0.03 s after in its own trace, by a span link: trace {'b' * 32}"
    no_context = Journey("o-7", message)
    assert no_context.continued_by(details) is no_context
