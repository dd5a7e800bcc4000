"""The worker-process side of a live Kafka feed: read, decode and derive, sending calls, lag frames, marks and
status to the window (and recording what is read when asked)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flowviz.decoders.gc_pause import gc_paused
from flowviz.decoders.guard import guarded
from flowviz.decoders.messages import MessageDecoder
from flowviz.derive.dead_letters import DeadLetterDeriver
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.sources.kafka_reader import KafkaReader, message_where
from flowviz.sources.kafka_settings import KafkaSettings, recording_header, settings_schemas
from flowviz.sources.pipe_messages import Derived, LagSeen, Marks, Record, SourceStatus
from flowviz.sources.raw_inputs import RawRing

if TYPE_CHECKING:
    from flowviz.store.drill_down import DrillDownStore

STATUS_EVERY_S = 0.5
WORKER_BATCH_BYTES = 16 << 20  # catching up, the window gets a batch about every few tenths of a second


def run_kafka_worker(settings: KafkaSettings, connection, *, details: DrillDownStore | None = None) -> None:
    """Read, decode and derive in this (worker) process until the parent says stop on `connection`.

    Sends `Derived` per batch, like the other workers, `LagSeen` per look at the consumer groups of event
    topics, and `SourceStatus` (a `KafkaStatus.as_dict()` with a `recording` entry) about twice a second.
    The parent may send `Record(path)` to append every message read from then on to a recording
    (the format `flowviz record` writes) and `Record(None)` to close it; anything else stops the worker.
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
    dead_letters = DeadLetterDeriver(decoder.dead_letter_rules)  # dead-letter messages: failed calls on flows left
    events = LiveEvents(settings, problems=problems)  # business events: producer → topic → consumer groups
    recorder = LiveRecorder(recording_header(settings))  # the header `flowviz record` writes
    raw = RawRing()  # the latest message values, searched again for a trace the window opens
    if details is not None:
        details.raw_spans = raw.span_details
    spans = 0
    next_status_s = 0.0
    try:
        while True:
            if connection.poll():
                command = connection.recv()
                if not isinstance(command, Record):
                    break  # Stop (or anything else)
                recorder.switch(command.path)
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
                    calls = EdgeObservations.concat(
                        [observations, event_calls, dead_letters.derive(decoder.take_dead_letters())]
                    )
                    return len(batch), calls

                # what still fails costs this batch, never the feed
                where = f"{message_where(messages[0])} … {message_where(messages[-1])}"
                derived = guarded(problems, None, where, "kafka batch", derive)
                if derived is not None:
                    spans += derived[0]
                    connection.send(Derived(derived[1], spans, problems.as_dict()))
            consumed = events.poll_groups(read_to=reader.positions)  # topic → consumer group, from commits
            if len(consumed):
                connection.send(Derived(consumed, spans, problems.as_dict()))
            recorder.append_looks(events.take_looks())  # a recording shows the groups and their lag too
            for frame in events.take_frames():  # lag in time, trend and states, kept by time in the store
                connection.send(LagSeen(frame))
            now = time.monotonic()
            if now >= next_status_s:
                next_status_s = now + STATUS_EVERY_S
                status = _status_for_parent(reader, decoder, problems)
                if events.events:
                    status["events"] = events.status()
                if dead_letters.figures:
                    status["dead_letters"] = dead_letters.status()
                if decoder.topic_schemas:
                    status["schemas"] = dict(decoder.topic_schemas)
                changes = decoder.take_schema_changes()
                if changes:  # a topic's records came with a new schema: marks on the timeline
                    connection.send(Marks(changes))
                connection.send(SourceStatus({**status, "recording": recorder.status()}))
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
