"""The critical path of one trace: which spans its duration waits on, and how much of it each service accounts for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from flowviz.model.span_batch import SpanKind

_CONSUMER, _PRODUCER, _CLIENT = int(SpanKind.CONSUMER), int(SpanKind.PRODUCER), int(SpanKind.CLIENT)
_FAR = 1 << 62


class SpanColumns(Protocol):
    """Anything with the span columns the critical path needs (a `SpanBatch` of one trace, a `TraceSpans`)."""

    span_id: np.ndarray
    parent_id: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    service: np.ndarray
    kind: np.ndarray
    peer: np.ndarray
    strings: tuple[str, ...] | list[str]


@dataclass(frozen=True, slots=True, eq=False)
class CriticalPath:
    """Per span (input order) whether it is on the critical path and its self-time there; totals per service.

    `self_ns` sums to `duration_ns - unattributed_ns`; `unattributed_ns` is time between several
    roots that no span covers. `start_ns`/`end_ns` are the span times the path was computed on
    (skew-corrected, messages clipped to their producer).
    """

    critical: np.ndarray  # bool
    self_ns: np.ndarray  # int64, time on the critical path not covered by a critical child
    start_ns: np.ndarray  # int64, adjusted
    end_ns: np.ndarray  # int64, adjusted
    root: np.ndarray  # bool: no parent in the trace (a root, an orphan, or a repeated span id left out)
    service_ns: dict[int, int]  # service index -> critical-path ns
    duration_ns: int  # what the path covers: first start to last end of the roots, with synchronous work
    unattributed_ns: int

    def share(self, service: int) -> float:
        """Share of the path that `service` accounts for (0 for an empty trace)."""
        return self.service_ns.get(service, 0) / self.duration_ns if self.duration_ns > 0 else 0.0


def trace_critical_path(spans: SpanColumns) -> CriticalPath:
    """`critical_path` of an object holding the spans of one trace as columns, with the time of calls to
    uninstrumented peers credited to the peers (`credit_peers`; `service_ns` then has their string ids too)."""
    unknown = spans.strings.index("unknown") if "unknown" in spans.strings else None
    credited = credit_peers(
        parent_rows(spans.span_id, spans.parent_id), spans.service, spans.kind, spans.peer, unknown=unknown
    )
    return critical_path(spans.span_id, spans.parent_id, spans.start_ns, spans.end_ns, credited, spans.kind)


def critical_path(
    span_id: np.ndarray,
    parent_id: np.ndarray,
    start_ns: np.ndarray,
    end_ns: np.ndarray,
    service: np.ndarray,
    kind: np.ndarray | None = None,
) -> CriticalPath:
    """The critical path of one trace's spans (any order; span kinds are optional, so Jaeger traces work).

    Walk back from the end of each span: of the children running at that moment (all end last
    once clipped to it) the one that started first (then: ends last) is critical and the walk
    jumps to its start; where no child runs, the span itself is (self-time). Each critical child
    is walked the same way within the part of it that was critical. So every instant of the path
    is attributed to exactly one span, and the services' critical times add up to its duration.

    Data as it comes from real systems:

    * Clock skew: a child in another service lying (partly) outside its parent, yet no longer than
      it, is shifted with its subtree to sit centred in the parent (as Zipkin does).
    * A child longer than its parent (a caller that did not wait, or chained spans that all start
      together, as in the simple form) stretches the parent's interval, so the path follows it.
    * Messages (a CONSUMER child, or any child of a PRODUCER) are asynchronous: nobody waits for
      them beyond their producer, so they and their subtree are clipped to the producer span.
    * Orphans (parent not in the trace) are roots of their own; several roots are walked like the
      children of one virtual root spanning them, whose gaps are `unattributed_ns`.
    * A repeated span id counts once (first occurrence); a parent cycle is cut at its earliest span.
    """
    span_id = np.asarray(span_id, np.uint64)
    count = span_id.shape[0]
    if count == 0:
        empty = np.zeros(0, np.int64)
        return CriticalPath(np.zeros(0, bool), empty, empty, empty, np.zeros(0, bool), {}, 0, 0)
    parents = parent_rows(span_id, np.asarray(parent_id, np.uint64)).tolist()
    starts = np.asarray(start_ns, np.int64).tolist()
    ends = np.asarray(end_ns, np.int64).tolist()
    services = np.asarray(service).tolist()
    kinds = [0] * count if kind is None else np.asarray(kind).tolist()
    order = _top_down_order(parents, starts)
    _adjust(order, parents, starts, ends, services, kinds)
    eff_start, eff_end = starts.copy(), ends.copy()
    for row in reversed(order):  # children stretch their parents, deepest first
        up = parents[row]
        if up >= 0:
            eff_start[up] = min(eff_start[up], eff_start[row])
            eff_end[up] = max(eff_end[up], eff_end[row])
    self_ns, critical, unattributed, first, last = _walk(order, parents, eff_start, eff_end)
    service_ns: dict[int, int] = {}
    for row, own in enumerate(self_ns):
        if own:
            service_ns[services[row]] = service_ns.get(services[row], 0) + own
    return CriticalPath(
        critical=critical,
        self_ns=np.array(self_ns, np.int64),
        start_ns=np.array(starts, np.int64),
        end_ns=np.array(ends, np.int64),
        root=np.array([p < 0 for p in parents], bool),
        service_ns=service_ns,
        duration_ns=last - first,
        unattributed_ns=unattributed,
    )


def credit_peers(
    parent_rows: np.ndarray, service: np.ndarray, kind: np.ndarray, peer: np.ndarray, *, unknown: int | None
) -> np.ndarray:
    """The node each span's own time is credited to: its own service, except a CLIENT or PRODUCER span whose
    callee is not instrumented (no child span in another service, no nested client span under it): its peer —
    a database, cache, third-party API or topic — or `unknown` where it names none (its own service when
    `unknown` is None).

    `parent_rows`: row of each span's parent, negative for none. Ids are whatever `service` and `peer` hold
    (string ids), so the result is a service-like column for `critical_path` and the self-time figures.
    """
    parent_rows = np.asarray(parent_rows, np.int64)
    service, kind = np.asarray(service), np.asarray(kind)
    caller = (kind == _CLIENT) | (kind == _PRODUCER)
    has_parent = parent_rows >= 0
    up = np.maximum(parent_rows, 0)
    answered = np.zeros(service.shape[0], bool)  # someone instrumented handled (or re-issued) the call
    answered[up[has_parent & ((service != service[up]) | caller)]] = True
    credited = caller & ~answered
    peer = np.asarray(peer)
    target = np.where(peer != 0, peer, service if unknown is None else unknown)
    return np.where(credited, target, service).astype(service.dtype, copy=False)


def exclusive_ns(parent_rows: np.ndarray, start_ns: np.ndarray, end_ns: np.ndarray) -> np.ndarray:
    """Each span's own time: its duration less the union of its children's intervals (clipped to it) — the time
    it did not wait on anything it called. Vectorised: children sorted by (parent, start), a running maximum
    of their ends per parent."""
    parent_rows = np.asarray(parent_rows, np.int64)
    start_ns, end_ns = np.asarray(start_ns, np.int64), np.asarray(end_ns, np.int64)
    duration = np.maximum(end_ns - start_ns, 0)
    children = np.flatnonzero(parent_rows >= 0)
    if not children.size:
        return duration
    parent = parent_rows[children]
    low = np.clip(start_ns[children] - start_ns[parent], 0, duration[parent])
    high = np.clip(end_ns[children] - start_ns[parent], 0, duration[parent])
    order = np.lexsort((low, parent))
    parent, low, high = parent[order], low[order], high[order]
    span = int(duration.max()) + 1
    group = np.cumsum(np.concatenate(([0], parent[1:] != parent[:-1])))
    if int(group[-1]) * span < (1 << 62):  # one running maximum over all groups, each lifted above the previous
        lifted = group * span
        reach = np.maximum.accumulate(high + lifted) - lifted
        before = np.concatenate(([-1], reach[:-1]))
        before[np.concatenate(([True], parent[1:] != parent[:-1]))] = -1
        covered = np.maximum(high - np.maximum(low, before), 0)
    else:  # times too long to lift: children's time summed, at most the parent's
        covered = high - low
    waited = np.minimum(np.bincount(parent, weights=covered, minlength=duration.size).astype(np.int64), duration)
    return duration - waited


def parent_rows(span_id: np.ndarray, parent_id: np.ndarray) -> np.ndarray:
    """Row of each span's parent, -1 for roots and orphans; repeats of a span id get -2 (left out)."""
    count = span_id.shape[0]
    unique_ids, first_row = np.unique(span_id, return_index=True)
    position = np.minimum(np.searchsorted(unique_ids, parent_id), unique_ids.shape[0] - 1)
    found = (unique_ids[position] == parent_id) & (parent_id != 0)
    parent = np.where(found, first_row[position], -1).astype(np.int64)
    parent[parent == np.arange(count)] = -1
    repeated = np.ones(count, bool)
    repeated[first_row] = False
    parent[repeated] = -2
    return parent


def _top_down_order(parents: list[int], starts: list[int]) -> list[int]:
    """Every span (repeats left out) parents before children; a parent cycle is cut at its earliest span."""
    children: list[list[int]] = [[] for _ in parents]
    for row, up in enumerate(parents):
        if up >= 0:
            children[up].append(row)
    order = [row for row, up in enumerate(parents) if up == -1]
    reachable = sum(1 for up in parents if up != -2)
    index = 0
    while True:
        while index < len(order):
            order += children[order[index]]
            index += 1
        if len(order) == reachable:
            return order
        placed = set(order)
        cut = min((row for row, up in enumerate(parents) if up >= 0 and row not in placed), key=starts.__getitem__)
        children[parents[cut]].remove(cut)
        parents[cut] = -1
        order.append(cut)


def _adjust(order: list[int], parents: list[int], starts: list[int], ends: list[int], services, kinds) -> None:
    """Top down: clip messages (and what they caused) to their producer; centre skewed children in their parent."""
    shift = [0] * len(parents)
    low, high = [-_FAR] * len(parents), [_FAR] * len(parents)
    for row in order:
        up = parents[row]
        if up < 0:
            continue
        moved, lo, hi = shift[up], low[up], high[up]
        start, end = starts[row] + moved, ends[row] + moved
        if kinds[row] == _CONSUMER or kinds[up] == _PRODUCER:
            lo, hi = max(lo, starts[up]), min(hi, ends[up])
        elif (
            (start < starts[up] or end > ends[up])
            and end - start <= ends[up] - starts[up]
            and services[row] != services[up]
        ):
            moved += (starts[up] + ends[up]) // 2 - (start + end) // 2
        shift[row], low[row], high[row] = moved, lo, hi
        starts[row] = min(max(starts[row] + moved, lo), hi)
        ends[row] = min(max(ends[row] + moved, lo), hi)


def _walk(order: list[int], parents: list[int], eff_start: list[int], eff_end: list[int]):
    """Self-time on the critical path per span, the critical flags, time between roots no span covers, and the
    trace's first start and last end."""
    count = len(parents)
    children: list[list[int]] = [[] for _ in range(count)]
    for row in order:
        if parents[row] >= 0:
            children[parents[row]].append(row)
    roots = [row for row in order if parents[row] < 0]
    first, last = min(eff_start[r] for r in roots), max(eff_end[r] for r in roots)
    self_ns = [0] * count
    critical = np.zeros(count, bool)
    # the roots are the children of a virtual span covering the trace
    stack, unattributed = _cover(roots, eff_start, eff_end, first, last)
    while stack:
        span, limit = stack.pop()
        critical[span] = True
        picks, self_ns[span] = _cover(children[span], eff_start, eff_end, eff_start[span], limit)
        stack += picks
    return self_ns, critical, unattributed, first, last


def _cover(children: list[int], starts: list[int], ends: list[int], lower: int, limit: int):
    """Walk back from `limit` to `lower` over the children: the critical children with the moment each was
    critical until, and the time no child covered."""
    children = sorted(children, key=lambda child: (-ends[child], child))  # ties: the earlier row, deterministically
    picks: list[tuple[int, int]] = []
    own = 0
    moment = limit
    index, size = 0, len(children)
    while moment > lower:
        best, best_start = -1, moment
        while index < size and ends[children[index]] >= moment:
            child = children[index]
            index += 1
            if starts[child] < best_start:
                best, best_start = child, starts[child]
        if best >= 0:
            picks.append((best, moment))
            moment = best_start
            continue
        if index >= size:
            break
        following = max(ends[children[index]], lower)
        own += moment - following
        moment = following
    return picks, own + max(moment - lower, 0)
