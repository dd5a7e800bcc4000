"""The poison inputs the fuzzer found, each pinned: counted with its location, never raised, the rest read."""

from __future__ import annotations

import orjson
import pytest

from flowviz.bench.encode import otlp_json_request, otlp_proto_request
from flowviz.bench.synthetic import synthetic_traces
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.events import MessageMeta, parse_time_ns
from flowviz.decoders.messages import MessageDecoder
from flowviz.model.event_batch import UNKNOWN_NS
from flowviz.model.problems import Problems

DEEP = 1_500


def _traces(spans: int = 30):
    return list(synthetic_traces(spans=spans, services=6, seed=3))


def _good_json() -> bytes:
    return orjson.dumps(otlp_json_request([span for trace in _traces() for span in trace]))


def _deep_list(depth: int = DEEP) -> str:
    return "[" * depth + "1" + "]" * depth


def _with_attribute(key_json: str, value_json: str) -> bytes:
    document = orjson.loads(_good_json())
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] = [{"key": "POISON-KEY", "value": "POISON-VALUE"}]
    text = orjson.dumps(document).decode()
    return text.replace('"POISON-KEY"', key_json).replace('"POISON-VALUE"', value_json).encode()


POISON_MESSAGES = {
    "attribute key is an object": _with_attribute('{"a":1}', '{"stringValue":"x"}'),
    "attribute key is a list": _with_attribute('["peer.service"]', '{"stringValue":"x"}'),
    "attribute value nested deep": _with_attribute('"peer.service"', '{"arrayValue":' + _deep_list(900) + "}"),
    "JSON nested deeper than the parsers go": ('{"resourceSpans":' + _deep_list() + "}").encode(),
    "deep CloudEvent": ('{"specversion":"1.0","id":"1","source":"s","type":"t","data":' + _deep_list() + "}").encode(),
    "event time 1e19": b'{"type":"OrderPlaced","id":"1","source":"orders","time":1e19}',
    "event time in year 1": b'{"type":"OrderPlaced","id":"2","source":"orders","time":"0001-01-01T00:00:00Z"}',
    "event time 20 digits": b'{"type":"OrderPlaced","id":"3","source":"orders","time":"99999999999999999999"}',
}


@pytest.mark.parametrize("name", list(POISON_MESSAGES))
def test_a_poison_message_among_good_ones_is_counted_and_the_good_ones_read(name: str) -> None:
    good = _good_json()
    protobuf = otlp_proto_request([span for trace in _traces(12) for span in trace])
    values = [good, POISON_MESSAGES[name], protobuf, good]
    metas = [MessageMeta("spans", 0, offset, 1, 1_700_000_000_000, None) for offset in range(len(values))]
    problems = Problems()
    decoder = MessageDecoder("auto", problems=problems)
    builder = SpanBatchBuilder(problems)
    decoder.add(values, [m.where for m in metas], builder, metas=metas)
    batch = builder.build()
    good_spans = 2 * sum(len(t) for t in _traces()) + sum(len(t) for t in _traces(12))
    events = decoder.take_events()
    if name.startswith("event time"):
        assert len(batch) == good_spans
        assert len(events) == 1
        assert events.event_time_ns[0] == UNKNOWN_NS
        assert problems.count("events: event time not understood (the Kafka timestamp is used)") == 1
        return
    assert good_spans <= len(batch) <= good_spans + 30  # the good messages whole; of the poisoned one what is sound
    located = [loc for entry in problems.as_dict().values() for loc in entry["first"]]
    if len(batch) < good_spans + 30:
        assert any(loc.startswith("spans[0]@1") for loc in located), problems.as_dict()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e19, None),
        ("0001-01-01T00:00:00Z", None),
        ("99999999999999999999", None),
        (99999999999999999999, None),
        ("2026-01-01T00:00:00Z", 1_767_225_600_000_000_000),
        (1_767_225_600, 1_767_225_600_000_000_000),
    ],
)
def test_event_times_outside_int64_nanoseconds_are_not_understood(value, expected) -> None:
    assert parse_time_ns(value) == expected


def test_whatever_a_decoder_raises_on_one_message_is_counted_there_and_its_half_added_spans_dropped(
    monkeypatch,
) -> None:
    """The guard: a decoder that adds some spans and then fails costs only that message."""
    import flowviz.decoders.messages as messages

    real = messages.decode_otlp_proto

    def fails_on_marked(messages, builder, problems, wheres):
        added = real(messages, builder, problems, wheres)  # spans added first, then the failure
        if any(m is marked for m in messages):
            raise TypeError("a decoder bug")
        return added

    monkeypatch.setattr(messages, "decode_otlp_proto", fails_on_marked)
    requests = [otlp_proto_request(trace) for trace in _traces(60)]
    marked = requests[2]
    values = requests
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    wheres = [f"spans[0]@{offset}" for offset in range(len(values))]
    MessageDecoder("auto", problems=problems).add(values, wheres, builder)
    batch = builder.build()
    assert len(batch) == sum(len(t) for i, t in enumerate(_traces(60)) if i != 2)
    assert problems.as_dict() == {
        "otlp-proto: unexpected content (TypeError) (skipped)": {"count": 1, "first": ["spans[0]@2"]}
    }
