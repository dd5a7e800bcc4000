"""The feed's typed pipe messages survive a multiprocessing pipe whole, and the window's feed acts on each type."""

from __future__ import annotations

import multiprocessing

import numpy as np

from flowviz.derive.consumer_lag import GroupState, LagFrame, PartitionTable
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.model.timeline_marks import LagMark
from flowviz.sources import pipe_messages as messages
from flowviz.sources.process_feed import CaptureSpec, ProcessFeed
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000


def _observations() -> EdgeObservations:
    return EdgeObservations.from_columns(
        ("", "frontend", "checkout"),
        source=[1, 1],
        target=[2, 2],
        source_kind=NodeKind.SERVICE,
        target_kind=NodeKind.SERVICE,
        connection_type=ConnectionType.DIRECT,
        via=0,
        time_ns=[5 * SECOND_NS, 6 * SECOND_NS],
        latency_ns=[1_000_000, 3_000_000],
        failed=[False, True],
        count=[1, 2],
    )


def _frame() -> LagFrame:
    empty = PartitionTable((), *([np.zeros(0)] * 12))
    return LagFrame(7 * SECOND_NS, (GroupState("billing", "orders", "ok", 0, 24, 3.7, 1.0, 1.0, 2.0, None, 1),), empty)


def test_every_message_type_round_trips_through_a_pipe() -> None:
    problems = {"json: line is not valid JSON": {"count": 2, "first": ["a.json:3", "a.json:9"]}}
    sent = [
        messages.Derived(_observations(), 3, problems),
        messages.SourceStatus({"kind": "otlp", "state": "listening", "requests": 4}),
        messages.LagSeen(_frame()),
        messages.Marks([LagMark(8 * SECOND_NS, "orders", "schema v2")]),
        messages.Done(3, problems, {"a.json": "otlp_json"}, "b.json: missing"),
        messages.Failed("cannot reach prometheus"),
        messages.Crashed("ValueError: boom"),
        messages.Record("/tmp/x.fvrec"),
        messages.Record(None),
        messages.Stop(),
    ]
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    for message in sent:
        ours.send(message)
    received = [theirs.recv() for _ in sent]
    assert [type(message) for message in received] == [type(message) for message in sent]
    derived = received[0]
    assert derived.spans == 3
    assert derived.problems == problems
    assert derived.observations.names == ("", "frontend", "checkout")
    assert derived.observations.count.tolist() == [1, 2]
    assert derived.observations.failed.tolist() == [False, True]
    assert received[2].frame.groups == _frame().groups
    assert received[2].frame.polled_ns == 7 * SECOND_NS
    assert received[1:2] == sent[1:2]
    assert received[3:] == sent[3:]


def test_the_window_feed_acts_on_each_message_type() -> None:
    store = RollingStore()
    feed = ProcessFeed(store, CaptureSpec(("unused.json",)), details=False)
    assert feed._take(messages.Derived(_observations(), 3, {}))
    assert (feed.status.spans, feed.status.calls) == (3, 3)
    assert feed._take(messages.SourceStatus({"kind": "otlp"}))
    assert feed.status.source == {"kind": "otlp"}
    assert feed._take(messages.LagSeen(_frame()))
    assert store.consumer_lag.at(7 * SECOND_NS).groups[0].lag == 24
    assert feed._take(messages.Marks([LagMark(8 * SECOND_NS, "orders", "schema v2")]))
    assert not feed._take(messages.Done(5, {}, {"unused.json": "otlp_json"}, ""))
    assert (feed.status.spans, feed.status.finished, feed.status.formats) == (5, True, {"unused.json": "otlp_json"})
    assert not feed._take(messages.Crashed("ValueError: boom"))  # a capture's worker is not restarted
    assert feed.status.error == "ValueError: boom"
