"""Live Kafka topics as a `Source` (what a window's worker process runs): read and decode; events, consumer groups and
dead letters turned into calls here; status for the window; recording what is read when asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flowviz.decoders.guard import guarded
from flowviz.decoders.messages import MessageDecoder
from flowviz.derive.dead_letters import DeadLetterDeriver
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.model.timeline_marks import TimelineMarks
from flowviz.sources.kafka_events import LiveEvents
from flowviz.sources.kafka_reader import KafkaReader, message_where
from flowviz.sources.kafka_settings import KafkaSettings, recording_header, settings_schemas
from flowviz.sources.live_recording import LiveRecorder
from flowviz.sources.raw_inputs import RawRing
from flowviz.sources.source import LIVE_EXEMPLAR_TIME_SHARE, EventCalls, Idle, SourceItem
from flowviz.store.drill_down import DrillDownStore

WORKER_BATCH_BYTES = 16 << 20  # catching up, the window gets a batch about every few tenths of a second


class KafkaSource:
    """Reads `settings`' topics until closed; yields span batches, the calls of events (producer → topic, and
    topic → group from the groups' commits), their lag frames, dead-letter calls and schema marks.

    `status()` is a `KafkaStatus.as_dict()` with `events`, `dead_letters`, `schemas` and `recording` entries;
    `record(path)` appends every message read from then on to a recording (the format `flowviz record`
    writes), `record(None)` closes it.
    """

    def __init__(self, settings: KafkaSettings, *, problems: Problems) -> None:
        self.settings = settings
        self.problems = problems
        self.reader = KafkaReader(settings, problems=problems)
        self.decoder = MessageDecoder(
            settings.format_name,
            problems=problems,
            event_producer=settings.event_producer,
            dead_letters=settings.dead_letters,
            schemas=settings_schemas(settings),
            event_fields=settings.event_fields,
        )
        self.dead_letters = DeadLetterDeriver(self.decoder.dead_letter_rules)  # failed calls on flows left
        self.events = LiveEvents(settings, problems=problems)  # business events: producer → topic → consumer groups
        self.recorder = LiveRecorder(recording_header(settings))  # the header `flowviz record` writes
        self.raw = RawRing()  # the latest message values, searched again for a trace the window opens

    def batches(self) -> Iterator[SourceItem]:
        decoder = self.decoder
        try:
            yield Idle()  # the window's first commands (a recording asked for at once) apply from the first message
            while True:
                messages = self.reader.poll(max_bytes=WORKER_BATCH_BYTES, timeout_s=0.1)
                if messages:
                    self.recorder.append(messages)
                    self.raw.add([message.value() for message in messages])
                    # each message is guarded in the decoder; what still fails costs this batch, never the feed
                    where = f"{message_where(messages[0])} … {message_where(messages[-1])}"
                    decoded = guarded(self.problems, None, where, "kafka batch", self._decode, messages)
                    yield from decoded or ()
                else:
                    yield Idle()
                yield self.events.poll_groups(read_to=self.reader.positions)  # topic → consumer group, from commits
                self.recorder.append_looks(self.events.take_looks())  # a recording shows the groups and their lag too
                yield from self.events.take_frames()  # lag in time, trend and states, kept by time in the store
                changes = decoder.take_schema_changes()
                if changes:  # a topic's records came with a new schema: marks on the timeline
                    yield TimelineMarks(tuple(changes))
        finally:
            self.events.close()
            self.recorder.stop()
            self.reader.close()

    def _decode(self, messages: list) -> tuple[SpanBatch, EventCalls, EdgeObservations]:
        """The spans of `messages`, the calls of their events and of their dead letters."""
        batch = self.decoder.decode(messages)
        events = self.decoder.take_events()
        event_calls = EventCalls(self.events.process(events), events.value_bytes)
        return batch, event_calls, self.dead_letters.derive(self.decoder.take_dead_letters())

    def record(self, path: str | None) -> None:
        self.recorder.switch(path)

    def status(self) -> dict[str, Any]:
        status = self.reader.status
        status.decode_problems = self.problems.total
        status.problem_samples = [
            f"{reason} at {', '.join(entry['first'])}" if entry["first"] else reason
            for reason, entry in list(self.problems.as_dict().items())[:5]
        ]
        status.formats = dict(self.decoder.formats)
        figures = status.as_dict()
        if self.events.events:
            figures["events"] = self.events.status()
        if self.dead_letters.figures:
            figures["dead_letters"] = self.dead_letters.status()
        if self.decoder.topic_schemas:
            figures["schemas"] = dict(self.decoder.topic_schemas)
        return {**figures, "recording": self.recorder.status()}

    def problem_counts(self) -> dict[str, dict[str, object]]:
        return self.problems.as_dict()

    def drill_down(self) -> DrillDownStore:
        details = DrillDownStore(max_time_share=LIVE_EXEMPLAR_TIME_SHARE)
        details.raw_spans = self.raw.span_details
        return details
