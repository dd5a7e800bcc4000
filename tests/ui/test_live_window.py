"""`flowviz live`: the window on a Kafka topic fed by the simulator, through a real broker."""

from __future__ import annotations

import threading

from flowviz.sources.kafka_publish import create_topic, publish_simulator
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.ui.windows import live_window


def test_live_window_shows_the_platform_from_kafka(qtbot, kafka_broker):
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=("live_window_spans",), start="earliest")
    create_topic(settings, "live_window_spans")
    stop = threading.Event()
    publisher = threading.Thread(
        target=publish_simulator,
        args=(settings, "live_window_spans"),
        kwargs={"rate_per_s": 800.0, "duration_s": 30.0, "should_stop": stop.is_set},
        daemon=True,
    )
    publisher.start()
    window = live_window(settings)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(
            lambda: window.model.chart is not None and "payments" in window.model.chart.node_names, timeout=60_000
        )
        assert {"api-gateway", "orders", "user"} <= set(window.model.chart.node_names)
        assert window.feed.status.spans > 0
        assert "live_window_spans" in window.windowTitle()
        qtbot.waitUntil(lambda: "connected" in window.feed.status.summary().lower(), timeout=10_000)
    finally:
        stop.set()
        window.feed.stop()
        publisher.join(timeout=10)
