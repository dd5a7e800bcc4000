"""A live Kafka feed's messages decoded by several processes, a poll's partitions side by side, handed back in order.

The Kafka worker keeps reading (one consumer: offsets, lag and the consumer-group looks stay where they are)
and deriving (one `EdgeDeriver`, fed in the order the messages were read, as `parallel_capture` does for
files); only decoding (message values -> `SpanBatch`, events, dead letters) moves to `workers` decode
processes. A poll's messages are grouped by partition into up to `workers` chunks of about equal bytes (a
partition's messages stay together, in offset order, unless one partition alone outweighs a chunk's share);
a small poll with nothing in flight is decoded here. A decode worker that dies is replaced: its chunk is
decoded again once, and lost only when that worker dies too — both counted at `topic[partition]@offsets`.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from flowviz.decoders.guard import guarded
from flowviz.decoders.messages import DeadLetterMessage, MessageDecoder
from flowviz.model.event_batch import EventBatch
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.decode_pool import DecodePool, LostJob, WorkerDeath
from flowviz.sources.kafka_settings import KafkaSettings, settings_schemas
from flowviz.sources.parallel_capture import default_workers, start_decode_worker

INLINE_BYTES = 256 << 10  # a poll this small, with nothing in flight, is decoded in the reading process
IN_FLIGHT_PER_WORKER = 2  # chunks handed out ahead of the one being derived, per worker


def default_live_workers() -> int:
    """Decode processes for a live topic when none are asked for: the cores beyond the reading process's own
    (`default_workers()` - 1), so 1 (decoding in place) on 2 cores. The reading process keeps consuming,
    deriving and storing, the window draws, and a local broker shares the cores: on 2 cores (`bench live`),
    2 decode processes against 1 gave 0.48-1.30x (protobuf) and 0.74-1.07x (JSON) over four runs, for
    ~35 % more CPU."""
    return max(1, default_workers() - 1)


class MessageCopy:
    """What the decoders read of a confluent_kafka Message, picklable (a Message is not)."""

    __slots__ = ("_headers", "_offset", "_partition", "_timestamp", "_topic", "_value")

    def __init__(self, message) -> None:
        self._topic, self._partition, self._offset = message.topic(), message.partition(), message.offset()
        self._timestamp, self._headers, self._value = message.timestamp(), message.headers(), message.value()

    def __getstate__(self) -> tuple:
        return (self._topic, self._partition, self._offset, self._timestamp, self._headers, self._value)

    def __setstate__(self, state: tuple) -> None:
        self._topic, self._partition, self._offset, self._timestamp, self._headers, self._value = state

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return self._timestamp

    def headers(self):
        return self._headers

    def value(self) -> bytes | None:
        return self._value


@dataclass(slots=True)
class Decoded:
    """A chunk of messages decoded: its spans, events and dead letters, and what it changed of the figures."""

    where: str  # `topic[partition]@first…last` of each partition in the chunk
    messages: int
    batch: SpanBatch
    events: EventBatch
    dead_letters: list[DeadLetterMessage]
    problems: Problems = field(default_factory=Problems)  # from a decode worker: merged where it is derived
    formats: dict[str, int] = field(default_factory=dict)
    schema_readings: list = field(default_factory=list)  # (topic, partition, schema, time): see MessageDecoder


@dataclass(frozen=True, slots=True)
class Chunk:
    """Messages of a poll for one decode worker."""

    settings: KafkaSettings
    messages: list[MessageCopy]
    where: str


_worker_decoders: dict[KafkaSettings, MessageDecoder] = {}  # per decode process: its decoder, made at the first chunk


def decode_chunk(chunk: Chunk) -> Decoded | None:
    """A decode worker's job: decode a chunk with this process's decoder; hand back what it counted since."""
    decoder = _worker_decoders.get(chunk.settings)
    if decoder is None:
        decoder = _worker_decoders[chunk.settings] = new_decoder(chunk.settings, Problems())
        decoder.keep_schema_readings = True
    decoder.forget_schemas()  # each chunk reports each partition's first schema id
    decoded = decode_here(decoder, chunk.messages, chunk.where)
    if decoded is None:
        decoded = Decoded(chunk.where, 0, SpanBatch.empty(), EventBatch.empty(), [])  # counted in the problems
    decoded.problems.merge(decoder.problems)
    decoder.problems.restore({})
    decoded.formats, decoder.formats = decoder.formats, {}
    decoded.schema_readings = decoder.take_schema_readings()
    decoder.take_schema_changes()  # marked where the chunks are merged, in read order
    return decoded


def new_decoder(settings: KafkaSettings, problems: Problems) -> MessageDecoder:
    """The message decoder the settings ask for."""
    return MessageDecoder(
        settings.format_name,
        problems=problems,
        event_producer=settings.event_producer,
        dead_letters=settings.dead_letters,
        schemas=settings_schemas(settings),
        event_fields=settings.event_fields,
    )


def decode_here(decoder: MessageDecoder, messages: list, where: str) -> Decoded | None:
    """Messages decoded by `decoder` in this process (each message guarded: a bad one costs only itself; what
    still fails costs these messages, counted at `where`, never the feed: None)."""

    def decode() -> Decoded:
        batch = decoder.decode(messages)
        return Decoded(where, len(messages), batch, decoder.take_events(), decoder.take_dead_letters())

    return guarded(decoder.problems, None, where, "kafka batch", decode)


def messages_where(messages: list) -> str:
    """Where a chunk's messages are: `topic[partition]@first…last` per partition, in the order met."""
    spans: dict[tuple[str, int], list[int]] = {}
    for message in messages:
        offsets = spans.setdefault((message.topic(), message.partition()), [message.offset(), message.offset()])
        offsets[0], offsets[1] = min(offsets[0], message.offset()), max(offsets[1], message.offset())
    return ", ".join(f"{t}[{p}]@{a}…{b}" if a != b else f"{t}[{p}]@{a}" for (t, p), (a, b) in spans.items())


def partition_chunks(messages: list, count: int) -> list[list]:
    """A poll's messages in up to `count` chunks of about equal bytes, a partition's messages together (a
    partition larger than a chunk's share cut into runs of it), each chunk in the order the messages came."""
    by_partition: dict[tuple[str, int], list[int]] = {}
    sizes = [len(message.value() or b"") + 64 for message in messages]
    for index, message in enumerate(messages):
        by_partition.setdefault((message.topic(), message.partition()), []).append(index)
    share = max(1, sum(sizes) // max(1, count) + 1)
    runs: list[list[int]] = []
    for indexes in by_partition.values():
        run: list[int] = []
        run_bytes = 0
        for index in indexes:
            if run and run_bytes + sizes[index] > share:
                runs.append(run)
                run, run_bytes = [], 0
            run.append(index)
            run_bytes += sizes[index]
        runs.append(run)
    loads = [0] * min(count, len(runs))
    chunks: list[list[int]] = [[] for _ in loads]
    for run in sorted(runs, key=lambda r: -sum(sizes[i] for i in r)):
        lightest = loads.index(min(loads))
        chunks[lightest] += run
        loads[lightest] += sum(sizes[i] for i in run)
    return [[messages[i] for i in sorted(chunk)] for chunk in sorted(chunks, key=min) if chunk]


class KafkaDecoders:
    """Decodes polls of messages with `decoder` here (one worker) or with `workers` decode processes, and
    hands the decoded chunks back in the order the messages were read; counts go to `decoder` and its problems.
    """

    def __init__(self, settings: KafkaSettings, decoder: MessageDecoder, workers: int) -> None:
        self.settings, self.decoder, self.workers = settings, decoder, workers
        self.problems = decoder.problems
        self._ready: list[Decoded] = []
        self._pool = None
        if workers > 1:
            self._pool = DecodePool(
                decode_chunk,
                method=_start_method(),
                workers=workers,
                on_death=self._report_death,
                initializer=start_decode_worker,
            )

    @property
    def pending(self) -> int:
        """Chunks being decoded, not taken yet."""
        return self._pool.pending if self._pool is not None else 0

    def submit(self, messages: list) -> None:
        """A poll's messages, to decode (here when small and nothing is in flight, so the order holds)."""
        if self._pool is None or (not self._pool.pending and _bytes(messages) < INLINE_BYTES):
            decoded = decode_here(self.decoder, messages, messages_where(messages))
            if decoded is not None:
                self._ready.append(decoded)
            return
        for chunk in partition_chunks(messages, self.workers):
            copies = [MessageCopy(message) for message in chunk]
            self._pool.submit(Chunk(self.settings, copies, messages_where(chunk)))

    def take(self, *, block: bool = False) -> Iterator[Decoded]:
        """Decoded chunks in read order: those ready; with `block` (or too many in flight) at least the next."""
        ready, self._ready = self._ready, []
        yield from ready
        if self._pool is None:
            return
        block = block or self._pool.pending >= self.workers * IN_FLIGHT_PER_WORKER
        for decoded in self._pool.take(block=block):
            if isinstance(decoded, LostJob):
                continue  # counted by `_report_death`
            self.problems.merge(decoded.problems)
            self.decoder.merge_figures(decoded.formats, decoded.schema_readings)
            yield decoded

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _report_death(self, death: WorkerDeath) -> None:
        chunk: Chunk = death.job
        if death.retried:
            reason = f"kafka: decode worker died ({death.death}): its messages were decoded again in a fresh worker"
            self.problems.add(reason, chunk.where)
        else:
            reason = f"kafka: messages not decoded: their decode worker died again ({death.death})"
            self.problems.add(reason, chunk.where, count=len(chunk.messages))


def _bytes(messages: list) -> int:
    return sum(len(message.value() or b"") for message in messages)


def _start_method() -> str:
    """`fork` while this process runs one thread (before the Kafka client starts its own), else `spawn`."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"
