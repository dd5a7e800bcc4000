"""Consumer lag in time, catch-up and Burrow's states against a real broker, with scripted producers and consumers."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from flowviz.derive.consumer_lag import LagTracker
from flowviz.model.event_batch import UNKNOWN_NS, EventBatchBuilder
from flowviz.sources.kafka_groups import read_group_offsets
from flowviz.sources.kafka_publish import LocalBroker, create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.pipe_messages import LagSeen, Record, SourceStatus, Stop

S = 1_000_000_000


def _topic(broker: LocalBroker, name: str, partitions: int = 1) -> str:
    topic = f"{name}-{uuid.uuid4().hex[:8]}"
    create_topic(KafkaSettings(bootstrap=broker.bootstrap, topics=(topic,)), topic, partitions=partitions)
    return topic


class _Committer:
    """A scripted consumer: commits the offsets it is told to (no group joined)."""

    def __init__(self, broker: LocalBroker, group: str, topic: str) -> None:
        self.group, self.topic = group, topic
        self.log: list[tuple[int, int]] = []  # (time_ns, offset)
        self._client = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})

    def commit(self, offset: int) -> None:
        self._client.commit(offsets=[TopicPartition(self.topic, 0, offset)], asynchronous=False)
        self.log.append((time.time_ns(), offset))

    def close(self) -> None:
        self._client.close()


class _Reader:
    """Reads the topic by assign() and hands its messages' Kafka timestamps to a tracker (as the worker does)."""

    def __init__(self, broker: LocalBroker, topic: str) -> None:
        self.topic = topic
        self.position = 0
        self._client = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "flowviz-viewer"})
        self._client.assign([TopicPartition(topic, 0, 0)])

    def read_into(self, tracker: LagTracker, until: int) -> None:
        builder = EventBatchBuilder()
        deadline = time.monotonic() + 5
        while self.position < until:
            assert time.monotonic() < deadline, f"read only {self.position} of {until}"
            for message in self._client.consume(1000, 0.05):
                if message.error() is None:
                    builder.append(
                        topic=self.topic,
                        partition=0,
                        offset=message.offset(),
                        producer="p",
                        event_type="E",
                        event_time_ns=UNKNOWN_NS,
                        kafka_time_ns=message.timestamp()[1] * 1_000_000,
                        event_id=None,
                    )
                    self.position = message.offset() + 1
        tracker.note_events(builder.build())

    def close(self) -> None:
        self._client.close()


def _rate(log: list[tuple[int, int]], start_ns: int, end_ns: int) -> float:
    """Offsets per second in a log of (time, offset) between two times (the last entry at or before each)."""
    before = [offset for when, offset in log if when <= start_ns]
    after = [offset for when, offset in log if when <= end_ns]
    return (after[-1] - before[-1]) / ((end_ns - start_ns) / S)


def test_time_lag_and_catch_up_on_a_paced_producer_and_a_slower_consumer(kafka_broker) -> None:
    """Producer at 100 msg/s for 8 s, consumer committing at 50 msg/s throughout; a look every 0.5 s.
    Time lag (read timestamps, and interpolated only) and the falling-behind rate, then the time to catch
    up once the producer stops, within 10 % of the truth."""
    topic = _topic(kafka_broker, "paced")
    group = f"slow-{topic}"
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 0})
    consumer = _Committer(kafka_broker, group, topic)
    reader = _Reader(kafka_broker, topic)
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    with_reads, interpolated = LagTracker(), LagTracker()
    written: list[int] = []  # time each offset was produced
    produced_log: list[tuple[int, int]] = []
    checks: dict[str, tuple] = {}
    tick_s, produce_per_tick, consume_per_tick = 0.1, 10, 5
    consumer.commit(0)
    start = time.monotonic()
    try:
        for tick in range(1, 8 * 10 + 56):
            time.sleep(max(0.0, start + tick * tick_s - time.monotonic()))
            if tick <= 80:  # 8 s at 100/s
                for _ in range(produce_per_tick):
                    producer.produce(topic, b"x", partition=0)
                    written.append(time.time_ns())
                producer.flush(5)
                produced_log.append((time.time_ns(), len(written)))
            consumer.commit(min(tick * consume_per_tick, len(written)))
            if tick % 5:
                continue
            reader.read_into(with_reads, len(written))
            look = read_group_offsets(admin, [topic], groups=[group])
            assert not look.error
            read_to = {(topic, 0): reader.position}
            frame = with_reads.update(look, read_to=read_to)
            other = interpolated.update(look, read_to=read_to)
            committed = look.committed[(group, topic, 0)]
            truth_s = (look.polled_ns - written[committed]) / S
            state, guess = frame.groups[0], other.groups[0]
            if tick == 80:  # the producer's last tick: the window saw both at their pace
                window_start = frame.polled_ns - int(4.5 * S)
                behind = _rate(produced_log, window_start, frame.polled_ns) - _rate(
                    consumer.log, window_start, frame.polled_ns
                )
                checks["behind"] = (state, guess, truth_s, behind)
            if tick == 130:  # 5 s after the producer stopped
                window_start = frame.polled_ns - int(4.5 * S)
                rate = _rate(consumer.log, window_start, frame.polled_ns)
                checks["catch-up"] = (state, guess, truth_s, (len(written) - committed) / rate)
    finally:
        consumer.close()
        reader.close()
    state, guess, truth_s, behind = checks["behind"]
    assert truth_s == pytest.approx(4.0, rel=0.25)  # the script ran at about its pace
    assert state.lag_s == pytest.approx(truth_s, rel=0.1)
    assert guess.lag_s == pytest.approx(truth_s, rel=0.1)
    assert state.behind_per_s == pytest.approx(behind, rel=0.1)
    assert behind == pytest.approx(50, rel=0.25)
    assert state.eta_s is None
    assert state.state == "warning"  # consuming, lag never decreasing
    assert "falling behind at" in state.describe()
    state, guess, truth_s, eta_s = checks["catch-up"]
    assert state.lag_s == pytest.approx(truth_s, rel=0.1)
    assert guess.lag_s == pytest.approx(truth_s, rel=0.1)
    assert state.behind_per_s is None
    assert state.eta_s == pytest.approx(eta_s, rel=0.1)
    assert eta_s == pytest.approx(state.lag / 50, rel=0.25)
    assert state.state == "ok"


def test_each_burrow_state_from_scripted_consumers(kafka_broker) -> None:
    """One group per state, scripted look by look while a producer writes 10 messages per look."""
    topic = _topic(kafka_broker, "burrow")
    names = ["ok", "warning", "stopped", "none", "rewound"]
    groups = {name: f"{name}-{topic}" for name in names}
    stalled = f"stalled-{topic}"
    committers = {name: _Committer(kafka_broker, group, topic) for name, group in groups.items()}
    member = Consumer(  # a live member of `stalled` that never commits past where it stands
        {
            "bootstrap.servers": kafka_broker.bootstrap,
            "group.id": stalled,
            "session.timeout.ms": 6000,
            "enable.auto.commit": False,
            "auto.offset.reset": "latest",
        }
    )
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "linger.ms": 0})
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    tracker = LagTracker()
    frames = []
    written = 0
    try:
        for committer in committers.values():
            committer.commit(0)
        member.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
        member.subscribe([topic])
        deadline = time.monotonic() + 30
        while not member.assignment():
            assert time.monotonic() < deadline, "the stalled group's member never joined"
            member.poll(0.2)
        member.pause(member.assignment())  # alive (heartbeats) but consuming nothing
        for step in range(14):
            for _ in range(10):
                producer.produce(topic, b"x", partition=0)
            producer.flush(5)
            written += 10
            committers["ok"].commit(written)  # keeps up
            committers["warning"].commit(5 * (step + 1))  # half the producer's pace
            if step < 2:
                committers["stopped"].commit(10 * (step + 1))  # consumed a little while watched, then stopped
            committers["rewound"].commit(10 * step if step != 8 else 5)  # moved back at look 8
            member.poll(0)
            frames.append(tracker.update(read_group_offsets(admin, [topic]), read_to={(topic, 0): written}))
            time.sleep(0.05)
    finally:
        for committer in committers.values():
            committer.close()
        member.close()
    states = {state.group: state for state in frames[-1].groups if state.topic == topic}
    assert {group: states[group].state for group in (*groups.values(), stalled)} == {
        groups["ok"]: "ok",
        groups["warning"]: "warning",
        groups["stopped"]: "stopped",
        groups["none"]: "no consumers",
        groups["rewound"]: "rewound",
        stalled: "stalled",
    }
    assert states[groups["stopped"]].since_ns == frames[1].polled_ns  # the look of its last advance
    assert states[stalled].lag == 140
    marks = [mark.text for frame in frames for mark in frame.marks if mark.group == groups["rewound"]]
    assert marks == [f"{topic}: rewound"]


def test_a_live_recording_of_events_opens_with_the_groups_and_their_lag(kafka_broker, tmp_path, capsys) -> None:
    """The worker sends lag frames; what it records carries its looks, so `open` of the file shows the
    group, its topic → group calls and its lag as they were."""
    import threading
    from multiprocessing import Pipe

    import orjson

    from flowviz.model.problems import Problems
    from flowviz.sources.kafka_worker import KafkaSource
    from flowviz.sources.pipeline import IngestPipeline, load_captures
    from flowviz.sources.worker import feed_window
    from flowviz.store.drill_down import DrillDownStore
    from flowviz.store.rolling_store import RollingStore

    topic = _topic(kafka_broker, "recorded-lag")
    group = f"billing-{topic}"
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for index in range(20):
        producer.produce(topic, orjson.dumps({"type": "OrderPlaced", "id": str(index), "source": "orders"}))
    assert producer.flush(10) == 0
    committer = _Committer(kafka_broker, group, topic)
    committer.commit(5)
    path = tmp_path / "events.rec"
    parent, child = Pipe()
    parent.send(Record(str(path)))  # before the first message is read
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest")
    details = DrillDownStore()
    source = KafkaSource(settings, problems=Problems())
    thread = threading.Thread(target=feed_window, args=(source, child, details), daemon=True)
    thread.start()
    frames, status = [], {}

    def pump(condition) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, status
            if parent.poll(0.1):
                message = parent.recv()
                if isinstance(message, LagSeen):
                    frames.append(message.frame)
                elif isinstance(message, SourceStatus):
                    status.update(message.status)

    def lag_now() -> int | None:
        states = [s for s in (frames[-1].groups if frames else ()) if s.group == group]
        return states[0].lag if states else None

    try:
        pump(lambda: lag_now() == 15)
        committer.commit(12)
        pump(lambda: lag_now() == 8)
        pump(lambda: any(s["group"] == group and s["lag"] == 8 for s in status.get("events", {}).get("states", [])))
    finally:
        committer.close()
        parent.send(Stop())
        thread.join(10)
    assert not thread.is_alive()
    payload = details.edges.payload("orders", topic, 0, 2**62)  # sizes on the producer → topic edge
    sizes = [len(orjson.dumps({"type": "OrderPlaced", "id": str(i), "source": "orders"})) for i in range(20)]
    assert payload.calls == 20
    assert payload.p50_ms == pytest.approx(np.median(sizes), rel=0.09)  # bytes
    live = frames[-1].groups[0]
    assert live.lag_s is not None
    assert live.lag_s > 0
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures([path], IngestPipeline(store, problems=problems))
    assert totals.events == 20
    replayed = store.consumer_lag.at()
    assert replayed is not None
    assert [(s.group, s.topic, s.lag) for s in replayed.groups] == [(group, topic, 8)]
    assert len(store.consumer_lag) >= 2
    before = next(f for f in frames if f.groups and f.groups[0].lag == 15)  # scrubbing back: the lag as it was
    assert [s.lag for s in store.consumer_lag.at(before.polled_ns).groups] == [15]
    frame = store.query(-(2**62), 2**62)
    names = frame.node_names
    edges = {
        (names[frame.edge_source[e]], names[frame.edge_target[e]]): int(frame.edge_requests[e])
        for e in range(len(frame.edge_source))
    }
    assert edges == {("orders", topic): 20, (topic, group): 7}
    from flowviz.cli import main

    capsys.readouterr()
    assert main(["report", str(path), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    [entry] = report["consumer_groups"]["groups"]
    assert (entry["group"], entry["lag"], entry["partitions"][0]["committed"]) == (group, 8, 12)
    assert entry["text"].startswith("ok · lag 8 (")
    produced = next(e for e in report["edges"] if (e["source"], e["target"]) == ("orders", topic))
    assert produced["payload_bytes"]["messages"] == 20  # message sizes on the producer → topic edge, as live
    assert produced["payload_bytes"]["p50"] == pytest.approx(np.median(sizes), rel=0.09)
    assert produced["payload_bytes"]["p95"] == pytest.approx(np.percentile(sizes, 95), rel=0.09)
    consumed = next(e for e in report["edges"] if (e["source"], e["target"]) == (topic, group))
    assert "payload_bytes" not in consumed


def test_frame_notes_name_state_lag_age_and_trend() -> None:
    from flowviz.derive.consumer_lag import GroupState, LagFrame, PartitionTable
    from flowviz.sources.kafka_events import frame_notes

    def state(group, topic, name, lag, lag_s, eta_s=None, behind=None) -> GroupState:
        return GroupState(group, topic, name, 0, lag, lag_s, 1.0, 1.0, eta_s, behind, 1)

    empty = PartitionTable((), *([np.zeros(0)] * 12))
    frame = LagFrame(
        0,
        (
            state("audit", "orders", "no consumers", 1554, 29.0),
            GroupState("analytics", "orders", "warning", 0, 636, 14.2, 1.0, 1.0, None, 18.0, 3, (0, 2)),
            state("billing", "orders", "ok", 24, 3.7, eta_s=2.0),
            state("billing", "refunds", "ok", 0, 0.0),
        ),
        empty,
    )
    assert frame_notes(frame) == {
        "audit": "no consumers · lag 1 554 (29 s)",
        "analytics": "warning · lag 636 (14 s) ↑18/s · hot p0,p2",
        "billing": "lag 24 (3.7 s) ETA 2.0 s +1 topics",
        "orders": "max lag 1 554 (audit: no consumers)",
    }
    assert frame_notes(None) == {}


def test_the_groups_benchmark_runs_against_the_broker(kafka_broker) -> None:
    from flowviz.bench.groups import format_groups_figures, run_groups_bench

    figures = run_groups_bench(groups=4, partitions=3, looks=2, bootstrap=kafka_broker.bootstrap)
    assert figures["groups_x_partitions"]["group_partitions_seen"] == 12
    assert "4 groups x 3 partitions" in format_groups_figures(figures)


def test_schema_notes_on_topics_merge_with_lag_notes() -> None:
    from flowviz.sources.kafka_events import merged_notes, schema_notes

    status = {
        "schemas": {
            "orders": {"id": 18, "kind": "AVRO", "subject": "orders-value", "version": 3},
            "payments": {"id": 21, "kind": "PROTOBUF", "subject": "payments-value", "version": None},
            "shipments": {"id": 25, "kind": "JSON", "subject": "shipments-value", "version": 2},
        }
    }
    notes = schema_notes(status)
    assert notes == {
        "orders": "Avro orders-value v3",
        "payments": "Protobuf payments-value (id 21)",
        "shipments": "JSON Schema shipments-value v2",
    }
    assert (
        merged_notes({"orders": "max lag 5 (billing)"}, notes)["orders"] == "max lag 5 (billing) · Avro orders-value v3"
    )
    assert schema_notes(None) == {}
