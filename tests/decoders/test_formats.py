"""The one formats table: every reader's format names come from it, and detection follows its order."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from flowviz.decoders.formats import (
    FORMAT_NAMES,
    JSON_FORMATS,
    KAFKA_FORMATS,
    OTLP_PROTO,
    TRIED,
    detect_json_format,
    json_format,
)
from flowviz.sources import capture_file

CAPTURES = {
    "otlp-json/opentelemetry-proto-example-trace.json": "otlp_json",
    "jaeger-json/jaeger-ui-genai-agent-trace.json": "jaeger_json",
    "zipkin-v2/zipkin-lens-yelp.json": "zipkin_json",
    "jaeger-dependencies/jaeger-ui-dependencygraph-small.json": "jaeger_dependencies",
}


def test_names_for_files_and_kafka_come_from_the_table() -> None:
    json_names = [f.name for f in JSON_FORMATS]
    assert ("auto", *json_names, OTLP_PROTO) == FORMAT_NAMES
    # Kafka carries spans (no dependency lists) and business events
    assert ("auto", OTLP_PROTO, *(n for n in json_names if n != "jaeger_dependencies"), "events") == KAFKA_FORMATS
    # the old homes of the names still give the same objects
    assert capture_file.FORMAT_NAMES is FORMAT_NAMES
    assert capture_file.JSON_FORMATS is JSON_FORMATS


def test_every_json_format_is_named_in_the_tried_list() -> None:
    for candidate in JSON_FORMATS:
        assert candidate.label in TRIED
    assert TRIED.index("OTLP JSON") < TRIED.index("OTLP protobuf") < TRIED.index("Jaeger JSON")


@pytest.mark.parametrize(("path", "name"), CAPTURES.items())
def test_detection_of_real_captures(captures_dir: Path, path: str, name: str) -> None:
    document = orjson.loads((captures_dir / path).read_bytes())
    chosen = detect_json_format(document)
    assert chosen is not None
    assert chosen.name == name
    assert json_format(name) is chosen
    spans_only = detect_json_format(document, spans_only=True)
    assert (spans_only is None) == (name == "jaeger_dependencies")


def test_unknown_names_and_documents() -> None:
    assert detect_json_format({"shopping": ["eggs"]}) is None
    with pytest.raises(KeyError):
        json_format("otlp_proto")  # binary: not a JSON format
