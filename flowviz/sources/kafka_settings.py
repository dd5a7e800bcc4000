"""Kafka settings: broker, topics, format, start, properties file and schema sources; librdkafka configs from them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowviz.decoders.formats import KAFKA_FORMATS
from flowviz.decoders.messages import DecoderSettingsError, parse_event_fields, parse_producer_rule
from flowviz.decoders.wire_format import SchemaError, schema_source
from flowviz.model.time_spec import TimeSpecError, parse_duration_s, parse_time_ns

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
_CONSUMER_FORCED = {"enable.auto.commit": False, "enable.auto.offset.store": False}
_LOGGER = logging.getLogger("flowviz.kafka")
_LOGGER.addHandler(logging.NullHandler())
_LOGGER.propagate = False  # librdkafka's own log lines (every reconnect attempt) stay out of the terminal


class KafkaConfigError(DecoderSettingsError):
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
    workers: int = 1  # processes decoding the messages (a poll's partitions side by side); 1: the reading one


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
    try:
        parse_producer_rule(settings.event_producer)
        parse_event_fields(settings.event_fields)
    except DecoderSettingsError as error:
        raise KafkaConfigError(str(error)) from error
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


def recording_header(settings: KafkaSettings) -> dict[str, Any]:
    """What a recording's header keeps of the settings (`flowviz record` and the live window's recording):
    enough for `open` to decode its messages as they were read live. Secrets stay out (only files are named)."""
    return {
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
