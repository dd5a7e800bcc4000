"""Time arguments: +SECONDS relative to a capture's first span, ISO-8601 with or without a zone, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flowviz.model.time_spec import TimeSpecError, format_duration_s, format_latency_ms, format_time_ns, parse_time_ns

ORIGIN = 1_701_779_876_579_664_000  # a capture's first span (Kiali Bookinfo)
S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "offset_ns"),
    [
        ("+90", 90 * S),
        ("90", 90 * S),  # a bare integer is seconds too
        ("+90s", 90 * S),
        ("+0", 0),
        ("+1.5", 1_500_000_000),
        ("+1.5s", 1_500_000_000),
        ("+250ms", 250_000_000),
        ("+5m", 300 * S),
        ("+1.5m", 90 * S),
        ("+1h", 3600 * S),
        ("  +90s  ", 90 * S),
    ],
)
def test_relative_forms(text: str, offset_ns: int) -> None:
    assert parse_time_ns(text, origin_ns=ORIGIN) == ORIGIN + offset_ns


def _epoch_ns(*fields: int, microsecond: int = 0) -> int:
    instant = datetime(*fields, microsecond=microsecond, tzinfo=UTC)
    return int(instant.timestamp()) * S + microsecond * 1000


@pytest.mark.parametrize(
    ("text", "expected_ns"),
    [
        ("2023-12-05T12:37:56Z", _epoch_ns(2023, 12, 5, 12, 37, 56)),
        ("2023-12-05T12:37:56+00:00", _epoch_ns(2023, 12, 5, 12, 37, 56)),
        ("2023-12-05T12:37:56", _epoch_ns(2023, 12, 5, 12, 37, 56)),  # no zone: UTC
        ("2023-12-05 12:37:56", _epoch_ns(2023, 12, 5, 12, 37, 56)),
        ("2023-12-05T13:37:56+01:00", _epoch_ns(2023, 12, 5, 12, 37, 56)),
        ("2023-12-05T07:37:56-05:00", _epoch_ns(2023, 12, 5, 12, 37, 56)),
        ("2023-12-05T12:37:56.123Z", _epoch_ns(2023, 12, 5, 12, 37, 56, microsecond=123_000)),
        ("2023-12-05T12:37:56.579664Z", _epoch_ns(2023, 12, 5, 12, 37, 56, microsecond=579_664)),
        ("2023-12-05", _epoch_ns(2023, 12, 5, 0, 0, 0)),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59Z", -S),
    ],
)
def test_iso_forms_ignore_the_origin(text: str, expected_ns: int) -> None:
    assert parse_time_ns(text, origin_ns=ORIGIN) == expected_ns
    assert parse_time_ns(text, origin_ns=0) == expected_ns


@pytest.mark.parametrize(
    "text",
    ["", "+", "abc", "-5", "+-5", "1.5", "+5x", "+5 m", "1e3", "+nan", "+inf", "2023-13-01", "12:37", "٣", "+٣s"],
)
def test_not_a_time(text: str) -> None:
    with pytest.raises(TimeSpecError, match="is not a time: use \\+SECONDS"):
        parse_time_ns(text, origin_ns=ORIGIN)


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01T00:00:00Z", "+99999999999999999", "+3000000h"])
def test_instants_beyond_int64_nanoseconds_are_errors(text: str) -> None:
    with pytest.raises(TimeSpecError, match="out of range"):
        parse_time_ns(text, origin_ns=ORIGIN)


def test_time_spec_error_is_a_value_error() -> None:
    assert issubclass(TimeSpecError, ValueError)


def test_edges_of_the_int64_range_are_accepted_and_formatted() -> None:
    low = parse_time_ns("1677-09-22T00:00:00Z", origin_ns=0)
    high = parse_time_ns("2262-04-11T00:00:00Z", origin_ns=0)
    assert format_time_ns(low) == "1677-09-22T00:00:00.000Z"
    assert format_time_ns(high) == "2262-04-11T00:00:00.000Z"


@pytest.mark.parametrize(
    ("time_ns", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (ORIGIN, "2023-12-05T12:37:56.579Z"),  # milliseconds, truncated
        (-1, "1969-12-31T23:59:59.999Z"),
        (1_700_000_000 * S + 999_999_999, "2023-11-14T22:13:20.999Z"),
    ],
)
def test_format_time_ns(time_ns: int, text: str) -> None:
    assert format_time_ns(time_ns) == text


def test_format_then_parse_round_trips_to_the_millisecond() -> None:
    for time_ns in (ORIGIN, 1_500_000_000_123_000_000, 0):
        assert parse_time_ns(format_time_ns(time_ns), origin_ns=0) == time_ns // 1_000_000 * 1_000_000


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2.5, "2.5 s"),
        (10, "10 s"),
        (60, "60 s"),
        (120, "2 min"),
        (598.999, "9 min 59 s"),
        (600, "10 min"),
        (3600, "60 min"),
        (5400, "90 min"),
        (7200, "2 h"),
        (9000, "2 h 30 min"),
    ],
)
def test_format_duration_s(seconds: float, text: str) -> None:
    assert format_duration_s(seconds) == text


@pytest.mark.parametrize(
    ("value_ms", "text"),
    [
        (0.0042, "4.2 µs"),
        (0.85, "850 µs"),
        (0.05, "50.0 µs"),
        (4.21, "4.2 ms"),
        (19.34, "19.3 ms"),
        (250.2, "250 ms"),
        (1250.0, "1.25 s"),
        (float("nan"), "–"),
    ],
)
def test_format_latency_ms_uses_microseconds_below_a_millisecond(value_ms: float, text: str) -> None:
    assert format_latency_ms(value_ms) == text


def test_compact_latency_for_chart_labels() -> None:
    assert format_latency_ms(43.4, compact=True) == "43 ms"
    assert format_latency_ms(0.0434, compact=True) == "43 µs"
    assert format_latency_ms(4.34, compact=True) == "4.3 ms"
