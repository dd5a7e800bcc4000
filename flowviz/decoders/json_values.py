"""Checks and conversions shared by the JSON span decoders: id text, and times in µs or ms to int64 ns."""

from __future__ import annotations

MAX_ID_DIGITS = 32  # a 128-bit id in hex
MAX_TIME_NS = 1 << 62  # times and durations beyond this could overflow int64 when added
MICROSECOND_NS = 1_000
MILLISECOND_NS = 1_000_000


def is_id_text(value: object) -> bool:
    """Whether `value` can be a hex id as JSON formats write them (the builder checks the digits)."""
    return type(value) is str and len(value) <= MAX_ID_DIGITS


def to_ns(value: object, unit_ns: int) -> int | None:
    """A time or duration in `unit_ns` units (int or float) as int nanoseconds; None if it is not a
    number or not within 0 .. 2**62 ns."""
    kind = type(value)
    if kind is int:
        return value * unit_ns if 0 <= value <= MAX_TIME_NS // unit_ns else None
    if kind is float and 0 <= value <= MAX_TIME_NS // unit_ns:  # NaN fails the comparison
        whole = int(value)
        return whole * unit_ns + round((value - whole) * unit_ns)
    return None
