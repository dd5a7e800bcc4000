"""A dead-letter flow through a real broker: events, a consumer giving up on some into orders.DLT (Spring headers)
and a -dlq without headers; live and from a recording of it."""

from __future__ import annotations

import struct
import threading
import time
import uuid
from multiprocessing import Pipe

import numpy as np
import orjson
from confluent_kafka import Producer

from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.sources.kafka_publish import create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.pipe_messages import Derived, Record, SourceStatus, Stop
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.sources.worker import run_worker
from flowviz.store.rolling_store import RollingStore


def _edges(store: RollingStore) -> dict:
    frame = store.query(-(2**62), 2**62)
    names = frame.node_names
    return {
        (names[frame.edge_source[e]], names[frame.edge_target[e]]): (
            int(frame.edge_requests[e]),
            int(frame.edge_errors[e]),
            float(frame.edge_p50_ms[e]),
        )
        for e in np.flatnonzero(frame.edge_requests > 0).tolist()
    }


def test_a_dead_letter_flow_live_and_recorded(kafka_broker, tmp_path) -> None:
    suffix = uuid.uuid4().hex[:6]
    orders, dlt, payments, dlq = f"orders{suffix}", f"orders{suffix}.DLT", f"pay{suffix}", f"pay{suffix}-dlq"
    for topic in (orders, dlt, payments, dlq):
        create_topic(KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,)), topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    original_ms = int(time.time() * 1000) - 3000  # the messages given up on were written 3 s before
    for index in range(6):
        event = {"type": "OrderPlaced", "id": f"o-{index}", "source": "checkout"}
        producer.produce(orders, orjson.dumps(event), timestamp=original_ms)
        producer.produce(payments, orjson.dumps({**event, "type": "PaymentTaken", "source": "cashier"}))
    for index in (1, 4):  # billing gave up on two orders: Spring's DeadLetterPublishingRecoverer headers
        headers = [
            ("kafka_dlt-original-topic", orders.encode()),
            ("kafka_dlt-original-consumer-group", b"billing"),
            ("kafka_dlt-original-timestamp", struct.pack(">q", original_ms)),
            ("kafka_dlt-exception-message", b"amount must be positive"),
            ("ce_specversion", b"1.0"),  # the original event's headers travel along: no new event
            ("ce_id", f"o-{index}".encode()),
            ("ce_source", b"checkout"),
            ("ce_type", b"OrderPlaced"),
        ]
        producer.produce(dlt, b"{not json", headers=headers)
    producer.produce(dlq, b"\x00\x01poison")  # no headers: its origin comes from the name
    assert producer.flush(10) == 0
    path = tmp_path / "dead-letters.rec"
    parent, child = Pipe()
    parent.send(Record(str(path)))
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(orders, dlt, payments, dlq), start="earliest")
    thread = threading.Thread(target=run_worker, args=(settings, child), daemon=True)
    thread.start()
    observations, status, problems = [], {}, {}
    deadline = time.monotonic() + 20
    try:
        while sum((status.get("dead_letters") or {}).get(t, {}).get("messages", 0) for t in (dlt, dlq)) < 3 or (
            (status.get("events") or {}).get("events", 0) < 12
        ):
            assert time.monotonic() < deadline, status
            if parent.poll(0.1):
                message = parent.recv()
                if isinstance(message, Derived):
                    observations.append(message.observations)
                    problems = message.problems
                elif isinstance(message, SourceStatus):
                    status = message.status
    finally:
        parent.send(Stop())
        thread.join(10)
    live = RollingStore(problems=Problems())
    live.ingest(EdgeObservations.concat(observations))
    expected = {
        ("checkout", orders): (6, 0),
        ("cashier", payments): (6, 0),
        ("billing", dlt): (2, 2),  # the group that gave up wrote them there: failures on its flow
        (payments, dlq): (1, 1),
    }
    edges = _edges(live)
    assert {key: value[:2] for key, value in edges.items()} == expected
    assert 2500 <= edges[("billing", dlt)][2] <= 4500  # how long after the original it was given up on
    assert status["dead_letters"][dlt] == {
        "kind": "dead letter",
        "origin": orders,
        "messages": 2,
        "reasons": {"amount must be positive": 2},
    }
    assert status["formats"]["dead letters"] == 3
    assert not problems  # poison in a dead-letter topic is expected there, not a decode problem
    replay = RollingStore(problems=Problems())
    load_captures([path], IngestPipeline(replay, problems=Problems()))
    assert {key: value[:2] for key, value in _edges(replay).items()} == expected
