"""How a Kafka reader is doing: its status record (plain values, it crosses process pipes) and the status line."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class KafkaStatus:
    """How the Kafka reader is doing, for the status line (plain values: it crosses process pipes)."""

    state: str = "connecting"  # connecting | connected | reconnecting | waiting for topic | stopped
    bootstrap: str = ""
    topics: tuple[str, ...] = ()
    partitions: int = 0
    messages: int = 0
    bytes: int = 0
    messages_per_s: float = 0.0
    bytes_per_s: float = 0.0
    lag_messages: int | None = None  # behind the topics' ends (None: not known yet)
    newest_message_age_s: float | None = None  # wall clock minus the newest message's timestamp
    decode_problems: int = 0
    problem_samples: list[str] = field(default_factory=list)
    last_error: str = ""
    retry_in_s: float | None = None
    state_since_s: float = 0.0  # time.monotonic() of the last state change
    formats: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def set_state(self, state: str, *, error: str = "") -> None:
        if state != self.state:
            self.state, self.state_since_s = state, time.monotonic()
        if error:
            self.last_error = error


def status_text(status: dict[str, Any]) -> str:
    """One status line from `KafkaStatus.as_dict()`: recording (if the worker records), state, rates, lag, problems."""
    recording = status.get("recording") or {}
    if recording.get("active"):
        return f"● REC {Path(recording['path']).name} {human_bytes(recording['bytes'])} · {_reader_text(status)}"
    if recording.get("error"):
        return f"recording stopped: {recording['error']} · {_reader_text(status)}"
    return _reader_text(status)


def _reader_text(status: dict[str, Any]) -> str:
    state = status["state"]
    if state in ("reconnecting", "connecting", "waiting for topic"):
        retry = status.get("retry_in_s")
        text = f"{state} to {status['bootstrap']}" if state != "waiting for topic" else state
        if retry:
            text += f" (next try in {retry:.0f} s)"
        if status.get("last_error"):
            text += f" · {status['last_error']}"
        return text
    parts = [
        f"{state} · {', '.join(status['topics'])}",
        f"{status['messages_per_s']:,.0f} msg/s",
        f"{human_bytes(status['bytes_per_s'])}/s",
    ]
    if status.get("lag_messages") is not None:
        parts.append(f"lag {status['lag_messages']:,} msg")
    events = status.get("events") or {}
    decode_problems = status.get("decode_problems", 0) - sum(events.get("duplicates", {}).values())
    if decode_problems:
        parts.append(f"{decode_problems:,} decode problems")
    if events:
        from flowviz.sources.kafka_events import events_text

        parts.append(events_text(events))
    return " · ".join(parts)


def human_bytes(count: float) -> str:
    """`812 B`, `4.1 kB`, `12.3 MB` (decimal units)."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"
