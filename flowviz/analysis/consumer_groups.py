"""The consumer groups of a report's window: each group's state, lag in messages and time, trend, partitions."""

from __future__ import annotations

from flowviz.store.lag_history import LagHistory


def consumer_groups(history: LagHistory, start_ns: int | None, end_ns: int | None) -> dict[str, object]:
    """`{"at", "groups": [GroupState as a dict with its partitions], "marks": [...]}` as of the last look before
    `end_ns` (None: the latest), with the window's rebalances and changes of state; {} without looks."""
    frame = history.at(end_ns)
    if frame is None:
        return {}
    groups = []
    for state in frame.groups:
        entry = state.as_dict()
        entry["partitions"] = frame.partitions.rows(state.group, state.topic)
        groups.append(entry)
    low = start_ns if start_ns is not None else -(1 << 62)
    high = end_ns if end_ns is not None else 1 << 62
    marks = [{"time_ns": m.time_ns, "group": m.group, "text": m.text} for m in history.marks(low, high)]
    return {"at_ns": frame.polled_ns, "groups": groups, "marks": marks}
