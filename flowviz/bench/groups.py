"""`flowviz bench groups`: one look at the consumer groups (poll, lag, states) at 200 groups x 50 partitions.

A local broker (Tansu, loopback) gets a topic of `partitions` partitions with a few messages each and
`groups` groups that committed on every partition (without joining). Then the poller's work is timed:
the AdminClient look (list the groups, their committed offsets, their membership, the ends), and
turning it into topic → group calls and a lag frame (consumption, lag in time, Burrow's states).
"""

from __future__ import annotations

import pickle
import time
import uuid

import numpy as np

from flowviz.derive.consumer_lag import LagTracker
from flowviz.derive.consumption import GroupConsumption
from flowviz.sources.kafka_groups import DEFAULT_INTERVAL_S, read_group_offsets
from flowviz.sources.kafka_publish import LocalBroker, create_topic
from flowviz.sources.kafka_settings import KafkaSettings


def run_groups_bench(*, groups: int = 200, partitions: int = 50, looks: int = 12, bootstrap: str | None = None) -> dict:
    """Figures of `looks` looks (after a first one that warms the client up)."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient

    broker = None
    if bootstrap is None:
        broker = LocalBroker()
        broker.start()
        bootstrap = broker.bootstrap
    try:
        topic = f"bench-groups-{uuid.uuid4().hex[:8]}"
        create_topic(KafkaSettings(bootstrap=bootstrap, topics=(topic,)), topic, partitions=partitions)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        for partition in range(partitions):
            for _ in range(20):
                producer.produce(topic, b"x", partition=partition)
        producer.flush(30)
        names = [f"bench-{index:03d}-{topic}" for index in range(groups)]
        for index, name in enumerate(names):
            client = Consumer({"bootstrap.servers": bootstrap, "group.id": name, "enable.auto.commit": False})
            offsets = [TopicPartition(topic, p, (index + p) % 20) for p in range(partitions)]
            client.commit(offsets=offsets, asynchronous=False)
            client.close()
        admin = AdminClient({"bootstrap.servers": bootstrap})
        read_group_offsets(admin, [topic])  # the client connects
        consumption, tracker = GroupConsumption(), LagTracker()
        poll_s, consume_s, lag_s, sizes = [], [], [], []
        seen = 0
        for _ in range(looks):
            started = time.perf_counter()
            look = read_group_offsets(admin, [topic])
            poll_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            consumption.update(look)
            consume_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            frame = tracker.update(look)
            lag_s.append(time.perf_counter() - started)
            seen = sum(1 for g, _, _ in look.committed if g in set(names))
            sizes.append(len(pickle.dumps(frame)))
        return {
            "groups_x_partitions": {
                "groups": groups,
                "partitions": partitions,
                "group_partitions_seen": seen,
                "look_p50_ms": round(float(np.median(poll_s)) * 1000, 1),
                "look_max_ms": round(max(poll_s) * 1000, 1),
                "consumption_p50_ms": round(float(np.median(consume_s)) * 1000, 1),
                "lag_and_states_p50_ms": round(float(np.median(lag_s)) * 1000, 1),
                "lag_and_states_max_ms": round(max(lag_s) * 1000, 1),
                "frame_bytes": int(np.median(sizes)),
                "poll_interval_s": DEFAULT_INTERVAL_S,
            }
        }
    finally:
        if broker is not None:
            broker.close()


def format_groups_figures(figures: dict) -> str:
    f = figures["groups_x_partitions"]
    return (
        f"one look at {f['groups']} groups x {f['partitions']} partitions ({f['group_partitions_seen']} committed): "
        f"broker p50 {f['look_p50_ms']} ms (max {f['look_max_ms']}), consumed calls {f['consumption_p50_ms']} ms, "
        f"lag + states p50 {f['lag_and_states_p50_ms']} ms (max {f['lag_and_states_max_ms']}), "
        f"frame {f['frame_bytes'] / 1000:.0f} kB; poll interval {f['poll_interval_s']} s"
    )
