"""The concatenated messages as numpy views: varints, byte strings, equal ranges, UTF-8 checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_PAD_BYTES = 192  # zero bytes after the data: gathers of a few bytes past any position stay inside

_HIGH_BITS = np.uint64(0x8080808080808080)
_LOW_BITS = np.uint64(0x7F7F7F7F7F7F7F7F)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # an odd multiplier for content hashes
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1], np.uint64)


class _Wire:
    """The concatenated messages (zero padded): bytes, the 16 bits at each position, unaligned 64-bit view."""

    def __init__(self, messages: Sequence[bytes | memoryview]) -> None:
        self.data = b"".join([*messages, bytes(_PAD_BYTES)])
        size = len(self.data)
        self.u8 = np.frombuffer(self.data, np.uint8)
        self.pairs = self.u8[1:].astype(np.uint16)  # faster to gather than an unaligned view
        self.pairs <<= 8
        self.pairs |= self.u8[:-1]
        self.u64 = np.ndarray((size - 7,), "<u8", self.data, 0, (1,))

    def varints(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values (uint64) and sizes in bytes (0: longer than 10 bytes) of the varints at `positions`."""
        word = self.u64[positions]
        stops = ~word & _HIGH_BITS
        lowest = stops & (~stops + np.uint64(1))
        size = np.frexp(lowest.astype(np.float64))[1].astype(np.int64) >> 3
        value = word & ((lowest << np.uint64(1)) - np.uint64(1)) & _LOW_BITS
        value = (value & np.uint64(0x007F007F007F007F)) | ((value & np.uint64(0x7F007F007F007F00)) >> np.uint64(1))
        value = (value & np.uint64(0x00003FFF00003FFF)) | ((value & np.uint64(0x3FFF00003FFF0000)) >> np.uint64(2))
        value = (value & np.uint64(0x000000000FFFFFFF)) | ((value & np.uint64(0x0FFFFFFF00000000)) >> np.uint64(4))
        long = np.flatnonzero(size == 0)
        if long.size:
            ninth = self.u8[positions[long] + 8].astype(np.uint64)
            tenth = self.u8[positions[long] + 9].astype(np.uint64)
            nine, ten = ninth < 0x80, (ninth >= 0x80) & (tenth < 0x80)
            high = ((ninth & np.uint64(0x7F)) << np.uint64(56)) | ((tenth & np.uint64(1)) << np.uint64(63))
            value[long] |= np.where(nine, ninth << np.uint64(56), np.where(ten, high, np.uint64(0)))
            size[long] = np.where(nine, 9, np.where(ten, 10, 0))
        return value, size

    def bytes_objects(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """An object array of `bytes`, one per [start, end)."""
        out = np.empty(starts.size, object)
        if not starts.size:
            return out
        lengths = ends - starts
        shortest, longest = int(lengths.min()), int(lengths.max())
        if shortest == longest:
            groups = [np.arange(starts.size)]
        elif longest < 256 and np.count_nonzero(np.bincount(lengths)) <= 8:
            groups = [np.flatnonzero(lengths == n) for n in np.flatnonzero(np.bincount(lengths)).tolist()]
        else:
            order = np.argsort(lengths, kind="stable")
            groups = np.split(order, np.flatnonzero(np.diff(lengths[order])) + 1)
        for group in groups:
            length = int(lengths[group[0]])
            if length == 0:
                out[group] = b""
            elif group.size < 16 or length > 256:
                data = self.data
                out[group] = [data[s : s + length] for s in starts[group].tolist()]
            else:
                words = self.u64[starts[group, None] + np.arange(0, length, 8)]
                raw = np.ascontiguousarray(words.view(np.uint8)[:, :length])
                out[group] = raw.view(f"V{length}").ravel()
        return out

    def unique_ranges(self, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Equal byte strings among the ranges [start, end): `(first, inverse)`, `first` one range of each
        distinct string, `inverse` the index in `first` of each range's string.

        Grouped by a hash of the content, then each range compared with its group's `first`: exact.
        """
        count = starts.size
        if count == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lengths = ends - starts
        hashes = lengths.astype(np.uint64) * _MIX
        steps = []  # (rows, offset, mask, masked word) of each 8-byte step, to verify with
        rows, offset = np.flatnonzero(lengths > 0), 0
        while rows.size:
            left = lengths[rows] - offset
            mask = _BYTE_MASKS[np.minimum(left, 8)]
            word = self.u64[starts[rows] + offset] & mask
            hashed = hashes[rows]
            hashes[rows] = ((hashed ^ word) * _MIX) ^ (hashed >> np.uint64(29))
            steps.append((rows, offset, mask, word))
            rows, offset = rows[left > 8], offset + 8
        first, inverse = _group_hashes(hashes)
        representative = first[inverse]
        same = lengths[representative] == lengths
        last = self.u64.size - 1  # a shorter representative is not the same anyway: keep its reads inside
        for rows, offset, mask, word in steps:
            at = np.minimum(starts[representative[rows]] + offset, last)
            same[rows] &= (self.u64[at] & mask) == word
        if same.all():
            return first, inverse
        ids: dict[bytes, int] = {}  # a hash collision: group by the bytes themselves
        raw = self.bytes_objects(starts, ends).tolist()
        inverse = np.fromiter((ids.setdefault(b, len(ids)) for b in raw), np.int64, count)
        first = np.empty(len(ids), np.int64)
        first[inverse[::-1]] = np.arange(count)[::-1]
        return first, inverse

    def strings(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """An object array of `str` (UTF-8 already checked), equal byte strings decoded once."""
        first, inverse = self.unique_ranges(starts, ends)
        data = self.data
        texts = np.empty(first.size, object)
        texts[:] = [data[s:e].decode() for s, e in zip(starts[first].tolist(), ends[first].tolist(), strict=True)]
        return texts[inverse]

    def bad_utf8(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Indices of the byte ranges that are not valid UTF-8 (those with a byte from 0x80 checked in Python)."""
        data, bad = self.data, []
        for index in self._not_ascii(starts, ends).tolist():
            piece = data[int(starts[index]) : int(ends[index])]
            if not piece.isascii():
                try:
                    piece.decode()
                except UnicodeDecodeError:
                    bad.append(index)
        return np.array(bad, np.int64)

    def _not_ascii(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Indices of the ranges that may hold a byte from 0x80: all that do, and all longer than 72 bytes.

        Whole 8-byte words: the first and the last word of a range (which cover up to 16 bytes; only a
        range shorter than 8 bytes needs a mask), then the words in between, 8 bytes at a time.
        """
        lengths = ends - starts
        check = np.flatnonzero(lengths > 0)
        length = lengths[check]
        first = self.u64[starts[check]] & _BYTE_MASKS[np.minimum(length, 8)]
        last = self.u64[np.maximum(ends[check] - 8, 0)] & np.where(length > 8, _BYTE_MASKS[8], np.uint64(0))
        high = ((first | last) & _HIGH_BITS) != 0
        suspects = [check[high]]
        check = check[~high & (length > 16)]
        offset = 8
        while check.size and offset < 64:
            high = (self.u64[starts[check] + offset] & _HIGH_BITS) != 0
            suspects.append(check[high])
            check = check[~high & (lengths[check] > offset + 16)]  # another word before the last one
            offset += 8
        suspects.append(check)
        return np.concatenate(suspects)


def _group_hashes(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups of equal uint64 `hashes` as a sort would find them, without sorting them all: `(first, inverse)`,
    `first` one member of each group in ascending order of hash, `inverse` the group of each hash."""
    count = hashes.size
    members = _hash_representatives(hashes)
    first = np.flatnonzero(members == np.arange(count))
    first = first[np.argsort(hashes[first])]  # only the distinct values are sorted
    group = np.empty(count, np.int64)
    group[first] = np.arange(first.size)
    return first, group[members]


def _hash_representatives(hashes: np.ndarray) -> np.ndarray:
    """For each hash, the index of one equal hash, the same for all equal ones (a hash table on some of its
    bits; hashes that lose their slot to a different value try other bits, the last few are sorted)."""
    out = np.empty(hashes.size, np.int64)
    pending = np.arange(hashes.size)
    for round_ in range(3):
        if not pending.size:
            return out
        bits = max(int(pending.size).bit_length() + 1, 8)
        shift = np.uint64((64 - bits, 0, 24)[round_])
        slot = ((hashes[pending] >> shift) & np.uint64((1 << bits) - 1)).astype(np.intp)
        table = np.empty(1 << bits, np.int64)
        table[slot] = pending  # one winner per slot; every hash reads its slot's winner back
        winner = table[slot]
        same = hashes[winner] == hashes[pending]
        out[pending[same]] = winner[same]
        pending = pending[~same]
    if pending.size:
        first, inverse = np.unique(hashes[pending], return_index=True, return_inverse=True)[1:]
        out[pending] = pending[first][inverse]
    return out
