"""Parsing time arguments: seconds relative to a capture's start (`+90`, `+5m`) or ISO-8601 instants."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RELATIVE = re.compile(r"^\+?(\d+(?:\.\d+)?)(ms|s|m|h)?$", re.ASCII)
# what an int64 nanosecond timestamp can hold (1677-09-21 .. 2262-04-11)
_MIN_NS, _MAX_NS = -(1 << 63), (1 << 63) - 1
_UNIT_NS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, None: 1_000_000_000}


class TimeSpecError(ValueError):
    """A time argument that is neither relative (`+90s`) nor ISO-8601."""


def parse_time_ns(text: str, *, origin_ns: int) -> int:
    """Absolute int64 ns for `text`: `+90`, `+90s`, `+250ms`, `+5m`, `+1h` after `origin_ns`, or ISO-8601.

    ISO-8601 without a zone is taken as UTC. Instants an int64 of nanoseconds cannot hold are errors.
    """
    time_ns = _parse(text, origin_ns)
    if not _MIN_NS <= time_ns <= _MAX_NS:
        raise TimeSpecError(f"{text!r} is out of range (years 1677 to 2262)")
    return time_ns


def _parse(text: str, origin_ns: int) -> int:
    spec = text.strip()
    match = _RELATIVE.match(spec)
    if match and (spec.startswith("+") or match.group(2) or "." not in spec):
        amount, unit = match.groups()
        return origin_ns + round(float(amount) * _UNIT_NS[unit])
    try:
        instant = datetime.fromisoformat(spec.replace("Z", "+00:00"))
    except ValueError as error:
        raise TimeSpecError(f"{text!r} is not a time: use +SECONDS (+90, +90s, +5m) or ISO-8601") from error
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def format_time_ns(time_ns: int) -> str:
    """ISO-8601 UTC with millisecond precision."""
    seconds, rest_ns = divmod(int(time_ns), 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest_ns // 1_000_000:03d}Z"


def parse_duration_s(text: str) -> float:
    """Seconds in a duration like `60`, `60s`, `250ms`, `5m`, `1h` (no sign, no ISO)."""
    spec = text.strip()
    if spec.startswith(("+", "-")):
        raise TimeSpecError(f"{text!r} is not a duration: use 60s, 5m, 1h")
    try:
        seconds = parse_time_ns("+" + spec, origin_ns=0) / 1e9
    except TimeSpecError:
        raise TimeSpecError(f"{text!r} is not a duration: use 60s, 5m, 1h (or 250ms)") from None
    if seconds <= 0:
        raise TimeSpecError(f"{text!r} is not a positive duration")
    return seconds


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rfc3339_ns(text: str) -> int | None:
    """An RFC 3339 / ISO-8601 instant in ns since the epoch, the fraction exact to the nanosecond (UTC when no
    zone is given); None when it is no such instant."""
    fraction_ns = 0
    body = text.strip().replace("z", "Z").replace("Z", "+00:00")
    dot = body.find(".")
    if dot >= 0:
        end = dot + 1
        while end < len(body) and body[end].isdigit():
            end += 1
        digits = body[dot + 1 : end]
        fraction_ns = int((digits + "000000000")[:9]) if digits else 0
        body = body[:dot] + body[end:]
    try:
        instant = datetime.fromisoformat(body)
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + fraction_ns


def format_duration_s(seconds: float) -> str:
    """A window length or span of time for people: `45 s`, `2 min`, `9 min 59 s`, `1 h 30 min`, `2.5 s`."""
    if seconds < 10:
        return f"{seconds:.3g} s"
    total = round(seconds)
    if total < 120:
        return f"{total} s"
    if total < 7200:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(total / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def format_latency_ms(value_ms: float, *, compact: bool = False) -> str:
    """A latency with its unit: `850 µs`, `42.1 µs`, `19.3 ms`, `250 ms`, `1.25 s`; `–` for none (NaN).
    `compact` (chart labels) drops the decimal from 10 ms / 10 µs up: `43 ms`."""
    if value_ms != value_ms:  # NaN: no calls
        return "–"
    if value_ms >= 1000.0:
        return f"{value_ms / 1000.0:.3g} s"
    value, unit = (value_ms, "ms") if value_ms >= 1.0 else (value_ms * 1000.0, "µs")
    if value >= 100 or (compact and value >= 10):
        return f"{value:.0f} {unit}"
    return f"{value:.1f} {unit}"
