"""Attribute keys worth reading, matched by a hash of length and first word, and their KeyValues read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from flowviz.decoders.attributes import ATTRIBUTE_CODES, NAMESPACE_KEYS
from flowviz.decoders.otlp_proto.buffer import _BYTE_MASKS, _Wire
from flowviz.decoders.otlp_proto.key_values import _scalar, _scalars
from flowviz.decoders.otlp_proto.tree import _Tree

RESOURCE_KEYS = frozenset(("db.name", "db.namespace", "db.system", "db.system.name", "peer.service"))
_SERVICE_KEY = "service.name"


@dataclass(frozen=True, slots=True)
class _KeyTable:
    """Attribute keys worth reading, found by a hash of length and first 8 bytes, then compared exactly."""

    keys: tuple[str, ...]
    index: dict[str, int]
    words: np.ndarray  # [word, key]: the key's bytes as little-endian 8-byte words, zero padded
    last_words: np.ndarray  # [key]: the key's last 8 bytes as a little-endian word (keys longer than 8 bytes)
    lengths: np.ndarray
    length_ok: np.ndarray  # [length] -> some key has this length (last entry: longer than all)
    multiplier: int
    slots: np.ndarray  # [hash] -> key index or -1


def _build_key_table() -> _KeyTable:
    keys = tuple(dict.fromkeys([*ATTRIBUTE_CODES, _SERVICE_KEY, *NAMESPACE_KEYS]))
    encoded = [k.encode() for k in keys]
    count = max(len(k) for k in encoded) // 8 + 1
    padded = [k.ljust(8 * count, b"\0") for k in encoded]
    words = np.array(
        [[int.from_bytes(p[8 * i : 8 * i + 8], "little") for i in range(count)] for p in padded], np.uint64
    )
    last_words = np.array([int.from_bytes(k[-8:].rjust(8, b"\0"), "little") for k in encoded], np.uint64)
    lengths = np.array([len(k) for k in encoded], np.int64)
    length_ok = np.zeros(int(lengths.max()) + 2, bool)
    length_ok[lengths] = True
    for multiplier in range(0x9E3779B97F4A7C15, 0x9E3779B97F4A7C15 + 4000, 2):
        hashes = _key_hash(words[:, 0], lengths, multiplier)
        if np.unique(hashes).size == len(keys):
            slots = np.full(4096, -1, np.int64)
            slots[hashes] = np.arange(len(keys))
            index = {k: i for i, k in enumerate(keys)}
            return _KeyTable(keys, index, words.T.copy(), last_words, lengths, length_ok, multiplier, slots)
    raise AssertionError("no collision-free hash for the attribute keys")


def _key_hash(first_word: np.ndarray, lengths: np.ndarray, multiplier: int) -> np.ndarray:
    mixed = (first_word ^ lengths.astype(np.uint64)) * np.uint64(multiplier)
    return (mixed >> np.uint64(52)).astype(np.int64)


_KEYS = _build_key_table()
_KEY_ATTRIBUTE_CODE = np.array([ATTRIBUTE_CODES.get(k, -1) for k in _KEYS.keys], np.int64)
_KEY_RESOURCE_CODE = np.array(
    [ATTRIBUTE_CODES[k] if k in RESOURCE_KEYS and k != _SERVICE_KEY else -1 for k in _KEYS.keys], np.int64
)
_SERVICE_INDEX = _KEYS.index[_SERVICE_KEY]
_NAMESPACE_INDICES = [_KEYS.index[k] for k in NAMESPACE_KEYS]


def _match_keys(wire: _Wire, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Index into `_KEYS.keys` of each key, -1 for keys no rule reads."""
    lengths = ends - starts
    out = np.full(starts.size, -1, np.int64)
    candidates = np.flatnonzero(_KEYS.length_ok[np.minimum(lengths, _KEYS.length_ok.size - 1)])
    start, length = starts[candidates], lengths[candidates]
    first = wire.u64[start] & _BYTE_MASKS[np.minimum(length, 8)]
    index = _KEYS.slots[_key_hash(first, length, _KEYS.multiplier)]
    hit = np.flatnonzero(index >= 0)
    candidates, start, length, index = candidates[hit], start[hit], length[hit], index[hit]
    same = (first[hit] == _KEYS.words[0, index]) & (length == _KEYS.lengths[index])
    long = np.flatnonzero(same & (length > 8))
    same[long] = _same_after_first_word(wire, start[long], length[long], index[long])
    out[candidates[same]] = index[same]
    return out


def _same_after_first_word(wire: _Wire, start: np.ndarray, length: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Whether keys of more than 8 bytes, of the length of key `index` and with its first 8 bytes, are that key:
    their last 8 bytes (whole words, no masks), then for longer keys the words in between."""
    same = wire.u64[start + length - 8] == _KEYS.last_words[index]
    for word in range(1, _KEYS.words.shape[0]):
        rows = np.flatnonzero(length > 8 * word + 8)  # word `word` lies wholly before the last 8 bytes
        if not rows.size:
            break
        same[rows] &= wire.u64[start[rows] + 8 * word] == _KEYS.words[word, index[rows]]
    return same


def _read_key_values(wire: _Wire, tree: _Tree, items: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, ...]:
    """(key index, value) of KeyValue `items`; values only where `codes[key index] >= 0` (else None)."""
    table = tree.key_values
    where = tree.key_value_row[items]
    plain = where >= 0
    key = np.full(items.size, -1, np.int64)
    values = np.empty(items.size, object)
    rows = np.flatnonzero(plain)
    at = where[rows]
    key[rows] = _match_keys(wire, table.key_start[at], table.key_end[at])
    wanted = rows[(key[rows] >= 0) & (codes[np.maximum(key[rows], 0)] >= 0)]
    at = where[wanted]
    values[wanted] = _scalars(wire, table.member[at], table.value_start[at], table.value_end[at])
    for row in np.flatnonzero(~plain).tolist():  # unusual encodings: let upb read the (valid) message
        item = int(items[row])
        pair = KeyValue.FromString(wire.data[int(tree.item_start[item]) : int(tree.item_end[item])])
        key[row] = _KEYS.index.get(pair.key, -1)
        if key[row] >= 0 and codes[key[row]] >= 0:
            values[row] = _scalar(pair.value)
    return key, values
