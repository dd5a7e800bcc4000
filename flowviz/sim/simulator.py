"""The built-in simulator: deterministic OTLP traffic of the platform with a daily curve and scripted incidents."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson

from flowviz.model.span_batch import SpanKind, StatusCode
from flowviz.sim.incidents import NS_PER_S, ActiveIncident, Effect, IncidentScript, Occurrence, default_script
from flowviz.sim.otlp_encode import (
    AttributeValue,
    SpanShape,
    attributes_json,
    request_json,
    request_message,
    resource_message,
    scope_message,
)
from flowviz.sim.topology import Call, Datastore, ExternalApi, Operation, Service, Topic, Topology, ecommerce_platform

DEFAULT_START_NS = int(datetime(2025, 3, 4, 14, 0, tzinfo=UTC).timestamp()) * NS_PER_S
"""A fixed default start (a Tuesday afternoon, UTC), so that a seed alone fixes the output."""

_TICK_NS = NS_PER_S  # traffic is generated one second of simulated time at a time
_MAX_DEPTH = 16
_PARALLEL_STAGGER_NS = 40_000  # parallel calls leave one after the other, 40 µs apart
_U64_MAX = np.iinfo(np.uint64).max

# node roles in a compiled trace shape
_SERVER, _CLIENT, _LEAF, _PRODUCER, _CONSUMER = range(5)
# outcomes: OK, ERROR (500 / failed call), UPSTREAM_TIMEOUT (a 504 answer), TIMEOUT (the caller gave up)
_OK, _ERROR, _UPSTREAM_TIMEOUT, _TIMEOUT = range(4)
_OUTCOMES = 4
_AS_SEEN_BY_CALLER = np.array([_OK, _ERROR, _UPSTREAM_TIMEOUT, _UPSTREAM_TIMEOUT], np.int8)

_SDK_VERSIONS = {"java": "1.44.1", "go": "1.32.0", "python": "1.28.2", "nodejs": "1.29.0"}
_SCOPES = {  # (language, instrumentation) -> (scope name, version)
    ("java", "http-server"): ("io.opentelemetry.tomcat-10.0", "2.10.0-alpha"),
    ("java", "http-client"): ("io.opentelemetry.java-http-client", "2.10.0-alpha"),
    ("java", "sql"): ("io.opentelemetry.jdbc", "2.10.0-alpha"),
    ("java", "redis"): ("io.opentelemetry.lettuce-5.1", "2.10.0-alpha"),
    ("java", "search"): ("io.opentelemetry.elasticsearch-rest-7.0", "2.10.0-alpha"),
    ("java", "kafka"): ("io.opentelemetry.kafka-clients-2.6", "2.10.0-alpha"),
    ("go", "http-server"): ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0"),
    ("go", "http-client"): ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0"),
    ("go", "sql"): ("github.com/XSAM/otelsql", "0.35.0"),
    ("go", "redis"): ("github.com/redis/go-redis/extra/redisotel", "9.7.0"),
    ("go", "search"): ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0"),
    ("go", "kafka"): ("github.com/IBM/sarama/otelsarama", "0.57.0"),
    ("python", "http-server"): ("opentelemetry.instrumentation.fastapi", "0.49b2"),
    ("python", "http-client"): ("opentelemetry.instrumentation.httpx", "0.49b2"),
    ("python", "sql"): ("opentelemetry.instrumentation.psycopg", "0.49b2"),
    ("python", "redis"): ("opentelemetry.instrumentation.redis", "0.49b2"),
    ("python", "search"): ("opentelemetry.instrumentation.elasticsearch", "0.49b2"),
    ("python", "kafka"): ("opentelemetry.instrumentation.confluent_kafka", "0.49b2"),
    ("nodejs", "http-server"): ("@opentelemetry/instrumentation-http", "0.55.0"),
    ("nodejs", "http-client"): ("@opentelemetry/instrumentation-http", "0.55.0"),
    ("nodejs", "sql"): ("@opentelemetry/instrumentation-pg", "0.49.0"),
    ("nodejs", "redis"): ("@opentelemetry/instrumentation-ioredis", "0.45.0"),
    ("nodejs", "search"): ("@opentelemetry/instrumentation-http", "0.55.0"),
    ("nodejs", "kafka"): ("@opentelemetry/instrumentation-kafkajs", "0.5.0"),
}
_FLAGS_LOCAL_PARENT = 0x101  # sampled, parent known to be in this process
_FLAGS_REMOTE_PARENT = 0x301  # sampled, parent in another process


def day_curve(hour_of_day: np.ndarray | float) -> np.ndarray:
    """Relative traffic over a day (mean 1): a night trough, a morning rise, lunch, the evening peak."""
    hour = np.asarray(hour_of_day, np.float64) % 24.0
    return _raw_day_curve(hour) / _DAY_MEAN


def _raw_day_curve(hour: np.ndarray) -> np.ndarray:
    def bump(center: float, width: float) -> np.ndarray:
        distance = np.abs((hour - center + 12.0) % 24.0 - 12.0)
        return np.exp(-0.5 * (distance / width) ** 2)

    return 0.18 + 0.55 * bump(10.5, 2.6) + 0.35 * bump(13.0, 1.1) + 1.0 * bump(20.3, 2.4) + 0.25 * bump(16.0, 3.0)


_DAY_MEAN = float(np.mean(_raw_day_curve(np.arange(0.0, 24.0, 1.0 / 600.0))))


# -- span classes: everything about a span that does not change from one trace to the next ------------


@dataclass(frozen=True, slots=True)
class _SpanClass:
    service: int  # index of the emitting service
    scope: int  # index of its instrumentation scope
    name: str
    kind: SpanKind
    attributes: dict[str, AttributeValue]
    outcome_attributes: tuple[dict[str, AttributeValue], ...]  # extra attributes per outcome
    has_parent: bool
    has_link: bool
    flags: int


@dataclass(slots=True)
class _Node:
    """One span of a trace shape while it is being sampled."""

    role: int
    parent: int
    klass: int
    median_ns: float
    sigma: float
    key: int  # incident target (node index in the registry) whose latency/errors apply; -1 none
    error_rate: float
    timeout_ns: int = 0
    critical: bool = True
    slot: int = -1  # the parent's call slot (-1: not part of the parent's duration)
    stagger_ns: int = 0
    subscription: int = -1  # consumers: the (topic, service) subscription index
    trace_slot: int = 0


class _Tables:
    """All sampled trace shapes compiled to flat arrays (one row per template span, shapes one after another).

    A tick of traffic is then evaluated for all its traces at once: spans are rows gathered from these
    tables, durations are computed bottom-up one tree height at a time and start times top-down one
    depth at a time, whatever the mix of shapes.
    """

    def __init__(self, shapes: list[list[_Node]]) -> None:
        columns: dict[str, list] = {name: [] for name in _TABLE_COLUMNS}
        slot_owner: list[int] = []
        slot_first: list[int] = []
        self.shape_start, self.shape_size, self.shape_traces = [], [], []
        self.shape_slot_start, self.shape_slots = [], []
        for nodes in shapes:
            self.shape_start.append(len(columns["role"]))
            self.shape_size.append(len(nodes))
            self.shape_traces.append(max(x.trace_slot for x in nodes) + 1)
            self.shape_slot_start.append(len(slot_owner))
            self._add_shape(nodes, columns, slot_owner, slot_first)
            self.shape_slots.append(len(slot_owner) - self.shape_slot_start[-1])
        for name, dtype in _TABLE_COLUMNS.items():
            setattr(self, name, np.array(columns[name], dtype))
        self.mu = np.log(self.median_ns)
        self.slot_owner = np.array(slot_owner, np.int64)
        self.slot_first = np.array(slot_first, np.int64)
        for name in ("shape_start", "shape_size", "shape_traces", "shape_slot_start", "shape_slots"):
            setattr(self, name, np.array(getattr(self, name), np.int64))
        self.max_height = int(self.up_level.max())
        self.max_depth = int(self.depth.max())

    @staticmethod
    def _add_shape(nodes: list[_Node], columns: dict[str, list], slot_owner: list[int], slot_first: list[int]) -> None:
        n = len(nodes)
        children: list[list[int]] = [[] for _ in range(n)]
        for i, x in enumerate(nodes):
            if x.parent >= 0:
                children[x.parent].append(i)
        height = [0] * n
        for i in range(n - 1, -1, -1):  # pre-order: children come after their parent
            sync = [c for c in children[i] if nodes[c].role != _CONSUMER]
            height[i] = 1 + max(height[c] for c in sync) if sync else 0
        depth = [0] * n
        slot_count = [0] * n
        slot_base = [0] * n
        local_slots = 0
        for i, x in enumerate(nodes):
            if x.parent >= 0:
                depth[i] = depth[x.parent] + 1
            if x.role in (_SERVER, _CONSUMER):
                slots = [nodes[c].slot for c in children[i] if nodes[c].role != _CONSUMER]
                slot_count[i] = max(slots) + 1 if slots else 0
                slot_base[i] = local_slots
                for _ in range(slot_count[i]):
                    slot_owner.append(i)
                    slot_first.append(local_slots)
                local_slots += slot_count[i]
        for i, x in enumerate(nodes):
            parent = nodes[x.parent] if x.parent >= 0 else None
            linked = x.role == _CONSUMER and parent is not None and parent.trace_slot != x.trace_slot
            if parent is None or x.role == _CONSUMER:
                down, child_slot, numerator, denominator = _DOWN_ROOT if parent is None else _DOWN_CONSUMER, -1, 0, 1
            elif parent.role == _CLIENT:
                down, child_slot, numerator, denominator = _DOWN_IN_CLIENT, -1, 0, 1
            else:
                down, child_slot = _DOWN_IN_SLOT, slot_base[x.parent] + x.slot
                numerator, denominator = x.slot + 1, slot_count[x.parent] + 1
            row = {
                "role": x.role,
                "parent_local": x.parent,
                "klass": x.klass,
                "median_ns": x.median_ns,
                "sigma": x.sigma,
                "key": x.key,
                "error_rate": x.error_rate,
                "timeout_ns": x.timeout_ns,
                "critical": x.critical and down == _DOWN_IN_SLOT,
                "stagger_ns": x.stagger_ns,
                "subscription": x.subscription,
                "trace_slot": x.trace_slot,
                "linked": linked,
                "has_parent_id": parent is not None and not linked,
                "up_level": height[x.parent] if parent is not None and x.role != _CONSUMER else 0,
                "depth": depth[i],
                "down": down,
                "child_slot": child_slot,
                "numerator": numerator,
                "denominator": denominator,
            }
            for name, value in row.items():
                columns[name].append(value)


_DOWN_ROOT, _DOWN_IN_CLIENT, _DOWN_IN_SLOT, _DOWN_CONSUMER = range(4)
_TABLE_COLUMNS = {
    "role": np.int8,
    "parent_local": np.int64,
    "klass": np.int64,
    "median_ns": np.float64,
    "sigma": np.float64,
    "key": np.int64,
    "error_rate": np.float64,
    "timeout_ns": np.int64,
    "critical": np.bool_,
    "stagger_ns": np.int64,
    "subscription": np.int64,
    "trace_slot": np.int64,
    "linked": np.bool_,
    "has_parent_id": np.bool_,
    "up_level": np.int64,  # the height of the parent whose duration this span is part of (0: none)
    "depth": np.int64,
    "down": np.int8,  # how the start time follows from the parent's
    "child_slot": np.int64,  # the parent's slot this span runs in (index within the shape's slots)
    "numerator": np.int64,  # the share of the parent's own time spent before this slot
    "denominator": np.int64,
}


class _Block:
    """Generated spans of one class and outcome, sorted by end time, waiting until they have ended."""

    __slots__ = ("columns", "encoded", "end_ns", "first_end_ns", "klass", "outcome", "position")

    def __init__(self, klass: int, outcome: int, columns: dict[str, np.ndarray]) -> None:
        self.klass = klass
        self.outcome = outcome
        self.columns = columns
        self.end_ns = columns["end_ns"]
        self.position = 0  # spans before it were emitted
        self.first_end_ns = int(self.end_ns[0])  # end of the first span not yet emitted
        self.encoded: dict[bool, np.ndarray | list[bytes]] = {}  # all spans, per format (json?), on first use


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
        self.spans_emitted = 0
        self._emitted_until_ns = self.start_ns
        self._next_tick = 0
        self._pending: list[_Block] = []
        start_of_day = datetime.fromtimestamp(self.start_ns // NS_PER_S, UTC)
        self._start_hour = start_of_day.hour + start_of_day.minute / 60 + start_of_day.second / 3600
        noise_rng = np.random.default_rng([seed, 0x6E6F697365])
        self._noise_periods_s = np.exp(noise_rng.uniform(math.log(30.0), math.log(1800.0), 6))
        self._noise_phases = noise_rng.uniform(0, 2 * math.pi, 6)
        self._noise_amplitude = noise * math.sqrt(2.0 / 6.0)
        self._compile(random.Random(seed), shapes_per_entry)
        self._check_script()

    # -- public ------------------------------------------------------------------------------

    @property
    def clock_ns(self) -> int:
        """Simulated time up to which spans were emitted."""
        return self._emitted_until_ns

    def rate_at(self, time_ns: np.ndarray | int) -> np.ndarray:
        """Expected spans per second at absolute times (daily curve × smooth noise)."""
        elapsed_s = (np.asarray(time_ns, np.int64) - self.start_ns) / NS_PER_S
        hour = self._start_hour + 24.0 * elapsed_s / self.day_length_s
        day = 1.0 + self.daily_amplitude * (day_curve(hour) - 1.0)
        phase = 2 * math.pi * np.multiply.outer(elapsed_s, 1.0 / self._noise_periods_s) + self._noise_phases
        wobble = 1.0 + self._noise_amplitude * np.sin(phase).sum(axis=-1)
        return self.rate_per_s * np.maximum(day * wobble, 0.02)

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
        topology = self.topology
        self._service_index = {s.name: i for i, s in enumerate(topology.services)}
        self._key_index = {name: i for i, name in enumerate(topology.node_names)}
        self._subscription_index: dict[tuple[str, str], int] = {}
        for topic in topology.topics:
            for subscription in topic.subscriptions:
                self._subscription_index.setdefault((topic.name, subscription.service), len(self._subscription_index))
        self._classes: list[_SpanClass] = []
        self._class_index: dict[tuple, int] = {}
        self._scopes: list[tuple[str, str]] = []
        self._scope_index: dict[tuple[str, str], int] = {}
        self._shape_cache: dict[tuple[int, int], SpanShape] = {}
        shapes, weights = [], []
        total_weight = sum(e.weight for e in topology.entry_points)
        for entry in topology.entry_points:
            service = topology.service(entry.service)
            for _ in range(shapes_per_entry):
                nodes: list[_Node] = []
                self._expand_operation(
                    nodes, rng, service, service.operation(entry.operation), parent=-1, trace_slot=0, depth=0
                )
                shapes.append(nodes)
                weights.append(entry.weight / total_weight / shapes_per_entry)
        self._tables = _Tables(shapes)
        self._shape_p = np.array(weights) / np.sum(weights)
        self.mean_spans_per_trace = float(np.dot(self._shape_p, self._tables.shape_size))
        self._resources = [self._resource(s) for s in topology.services]
        self._resource_json = [orjson.dumps({"attributes": attributes_json(r)}) for r in self._resources]
        self._resource_bytes = [resource_message(r) for r in self._resources]
        self._scope_bytes = [scope_message(name, version) for name, version in self._scopes]
        self._scope_json = [orjson.dumps({"name": name, "version": version}) for name, version in self._scopes]
        self._queue_mu = math.log(topology.queue_ms * 1e6)

    def _check_script(self) -> None:
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

    def _scope(self, language: str, instrumentation: str) -> int:
        scope = _SCOPES[(language, instrumentation)]
        index = self._scope_index.get(scope)
        if index is None:
            index = self._scope_index[scope] = len(self._scopes)
            self._scopes.append(scope)
        return index

    def _klass(self, key: tuple, make: Callable[[], _SpanClass]) -> int:
        index = self._class_index.get(key)
        if index is None:
            index = self._class_index[key] = len(self._classes)
            self._classes.append(make())
        return index

    def _expand_operation(
        self,
        nodes: list[_Node],
        rng: random.Random,
        service: Service,
        operation: Operation,
        *,
        parent: int,
        trace_slot: int,
        depth: int,
        consumer_of: Topic | None = None,
        linked: bool = False,
    ) -> None:
        """Sample one execution of `operation`: its span, then its calls (children) in slots."""
        if depth > _MAX_DEPTH:
            raise ValueError(f"call chain deeper than {_MAX_DEPTH} at {service.name} {operation.name!r}")
        index = len(nodes)
        if consumer_of is None:
            klass = self._klass(
                ("server", service.name, operation.name, parent >= 0),
                lambda: self._server_class(service, operation, has_parent=parent >= 0),
            )
            nodes.append(
                _Node(
                    _SERVER,
                    parent,
                    klass,
                    operation.self_ms * 1e6,
                    service.sigma,
                    self._key_index[service.name],
                    service.error_rate,
                    slot=0 if parent >= 0 else -1,  # the whole of its client's time
                    trace_slot=trace_slot,
                )
            )
        else:
            klass = self._klass(
                ("consumer", service.name, consumer_of.name, linked),
                lambda: self._consumer_class(service, consumer_of, linked=linked),
            )
            nodes.append(
                _Node(
                    _CONSUMER,
                    parent,
                    klass,
                    operation.self_ms * 1e6,
                    service.sigma,
                    self._key_index[service.name],
                    service.error_rate,
                    subscription=self._subscription_index[(consumer_of.name, service.name)],
                    trace_slot=trace_slot,
                )
            )
        slot, open_parallel, stagger = -1, False, 0
        for call in operation.calls:
            if rng.random() >= call.probability:
                continue
            repeat = rng.randint(*call.repeat)
            for instance in range(repeat):
                if call.parallel and (open_parallel or instance > 0):
                    stagger += _PARALLEL_STAGGER_NS
                else:
                    slot += 1
                    stagger = 0
                open_parallel = call.parallel
                self._expand_call(
                    nodes,
                    rng,
                    service,
                    call,
                    parent=index,
                    slot=slot,
                    stagger_ns=stagger,
                    trace_slot=trace_slot,
                    depth=depth,
                )

    def _expand_call(
        self,
        nodes: list[_Node],
        rng: random.Random,
        service: Service,
        call: Call,
        *,
        parent: int,
        slot: int,
        stagger_ns: int,
        trace_slot: int,
        depth: int,
    ) -> None:
        topology = self.topology
        target = topology.node(call.target)
        timeout_ns = round(call.timeout_ms * 1e6)
        if isinstance(target, Service):
            operation = target.operation(call.operation)
            klass = self._klass(
                ("client", service.name, target.name, operation.name),
                lambda: self._client_class(service, target, operation),
            )
            client = len(nodes)
            nodes.append(
                _Node(
                    _CLIENT,
                    parent,
                    klass,
                    topology.network_ms * 1e6,
                    0.3,
                    -1,
                    0.0,
                    timeout_ns,
                    call.critical,
                    slot,
                    stagger_ns,
                    trace_slot=trace_slot,
                )
            )
            self._expand_operation(nodes, rng, target, operation, parent=client, trace_slot=trace_slot, depth=depth + 1)
        elif isinstance(target, Datastore | ExternalApi):
            klass = self._klass(
                ("leaf", service.name, target.name, call.operation),
                lambda: self._leaf_class(service, target, call.operation),
            )
            nodes.append(
                _Node(
                    _LEAF,
                    parent,
                    klass,
                    target.latency_ms * 1e6,
                    target.sigma,
                    self._key_index[target.name],
                    target.error_rate,
                    timeout_ns,
                    call.critical,
                    slot,
                    stagger_ns,
                    trace_slot=trace_slot,
                )
            )
        else:
            topic: Topic = target  # type: ignore[assignment]
            klass = self._klass(("producer", service.name, topic.name), lambda: self._producer_class(service, topic))
            producer = len(nodes)
            nodes.append(
                _Node(
                    _PRODUCER,
                    parent,
                    klass,
                    topology.publish_ms * 1e6,
                    0.4,
                    -1,
                    0.0,
                    timeout_ns,
                    call.critical,
                    slot,
                    stagger_ns,
                    trace_slot=trace_slot,
                )
            )
            for subscription in topic.subscriptions:
                consumer = topology.service(subscription.service)
                linked = subscription.style == "link"
                slot_of_trace = max(x.trace_slot for x in nodes) + 1 if linked else trace_slot
                self._expand_operation(
                    nodes,
                    rng,
                    consumer,
                    consumer.operation(subscription.operation),
                    parent=producer,
                    trace_slot=slot_of_trace,
                    depth=depth + 1,
                    consumer_of=topic,
                    linked=linked,
                )

    # -- span classes (names, attributes, scopes) ------------------------------------------------

    def _server_class(self, service: Service, operation: Operation, *, has_parent: bool) -> _SpanClass:
        return _SpanClass(
            service=self._service_index[service.name],
            scope=self._scope(service.language, "http-server"),
            name=operation.name,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": operation.method,
                "http.route": operation.route,
                "url.scheme": "https" if not has_parent else "http",
                "server.address": service.name,
            },
            outcome_attributes=(
                {"http.response.status_code": 200},
                {"http.response.status_code": 500, "error.type": "500"},
                {"http.response.status_code": 504, "error.type": "504"},
                {"http.response.status_code": 504, "error.type": "504"},
            ),
            has_parent=has_parent,
            has_link=False,
            flags=_FLAGS_REMOTE_PARENT if has_parent else _FLAGS_LOCAL_PARENT,
        )

    def _client_class(self, service: Service, target: Service, operation: Operation) -> _SpanClass:
        return _SpanClass(
            service=self._service_index[service.name],
            scope=self._scope(service.language, "http-client"),
            name=operation.name,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": operation.method,
                "server.address": target.name,
                "server.port": 8080,
                "url.full": f"http://{target.name}:8080{operation.route}",
            },
            outcome_attributes=(
                {"http.response.status_code": 200},
                {"http.response.status_code": 500, "error.type": "500"},
                {"http.response.status_code": 504, "error.type": "504"},
                {"error.type": "timeout"},
            ),
            has_parent=True,
            has_link=False,
            flags=_FLAGS_LOCAL_PARENT,
        )

    def _leaf_class(self, service: Service, target: Datastore | ExternalApi, operation: str) -> _SpanClass:
        if isinstance(target, ExternalApi):
            method, path = operation.split(" ", 1)
            return _SpanClass(
                service=self._service_index[service.name],
                scope=self._scope(service.language, "http-client"),
                name=method,
                kind=SpanKind.CLIENT,
                attributes={
                    "http.request.method": method,
                    "server.address": target.name,
                    "server.port": 443,
                    "url.full": f"https://{target.name}{path}",
                },
                outcome_attributes=(
                    {"http.response.status_code": 200},
                    {"http.response.status_code": 503, "error.type": "503"},
                    {"http.response.status_code": 504, "error.type": "504"},
                    {"error.type": "timeout"},
                ),
                has_parent=True,
                has_link=False,
                flags=_FLAGS_LOCAL_PARENT,
            )
        verb, _, table = operation.partition(" ")
        if target.system == "redis":
            instrumentation, name = "redis", verb
            attributes: dict[str, AttributeValue] = {
                "db.system": "redis",
                "peer.service": target.name,
                "db.operation": verb,
            }
        elif target.system == "elasticsearch":
            instrumentation, name = "search", operation
            attributes = {
                "db.system": "elasticsearch",
                "peer.service": target.name,
                "db.operation": table.rsplit("_", 1)[-1],
                "http.request.method": verb,
                "url.full": f"http://{target.name}:{target.port}{table}",
            }
        else:
            instrumentation, name = "sql", f"{verb} {target.name}.{table}"
            attributes = {
                "db.system": target.system,
                "db.name": target.name,
                "db.operation": verb,
                "db.sql.table": table,
            }
        attributes["server.address"] = target.name
        attributes["server.port"] = target.port
        return _SpanClass(
            service=self._service_index[service.name],
            scope=self._scope(service.language, instrumentation),
            name=name,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            outcome_attributes=({}, {"error.type": "db_error"}, {"error.type": "db_error"}, {"error.type": "timeout"}),
            has_parent=True,
            has_link=False,
            flags=_FLAGS_LOCAL_PARENT,
        )

    def _producer_class(self, service: Service, topic: Topic) -> _SpanClass:
        return _SpanClass(
            service=self._service_index[service.name],
            scope=self._scope(service.language, "kafka"),
            name=f"{topic.name} publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic.name,
                "messaging.operation.type": "publish",
                "server.address": "kafka",
                "server.port": 9092,
            },
            outcome_attributes=(
                {},
                {"error.type": "publish_failed"},
                {"error.type": "timeout"},
                {"error.type": "timeout"},
            ),
            has_parent=True,
            has_link=False,
            flags=_FLAGS_LOCAL_PARENT,
        )

    def _consumer_class(self, service: Service, topic: Topic, *, linked: bool) -> _SpanClass:
        return _SpanClass(
            service=self._service_index[service.name],
            scope=self._scope(service.language, "kafka"),
            name=f"{topic.name} process",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic.name,
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": service.name,
            },
            outcome_attributes=(
                {},
                {"error.type": "processing_failed"},
                {"error.type": "timeout"},
                {"error.type": "timeout"},
            ),
            has_parent=not linked,
            has_link=linked,
            flags=_FLAGS_LOCAL_PARENT if linked else _FLAGS_REMOTE_PARENT,
        )

    def _resource(self, service: Service) -> dict[str, AttributeValue]:
        pod = random.Random(f"{self.seed}/{service.name}")
        suffix = "".join(pod.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        replica = format(pod.getrandbits(40), "010x")[:10]
        return {
            "service.name": service.name,
            "service.namespace": "shop",
            "service.version": service.version,
            "deployment.environment.name": "production",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.language": service.language,
            "telemetry.sdk.version": _SDK_VERSIONS[service.language],
            "k8s.namespace.name": "shop",
            "k8s.pod.name": f"{service.name}-{replica}-{suffix}",
        }

    def _span_shape(self, klass: int, outcome: int) -> SpanShape:
        shape = self._shape_cache.get((klass, outcome))
        if shape is None:
            c = self._classes[klass]
            shape = self._shape_cache[(klass, outcome)] = SpanShape(
                name=c.name,
                kind=c.kind,
                attributes={**c.attributes, **c.outcome_attributes[outcome]},
                has_parent=c.has_parent,
                has_link=c.has_link,
                status_code=StatusCode.ERROR if outcome else StatusCode.UNSET,
                flags=c.flags,
                link_flags=_FLAGS_REMOTE_PARENT,
            )
        return shape

    # -- generation -------------------------------------------------------------------------

    def _generate(self, until_ns: int, *, json: bool) -> list[bytes]:
        until_ns = int(until_ns)
        messages: list[bytes] = []
        while self._emitted_until_ns < until_ns:
            elapsed = self._emitted_until_ns - self.start_ns
            boundary = min(until_ns, self.start_ns + (elapsed // _TICK_NS + 1) * _TICK_NS)
            while self.start_ns + self._next_tick * _TICK_NS < boundary:
                self._generate_tick(self._next_tick)
            messages += self._emit(boundary, json=json)
            self._emitted_until_ns = boundary
        return messages

    def _effects(
        self, starts_ns: np.ndarray
    ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, np.ndarray]]:
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
        return latency, errors, lag

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
        columns, trace_ids = self._evaluate(starts_ns, shape_of, rng)
        self._queue(columns, trace_ids)

    def _evaluate(
        self, starts_ns: np.ndarray, shape_of: np.ndarray, rng: np.random.Generator
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Times, outcomes and ids of every span of the given traces, all traces at once."""
        t = self._tables
        latency, errors, lag = self._effects(starts_ns)
        sizes = t.shape_size[shape_of]
        first = np.cumsum(sizes) - sizes
        trace_of = np.repeat(np.arange(len(shape_of)), sizes)
        row = np.repeat(t.shape_start[shape_of] - first, sizes) + np.arange(int(sizes.sum()))
        spans = len(row)
        parent_local = t.parent_local[row]
        parent = np.where(parent_local >= 0, first[trace_of] + parent_local, -1)
        slot_sizes = t.shape_slots[shape_of]
        slot_first_of_trace = np.cumsum(slot_sizes) - slot_sizes
        slot_trace = np.repeat(np.arange(len(shape_of)), slot_sizes)
        slot_row = np.repeat(t.shape_slot_start[shape_of] - slot_first_of_trace, slot_sizes) + np.arange(
            int(slot_sizes.sum())
        )
        slot_owner = first[slot_trace] + t.slot_owner[slot_row]
        slot_first = slot_first_of_trace[slot_trace] + t.slot_first[slot_row]
        span_slot = np.where(t.child_slot[row] >= 0, slot_first_of_trace[trace_of] + t.child_slot[row], -1)

        # own time (lognormal around each median, × incident multipliers) and own failures
        own = np.exp(t.mu[row] + t.sigma[row] * rng.standard_normal(spans))
        key = t.key[row]
        for target, multiplier in latency.items():
            hit = np.flatnonzero(key == target)
            own[hit] *= multiplier[trace_of[hit]]
        own = own.astype(np.int64) + 1_000
        draws = rng.random(spans)
        failed = draws < t.error_rate[row]
        for target, rate in errors.items():
            hit = np.flatnonzero(key == target)
            failed[hit] = draws[hit] < rate[trace_of[hit]]
        outcome = failed.astype(np.int8)
        duration = own.copy()
        role, timeout_ns = t.role[row], t.timeout_ns[row]
        late = (role == _LEAF) & (timeout_ns > 0) & (duration > timeout_ns)
        duration[late] = timeout_ns[late]
        outcome[late] = _TIMEOUT

        # bottom-up, one tree height at a time: a client lasts as long as its server (+ network) unless it
        # gives up; a server its own time plus its call slots (each as long as its longest call)
        slot_ns = np.zeros(len(slot_owner), np.int64)
        slot_failed = np.zeros(len(slot_owner), np.int8)
        slot_skipped = np.zeros(len(slot_owner), bool)
        skipped = np.zeros(spans, bool)
        up_level = t.up_level[row]
        by_level = np.argsort(up_level, kind="stable")
        level_bounds = np.searchsorted(up_level[by_level], np.arange(1, t.max_height + 2))
        for level in range(1, t.max_height + 1):
            child = by_level[level_bounds[level - 1] : level_bounds[level]]
            if not child.size:
                continue
            owner = parent[child]
            in_client = role[owner] == _CLIENT
            c, p = child[in_client], owner[in_client]
            spent = duration[c] + own[p]
            gave_up = (timeout_ns[p] > 0) & (spent > timeout_ns[p])
            duration[p] = np.where(gave_up, timeout_ns[p], spent)
            outcome[p] = np.where(gave_up, _TIMEOUT, outcome[c])
            c, p = child[~in_client], owner[~in_client]
            slots = span_slot[c]
            np.maximum.at(slot_ns, slots, duration[c] + t.stagger_ns[row[c]])
            seen = _AS_SEEN_BY_CALLER[outcome[c]] * t.critical[row[c]]
            np.maximum.at(slot_failed, slots, seen > 0)
            # after a critical call failed the operation gives up: its later slots never run
            level_slots = np.unique(slots)  # whole owners, each owner's slots consecutive
            failures = np.cumsum(slot_failed[level_slots])
            owner_first = np.searchsorted(level_slots, slot_first[level_slots])
            earlier = (
                failures - slot_failed[level_slots] - failures[owner_first] + slot_failed[level_slots[owner_first]]
            )
            slot_skipped[level_slots] = earlier > 0
            slot_ns[level_slots[earlier > 0]] = 0
            np.add.at(duration, slot_owner[level_slots], slot_ns[level_slots])
            skipped[c] = slot_skipped[slots]
            ran = ~skipped[c]
            np.maximum.at(outcome, p[ran], seen[ran])
        cumulative = np.cumsum(slot_ns)
        slot_before_ns = cumulative - slot_ns - (cumulative[slot_first] - slot_ns[slot_first])

        # top-down, one depth at a time: calls start in order with the parent's own time spread between
        # them; a server starts inside its client; consumers after the producer, once the message waited
        start = np.empty(spans, np.int64)
        depth = t.depth[row]
        by_depth = np.argsort(depth, kind="stable")
        depth_bounds = np.searchsorted(depth[by_depth], np.arange(0, t.max_depth + 2))
        roots = by_depth[: depth_bounds[1]]
        start[roots] = starts_ns[trace_of[roots]]
        down = t.down[row]
        consumers = np.flatnonzero(down == _DOWN_CONSUMER)
        wait = np.zeros(spans, np.int64)
        wait[consumers] = np.exp(self._queue_mu + 0.8 * rng.standard_normal(consumers.size)).astype(np.int64)
        subscription = t.subscription[row]
        for target, delay in lag.items():
            hit = np.flatnonzero(subscription == target)
            wait[hit] += delay[trace_of[hit]]
        numerator, denominator = t.numerator[row], t.denominator[row]
        for level in range(1, t.max_depth + 1):
            child = by_depth[depth_bounds[level] : depth_bounds[level + 1]]
            p = parent[child]
            kind = down[child]
            in_slot = (
                own[p] * numerator[child] // denominator[child]
                + slot_before_ns[np.maximum(span_slot[child], 0)]
                + t.stagger_ns[row[child]]
            )
            after = np.where(kind == _DOWN_CONSUMER, duration[p] + wait[child], in_slot)
            start[child] = start[p] + np.where(kind == _DOWN_IN_CLIENT, own[p] // 2, after)
            skipped[child] |= skipped[p]

        # ids: a span id each, a trace id per trace slot (link consumers start new traces)
        span_ids = rng.integers(1, _U64_MAX, size=spans, dtype=np.uint64, endpoint=True)
        trace_sizes = t.shape_traces[shape_of]
        trace_first = np.cumsum(trace_sizes) - trace_sizes
        trace_ids = rng.integers(0, _U64_MAX, size=(int(trace_sizes.sum()), 2), dtype=np.uint64, endpoint=True)
        trace_ids[:, 1] |= trace_ids[:, 1] == 0
        trace = trace_first[trace_of] + t.trace_slot[row]
        safe_parent = np.maximum(parent, 0)
        linked = t.linked[row]
        columns = {
            "key": t.klass[row] * _OUTCOMES + outcome,
            "trace": trace,
            "span": span_ids,
            "parent": np.where(t.has_parent_id[row], span_ids[safe_parent], 0).astype(np.uint64),
            "start_ns": start,
            "end_ns": start + duration,
            "link_trace": np.where(linked, trace[safe_parent], 0),
            "link_span": np.where(linked, span_ids[safe_parent], 0).astype(np.uint64),
        }
        if skipped.any():
            kept = ~skipped
            columns = {name: column[kept] for name, column in columns.items()}
        return columns, trace_ids

    def _queue(self, columns: dict[str, np.ndarray], trace_table: np.ndarray) -> None:
        """Split a tick's spans into blocks of one class and outcome, each sorted by end time."""
        order = np.lexsort((columns["end_ns"], columns["key"]))
        columns = {name: column[order] for name, column in columns.items()}
        key = columns["key"]
        bounds = np.flatnonzero(np.diff(key)) + 1
        trace_bytes = np.ascontiguousarray(trace_table.astype(">u8")).view(np.uint8).reshape(-1, 16)
        for first, stop in zip(np.r_[0, bounds].tolist(), np.r_[bounds, len(key)].tolist(), strict=True):
            klass, outcome = divmod(int(key[first]), _OUTCOMES)
            span_class = self._classes[klass]
            block = {
                "trace_ids": trace_bytes[columns["trace"][first:stop]],
                "span_ids": columns["span"][first:stop],
                "start_ns": columns["start_ns"][first:stop],
                "end_ns": columns["end_ns"][first:stop],
            }
            if span_class.has_parent:
                block["parent_ids"] = columns["parent"][first:stop]
            if span_class.has_link:
                block["link_trace_ids"] = trace_bytes[columns["link_trace"][first:stop]]
                block["link_span_ids"] = columns["link_span"][first:stop]
            self._pending.append(_Block(klass, outcome, block))

    # -- emission ---------------------------------------------------------------------------

    def _emit(self, until_ns: int, *, json: bool) -> list[bytes]:
        """Encode every queued span that ended by `until_ns`, grouped by service and scope, into messages."""
        emitted: dict[tuple[int, int], list] = {}
        keep = []
        for block in self._pending:
            if block.first_end_ns > until_ns:
                keep.append(block)
                continue
            stop = int(np.searchsorted(block.end_ns, until_ns, side="right"))
            encoded = block.encoded.get(json)
            if encoded is None:
                shape = self._span_shape(block.klass, block.outcome)
                encode = shape.encode_json if json else shape.encode
                encoded = block.encoded[json] = encode(**block.columns)
            span_class = self._classes[block.klass]
            emitted.setdefault((span_class.service, span_class.scope), []).append(encoded[block.position : stop])
            block.position = stop
            if stop < len(block.end_ns):
                block.first_end_ns = int(block.end_ns[stop])
                keep.append(block)
        self._pending = keep
        return self._assemble(emitted, json=json)

    def _assemble(self, emitted: dict[tuple[int, int], list], *, json: bool) -> list[bytes]:
        limit = self.spans_per_message
        messages: list[bytes] = []
        current: list[tuple[int, int, object]] = []
        count = 0
        for service, scope in sorted(emitted):
            for piece in emitted[(service, scope)]:
                self.spans_emitted += len(piece)
                while len(piece):
                    take = min(len(piece), limit - count)
                    current.append((service, scope, piece[:take]))
                    piece = piece[take:]
                    count += take
                    if count == limit:
                        messages.append(self._message(current, json=json))
                        current, count = [], 0
        if current:
            messages.append(self._message(current, json=json))
        return messages

    def _message(self, pieces: list[tuple[int, int, object]], *, json: bool) -> bytes:
        grouped: list[tuple[int, list[tuple[int, list]]]] = []
        for service, scope, piece in pieces:
            if not grouped or grouped[-1][0] != service:
                grouped.append((service, []))
            scopes = grouped[-1][1]
            if not scopes or scopes[-1][0] != scope:
                scopes.append((scope, []))
            scopes[-1][1].append(piece)
        if json:
            return request_json(
                [
                    (
                        self._resource_json[service],
                        [(self._scope_json[scope], [span for piece in ps for span in piece]) for scope, ps in scopes],
                    )
                    for service, scopes in grouped
                ]
            )
        return request_message(
            [
                (
                    self._resource_bytes[service],
                    [(self._scope_bytes[scope], b"".join(p.tobytes() for p in ps)) for scope, ps in scopes],
                )
                for service, scopes in grouped
            ]
        )
