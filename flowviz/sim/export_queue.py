"""Generated spans waiting until they end, then encoded into OTLP messages as a Collector exports them."""

from __future__ import annotations

import numpy as np

from flowviz.sim.otlp_encode import request_json, request_message
from flowviz.sim.span_classes import MessageParts, SpanClassBook
from flowviz.sim.trace_evaluation import OUTCOMES


class SpanBlock:
    """Generated spans of one class and outcome, sorted by end time, waiting until they have ended."""

    __slots__ = ("columns", "encoded", "end_ns", "first_end_ns", "klass", "outcome", "position")

    def __init__(self, klass: int, outcome: int, columns: dict[str, np.ndarray]) -> None:
        self.klass = klass
        self.outcome = outcome
        self.columns = columns
        self.end_ns = columns["end_ns"]
        self.position = 0  # spans before it were emitted
        self.first_end_ns = int(self.end_ns[0])  # end of the first span not yet emitted
        self.encoded: dict[bool, np.ndarray | list[bytes]] = {}  # all spans, per format (json?), on first use


class ExportQueue:
    """Spans queued per tick in blocks of one class and outcome; `take(until_ns)` encodes those that ended.

    Messages hold at most `spans_per_message` spans; `spans_emitted` counts every span taken so far.
    """

    def __init__(self, book: SpanClassBook, parts: MessageParts, *, spans_per_message: int) -> None:
        self.book = book
        self.parts = parts
        self.spans_per_message = spans_per_message
        self.spans_emitted = 0
        self.pending: list[SpanBlock] = []

    def add(self, columns: dict[str, np.ndarray], trace_table: np.ndarray) -> None:
        """Split a tick's spans into blocks of one class and outcome, each sorted by end time."""
        order = np.lexsort((columns["end_ns"], columns["key"]))
        columns = {name: column[order] for name, column in columns.items()}
        key = columns["key"]
        bounds = np.flatnonzero(np.diff(key)) + 1
        trace_bytes = np.ascontiguousarray(trace_table.astype(">u8")).view(np.uint8).reshape(-1, 16)
        for first, stop in zip(np.r_[0, bounds].tolist(), np.r_[bounds, len(key)].tolist(), strict=True):
            klass, outcome = divmod(int(key[first]), OUTCOMES)
            span_class = self.book.classes[klass]
            block = {
                "trace_ids": trace_bytes[columns["trace"][first:stop]],
                "span_ids": columns["span"][first:stop],
                "start_ns": columns["start_ns"][first:stop],
                "end_ns": columns["end_ns"][first:stop],
            }
            if span_class.has_parent:
                block["parent_ids"] = columns["parent"][first:stop]
            if span_class.has_link:
                block["link_trace_ids"] = trace_bytes[columns["link_trace"][first:stop]]
                block["link_span_ids"] = columns["link_span"][first:stop]
            self.pending.append(SpanBlock(klass, outcome, block))

    def take(self, until_ns: int, *, json: bool) -> list[bytes]:
        """Encode every queued span that ended by `until_ns`, grouped by service and scope, into messages."""
        emitted: dict[tuple[int, int], list] = {}
        keep = []
        for block in self.pending:
            if block.first_end_ns > until_ns:
                keep.append(block)
                continue
            stop = int(np.searchsorted(block.end_ns, until_ns, side="right"))
            encoded = block.encoded.get(json)
            if encoded is None:
                shape = self.book.span_shape(block.klass, block.outcome)
                encode = shape.encode_json if json else shape.encode
                encoded = block.encoded[json] = encode(**block.columns)
            span_class = self.book.classes[block.klass]
            emitted.setdefault((span_class.service, span_class.scope), []).append(encoded[block.position : stop])
            block.position = stop
            if stop < len(block.end_ns):
                block.first_end_ns = int(block.end_ns[stop])
                keep.append(block)
        self.pending = keep
        return self._assemble(emitted, json=json)

    def _assemble(self, emitted: dict[tuple[int, int], list], *, json: bool) -> list[bytes]:
        limit = self.spans_per_message
        messages: list[bytes] = []
        current: list[tuple[int, int, object]] = []
        count = 0
        for service, scope in sorted(emitted):
            for piece in emitted[(service, scope)]:
                self.spans_emitted += len(piece)
                while len(piece):
                    take = min(len(piece), limit - count)
                    current.append((service, scope, piece[:take]))
                    piece = piece[take:]
                    count += take
                    if count == limit:
                        messages.append(self._message(current, json=json))
                        current, count = [], 0
        if current:
            messages.append(self._message(current, json=json))
        return messages

    def _message(self, pieces: list[tuple[int, int, object]], *, json: bool) -> bytes:
        grouped: list[tuple[int, list[tuple[int, list]]]] = []
        for service, scope, piece in pieces:
            if not grouped or grouped[-1][0] != service:
                grouped.append((service, []))
            scopes = grouped[-1][1]
            if not scopes or scopes[-1][0] != scope:
                scopes.append((scope, []))
            scopes[-1][1].append(piece)
        if json:
            return request_json(
                [
                    (
                        self.parts.resource_json[service],
                        [
                            (self.parts.scope_json[scope], [span for piece in ps for span in piece])
                            for scope, ps in scopes
                        ],
                    )
                    for service, scopes in grouped
                ]
            )
        return request_message(
            [
                (
                    self.parts.resource_bytes[service],
                    [(self.parts.scope_bytes[scope], b"".join(p.tobytes() for p in ps)) for scope, ps in scopes],
                )
                for service, scopes in grouped
            ]
        )
