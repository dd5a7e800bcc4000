"""Vectorised decoding of trace/span ids (hex strings, ints or raw bytes) into uint64 pairs."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from itertools import compress

import numpy as np

_MAX_HEX_DIGITS = 32


def _as_hex(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return "" if not value else "!"
    if isinstance(value, int):
        return format(value, "x") if 0 <= value < 1 << 128 else "!"
    if isinstance(value, bytes | bytearray):
        return value.hex() if len(value) <= 16 else "!"
    return "!"


def hex_ids_to_u64_pairs(values: Sequence[object]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode ids to `(high64, low64, ok)` arrays.

    Accepts hex strings of 0..32 digits in any case (left-padded with zeros: 64-bit ids get
    `high64 == 0`), non-negative ints below 2**128, raw big-endian bytes, and ""/0/None for
    "no id" (decodes to 0). `ok` is False where a value is not a valid id (decoded as 0).
    """
    count = len(values)
    high, low = np.zeros(count, np.uint64), np.zeros(count, np.uint64)
    ok = np.ones(count, bool)
    if count == 0:
        return high, low, ok
    types = set(map(type, values))
    if types == {bytes}:
        return _decode_raw(values)
    if types != {str}:
        values = [_as_hex(v) for v in values]
    widths = np.fromiter(map(len, values), np.int64, count)
    for width in np.unique(widths).tolist():
        if width == 0:
            continue
        selected = widths == width
        group = list(compress(values, selected.tolist())) if not selected.all() else list(values)
        group_high, group_low, group_ok = _decode_width(group, width)
        high[selected], low[selected], ok[selected] = group_high, group_low, group_ok
    return high, low, ok


def _decode_raw(values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw big-endian ids (protobuf bytes fields): empty = no id, at most 16 bytes."""
    count = len(values)
    lengths = np.fromiter(map(len, values), np.int64, count)
    ok = lengths <= 16
    full = np.zeros((count, 16), np.uint8)
    for length in np.unique(lengths[ok]).tolist():
        if length == 0:
            continue
        selected = lengths == length
        group = b"".join(compress(values, selected.tolist()))
        full[selected, 16 - length :] = np.frombuffer(group, np.uint8).reshape(-1, length)
    pairs = full.view(">u8").astype(np.uint64)
    return pairs[:, 0].copy(), pairs[:, 1].copy(), ok


def _decode_width(values: list[str], width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode ids that all have `width` hex digits."""
    count = len(values)
    if width > _MAX_HEX_DIGITS:
        zeros = np.zeros(count, np.uint64)
        return zeros, zeros.copy(), np.zeros(count, bool)
    padded = (_MAX_HEX_DIGITS - width) // 2 * 2
    if width % 2:
        values = ["0" + v for v in values]
        width += 1
        padded = _MAX_HEX_DIGITS - width
    try:
        raw = bytes.fromhex("".join(values))
        if len(raw) != count * width // 2:
            raise ValueError("white space inside an id")
        ok = np.ones(count, bool)
    except ValueError:
        ok, raw = _decode_one_by_one(values, width)
    digits = np.frombuffer(raw, np.uint8).reshape(count, width // 2)
    full = np.zeros((count, 16), np.uint8)
    full[:, padded // 2 :] = digits
    pairs = full.view(">u8").astype(np.uint64)
    return pairs[:, 0].copy(), pairs[:, 1].copy(), ok


def _decode_one_by_one(values: Sequence[str], width: int) -> tuple[np.ndarray, bytes]:
    ok = np.ones(len(values), bool)
    parts = []
    for i, value in enumerate(values):
        try:
            part = bytes.fromhex(value)
            if len(part) != width // 2:
                raise ValueError(value)
            parts.append(part)
        except ValueError:
            ok[i] = False
            parts.append(bytes(width // 2))
    return ok, b"".join(parts)


def base64_id_to_hex(value: str) -> str:
    """Convert a protobuf-JSON base64 id to hex ("!" if it is not valid base64)."""
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return "!"


def u64_pair_to_hex(high: int, low: int, *, digits: int = 32) -> str:
    """Format an id as lower-case hex; 64-bit trace ids (`high == 0`, digits=0) as 16 digits."""
    value = (int(high) << 64) | int(low)
    if digits == 0:
        digits = 16 if high == 0 else 32
    return format(value, f"0{digits}x")
