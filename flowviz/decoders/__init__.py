"""Decoders: bytes or parsed documents of each trace format -> SpanBatch."""
