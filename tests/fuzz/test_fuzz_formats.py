"""Fuzzing every format: Hypothesis documents of each format's structure with any value anywhere (other
types, huge numbers, deep nesting), and byte-level damage of real captures (`flowviz.bench.fuzz`).

Asserted for every case: no exception escapes, the intact lines around a damaged one are read in full,
damage that makes a line unreadable is counted. The short budget runs in the normal test run; `pytest -m
fuzz_long` (and `flowviz bench fuzz`) run the long one.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowviz.bench.fuzz import default_seeds, mutate, read_file_as_report, read_messages_as_live, run_fuzz
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.events import MessageMeta
from flowviz.decoders.messages import MessageDecoder
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.capture_file import CaptureReader

SHORT = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
DEEP = 1_200

# -- values: anything a damaged or hostile writer could put where a field is ------------------------

_deep = st.integers(1, 3).map(lambda k: orjson.loads("[" * (DEEP // k) + "]" * (DEEP // k)) if k == 1 else {"v": []})
_numbers = st.one_of(
    st.integers(-(2**64), 2**64),
    st.sampled_from([0, -1, 2**63, 2**64 - 1, 10**19, 1e19, 1e300, -1e300, 0.5]),
    st.floats(allow_nan=False, allow_infinity=False),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    _numbers,
    st.text(max_size=40),
    st.sampled_from(["", "0", "ERROR", "SPAN_KIND_SERVER", "0001-01-01T00:00:00Z", "f" * 32, "00" * 8, "zz"]),
)
_any = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def _field(good: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the right kind of value, sometimes anything."""
    return st.one_of(good, good, good, _any)


_hex16 = st.integers(1, 2**64 - 1).map(lambda v: f"{v:016x}")
_hex32 = st.integers(1, 2**128 - 1).map(lambda v: f"{v:032x}")
_time_ns = st.integers(1_600_000_000_000_000_000, 1_800_000_000_000_000_000)
_service = st.sampled_from(["frontend", "orders", "payments", "db", ""])

# -- one strategy per format -------------------------------------------------------------------------

_otlp_value = st.one_of(
    st.builds(lambda s: {"stringValue": s}, _field(_service)),
    st.builds(lambda i: {"intValue": i}, _field(st.integers(0, 600).map(str))),
    st.builds(lambda v: {"arrayValue": {"values": v}}, _any),
    _any,
)
_otlp_attribute = st.fixed_dictionaries(
    {"key": _field(st.sampled_from(["peer.service", "db.system", "http.status_code", "span.kind", "error"])),
     "value": _otlp_value}
)  # fmt: skip
_otlp_span = st.fixed_dictionaries(
    {
        "traceId": _field(_hex32),
        "spanId": _field(_hex16),
        "parentSpanId": _field(st.one_of(st.just(""), _hex16)),
        "name": _field(st.text(max_size=10)),
        "kind": _field(st.integers(0, 5)),
        "startTimeUnixNano": _field(_time_ns.map(str)),
        "endTimeUnixNano": _field(_time_ns.map(str)),
        "attributes": _field(st.lists(_otlp_attribute, max_size=3)),
        "status": _field(st.fixed_dictionaries({"code": _field(st.integers(0, 2))})),
        "links": _field(st.lists(st.fixed_dictionaries({"traceId": _field(_hex32), "spanId": _field(_hex16)}))),
    }
)
OTLP_JSON = st.fixed_dictionaries(
    {
        "resourceSpans": _field(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "resource": _field(
                            st.fixed_dictionaries(
                                {"attributes": st.lists(
                                    st.fixed_dictionaries({"key": st.just("service.name"),
                                                           "value": _otlp_value}), max_size=2)}
                            )
                        ),
                        "scopeSpans": _field(st.lists(st.fixed_dictionaries({"spans": _field(st.lists(_otlp_span, max_size=4))}), max_size=2)),  # noqa: E501
                    }
                ),
                min_size=1,
                max_size=2,
            )
        )
    }
)  # fmt: skip
_zipkin_span = st.fixed_dictionaries(
    {
        "traceId": _field(_hex32),
        "id": _field(_hex16),
        "parentId": _field(_hex16),
        "kind": _field(st.sampled_from(["CLIENT", "SERVER", "PRODUCER", "CONSUMER"])),
        "timestamp": _field(_time_ns.map(lambda t: t // 1000)),
        "duration": _field(st.integers(0, 10**7)),
        "localEndpoint": _field(st.fixed_dictionaries({"serviceName": _field(_service)})),
        "remoteEndpoint": _field(
            st.fixed_dictionaries({"serviceName": _field(_service), "ipv4": _field(st.just("10.0.0.1"))})
        ),
        "tags": _field(st.dictionaries(st.sampled_from(["error", "http.status_code", "peer.service"]), _any)),
        "shared": _field(st.booleans()),
    }
)
ZIPKIN_JSON = st.lists(_zipkin_span, min_size=1, max_size=5)
_jaeger_span = st.fixed_dictionaries(
    {
        "traceID": _field(_hex32),
        "spanID": _field(_hex16),
        "operationName": _field(st.text(max_size=8)),
        "references": _field(
            st.lists(
                st.fixed_dictionaries(
                    {"refType": _field(st.just("CHILD_OF")), "traceID": _field(_hex32), "spanID": _field(_hex16)}
                ),
                max_size=2,
            )
        ),
        "startTime": _field(_time_ns.map(lambda t: t // 1000)),
        "duration": _field(st.integers(0, 10**7)),
        "tags": _field(
            st.lists(
                st.fixed_dictionaries({"key": _field(st.sampled_from(["span.kind", "error"])), "value": _any}),
                max_size=2,
            )
        ),
        "processID": _field(st.sampled_from(["p1", "p2"])),
    }
)
_process = st.fixed_dictionaries({"serviceName": _field(_service)})
JAEGER_JSON = st.fixed_dictionaries(
    {"data": st.lists(st.fixed_dictionaries({
        "traceID": _field(_hex32),
        "spans": _field(st.lists(_jaeger_span, min_size=1, max_size=4)),
        "processes": _field(st.fixed_dictionaries({"p1": _field(_process), "p2": _field(_process)})),
    }), min_size=1, max_size=2)}
)  # fmt: skip
SIMPLE_JSON = st.fixed_dictionaries(
    {"traceId": _field(_hex32),
     "spans": _field(st.lists(st.fixed_dictionaries({"service": _field(_service), "durationMs": _field(_numbers),
                                                     "startMs": _field(_numbers), "error": _field(st.booleans())}),
                              min_size=1, max_size=4))}
)  # fmt: skip
EVENT = st.fixed_dictionaries(
    {"type": _field(st.just("OrderPlaced")), "id": _field(st.text(max_size=6)), "source": _field(_service),
     "time": _field(st.one_of(_time_ns, st.just("2026-01-01T00:00:00Z"), st.just("0001-01-01T00:00:00Z"))),
     "data": _any}
)  # fmt: skip
CLOUD_EVENT = EVENT.map(lambda e: {**e, "specversion": "1.0"})
FORMATS = {
    "otlp_json": OTLP_JSON,
    "zipkin_json": ZIPKIN_JSON,
    "jaeger_json": JAEGER_JSON,
    "simple_json": SIMPLE_JSON,
    "events": EVENT,
    "cloudevents": CLOUD_EVENT,
}


def _dumps(document: object) -> bytes:
    try:
        return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        import json
        import sys

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(10 * DEEP)
        try:
            return json.dumps(document).encode()
        finally:
            sys.setrecursionlimit(limit)


@pytest.mark.parametrize("name", list(FORMATS))
def test_any_document_of_a_format_is_read_as_a_kafka_message_without_an_exception(name: str) -> None:
    @SHORT
    @given(documents=st.lists(FORMATS[name], min_size=1, max_size=4))
    def check(documents: list) -> None:
        problems = Problems()
        values = [_dumps(document) for document in documents]
        read_messages_as_live(values, problems)  # raises if anything escapes

    check()


_GOOD_LINES = {
    "otlp_json": "otlp-json/opentelemetry-proto-example-trace.json",
    "zipkin_json": "zipkin-v2/zipkin-lens-simple-db-p6.json",
    "jaeger_json": "jaeger-json/jaeger-telemetrygen-otlp2jaeger-out.json",
}


@pytest.mark.parametrize("name", list(_GOOD_LINES))
def test_a_fuzzed_line_between_intact_lines_costs_at_most_itself(name: str, captures_dir: Path, tmp_path: Path) -> None:
    good = orjson.dumps(orjson.loads((captures_dir / _GOOD_LINES[name]).read_bytes()))
    intact = _span_count(good, tmp_path / "one.jsonl")
    assert intact > 0

    @SHORT
    @given(document=FORMATS[name])
    def check(document: object) -> None:
        path = tmp_path / "case.jsonl"
        path.write_bytes(b"\n".join([good, _dumps(document), good]) + b"\n")
        problems = Problems()
        spans = sum(len(b) for b in CaptureReader(path, problems=problems) if isinstance(b, SpanBatch))
        assert spans >= 2 * intact  # the intact lines whole (the fuzzed one may add spans of its own)

    check()


def _span_count(line: bytes, path: Path) -> int:
    path.write_bytes(line + b"\n")
    return sum(len(b) for b in CaptureReader(path, problems=Problems()) if isinstance(b, SpanBatch))


def test_unreadable_lines_between_intact_ones_are_counted_with_their_line(captures_dir: Path, tmp_path: Path) -> None:
    good = orjson.dumps(orjson.loads((captures_dir / _GOOD_LINES["otlp_json"]).read_bytes()))
    intact = _span_count(good, tmp_path / "one.jsonl")
    rng = random.Random(4)
    for _ in range(40):
        damaged = bytearray(good[: rng.randrange(1, len(good) - 1)])  # cut: never valid JSON
        path = tmp_path / "case.jsonl"
        path.write_bytes(b"\n".join([good, bytes(damaged), good]) + b"\n")
        problems = Problems()
        spans = sum(len(b) for b in CaptureReader(path, problems=problems) if isinstance(b, SpanBatch))
        assert spans == 2 * intact
        assert any(f"{path}:2" in loc for entry in problems.as_dict().values() for loc in entry["first"])


def test_byte_damage_of_real_captures_short_budget(captures_dir: Path) -> None:
    """About 300 cases of flips, truncation, type swaps, deep nesting, huge numbers, frame and gzip damage."""
    figures = run_fuzz(cases=300, seed=11, captures_dir=captures_dir)
    assert figures.failures == [], figures.failures[:5]
    assert figures.problems > 0  # damage is counted
    assert figures.file_cases > 100
    assert figures.message_cases > 50


@pytest.mark.fuzz_long
def test_byte_damage_of_real_captures_long_budget(captures_dir: Path) -> None:
    """The long run: `pytest -m fuzz_long` (FLOWVIZ_FUZZ_SECONDS, default 600)."""
    figures = run_fuzz(seconds=float(os.environ.get("FLOWVIZ_FUZZ_SECONDS", 600)), seed=12, captures_dir=captures_dir)
    assert figures.failures == [], figures.failures[:5]


def test_every_mutation_changes_its_input_and_a_message_with_each_is_survived(captures_dir: Path) -> None:
    from flowviz.bench.fuzz import MUTATORS

    seeds = default_seeds(captures_dir)
    protobuf = next(s for s in seeds if s.name == "generated.otlp.pb-frames")
    rng = random.Random(2)
    for name, damage in MUTATORS.items():
        changed = damage(protobuf.data, rng)
        assert changed != protobuf.data, name
        problems = Problems()
        decoder = MessageDecoder("auto", problems=problems)
        meta = MessageMeta("t", 0, 0, 1, 0, None)
        decoder.add([changed], [meta.where], SpanBatchBuilder(problems), metas=[meta])
        assert problems.total > 0 or name in ("swap", "huge", "splice"), name  # frame damage is always seen
    names, _ = mutate(b'{"a": [1, 2]}', rng)
    assert set(names.split("+")) <= set(MUTATORS)


def test_a_damaged_file_is_read_as_report_reads_it(tmp_path: Path, captures_dir: Path) -> None:
    path = tmp_path / "cut.json"
    data = (captures_dir / "zipkin-v2/zipkin-lens-messaging-kafka.json").read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    problems = Problems()
    assert read_file_as_report(path, problems) > 0  # the whole spans before the cut
    assert problems.total > 0
