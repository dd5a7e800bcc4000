"""The Confluent wire format (magic byte 0, a 4-byte schema id, the payload) with Avro, Protobuf or JSON Schema
schemas from a folder of `.avsc`/`.proto`/`.json` files or a schema registry's HTTP API, cached; records decoded to
plain dicts."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

MAGIC = 0
REGISTRY_TIMEOUT_S = 5.0
_ID_PREFIX = re.compile(r"^(\d+)(?:[-_.](.+))?$")


class SchemaError(Exception):
    """A schema that cannot be had or used (said with the id and why)."""


def split_wire(value: bytes | None) -> tuple[int, memoryview] | None:
    """(schema id, payload) of a value in the Confluent wire format; None for anything else."""
    if not value or len(value) < 5 or value[0] != MAGIC:
        return None
    return int.from_bytes(value[1:5], "big"), memoryview(value)[5:]


@dataclass(frozen=True, slots=True)
class Schema:
    """One schema: its id, kind (`AVRO`, `PROTOBUF` or `JSON`), where it is registered (subject, version) and how a
    payload becomes a dict (`decode`); `name` is the record's full name (an event type when the record has none)."""

    schema_id: int
    kind: str
    name: str
    subject: str
    version: int | None
    decode: Callable[[memoryview], dict]


# -- Avro ---------------------------------------------------------------------------------------


def avro_schema(schema_id: int, text: str, *, subject: str = "", version: int | None = None) -> Schema:
    import fastavro

    try:
        parsed = fastavro.parse_schema(orjson.loads(text))
    except (orjson.JSONDecodeError, fastavro.schema.SchemaParseException, ValueError, TypeError, KeyError) as error:
        raise SchemaError(f"schema id {schema_id}: not an Avro schema ({error})") from error
    name = parsed.get("name", "") if isinstance(parsed, dict) else ""

    def decode(payload: memoryview) -> dict:
        record = fastavro.schemaless_reader(io.BytesIO(payload), parsed, None)
        return record if isinstance(record, dict) else {"value": record}

    return Schema(schema_id, "AVRO", name, subject or name, version, decode)


# -- Protobuf -----------------------------------------------------------------------------------


def protobuf_schema(schema_id: int, text: str, *, subject: str = "", version: int | None = None) -> Schema:
    """A `.proto` text compiled with protoc (grpcio-tools); payloads carry Confluent's message indexes first."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.json_format import MessageToDict

    with tempfile.TemporaryDirectory(prefix="flowviz-proto-") as folder:
        source = Path(folder) / f"schema_{schema_id}.proto"
        source.write_text(text, encoding="utf-8")
        output = Path(folder) / "set.pb"
        command = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"--proto_path={folder}",
            f"--descriptor_set_out={output}",
            "--include_imports",
            source.name,
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SchemaError(f"schema id {schema_id}: protoc did not run ({error})") from error
        if done.returncode != 0 or not output.exists():
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise SchemaError(f"schema id {schema_id}: .proto does not compile ({reason[0]})")
        files = descriptor_pb2.FileDescriptorSet.FromString(output.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        pool.Add(proto)
    main = pool.FindFileByName(source.name)
    top = list(main.message_types_by_name.values())
    if not top:
        raise SchemaError(f"schema id {schema_id}: the .proto defines no message")

    def message_class(indexes: list[int]):
        descriptor = top[indexes[0]] if indexes else top[0]
        for index in indexes[1:]:
            descriptor = descriptor.nested_types[index]
        return message_factory.GetMessageClass(descriptor)

    def decode(payload: memoryview) -> dict:
        indexes, start = _message_indexes(payload)
        message = message_class(indexes).FromString(bytes(payload[start:]))
        return MessageToDict(message, preserving_proto_field_name=True)

    return Schema(schema_id, "PROTOBUF", top[0].full_name, subject or top[0].full_name, version, decode)


def _message_indexes(payload: memoryview) -> tuple[list[int], int]:
    """Confluent's message-index path before a Protobuf payload: zigzag varints, a count then the indexes;
    a single 0 stands for [0] (the first message)."""
    count, position = _zigzag(payload, 0)
    if count == 0:
        return [0], position
    indexes = []
    for _ in range(count):
        index, position = _zigzag(payload, position)
        indexes.append(index)
    return indexes, position


def _zigzag(data: memoryview, position: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("message indexes cut off")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), position
        shift += 7


# -- JSON Schema --------------------------------------------------------------------------------

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "integer": (int,), "number": (int, float),
    "boolean": (bool,), "null": (type(None),),
}  # fmt: skip


def json_schema(schema_id: int, text: str, *, subject: str = "", version: int | None = None) -> Schema:
    """A JSON Schema: the payload is UTF-8 JSON (Confluent's serializer adds no message indexes). A record is
    checked against the schema's top level — its `type` and `required` properties — not validated in depth."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise SchemaError(f"schema id {schema_id}: not a JSON Schema ({error})") from error
    if not isinstance(document, dict):
        raise SchemaError(f"schema id {schema_id}: not a JSON Schema (a JSON object is)")
    name = str(document.get("title") or str(document.get("$id") or "").rstrip("/").rsplit("/", 1)[-1])
    wanted = document.get("type")
    types = tuple(
        t for kind in ([wanted] if isinstance(wanted, str) else wanted or ()) for t in _JSON_TYPES.get(kind, ())
    )
    required = [key for key in document.get("required") or () if isinstance(key, str)]

    def decode(payload: memoryview) -> dict:
        record = orjson.loads(payload)  # JSONDecodeError (a ValueError) on bad bytes: a record that does not decode
        if types and (not isinstance(record, types) or (isinstance(record, bool) and bool not in types)):
            raise ValueError(f"a JSON {type(record).__name__} where the schema wants {wanted}")
        missing = [key for key in required if not isinstance(record, dict) or key not in record]
        if missing:
            raise ValueError(f"required {', '.join(missing)} missing")
        return record if isinstance(record, dict) else {"value": record}

    return Schema(schema_id, "JSON", name, subject or name, version, decode)


SCHEMA_SUFFIXES = {".avsc": "AVRO", ".proto": "PROTOBUF", ".json": "JSON"}  # a schema folder's files, by kind


def make_schema(schema_id: int, kind: str, text: str, *, subject: str = "", version: int | None = None) -> Schema:
    kind = (kind or "AVRO").upper()
    if kind == "AVRO":
        return avro_schema(schema_id, text, subject=subject, version=version)
    if kind == "PROTOBUF":
        return protobuf_schema(schema_id, text, subject=subject, version=version)
    if kind == "JSON":
        return json_schema(schema_id, text, subject=subject, version=version)
    raise SchemaError(f"schema id {schema_id}: {kind} schemas are not read (Avro, Protobuf and JSON Schema are)")


# -- where schemas come from --------------------------------------------------------------------


class FolderSchemas:
    """`.avsc`, `.proto` and `.json` (JSON Schema) files of a folder, each named by its schema id: `17.avsc`,
    `17-orders-value.avsc`, `25-shipments-value.schema.json` (the rest of the name is the subject). Compiled when
    first asked for."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SchemaError(f"{folder}: no such folder of schemas")
        self._files: dict[int, tuple[Path, str, str]] = {}  # id -> (path, kind, subject)
        for path in sorted(self.folder.iterdir()):
            kind = SCHEMA_SUFFIXES.get(path.suffix.lower())
            stem = path.stem.removesuffix(".schema")  # `25-shipments-value.schema.json`
            match = _ID_PREFIX.match(stem)
            if kind and match:
                self._files[int(match.group(1))] = (path, kind, match.group(2) or "")
        self._cache = _Cache()

    def ids(self) -> list[int]:
        return sorted(self._files)

    def get(self, schema_id: int) -> Schema:
        """The schema, or SchemaError (not in the folder, or not readable)."""

        def load() -> Schema:
            if schema_id not in self._files:
                raise SchemaError(
                    f"schema id {schema_id} is not in {self.folder} (files are named ID[-SUBJECT].avsc/.proto/.json)"
                )
            path, kind, subject = self._files[schema_id]
            return make_schema(schema_id, kind, path.read_text(encoding="utf-8"), subject=subject)

        return self._cache.get(schema_id, load)


class RegistrySchemas:
    """A schema registry's HTTP API (Confluent's, Apicurio's and Redpanda's ccompat): `GET /schemas/ids/{id}` and
    `GET /schemas/ids/{id}/versions` for the subject and version; each id asked for once (answers and
    refusals cached). Basic auth from `user:password` (`basic.auth.user.info` in the properties file)."""

    def __init__(self, url: str, *, user_info: str | None = None, timeout_s: float = REGISTRY_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = {"Accept": "application/vnd.schemaregistry.v1+json, application/json"}
        if user_info:
            self._headers["Authorization"] = "Basic " + base64.b64encode(user_info.encode()).decode()
        self._cache = _Cache()

    def get(self, schema_id: int) -> Schema:
        def load() -> Schema:
            answer = self._get_json(f"/schemas/ids/{schema_id}")
            if not isinstance(answer, dict) or not isinstance(answer.get("schema"), str):
                raise SchemaError(f"schema id {schema_id}: the registry answered without a schema")
            subject, version = "", None
            try:
                versions = self._get_json(f"/schemas/ids/{schema_id}/versions")
                if isinstance(versions, list) and versions and isinstance(versions[0], dict):
                    subject, version = str(versions[0].get("subject", "")), versions[0].get("version")
            except SchemaError:
                pass  # an older registry: no subject shown
            return make_schema(
                schema_id, answer.get("schemaType", "AVRO"), answer["schema"], subject=subject, version=version
            )

        return self._cache.get(schema_id, load)

    def _get_json(self, path: str) -> Any:
        import urllib.error  # here: urllib.request brings http.client and ssl, which only a registry needs
        import urllib.request

        request = urllib.request.Request(self.url + path, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            raise SchemaError(
                f"schema id {path.split('/')[3]}: the registry says {error.code} {error.reason}"
            ) from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SchemaError(f"schema registry {self.url} not reachable ({reason})") from error
        except orjson.JSONDecodeError as error:
            raise SchemaError(f"schema registry {self.url}: no JSON in its answer") from error


class _Cache:
    """Schemas by id, and the refusals too (an unknown id is asked for once)."""

    def __init__(self) -> None:
        self._found: dict[int, Schema | SchemaError] = {}
        self._lock = threading.Lock()

    def get(self, schema_id: int, load: Callable[[], Schema]) -> Schema:
        with self._lock:
            found = self._found.get(schema_id)
        if found is None:
            try:
                found = load()
            except SchemaError as error:
                found = error
            with self._lock:
                self._found[schema_id] = found
        if isinstance(found, SchemaError):
            raise found
        return found


def schema_source(*, registry: str | None = None, folder: str | None = None, user_info: str | None = None):
    """The schema source the options name (the folder first, then the registry for ids it lacks); None for none."""
    sources = []
    if folder:
        sources.append(FolderSchemas(folder))
    if registry:
        sources.append(RegistrySchemas(registry, user_info=user_info))
    if not sources:
        return None
    return sources[0] if len(sources) == 1 else _Chain(sources)


class _Chain:
    def __init__(self, sources: list) -> None:
        self.sources = sources

    def get(self, schema_id: int) -> Schema:
        errors = []
        for source in self.sources:
            try:
                return source.get(schema_id)
            except SchemaError as error:
                errors.append(str(error))
        raise SchemaError("; ".join(errors))
