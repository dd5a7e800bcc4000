"""Kafka source: topics read by assign() from a start time (no group, no commits), batched, reconnecting, with status.

`KafkaReader` hands out batches of raw messages; `MessageDecoder` turns message values into spans
(format detected per message, or forced); `run_kafka_worker` is the worker-process side of a live
feed (`ProcessFeed`), sending edge observations and the reader's status to the window.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.events import (
    EventDecoder,
    EventFields,
    MessageMeta,
    ProducerRule,
    header_map,
    is_cloudevents_binary,
    is_cloudevents_structured_header,
    looks_like_event,
    message_meta,
)
from flowviz.decoders.formats import KAFKA_FORMATS as KAFKA_FORMATS  # the table moved; the name stays importable here
from flowviz.decoders.formats import OTLP_PROTO, JsonFormat, detect_json_format, json_format
from flowviz.decoders.guard import guarded, guarded_group
from flowviz.decoders.otlp_json_fast import try_add_otlp_json_bytes
from flowviz.decoders.otlp_proto_fast import decode_otlp_proto
from flowviz.decoders.wire_format import SchemaError, schema_source, split_wire
from flowviz.derive.consumer_lag import LagMark
from flowviz.derive.dead_letters import DeadLetterDeriver, DeadLetterRules
from flowviz.derive.observations import EdgeObservations
from flowviz.model.event_batch import UNKNOWN_NS, EventBatch
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.model.time_spec import TimeSpecError, parse_duration_s, parse_time_ns, rfc3339_ns
from flowviz.sources.capture_file import gc_paused
from flowviz.sources.raw_inputs import RawRing

if TYPE_CHECKING:
    from flowviz.store.drill_down import DrillDownStore

DEFAULT_TOPIC = "otlp_spans"  # what the OpenTelemetry Collector's kafka exporter writes to
START_CHOICES_HELP = "latest, earliest, -15m (a duration before now) or an ISO-8601 instant"

# librdkafka settings the viewer needs; a user's properties file cannot turn commits back on
_CONSUMER_DEFAULTS = {
    "group.id": "flowviz-viewer",  # required by the client; never joined (assign) and never committed
    "fetch.queue.backoff.ms": 5,  # the 1 s default idles the consumer when decoding is slower than fetching
    "fetch.wait.max.ms": 50,  # a broker that holds fetches for the full wait (some do) delays messages less
    "max.partition.fetch.bytes": 8 << 20,
    "queued.max.messages.kbytes": 256 << 10,
    "enable.partition.eof": False,
    "auto.offset.reset": "earliest",  # a position past a recreated topic's end starts over at its beginning
    "reconnect.backoff.ms": 250,
    "reconnect.backoff.max.ms": 5_000,
    "statistics.interval.ms": 1_000,  # broker states and partition ends for the status, no extra requests
    "socket.keepalive.enable": True,
}
UNKNOWN_SCHEMA = "events: schema id not known (Confluent wire format; the record is skipped)"
BAD_RECORD = "events: record does not decode with its schema (skipped)"
_CONSUMER_FORCED = {"enable.auto.commit": False, "enable.auto.offset.store": False}
_METADATA_TIMEOUT_S = 2.0
_RETRY_FIRST_S, _RETRY_MAX_S = 0.5, 10.0
_PARTITION_CHECK_S = 10.0  # how often topics are looked up again for partitions added later
_RATE_WINDOW_S = 2.0
_LOGGER = logging.getLogger("flowviz.kafka")
_LOGGER.addHandler(logging.NullHandler())
_LOGGER.propagate = False  # librdkafka's own log lines (every reconnect attempt) stay out of the terminal


class KafkaConfigError(ValueError):
    """A Kafka properties file that cannot be read, or settings that cannot work."""


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """Where and what to read: broker, topics, value format, start, and the librdkafka properties file.

    Secrets (SASL passwords, key files) stay in the file at `config_path`; these settings only name it.
    """

    bootstrap: str = ""
    topics: tuple[str, ...] = (DEFAULT_TOPIC,)
    format_name: str = "auto"
    start: str = "latest"
    config_path: str | None = None
    event_producer: str | None = None  # where events name their producer: `header:NAME` or a JSON field path
    groups: tuple[str, ...] = ()  # consumer groups to watch on event topics (none: every group the broker lists)
    dead_letters: tuple[str, ...] = ()  # name patterns of dead-letter/retry topics (none: DEFAULT_PATTERNS)
    schema_registry: str | None = None  # a schema registry's URL (Avro/Protobuf events in the Confluent wire format)
    schemas: str | None = None  # a folder of ID[-SUBJECT].avsc / .proto / .json (JSON Schema) files
    schema_registry_config: str | None = None  # properties file with basic.auth.user.info (a secret: only named)
    event_fields: tuple[str, ...] = ()  # `type=PATH`, `id=PATH`, `time=PATH`: where plain events keep them


# -- configuration -------------------------------------------------------------------------------


def read_properties(path: str | Path) -> dict[str, str]:
    """librdkafka / Java style properties: `key=value` (or `key: value`), `#`/`!` comments, `\\` continues."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise KafkaConfigError(f"{path}: {error.strerror or error}") from error
    properties: dict[str, str] = {}
    pending = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = pending + raw.strip()
        pending = ""
        if not line or line.startswith(("#", "!")):
            continue
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        separators = [i for i in (line.find("="), line.find(":")) if i > 0]
        if not separators:
            raise KafkaConfigError(f"{path}:{number}: expected key=value")
        split = min(separators)
        properties[line[:split].strip()] = line[split + 1 :].strip()
    return properties


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """The settings' properties file with `bootstrap.servers` from the settings (common to consumer and producer)."""
    config: dict[str, Any] = dict(read_properties(settings.config_path)) if settings.config_path else {}
    if settings.bootstrap:
        config["bootstrap.servers"] = settings.bootstrap
    if not config.get("bootstrap.servers"):
        raise KafkaConfigError("no broker given: use --bootstrap HOST:PORT or bootstrap.servers in --kafka-config")
    config["logger"] = _LOGGER
    return config


def consumer_config(settings: KafkaSettings, *, on_error: Callable, on_stats: Callable) -> dict[str, Any]:
    """librdkafka consumer settings: throughput defaults, the user's file over them, then no commits, ever."""
    config = {**_CONSUMER_DEFAULTS, **client_config(settings), **_CONSUMER_FORCED}
    config["error_cb"] = on_error
    config["stats_cb"] = on_stats
    return config


def start_time_ms(start: str, *, now_ns: int | None = None) -> int | None:
    """Milliseconds since the epoch for a `--from` that names a time (`-15m`, ISO); None for latest/earliest."""
    text = start.strip().lower()
    if text in ("latest", "earliest"):
        return None
    now_ns = time.time_ns() if now_ns is None else now_ns
    if text.startswith("-"):
        return (now_ns - round(parse_duration_s(text[1:]) * 1e9)) // 1_000_000
    if text.startswith("+"):
        raise TimeSpecError(f"{start!r}: --from takes latest, earliest, -DURATION or an ISO-8601 instant")
    return parse_time_ns(start, origin_ns=now_ns) // 1_000_000


def check_settings(settings: KafkaSettings) -> None:
    """Raise KafkaConfigError / TimeSpecError for settings that cannot work (before any connection)."""
    if settings.format_name not in KAFKA_FORMATS:
        raise KafkaConfigError(f"unknown format {settings.format_name!r} (one of {', '.join(KAFKA_FORMATS)})")
    if not settings.topics or not all(settings.topics):
        raise KafkaConfigError("no topic given")
    start_time_ms(settings.start)
    _producer_rule(settings.event_producer)
    _fields(settings.event_fields)
    settings_schemas(settings)
    client_config(settings)


def settings_schemas(settings: KafkaSettings):
    """The schema source the settings name (folder, registry), or None; KafkaConfigError when it cannot be."""
    if not settings.schema_registry and not settings.schemas:
        return None
    user_info = None
    if settings.schema_registry_config:
        properties = read_properties(settings.schema_registry_config)
        user_info = properties.get("basic.auth.user.info") or properties.get("schema.registry.basic.auth.user.info")
    try:
        return schema_source(registry=settings.schema_registry, folder=settings.schemas, user_info=user_info)
    except SchemaError as error:
        raise KafkaConfigError(str(error)) from error


def _fields(texts: tuple[str, ...]) -> EventFields | None:
    try:
        return EventFields.parse(texts)
    except ValueError as error:
        raise KafkaConfigError(str(error)) from error


def _producer_rule(text: str | None) -> ProducerRule | None:
    try:
        return ProducerRule.parse(text)
    except ValueError as error:
        raise KafkaConfigError(str(error)) from error


# -- status ------------------------------------------------------------------------------------


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
        return f"● REC {Path(recording['path']).name} {_human_bytes(recording['bytes'])} · {_reader_text(status)}"
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
        f"{_human_bytes(status['bytes_per_s'])}/s",
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


def _human_bytes(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"


# -- reading -----------------------------------------------------------------------------------


class KafkaReader:
    """Reads `settings.topics` by assign() from the start offsets; `poll()` returns batches of messages.

    No consumer group is joined and nothing is committed, so production consumers are never disturbed.
    A broker that cannot be reached is retried with back-off (librdkafka reconnects an established
    client by itself; a client that never got metadata is rebuilt here); `status` tells how it goes.
    Each call returns within about `timeout_s`, so a caller can check for a stop request in between.
    """

    def __init__(self, settings: KafkaSettings, *, problems: Problems | None = None) -> None:
        check_settings(settings)
        self.settings = settings
        self.problems = problems if problems is not None else Problems()
        self.status = KafkaStatus(bootstrap=settings.bootstrap, topics=tuple(settings.topics))
        self._consumer: Any = None
        self._assigned: set[tuple[str, int]] = set()
        self._missing_topics: tuple[str, ...] = ()
        self._next_try_s = 0.0
        self._attempts_failed = 0
        self._retry_s = _RETRY_FIRST_S
        self._next_partition_check_s = 0.0
        self._start_ms = start_time_ms(settings.start)
        self._began_ms = time.time_ns() // 1_000_000
        self._catching_up: set[tuple[str, int]] = set()  # partitions still skipping messages before the start
        self._ends: dict[tuple[str, int], int] = {}  # partition -> end offset (from statistics)
        self._positions: dict[tuple[str, int], int] = {}  # partition -> next offset to read
        self._fetching: dict[tuple[str, int], int] = {}  # partition -> next offset to fetch (from statistics)
        self._down_reports = 0  # statistics reports in a row without a usable broker
        self._check_positions = False  # after an outage: is each partition still the one we were reading?
        self._last_read: dict[tuple[str, int], tuple[int, int]] = {}  # partition -> (offset, timestamp ms) last read
        # partition -> (offset, timestamp ms) of the message it must start with after an outage, end offset then
        self._verifying: dict[tuple[str, int], tuple[int, int, int]] = {}
        self._next_end_check_s = 0.0
        self._rate_samples: deque[tuple[float, int, int]] = deque()
        self._newest_ms = 0

    # -- public --------------------------------------------------------------------------

    def poll(self, *, max_messages: int = 20_000, max_bytes: int = 64 << 20, timeout_s: float = 0.1) -> list:
        """Messages that arrived (confluent_kafka Message objects), waiting at most about `timeout_s` for the first."""
        now = time.monotonic()
        if self._consumer is None or self._missing_topics:
            if now >= self._next_try_s:
                self._connect()
            elif not self._assigned:
                self.status.retry_in_s = self._next_try_s - now
                time.sleep(min(timeout_s, self._next_try_s - now))
                return []
            if self._consumer is None or not self._assigned:
                return []  # topics that exist are read meanwhile
        elif now >= self._next_partition_check_s:
            self._add_new_partitions()
        messages = self._consume(max_messages, max_bytes, timeout_s)
        self._update_rates(time.monotonic())
        if self._check_positions:
            self._verify_after_outage()
        elif self._verifying and self.status.state == "connected" and time.monotonic() >= self._next_end_check_s:
            self._ends_below_verified()
        return messages

    def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            consumer.close()
        self.status.set_state("stopped")

    def positions(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the offset after the last message read from it (partitions read from so far)."""
        return dict(self._positions)

    # -- connecting ----------------------------------------------------------------------

    def _connect(self) -> None:
        from confluent_kafka import Consumer, KafkaException

        try:
            if self._consumer is None:
                self._consumer = Consumer(
                    consumer_config(self.settings, on_error=self._on_error, on_stats=self._on_stats)
                )
            partitions, missing = self._partitions()
        except KafkaException as error:
            self._retry_later("reconnecting", _error_text(error.args[0] if error.args else error))
            if not self._assigned and self._consumer is not None:
                consumer, self._consumer = self._consumer, None  # start afresh: bootstrap again
                consumer.close()
            return
        self._missing_topics = missing
        new = [key for key in partitions if key not in self._assigned]
        if new:
            self._assign(new, fresh=not self._assigned)
        if missing:
            self._retry_later("waiting for topic", f"no topic {', '.join(missing)} on the broker yet")
            return
        self._retry_s = _RETRY_FIRST_S
        self.status.retry_in_s = None
        self.status.set_state("connected")
        self._next_partition_check_s = time.monotonic() + _PARTITION_CHECK_S

    def _retry_later(self, state: str, error: str) -> None:
        self._attempts_failed += 1
        self.status.set_state(state if not self._assigned or state != "waiting for topic" else "connected", error=error)
        self._next_try_s = time.monotonic() + self._retry_s
        self.status.retry_in_s = self._retry_s
        self._retry_s = min(self._retry_s * 2, _RETRY_MAX_S)

    def _partitions(self) -> tuple[list[tuple[str, int]], tuple[str, ...]]:
        """(topic, partition) of every wanted topic that exists, and the topics that do not (yet)."""
        found, missing = [], []
        for topic in self.settings.topics:
            metadata = self._consumer.list_topics(topic, timeout=_METADATA_TIMEOUT_S)
            entry = metadata.topics.get(topic)
            if entry is None or entry.error is not None or not entry.partitions:
                missing.append(topic)
                continue
            found += [(topic, partition) for partition in sorted(entry.partitions)]
        return found, tuple(missing)

    def _assign(self, keys: list[tuple[str, int]], *, fresh: bool) -> None:
        """Start reading `keys`: from the start offsets on the first assignment, from the beginning of later ones."""
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

        start = self.settings.start.strip().lower()
        if not fresh:
            wanted = [TopicPartition(t, p, OFFSET_BEGINNING) for t, p in keys]  # partitions added while reading
        elif start == "earliest":
            wanted = [TopicPartition(t, p, OFFSET_BEGINNING) for t, p in keys]
        elif start == "latest" and not self._attempts_failed:
            wanted = [TopicPartition(t, p, OFFSET_END) for t, p in keys]
        else:
            # a time, or 'latest' once a first attempt failed (no broker, no topic yet): what came since we started
            since_ms = self._start_ms if self._start_ms is not None else self._began_ms
            asked = [TopicPartition(t, p, since_ms) for t, p in keys]
            found = self._consumer.offsets_for_times(asked, timeout=_METADATA_TIMEOUT_S)
            wanted = [
                TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in found
            ]
            self._catching_up.update(keys)  # offsets_for_times may land early (batch granularity): skip older ones
        self._consumer.incremental_assign(wanted)
        self._assigned.update(keys)
        self.status.partitions = len(self._assigned)

    def _add_new_partitions(self) -> None:
        from confluent_kafka import KafkaException

        self._next_partition_check_s = time.monotonic() + _PARTITION_CHECK_S
        try:
            partitions, _ = self._partitions()
        except KafkaException:
            return  # the error callback tells the status
        new = [key for key in partitions if key not in self._assigned]
        if new:
            self._assign(new, fresh=False)

    # -- consuming -----------------------------------------------------------------------

    def _consume(self, max_messages: int, max_bytes: int, timeout_s: float) -> list:
        consumer = self._consumer
        batch: list = []
        size = 0
        wait = timeout_s
        while len(batch) < max_messages and size < max_bytes:
            # consume() waits for all it is asked for: wait for one message, then take what is already fetched
            got = consumer.consume(1 if wait else min(max_messages - len(batch), 10_000), wait)
            if not got:
                break
            wait = 0
            for message in got:
                if message.error() is not None:
                    self._on_message_error(message.error())
                    continue
                value = message.value()
                size += len(value) if value is not None else 0
                batch.append(message)
        if batch:
            batch = self._note_messages(batch, size)
        return batch

    def _note_messages(self, batch: list, size: int) -> list:
        status = self.status
        positions = self._positions
        if self._verifying:
            batch = self._check_reset(batch)
        if self._catching_up:
            batch = self._skip_before_start(batch)
        last_read = self._last_read
        for message in batch:
            key, offset = (message.topic(), message.partition()), message.offset()
            positions[key] = offset + 1
            last_read[key] = (offset, message.timestamp()[1])
        if not batch:
            return batch
        status.messages += len(batch)
        status.bytes += size
        newest = max(m.timestamp()[1] for m in batch)
        self._newest_ms = max(self._newest_ms, newest)
        if status.state != "connected":
            status.set_state("connected")
            status.retry_in_s = None
        return batch

    def _skip_before_start(self, batch: list) -> list:
        kept = []
        catching_up, start_ms = self._catching_up, self._start_ms if self._start_ms is not None else self._began_ms
        for message in batch:
            key = (message.topic(), message.partition())
            if key in catching_up:
                kind, stamp_ms = message.timestamp()
                if kind != 0 and stamp_ms < start_ms:  # 0: no timestamp; then it is read
                    self._positions[key] = message.offset() + 1
                    continue
                catching_up.discard(key)
            kept.append(message)
        return kept

    def _update_rates(self, now: float) -> None:
        status, samples = self.status, self._rate_samples
        samples.append((now, status.messages, status.bytes))
        while len(samples) > 2 and now - samples[0][0] > _RATE_WINDOW_S:
            samples.popleft()
        first_t, first_messages, first_bytes = samples[0]
        if now - first_t >= 0.2:
            status.messages_per_s = (status.messages - first_messages) / (now - first_t)
            status.bytes_per_s = (status.bytes - first_bytes) / (now - first_t)
        if self._newest_ms:
            status.newest_message_age_s = max(0.0, time.time() - self._newest_ms / 1000)
        if self._ends:
            positions, fetching = self._positions, self._fetching
            status.lag_messages = sum(
                max(0, end - positions.get(key, fetching.get(key, end)))
                for key, end in self._ends.items()
                if key in self._assigned
            )

    def _verify_after_outage(self) -> None:
        """After an outage (or an unknown topic): read each partition again from the last message read. If
        that message is still there, reading goes on; if not, the partition was reset (a broker that lost its
        data, a topic deleted and created again) and is read again from its new beginning — see
        `_check_reset`. Kafka answers a position past a new end with OFFSET_OUT_OF_RANGE (read again from the
        beginning, `auto.offset.reset`); a new partition that grew past the old position is found only so."""
        from confluent_kafka import KafkaException, TopicPartition

        for key, (offset, stamp_ms) in self._last_read.items():
            if key in self._verifying:
                continue
            try:
                self._consumer.seek(TopicPartition(key[0], key[1], offset))
            except KafkaException:
                return  # not fetching yet (still down): tried again at the next poll
            self._verifying[key] = (offset, stamp_ms, self._ends.get(key, offset + 1))
        self._check_positions = False

    def _check_reset(self, batch: list) -> list:
        """Messages of partitions being verified: the last message read before the outage is dropped when it
        comes again (the partition is the same); anything else means a reset: the partition is read again
        from its beginning and the reset counted, with the messages it may have lost."""

        kept, reset = [], set()
        for message in batch:
            key = (message.topic(), message.partition())
            if key in reset:
                continue
            expected = self._verifying.get(key)
            if expected is None:
                kept.append(message)
                continue
            del self._verifying[key]
            if (message.offset(), message.timestamp()[1]) == expected[:2]:
                continue  # the same message: read before the outage
            reset.add(key)
            self._reset_partition(key, expected)
        return kept

    def _ends_below_verified(self) -> None:
        """Partitions being verified whose end is now at or before the message they must start with: reset
        (brokers that answer such a position with nothing instead of OFFSET_OUT_OF_RANGE)."""
        from confluent_kafka import KafkaException, TopicPartition

        self._next_end_check_s = time.monotonic() + 1.0
        for key, expected in list(self._verifying.items()):
            try:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(*key), timeout=1.0, cached=False)
            except KafkaException:
                return
            if 0 <= high <= expected[0]:
                del self._verifying[key]
                self._reset_partition(key, expected)

    def _reset_partition(self, key: tuple[str, int], expected: tuple[int, int, int]) -> None:
        from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

        old_position = self._positions.get(key, expected[0] + 1)
        missed = max(0, expected[2] - old_position)
        self.problems.add(
            "kafka: partition was reset (broker lost its data, or topic created again): read again from its "
            "new beginning",
            f"{key[0]}[{key[1]}]@{old_position}",
        )
        self.problems.add(
            "kafka: messages possibly lost in a partition reset (published before it, not read)",
            f"{key[0]}[{key[1]}]@{old_position}",
            count=missed,
        )
        self._positions[key] = 0
        self._last_read.pop(key, None)
        try:
            self._consumer.seek(TopicPartition(key[0], key[1], OFFSET_BEGINNING))
        except KafkaException:
            self._check_positions = True

    # -- callbacks (run inside consume()) ------------------------------------------------

    def _on_error(self, error) -> None:
        from confluent_kafka import KafkaError

        code = error.code()
        if code == KafkaError._ALL_BROKERS_DOWN:
            self._check_positions = True
            self.status.set_state("reconnecting", error=_error_text(error))
        elif code in (KafkaError._AUTHENTICATION, KafkaError._SSL, KafkaError.SASL_AUTHENTICATION_FAILED):
            self.status.set_state("reconnecting", error=_error_text(error))
        elif self.status.state != "connected":
            self.status.last_error = _error_text(error)

    def _on_stats(self, text: str) -> None:
        stats = orjson.loads(text)
        up = any(b.get("state") == "UP" for b in stats.get("brokers", {}).values() if b.get("nodeid", -1) >= 0)
        self._down_reports = 0 if up else self._down_reports + 1
        if up and self._assigned and not self._missing_topics and self.status.state != "connected":
            self.status.set_state("connected")
            self.status.retry_in_s = None
        elif self._down_reports >= 2 and self._assigned and self.status.state == "connected":
            self._check_positions = True  # no broker for two reports in a row (a reconnect is no outage)
            self.status.set_state("reconnecting")
        for topic, entry in stats.get("topics", {}).items():
            for name, partition in entry.get("partitions", {}).items():
                end, fetching = partition.get("hi_offset", -1), partition.get("next_offset", -1)
                if name != "-1" and end >= 0:
                    self._ends[(topic, int(name))] = end
                if name != "-1" and fetching >= 0:
                    self._fetching[(topic, int(name))] = fetching  # for partitions nothing was read from yet

    def _on_message_error(self, error) -> None:
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.code() in (KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET):
            self.problems.add(
                "kafka: position out of range (partition reset or data expired): read again from its beginning",
                _error_text(error)[:120],
            )
        self.status.last_error = _error_text(error)
        if error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION):
            self._check_positions = True


def _error_text(error: object) -> str:
    text = error.str() if hasattr(error, "str") else str(error)
    return text.split(": ", 1)[-1] if "Connect to" in text else text


def message_where(message) -> str:
    """Where a message is, for problem reports: `topic[partition]@offset`."""
    return f"{message.topic()}[{message.partition()}]@{message.offset()}"


# -- decoding --------------------------------------------------------------------------------


_PROTOBUF = -1  # `_add_one`'s answer for a protobuf value: decoded with the others of the batch


class MessageDecoder:
    """Kafka message values -> span rows: the format is detected per message (or forced); protobuf
    values are decoded together in one vectorised call; JSON values by the capture decoders.

    The Collector's kafka exporter writes one `TracesData` per message (`otlp_proto`, no length
    prefix) or its JSON (`otlp_json`); `zipkin_json` is an array of v2 spans; `jaeger_json` is one
    span as protobuf-JSON (what the Collector and Jaeger's Kafka writer produce) or a Jaeger UI trace.
    """

    def __init__(
        self,
        format_name: str = "auto",
        *,
        problems: Problems,
        event_producer: str | None = None,
        label: str = "",
        dead_letters: tuple[str, ...] = (),
        schemas: Any = None,
        event_fields: tuple[str, ...] = (),
    ) -> None:
        if format_name not in KAFKA_FORMATS:
            raise KafkaConfigError(f"unknown format {format_name!r} (one of {', '.join(KAFKA_FORMATS)})")
        self.format_name = format_name
        self.problems = problems
        self.formats: dict[str, int] = {}  # messages read per format
        self._otlp_json = json_format("otlp_json")
        self._last_json: JsonFormat | None = None  # the format of the last JSON message: tried first (fast OTLP path)
        # business events (`events`, or detected in auto mode): `take_events()` hands them out
        self.events = EventDecoder(
            problems=problems, producer_rule=_producer_rule(event_producer), label=label, fields=_fields(event_fields)
        )
        # messages of dead-letter/retry topics: failed calls on the flow they left (`take_dead_letters()`)
        self.dead_letters = DeadLetterDeriver(DeadLetterRules.parse(dead_letters))
        # events in the Confluent wire format: schemas by id from a folder or a registry (`wire_format`)
        self.schemas = schemas
        self.topic_schemas: dict[str, dict[str, Any]] = {}  # topic -> the schema of its latest record
        self._schema_changes: list[LagMark] = []

    def take_schema_changes(self) -> list[LagMark]:
        """Marks for the timeline: a topic whose records came with a new schema id since the last call."""
        changes, self._schema_changes = self._schema_changes, []
        return changes

    def _add_wire(self, schema_id: int, payload: memoryview, meta: MessageMeta) -> bool:
        """One value in the Confluent wire format: its schema by id, the record decoded, read as an event."""
        where = self.events.location(meta)
        if self.schemas is None:
            self.problems.add(UNKNOWN_SCHEMA, f"{where} (schema id {schema_id}: no --schema-registry or --schemas)")
            return False
        try:
            schema = self.schemas.get(schema_id)
        except SchemaError as error:
            self.problems.add(UNKNOWN_SCHEMA, f"{where} ({error})")
            return False
        try:
            record = schema.decode(payload)
        except Exception as error:  # fastavro and protobuf raise many kinds on bad bytes: counted, never fatal
            self.problems.add(BAD_RECORD, f"{where} (schema id {schema_id}: {type(error).__name__}: {error})")
            return False
        before = self.topic_schemas.get(meta.topic)
        if before is None or before["id"] != schema_id:
            now = {"id": schema_id, "kind": schema.kind, "subject": schema.subject, "version": schema.version}
            self.topic_schemas[meta.topic] = now
            if before is not None:
                version = f" v{schema.version}" if schema.version is not None else ""
                text = f"schema {before['id']} → {schema_id} ({schema.subject}{version})"
                stamp = meta.kafka_time_ns
                self._schema_changes.append(LagMark(stamp if stamp != UNKNOWN_NS else time.time_ns(), meta.topic, text))
        return self.events.add_record(record, schema.name, header_map(meta.headers), meta)

    def take_dead_letters(self) -> EdgeObservations:
        """The failed calls of the dead-letter/retry messages decoded since the last call."""
        return self.dead_letters.take()

    def take_events(self) -> EventBatch:
        """The events decoded since the last call (spans go to the builder, events collect here)."""
        return self.events.take()

    def add(
        self,
        values: Sequence[bytes | None],
        wheres: Sequence[str],
        builder: SpanBatchBuilder,
        *,
        metas: Sequence[MessageMeta] | None = None,
    ) -> int:
        """Append the spans of every value to `builder`; returns the span count. Bad values are counted.

        With `metas` (topic, offsets, timestamp, headers of each message) events are recognised too
        and collect in `events`; without them only spans can be read.
        """
        protobuf: list[bytes] = []
        protobuf_wheres: list[str] = []
        added = 0
        with gc_paused():
            for index, (value, where) in enumerate(zip(values, wheres, strict=True)):
                meta = metas[index] if metas is not None else None
                spans = guarded(self.problems, builder, where, "kafka", self._add_one, value, where, builder, meta)
                if spans == _PROTOBUF:
                    protobuf.append(value)  # decoded together below
                    protobuf_wheres.append(where)
                else:
                    added += spans or 0
            if protobuf:
                added += guarded_group(
                    self.problems, builder, "otlp-proto", self._add_protobuf, protobuf, protobuf_wheres
                )
                self.formats[OTLP_PROTO] = self.formats.get(OTLP_PROTO, 0) + len(protobuf)
        return added

    def _add_one(self, value: bytes | None, where: str, builder: SpanBatchBuilder, meta: MessageMeta | None) -> int:
        """One message: its spans or event added, or `_PROTOBUF` for a protobuf value (decoded with the others)."""
        forced = self.format_name
        if meta is not None and self.dead_letters.is_dead_letter(meta.topic):
            # a copy of a message a consumer gave up on: a failure on its flow, not a new event
            stamp = meta.kafka_time_ns
            self.dead_letters.add(
                meta.topic, stamp if stamp != UNKNOWN_NS else time.time_ns(), header_map(meta.headers)
            )
            self._count("dead letters")
            return 0
        if forced in ("auto", "events") and meta is not None and meta.headers:
            headers = header_map(meta.headers)
            if is_cloudevents_binary(headers):
                if self.events.add_binary(value, headers, meta):
                    self._count("events")
                return 0
            if forced == "auto" and value and is_cloudevents_structured_header(headers):
                if self.events.add_value(value, headers, meta):
                    self._count("events")
                return 0
        if not value:
            self.problems.add("kafka: message without a value (skipped)", where)
            return 0
        # magic byte 0 (never OTLP protobuf's first byte, a field tag): read as the Confluent wire format
        # when schemas are given (or every message is an event), else left to the trace decoders
        wired = forced == "events" or (forced == "auto" and self.schemas is not None)
        wire = split_wire(value) if wired and meta is not None else None
        if wire is not None:
            if self._add_wire(*wire, meta):
                self._count("events")
            return 0
        if forced == "events":
            if meta is None:
                self.problems.add("kafka: event without its message (topic, offset) skipped", where)
            elif self.events.add_value(value, header_map(meta.headers), meta):
                self._count("events")
            return 0
        if forced == OTLP_PROTO or (forced == "auto" and not _looks_like_json(value)):
            return _PROTOBUF
        return self._add_json(value, where, builder, meta)

    def _add_protobuf(self, values: list[bytes], wheres: list[str], builder: SpanBatchBuilder) -> int:
        return decode_otlp_proto(values, builder, self.problems, wheres)

    def decode(self, messages: Sequence) -> SpanBatch:
        """One span batch from confluent_kafka Messages (or anything with value(), topic(), partition(), offset())."""
        builder = SpanBatchBuilder(self.problems)
        metas = [message_meta(m) for m in messages]
        self.add([m.value() for m in messages], [meta.where for meta in metas], builder, metas=metas)
        with gc_paused():  # building creates no reference cycles
            return builder.build()

    def _add_json(self, value: bytes, where: str, builder: SpanBatchBuilder, meta: MessageMeta | None) -> int:
        forced = self.format_name
        if forced == "otlp_json" or (forced == "auto" and self._last_json is self._otlp_json):
            added = try_add_otlp_json_bytes(value, builder, where)  # any JSON object passes: 0 spans is no proof
            if added:
                self._count("otlp_json")
                return added
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            self.problems.add("kafka: message is not valid JSON", f"{where} ({str(error).split(':')[0]})")
            return 0
        if forced in ("auto", "jaeger_json"):
            trace = jaeger_model_trace(document)
            if trace is not None:
                document = trace
        chosen = self._choose(document)
        if chosen is None:
            if meta is not None and looks_like_event(document):  # no trace: a business event?
                if self.events.add_document(document, header_map(meta.headers), meta):
                    self._count("events")
            else:
                self.problems.add("kafka: JSON message in no trace or event format", where)
            return 0
        self._count(chosen.name)
        return chosen.add(document, builder, self.problems, where)

    def _choose(self, document: object) -> JsonFormat | None:
        if self.format_name != "auto":
            return json_format(self.format_name)
        if self._last_json is not None and self._last_json.looks_like(document):
            return self._last_json
        chosen = detect_json_format(document, spans_only=True)
        if chosen is not None:
            self._last_json = chosen
        return chosen

    def _count(self, name: str) -> None:
        self.formats[name] = self.formats.get(name, 0) + 1


def _looks_like_json(value: bytes) -> bool:
    first = value[:1]
    if first in (b"{", b"["):
        return True
    if first in (b" ", b"\t", b"\r", b"\n", b"\xef"):
        head = value[:64].lstrip(b" \t\r\n\xef\xbb\xbf")
        return head[:1] in (b"{", b"[")
    return False


# -- Jaeger protobuf-JSON spans (the Collector's and Jaeger's Kafka `json` encoding) -----------------

_TAG_MEMBERS = ("vStr", "vBool", "vInt64", "vFloat64", "vBinary")


def jaeger_model_trace(document: object) -> dict | None:
    """A Jaeger `model.Span` in protobuf-JSON (base64 ids, RFC 3339 start, "1.5s" duration) as the bare
    Jaeger trace `flowviz.decoders.jaeger_json` reads; None when `document` is not such a span."""
    if not isinstance(document, dict) or "traceId" not in document or "spanId" not in document:
        return None
    if "operationName" not in document and "process" not in document:
        return None
    trace_id = _id_hex(document.get("traceId"))
    span = {
        "traceID": trace_id,
        "spanID": _id_hex(document.get("spanId")),
        "operationName": document.get("operationName", ""),
        "references": [
            {
                "refType": r.get("refType", "CHILD_OF"),
                "traceID": _id_hex(r.get("traceId")),
                "spanID": _id_hex(r.get("spanId")),
            }
            for r in document.get("references") or ()
            if isinstance(r, dict)
        ],
        "startTime": _rfc3339_micros(document.get("startTime")),
        "duration": _duration_micros(document.get("duration")),
        "tags": [_plain_tag(tag) for tag in document.get("tags") or () if isinstance(tag, dict)],
        "process": document.get("process") if isinstance(document.get("process"), dict) else {},
    }
    return {"traceID": trace_id, "spans": [span]}


def _id_hex(value: object) -> object:
    """base64 (protobuf-JSON bytes) -> hex; hex ids and anything malformed are left for the decoder to judge."""
    if not isinstance(value, str) or not value:
        return value
    if len(value) in (16, 32) and all(c in "0123456789abcdefABCDEF" for c in value):
        return value
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return value


def _rfc3339_micros(value: object) -> object:
    """Jaeger's model JSON has RFC 3339 start times; the API shape wants microseconds (anything else: as is)."""
    if not isinstance(value, str):
        return value
    time_ns = rfc3339_ns(value)
    return value if time_ns is None else time_ns / 1000


def _duration_micros(value: object) -> object:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1]) * 1e6
        except ValueError:
            return value
    return 0 if value is None else value


def _plain_tag(tag: dict) -> dict:
    value: object = None
    for member in _TAG_MEMBERS:
        if member in tag:
            value = tag[member]
            break
    else:
        value = "" if tag.get("vType", "STRING") == "STRING" else None
    if tag.get("vType") == "INT64" and isinstance(value, str):
        value = int(value) if value.lstrip("-").isdigit() else value
    return {"key": tag.get("key"), "value": value}


# -- the worker-process side of a live feed ------------------------------------------------------

STATUS_EVERY_S = 0.5
WORKER_BATCH_BYTES = 16 << 20  # catching up, the window gets a batch about every few tenths of a second


def run_kafka_worker(settings: KafkaSettings, connection, *, details: DrillDownStore | None = None) -> None:
    """Read, decode and derive in this (worker) process until the parent says stop on `connection`.

    Sends `("data", observations, spans, problems)` per batch, like the other workers, `("lag", LagFrame)`
    per look at the consumer groups of event topics, and `("source", status)` (a `KafkaStatus.as_dict()`
    with a `recording` entry) about twice a second.
    The parent may send `("record", path)` to append every message read from then on to a recording
    (the format `flowviz record` writes) and `("record", None)` to close it; anything else stops the worker.
    """
    from flowviz.derive.deriver import EdgeDeriver
    from flowviz.sources.kafka_events import LiveEvents
    from flowviz.sources.live_recording import LiveRecorder

    problems = Problems()
    reader = KafkaReader(settings, problems=problems)
    decoder = MessageDecoder(
        settings.format_name,
        problems=problems,
        event_producer=settings.event_producer,
        dead_letters=settings.dead_letters,
        schemas=settings_schemas(settings),
        event_fields=settings.event_fields,
    )
    deriver = EdgeDeriver(problems=problems)
    events = LiveEvents(settings, problems=problems)  # business events: producer → topic → consumer groups
    recorder = LiveRecorder(  # the header `flowviz record` writes
        {
            "bootstrap": settings.bootstrap,
            "topics": list(settings.topics),
            "format_name": settings.format_name,
            "start": settings.start,
            "event_producer": settings.event_producer,
            "dead_letters": list(settings.dead_letters),
            "schema_registry": settings.schema_registry,
            "schemas": settings.schemas,
            "event_fields": list(settings.event_fields),
        }
    )
    raw = RawRing()  # the latest message values, searched again for a trace the window opens
    if details is not None:
        details.raw_spans = raw.span_details
    spans = 0
    next_status_s = 0.0
    try:
        while True:
            if connection.poll():
                command = connection.recv()
                if not (isinstance(command, tuple) and len(command) == 2 and command[0] == "record"):
                    break  # "stop" (or anything else)
                recorder.switch(command[1])
                next_status_s = 0.0  # tell the window at once
            messages = reader.poll(max_bytes=WORKER_BATCH_BYTES, timeout_s=0.1)
            if messages:
                recorder.append(messages)
                if details is not None:
                    raw.add([message.value() for message in messages])

                def derive(messages: list = messages) -> tuple[int, EdgeObservations]:
                    batch = decoder.decode(messages)  # each message guarded: a bad one costs only itself
                    with gc_paused():
                        observations = deriver.process(batch)
                        if details is not None:
                            details.take(batch, observations)
                    event_batch = decoder.take_events()
                    event_calls = events.process(event_batch)
                    if details is not None:  # payload sizes on producer → topic, for the edge panel
                        details.edges.add_payloads(event_calls, event_batch.value_bytes)
                    calls = EdgeObservations.concat([observations, event_calls, decoder.take_dead_letters()])
                    return len(batch), calls

                # what still fails costs this batch, never the feed
                where = f"{message_where(messages[0])} … {message_where(messages[-1])}"
                derived = guarded(problems, None, where, "kafka batch", derive)
                if derived is not None:
                    spans += derived[0]
                    connection.send(("data", derived[1], spans, problems.as_dict()))
            consumed = events.poll_groups(read_to=reader.positions)  # topic → consumer group, from commits
            if len(consumed):
                connection.send(("data", consumed, spans, problems.as_dict()))
            recorder.append_looks(events.take_looks())  # a recording shows the groups and their lag too
            for frame in events.take_frames():  # lag in time, trend and states, kept by time in the store
                connection.send(("lag", frame))
            now = time.monotonic()
            if now >= next_status_s:
                next_status_s = now + STATUS_EVERY_S
                status = _status_for_parent(reader, decoder, problems)
                if events.events:
                    status["events"] = events.status()
                if decoder.dead_letters.figures:
                    status["dead_letters"] = decoder.dead_letters.status()
                if decoder.topic_schemas:
                    status["schemas"] = dict(decoder.topic_schemas)
                changes = decoder.take_schema_changes()
                if changes:  # a topic's records came with a new schema: marks on the timeline
                    connection.send(("marks", changes))
                connection.send(("source", {**status, "recording": recorder.status()}))
    finally:
        events.close()
        recorder.stop()
        reader.close()


def _status_for_parent(reader: KafkaReader, decoder: MessageDecoder, problems: Problems) -> dict[str, Any]:
    status = reader.status
    status.decode_problems = problems.total
    status.problem_samples = [
        f"{reason} at {', '.join(entry['first'])}" if entry["first"] else reason
        for reason, entry in list(problems.as_dict().items())[:5]
    ]
    status.formats = dict(decoder.formats)
    return status.as_dict()
