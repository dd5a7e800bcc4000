"""Streaming split of one large JSON document into groups of its top-level array elements (numpy scan)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = np.zeros(256, np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_CLOSE = np.zeros(256, np.int8)
_CLOSE[[ord("]"), ord("}")]] = 1
_COMMA, _LBRACKET, _RBRACKET, _COLON = ord(","), ord("["), ord("]"), ord(":")


@dataclass(frozen=True, slots=True)
class ElementGroup:
    """Consecutive elements of one array inside the document, ready to be parsed as a JSON array.

    `key` is the object key holding the array when the document is an object (`"data"`,
    `"resourceSpans"`, ...), or None when the document itself is the array. `first_offset` is
    the byte offset of the first element, for locations in problem reports.
    """

    key: str | None
    array_json: bytes
    first_offset: int
    count: int


class _Scanner:
    """Structural positions of a JSON text, chunk by chunk, carrying string/escape/depth state."""

    def __init__(self) -> None:
        self.in_string = False
        self.escaped = False  # the next byte is escaped by an odd backslash run
        self.depth = 0

    def structural(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of [ ] { } , : outside strings in `chunk`, and the depth *after* each."""
        is_quote = chunk == _QUOTE
        is_backslash = chunk == _BACKSLASH
        positions = np.arange(chunk.size)
        # length of the backslash run ending just before each byte decides whether a quote is escaped
        last_plain = np.maximum.accumulate(np.where(~is_backslash, positions, -1))
        run_before = np.empty(chunk.size, np.int64)
        run_before[0] = 1 if self.escaped else 0
        run_before[1:] = positions[:-1] - last_plain[:-1]
        if self.escaped:
            # a run continuing from the previous chunk: its parity carries over
            head = np.flatnonzero(last_plain[:-1] < 0)
            run_before[1 + head] += 1
        real_quote = is_quote & (run_before % 2 == 0)
        quotes_so_far = np.cumsum(real_quote)
        inside = (quotes_so_far - real_quote) % 2 == 1
        if self.in_string:
            inside = ~inside
        candidates = np.flatnonzero(
            ~inside
            & ~real_quote
            & ((_OPEN[chunk] | _CLOSE[chunk]).astype(bool) | (chunk == _COMMA) | (chunk == _COLON))
        )
        delta = _OPEN[chunk[candidates]].astype(np.int64) - _CLOSE[chunk[candidates]]
        depth_after = self.depth + np.cumsum(delta)
        # carry state
        self.in_string = bool((quotes_so_far[-1] % 2 == 1) ^ self.in_string)
        trailing = chunk.size - 1 - int(last_plain[-1])
        self.escaped = (trailing + (1 if self.escaped and last_plain[-1] < 0 else 0)) % 2 == 1
        if depth_after.size:
            self.depth = int(depth_after[-1])
        return candidates, depth_after


def split_document(
    data: bytes | memoryview, *, group_bytes: int = 8 << 20, chunk_bytes: int = 1 << 20
) -> Iterator[ElementGroup]:
    """Yield groups of the elements of the document's arrays, about `group_bytes` each.

    For a top-level array the elements are its items; for a top-level object, the items of
    each of its array values (with the key). Non-array values of an object are ignored, since
    the envelopes flowviz reads keep their payload in arrays. Raises ValueError when the text is
    not a JSON array or object, or ends early; in the latter case the whole elements read before
    the cut are yielded first (only the element the cut went through is lost).
    """
    view = np.frombuffer(data, np.uint8)
    first = _first_non_space(view)
    if first < 0 or view[first] not in (ord("["), ord("{")):
        raise ValueError("not a JSON array or object")
    element_depth = 1 if view[first] == ord("[") else 2
    scanner = _Scanner()
    key: str | None = None
    group_start, group_count, last_comma = -1, 0, -1
    for chunk_start in range(0, view.size, chunk_bytes):
        chunk = view[chunk_start : chunk_start + chunk_bytes]
        positions, depths = scanner.structural(chunk)
        kinds = chunk[positions]
        wanted = (
            ((kinds == _LBRACKET) & (depths == element_depth))
            | ((kinds == _COMMA) & (depths == element_depth))
            | ((kinds == _RBRACKET) & (depths == element_depth - 1))
        )
        for position, byte in zip((positions[wanted] + chunk_start).tolist(), kinds[wanted].tolist(), strict=True):
            if byte == _LBRACKET:
                key = _key_before(view, position) if element_depth == 2 else None
                group_start, group_count = position + 1, 0
            elif byte == _COMMA and group_start >= 0:
                group_count, last_comma = group_count + 1, position
                if position + 1 - group_start >= group_bytes:
                    yield ElementGroup(key, b"[" + bytes(view[group_start:position]) + b"]", group_start, group_count)
                    group_start, group_count = position + 1, 0
            elif byte == _RBRACKET and group_start >= 0:
                tail = bytes(view[group_start:position])
                if tail.strip():
                    yield ElementGroup(key, b"[" + tail + b"]", group_start, group_count + 1)
                group_start = -1
    if scanner.depth != 0 or scanner.in_string:
        if group_start >= 0:
            # elements ended by a comma are whole; so is a last object/array the cut came just after
            tail = bytes(view[group_start:]).rstrip()
            if scanner.depth == element_depth and not scanner.in_string and tail.endswith((b"}", b"]")):
                yield ElementGroup(key, b"[" + tail + b"]", group_start, group_count + 1)
            elif group_count:
                yield ElementGroup(key, b"[" + bytes(view[group_start:last_comma]) + b"]", group_start, group_count)
        raise ValueError("the document ends early (truncated?)")


def _first_non_space(view: np.ndarray) -> int:
    head = view[: 1 << 16]
    spaces = np.isin(head, np.frombuffer(b" \t\r\n\xef\xbb\xbf", np.uint8))
    found = np.flatnonzero(~spaces)
    return int(found[0]) if found.size else -1


def _key_before(view: np.ndarray, position: int) -> str:
    """The object key whose value starts at `position` (the text before it is `"key" :`)."""
    window = bytes(view[max(0, position - 512) : position]).rstrip()
    if not window.endswith(b":"):
        return ""
    window = window[:-1].rstrip()
    if not window.endswith(b'"'):
        return ""
    start = window.rfind(b'"', 0, len(window) - 1)
    return window[start + 1 : -1].decode("utf-8", "replace") if start >= 0 else ""
