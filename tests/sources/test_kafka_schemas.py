"""Avro and Protobuf events in the Confluent wire format through a real broker, with schemas from a folder and
from a registry's HTTP API: producers, types, times, schema subject/version, a schema change, unknown ids."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from multiprocessing import Pipe

import numpy as np
from confluent_kafka import Producer

from flowviz.decoders.messages import BAD_RECORD, UNKNOWN_SCHEMA
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.sources.kafka_publish import create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.pipe_messages import Derived, Marks, SourceStatus, Stop
from flowviz.sources.worker import run_worker
from flowviz.store.rolling_store import RollingStore
from tests.decoders.test_wire_format import SCHEMAS, Registry, avro_value, protobuf_value


def _publish(bootstrap: str, orders: str, payments: str, when: datetime) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for index in range(6):  # three with schema 17, then three with 18: a schema change on the topic
        record = {"id": f"o-{index}", "source": "checkout", "time": when, "total_cents": 100 * index}
        if index >= 3:
            record["currency"] = "USD"
        producer.produce(orders, avro_value(17 if index < 3 else 18, record), partition=0)
    for index in range(4):
        value = protobuf_value(21, id=f"p-{index}", source="cashier", time=when.isoformat(), amount=index, brand="visa")
        producer.produce(payments, value, partition=0)
    producer.produce(orders, b"\x00\x00\x00\x00\x63" + b"\x02", partition=0)  # schema id 99: nobody knows it
    producer.produce(orders, b"\x00\x00\x00\x00\x11" + b"\xff", partition=0)  # id 17, bytes that do not decode
    assert producer.flush(10) == 0


def _run(settings: KafkaSettings, events: int) -> tuple[dict, dict, list, list]:
    parent, child = Pipe()
    thread = threading.Thread(target=run_worker, args=(settings, child), daemon=True)
    thread.start()
    status, problems, observations, marks = {}, {}, [], []
    deadline = time.monotonic() + 30
    try:
        while (status.get("events") or {}).get("events", 0) < events or len(problems) < 2:
            assert time.monotonic() < deadline, (status, problems)
            if parent.poll(0.1):
                message = parent.recv()
                if isinstance(message, Derived):
                    observations.append(message.observations)
                    problems = message.problems
                elif isinstance(message, SourceStatus):
                    status = message.status
                elif isinstance(message, Marks):
                    marks += message.marks
    finally:
        parent.send(Stop())
        thread.join(10)
    return status, problems, observations, marks


def _check(kafka_broker, **schema_options) -> tuple[dict, list]:
    suffix = uuid.uuid4().hex[:6]
    orders, payments = f"orders-{suffix}", f"payments-{suffix}"
    for topic in (orders, payments):
        create_topic(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,)), topic, partitions=1)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    _publish(kafka_broker.bootstrap, orders, payments, when)
    settings = KafkaSettings(
        bootstrap=kafka_broker.bootstrap, topics=(orders, payments), start="earliest", **schema_options
    )
    status, problems, observations, marks = _run(settings, 10)
    store = RollingStore(problems=Problems())
    store.ingest(EdgeObservations.concat(observations))
    frame = store.query(-(2**62), 2**62)
    names = frame.node_names
    edges = {
        (names[frame.edge_source[e]], names[frame.edge_target[e]]): (int(frame.edge_requests[e]), frame.edge_p50_ms[e])
        for e in np.flatnonzero(frame.edge_requests > 0).tolist()
    }
    assert {key: value[0] for key, value in edges.items()} == {("checkout", orders): 6, ("cashier", payments): 4}
    for key, (_, p50_ms) in edges.items():  # Kafka timestamp - the record's own time (2 s before)
        assert 1500 <= p50_ms <= 4500, key
    assert problems[UNKNOWN_SCHEMA]["count"] == 1
    assert problems[UNKNOWN_SCHEMA]["first"][0].startswith(f"{orders}[0]@6 (schema id 99")
    assert problems[BAD_RECORD]["first"][0].startswith(f"{orders}[0]@7 (schema id 17")
    assert status["formats"]["events"] == 10
    assert [(mark.group, mark.text.split(" (")[0]) for mark in marks] == [(orders, "schema 17 → 18")]
    return status["schemas"], marks


def test_avro_and_protobuf_events_with_schemas_from_a_folder(kafka_broker) -> None:
    schemas, _marks = _check(kafka_broker, schemas=str(SCHEMAS))
    by_topic = {topic.split("-")[0]: value for topic, value in schemas.items()}
    assert by_topic == {
        "orders": {"id": 18, "kind": "AVRO", "subject": "orders-value", "version": None},
        "payments": {"id": 21, "kind": "PROTOBUF", "subject": "payments-value", "version": None},
    }


def test_avro_and_protobuf_events_with_schemas_from_a_registry(kafka_broker) -> None:
    registry = Registry()
    try:
        schemas, marks = _check(kafka_broker, schema_registry=registry.url)
    finally:
        registry.close()
    by_topic = {topic.split("-")[0]: value for topic, value in schemas.items()}
    assert by_topic["orders"] == {"id": 18, "kind": "AVRO", "subject": "orders-value", "version": 3}
    assert by_topic["payments"]["version"] == 6
    assert marks[0].text.endswith("(orders-value v3)")
    assert registry.asked.count("/schemas/ids/99") == 1  # an unknown id is asked for once


def test_json_schema_events_with_schemas_from_a_folder(kafka_broker) -> None:
    from tests.decoders.test_wire_format import json_value

    shipments = f"shipments-{uuid.uuid4().hex[:6]}"
    create_topic(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(shipments,)), shipments, partitions=1)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for index in range(5):
        record = {"id": f"s-{index}", "source": "shipping", "time": when.isoformat(), "parcels": index}
        producer.produce(shipments, json_value(25, record), partition=0)
    producer.produce(shipments, json_value(25, {"id": "s-9"}), partition=0)  # no source: the schema requires it
    producer.produce(shipments, json_value(77, {"id": "s-10"}), partition=0)  # an id nobody knows
    assert producer.flush(10) == 0
    settings = KafkaSettings(
        bootstrap=kafka_broker.bootstrap, topics=(shipments,), start="earliest", schemas=str(SCHEMAS)
    )
    status, problems, observations, _marks = _run(settings, 5)
    calls = EdgeObservations.concat(observations)
    names = calls.names
    pairs = {(names[s], names[t]) for s, t in zip(calls.source.tolist(), calls.target.tolist(), strict=True)}
    assert pairs == {("shipping", shipments)}
    assert int(calls.count.sum()) == 5
    assert status["schemas"][shipments] == {"id": 25, "kind": "JSON", "subject": "shipments-value", "version": None}
    assert problems[BAD_RECORD]["first"][0].startswith(f"{shipments}[0]@5 (schema id 25: ValueError: required source")
    assert problems[UNKNOWN_SCHEMA]["first"][0].startswith(f"{shipments}[0]@6 (schema id 77")
