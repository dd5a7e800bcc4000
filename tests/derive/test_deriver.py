"""Edge derivation rules, one test per rule, plus the Collector's own golden traces as oracles."""

from __future__ import annotations

import itertools
from collections import Counter

import orjson
import pytest
import yaml

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_json import add_otlp_json
from flowviz.derive.deriver import LATE_CONSUMER, ORPHAN_SERVER, UNCONSUMED_PRODUCER, UNNAMED_CLIENT, EdgeDeriver
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanKind, StatusCode

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def _id(name: str | None) -> str | None:
    """Readable test ids ("s1", "p1") as the hex ids spans carry."""
    return name.encode().hex() if name else None


def span(trace, span_id, parent, service, kind, start_s=0.0, duration_ms=10.0, links=(), **extra):
    return {
        "trace_id": _id(trace),
        "span_id": _id(span_id),
        "parent_id": _id(parent),
        "links": [(_id(t), _id(s)) for t, s in links],
        "service": service,
        "kind": kind,
        "start_ns": T0 + int(start_s * SECOND),
        "end_ns": T0 + int(start_s * SECOND) + int(duration_ms * 1e6),
        **extra,
    }


def derive(*spans, ttl_s: float = 30.0, split: int | None = None) -> tuple[EdgeObservations, Problems]:
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    deriver = EdgeDeriver(ttl_ns=int(ttl_s * SECOND), problems=problems)
    parts = []
    for index, fields in enumerate(spans):
        builder.add(**fields)
        if split and (index + 1) % split == 0:
            parts.append(deriver.process(builder.build()))
    parts.append(deriver.process(builder.build()))
    parts.append(deriver.flush())
    return EdgeObservations.concat(parts), problems


def calls(observations: EdgeObservations) -> Counter:
    """(source, target, connection type, via) -> number of calls."""
    names = observations.names
    columns = (observations.source, observations.target, observations.connection_type, observations.via)
    counter: Counter = Counter()
    for source, target, connection, via, count in zip(*columns, observations.count, strict=True):
        counter[(names[source], names[target], ConnectionType(connection).label, names[via])] += int(count)
    return counter


def test_client_server_pair_is_one_call_with_server_latency_and_either_side_failing():
    observations, problems = derive(
        span("a1", "c1", "r1", "frontend", SpanKind.CLIENT, 0, 30, status=StatusCode.ERROR),
        span("a1", "s1", "c1", "checkout", SpanKind.SERVER, 0.001, 20),
        span("a1", "r1", None, "frontend", SpanKind.SERVER, 0, 40),
    )
    assert calls(observations) == {("frontend", "checkout", "", ""): 1, ("user", "frontend", "virtual_node", ""): 1}
    row = next(i for i in range(len(observations)) if observations.names[observations.target[i]] == "checkout")
    assert observations.latency_ns[row] == 20_000_000
    assert observations.client_latency_ns[row] == 30_000_000
    assert observations.server_latency_ns[row] == 20_000_000
    assert observations.failed[row]  # the client side's ERROR counts
    assert observations.time_ns[row] == T0  # the client's start
    assert problems.total == 0


def test_server_arriving_before_its_client_in_a_later_batch_still_pairs():
    observations, problems = derive(
        span("a1", "s1", "c1", "checkout", SpanKind.SERVER, 0.001, 20),
        span("a1", "c1", "r1", "frontend", SpanKind.CLIENT, 0, 30),
        split=1,
    )
    assert calls(observations)[("frontend", "checkout", "", "")] == 1
    # the client's own parent r1 never arrives: a client span looking for an outer client is not a problem
    assert problems.total == 0


def test_database_client_span_is_a_complete_call_at_once():
    observations, _ = derive(
        span(
            "a1",
            "c1",
            None,
            "orders",
            SpanKind.CLIENT,
            0,
            5,
            attributes={"db.system": "postgresql", "db.name": "orders-db"},
        ),
    )
    assert calls(observations) == {("orders", "orders-db", "database", ""): 1}
    assert observations.target_kind[0] == NodeKind.DATABASE


def test_root_server_gets_the_virtual_client_user():
    observations, _ = derive(span("a1", "s1", None, "gateway", SpanKind.SERVER, 0, 5))
    assert calls(observations) == {("user", "gateway", "virtual_node", ""): 1}
    assert observations.source_kind[0] == NodeKind.USER


def test_every_consumer_of_a_fanned_out_message_counts():
    observations, _ = derive(
        span(
            "a1",
            "p1",
            None,
            "orders",
            SpanKind.PRODUCER,
            0,
            1,
            attributes={"messaging.destination.name": "OrderPlaced"},
        ),
        span("a1", "k1", "p1", "billing", SpanKind.CONSUMER, 0.5, 3),
        span("a1", "k2", "p1", "shipping", SpanKind.CONSUMER, 0.7, 4),
        span("a1", "k3", "p1", "analytics", SpanKind.CONSUMER, 2.0, 9),
    )
    found = calls(observations)
    for consumer in ("billing", "shipping", "analytics"):
        assert found[("orders", consumer, "messaging_system", "OrderPlaced")] == 1
    assert sum(found.values()) == 3  # the producer is claimed: no extra virtual edge to the topic


def test_consumer_pairs_with_its_producer_through_span_links():
    observations, _ = derive(
        span("a1", "p1", None, "orders", SpanKind.PRODUCER, 0, 1, attributes={"messaging.destination.name": "orders"}),
        span("a2", "k1", None, "billing", SpanKind.CONSUMER, 1, 2, links=[("a1", "p1")]),
        span("a3", "k2", "x9", "audit", SpanKind.CONSUMER, 1, 2, links=[("a1", "p1")]),
    )
    assert calls(observations) == {
        ("orders", "billing", "messaging_system", "orders"): 1,
        ("orders", "audit", "messaging_system", "orders"): 1,
    }


def test_unconsumed_producer_is_drawn_to_its_topic_and_counted():
    observations, problems = derive(
        span("a1", "p1", None, "orders", SpanKind.PRODUCER, 0, 1, attributes={"messaging.destination.name": "orders"}),
    )
    assert calls(observations) == {("orders", "orders", "virtual_node", "orders"): 1}
    assert observations.target_kind[0] == NodeKind.TOPIC
    assert problems.count(UNCONSUMED_PRODUCER) == 1


def test_root_consumer_is_fed_by_its_topic():
    observations, _ = derive(
        span("a1", "k1", None, "billing", SpanKind.CONSUMER, 0, 1, attributes={"messaging.destination.name": "orders"}),
    )
    assert calls(observations) == {("orders", "billing", "virtual_node", "orders"): 1}
    assert observations.source_kind[0] == NodeKind.TOPIC


def test_a_message_consumed_after_the_ttl_is_drawn_through_its_topic_not_lost():
    """A consumer far behind: its span starts 50 s after the message was sent (TTL 30 s). The producer has been drawn
    to its topic by then; the consumer is fed by the topic, as a root consumer is, and counted — not dropped."""
    topic = {"attributes": {"messaging.destination.name": "orders"}}
    observations, problems = derive(
        span("a1", "p1", "r1", "checkout", SpanKind.PRODUCER, 0, 1, **topic),
        span("a9", "x1", None, "checkout", SpanKind.SERVER, 45, 1),  # time moves on
        span("a1", "k1", "p1", "fulfillment", SpanKind.CONSUMER, 50, 7, **topic),
        span("a9", "x2", None, "checkout", SpanKind.SERVER, 90, 1),
        split=1,
    )
    assert calls(observations) == {
        ("checkout", "orders", "virtual_node", "orders"): 1,
        ("orders", "fulfillment", "virtual_node", "orders"): 1,
        ("user", "checkout", "virtual_node", ""): 2,
    }
    row = next(i for i in range(len(observations)) if observations.names[observations.target[i]] == "fulfillment")
    assert observations.source_kind[row] == NodeKind.TOPIC
    assert observations.time_ns[row] == T0 + 50 * SECOND  # when it was consumed
    assert observations.server_latency_ns[row] == 7_000_000
    counts = (problems.count(UNCONSUMED_PRODUCER), problems.count(LATE_CONSUMER), problems.count(ORPHAN_SERVER))
    assert counts == (1, 1, 0)


def test_a_late_consumer_naming_only_its_broker_is_fed_by_it_as_a_root_consumer_would_be():
    broker = {"attributes": {"peer.service": "kafka"}}
    late, problems = derive(span("a1", "k1", "p9", "billing", SpanKind.CONSUMER, 0, 1, **broker))
    root, _ = derive(span("a1", "k1", None, "billing", SpanKind.CONSUMER, 0, 1, **broker))
    assert calls(late) == calls(root) == {("kafka", "billing", "virtual_node", ""): 1}
    assert late.source_kind[0] == root.source_kind[0] == NodeKind.TOPIC
    assert problems.count(LATE_CONSUMER) == 1


def test_a_server_whose_parent_never_arrived_is_still_only_counted():
    observations, problems = derive(span("a1", "s1", "c9", "checkout", SpanKind.SERVER, 0, 5))
    assert len(observations) == 0
    assert (problems.count(ORPHAN_SERVER), problems.count(LATE_CONSUMER)) == (1, 0)


def test_spans_without_kind_fall_back_to_parent_child_across_services():
    observations, problems = derive(
        span("a1", "01", None, "nginx", SpanKind.UNSPECIFIED, 0, 9),
        span("a1", "02", "01", "nginx", SpanKind.UNSPECIFIED, 0.001, 8),  # same service: no call
        span("a1", "03", "02", "compose", SpanKind.UNSPECIFIED, 0.002, 7),
        span("a1", "04", "03", "text", SpanKind.UNSPECIFIED, 0.003, 2, status=StatusCode.ERROR),
    )
    assert calls(observations) == {
        ("user", "nginx", "virtual_node", ""): 1,
        ("nginx", "compose", "", ""): 1,
        ("compose", "text", "", ""): 1,
    }
    failed = {observations.names[t]: bool(f) for t, f in zip(observations.target, observations.failed, strict=True)}
    assert failed == {"nginx": False, "compose": False, "text": True}
    assert problems.total == 0


def test_uninstrumented_peers_are_named_by_precedence_then_unknown():
    observations, problems = derive(
        span(
            "a1",
            "c1",
            None,
            "web",
            SpanKind.CLIENT,
            0,
            1,
            attributes={"peer.service": "payments", "server.address": "10.0.0.1"},
        ),
        span("a1", "c2", None, "web", SpanKind.CLIENT, 0, 1, attributes={"server.address": "api.stripe.test"}),
        span("a1", "c3", None, "web", SpanKind.CLIENT, 0, 1, attributes={"url.full": "https://maps.example.test/v1"}),
        span("a1", "c4", None, "web", SpanKind.CLIENT, 0, 1),
    )
    assert calls(observations) == {
        ("web", "payments", "virtual_node", ""): 1,
        ("web", "api.stripe.test", "virtual_node", ""): 1,
        ("web", "maps.example.test", "virtual_node", ""): 1,
        ("web", "unknown", "virtual_node", ""): 1,
    }
    kinds = {
        observations.names[t]: NodeKind(k) for t, k in zip(observations.target, observations.target_kind, strict=True)
    }
    assert kinds == {
        "payments": NodeKind.SERVICE,
        "api.stripe.test": NodeKind.EXTERNAL,
        "maps.example.test": NodeKind.EXTERNAL,
        "unknown": NodeKind.EXTERNAL,
    }
    # naming the peer makes it an ordinary call to an uninstrumented service; only "unknown" is a problem
    assert problems.count(UNNAMED_CLIENT) == 1


def test_outer_client_span_claimed_by_an_inner_client_is_not_counted_twice():
    observations, _ = derive(
        span("a1", "c1", None, "agent", SpanKind.CLIENT, 0, 900, attributes={"gen_ai.provider.name": "example-ai"}),
        span(
            "a1",
            "c2",
            "c1",
            "agent",
            SpanKind.CLIENT,
            0.01,
            850,
            attributes={"url.full": "https://api.example-ai.test/v1"},
        ),
    )
    assert calls(observations) == {("agent", "api.example-ai.test", "virtual_node", ""): 1}


def test_halves_wait_the_ttl_in_event_time_not_wall_time():
    # the server's parent arrives 40 s (event time) after the watermark moved on: expired at TTL 30 s
    late, problems = derive(
        span("a1", "s1", "c1", "checkout", SpanKind.SERVER, 0, 20),
        span("z9", "x1", None, "other", SpanKind.SERVER, 40, 1),
        span("a1", "c1", None, "frontend", SpanKind.CLIENT, 0, 30),
        split=1,
    )
    assert ("frontend", "checkout", "", "") not in calls(late)
    assert problems.count(ORPHAN_SERVER) == 1
    # the same spans with a TTL longer than the disorder pair up
    on_time, _ = derive(
        span("a1", "s1", "c1", "checkout", SpanKind.SERVER, 0, 20),
        span("z9", "x1", None, "other", SpanKind.SERVER, 40, 1),
        span("a1", "c1", None, "frontend", SpanKind.CLIENT, 0, 30),
        split=1,
        ttl_s=60,
    )
    assert calls(on_time)[("frontend", "checkout", "", "")] == 1


def _golden(captures_dir, name: str) -> EdgeObservations:
    document = yaml.safe_load((captures_dir / "otlp-golden-yaml" / name).read_text())
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    add_otlp_json(orjson.loads(orjson.dumps(document)), builder, problems, name)
    deriver = EdgeDeriver(problems=problems)
    return EdgeObservations.concat([deriver.process(builder.build()), deriver.flush()])


def test_collector_golden_virtual_node_trace(captures_dir):
    # expected by the connector's own test: foo-server -> unknown and user -> bar-requester
    observations = _golden(captures_dir, "otelcol-contrib-servicegraph-virtual-node-label-trace.yaml")
    assert calls(observations) == {
        ("foo-server", "unknown", "virtual_node", ""): 1,
        ("user", "bar-requester", "virtual_node", ""): 1,
    }


def test_collector_golden_messaging_system_trace(captures_dir):
    observations = _golden(captures_dir, "otelcol-contrib-servicegraph-messaging-system-trace.yaml")
    assert calls(observations) == {("foo-server", "bar-requester", "", ""): 1}


@pytest.mark.parametrize("ttl_s", [5.0, 30.0])
def test_pending_state_is_bounded_by_the_ttl(ttl_s):
    problems = Problems()
    deriver = EdgeDeriver(ttl_ns=int(ttl_s * SECOND), problems=problems)
    builder = SpanBatchBuilder(problems)
    for second in range(120):
        for k in range(50):
            builder.add(**span(f"{second:x}{k:03x}", "c1", None, "web", SpanKind.CLIENT, second, 5))
        deriver.process(builder.build())
    # only the last ttl seconds (+1 batch) of client spans may still wait
    assert deriver.pending_spans <= (ttl_s + 2) * 50


def test_duplicate_spans_are_counted_once():
    pair = (
        span("a1", "c1", None, "frontend", SpanKind.CLIENT, 0, 30),
        span("a1", "s1", "c1", "checkout", SpanKind.SERVER, 0.001, 20),
    )
    # the same two spans delivered twice: inside one batch, and again in a later batch
    observations, problems = derive(*pair, *pair, *pair, split=2)
    assert calls(observations) == {("frontend", "checkout", "", ""): 1}
    assert problems.count("derive: duplicate span (ignored)") == 4


def test_same_span_id_in_two_services_is_not_a_duplicate():
    observations, problems = derive(
        span("a1", "c1", None, "frontend", SpanKind.CLIENT, 0, 30),
        span("a1", "c1", None, "backend", SpanKind.CLIENT, 0, 30),
    )
    assert sum(calls(observations).values()) == 2
    assert problems.count("derive: duplicate span (ignored)") == 0


def test_internal_span_whose_parent_is_in_another_service_is_a_call_like_a_kindless_one():
    observations, problems = derive(
        span("a1", "r1", None, "gateway", SpanKind.SERVER, 0, 50),
        span("a1", "i1", "r1", "worker", SpanKind.INTERNAL, 0.001, 20),  # the SDK never set a kind
        span("a1", "i2", "i1", "worker", SpanKind.INTERNAL, 0.002, 5),  # same service: no call
        span("a1", "i3", None, "cron", SpanKind.INTERNAL, 0, 5),  # a root INTERNAL span: work begun inside
    )
    assert calls(observations) == {("user", "gateway", "virtual_node", ""): 1, ("gateway", "worker", "", ""): 1}
    row = next(i for i in range(len(observations)) if observations.names[observations.target[i]] == "worker")
    assert observations.latency_ns[row] == 20_000_000
    assert problems.total == 0


def test_internal_child_of_a_client_span_in_another_service_is_its_server_half():
    observations, _ = derive(
        span("a1", "c1", None, "web", SpanKind.CLIENT, 0, 30),
        span("a1", "i1", "c1", "api", SpanKind.INTERNAL, 0.001, 20),
    )
    assert calls(observations) == {("web", "api", "", ""): 1}  # not also web -> unknown


def test_a_span_repeated_with_a_64_and_a_128_bit_trace_id_counts_once():
    wide = "0000000000000001" + b"a1".hex().rjust(16, "0")
    pair = (
        span("a1", "c1", None, "frontend", SpanKind.CLIENT, 0, 30),
        span("a1", "s1", "c1", "checkout", SpanKind.SERVER, 0.001, 20),
    )
    repeat = {**pair[1], "trace_id": wide}  # the server reported again by a collector that widened the id
    observations, problems = derive(*pair, repeat, split=2)
    assert calls(observations) == {("frontend", "checkout", "", ""): 1}
    assert problems.count("derive: duplicate span (ignored)") == 1


def test_client_and_server_halves_with_one_span_id_are_one_call_in_any_batch_split():
    spans = (
        span("a1", "r1", None, "frontend", SpanKind.SERVER, 0, 50),
        span("a1", "c1", "r1", "frontend", SpanKind.CLIENT, 0.001, 30, status=StatusCode.ERROR),
        span("a1", "c1", "r1", "backend", SpanKind.SERVER, 0.002, 20),
        span("a1", "k1", "c1", "backend", SpanKind.UNSPECIFIED, 0.003, 5),  # the server's local work
    )
    whole, _ = derive(*spans)
    expected = {("user", "frontend", "virtual_node", ""): 1, ("frontend", "backend", "", ""): 1}
    assert calls(whole) == expected
    failed = {
        (whole.names[s], whole.names[t]): bool(f)
        for s, t, f in zip(whole.source, whole.target, whole.failed, strict=True)
    }
    assert failed[("frontend", "backend")]  # the client half's ERROR fails the call
    # every arrival order, one span per batch: the halves and the server's child in any order
    for order in itertools.permutations(range(len(spans))):
        observations, problems = derive(*(spans[i] for i in order), split=1)
        assert calls(observations) == expected, order
        assert problems.total == 0, order
