"""Per-operation figures of each service (calls, failures, latency histogram per second), in bounded memory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowviz.store.latency_bins import BIN_COUNT, bin_of

SECOND_NS = 1_000_000_000
DEFAULT_OPERATION_BUDGET_BYTES = 16 << 20
OTHER = "(other)"  # strings, operations and keys beyond the cardinality caps
_NEVER = -(1 << 62)
_DICT_ENTRY_BYTES = 120  # a dict entry (besides the text it holds)


@dataclass(frozen=True, slots=True)
class OperationFigures:
    """One operation (span name) of a service in a window: calls, failures, latency percentiles in ms."""

    name: str
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


class OperationStats:
    """Calls per (service, operation, time bucket, latency bin) with failures: a service's operations and histogram.

    Cells are int64 keys `second << 28 | operation << 8 | latency bin` (bins of `latency_bins`)
    with call and failure counts, in size-tiered sorted chunks. Buckets are 1 s; when the cells
    outgrow `memory_budget_bytes` the oldest second-buckets are merged into minutes (all but the
    newest minute), then minutes into hours (all but the current hour), at last the oldest dropped,
    so `memory_bytes()` stays within the budget. A window counts the cells whose bucket starts in
    it. Operations beyond `max_operations` are counted as the service's "(other)"; the operation table
    itself takes at most half the budget: beyond that, new operations are counted in one catch-all that no
    service reports (so 150 000 services cost the table, not the cells, their memory).
    """

    def __init__(self, *, memory_budget_bytes: int = DEFAULT_OPERATION_BUDGET_BYTES, max_operations: int = 50_000):
        self.memory_budget_bytes = int(memory_budget_bytes)
        self.max_operations = min(int(max_operations), (1 << 20) - 2)
        self._max_entries = max(2, min(self.max_operations, self.memory_budget_bytes // 2 // _DICT_ENTRY_BYTES))
        self._op_of: dict[int, int] = {}  # service << 32 | name -> operation
        self._op_service: list[int] = []
        self._op_name: list[int] = []
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (keys, calls, failures)
        self._coarse_before_s = [_NEVER, _NEVER]  # seconds before these are per minute, per hour
        self._floor_s = _NEVER

    def memory_bytes(self) -> int:
        return sum(k.nbytes + c.nbytes + f.nbytes for k, c, f in self._chunks) + _DICT_ENTRY_BYTES * len(self._op_of)

    def add(self, time_ns: np.ndarray, service: np.ndarray, name: np.ndarray, latency_ns, failed) -> None:
        """Count calls: start times, service and operation name (string ids), durations, failed flags."""
        if len(time_ns) == 0:
            return
        ops = self._operations(np.asarray(service, np.int64), np.asarray(name, np.int64))
        seconds = self._bucket_s(np.asarray(time_ns, np.int64) // SECOND_NS)
        keep = seconds >= self._floor_s
        keys = seconds << 28 | ops << 8 | bin_of(latency_ns).astype(np.int64)
        self._insert(keys[keep], np.ones(int(keep.sum()), np.int64), np.asarray(failed, np.int64)[keep])
        self._enforce_budget()

    def operations(self, service: int, start_ns: int, end_ns: int) -> tuple[list[int], np.ndarray, np.ndarray]:
        """(operation name ids, failures per operation, histogram operations × BIN_COUNT) of cells starting in
        [start_ns, end_ns)."""
        ops = [op for op, owner in enumerate(self._op_service) if owner == service]
        hist = np.zeros((len(ops), BIN_COUNT), np.int64)
        errors = np.zeros(len(ops), np.int64)
        if ops and end_ns > start_ns:
            local = np.full(len(self._op_service), -1, np.int64)
            local[ops] = np.arange(len(ops))
            low, high = -(-int(start_ns) // SECOND_NS) << 28, -(-int(end_ns) // SECOND_NS) << 28
            for keys, calls, failures in self._chunks:
                first, last = np.searchsorted(keys, [low, high])
                row = local[(keys[first:last] >> 8) & 0xFFFFF]
                mine = row >= 0
                bins = keys[first:last][mine] & 0xFF
                np.add.at(hist, (row[mine], bins), calls[first:last][mine])
                np.add.at(errors, row[mine], failures[first:last][mine])
        return [self._op_name[op] for op in ops], errors, hist

    def _operations(self, service: np.ndarray, name: np.ndarray) -> np.ndarray:
        pair = service << 32 | name
        unique, inverse = np.unique(pair, return_inverse=True)
        ids = np.empty(unique.shape[0], np.int64)
        for index, value in enumerate(unique.tolist()):
            op = self._op_of.get(value)
            if op is None:
                owner = value >> 32
                if len(self._op_of) >= self.max_operations:
                    value = owner << 32 | 1  # string id 1 is OTHER in the exemplar store
                    op = self._op_of.get(value)
                if op is None and len(self._op_of) >= self._max_entries:
                    value, owner = -1, -1  # the table is full: the catch-all, which no service owns
                    op = self._op_of.get(value)
                if op is None:
                    op = self._op_of[value] = len(self._op_service)
                    self._op_service.append(owner)
                    self._op_name.append(value & 0xFFFFFFFF)
            ids[index] = op
        return ids[inverse]

    def _bucket_s(self, seconds: np.ndarray) -> np.ndarray:
        minute, hour = self._coarse_before_s
        out = np.where(seconds < minute, seconds // 60 * 60, seconds)
        return np.where(seconds < hour, seconds // 3600 * 3600, out)

    def _insert(self, keys: np.ndarray, calls: np.ndarray, failures: np.ndarray) -> None:
        if keys.size:
            self._chunks.append(_sum_cells(keys, calls, failures))
        while len(self._chunks) >= 2 and 2 * len(self._chunks[-1][0]) >= len(self._chunks[-2][0]):
            newer, older = self._chunks.pop(), self._chunks.pop()
            self._chunks.append(_sum_cells(*(np.concatenate([o, n]) for o, n in zip(older, newer, strict=True))))

    def _merged(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        return _sum_cells(*(np.concatenate([c[i] for c in chunks]) for i in range(3)))

    def _enforce_budget(self) -> None:
        """Coarsen (else drop) the oldest cells until they take at most 3/4 of the budget; the newest minute stays."""
        if self.memory_bytes() <= self.memory_budget_bytes:
            return
        keys, calls, failures = self._merged()
        target = self.memory_budget_bytes * 3 // 4 - _DICT_ENTRY_BYTES * len(self._op_of)
        while keys.size and keys.size * 24 > target:
            seconds = keys >> 28
            excess = keys.size - max(target, 0) // 24
            at = int(seconds[min(2 * excess, keys.size - 1)])  # coarsening what is older frees about enough
            newest_minute = int(seconds[-1]) // 60 * 60
            minute, hour = self._coarse_before_s
            to_minutes = min((at // 60 + 1) * 60, newest_minute)
            to_hours = min((min(at, minute) // 3600 + 1) * 3600, newest_minute // 3600 * 3600)
            if to_minutes > minute:
                self._coarse_before_s[0] = to_minutes
            elif to_hours > hour:
                self._coarse_before_s[1] = to_hours
                self._coarse_before_s[0] = max(self._coarse_before_s)
            else:
                oldest = int(seconds[0])
                width = 3600 if oldest < hour else 60 if oldest < minute else 1
                self._floor_s = max(oldest + width, min((at // width + 1) * width, newest_minute))
                keep = seconds >= self._floor_s
                keys, calls, failures = keys[keep], calls[keep], failures[keep]
                continue
            moved = self._bucket_s(seconds)
            keys, calls, failures = _sum_cells(moved << 28 | (keys & ((1 << 28) - 1)), calls, failures)
        self._chunks = [(keys, calls, failures)] if keys.size else []


def _sum_cells(keys: np.ndarray, calls: np.ndarray, failures: np.ndarray):
    unique, inverse = np.unique(keys, return_inverse=True)
    return (
        unique,
        np.bincount(inverse, weights=calls, minlength=unique.size).astype(np.int64),
        np.bincount(inverse, weights=failures, minlength=unique.size).astype(np.int64),
    )
