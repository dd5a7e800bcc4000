"""Marks on the timeline from the consumer groups: rebalances and a group turning warning, stalled, stopped..."""

from __future__ import annotations

from flowviz.analysis.incident_marks import IncidentMark
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000


def consumer_marks(store: RollingStore, start_ns: int, end_ns: int) -> list[IncidentMark]:
    """One second-wide mark per rebalance or change of a group's state in [start_ns, end_ns), `group: text`."""
    return [
        IncidentMark(mark.time_ns, mark.time_ns + SECOND_NS, f"{mark.group}: {mark.text}")
        for mark in store.consumer_lag.marks(start_ns, end_ns)
    ]
