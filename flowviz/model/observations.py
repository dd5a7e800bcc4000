"""Edge observations: one row per call between two nodes, the deriver's output and the store's input (shared
vocabulary: sources, the store, the benchmarks and the tests build and read them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

NO_LATENCY = -1

_COLUMNS = {
    "source": np.int32,
    "target": np.int32,
    "source_kind": np.int8,
    "target_kind": np.int8,
    "connection_type": np.int8,
    "via": np.int32,
    "time_ns": np.int64,
    "latency_ns": np.int64,
    "client_latency_ns": np.int64,
    "server_latency_ns": np.int64,
    "failed": np.bool_,
    "http_status": np.int16,
    "trace_hi": np.uint64,
    "trace_lo": np.uint64,
    "count": np.int64,
}
OBSERVATION_DTYPES = _COLUMNS  # the columns and their dtypes, for tables that hold observations before they go out


@dataclass(frozen=True, slots=True, eq=False)
class EdgeObservations:
    """Calls as parallel columns; `source`, `target` and `via` index into `names` (0 = "").

    `time_ns` is when the call started (client start where known, else server start);
    `latency_ns` is the server-side duration where there is a server span, else the client
    side; `client_latency_ns`/`server_latency_ns` are -1 where that side is unknown, and
    `latency_ns` is -1 where no latency is known at all (dependency lists). `http_status` is the
    call's HTTP status: the client's where the call failed there (0 for a timeout), else the
    server's, else the client's (0: none). `count` is how many calls the row stands for (1 for spans; `callCount`
    for Jaeger dependency links).
    """

    names: tuple[str, ...]
    source: np.ndarray
    target: np.ndarray
    source_kind: np.ndarray
    target_kind: np.ndarray
    connection_type: np.ndarray
    via: np.ndarray
    time_ns: np.ndarray
    latency_ns: np.ndarray
    client_latency_ns: np.ndarray
    server_latency_ns: np.ndarray
    failed: np.ndarray
    http_status: np.ndarray
    trace_hi: np.ndarray
    trace_lo: np.ndarray
    count: np.ndarray
    # (service, namespace) the decoders read from resource attributes since the deriver's last output
    service_namespaces: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return int(self.source.shape[0])

    @staticmethod
    def from_columns(names: Iterable[str], **columns: object) -> EdgeObservations:
        """Build from array-likes, casting each column to its dtype."""
        size = len(np.asarray(columns["source"]))
        defaults = {
            "count": 1,
            "http_status": 0,
            "trace_hi": 0,
            "trace_lo": 0,
            "client_latency_ns": NO_LATENCY,
            "server_latency_ns": NO_LATENCY,
        }
        cast = {}
        for name, dtype in _COLUMNS.items():
            value = columns.get(name, defaults.get(name))
            if value is None:
                raise TypeError(f"missing column {name!r}")
            array = np.asarray(value, dtype=dtype)
            cast[name] = np.full(size, array, dtype) if array.ndim == 0 else array
        return EdgeObservations(names=tuple(names), **cast)

    @staticmethod
    def empty() -> EdgeObservations:
        return EdgeObservations(names=("",), **{n: np.zeros(0, t) for n, t in _COLUMNS.items()})

    @staticmethod
    def concat(parts: Iterable[EdgeObservations]) -> EdgeObservations:
        """Concatenate, merging the name tables."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return EdgeObservations.empty()
        if len(parts) == 1:
            return parts[0]
        merged: dict[str, int] = {"": 0}
        columns: dict[str, list[np.ndarray]] = {n: [] for n in _COLUMNS}
        for part in parts:
            remap = np.array([merged.setdefault(s, len(merged)) for s in part.names], np.int32)
            for name in _COLUMNS:
                values = getattr(part, name)
                columns[name].append(remap[values] if name in ("source", "target", "via") else values)
        namespaces = tuple(dict(pair for part in parts for pair in part.service_namespaces).items())
        return EdgeObservations(
            names=tuple(merged), **{n: np.concatenate(v) for n, v in columns.items()}, service_namespaces=namespaces
        )
