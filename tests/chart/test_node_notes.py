"""Notes on nodes from a live source (a consumer group's lag) reach the chart frame, Qt-free."""

from __future__ import annotations

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.labels import node_note, with_note
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.observations import EdgeObservations
from flowviz.sources.kafka_events import lag_notes
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000
BASE_NS = 1_700_000_000 * SECOND_NS


def _store() -> RollingStore:
    store = RollingStore()
    store.ingest(
        EdgeObservations.from_columns(
            ("", "shop", "orders", "billing"),
            source=[1, 2],
            target=[2, 3],
            source_kind=[NodeKind.SERVICE, NodeKind.TOPIC],
            target_kind=[NodeKind.TOPIC, NodeKind.SERVICE],
            connection_type=ConnectionType.MESSAGING_SYSTEM,
            via=2,
            time_ns=[BASE_NS, BASE_NS],
            latency_ns=5_000_000,
            failed=False,
        )
    )
    return store


def test_the_model_asks_for_notes_and_a_changed_note_rebuilds_the_frame() -> None:
    status = {"events": {"groups": [{"topic": "orders", "group": "billing", "lag": 1234}]}}
    model = FlowChartModel(_store(), window_s=30.0, live=False)
    model.node_notes = lambda: lag_notes(status)
    assert model.refresh()
    chart = model.chart
    notes = {name: node_note(chart, index) for index, name in enumerate(chart.node_names)}
    assert notes == {"shop": "", "orders": "max lag 1 234 (billing)", "billing": "lag 1 234"}
    assert not model.refresh()  # nothing changed
    status["events"]["groups"][0]["lag"] = 0
    assert model.refresh()
    assert node_note(model.chart, model.chart.node_names.index("billing")) == "lag 0"


def test_without_a_provider_there_are_no_notes() -> None:
    model = FlowChartModel(_store(), window_s=30.0, live=False)
    assert model.refresh()
    assert model.chart.node_note == ()
    assert node_note(model.chart, 0) == ""


def test_lag_notes_sum_a_group_over_topics_and_skip_unknown_lag() -> None:
    groups = [
        {"topic": "a", "group": "g", "lag": 5},
        {"topic": "b", "group": "g", "lag": 7},
        {"topic": "b", "group": "h", "lag": None},
    ]
    assert lag_notes({"events": {"groups": groups}}) == {"g": "lag 12", "a": "max lag 5 (g)", "b": "max lag 7 (g)"}
    assert lag_notes({}) == {}
    assert lag_notes(None) == {}


def test_a_note_follows_the_figures() -> None:
    assert with_note("12.3/s · p95 43 ms", "lag 1 234") == "12.3/s · p95 43 ms · lag 1 234"
    assert with_note("", "lag 3") == "lag 3"
    assert with_note("1.0/s", "") == "1.0/s"
