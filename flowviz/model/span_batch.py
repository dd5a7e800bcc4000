"""Columnar batch of spans (numpy arrays, one row per span), the span enums and flags."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class SpanKind(IntEnum):
    """OTLP span kind enumeration (the integer values of the proto)."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(IntEnum):
    """OTLP status code enumeration."""

    UNSET = 0
    OK = 1
    ERROR = 2


class PeerKind(IntEnum):
    """What a span's `peer` column names: how an uninstrumented peer node is typed."""

    NONE = 0
    SERVICE = 1  # peer.service, Zipkin remoteEndpoint.serviceName
    DATABASE = 2  # db.name / db.namespace / db.system
    EXTERNAL = 3  # server.address / net.peer.name / http.host


SPAN_FLAG_SHARED = 1  # a server half that shared its client's span id, given its own (flowviz.decoders.shared_spans)
# a server half the format itself marks as sharing its client's span id (Zipkin's `shared`), whether or not
# the client half is in the batch; the deriver separates it on arrival (flowviz.derive.deriver)
SPAN_FLAG_DECLARED_SHARED = 2
# a client half whose format lets its server join (share) its span id (Zipkin's B3): a call its child makes waits
# to see whether a server half of the child's service joins it (then the child belongs under that half)
SPAN_FLAG_JOINABLE = 4

_INT_COLUMNS = {
    "trace_hi": np.uint64,
    "trace_lo": np.uint64,
    "span_id": np.uint64,
    "parent_id": np.uint64,
    "kind": np.int8,
    "status": np.int8,
    "start_ns": np.int64,
    "end_ns": np.int64,
    "service": np.int32,
    "name": np.int32,
    "peer": np.int32,
    "peer_kind": np.int8,
    "destination": np.int32,
    "http_status": np.int16,
    "flags": np.uint8,
}
_LINK_COLUMNS = {
    "link_row": np.int32,
    "link_trace_hi": np.uint64,
    "link_trace_lo": np.uint64,
    "link_span_id": np.uint64,
}


@dataclass(frozen=True, slots=True, eq=False)
class SpanBatch:
    """Spans as parallel numpy columns; string columns index into `strings`.

    `strings[0]` is always the empty string, so index 0 means "absent". Ids are unsigned 64-bit
    integers (a 128-bit trace id is split into `trace_hi`/`trace_lo`; 64-bit trace ids have
    `trace_hi == 0`); a parent id of 0 means "root". Links (OTLP span links, used to pair
    CONSUMER spans with the PRODUCER span of the message) are a separate table whose `link_row`
    names the span row they belong to.
    """

    strings: tuple[str, ...]
    trace_hi: np.ndarray
    trace_lo: np.ndarray
    span_id: np.ndarray
    parent_id: np.ndarray
    kind: np.ndarray
    status: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    service: np.ndarray
    name: np.ndarray
    peer: np.ndarray
    peer_kind: np.ndarray
    destination: np.ndarray
    http_status: np.ndarray
    flags: np.ndarray
    link_row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    link_trace_hi: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    link_trace_lo: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    link_span_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    # (service, namespace) from resource attributes (service.namespace, k8s.namespace.name; Jaeger process
    # tags): per resource, not per span; a service named twice keeps its last namespace
    service_namespaces: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return int(self.span_id.shape[0])

    @property
    def duration_ns(self) -> np.ndarray:
        return self.end_ns - self.start_ns

    def string_column(self, column: str) -> list[str]:
        """Resolve one string column (service, name, peer, destination) to Python strings."""
        table = self.strings
        return [table[i] for i in getattr(self, column).tolist()]

    def take(self, rows: np.ndarray) -> SpanBatch:
        """A new batch with the given rows (index array or boolean mask), links kept."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        columns = {name: getattr(self, name)[rows] for name in _INT_COLUMNS}
        new_row = np.full(len(self), -1, np.int32)
        new_row[rows] = np.arange(rows.shape[0], dtype=np.int32)
        keep = new_row[self.link_row] >= 0 if self.link_row.size else np.zeros(0, bool)
        return SpanBatch(
            strings=self.strings,
            **columns,
            link_row=new_row[self.link_row[keep]],
            link_trace_hi=self.link_trace_hi[keep],
            link_trace_lo=self.link_trace_lo[keep],
            link_span_id=self.link_span_id[keep],
            service_namespaces=self.service_namespaces,
        )

    @staticmethod
    def empty() -> SpanBatch:
        return SpanBatch(strings=("",), **{n: np.zeros(0, t) for n, t in _INT_COLUMNS.items()})

    @staticmethod
    def concat(batches: Iterable[SpanBatch]) -> SpanBatch:
        """Concatenate batches, merging their string tables."""
        batches = [b for b in batches if len(b)]
        if not batches:
            return SpanBatch.empty()
        namespaces = tuple(dict(pair for b in batches for pair in b.service_namespaces).items())
        if len(batches) == 1:
            return batches[0]
        merged: dict[str, int] = {"": 0}
        remaps = []
        for batch in batches:
            remap = np.fromiter(
                (merged.setdefault(s, len(merged)) for s in batch.strings), np.int32, len(batch.strings)
            )
            remaps.append(remap)
        columns = {}
        for name, dtype in _INT_COLUMNS.items():
            parts = [getattr(b, name) for b in batches]
            if name in ("service", "name", "peer", "destination"):
                parts = [remap[p] for remap, p in zip(remaps, parts, strict=True)]
            columns[name] = np.concatenate(parts).astype(dtype, copy=False)
        offsets = np.cumsum([0] + [len(b) for b in batches[:-1]])
        return SpanBatch(
            strings=tuple(merged),
            **columns,
            link_row=np.concatenate([b.link_row + off for b, off in zip(batches, offsets, strict=True)]).astype(
                np.int32
            ),
            link_trace_hi=np.concatenate([b.link_trace_hi for b in batches]),
            link_trace_lo=np.concatenate([b.link_trace_lo for b in batches]),
            link_span_id=np.concatenate([b.link_span_id for b in batches]),
            service_namespaces=namespaces,
        )
