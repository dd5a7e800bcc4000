"""Testing a connection: the broker's topics within a timeout, or why not (never an exception)."""

from __future__ import annotations

from flowviz.sources.kafka_probe import ProbeResult, probe_topics
from flowviz.sources.kafka_publish import create_topic, free_port
from flowviz.sources.kafka_settings import KafkaSettings


def test_probe_lists_the_topics_of_a_broker(kafka_broker):
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap)
    create_topic(settings, "probe_spans", partitions=3)
    result = probe_topics(settings, timeout_s=5.0)
    assert result.ok
    assert result.topics["probe_spans"] == 3
    text = result.describe(("probe_spans", "not_yet"))
    assert "Found probe_spans (3 partitions)." in text
    assert "Not there yet: not_yet" in text


def test_probe_of_no_broker_or_a_bad_file_says_why(tmp_path):
    refused = probe_topics(KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}"), timeout_s=1.0)
    assert not refused.ok
    assert "Connection refused" in refused.error
    assert refused.describe(("otlp_spans",)).startswith("Could not connect: ")
    properties = tmp_path / "client.properties"
    properties.write_text("no.such.property=1\n")
    bad = probe_topics(KafkaSettings(bootstrap="127.0.0.1:9", config_path=str(properties)), timeout_s=1.0)
    assert bad == ProbeResult(False, error='No such configuration property: "no.such.property"')
    missing = probe_topics(KafkaSettings(bootstrap=""), timeout_s=1.0)
    assert not missing.ok
    assert "no broker given" in missing.error
