"""Live Kafka topics as a `Source` (what a window's worker process runs): read and decode; events, consumer groups and
dead letters turned into calls here; status for the window; recording what is read when asked."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

from flowviz.decoders.guard import guarded
from flowviz.derive.dead_letters import DeadLetterDeriver
from flowviz.model.event_batch import EventBatch
from flowviz.model.problems import Problems
from flowviz.model.timeline_marks import TimelineMarks
from flowviz.sources.kafka_decoders import Decoded, KafkaDecoders, new_decoder
from flowviz.sources.kafka_events import LiveEvents
from flowviz.sources.kafka_reader import KafkaReader
from flowviz.sources.kafka_settings import KafkaSettings, recording_header
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
        self.decoder = new_decoder(settings, problems)
        self.reader = KafkaReader(settings, problems=problems)
        self.dead_letters = DeadLetterDeriver(self.decoder.dead_letter_rules)  # failed calls on flows left
        self.events = LiveEvents(settings, problems=problems)  # business events: producer → topic → consumer groups
        self.recorder = LiveRecorder(recording_header(settings))  # the header `flowviz record` writes
        self.raw = RawRing()  # the latest message values, searched again for a trace the window opens

    def batches(self) -> Iterator[SourceItem]:
        decoder = self.decoder
        if self.settings.workers > 1:
            # multiprocessing refuses children to a daemonic process; the decode workers end with this one
            # (`parallel_capture.start_decode_worker`), so it may have them
            multiprocessing.current_process().daemon = False
        # decoded here or by `settings.workers` processes (started before the Kafka client starts its threads)
        decoders = KafkaDecoders(self.settings, decoder, self.settings.workers)
        try:
            yield Idle()  # the window's first commands (a recording asked for at once) apply from the first message
            while True:
                messages = self.reader.poll(max_bytes=WORKER_BATCH_BYTES, timeout_s=0.1)
                if messages:
                    self.recorder.append(messages)
                    self.raw.add([message.value() for message in messages])
                    decoders.submit(messages)  # decoded here, or by the decode workers while the next is read
                # in read order; each message is guarded in the decoder, what still fails costs its chunk
                for decoded in decoders.take(block=not messages and decoders.pending > 0):
                    yield from self._items(decoded)
                if not messages:
                    yield Idle()
                yield self.events.poll_groups(read_to=self.reader.positions)  # topic → consumer group, from commits
                self.recorder.append_looks(self.events.take_looks())  # a recording shows the groups and their lag too
                yield from self.events.take_frames()  # lag in time, trend and states, kept by time in the store
                changes = decoder.take_schema_changes()
                if changes:  # a topic's records came with a new schema: marks on the timeline
                    yield TimelineMarks(tuple(changes))
        finally:
            decoders.close()
            self.events.close()
            self.recorder.stop()
            self.reader.close()

    def _items(self, decoded: Decoded) -> Iterator[SourceItem]:
        """The spans of decoded messages, then the calls of their events, then of their dead letters: each counted
        in the status only as it is yielded (what fails costs its part of the chunk, never the feed)."""
        yield decoded.batch
        where = decoded.where
        event_calls = guarded(self.problems, None, where, "kafka batch", self._event_calls, decoded.events)
        if event_calls is not None:
            yield event_calls
        failed_calls = guarded(
            self.problems, None, where, "kafka batch", self.dead_letters.derive, decoded.dead_letters
        )
        if failed_calls is not None:
            yield failed_calls

    def _event_calls(self, events: EventBatch) -> EventCalls:
        return EventCalls(self.events.process(events), events.value_bytes)

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
