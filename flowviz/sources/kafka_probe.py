"""Testing a Kafka connection before reading: which topics the broker has, within a short timeout."""

from __future__ import annotations

from dataclasses import dataclass, field

from flowviz.sources.kafka_settings import KafkaConfigError, KafkaSettings, client_config

PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a broker answered: its topics (name -> partitions), or why it could not be asked."""

    ok: bool
    topics: dict[str, int] = field(default_factory=dict)
    error: str = ""

    def describe(self, wanted: tuple[str, ...]) -> str:
        """One or two lines for a person: connected or not, and whether the wanted topics are there."""
        if not self.ok:
            return f"Could not connect: {self.error}"
        visible = sorted(name for name in self.topics if not name.startswith("__"))
        found = [
            f"{t} ({self.topics[t]} partition{'s' if self.topics[t] != 1 else ''})" for t in wanted if t in self.topics
        ]
        missing = [t for t in wanted if t not in self.topics]
        lines = [f"Connected: {len(visible)} topic{'s' if len(visible) != 1 else ''} on the broker."]
        if found:
            lines.append("Found " + ", ".join(found) + ".")
        if missing:
            others = ", ".join(visible[:8]) + (", …" if len(visible) > 8 else "")
            lines.append(
                f"Not there yet: {', '.join(missing)} (flowviz waits for it)"
                + (f". Topics: {others}" if others else "")
            )
        return "\n".join(lines)


def probe_topics(settings: KafkaSettings, *, timeout_s: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Ask the broker for its topics (metadata only: no group, no reading); never raises."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    reported: list[str] = []  # librdkafka's own errors say more than "transport failure"
    admin = None
    try:
        config = client_config(settings)
        config["error_cb"] = lambda error: reported.append(_text(error))
        admin = AdminClient(config)
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaConfigError as error:
        return ProbeResult(False, error=str(error))
    except KafkaException as error:
        if admin is not None:
            admin.poll(0)  # serves the error callbacks queued meanwhile
        text = reported[-1] if reported else _text(error.args[0] if error.args else error)
        return ProbeResult(False, error=_plain(text))
    except (ValueError, TypeError) as error:  # librdkafka rejects a property of the file
        return ProbeResult(False, error=str(error))
    topics = {name: len(entry.partitions) for name, entry in metadata.topics.items() if entry.error is None}
    return ProbeResult(True, topics=topics)


def _text(error: object) -> str:
    """librdkafka's message without its `host/bootstrap: ` prefix and `(after 0ms in state …)` suffix."""
    text = error.str() if hasattr(error, "str") else str(error)
    if "/bootstrap: " in text:
        text = text.split("/bootstrap: ", 1)[1]
    return text.split(" (after ", 1)[0]


def _plain(text: str) -> str:
    if "Timed out" in text:
        return "no answer from the broker in time (is the address right, is it reachable?)"
    return text
