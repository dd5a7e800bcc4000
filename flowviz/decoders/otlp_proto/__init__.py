"""The OTLP protobuf decoder: many ExportTraceServiceRequest / TracesData messages at once, straight to columns.

It reads the wire format itself with numpy (every message of a chunk in lock-step, level by level)
and hands the builder a `ColumnBlock`: ids from the bytes into uint64 columns, times from the
fixed64 fields, names interned per block, attribute values only for the keys a rule reads. It
judges malformed input as upb does (`ExportTraceServiceRequest.FromString`); the tests hold it to
the upb-walking reference in tests/decoders/otlp_proto_reference.py, column by column.

The generic vectorised wire reader: `schema` (tables from the installed descriptors), `buffer` (the
concatenated messages), `scanner` (one nesting level), `tree` (all levels). The OTLP mapping:
`key_values` (KeyValues in their usual encoding), `attribute_keys` (the keys a rule reads),
`columns` (span columns), `decode` (the entry point). `sniff` tells OTLP protobuf apart (with upb).
"""

from __future__ import annotations

from flowviz.decoders.otlp_proto.attribute_keys import RESOURCE_KEYS
from flowviz.decoders.otlp_proto.decode import decode_otlp_proto
from flowviz.decoders.otlp_proto.sniff import looks_like_otlp_proto

__all__ = ["RESOURCE_KEYS", "decode_otlp_proto", "looks_like_otlp_proto"]
