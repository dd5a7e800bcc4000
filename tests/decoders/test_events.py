"""Business events: CloudEvents binary and structured, plain JSON; producer, time, id; malformed ones counted."""

from __future__ import annotations

import orjson
import pytest

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.events import (
    BAD_TIME,
    BINARY_INCOMPLETE,
    NO_PRODUCER_FIELD,
    NOT_AN_EVENT,
    NOT_JSON,
    STRUCTURED_INCOMPLETE,
    EventDecoder,
    MessageMeta,
    ProducerRule,
    header_map,
    parse_time_ns,
)
from flowviz.decoders.messages import DecoderSettingsError, MessageDecoder
from flowviz.model.event_batch import UNKNOWN_NS
from flowviz.model.problems import Problems

KAFKA_MS = 1_700_000_000_000  # the messages' Kafka timestamp
T0 = "2023-11-14T22:13:18.250Z"  # 1.75 s before it
T0_NS = 1_699_999_998_250_000_000


def _meta(offset: int, headers=None, *, topic: str = "orders", partition: int = 0, kafka_ms: int = KAFKA_MS):
    return MessageMeta(topic, partition, offset, 1, kafka_ms, headers)


def _decode(values, metas, *, format_name: str = "auto", producer: str | None = None):
    problems = Problems()
    decoder = MessageDecoder(format_name, problems=problems, event_producer=producer)
    builder = SpanBatchBuilder(problems)
    spans = decoder.add(values, [m.where for m in metas], builder, metas=metas)
    return decoder.take_events(), problems, spans, decoder


def _rows(batch) -> list[tuple]:
    names = batch.names
    return [
        (
            names[batch.producer[i]],
            names[batch.topic[i]],
            names[batch.event_type[i]],
            int(batch.offset[i]),
            int(batch.event_time_ns[i]),
            batch.event_id[i],
        )
        for i in range(len(batch))
    ]


def test_cloudevents_binary_mode_reads_the_headers() -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"evt-1"),
        ("ce_source", b"orders-service"),
        ("ce_type", b"OrderPlaced"),
        ("ce_time", T0.encode()),
        ("content-type", b"application/json"),
    ]
    batch, problems, spans, decoder = _decode([b'{"orderId": 7}'], [_meta(3, headers)])
    assert _rows(batch) == [("orders-service", "orders", "OrderPlaced", 3, T0_NS, "evt-1")]
    assert batch.kafka_time_ns.tolist() == [KAFKA_MS * 1_000_000]
    assert spans == 0
    assert not problems
    assert decoder.formats == {"events": 1}
    assert decoder.events.forms == {"cloudevents_binary": 1}


def test_binary_mode_data_need_not_be_json_nor_present() -> None:
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"9"), ("ce_source", b"/billing"), ("ce_type", b"Paid")]
    batch, problems, _, _ = _decode([b"\x00\x01 protobuf data", None], [_meta(0, headers), _meta(1, headers)])
    assert [row[0] for row in _rows(batch)] == ["/billing", "/billing"]
    assert batch.event_time_ns.tolist() == [UNKNOWN_NS, UNKNOWN_NS]  # no ce_time: the Kafka timestamp stands in
    assert batch.time_ns.tolist() == [KAFKA_MS * 1_000_000] * 2
    assert not problems


def test_cloudevents_structured_mode() -> None:
    event = {
        "specversion": "1.0",
        "id": "a-1",
        "source": "inventory",
        "type": "InventoryUpdated",
        "time": T0,
        "data": {"sku": "x", "count": 3},
    }
    by_content_type = {"id": "a-2", "source": "inventory", "type": "InventoryUpdated", "specversion": "1.0"}
    batch, problems, _, decoder = _decode(
        [orjson.dumps(event), orjson.dumps(by_content_type)],
        [_meta(0), _meta(1, [("content-type", b"application/cloudevents+json; charset=utf-8")])],
    )
    assert _rows(batch) == [
        ("inventory", "orders", "InventoryUpdated", 0, T0_NS, "a-1"),
        ("inventory", "orders", "InventoryUpdated", 1, UNKNOWN_NS, "a-2"),
    ]
    assert decoder.events.forms == {"cloudevents_structured": 2}
    assert not problems


@pytest.mark.parametrize(
    ("document", "producer", "event_type", "event_id", "time_ns"),
    [
        ({"type": "OrderPlaced", "id": "o-1", "source": "shop", "time": T0}, "shop", "OrderPlaced", "o-1", T0_NS),
        ({"eventType": "OrderShipped", "eventId": 42, "producer": "ship", "timestamp": 1_699_999_998_250}, "ship",
         "OrderShipped", "42", T0_NS),
        ({"event_type": "Refund", "event_id": "r", "eventTime": "1699999998.25"}, "unknown", "Refund", "r", T0_NS),
        ({"type": "Ping"}, "unknown", "Ping", None, UNKNOWN_NS),
    ],
)  # fmt: skip
def test_plain_json_events(document, producer, event_type, event_id, time_ns) -> None:
    batch, problems, _, decoder = _decode([orjson.dumps(document)], [_meta(5)])
    assert _rows(batch) == [(producer, "orders", event_type, 5, time_ns, event_id)]
    assert decoder.events.forms == {"plain": 1}
    assert not problems


def test_the_configured_producer_field_or_header_wins() -> None:
    document = orjson.dumps({"type": "OrderPlaced", "source": "fallback", "meta": {"app": "checkout"}})
    headers = [("App-Name", b"from-header")]
    for rule, expected in (("meta.app", "checkout"), ("header:app-name", "from-header")):
        batch, problems, _, _ = _decode([document], [_meta(0, headers)], producer=rule)
        assert _rows(batch)[0][0] == expected
        assert not problems
    ce = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"ce-source"), ("ce_type", b"T")]
    batch, _, _, _ = _decode([b'{"meta": {"app": "svc"}}'], [_meta(0, ce)], producer="meta.app")
    assert _rows(batch)[0][0] == "svc"  # binary mode: the path is looked up in the data
    batch, problems, _, _ = _decode([document], [_meta(4)], producer="header:app-name")
    assert _rows(batch)[0][0] == "fallback"  # missing: the usual producer, and counted
    assert problems.as_dict()[NO_PRODUCER_FIELD] == {"count": 1, "first": ["orders[0]@4 (header app-name)"]}


def test_producer_rules_parse() -> None:
    assert ProducerRule.parse("header:X-Service") == ProducerRule(header="x-service")
    assert ProducerRule.parse("data.origin.service") == ProducerRule(path=("data", "origin", "service"))
    assert ProducerRule.parse(None) is None
    for bad in ("header:", "a..b"):
        with pytest.raises(ValueError, match="event-producer"):
            ProducerRule.parse(bad)
    with pytest.raises(DecoderSettingsError):
        MessageDecoder("events", problems=Problems(), event_producer="header:")


def test_malformed_events_are_skipped_and_counted_with_where() -> None:
    incomplete_binary = [("ce_specversion", b"1.0"), ("ce_source", b"x"), ("ce_type", b"T")]  # no ce_id
    values = [
        b'{"type": "Good", "id": "1"}',
        b"{}",
        b'{"specversion": "1.0", "id": "2", "type": "T"}',  # no source
        b'{"type": "Bad", "time": "yesterday"}',  # kept, time not understood
        b"{broken",
    ]
    metas = [_meta(i, partition=2) for i in range(len(values))]
    values.append(b"data")
    metas.append(_meta(5, incomplete_binary, partition=2))
    batch, problems, _, _ = _decode(values, metas, format_name="events")
    assert [row[2] for row in _rows(batch)] == ["Good", "Bad"]
    found = problems.as_dict()
    assert found[NOT_AN_EVENT] == {"count": 1, "first": ["orders[2]@1"]}
    assert found[STRUCTURED_INCOMPLETE] == {"count": 1, "first": ["orders[2]@2"]}
    assert found[BAD_TIME] == {"count": 1, "first": ["orders[2]@3 ('yesterday')"]}
    assert found[NOT_JSON]["count"] == 1
    assert found[NOT_JSON]["first"][0].startswith("orders[2]@4 (")
    assert found[BINARY_INCOMPLETE] == {"count": 1, "first": ["orders[2]@5"]}
    assert problems.total == 5


def test_auto_detection_keeps_traces_first_and_counts_what_is_neither() -> None:
    otlp = orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "0af7651916cd43dd8448eb211c80319c",
                                    "spanId": "b7ad6b7169203331",
                                    "name": "GET",
                                    "kind": 2,
                                    "startTimeUnixNano": "1700000000000000000",
                                    "endTimeUnixNano": "1700000000005000000",
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    )
    values = [otlp, b'{"type": "OrderPlaced", "id": "1"}', b'{"hello": 1}', otlp]
    batch, problems, spans, decoder = _decode(values, [_meta(i) for i in range(4)])
    assert spans == 2
    assert len(batch) == 1
    assert decoder.formats == {"otlp_json": 2, "events": 1}
    assert problems.as_dict() == {
        "kafka: JSON message in no trace or event format": {"count": 1, "first": ["orders[0]@2"]}
    }


def test_forced_trace_formats_never_read_events() -> None:
    batch, problems, _, _ = _decode([b'{"type": "OrderPlaced"}'], [_meta(0)], format_name="zipkin_json")
    assert len(batch) == 0
    assert problems.total == 1


def test_event_decoder_labels_locations() -> None:
    problems = Problems()
    decoder = EventDecoder(problems=problems, label="rec.bin")
    assert not decoder.add_value(b"[1]", {}, _meta(8))
    assert decoder.add_value(b'{"type": "A"}', {}, _meta(9))
    assert problems.as_dict()[NOT_AN_EVENT]["first"] == ["rec.bin:orders[0]@8"]
    assert decoder.take().where(0) == "rec.bin:orders[0]@9"


def test_times() -> None:
    assert parse_time_ns("2024-01-01T00:00:00.123456789Z") == 1_704_067_200_123_456_789
    assert parse_time_ns("2024-01-01T02:00:00+02:00") == 1_704_067_200_000_000_000
    assert parse_time_ns("2024-01-01T00:00:00") == 1_704_067_200_000_000_000  # no zone: UTC
    assert parse_time_ns(1_704_067_200) == parse_time_ns(1_704_067_200_000) == 1_704_067_200_000_000_000
    assert parse_time_ns("1704067200000000") == parse_time_ns(1_704_067_200_000_000_000) == 1_704_067_200_000_000_000
    assert parse_time_ns(1_704_067_200.5) == 1_704_067_200_500_000_000
    for bad in ("soon", True, None, [], float("nan"), {"t": 1}):
        assert parse_time_ns(bad) is None


def test_header_names_are_case_insensitive() -> None:
    assert header_map([("CE_ID", b"1"), ("x", None)]) == {"ce_id": b"1", "x": b""}
    assert header_map(None) == {}


def test_protobuf_that_starts_like_json_after_a_newline_is_read_as_protobuf() -> None:
    """OTLP protobuf starts with "\\n" (field 1) and a length, whose bytes may read as whitespace and "{"."""
    from flowviz.sim.simulator import DEFAULT_START_NS, Simulator

    simulator = Simulator(seed=6, rate_per_s=2_000, spans_per_message=50)
    values = simulator.generate(DEFAULT_START_NS + 10 * 1_000_000_000)
    brace_like = [value for value in values if value[:64].lstrip(b" \t\r\n\xef\xbb\xbf")[:1] in (b"{", b"[")]
    assert brace_like
    problems = Problems()
    decoder = MessageDecoder(problems=problems)
    builder = SpanBatchBuilder(problems)
    spans = decoder.add(brace_like, [f"message {i}" for i in range(len(brace_like))], builder)
    forced = MessageDecoder("otlp_proto", problems=Problems())
    expected = forced.add(brace_like, [""] * len(brace_like), SpanBatchBuilder(Problems()))
    assert spans == expected > 0
    assert problems.total == 0
    assert decoder.formats == {"otlp_proto": len(brace_like)}
    assert MessageDecoder(problems=Problems()).add([b'\n {"resourceSpans": []}'], ["json"], builder) == 0
