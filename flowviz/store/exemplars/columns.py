"""The exemplar store's column layouts (pending spans, span pool, trace table, index rows) and constants."""

from __future__ import annotations

import numpy as np

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
BUCKET_WIDTHS_NS = (MINUTE_NS, 10 * MINUTE_NS, 60 * MINUTE_NS, 24 * 60 * MINUTE_NS)
"""Exemplar buckets: per minute while memory allows, then 10 min, 1 h and 1 day for the oldest data."""
DEFAULT_QUIET_NS = 30 * SECOND_NS
DEFAULT_TRACE_BUDGET_BYTES = 48 << 20
KINDS = ("slowest", "failing", "recent")
USER_NODE = "user"  # the virtual caller of root spans, as the deriver names it
UNKNOWN_PEER = "unknown"
LATE_SPANS = "exemplars: span arrived after its trace was closed (not kept)"
TOO_OLD = "exemplars: older than retained exemplars"

SLOWEST, FAILING, RECENT, BAND = 1, 2, 4, 8
FLAG_NAMES = ((SLOWEST, "slowest"), (FAILING, "failing"), (RECENT, "recent"), (BAND, "latency band"))
BAND_BINS = 8  # a latency band is 8 log bins (a factor of about 2)
NEVER = -(1 << 62)
KEY_SHIFT = 34  # group id = key << 34 | bucket start in seconds (< 2**34: until the year 2514)

POOL_COLUMNS = {  # one span of a kept trace
    "span_id": np.uint64,
    "parent_id": np.uint64,
    "start_ns": np.int64,
    "end_ns": np.int64,
    "service": np.int32,
    "name": np.int32,
    "peer": np.int32,
    "destination": np.int32,
    "kind": np.int8,
    "status": np.int8,
    "http_status": np.int16,
    "peer_kind": np.int8,
}
PENDING_COLUMNS = {"trace_hi": np.uint64, "trace_lo": np.uint64, **POOL_COLUMNS}  # a span of a trace still open
BATCH_COLUMNS = tuple(PENDING_COLUMNS)  # what a `SpanBatch` of pending spans is built from (besides flags)
TRACE_COLUMNS = {
    "trace_hi": np.uint64,
    "trace_lo": np.uint64,
    "pool_start": np.int64,
    "pool_len": np.int32,
    "start_ns": np.int64,
    "end_ns": np.int64,
    "path_ns": np.int64,  # critical path length (skew-corrected trace duration)
    "alive": np.bool_,
    "truncated": np.bool_,
}
ROW_COLUMNS = {  # one row per (kept trace, service or edge it passes through)
    "trace": np.int32,
    "key": np.int32,
    "level": np.int8,
    "bucket_s": np.int64,
    "time_ns": np.int64,
    "latency_ns": np.int64,
    "critical_ns": np.int64,
    "self_ns": np.int64,  # services: time of its spans not waiting on anything they called (peers: their calls)
    "busy_ns": np.int64,  # services: the time of its entry spans (self + waiting)
    "operation": np.int32,  # services: name of its longest entry span in the trace
    "error": np.bool_,
    "flags": np.uint8,
}
DICT_ENTRY_BYTES = 120  # a trace id -> slot entry, or an interned string / key (besides the text)
