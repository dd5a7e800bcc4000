"""Incident scripts as data: occurrences for the timeline, strength over time, validation."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.sim import NO_INCIDENTS, Effect, Incident, IncidentScript, default_script

S = 1_000_000_000
T0 = 1_700_000_000 * S


def test_occurrences_repeat_with_the_cycle_for_the_timeline() -> None:
    script = default_script()
    occurrences = script.occurrences(T0, T0 + 1200 * S, start_ns=T0)
    assert len(occurrences) == 10
    assert [o.start_ns for o in occurrences] == sorted(o.start_ns for o in occurrences)
    first, second = (o for o in occurrences if o.incident.name == "payments-db-slow")
    assert (first.start_ns, first.end_ns) == (T0 + 120 * S, T0 + 300 * S)
    assert second.start_ns == first.start_ns + 600 * S
    assert script.occurrences(T0 + 321 * S, T0 + 365 * S, start_ns=T0) == []  # between incidents
    assert [o.incident.name for o in script.occurrences(T0 + 299 * S, T0 + 300 * S, start_ns=T0)] == [
        "payments-db-slow",
        "orders-backlog",
    ]


def test_strength_ramps_in_and_out() -> None:
    incident = Incident("x", "x", "svc", Effect.LATENCY, 5.0, start_s=100, duration_s=60, ramp_in_s=20, ramp_out_s=10)
    offsets = np.array([99, 100, 110, 120, 140, 150, 155, 160, 200])
    assert incident.strength(offsets).tolist() == pytest.approx([0, 0, 0.5, 1, 1, 1, 0.5, 0, 0])
    script = IncidentScript((incident,), cycle_s=300)
    assert script.strength(incident, T0 + 410 * S, start_ns=T0) == pytest.approx(0.5)
    assert script.strength(incident, T0 - 190 * S, start_ns=T0) == 0  # nothing before the start
    (active,) = script.active_at(T0 + 430 * S, start_ns=T0)
    assert active.strength == 1.0
    assert active.occurrence.start_ns == T0 + 400 * S
    assert NO_INCIDENTS.active_at(T0, start_ns=T0) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"effect": Effect.ERRORS, "magnitude": 1.5}, "error rate"),
        ({"effect": Effect.LATENCY, "magnitude": 0.0}, "multiplier"),
        ({"duration_s": 0}, "empty"),
        ({"ramp_in_s": 50, "ramp_out_s": 50}, "ramps"),
        ({"effect": Effect.CONSUMER_LAG}, "topic"),
        ({"topic": "OrderPlaced"}, "topic"),
    ],
)
def test_incidents_are_validated(arguments: dict, message: str) -> None:
    fields = {"name": "x", "title": "x", "target": "svc", "effect": Effect.LATENCY, "magnitude": 2.0}
    fields |= {"start_s": 0, "duration_s": 60} | arguments
    with pytest.raises(ValueError, match=message):
        Incident(**fields)
