"""Stateful edge derivation: pairs client and server halves of calls across batches (servicegraph rules, improved)."""

from __future__ import annotations

import dataclasses

import numpy as np

from flowviz.decoders.shared_spans import CLIENT_SIDE, SERVER_SIDE, separate_shared_spans
from flowviz.derive.span_table import ColumnTable, KeyLookup, SortedKeyIndex, span_keys
from flowviz.model.columns import is_any_of, same_trace
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.model.ids import u64_pair_to_hex
from flowviz.model.observations import NO_LATENCY, OBSERVATION_DTYPES, EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import (
    SPAN_FLAG_DECLARED_SHARED,
    SPAN_FLAG_JOINABLE,
    SPAN_FLAG_SHARED,
    PeerKind,
    SpanBatch,
    SpanKind,
    StatusCode,
)

DEFAULT_TTL_NS = 30 * 1_000_000_000
UNNAMED_CLIENT = "derive: client span with no server span and no peer name (drawn to 'unknown')"
UNCONSUMED_PRODUCER = "derive: message no consumer claimed within the TTL (drawn to its topic)"
ORPHAN_SERVER = "derive: server span whose parent never arrived"
LATE_CONSUMER = (
    "derive: message consumed more than the TTL after it was sent, or its producer not seen (drawn from its topic)"
)
COMPACT_MIN_ROWS = 100_000
UNKNOWN_PEER = "unknown"
USER_NODE = "user"

_CLIENT_KINDS = np.array([SpanKind.CLIENT, SpanKind.PRODUCER])
_SERVER_KINDS = np.array([SpanKind.SERVER, SpanKind.CONSUMER, SpanKind.UNSPECIFIED])
# no kind, or INTERNAL (the OpenTelemetry default when an SDK never set one): parent -> child across services
_KINDLESS = np.array([SpanKind.UNSPECIFIED, SpanKind.INTERNAL])
_NO_TRACE_HI = np.uint64(0)  # pairing compares trace ids by their low 64 bits, as Zipkin links them
_PEER_NODE_KIND = np.array(
    [NodeKind.EXTERNAL, NodeKind.SERVICE, NodeKind.DATABASE, NodeKind.EXTERNAL], np.int8
)  # indexed by PeerKind: NONE ("unknown") is drawn as an external node

_SPAN_COLUMNS = {
    "key": np.uint64,
    "trace_hi": np.uint64,
    "trace_lo": np.uint64,
    "span_id": np.uint64,
    "kind": np.int8,
    "status": np.int8,
    "http_status": np.int16,
    "start_ns": np.int64,
    "end_ns": np.int64,
    "service": np.int32,
    "peer": np.int32,
    "peer_kind": np.int8,
    "destination": np.int32,
    "matched": np.bool_,
    "shared_id": np.uint64,  # a separated server half: the span id it shares with its client half, else 0
    "claimed_by": np.int32,  # the service of a child that took this client span as its caller (a stand-in), else 0
    "joinable": np.bool_,  # a server half may yet join its id (SPAN_FLAG_JOINABLE): its children's calls are held
    "dead": np.bool_,  # expired: ignored by matching, removed when enough have piled up
}
_REQUEST_COLUMNS = {
    "want_key": np.uint64,
    "want_trace_hi": np.uint64,
    "want_trace_lo": np.uint64,
    "want_span_id": np.uint64,
    "trace_hi": np.uint64,
    "trace_lo": np.uint64,
    "span_id": np.uint64,
    "kind": np.int8,
    "status": np.int8,
    "http_status": np.int16,
    "start_ns": np.int64,
    "end_ns": np.int64,
    "service": np.int32,
    "destination": np.int32,
    "broker": np.int32,  # the peer a consumer names (its broker): what feeds it when it names no topic
    "from_half": np.bool_,  # the request of a separated server half: it looks for its client half
    # a declared shared half separated before its client half came: the span id of its own parent, the caller
    # it falls back on should its client half never come (0: none, or found already)
    "fallback_id": np.uint64,
}
_FED_SPAN_COLUMNS = ("start_ns", "end_ns", "status", "http_status", "trace_hi", "trace_lo")  # what `_fed_calls` reads
# Calls held until their `expire_ns` passes the TTL, then emitted:
# * fallbacks: the call a declared shared half's own parent (or `user`, for a root) would make; dropped when its client
#   half comes (keyed by the half's trace and own id);
# * stand-ins: the call a child of a joinable client span makes; dropped when a server half of the child's service
#   joins that client's id (the child then belongs under the half), keyed by trace, shared id and service.
_HELD_COLUMNS = {
    **{name: dtype for name, dtype in OBSERVATION_DTYPES.items() if name != "count"},
    "half_key": np.uint64,
    "half_span_id": np.uint64,
    "expire_ns": np.int64,
    "is_call": np.bool_,  # False: the fallback parent is in the half's own service (no call), but it was found
    "stand_in": np.bool_,
}


class EdgeDeriver:
    """Turns span batches into edge observations, one call at a time, whatever the batch split.

    Rules (OpenTelemetry Collector `servicegraph`, improved as GUIDE §2 asks):

    * A SERVER, CONSUMER or kind-less span is the *server half* of a call; its partner is the
      span whose id is its parent id — or, for a CONSUMER with span links, the linked spans
      (one call per link). A CLIENT/PRODUCER partner makes a call `client.service ->
      server.service` (`messaging_system` when either side is PRODUCER/CONSUMER, `via` the
      destination); every consumer of a fanned-out message counts.
    * Any other partner in a *different* service makes a direct call parent -> child (Jaeger's
      rule; real Jaeger captures carry no span kinds). Same service: no call. An INTERNAL span is
      treated as one without a kind here (OpenTelemetry's default kind when an SDK never set
      one), except that a root INTERNAL span is work begun inside its service, not a call.
    * A server half sharing its client half's span id (Zipkin's shared spans, in any format) is
      given its own id when the batch is built (`flowviz.decoders.shared_spans`), so it pairs like any other;
      a child of the shared id belongs under the half of its own service, else under the client half.
      Halves in different batches: a half whose client half is pending, or that its format declares shared
      (`SPAN_FLAG_DECLARED_SHARED`), is separated on arrival; a declared half whose client half never comes
      falls back on its own parent (or `user`). Children's calls that a later half of their service would
      take over are held or stand in for it (`SPAN_FLAG_JOINABLE`, `claimed_by`), so the counts do not
      depend on the batch split.
    * Trace ids are compared by their low 64 bits, as Zipkin links them: a trace whose spans carry
      a 64-bit id in one service and a 128-bit id in another (a migration) is still one trace.
    * A root server half is called by the virtual client `user`; a root CONSUMER by the topic
      it consumed from (or its broker) instead, drawn as a topic node. So is a CONSUMER whose
      producer did not come within the TTL (not in the capture, or consumed more than the TTL after
      it was sent: a consumer far behind); other server halves whose parent never came are counted.
    * A CLIENT span naming a database (`db.*`) is a complete call to that database at once.
    * A CLIENT/PRODUCER span no server half claimed within the TTL is a call to a virtual node:
      its peer (by the precedence of `flowviz.decoders.attributes`), its topic, else `unknown` —
      unless a CLIENT/PRODUCER child in the same service claimed it: then the inner span is the
      call on the wire (an SDK span around an HTTP span, say) and the outer one is not counted.
    * Failed = ERROR status on either side. Latency: server side where there is one.

    Unpaired halves wait `ttl_ns` in *event time* (span start times seen so far, not the wall
    clock), so the result does not depend on reading speed or batch split as long as spans
    arrive less than the TTL out of order. `flush()` ends the stream: everything still waiting
    expires. Unpaired halves are counted in `problems`: server spans whose parent never came,
    client spans without server and without a peer name, and messages nobody consumed.
    """

    def __init__(self, *, ttl_ns: int = DEFAULT_TTL_NS, problems: Problems | None = None) -> None:
        self.ttl_ns = ttl_ns
        self.problems = problems if problems is not None else Problems()
        self._names: dict[str, int] = {"": 0}
        self._namespaces: dict[str, str] = {}  # service -> namespace, as the batches named them
        self._unsent_namespaces: dict[str, str] = {}  # ... new or changed since the last non-empty output
        self._spans = ColumnTable(_SPAN_COLUMNS)
        self._index = SortedKeyIndex()  # the pending spans by key: pairing looks partners up here
        self._halves = SortedKeyIndex()  # the pending separated server halves by the key of the id they shared
        self._dead = 0  # expired rows not yet removed
        self._requests = ColumnTable(_REQUEST_COLUMNS)
        self._held = ColumnTable(_HELD_COLUMNS)  # fallback calls of declared shared halves (see _HELD_COLUMNS)
        self._fallbacks_waiting = 0  # at most this many requests still look for their fallback parent
        self._watermark_ns = np.iinfo(np.int64).min
        self._user = self._name(USER_NODE)
        self._unknown = self._name(UNKNOWN_PEER)

    # -- public -----------------------------------------------------------------------------

    def process(self, batch: SpanBatch) -> EdgeObservations:
        """Derive the calls this batch completes (and those whose partner has timed out)."""
        out: list[dict[str, np.ndarray]] = []
        for service, namespace in batch.service_namespaces:
            if self._namespaces.get(service) != namespace:
                self._namespaces[service] = self._unsent_namespaces[service] = namespace
        if len(batch):
            self._take_batch(batch, out)
            self._pair(out)
            self._watermark_ns = max(self._watermark_ns, int(batch.start_ns.max()))
        self._expire(self._watermark_ns - self.ttl_ns, out)
        return self._observations(out)

    def flush(self) -> EdgeObservations:
        """End of stream: every half still waiting expires now."""
        out: list[dict[str, np.ndarray]] = []
        self._expire(np.iinfo(np.int64).max, out)
        return self._observations(out)

    @property
    def pending_spans(self) -> int:
        return len(self._spans) - self._dead + len(self._requests)

    # -- batch intake -----------------------------------------------------------------------

    def _name(self, text: str) -> int:
        return self._names.setdefault(text, len(self._names))

    def _drop_duplicates(
        self, batch: SpanBatch, keys: np.ndarray, service: np.ndarray, pending: np.ndarray, order: np.ndarray | None
    ) -> np.ndarray:
        """Rows that are not a repeat (same trace, span id, service, kind and start) of a span seen within the TTL.

        `pending` marks the rows repeating a pending span (see `_against_pending`). At-least-once
        delivery (Kafka redelivery, a capture loaded twice) must not count calls twice.
        """
        fresh = ~pending
        # one sort of the 64-bit span keys (20x cheaper than sorting the four columns); only the rows that
        # share a key with another row of the batch are compared in full
        order = np.argsort(keys) if order is None else order  # `order`: the keys' sort from the pending look-up
        shares_key = keys[order][1:] == keys[order][:-1]
        if shares_key.any():
            in_run = np.zeros(len(batch), bool)
            in_run[1:] |= shares_key
            in_run[:-1] |= shares_key
            rows = order[in_run]
            # two server halves of one service answering one shared id (several instances, a retry) differ in start
            columns = (batch.trace_lo, batch.span_id, service, batch.kind, batch.start_ns)
            # by the five columns, then by row: of equal rows the first in the batch is kept
            rows = rows[np.lexsort((rows, *(column[rows] for column in reversed(columns))))]
            repeat = np.logical_and.reduce([column[rows][1:] == column[rows][:-1] for column in columns])
            fresh[rows[1:][repeat]] = False
        duplicates = np.flatnonzero(~fresh)
        if duplicates.size:
            self._count_rows(batch, duplicates, "derive: duplicate span (ignored)")
        return fresh

    def _against_pending(
        self, batch: SpanBatch, keys: np.ndarray, service: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, KeyLookup | None]:
        """One look-up of the batch's span ids among the pending spans (same trace by its low 64 bits).

        Returns three row masks: repeats of a pending span (same service, kind and start); server halves
        whose shared client half is pending (an earlier batch); client halves whose shared server
        half is pending (it came first, unseparated, and was called by its parent or `user`); and the
        look-up, for adding the batch to the index (None: nothing was pending).
        """
        size = len(batch)
        repeat, late_server, claimed = np.zeros(size, bool), np.zeros(size, bool), np.zeros(size, bool)
        spans = self._spans
        if not len(spans):
            return repeat, late_server, claimed, None
        lookup = self._index.look_up(keys)
        first, last = lookup.first, lookup.last
        is_server, is_client = is_any_of(batch.kind, SERVER_SIDE), is_any_of(batch.kind, CLIENT_SIDE)
        # a key may stand for a few pending spans (same id in several services): check each
        for offset in range(int((last - first).max(initial=0))):
            rows = np.flatnonzero(first + offset < last)
            pending = self._index.rows[first[rows] + offset]
            same_id = (
                ~spans["dead"][pending]
                & (spans["span_id"][pending] == batch.span_id[rows])
                & (spans["trace_lo"][pending] == batch.trace_lo[rows])
                & same_trace(spans["trace_hi"][pending], batch.trace_hi[rows])
            )
            pending_kind = spans["kind"][pending]
            same_span = (
                same_id
                & (spans["service"][pending] == service[rows])
                & (pending_kind == batch.kind[rows])
                & (spans["start_ns"][pending] == batch.start_ns[rows])
            )
            repeat[rows[same_span]] = True
            late_server[rows[same_id & is_server[rows] & is_any_of(pending_kind, CLIENT_SIDE)]] = True
            claimed[rows[same_id & is_client[rows] & is_any_of(pending_kind, SERVER_SIDE)]] = True
        return repeat, late_server, claimed, lookup

    def _take_batch(self, batch: SpanBatch, out: list[dict[str, np.ndarray]]) -> None:
        remap = np.fromiter((self._name(s) for s in batch.strings), np.int32, len(batch.strings))
        keys = span_keys(_NO_TRACE_HI, batch.trace_lo, batch.span_id)
        repeat, late_server, claimed, lookup = self._against_pending(batch, keys, remap[batch.service])
        declared = (batch.flags & (SPAN_FLAG_DECLARED_SHARED | SPAN_FLAG_SHARED)) == SPAN_FLAG_DECLARED_SHARED
        if declared.any():
            declared &= is_any_of(batch.kind, SERVER_SIDE)
        fallback_id = np.zeros(len(batch), np.uint64)
        if late_server.any() or declared.any():
            # shared halves in different batches, or a half the format declares shared (its client half may come
            # later): the server half is separated as the batch builder would have done, so a repeat of an
            # already separated half is still a repeat
            original_parent = batch.parent_id
            batch = separate_shared_spans(batch, shared_elsewhere=(late_server | declared) & ~repeat)
            keys = span_keys(_NO_TRACE_HI, batch.trace_lo, batch.span_id)
            repeat, _, claimed, lookup = self._against_pending(batch, keys, remap[batch.service])
            # a declared half keeps its own parent to fall back on should its client half never come
            fallback_id = np.where(declared & ((batch.flags & SPAN_FLAG_SHARED) != 0), original_parent, 0)
            fallback_id = fallback_id.astype(np.uint64)
        fallback_root = (fallback_id == 0) & declared & ((batch.flags & SPAN_FLAG_SHARED) != 0)
        fresh = self._drop_duplicates(
            batch, keys, remap[batch.service], repeat, lookup.order if lookup is not None else None
        )
        if not fresh.all():
            batch, keys, claimed = batch.take(fresh), keys[fresh], claimed[fresh]
            lookup = lookup.take(fresh) if lookup is not None else None
            fallback_id, fallback_root = fallback_id[fresh], fallback_root[fresh]
        service, peer, destination = remap[batch.service], remap[batch.peer], remap[batch.destination]
        kind = batch.kind
        is_client = is_any_of(kind, _CLIENT_KINDS)
        is_database_call = (kind == SpanKind.CLIENT) & (batch.peer_kind == PeerKind.DATABASE)
        first_row = len(self._spans)
        is_half = (batch.flags & SPAN_FLAG_SHARED) != 0
        shared_id = np.where(is_half, batch.parent_id, 0).astype(np.uint64)
        self._index.add(keys, first_row, lookup)  # the index has not changed since the look-up
        self._spans.append(
            key=keys,
            trace_hi=batch.trace_hi,
            trace_lo=batch.trace_lo,
            span_id=batch.span_id,
            kind=kind,
            status=batch.status,
            http_status=batch.http_status,
            start_ns=batch.start_ns,
            end_ns=batch.end_ns,
            service=service,
            peer=peer,
            peer_kind=batch.peer_kind,
            destination=destination,
            matched=is_database_call | ~is_client | claimed,
            shared_id=shared_id,
            claimed_by=0,
            joinable=(batch.flags & SPAN_FLAG_JOINABLE) != 0,
            dead=False,
        )
        if is_half.any():
            halves = np.flatnonzero(is_half)
            half_keys = span_keys(_NO_TRACE_HI, batch.trace_lo[halves], shared_id[halves])
            self._halves.add_rows(half_keys, first_row + halves)
            self._retarget_requests(half_keys)
            if len(self._held):  # children of the joined client in the half's service belong under the half
                held = self._held
                joined = _stand_in_keys(service[halves], batch.trace_lo[halves], shared_id[halves])
                held.remove(np.flatnonzero(held["stand_in"] & np.isin(held["half_key"], joined)))
        if is_database_call.any():
            rows = np.flatnonzero(is_database_call)
            duration = batch.duration_ns[rows]
            out.append(
                _calls(
                    source=service[rows],
                    target=peer[rows],
                    source_kind=NodeKind.SERVICE,
                    target_kind=NodeKind.DATABASE,
                    connection_type=ConnectionType.DATABASE,
                    via=0,
                    time_ns=batch.start_ns[rows],
                    latency_ns=duration,
                    client_latency_ns=duration,
                    server_latency_ns=duration,
                    failed=batch.status[rows] == StatusCode.ERROR,
                    http_status=batch.http_status[rows],
                    trace_hi=batch.trace_hi[rows],
                    trace_lo=batch.trace_lo[rows],
                )
            )
        self._take_server_halves(batch, service, peer, destination, out, fallback_id)
        if claimed.any():
            self._answer_waiting_halves(batch, keys, np.flatnonzero(claimed), first_row, out)
        if fallback_root.any():
            rows = np.flatnonzero(fallback_root)
            calls = self._root_calls(batch, rows, service, peer, destination)
            self._hold_fallbacks(calls, batch.trace_lo[rows], batch.span_id[rows], batch.start_ns[rows])

    def _answer_waiting_halves(self, batch, keys, rows, first_row, out) -> None:
        """Client halves whose server half came first, unseparated (no format mark): a server half still waiting
        for its own parent is answered by its client half instead, as if both had come in one batch."""
        requests = self._requests
        waiting = np.flatnonzero(~requests["from_half"] & is_any_of(requests["kind"], SERVER_SIDE))
        if not waiting.size:
            return
        order = np.argsort(keys[rows])
        client_keys = keys[rows][order]
        own_keys = span_keys(_NO_TRACE_HI, requests["trace_lo"][waiting], requests["span_id"][waiting])
        at = np.minimum(np.searchsorted(client_keys, own_keys), client_keys.size - 1)
        client = rows[order][at]
        same = (
            (client_keys[at] == own_keys)
            & (batch.span_id[client] == requests["span_id"][waiting])
            & (batch.trace_lo[client] == requests["trace_lo"][waiting])
            & same_trace(batch.trace_hi[client], requests["trace_hi"][waiting])
        )
        if same.any():
            self._pair_found(waiting[same], first_row + client[same], out)

    def _take_server_halves(self, batch, service, peer, destination, out, fallback_id) -> None:
        is_server = is_any_of(batch.kind, _SERVER_KINDS)
        has_link = np.zeros(len(batch), bool)
        consumer_links = np.flatnonzero(batch.kind[batch.link_row] == SpanKind.CONSUMER) if batch.link_row.size else []
        link_rows = batch.link_row[consumer_links] if len(consumer_links) else np.zeros(0, np.int32)
        has_link[link_rows] = True
        root = is_server & (batch.parent_id == 0) & ~has_link
        if root.any():
            out.append(self._root_calls(batch, np.flatnonzero(root), service, peer, destination))
        # server halves (INTERNAL spans too) look for their caller; client spans for an outer client span to claim
        is_client = is_any_of(batch.kind, _CLIENT_KINDS)
        is_internal = batch.kind == SpanKind.INTERNAL
        by_parent = np.flatnonzero((is_server | is_client | is_internal) & (batch.parent_id != 0) & ~has_link)
        want = batch.parent_id[by_parent]
        if len(self._halves.keys):
            # a child of a shared id, in the service of a server half separated in an earlier batch, is its child
            is_half = (batch.flags[by_parent] & SPAN_FLAG_SHARED) != 0
            moved = self._separated_half(
                batch.trace_hi[by_parent],
                batch.trace_lo[by_parent],
                want,
                service[by_parent],
                batch.start_ns[by_parent],
                skip=is_half,
            )
            want = np.where(moved != 0, moved, want)
        self._add_requests(
            batch,
            by_parent,
            batch.trace_hi[by_parent],
            batch.trace_lo[by_parent],
            want,
            service,
            destination,
            peer,
            fallback_id[by_parent],
        )
        if len(consumer_links):
            self._add_requests(
                batch,
                link_rows,
                batch.link_trace_hi[consumer_links],
                batch.link_trace_lo[consumer_links],
                batch.link_span_id[consumer_links],
                service,
                destination,
                peer,
            )

    def _add_requests(
        self, batch, rows, want_hi, want_lo, want_span, service, destination, peer, fallback_id=0
    ) -> None:
        if len(rows) == 0:
            return
        self._requests.append(
            want_key=span_keys(_NO_TRACE_HI, want_lo, want_span),
            want_trace_hi=want_hi,
            want_trace_lo=want_lo,
            want_span_id=want_span,
            trace_hi=batch.trace_hi[rows],
            trace_lo=batch.trace_lo[rows],
            span_id=batch.span_id[rows],
            kind=batch.kind[rows],
            status=batch.status[rows],
            http_status=batch.http_status[rows],
            start_ns=batch.start_ns[rows],
            end_ns=batch.end_ns[rows],
            service=service[rows],
            destination=destination[rows],
            broker=peer[rows],
            from_half=(batch.flags[rows] & SPAN_FLAG_SHARED) != 0,
            fallback_id=fallback_id,
        )
        self._fallbacks_waiting += int(np.count_nonzero(fallback_id))

    def _hold_fallbacks(self, calls: dict, trace_lo, span_id, start_ns, is_call: np.ndarray | bool = True) -> None:
        """Hold the fallback calls of declared shared halves (trace, own id, start) until the halves expire."""
        self._held.append(
            **{name: calls[name] for name in _HELD_COLUMNS if name in calls},
            half_key=span_keys(_NO_TRACE_HI, trace_lo, span_id),
            half_span_id=span_id,
            expire_ns=start_ns,
            is_call=is_call,
            stand_in=False,
        )

    def _separated_half(
        self,
        trace_hi: np.ndarray,
        trace_lo: np.ndarray,
        want: np.ndarray,
        service: np.ndarray,
        start_ns: np.ndarray,
        *,
        skip: np.ndarray,
    ) -> np.ndarray:
        """The own id of the pending separated server half a child of a shared id belongs to, else 0.

        The half must answer that shared id in the same trace and run in the child's service; of
        several, the one whose time holds the child's start (the latest such), else the first —
        the rule `flowviz.decoders.shared_spans` applies within a batch. `skip` rows get 0.
        """
        found = np.zeros(len(want), np.uint64)
        rows = np.flatnonzero(~skip)
        if not rows.size or not len(self._halves.keys):
            return found
        spans = self._spans
        holds = np.zeros(len(want), bool)
        best_start = np.zeros(len(want), np.int64)
        first, last = self._halves.ranges(span_keys(_NO_TRACE_HI, trace_lo[rows], want[rows]))
        for offset in range(int((last - first).max(initial=0))):
            some = np.flatnonzero(first + offset < last)
            half = self._halves.rows[first[some] + offset]
            at = rows[some]
            half_start = spans["start_ns"][half]
            valid = (
                ~spans["dead"][half]
                & (spans["shared_id"][half] == want[at])
                & (spans["trace_lo"][half] == trace_lo[at])
                & same_trace(spans["trace_hi"][half], trace_hi[at])
                & (spans["service"][half] == service[at])
            )
            contains = (half_start <= start_ns[at]) & (start_ns[at] <= spans["end_ns"][half])
            take = valid & ((found[at] == 0) | (contains & (~holds[at] | (half_start > best_start[at]))))
            at, half = at[take], half[take]
            found[at] = spans["span_id"][half]
            holds[at] = contains[take]
            best_start[at] = half_start[take]
        return found

    def _retarget_requests(self, half_keys: np.ndarray) -> None:
        """Waiting children of shared ids whose server half has just arrived now wait for that half instead."""
        requests = self._requests
        if not len(requests):
            return
        rows = np.flatnonzero(np.isin(requests["want_key"], half_keys) & ~requests["from_half"])
        if not rows.size:
            return
        moved = self._separated_half(
            requests["want_trace_hi"][rows],
            requests["want_trace_lo"][rows],
            requests["want_span_id"][rows],
            requests["service"][rows],
            requests["start_ns"][rows],
            skip=np.zeros(rows.size, bool),
        )
        rows, moved = rows[moved != 0], moved[moved != 0]
        requests["want_span_id"][rows] = moved
        requests["want_key"][rows] = span_keys(_NO_TRACE_HI, requests["want_trace_lo"][rows], moved)

    def _root_calls(self, batch, rows, service, peer, destination) -> dict[str, np.ndarray]:
        """Root server halves: a CONSUMER is fed by its topic (or broker), anything else by `user`."""
        is_consumer = batch.kind[rows] == SpanKind.CONSUMER
        return self._fed_calls(
            np.where(is_consumer, _feeding_topic(destination[rows], peer[rows]), 0),
            service[rows],
            np.where(is_consumer, destination[rows], 0),
            {name: getattr(batch, name)[rows] for name in _FED_SPAN_COLUMNS},
        )

    def _fed_calls(
        self, topic: np.ndarray, service: np.ndarray, via: np.ndarray, span: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Calls into server halves that no client half makes: from `topic` where it is not 0, else from `user`."""
        from_topic = topic != 0
        duration = span["end_ns"] - span["start_ns"]
        return _calls(
            source=np.where(from_topic, topic, self._user),
            target=service,
            source_kind=np.where(from_topic, NodeKind.TOPIC, NodeKind.USER),
            target_kind=NodeKind.SERVICE,
            connection_type=ConnectionType.VIRTUAL_NODE,
            via=via,
            time_ns=span["start_ns"],
            latency_ns=duration,
            client_latency_ns=NO_LATENCY,
            server_latency_ns=duration,
            failed=span["status"] == StatusCode.ERROR,
            http_status=span["http_status"],
            trace_hi=span["trace_hi"],
            trace_lo=span["trace_lo"],
        )

    # -- pairing ----------------------------------------------------------------------------

    def _find(
        self, keys: np.ndarray, trace_hi: np.ndarray, trace_lo: np.ndarray, span_id: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(positions in the needles, pending span rows) of the live pending spans with these ids: of several
        under one key, the first indexed that is alive and of the same trace (`same_trace`)."""
        spans, index_keys = self._spans, self._index.keys
        first = self._index.first_positions(keys)
        partner = np.full(keys.size, -1, np.int64)
        open_rows, offset = np.arange(keys.size), 0
        while open_rows.size:  # almost always one round: the first indexed span under a key is the one
            position = first[open_rows] + offset
            under_key = np.flatnonzero(position < index_keys.size)
            under_key = under_key[index_keys[position[under_key]] == keys[open_rows[under_key]]]
            open_rows, candidate = open_rows[under_key], self._index.rows[position[under_key]]
            found = (
                ~spans["dead"][candidate]
                & (spans["span_id"][candidate] == span_id[open_rows])
                & (spans["trace_lo"][candidate] == trace_lo[open_rows])
                & same_trace(spans["trace_hi"][candidate], trace_hi[open_rows])
            )
            partner[open_rows[found]] = candidate[found]
            open_rows, offset = open_rows[~found], offset + 1
        matched = np.flatnonzero(partner >= 0)
        return matched, partner[matched]

    def _pair(self, out: list[dict[str, np.ndarray]]) -> None:
        spans, requests = self._spans, self._requests
        if not len(requests) or not len(spans):
            return
        matched, partner = self._find(
            requests["want_key"], requests["want_trace_hi"], requests["want_trace_lo"], requests["want_span_id"]
        )
        if matched.size:
            self._pair_found(matched, partner, out)
        if self._fallbacks_waiting:
            self._find_fallbacks()

    def _pair_found(self, matched: np.ndarray, partner: np.ndarray, out: list[dict[str, np.ndarray]]) -> None:
        spans, requests = self._spans, self._requests
        partner_kind = spans["kind"][partner]
        own_kind = requests["kind"][matched]
        own_is_client = is_any_of(own_kind, _CLIENT_KINDS)
        partner_is_client = is_any_of(partner_kind, _CLIENT_KINDS)
        own_kindless = is_any_of(own_kind, _KINDLESS)
        different = spans["service"][partner] != requests["service"][matched]
        server_of_client = partner_is_client & ~own_is_client & ~own_kindless
        kindless_client = partner_is_client & own_kindless & different
        nested_client = partner_is_client & own_is_client & ~different
        own_service = requests["service"][matched]
        from_half = requests["from_half"][matched]
        # a child of a shared id that came before its server half took the client half as its caller: that call
        # stands in for the half's, which is not counted again when the half arrives (counts do not depend on the
        # order). Where a server half may yet join the client span (SPAN_FLAG_JOINABLE), only the first server
        # child of each service stands in; a kind-less child (local work, which in such data runs under that half)
        # and further server children of the same service are held, and dropped if a half of their service joins.
        counted = from_half & server_of_client & (spans["claimed_by"][partner] == own_service)
        is_call = ~own_is_client & (server_of_client | different) & ~counted
        claims_partner = server_of_client | kindless_client | nested_client
        spans["matched"][partner[claims_partner]] = True
        child = (server_of_client | kindless_client) & ~from_half
        joinable = child & spans["joinable"][partner]
        held = joinable & (kindless_client | (spans["claimed_by"][partner] == own_service))
        held |= joinable & ~held & ~_first_of(partner, own_service, joinable & ~held)
        stand_in = child & ~held
        spans["claimed_by"][partner[stand_in]] = own_service[stand_in]
        if held.any():
            rows, joined = matched[held], partner[held]
            self._held.append(
                **self._paired_calls(rows, joined, np.ones(rows.size, bool)),
                half_key=_stand_in_keys(own_service[held], spans["trace_lo"][joined], spans["span_id"][joined]),
                half_span_id=spans["span_id"][joined],
                expire_ns=spans["start_ns"][joined],
                is_call=True,
                stand_in=True,
            )
            is_call &= ~held
        calls, partner = matched[is_call], partner[is_call]
        if calls.size:
            out.append(self._paired_calls(calls, partner, claims_partner[is_call]))
        halves = matched[requests["from_half"][matched]]
        if len(self._held) and halves.size:  # their client halves came: the fallbacks are not needed
            held = self._held
            drop = np.isin(
                held["half_key"], span_keys(_NO_TRACE_HI, requests["trace_lo"][halves], requests["span_id"][halves])
            )
            drop &= np.isin(held["half_span_id"], requests["span_id"][halves]) & ~held["stand_in"]
            held.remove(np.flatnonzero(drop))
        requests.remove(matched)

    def _find_fallbacks(self) -> None:
        """Declared shared halves still waiting for their client half: hold the call their own parent would make."""
        requests = self._requests
        waiting = np.flatnonzero(requests["fallback_id"] != 0)
        self._fallbacks_waiting = waiting.size
        if not waiting.size:
            return
        trace_lo, parent = requests["trace_lo"][waiting], requests["fallback_id"][waiting]
        at, partner = self._find(
            span_keys(_NO_TRACE_HI, trace_lo, parent), requests["trace_hi"][waiting], trace_lo, parent
        )
        if not at.size:
            return
        rows = waiting[at]
        spans = self._spans
        partner_is_client = is_any_of(spans["kind"][partner], _CLIENT_KINDS)
        # the rule of `_pair` for a server half (never a client, never kind-less): its client, or another service
        is_call = partner_is_client | (spans["service"][partner] != requests["service"][rows])
        calls = self._paired_calls(rows, partner, partner_is_client)
        trace_lo, span_id, start_ns = requests["trace_lo"][rows], requests["span_id"][rows], requests["start_ns"][rows]
        self._hold_fallbacks(calls, trace_lo, span_id, start_ns, is_call=is_call)
        requests["fallback_id"][rows] = 0
        self._fallbacks_waiting -= rows.size

    def _paired_calls(self, calls: np.ndarray, partner: np.ndarray, client_side: np.ndarray) -> dict:
        spans, requests = self._spans, self._requests
        partner_kind = spans["kind"][partner]
        own_kind = requests["kind"][calls]
        messaging = (partner_kind == SpanKind.PRODUCER) | (own_kind == SpanKind.CONSUMER)
        via = np.where(
            spans["destination"][partner] != 0, spans["destination"][partner], requests["destination"][calls]
        )
        server_ns = requests["end_ns"][calls] - requests["start_ns"][calls]
        client_ns = spans["end_ns"][partner] - spans["start_ns"][partner]
        partner_failed = (spans["status"][partner] == StatusCode.ERROR) & client_side
        return _calls(
            source=spans["service"][partner],
            target=requests["service"][calls],
            source_kind=NodeKind.SERVICE,
            target_kind=NodeKind.SERVICE,
            connection_type=np.where(messaging, ConnectionType.MESSAGING_SYSTEM, ConnectionType.DIRECT),
            via=np.where(messaging, via, 0),
            time_ns=np.where(client_side, spans["start_ns"][partner], requests["start_ns"][calls]),
            latency_ns=server_ns,
            client_latency_ns=np.where(client_side, client_ns, NO_LATENCY),
            server_latency_ns=server_ns,
            failed=(requests["status"][calls] == StatusCode.ERROR) | partner_failed,
            http_status=_call_http_status(
                requests["http_status"][calls], spans["http_status"][partner], partner_failed
            ),
            trace_hi=requests["trace_hi"][calls],
            trace_lo=requests["trace_lo"][calls],
        )

    # -- expiry -----------------------------------------------------------------------------

    def _expire(self, before_ns: int, out: list[dict[str, np.ndarray]]) -> None:
        spans, requests, held = self._spans, self._requests, self._held
        fell_back = np.zeros(0, np.uint64)  # the keys of declared halves whose client never came: not orphans
        if len(held):
            due = np.flatnonzero(held["expire_ns"] < before_ns)
            if due.size:
                calls = due[held["is_call"][due]]
                if calls.size:
                    out.append({name: held[name][calls] for name in _HELD_COLUMNS if name in OBSERVATION_DTYPES})
                fell_back = held["half_key"][due[~held["stand_in"][due]]]
                held.remove(due)
        expired_requests = np.flatnonzero(requests["start_ns"] < before_ns) if len(requests) else []
        if len(expired_requests):
            servers = expired_requests[~is_any_of(requests["kind"][expired_requests], _CLIENT_KINDS)]
            if fell_back.size and servers.size:
                keys = span_keys(_NO_TRACE_HI, requests["trace_lo"][servers], requests["span_id"][servers])
                servers = servers[~(requests["from_half"][servers] & np.isin(keys, fell_back))]
            if servers.size:
                # a consumer whose message's producer never came (or expired: consumed more than the TTL after it was
                # sent, a consumer behind) is fed by its topic, as a root consumer is: its work is not lost
                topic = _feeding_topic(requests["destination"][servers], requests["broker"][servers])
                late = (requests["kind"][servers] == SpanKind.CONSUMER) & (topic != 0)
                consumers, servers, topic = servers[late], servers[~late], topic[late]
                if consumers.size:
                    span = {name: requests[name][consumers] for name in _FED_SPAN_COLUMNS}
                    via = requests["destination"][consumers]
                    out.append(self._fed_calls(topic, requests["service"][consumers], via, span))
                    self._count_rows(requests, consumers, LATE_CONSUMER)
                if servers.size:
                    self._count_rows(requests, servers, ORPHAN_SERVER)
            requests.remove(expired_requests)
        if not len(spans):
            return
        expired = np.flatnonzero((spans["start_ns"] < before_ns) & ~spans["dead"])
        if not expired.size:
            return
        unanswered = expired[~spans["matched"][expired]]
        if unanswered.size:
            out.append(self._virtual_calls(unanswered))
            # a client span naming its peer is an ordinary call to an uninstrumented service; what is
            # worth a problem is a call nobody can name, and a message nobody consumed
            kind, peer = spans["kind"][unanswered], spans["peer"][unanswered]
            unnamed = unanswered[(kind == SpanKind.CLIENT) & (peer == 0)]
            unconsumed = unanswered[kind == SpanKind.PRODUCER]
            if unnamed.size:
                self._count_rows(spans, unnamed, UNNAMED_CLIENT)
            if unconsumed.size:
                self._count_rows(spans, unconsumed, UNCONSUMED_PRODUCER)
        spans["dead"][expired] = True
        self._dead += len(expired)
        if self._dead > max(COMPACT_MIN_ROWS, len(spans) // 4):  # compact rarely: it is linear in the table
            dead = np.flatnonzero(spans["dead"])
            size_before = len(spans)
            spans.remove(dead)
            self._index.remove(dead, size_before)
            self._halves.remove(dead, size_before)
            self._dead = 0

    def _virtual_calls(self, rows: np.ndarray) -> dict:
        spans = self._spans
        producer = spans["kind"][rows] == SpanKind.PRODUCER
        peer, destination = spans["peer"][rows], spans["destination"][rows]
        target = np.where(peer != 0, peer, self._unknown)
        target = np.where(producer & (destination != 0), destination, target)
        target_kind = np.where(producer, NodeKind.TOPIC, _PEER_NODE_KIND[spans["peer_kind"][rows]])
        duration = spans["end_ns"][rows] - spans["start_ns"][rows]
        return _calls(
            source=spans["service"][rows],
            target=target,
            source_kind=NodeKind.SERVICE,
            target_kind=target_kind,
            connection_type=ConnectionType.VIRTUAL_NODE,
            via=np.where(producer, destination, 0),
            time_ns=spans["start_ns"][rows],
            latency_ns=duration,
            client_latency_ns=duration,
            server_latency_ns=NO_LATENCY,
            failed=spans["status"][rows] == StatusCode.ERROR,
            http_status=spans["http_status"][rows],
            trace_hi=spans["trace_hi"][rows],
            trace_lo=spans["trace_lo"][rows],
        )

    def _count_rows(self, table: ColumnTable | SpanBatch, rows: np.ndarray, reason: str) -> None:
        """Count `rows` under `reason`, naming the first few by trace and span id."""
        trace_hi, trace_lo, span_id = (
            (table["trace_hi"], table["trace_lo"], table["span_id"])
            if isinstance(table, ColumnTable)
            else (table.trace_hi, table.trace_lo, table.span_id)
        )
        first = rows[:5].tolist()
        locations = [
            f"trace {u64_pair_to_hex(trace_hi[r], trace_lo[r], digits=0)} span {int(span_id[r]):016x}" for r in first
        ]
        for location in locations:
            self.problems.add(reason, location)
        self.problems.add(reason, count=len(rows) - len(first))

    def _observations(self, parts: list[dict[str, np.ndarray]]) -> EdgeObservations:
        if not parts:
            return EdgeObservations.empty()
        columns = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        observations = EdgeObservations.from_columns(tuple(self._names), **columns)
        if self._unsent_namespaces and len(observations):  # namespaces ride along with the next calls
            namespaces, self._unsent_namespaces = tuple(self._unsent_namespaces.items()), {}
            observations = dataclasses.replace(observations, service_namespaces=namespaces)
        return observations


def _first_of(partner: np.ndarray, service: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Rows that are the first of `among` with their (partner, service) pair."""
    first = np.zeros(partner.size, bool)
    rows = np.flatnonzero(among)
    if rows.size:
        pairs = partner[rows].astype(np.int64) << 32 | service[rows].astype(np.int64)
        first[rows[np.unique(pairs, return_index=True)[1]]] = True
    return first


def _stand_in_keys(service: np.ndarray, trace_lo: np.ndarray, shared_id: np.ndarray) -> np.ndarray:
    """The key of a held stand-in call: the joinable client span (trace, id) and the calling child's service."""
    return span_keys(service.astype(np.uint64), trace_lo, shared_id)


def _call_http_status(server: np.ndarray, client: np.ndarray, client_failed: np.ndarray) -> np.ndarray:
    """A paired call's HTTP status: the client's when it failed there (0 for a timeout: the server may
    well have answered 200 later), else the server's, else the client's."""
    return np.where(client_failed, client, np.where(server != 0, server, client))


def _feeding_topic(destination: np.ndarray, broker: np.ndarray) -> np.ndarray:
    """What feeds a consumer that no producer is known to: its topic, else the broker it names (0: neither)."""
    return np.where(destination != 0, destination, broker)


def _calls(**columns: object) -> dict[str, np.ndarray]:
    """Edge observation columns, scalars broadcast to the length of `source`."""
    size = len(columns["source"])  # type: ignore[arg-type]
    return {
        name: (np.full(size, value) if np.ndim(value) == 0 else np.asarray(value)) for name, value in columns.items()
    }
