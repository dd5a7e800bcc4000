"""Shared spans: a server half that reuses its client's span id gets its own id, parented on the client.

Zipkin instrumentation (and Jaeger or OTLP data written by it) records one RPC as a CLIENT and a
SERVER span with the *same* span id; a PRODUCER and CONSUMER may share one too. Everything after
the decoders expects one span per id, so this is the one place that separates them, for every
format (Jaeger's query service does the same in its `SpanIDDeduper` adjuster):

* A SERVER or CONSUMER span is *shared* when a CLIENT or PRODUCER span of the batch has the same
  span id in the same trace (trace ids compared by their low 64 bits, as Zipkin links them).
* It gets a new id derived from (span id, service, start time) only — so the same span reported
  twice gets the same new id (and the deriver drops the repeat), whether the repeats are in one
  batch or in two — and the shared id as its parent: an ordinary client -> server pair.
* Spans naming the shared id as parent that run in the server's service are re-parented to it
  (Zipkin's SpanNode attaches them by endpoint; the service stands in for it here). When several
  servers of one service answer the same id, a child goes to the one whose time span holds its
  start (the latest such), else to the first.

`SpanBatchBuilder.build()` applies it to every batch a decoder emits, so the deriver, the trace
store and the trace view all see one span per id. A server half is recognised when its client
half is in the same batch (a capture file's chunk of whole traces, a poll of Kafka messages).
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from flowviz.model.columns import is_any_of, span_keys
from flowviz.model.span_batch import SPAN_FLAG_SHARED, SpanBatch, SpanKind

CLIENT_SIDE = np.array([SpanKind.CLIENT, SpanKind.PRODUCER], np.int8)
SERVER_SIDE = np.array([SpanKind.SERVER, SpanKind.CONSUMER], np.int8)
_MASK64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15
_NO_TRACE_HI = np.uint64(0)


def separate_shared_spans(batch: SpanBatch, *, shared_elsewhere: np.ndarray | None = None) -> SpanBatch:
    """The batch with every shared server half given its own id (the same batch when there is none).

    `shared_elsewhere` marks server rows known to share their id with a client half outside the
    batch (the deriver knows the pending spans of earlier batches).
    """
    if not len(batch):
        return batch
    kind = batch.kind
    is_client = is_any_of(kind, CLIENT_SIDE)
    has_elsewhere = shared_elsewhere is not None and bool(shared_elsewhere.any())
    if not is_client.any() and not has_elsewhere:
        return batch
    is_server = is_any_of(kind, SERVER_SIDE)
    if not is_server.any():
        return batch
    server_rows = np.flatnonzero(is_server)
    server_ids = batch.span_id[server_rows]
    candidate = np.zeros(server_rows.size, bool)
    if is_client.any():
        # by span id alone (one sort of the client ids: half the cost of isin); `_rekey` checks the trace
        client_ids = np.sort(batch.span_id[is_client])
        at = np.minimum(np.searchsorted(client_ids, server_ids), client_ids.size - 1)
        candidate = client_ids[at] == server_ids
    if has_elsewhere:
        candidate |= shared_elsewhere[server_rows]
    candidates = server_rows[candidate]
    if not candidates.size:
        return batch
    elsewhere = shared_elsewhere if has_elsewhere else np.zeros(len(batch), bool)
    keys = span_keys(_NO_TRACE_HI, batch.trace_lo, batch.span_id)
    return _rekey(batch, candidates, is_client, keys, elsewhere)


def rekeyed_span_id(span_id: int, service: str, start_ns: int) -> int:
    """A shared server half's own 64-bit id: splitmix64 of the shared id mixed with its service and start.

    Deterministic, so a repeat of the same span gets the same id; never 0 (not a span id).
    """
    service_hash = int.from_bytes(hashlib.blake2b(service.encode(), digest_size=8).digest(), "little")
    z = (span_id + (service_hash ^ (start_ns & _MASK64)) * _GOLDEN64) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return z or 1


def _rekey(
    batch: SpanBatch, candidates: np.ndarray, is_client: np.ndarray, keys: np.ndarray, elsewhere: np.ndarray
) -> SpanBatch:
    """Re-key the candidate server rows that truly share an id with a client row (keys are hashes: verify)."""
    trace_hi, trace_lo, span_id = batch.trace_hi, batch.trace_lo, batch.span_id
    client_rows = np.flatnonzero(is_client & np.isin(keys, keys[candidates]))
    client_lo, client_span, client_hi = (c[client_rows].tolist() for c in (trace_lo, span_id, trace_hi))
    client_ids = set(zip(client_lo, client_span, client_hi, strict=True))  # (trace lo, span id, trace hi)
    client_pairs = set(zip(client_lo, client_span, strict=True))  # (trace lo, span id)
    service_names = batch.string_column("service")
    new_span = span_id.copy()
    new_parent = batch.parent_id.copy()
    flags = batch.flags.copy()
    rekeyed = np.zeros(len(batch), bool)
    # (trace lo, shared id) -> [(service, start, end, new id, trace hi)] of the server halves answering it
    servers: dict[tuple[int, int], list[tuple[int, int, int, int, int]]] = {}
    for row in candidates.tolist():
        shared, hi = (int(trace_lo[row]), int(span_id[row])), int(trace_hi[row])
        # `same_trace`: the same high half, or one of them a 64-bit id
        of_one_trace = (*shared, hi) in client_ids or (*shared, 0) in client_ids or (hi == 0 and shared in client_pairs)
        if not (of_one_trace or elsewhere[row]):
            continue
        start, end = int(batch.start_ns[row]), int(batch.end_ns[row])
        new_id = rekeyed_span_id(shared[1], service_names[row], start)
        new_span[row] = new_id
        new_parent[row] = shared[1]
        flags[row] |= SPAN_FLAG_SHARED
        rekeyed[row] = True
        servers.setdefault(shared, []).append((int(batch.service[row]), start, end, new_id, hi))
    if not servers:
        return batch
    shared_lo, shared_id = (np.array(column, np.uint64) for column in zip(*servers, strict=True))
    parent_keys = span_keys(_NO_TRACE_HI, trace_lo, batch.parent_id)
    wanted = np.isin(parent_keys, span_keys(_NO_TRACE_HI, shared_lo, shared_id))
    children = np.flatnonzero(wanted & (batch.parent_id != 0) & ~rekeyed)
    for row in children.tolist():
        hi = int(trace_hi[row])
        answering = [
            server
            for server in servers.get((int(trace_lo[row]), int(batch.parent_id[row])), ())
            if server[4] == hi or server[4] == 0 or hi == 0
        ]
        if not answering:
            continue
        parent = _server_of_child(answering, int(batch.service[row]), int(batch.start_ns[row]))
        if parent is not None:
            new_parent[row] = parent
    return dataclasses.replace(batch, span_id=new_span, parent_id=new_parent, flags=flags)


def _server_of_child(answering: list[tuple[int, int, int, int, int]], service: int, start_ns: int) -> int | None:
    """The new id of the server half a child of the shared id belongs to, or None (a child of the client)."""
    same_service = [server for server in answering if server[0] == service]
    if not same_service:
        return None
    holding = [server for server in same_service if server[1] <= start_ns <= server[2]]
    if holding:
        return max(holding, key=lambda server: server[1])[3]
    return same_service[0][3]
