"""Interning for the exemplar store: strings to ids, (service) and (source, target) pairs to key ids, both capped."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flowviz.store.exemplars.state import ExemplarState


class KeyTables(ExemplarState):
    """Strings and keys of the store (beyond `max_strings` / `max_keys`: one overflow string or key)."""

    def _intern(self, strings: Sequence[str]) -> np.ndarray:
        out = np.empty(len(strings), np.int32)
        table, index = self._strings, self._string_of
        for position, text in enumerate(strings):
            sid = index.get(text)
            if sid is None:
                if len(table) >= self.max_strings:
                    sid = 1
                else:
                    sid = index[text] = len(table)
                    table.append(text)
                    self._string_bytes += len(text)
            out[position] = sid
        return out

    def _intern_keys(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Key ids of (service, -1) or (source, target) string-id pairs; beyond `max_keys`, one overflow key."""
        pair = first.astype(np.int64) << 32 | (second.astype(np.int64) & 0xFFFFFFFF)
        unique, inverse = np.unique(pair, return_inverse=True)
        ids = np.empty(unique.shape[0], np.int32)
        for position, value in enumerate(unique.tolist()):
            key = (value >> 32, -1 if value & 0xFFFFFFFF == 0xFFFFFFFF else value & 0xFFFFFFFF)
            kid = self._key_of.get(key)
            if kid is None:
                if len(self._keys) >= self.max_keys:
                    key = (1, -1 if key[1] < 0 else 1)
                    kid = self._key_of.get(key)
                if kid is None:
                    kid = self._key_of[key] = len(self._keys)
                    self._keys.append(key)
            ids[position] = kid
        if len(self._keys) > self._key_is_service.size:
            self._key_is_service = np.array([second < 0 for _, second in self._keys], bool)
        return ids[inverse]

    def _key_id(self, service: str | tuple[str, str]) -> int | None:
        if isinstance(service, str):
            sid = self._string_of.get(service)
            return None if sid is None else self._key_of.get((sid, -1))
        source, target = (self._string_of.get(s) for s in service)
        return None if source is None or target is None else self._key_of.get((source, target))
