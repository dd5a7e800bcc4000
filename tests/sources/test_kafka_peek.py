"""Peek against a real broker: the newest messages of a topic, of one producer, before a group's commits."""

from __future__ import annotations

import argparse
import io
import uuid

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from flowviz.commands.kafka import add_kafka_commands
from flowviz.sources.kafka_peek import peek, text_preview
from flowviz.sources.kafka_publish import create_topic
from flowviz.sources.kafka_settings import KafkaSettings


def test_text_preview() -> None:
    assert text_preview(b'{ "a" : 1,\n "b": [1, 2] }') == '{"a":1,"b":[1,2]}'
    assert text_preview(b"\x00\x00\x00\x00\x07\x02\x06abc") == "(schema id 7) 02 06 61 62 63"
    assert text_preview(b"\xff\xfe\x01") == "ff fe 01"
    assert len(text_preview(("é" * 300).encode())) == 240
    assert text_preview(None) == ""


def test_peek_the_newest_messages_of_a_topic_a_producer_and_a_group(kafka_broker) -> None:
    topic = f"peek-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,))
    create_topic(settings, topic, partitions=2)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 20})  # batches: a low end on Tansu
    for index in range(30):
        partition, stamp = index % 2, 1_700_000_000_000 + index * 1000
        if index % 3:
            headers = [("ce_specversion", b"1.0"), ("ce_id", f"o-{index}".encode())]
            headers += [("ce_source", b"checkout"), ("ce_type", b"OrderPlaced")]
            producer.produce(
                topic, b'{"n": %d}' % index, key=b"k%d" % index, partition=partition, headers=headers, timestamp=stamp
            )
        else:
            value = orjson.dumps({"type": "PaymentTaken", "id": f"p-{index}", "source": "cashier"})
            producer.produce(topic, value, partition=partition, timestamp=stamp)
    assert producer.flush(10) == 0
    newest = peek(settings, topic, count=5)
    assert [m.event_id for m in newest] == ["o-29", "o-28", "p-27", "o-26", "o-25"]
    assert newest[0].key == "k29"
    assert newest[0].producer == "checkout"
    assert ("ce_type", "OrderPlaced") in newest[0].headers
    assert newest[0].preview == '{"n":29}'
    assert newest[0].time_text == "2023-11-14T22:13:49.000Z"
    cashier = peek(settings, topic, count=3, producer="cashier")
    assert [m.event_id for m in cashier] == ["p-27", "p-24", "p-21"]
    group = f"g-{topic}"
    client = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    client.commit(offsets=[TopicPartition(topic, 0, 4), TopicPartition(topic, 1, 2)], asynchronous=False)
    client.close()
    parser = argparse.ArgumentParser()
    add_kafka_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["peek", "--bootstrap", kafka_broker.bootstrap, "--topic", topic, "--group", group])
    out, err = io.StringIO(), io.StringIO()
    assert args.handler(args, out=out, err=err) == 0
    lines = out.getvalue().splitlines()
    # what the group had consumed: offsets 0-3 of partition 0 (messages 0, 2, 4, 6), 0-1 of partition 1 (1, 3)
    assert [line.split()[1] for line in lines] == [
        f"{topic}[0]@3",
        f"{topic}[0]@2",
        f"{topic}[1]@1",
        f"{topic}[0]@1",
        f"{topic}[1]@0",
        f"{topic}[0]@0",
    ]
    assert "checkout OrderPlaced o-4 key=k4" in lines[1]
    args = parser.parse_args(["peek", "--bootstrap", kafka_broker.bootstrap, "--topic", "no-such-topic-here"])
    assert args.handler(args, out=io.StringIO(), err=err) in (1, 2)
    assert "flowviz peek:" in err.getvalue()
