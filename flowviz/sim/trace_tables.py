"""Sampled trace shapes compiled to flat arrays: one row per template span, shapes one after another."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# node roles in a compiled trace shape
SERVER, CLIENT, LEAF, PRODUCER, CONSUMER = range(5)
# how a span's start time follows from its parent's
DOWN_ROOT, DOWN_IN_CLIENT, DOWN_IN_SLOT, DOWN_CONSUMER = range(4)


@dataclass(slots=True)
class Node:
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


class TraceTables:
    """All sampled trace shapes compiled to flat arrays (one row per template span, shapes one after another).

    A tick of traffic is then evaluated for all its traces at once: spans are rows gathered from these
    tables, durations are computed bottom-up one tree height at a time and start times top-down one
    depth at a time, whatever the mix of shapes.
    """

    def __init__(self, shapes: list[list[Node]]) -> None:
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
    def _add_shape(nodes: list[Node], columns: dict[str, list], slot_owner: list[int], slot_first: list[int]) -> None:
        n = len(nodes)
        children: list[list[int]] = [[] for _ in range(n)]
        for i, x in enumerate(nodes):
            if x.parent >= 0:
                children[x.parent].append(i)
        height = [0] * n
        for i in range(n - 1, -1, -1):  # pre-order: children come after their parent
            sync = [c for c in children[i] if nodes[c].role != CONSUMER]
            height[i] = 1 + max(height[c] for c in sync) if sync else 0
        depth = [0] * n
        slot_count = [0] * n
        slot_base = [0] * n
        local_slots = 0
        for i, x in enumerate(nodes):
            if x.parent >= 0:
                depth[i] = depth[x.parent] + 1
            if x.role in (SERVER, CONSUMER):
                slots = [nodes[c].slot for c in children[i] if nodes[c].role != CONSUMER]
                slot_count[i] = max(slots) + 1 if slots else 0
                slot_base[i] = local_slots
                for _ in range(slot_count[i]):
                    slot_owner.append(i)
                    slot_first.append(local_slots)
                local_slots += slot_count[i]
        for i, x in enumerate(nodes):
            parent = nodes[x.parent] if x.parent >= 0 else None
            linked = x.role == CONSUMER and parent is not None and parent.trace_slot != x.trace_slot
            if parent is None or x.role == CONSUMER:
                down, child_slot, numerator, denominator = DOWN_ROOT if parent is None else DOWN_CONSUMER, -1, 0, 1
            elif parent.role == CLIENT:
                down, child_slot, numerator, denominator = DOWN_IN_CLIENT, -1, 0, 1
            else:
                down, child_slot = DOWN_IN_SLOT, slot_base[x.parent] + x.slot
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
                "critical": x.critical and down == DOWN_IN_SLOT,
                "stagger_ns": x.stagger_ns,
                "subscription": x.subscription,
                "trace_slot": x.trace_slot,
                "linked": linked,
                "has_parent_id": parent is not None and not linked,
                "up_level": height[x.parent] if parent is not None and x.role != CONSUMER else 0,
                "depth": depth[i],
                "down": down,
                "child_slot": child_slot,
                "numerator": numerator,
                "denominator": denominator,
            }
            for name, value in row.items():
                columns[name].append(value)


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
