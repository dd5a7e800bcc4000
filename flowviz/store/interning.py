"""Append-only node and edge tables: vectorised mapping of a batch's rows to stable ids, with cardinality limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flowviz.model.graph_kinds import NodeKind
from flowviz.model.observations import EdgeObservations

NODE_BITS = 22
VIA_BITS = 16
CONNECTION_TYPE_BITS = 3
MAX_NODE_IDS = 1 << NODE_BITS
"""Node ids must fit the 22 bits an edge key gives each end."""
MAX_VIA_IDS = 1 << VIA_BITS
_MAX_LOCAL_KEY_SPACE = 1 << 32

REFUSED_NODE, REFUSED_VIA, REFUSED_EDGE = 1, 2, 3
REFUSED_REASONS = {
    REFUSED_NODE: "store: node limit reached",
    REFUSED_VIA: "store: via-name limit reached",
    REFUSED_EDGE: "store: edge limit reached",
}
"""Why a local edge key was refused → the problem reason its calls are counted under."""


def edge_key(source: np.ndarray, target: np.ndarray, connection_type: np.ndarray, via: np.ndarray) -> np.ndarray:
    """One int64 per edge identity (source id, target id, connection type, via id)."""
    key = source.astype(np.int64) << (NODE_BITS + CONNECTION_TYPE_BITS + VIA_BITS)
    key |= target.astype(np.int64) << (CONNECTION_TYPE_BITS + VIA_BITS)
    key |= connection_type.astype(np.int64) << VIA_BITS
    key |= via.astype(np.int64)
    return key


class _Column:
    """A growable numpy column whose prefix views stay valid (append-only: old elements never change)."""

    def __init__(self, dtype: type) -> None:
        self._data = np.zeros(64, dtype)
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        end = self.size + len(values)
        if end > len(self._data):
            grown = np.zeros(max(end, 2 * len(self._data)), self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : end] = values
        self.size = end

    def set(self, index: int, value: int) -> None:
        """Change one element: copies the buffer first, so views handed out earlier keep their values."""
        self._data = self._data.copy()
        self._data[index] = value

    def view(self) -> np.ndarray:
        view = self._data[: self.size]
        view.flags.writeable = False
        return view

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)


@dataclass(frozen=True, slots=True, eq=False)
class TablesSnapshot:
    """The node and edge tables as of one ingest; arrays are read-only prefixes of the writer's columns."""

    node_names: tuple[str, ...]
    node_kind: np.ndarray  # int8 NodeKind
    edge_source: np.ndarray  # int32 node index
    edge_target: np.ndarray  # int32 node index
    edge_connection_type: np.ndarray  # int8 ConnectionType
    edge_via: np.ndarray  # int32 index into via_names
    via_names: tuple[str, ...]  # via_names[0] == ""
    edge_via_names: tuple[str, ...]  # via name of each edge ("" where none)
    nbytes: int

    @property
    def node_count(self) -> int:
        return len(self.node_names)

    @property
    def edge_count(self) -> int:
        return int(self.edge_source.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class BatchKeys:
    """A batch's rows as local edge keys: mixed-radix numbers over (source, target, type, via) of the batch.

    Local keys are cheap to compute per row (arithmetic only); just their unique values are
    resolved to nodes and edges, after aggregation.
    """

    names: tuple[str, ...]
    row_key: np.ndarray  # int64 per row
    digits: tuple[tuple[int, int], ...]  # (lowest value, radix) of source, target, type, via
    key_of_rank: np.ndarray | None  # when keys were compressed to ranks: the uncompressed key of each rank
    name_kind: np.ndarray  # int8 per batch name: the most specific kind any row gives it


class Interner:
    """The writer's node and edge tables.

    Nodes are keyed by name; a node's kind is the first seen, except that a specific kind
    (database, topic, external, user) replaces "service". Edges are keyed by (source, target,
    connection type, via name). Past `max_nodes` / `max_edges` new ones are refused and the
    rows that needed them are reported as dropped.
    """

    def __init__(self, *, max_nodes: int, max_edges: int) -> None:
        if not 1 <= max_nodes <= MAX_NODE_IDS:
            raise ValueError(f"max_nodes must be in [1, {MAX_NODE_IDS}]")
        if max_edges < 1:
            raise ValueError("max_edges must be ≥ 1")
        self.max_nodes = max_nodes
        self.max_edges = max_edges
        self._node_ids: dict[str, int] = {}
        self._node_names: list[str] = []
        self._node_kind = _Column(np.int8)
        self._via_ids: dict[str, int] = {"": 0}
        self._via_names: list[str] = [""]
        self._edge_source = _Column(np.int32)
        self._edge_target = _Column(np.int32)
        self._edge_type = _Column(np.int8)
        self._edge_via = _Column(np.int32)
        self._known_keys = np.zeros(0, np.int64)  # sorted edge keys
        self._known_ids = np.zeros(0, np.int64)  # edge id of each known key
        self._snapshot: TablesSnapshot | None = None
        self._snapshot_via_names: tuple[str, ...] = ()

    @property
    def edge_count(self) -> int:
        return self._edge_source.size

    def snapshot(self) -> TablesSnapshot:
        if self._snapshot is None:
            columns = (self._node_kind, self._edge_source, self._edge_target, self._edge_type, self._edge_via)
            self._snapshot = TablesSnapshot(
                node_names=tuple(self._node_names),
                node_kind=self._node_kind.view(),
                edge_source=self._edge_source.view(),
                edge_target=self._edge_target.view(),
                edge_connection_type=self._edge_type.view(),
                edge_via=self._edge_via.view(),
                via_names=tuple(self._via_names),
                edge_via_names=self._edge_via_names(),
                nbytes=sum(c.nbytes for c in columns) + self._known_keys.nbytes + self._known_ids.nbytes,
            )
        return self._snapshot

    def _edge_via_names(self) -> tuple[str, ...]:
        """Via names per edge, extended from the previous snapshot's (edges are append-only)."""
        done = self._snapshot_via_names
        via = self._edge_via.view()
        if len(done) < len(via):
            done = done + tuple(self._via_names[v] for v in via[len(done) :].tolist())
            self._snapshot_via_names = done
        return done

    # -- nodes --------------------------------------------------------------------------------

    def _intern_nodes(self, names: Sequence[str], indices: np.ndarray, kinds: np.ndarray) -> np.ndarray:
        """Node id (-1 = refused) of each `names[i]` for i in `indices`, with `kinds` as their kinds."""
        ids = np.full(len(indices), -1, np.int32)
        service = int(NodeKind.SERVICE)
        node_kind = self._node_kind.view()
        for position, (index, kind) in enumerate(zip(indices.tolist(), kinds.tolist(), strict=True)):
            name = names[index]
            node = self._node_ids.get(name)
            if node is None:
                if len(self._node_names) >= self.max_nodes:
                    continue
                node = self._node_ids[name] = len(self._node_names)
                self._node_names.append(name)
                self._node_kind.append(np.array([kind], np.int8))
                self._snapshot = None
            elif kind != service and node < len(node_kind) and int(node_kind[node]) == service:
                self._node_kind.set(node, kind)
                node_kind = self._node_kind.view()
                self._snapshot = None
            ids[position] = node
        return ids

    def _intern_via(self, names: Sequence[str], indices: np.ndarray) -> np.ndarray:
        """Via id (-1 = refused) of each `names[i]` for i in `indices`; "" is 0."""
        ids = np.full(len(indices), -1, np.int32)
        for position, index in enumerate(indices.tolist()):
            name = names[index]
            via = self._via_ids.get(name)
            if via is None:
                if len(self._via_names) >= MAX_VIA_IDS:
                    continue
                via = self._via_ids[name] = len(self._via_names)
                self._via_names.append(name)
                self._snapshot = None
            ids[position] = via
        return ids

    # -- rows ---------------------------------------------------------------------------------

    def batch_keys(self, obs: EdgeObservations) -> BatchKeys:
        """Give each row a local edge key; note each name's most specific node kind."""
        n_names = len(obs.names)
        kind_seen = np.zeros((n_names, 8), bool)
        for names_column, kind_column in ((obs.source, obs.source_kind), (obs.target, obs.target_kind)):
            specific = np.flatnonzero(kind_column != NodeKind.SERVICE)
            if specific.size:
                kind_seen[names_column[specific], kind_column[specific].astype(np.intp) & 7] = True
        name_kind = np.where(kind_seen.any(axis=1), 7 - np.argmax(kind_seen[:, ::-1], axis=1), NodeKind.SERVICE)

        digits = []
        row_key = np.zeros(len(obs), np.int64)
        space = 1
        for column in (obs.source, obs.target, obs.connection_type, obs.via):
            low, high = int(column.min()), int(column.max())
            radix = high - low + 1
            if radix > 1:
                row_key *= radix
                row_key += column
                row_key -= low
            digits.append((low, radix))
            space *= radix
        key_of_rank = None
        if space > _MAX_LOCAL_KEY_SPACE:
            key_of_rank, inverse = np.unique(row_key, return_inverse=True)
            row_key = inverse.astype(np.int64)
        return BatchKeys(obs.names, row_key, tuple(digits), key_of_rank, name_kind.astype(np.int8))

    def resolve(self, batch: BatchKeys, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Edge id per unique local key (-1 where refused), interning new nodes and edges, and why refused."""
        rest = keys if batch.key_of_rank is None else batch.key_of_rank[keys]
        decoded = []
        for low, radix in reversed(batch.digits):
            decoded.append(rest % radix + low)
            rest = rest // radix
        key_via, key_type, key_target, key_source = decoded
        used_nodes = np.unique(np.concatenate((key_source, key_target)))
        node_of_name = np.full(len(batch.names), -1, np.int32)
        node_of_name[used_nodes] = self._intern_nodes(batch.names, used_nodes, batch.name_kind[used_nodes])
        used_via = np.unique(key_via)
        via_of_name = np.full(len(batch.names), -1, np.int32)
        via_of_name[used_via] = self._intern_via(batch.names, used_via)
        node_source = node_of_name[key_source]
        node_target = node_of_name[key_target]
        via_id = via_of_name[key_via]
        edge = np.full(len(keys), -1, np.int64)
        reason = np.zeros(len(keys), np.int8)
        reason[via_id < 0] = REFUSED_VIA
        reason[(node_source < 0) | (node_target < 0)] = REFUSED_NODE
        ok = np.flatnonzero(reason == 0)
        source, target, ctype, via = node_source[ok], node_target[ok], key_type[ok] & 7, via_id[ok]
        ids = self._lookup_or_add_edges(edge_key(source, target, ctype, via), source, target, ctype, via)
        edge[ok] = ids
        reason[ok[ids < 0]] = REFUSED_EDGE
        return edge, reason

    def _lookup_or_add_edges(
        self, keys: np.ndarray, source: np.ndarray, target: np.ndarray, ctype: np.ndarray, via: np.ndarray
    ) -> np.ndarray:
        """Edge id per key (keys unique), adding unknown ones while under the limit (-1 past it)."""
        position = np.searchsorted(self._known_keys, keys)
        position = np.minimum(position, len(self._known_keys) - 1)
        ids = np.full(len(keys), -1, np.int64)
        if len(self._known_keys):
            found = self._known_keys[position] == keys
            ids[found] = self._known_ids[position[found]]
        new = np.flatnonzero(ids < 0)[: max(self.max_edges - self.edge_count, 0)]
        if new.size == 0:
            return ids
        first = self.edge_count
        ids[new] = np.arange(first, first + new.size)
        self._edge_source.append(source[new].astype(np.int32))
        self._edge_target.append(target[new].astype(np.int32))
        self._edge_type.append(ctype[new].astype(np.int8))
        self._edge_via.append(via[new].astype(np.int32))
        all_keys = np.concatenate((self._known_keys, keys[new]))
        all_ids = np.concatenate((self._known_ids, ids[new]))
        order = np.argsort(all_keys, kind="stable")
        self._known_keys, self._known_ids = all_keys[order], all_ids[order]
        self._snapshot = None
        return ids
