"""The Simulator: deterministic OTLP traffic pulled by simulated time, generated one second at a time."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import numpy as np

from flowviz.sim.export_queue import ExportQueue
from flowviz.sim.incidents import NS_PER_S, ActiveIncident, Effect, IncidentScript, Occurrence
from flowviz.sim.platforms.ecommerce import default_script, ecommerce_platform
from flowviz.sim.span_classes import SpanClassBook
from flowviz.sim.topology import Topic, Topology
from flowviz.sim.trace_evaluation import IncidentEffects, evaluate_traces
from flowviz.sim.trace_shapes import ShapeSampler
from flowviz.sim.trace_tables import TraceTables
from flowviz.sim.traffic_rate import TrafficRate

DEFAULT_START_NS = int(datetime(2025, 3, 4, 14, 0, tzinfo=UTC).timestamp()) * NS_PER_S
"""A fixed default start (a Tuesday afternoon, UTC), so that a seed alone fixes the output."""

_TICK_NS = NS_PER_S  # traffic is generated one second of simulated time at a time


class Simulator:
    """Deterministic OTLP traffic of a microservice platform (default: the e-commerce platform).

    Pull API: `generate(until_ns)` returns ExportTraceServiceRequest messages holding every span
    that *ended* since the previous call up to `until_ns` (like a Collector exporting finished
    spans), grouped by service resource and instrumentation scope, at most `spans_per_message`
    spans each. `generate_json` gives the same as OTLP/JSON documents. Traffic is generated one
    simulated second at a time from `(seed, second)`, so the spans do not depend on how the calls
    slice time; the same seed and the same calls give identical bytes.

    `rate_per_s` is the mean span rate over a day; the rate follows `day_curve` (a simulated day
    lasts `day_length_s`; `daily_amplitude` 0 makes it flat) times smooth noise of relative size
    `noise`, and trace arrivals are Poisson. `script` (default: `default_script()`) slows services
    and datastores down, raises error rates and delays consumers; pass `NO_INCIDENTS` for none.
    Consumer lag should stay below the deriver's pairing TTL (30 s).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        rate_per_s: float = 2_000.0,
        start_ns: int = DEFAULT_START_NS,
        script: IncidentScript | None = None,
        topology: Topology | None = None,
        day_length_s: float = 86_400.0,
        daily_amplitude: float = 1.0,
        noise: float = 0.08,
        spans_per_message: int = 1_000,
        shapes_per_entry: int = 32,
    ) -> None:
        if seed < 0 or rate_per_s < 0 or day_length_s <= 0 or spans_per_message < 1 or shapes_per_entry < 1:
            raise ValueError("seed and rate_per_s must be >= 0; day_length_s, spans_per_message, shapes_per_entry > 0")
        self.seed = seed
        self.rate_per_s = float(rate_per_s)
        self.start_ns = int(start_ns)
        self.script = default_script() if script is None else script
        self.topology = topology or ecommerce_platform()
        self.topology.validate()
        self.day_length_s = float(day_length_s)
        self.daily_amplitude = float(daily_amplitude)
        self.spans_per_message = spans_per_message
        self._emitted_until_ns = self.start_ns
        self._next_tick = 0
        self._rate = TrafficRate(
            seed=seed,
            rate_per_s=self.rate_per_s,
            start_ns=self.start_ns,
            day_length_s=self.day_length_s,
            daily_amplitude=self.daily_amplitude,
            noise=noise,
        )
        self._compile(random.Random(seed), shapes_per_entry)
        self._check_script()

    # -- public ------------------------------------------------------------------------------

    @property
    def clock_ns(self) -> int:
        """Simulated time up to which spans were emitted."""
        return self._emitted_until_ns

    @property
    def spans_emitted(self) -> int:
        """Spans in the messages returned so far."""
        return self._export.spans_emitted

    def rate_at(self, time_ns: np.ndarray | int) -> np.ndarray:
        """Expected spans per second at absolute times (daily curve × smooth noise)."""
        return self._rate.at(time_ns)

    def occurrences(self, from_ns: int, to_ns: int) -> list[Occurrence]:
        """Incident occurrences overlapping [from_ns, to_ns) (for timeline marks)."""
        return self.script.occurrences(from_ns, to_ns, start_ns=self.start_ns)

    def active_incidents(self, time_ns: int) -> list[ActiveIncident]:
        return self.script.active_at(time_ns, start_ns=self.start_ns)

    def generate(self, until_ns: int) -> list[bytes]:
        """Serialized ExportTraceServiceRequest messages of the spans that ended in (clock, until_ns]."""
        return self._generate(until_ns, json=False)

    def generate_json(self, until_ns: int) -> list[bytes]:
        """The same as OTLP/JSON request documents (one per message, no newline: JSON lines when joined)."""
        return self._generate(until_ns, json=True)

    # -- compilation ------------------------------------------------------------------------

    def _compile(self, rng: random.Random, shapes_per_entry: int) -> None:
        """Sample the trace shapes, number their span classes and compile them to trace tables."""
        topology = self.topology
        self._key_index = {name: i for i, name in enumerate(topology.node_names)}
        self._subscription_index: dict[tuple[str, str], int] = {}
        for topic in topology.topics:
            for subscription in topic.subscriptions:
                self._subscription_index.setdefault((topic.name, subscription.service), len(self._subscription_index))
        book = SpanClassBook(seed=self.seed, services=topology.services)
        sampler = ShapeSampler(topology, book, key_index=self._key_index, subscription_index=self._subscription_index)
        shapes, weights = sampler.sample(rng, shapes_per_entry)
        self._tables = TraceTables(shapes)
        self._shape_p = np.array(weights) / np.sum(weights)
        self.mean_spans_per_trace = float(np.dot(self._shape_p, self._tables.shape_size))
        self._export = ExportQueue(book, book.message_parts(), spans_per_message=self.spans_per_message)
        self._queue_mu = math.log(topology.queue_ms * 1e6)

    def _check_script(self) -> None:
        """Every incident names a node of the topology that it can act on."""
        for incident in self.script.incidents:
            if incident.target not in self._key_index:
                raise ValueError(f"incident {incident.name}: no node {incident.target!r} in the topology")
            if incident.effect is not Effect.CONSUMER_LAG and isinstance(self.topology.node(incident.target), Topic):
                raise ValueError(f"incident {incident.name}: a topic has no latency or errors of its own")
            if (
                incident.effect is Effect.CONSUMER_LAG
                and (incident.topic, incident.target) not in self._subscription_index
            ):
                raise ValueError(f"incident {incident.name}: {incident.target} does not consume {incident.topic}")

    # -- generation -------------------------------------------------------------------------

    def _generate(self, until_ns: int, *, json: bool) -> list[bytes]:
        """Generate the ticks up to `until_ns` and take the spans that ended, second boundary by boundary."""
        until_ns = int(until_ns)
        messages: list[bytes] = []
        while self._emitted_until_ns < until_ns:
            elapsed = self._emitted_until_ns - self.start_ns
            boundary = min(until_ns, self.start_ns + (elapsed // _TICK_NS + 1) * _TICK_NS)
            while self.start_ns + self._next_tick * _TICK_NS < boundary:
                self._generate_tick(self._next_tick)
            messages += self._export.take(boundary, json=json)
            self._emitted_until_ns = boundary
        return messages

    def _effects(self, starts_ns: np.ndarray) -> IncidentEffects:
        """Per incident target: latency multipliers, error rates and consumer lags (ns) at each trace start."""
        latency: dict[int, np.ndarray] = {}
        errors: dict[int, np.ndarray] = {}
        lag: dict[int, np.ndarray] = {}
        for incident in self.script.incidents:
            strength = self.script.strength(incident, starts_ns, start_ns=self.start_ns)
            if not strength.any():
                continue
            key = self._key_index[incident.target]
            if incident.effect is Effect.LATENCY:
                latency[key] = latency.get(key, 1.0) * (1.0 + (incident.magnitude - 1.0) * strength)
            elif incident.effect is Effect.ERRORS:
                base = self.topology.node(incident.target).error_rate  # type: ignore[union-attr]
                rate = base + (incident.magnitude - base) * strength
                errors[key] = np.maximum(errors[key], rate) if key in errors else rate
            else:
                subscription = self._subscription_index[(incident.topic, incident.target)]
                delay = (incident.magnitude * NS_PER_S * strength).astype(np.int64)
                lag[subscription] = lag.get(subscription, 0) + delay
        return IncidentEffects(latency, errors, lag)

    def _generate_tick(self, index: int) -> None:
        """Traces starting in simulated second `index`: sampled from (seed, index) alone, queued as blocks."""
        self._next_tick = index + 1
        tick_start_ns = self.start_ns + index * _TICK_NS
        rng = np.random.default_rng([self.seed, index])
        expected = float(self.rate_at(tick_start_ns + _TICK_NS // 2)) * (_TICK_NS / NS_PER_S)
        count = int(rng.poisson(expected / self.mean_spans_per_trace))
        if count == 0:
            return
        starts_ns = tick_start_ns + np.sort(rng.integers(0, _TICK_NS, count))
        shape_of = rng.choice(len(self._tables.shape_size), size=count, p=self._shape_p)
        effects = self._effects(starts_ns)
        columns, trace_ids = evaluate_traces(self._tables, starts_ns, shape_of, rng, effects, queue_mu=self._queue_mu)
        self._export.add(columns, trace_ids)
