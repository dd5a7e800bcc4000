"""Trace shapes sampled from the topology: the spans one execution of an entry point makes."""

from __future__ import annotations

import random

from flowviz.sim.span_classes import SpanClassBook
from flowviz.sim.topology import Call, Datastore, ExternalApi, Operation, Service, Topic, Topology
from flowviz.sim.trace_tables import CLIENT, CONSUMER, LEAF, PRODUCER, SERVER, Node

_MAX_DEPTH = 16
_PARALLEL_STAGGER_NS = 40_000  # parallel calls leave one after the other, 40 µs apart


class ShapeSampler:
    """Samples trace shapes of `topology`, numbering their span classes in `book`.

    `key_index` numbers the topology's nodes (incident targets), `subscription_index` its
    (topic, consumer service) subscriptions.
    """

    def __init__(
        self,
        topology: Topology,
        book: SpanClassBook,
        *,
        key_index: dict[str, int],
        subscription_index: dict[tuple[str, str], int],
    ) -> None:
        self.topology = topology
        self.book = book
        self.key_index = key_index
        self.subscription_index = subscription_index

    def sample(self, rng: random.Random, shapes_per_entry: int) -> tuple[list[list[Node]], list[float]]:
        """`shapes_per_entry` shapes of every entry point, and the probability weight of each shape."""
        topology = self.topology
        shapes, weights = [], []
        total_weight = sum(e.weight for e in topology.entry_points)
        for entry in topology.entry_points:
            service = topology.service(entry.service)
            for _ in range(shapes_per_entry):
                nodes: list[Node] = []
                self._expand_operation(
                    nodes, rng, service, service.operation(entry.operation), parent=-1, trace_slot=0, depth=0
                )
                shapes.append(nodes)
                weights.append(entry.weight / total_weight / shapes_per_entry)
        return shapes, weights

    def _expand_operation(
        self,
        nodes: list[Node],
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
            klass = self.book.klass(
                ("server", service.name, operation.name, parent >= 0),
                lambda: self.book.server_class(service, operation, has_parent=parent >= 0),
            )
            nodes.append(
                Node(
                    SERVER,
                    parent,
                    klass,
                    operation.self_ms * 1e6,
                    service.sigma,
                    self.key_index[service.name],
                    service.error_rate,
                    slot=0 if parent >= 0 else -1,  # the whole of its client's time
                    trace_slot=trace_slot,
                )
            )
        else:
            klass = self.book.klass(
                ("consumer", service.name, consumer_of.name, linked),
                lambda: self.book.consumer_class(service, consumer_of, linked=linked),
            )
            nodes.append(
                Node(
                    CONSUMER,
                    parent,
                    klass,
                    operation.self_ms * 1e6,
                    service.sigma,
                    self.key_index[service.name],
                    service.error_rate,
                    subscription=self.subscription_index[(consumer_of.name, service.name)],
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
        nodes: list[Node],
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
            klass = self.book.klass(
                ("client", service.name, target.name, operation.name),
                lambda: self.book.client_class(service, target, operation),
            )
            client = len(nodes)
            nodes.append(
                Node(
                    CLIENT,
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
            klass = self.book.klass(
                ("leaf", service.name, target.name, call.operation),
                lambda: self.book.leaf_class(service, target, call.operation),
            )
            nodes.append(
                Node(
                    LEAF,
                    parent,
                    klass,
                    target.latency_ms * 1e6,
                    target.sigma,
                    self.key_index[target.name],
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
            klass = self.book.klass(
                ("producer", service.name, topic.name), lambda: self.book.producer_class(service, topic)
            )
            producer = len(nodes)
            nodes.append(
                Node(
                    PRODUCER,
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
