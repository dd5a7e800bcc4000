"""The Peek dialog: its target from the selection, and the newest messages read from a real broker."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import orjson
from confluent_kafka import Producer

from flowviz.model.graph_kinds import NodeKind
from flowviz.sources.kafka_publish import create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.ui.peek_dialog import PeekDialog, PeekTarget, target_of

CHART = SimpleNamespace(
    node_names=("checkout", "orders", "billing"),
    node_kind=(NodeKind.SERVICE, NodeKind.TOPIC, NodeKind.SERVICE),
)


def test_target_of_the_selection() -> None:
    assert target_of(CHART, edge=("checkout", "orders"), node=None) == PeekTarget("orders", "checkout", "")
    assert target_of(CHART, edge=("orders", "billing"), node="checkout") == PeekTarget("orders", "", "billing")
    assert target_of(CHART, edge=None, node="orders") == PeekTarget("orders")
    assert target_of(CHART, edge=None, node="checkout") == PeekTarget()
    assert target_of(None, edge=None, node=None) == PeekTarget()


def test_the_dialog_reads_and_shows_the_newest_messages(qtbot, kafka_broker, tmp_path) -> None:
    topic = f"peek-ui-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,))
    create_topic(settings, topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for index in range(8):
        event = {"type": "OrderPlaced", "id": f"o-{index}", "source": "checkout", "total": index * 10}
        producer.produce(topic, orjson.dumps(event), key=f"customer-{index % 3}".encode())
    assert producer.flush(10) == 0
    dialog = PeekDialog(settings, PeekTarget(topic, "checkout"), [topic])
    qtbot.addWidget(dialog)
    dialog.count.setValue(5)
    dialog.show()
    dialog.read()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 5, timeout=10_000)
    cells = [[dialog.table.item(row, column).text() for column in (1, 2, 4, 5)] for row in range(5)]
    assert cells[0] == [f"{topic}[0]@7", "checkout", "o-7", "customer-1"]
    assert [row[2] for row in cells] == ["o-7", "o-6", "o-5", "o-4", "o-3"]
    assert dialog.table.item(0, 7).text() == '{"type":"OrderPlaced","id":"o-7","source":"checkout","total":70}'
    assert "5 newest messages of checkout" in dialog.note.text()
    dialog.resize(1280, 520)
    assert dialog.grab().save(str(tmp_path / "peek.png"))
    dialog.group.setText("nobody-ever")
    dialog.read()  # a group that never committed: nothing it had consumed
    qtbot.waitUntil(lambda: "newest messages" in dialog.note.text() and dialog.table.rowCount() == 0, timeout=10_000)


def test_the_journey_dialog_lists_the_event_and_lights_its_path(qtbot, kafka_broker, tmp_path) -> None:
    from confluent_kafka import Consumer, TopicPartition

    from flowviz.ui.peek_dialog import JourneyDialog

    topic = f"journey-ui-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,))
    create_topic(settings, topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    for index in range(5):
        producer.produce(topic, orjson.dumps({"type": "OrderPlaced", "id": f"o-{index}", "source": "checkout"}))
    assert producer.flush(10) == 0
    group = f"billing-{topic}"
    client = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    client.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)
    client.close()
    lit: list[tuple[frozenset, frozenset]] = []
    dialog = JourneyDialog(
        settings, [topic], light_path=lambda nodes, calls: lit.append((nodes, calls)), event_id="o-2"
    )
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.find()
    qtbot.waitUntil(lambda: dialog.steps.count() > 0, timeout=15_000)
    lines = [dialog.steps.item(row).text() for row in range(dialog.steps.count())]
    assert "produced by checkout (OrderPlaced, id o-2)" in lines[0]
    size = len(orjson.dumps({"type": "OrderPlaced", "id": "o-2", "source": "checkout"}))
    assert f"  in {topic}[0]@2, {size} B" in lines
    assert f"  {group}: consumed (committed 4)" in lines
    assert lit[-1] == (frozenset({"checkout", topic, group}), frozenset({("checkout", topic), (topic, group)}))
    assert dialog.grab().save(str(tmp_path / "journey.png"))
    dialog.close()
    assert lit[-1] == (frozenset(), frozenset())  # closed: the chart is no longer lit


def test_the_journey_goes_on_into_a_consumers_linked_trace(qtbot, kafka_broker) -> None:
    from flowviz.store.drill_down import DrillDownStore
    from flowviz.ui.peek_dialog import JourneyDialog
    from tests.store.test_continuations import PRODUCER_SPAN, PRODUCER_TRACE, consumer_spans

    topic = f"journey-links-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,))
    create_topic(settings, topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap})
    event = orjson.dumps({"type": "OrderPlaced", "id": "o-1", "source": "checkout"})
    producer.produce(topic, event, headers=[("traceparent", f"00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01".encode())])
    assert producer.flush(10) == 0
    details = DrillDownStore()  # the spans the window's source read: billing's own trace links to the producer's span
    details.take(consumer_spans(), None)
    details.flush()
    lit: list[tuple[frozenset, frozenset]] = []
    opened: list[str] = []
    dialog = JourneyDialog(
        settings, [topic], details=details, light_path=lambda n, c: lit.append((n, c)), open_trace=opened.append,
        event_id="o-1",
    )  # fmt: skip
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.find()
    qtbot.waitUntil(lambda: dialog.steps.count() > 0, timeout=15_000)
    lines = [dialog.steps.item(row).text() for row in range(dialog.steps.count())]
    assert lines[-1].startswith("  → billing went on")
    assert lines[-1].endswith(f"by a span link: trace {'b' * 32}")
    assert "went on in 1 trace of its consumers" in dialog.note.text()
    nodes, calls = lit[-1]
    assert ("checkout", topic) in calls
    assert (topic, "billing") in calls
    assert ("billing", "payments") in calls  # billing's kept trace: the calls it made light up too
    assert "payments" in nodes
    dialog.steps.itemDoubleClicked.emit(dialog.steps.item(len(lines) - 1))
    assert opened == ["b" * 32]
