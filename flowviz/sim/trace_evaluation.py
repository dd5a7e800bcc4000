"""Evaluating a tick's traces all at once on the trace tables: durations, outcomes, start times and ids."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flowviz.sim.trace_tables import CLIENT, DOWN_CONSUMER, DOWN_IN_CLIENT, LEAF, TraceTables

# outcomes: OK, ERROR (500 / failed call), UPSTREAM_TIMEOUT (a 504 answer), TIMEOUT (the caller gave up)
OK, ERROR, UPSTREAM_TIMEOUT, TIMEOUT = range(4)
OUTCOMES = 4
_AS_SEEN_BY_CALLER = np.array([OK, ERROR, UPSTREAM_TIMEOUT, UPSTREAM_TIMEOUT], np.int8)
_U64_MAX = np.iinfo(np.uint64).max


class IncidentEffects(NamedTuple):
    """Per incident target at each trace start: latency multipliers, error rates and consumer lags (ns)."""

    latency: dict[int, np.ndarray]  # by node index (the tables' `key`)
    errors: dict[int, np.ndarray]  # by node index
    lag: dict[int, np.ndarray]  # by subscription index


def evaluate_traces(
    tables: TraceTables,
    starts_ns: np.ndarray,
    shape_of: np.ndarray,
    rng: np.random.Generator,
    effects: IncidentEffects,
    *,
    queue_mu: float,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Times, outcomes and ids of every span of the given traces (their shapes and starts), all traces at once.

    `queue_mu` is the log of the median time (ns) a message waits before its consumer starts. Returns
    the span columns (`key` is class × OUTCOMES + outcome, `trace` a row of the trace id table) and
    the trace id table (one (hi, lo) row per trace slot: link consumers start new traces).
    """
    t = tables
    latency, errors, lag = effects
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
    late = (role == LEAF) & (timeout_ns > 0) & (duration > timeout_ns)
    duration[late] = timeout_ns[late]
    outcome[late] = TIMEOUT

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
        in_client = role[owner] == CLIENT
        c, p = child[in_client], owner[in_client]
        spent = duration[c] + own[p]
        gave_up = (timeout_ns[p] > 0) & (spent > timeout_ns[p])
        duration[p] = np.where(gave_up, timeout_ns[p], spent)
        outcome[p] = np.where(gave_up, TIMEOUT, outcome[c])
        c, p = child[~in_client], owner[~in_client]
        slots = span_slot[c]
        np.maximum.at(slot_ns, slots, duration[c] + t.stagger_ns[row[c]])
        seen = _AS_SEEN_BY_CALLER[outcome[c]] * t.critical[row[c]]
        np.maximum.at(slot_failed, slots, seen > 0)
        # after a critical call failed the operation gives up: its later slots never run
        level_slots = np.unique(slots)  # whole owners, each owner's slots consecutive
        failures = np.cumsum(slot_failed[level_slots])
        owner_first = np.searchsorted(level_slots, slot_first[level_slots])
        earlier = failures - slot_failed[level_slots] - failures[owner_first] + slot_failed[level_slots[owner_first]]
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
    consumers = np.flatnonzero(down == DOWN_CONSUMER)
    wait = np.zeros(spans, np.int64)
    wait[consumers] = np.exp(queue_mu + 0.8 * rng.standard_normal(consumers.size)).astype(np.int64)
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
        after = np.where(kind == DOWN_CONSUMER, duration[p] + wait[child], in_slot)
        start[child] = start[p] + np.where(kind == DOWN_IN_CLIENT, own[p] // 2, after)
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
        "key": t.klass[row] * OUTCOMES + outcome,
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
