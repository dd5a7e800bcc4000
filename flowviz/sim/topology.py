"""The schema of a simulated platform: services and their calls, datastores, third-party APIs, topics; checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class NodeType(StrEnum):
    """What a node of the simulated platform is."""

    SERVICE = "service"
    DATABASE = "database"  # SQL, search and analytics stores
    CACHE = "cache"  # redis
    EXTERNAL = "external"  # third-party HTTPS API
    TOPIC = "topic"  # Kafka topic


@dataclass(frozen=True, slots=True)
class Call:
    """One step of an operation: a call to a service operation, a datastore, a third-party API or a topic.

    `operation` is the callee's operation (services), the statement (`SELECT orders`, `GET`) for
    datastores, `METHOD /path` for third-party APIs, unused for topics (the call publishes one
    message). Consecutive calls with `parallel=True` run concurrently (one slot); `repeat` draws a
    fan-out between its bounds. A call with `timeout_ms` gives up (ERROR) when the answer takes
    longer. A failing `critical` call fails the caller's span too.
    """

    target: str
    operation: str = ""
    probability: float = 1.0
    repeat: tuple[int, int] = (1, 1)
    parallel: bool = False
    timeout_ms: float = 0.0
    critical: bool = True


@dataclass(frozen=True, slots=True)
class Operation:
    """An HTTP endpoint (`METHOD /route`) or a message handler (`<Topic> process`) of a service."""

    name: str
    self_ms: float  # median time spent in the service itself (outside its calls)
    calls: tuple[Call, ...] = ()

    @property
    def method(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def route(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else self.name


@dataclass(frozen=True, slots=True)
class Service:
    """An instrumented service: its operations, error rate and latency spread."""

    name: str
    language: str  # telemetry.sdk.language: java, go, python, nodejs
    operations: tuple[Operation, ...]
    error_rate: float = 0.002
    sigma: float = 0.45  # lognormal spread of its self time
    version: str = "1.0.0"

    def operation(self, name: str) -> Operation:
        for operation in self.operations:
            if operation.name == name:
                return operation
        raise KeyError(f"{self.name} has no operation {name!r}")


@dataclass(frozen=True, slots=True)
class Datastore:
    """A database or cache: seen only through the client spans of the services calling it."""

    name: str
    system: str  # db.system: postgresql, redis, elasticsearch, clickhouse
    latency_ms: float
    error_rate: float = 0.0005
    sigma: float = 0.5
    port: int = 5432

    @property
    def node_type(self) -> NodeType:
        return NodeType.CACHE if self.system == "redis" else NodeType.DATABASE


@dataclass(frozen=True, slots=True)
class ExternalApi:
    """A third-party HTTPS API, named by its host (`server.address`)."""

    name: str
    latency_ms: float
    error_rate: float = 0.004
    sigma: float = 0.35


@dataclass(frozen=True, slots=True)
class Subscription:
    """A consumer service of a topic: the operation handling each message, and how its span is tied to the producer.

    `style` "child": the CONSUMER span is a child of the PRODUCER span (same trace); "link": it
    starts a new trace and carries a span link to the PRODUCER span.
    """

    service: str
    operation: str
    style: str = "child"


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    subscriptions: tuple[Subscription, ...]


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """A kind of user request: the front-end operation it starts at and its share of the traffic."""

    label: str
    service: str
    operation: str
    weight: float


@dataclass(frozen=True, slots=True)
class Edge:
    """A connection the platform makes, in the deriver's vocabulary (connection type label, via)."""

    source: str
    target: str
    connection_type: str  # "", "database", "messaging_system", "virtual_node"
    via: str = ""


@dataclass(frozen=True)
class Topology:
    """The whole platform; `validate()` checks every name a call or subscription uses."""

    services: tuple[Service, ...]
    datastores: tuple[Datastore, ...]
    externals: tuple[ExternalApi, ...]
    topics: tuple[Topic, ...]
    entry_points: tuple[EntryPoint, ...]
    network_ms: float = 0.6  # client overhead around a service-to-service call
    publish_ms: float = 1.5  # producer send (broker acknowledgement)
    queue_ms: float = 6.0  # median time a message waits before a consumer starts on it
    _by_name: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for group in (self.services, self.datastores, self.externals, self.topics):
            for item in group:
                if item.name in self._by_name:
                    raise ValueError(f"duplicate node name {item.name!r}")
                self._by_name[item.name] = item

    def node(self, name: str) -> Service | Datastore | ExternalApi | Topic:
        try:
            return self._by_name[name]  # type: ignore[return-value]
        except KeyError:
            raise KeyError(f"no node {name!r} in the topology") from None

    def node_type(self, name: str) -> NodeType:
        node = self.node(name)
        if isinstance(node, Service):
            return NodeType.SERVICE
        if isinstance(node, Datastore):
            return node.node_type
        if isinstance(node, ExternalApi):
            return NodeType.EXTERNAL
        return NodeType.TOPIC

    def service(self, name: str) -> Service:
        node = self.node(name)
        if not isinstance(node, Service):
            raise KeyError(f"{name!r} is not a service")
        return node

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def validate(self) -> None:
        """Raise ValueError naming the first call, subscription or entry point that refers to nothing."""
        for service in self.services:
            for operation in service.operations:
                for call in operation.calls:
                    where = f"{service.name} {operation.name!r} -> {call.target}"
                    if call.target not in self._by_name:
                        raise ValueError(f"{where}: unknown target")
                    target = self._by_name[call.target]
                    if isinstance(target, Service):
                        try:
                            target.operation(call.operation)
                        except KeyError as error:
                            raise ValueError(f"{where}: {error.args[0]}") from None
                    if not (0.0 <= call.probability <= 1.0) or not (1 <= call.repeat[0] <= call.repeat[1]):
                        raise ValueError(f"{where}: bad probability or repeat")
        for topic in self.topics:
            for subscription in topic.subscriptions:
                try:
                    self.service(subscription.service).operation(subscription.operation)
                except KeyError as error:
                    raise ValueError(f"topic {topic.name}: {error.args[0]}") from None
                if subscription.style not in ("child", "link"):
                    raise ValueError(f"topic {topic.name}: style must be 'child' or 'link'")
        for entry in self.entry_points:
            try:
                self.service(entry.service).operation(entry.operation)
            except KeyError as error:
                raise ValueError(f"entry point {entry.label}: {error.args[0]}") from None

    def edges(self) -> tuple[Edge, ...]:
        """Every connection the platform can make, as the deriver names it (user -> entry services too)."""
        seen: dict[Edge, None] = {}
        for entry in self.entry_points:
            seen[Edge("user", entry.service, "virtual_node")] = None
        for service in self.services:
            for operation in service.operations:
                for call in operation.calls:
                    kind = self.node_type(call.target)
                    if kind is NodeType.SERVICE:
                        edges = [Edge(service.name, call.target, "")]
                    elif kind in (NodeType.DATABASE, NodeType.CACHE):
                        edges = [Edge(service.name, call.target, "database")]
                    elif kind is NodeType.EXTERNAL:
                        edges = [Edge(service.name, call.target, "virtual_node")]
                    else:
                        topic = self.node(call.target)
                        edges = [
                            Edge(service.name, s.service, "messaging_system", call.target)
                            for s in topic.subscriptions  # type: ignore[union-attr]
                        ]
                    seen.update(dict.fromkeys(edges))
        return tuple(seen)

    def summary(self) -> dict[str, int]:
        """Node counts by type, plus edges (as derived) and topic subscriptions."""
        counts = {t.value: 0 for t in NodeType}
        for name in self._by_name:
            counts[self.node_type(name).value] += 1
        counts["nodes"] = len(self._by_name)
        counts["edges"] = len(self.edges())
        counts["subscriptions"] = sum(len(t.subscriptions) for t in self.topics)
        return counts
