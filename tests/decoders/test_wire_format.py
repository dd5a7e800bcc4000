"""The Confluent wire format with schemas from a folder (Avro, Protobuf) and a registry's HTTP API."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import fastavro
import orjson
import pytest

from flowviz.decoders.wire_format import (
    FolderSchemas,
    RegistrySchemas,
    SchemaError,
    json_schema,
    schema_source,
    split_wire,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"


def avro_value(schema_id: int, record: dict) -> bytes:
    schema = fastavro.parse_schema(orjson.loads((SCHEMAS / f"{schema_id}-orders-value.avsc").read_bytes()))
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return b"\x00" + schema_id.to_bytes(4, "big") + out.getvalue()


def _field(number: int, value: str | int | bytes) -> bytes:
    """One protobuf field: strings/bytes length-delimited, ints as varints."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def json_value(schema_id: int, record: object) -> bytes:
    """A record as Confluent's JSON Schema serializer writes it: the wire-format header, then the JSON."""
    return b"\x00" + schema_id.to_bytes(4, "big") + orjson.dumps(record)


def protobuf_value(schema_id: int, *, id: str, source: str, time: str, amount: int, brand: str) -> bytes:
    payload = _field(1, id) + _field(2, source) + _field(3, time) + _field(4, amount) + _field(5, _field(1, brand))
    return b"\x00" + schema_id.to_bytes(4, "big") + b"\x00" + payload  # message indexes [0]: a single 0


class Registry:
    """A schema registry's HTTP API over the schemas folder (what Confluent's answers look like)."""

    def __init__(self) -> None:
        files = {int(p.name.split("-")[0]): p for p in SCHEMAS.iterdir()}
        self.asked: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler) -> None:
                self.asked.append(handler.path)
                parts = handler.path.strip("/").split("/")
                schema_id = int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else -1
                if parts[:2] != ["schemas", "ids"] or schema_id not in files:
                    body, code = b'{"error_code": 40403, "message": "Schema not found"}', 404
                elif len(parts) == 4 and parts[3] == "versions":
                    subject = files[schema_id].stem.removesuffix(".schema").split("-", 1)[1]
                    body, code = orjson.dumps([{"subject": subject, "version": schema_id - 15}]), 200
                else:
                    kind = {".proto": "PROTOBUF", ".json": "JSON"}.get(files[schema_id].suffix, "AVRO")
                    body = orjson.dumps({"schema": files[schema_id].read_text(), "schemaType": kind})
                    code = 200
                handler.send_response(code)
                handler.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry():
    server = Registry()
    yield server
    server.close()


def test_split_wire() -> None:
    schema_id, payload = split_wire(b"\x00\x00\x00\x01\x02abc")
    assert (schema_id, bytes(payload)) == (258, b"abc")
    assert split_wire(b'{"a": 1}') is None
    assert split_wire(b"\x00\x00\x00") is None
    assert split_wire(b"\x0a\x00\x00\x00\x01") is None  # OTLP protobuf starts with a field tag


def test_avro_and_protobuf_from_a_folder() -> None:
    folder = FolderSchemas(SCHEMAS)
    assert folder.ids() == [17, 18, 21, 25]
    stamp = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    value = avro_value(17, {"id": "o-1", "source": "checkout", "time": stamp, "total_cents": 4200})
    schema_id, payload = split_wire(value)
    schema = folder.get(schema_id)
    assert (schema.kind, schema.name, schema.subject, schema.version) == (
        "AVRO",
        "shop.orders.OrderPlaced",
        "orders-value",
        None,
    )
    assert schema.decode(payload) == {"id": "o-1", "source": "checkout", "time": stamp, "total_cents": 4200}
    value = protobuf_value(21, id="p-1", source="cashier", time="2026-12-02T20:00:00Z", amount=990, brand="visa")
    schema_id, payload = split_wire(value)
    schema = folder.get(schema_id)
    assert (schema.kind, schema.name) == ("PROTOBUF", "shop.payments.PaymentTaken")
    assert schema.decode(payload) == {
        "id": "p-1",
        "source": "cashier",
        "time": "2026-12-02T20:00:00Z",
        "amount_cents": "990",  # int64 as protobuf's JSON mapping writes it
        "card": {"brand": "visa"},
    }
    with pytest.raises(SchemaError, match="schema id 99 is not in"):
        folder.get(99)
    with pytest.raises(SchemaError, match="no such folder"):
        FolderSchemas(SCHEMAS / "missing")


def test_a_registry_over_http_each_id_asked_once(registry) -> None:
    source = RegistrySchemas(registry.url)
    schema = source.get(18)
    assert (schema.kind, schema.subject, schema.version) == ("AVRO", "orders-value", 3)
    assert source.get(21).kind == "PROTOBUF"
    with pytest.raises(SchemaError, match="schema id 5: the registry says 404"):
        source.get(5)
    with pytest.raises(SchemaError, match="404"):
        source.get(5)
    assert sorted(registry.asked) == sorted(
        ["/schemas/ids/18", "/schemas/ids/18/versions", "/schemas/ids/21", "/schemas/ids/21/versions", "/schemas/ids/5"]
    )
    unreachable = RegistrySchemas("http://127.0.0.1:9", timeout_s=1)
    with pytest.raises(SchemaError, match="not reachable"):
        unreachable.get(1)
    chained = schema_source(folder=str(SCHEMAS), registry=registry.url)
    assert chained.get(17).subject == "orders-value"  # from the folder: not asked
    assert "/schemas/ids/17" not in registry.asked


def test_event_fields_name_type_id_and_time_of_records() -> None:
    from flowviz.decoders.events import EventDecoder, EventFields, MessageMeta
    from flowviz.model.problems import Problems

    fields = EventFields.parse(["type=meta.kind", "id=meta.uuid", "time=meta.at"])
    assert fields == EventFields(("meta", "kind"), ("meta", "uuid"), ("meta", "at"))
    with pytest.raises(ValueError, match="NAME=PATH"):
        EventFields.parse(["colour=x"])
    assert EventFields.parse([]) is None
    decoder = EventDecoder(problems=Problems(), fields=fields)
    meta = MessageMeta("t", 0, 5, 1, 1_700_000_000_000, None, 40)
    stamp = datetime(2023, 11, 14, 22, 13, 18, tzinfo=UTC)
    record = {"meta": {"kind": "OrderShipped", "uuid": 42, "at": stamp}, "source": "shipping"}
    assert decoder.add_record(record, "shop.Envelope", {}, meta)
    assert decoder.add_document({"meta": {"uuid": "x"}}, {}, meta) is False  # no type anywhere: no event
    batch = decoder.take()
    names = batch.names
    assert (names[batch.event_type[0]], batch.event_id[0], names[batch.producer[0]]) == (
        "OrderShipped",
        "42",
        "shipping",
    )
    assert int(batch.event_time_ns[0]) == int(stamp.timestamp()) * 1_000_000_000
    assert int(batch.value_bytes[0]) == 40


def test_json_schema_from_a_folder_and_a_registry(registry) -> None:
    record = {"id": "s-1", "source": "shipping", "time": "2026-12-02T20:00:00Z", "parcels": 2}
    for source in (FolderSchemas(SCHEMAS), RegistrySchemas(registry.url)):
        schema_id, payload = split_wire(json_value(25, record))
        schema = source.get(schema_id)
        assert (schema.kind, schema.name, schema.subject) == ("JSON", "shop.shipping.ShipmentSent", "shipments-value")
        assert schema.decode(payload) == record
        with pytest.raises(ValueError, match="required source missing"):
            schema.decode(split_wire(json_value(25, {"id": "s-2"}))[1])
        with pytest.raises(ValueError, match="schema wants object"):
            schema.decode(split_wire(json_value(25, ["s-3"]))[1])
        with pytest.raises(orjson.JSONDecodeError):
            schema.decode(memoryview(b"{not json"))
    assert RegistrySchemas(registry.url).get(25).version == 10
    with pytest.raises(SchemaError, match="not a JSON Schema"):
        json_schema(30, "[1, 2]")
