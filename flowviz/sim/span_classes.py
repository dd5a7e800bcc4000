"""Span classes: what a span keeps from one trace to the next (name, kind, attributes, scope, resource)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from flowviz.model.span_batch import SpanKind, StatusCode
from flowviz.sim.otlp_encode import AttributeValue, SpanShape, attributes_json, resource_message, scope_message
from flowviz.sim.topology import Datastore, ExternalApi, Operation, Service, Topic

_SDK_VERSIONS = {"java": "1.44.1", "go": "1.32.0", "python": "1.28.2", "nodejs": "1.29.0"}
_SCOPES = {  # (language, instrumentation) -> (scope name, version)
    ("java", "http-server"): ("io.opentelemetry.tomcat-10.0", "2.10.0-alpha"),
    ("java", "http-client"): ("io.opentelemetry.java-http-client", "2.10.0-alpha"),
    ("java", "sql"): ("io.opentelemetry.jdbc", "2.10.0-alpha"),
    ("java", "redis"): ("io.opentelemetry.lettuce-5.1", "2.10.0-alpha"),
    ("java", "search"): ("io.opentelemetry.elasticsearch-rest-7.0", "2.10.0-alpha"),
    ("java", "kafka"): ("io.opentelemetry.kafka-clients-2.6", "2.10.0-alpha"),
    ("go", "http-server"): ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0"),
    ("go", "http-client"): ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0"),
    ("go", "sql"): ("github.com/XSAM/otelsql", "0.35.0"),
    ("go", "redis"): ("github.com/redis/go-redis/extra/redisotel", "9.7.0"),
    ("go", "search"): ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0"),
    ("go", "kafka"): ("github.com/IBM/sarama/otelsarama", "0.57.0"),
    ("python", "http-server"): ("opentelemetry.instrumentation.fastapi", "0.49b2"),
    ("python", "http-client"): ("opentelemetry.instrumentation.httpx", "0.49b2"),
    ("python", "sql"): ("opentelemetry.instrumentation.psycopg", "0.49b2"),
    ("python", "redis"): ("opentelemetry.instrumentation.redis", "0.49b2"),
    ("python", "search"): ("opentelemetry.instrumentation.elasticsearch", "0.49b2"),
    ("python", "kafka"): ("opentelemetry.instrumentation.confluent_kafka", "0.49b2"),
    ("nodejs", "http-server"): ("@opentelemetry/instrumentation-http", "0.55.0"),
    ("nodejs", "http-client"): ("@opentelemetry/instrumentation-http", "0.55.0"),
    ("nodejs", "sql"): ("@opentelemetry/instrumentation-pg", "0.49.0"),
    ("nodejs", "redis"): ("@opentelemetry/instrumentation-ioredis", "0.45.0"),
    ("nodejs", "search"): ("@opentelemetry/instrumentation-http", "0.55.0"),
    ("nodejs", "kafka"): ("@opentelemetry/instrumentation-kafkajs", "0.5.0"),
}
_FLAGS_LOCAL_PARENT = 0x101  # sampled, parent known to be in this process
_FLAGS_REMOTE_PARENT = 0x301  # sampled, parent in another process


@dataclass(frozen=True, slots=True)
class SpanClass:
    """Everything about a span that does not change from one trace to the next."""

    service: int  # index of the emitting service
    scope: int  # index of its instrumentation scope
    name: str
    kind: SpanKind
    attributes: dict[str, AttributeValue]
    outcome_attributes: tuple[dict[str, AttributeValue], ...]  # extra attributes per outcome
    has_parent: bool
    has_link: bool
    flags: int


@dataclass(frozen=True, slots=True)
class MessageParts:
    """What every message repeats, encoded once: the resource of each service and each instrumentation scope."""

    resource_bytes: list[bytes]
    resource_json: list[bytes]
    scope_bytes: list[bytes]
    scope_json: list[bytes]


class SpanClassBook:
    """The span classes and instrumentation scopes of one simulator, each numbered on first use.

    `klass(key, make)` gives a class's number (making it once); `span_shape(klass, outcome)` its
    encoder for spans of one outcome; `message_parts()` the encoded resources and scopes.
    """

    def __init__(self, *, seed: int, services: Sequence[Service]) -> None:
        self.seed = seed
        self.services = services
        self._service_index = {s.name: i for i, s in enumerate(services)}
        self.classes: list[SpanClass] = []
        self._class_index: dict[tuple, int] = {}
        self.scopes: list[tuple[str, str]] = []
        self._scope_index: dict[tuple[str, str], int] = {}
        self._shape_cache: dict[tuple[int, int], SpanShape] = {}

    def message_parts(self) -> MessageParts:
        """Encoded resources of the services and of every scope used so far (call once all shapes are sampled)."""
        resources = [self.resource(s) for s in self.services]
        return MessageParts(
            resource_bytes=[resource_message(r) for r in resources],
            resource_json=[orjson.dumps({"attributes": attributes_json(r)}) for r in resources],
            scope_bytes=[scope_message(name, version) for name, version in self.scopes],
            scope_json=[orjson.dumps({"name": name, "version": version}) for name, version in self.scopes],
        )

    def scope(self, language: str, instrumentation: str) -> int:
        """The number of the scope a `language` SDK's `instrumentation` reports spans in."""
        scope = _SCOPES[(language, instrumentation)]
        index = self._scope_index.get(scope)
        if index is None:
            index = self._scope_index[scope] = len(self.scopes)
            self.scopes.append(scope)
        return index

    def klass(self, key: tuple, make: Callable[[], SpanClass]) -> int:
        """The number of the class `key`, made by `make()` the first time."""
        index = self._class_index.get(key)
        if index is None:
            index = self._class_index[key] = len(self.classes)
            self.classes.append(make())
        return index

    def server_class(self, service: Service, operation: Operation, *, has_parent: bool) -> SpanClass:
        """The HTTP server span of `operation` (an entry point when it has no parent)."""
        return SpanClass(
            service=self._service_index[service.name],
            scope=self.scope(service.language, "http-server"),
            name=operation.name,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": operation.method,
                "http.route": operation.route,
                "url.scheme": "https" if not has_parent else "http",
                "server.address": service.name,
            },
            outcome_attributes=(
                {"http.response.status_code": 200},
                {"http.response.status_code": 500, "error.type": "500"},
                {"http.response.status_code": 504, "error.type": "504"},
                {"http.response.status_code": 504, "error.type": "504"},
            ),
            has_parent=has_parent,
            has_link=False,
            flags=_FLAGS_REMOTE_PARENT if has_parent else _FLAGS_LOCAL_PARENT,
        )

    def client_class(self, service: Service, target: Service, operation: Operation) -> SpanClass:
        """The HTTP client span of a call to `target`'s `operation`."""
        return SpanClass(
            service=self._service_index[service.name],
            scope=self.scope(service.language, "http-client"),
            name=operation.name,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": operation.method,
                "server.address": target.name,
                "server.port": 8080,
                "url.full": f"http://{target.name}:8080{operation.route}",
            },
            outcome_attributes=(
                {"http.response.status_code": 200},
                {"http.response.status_code": 500, "error.type": "500"},
                {"http.response.status_code": 504, "error.type": "504"},
                {"error.type": "timeout"},
            ),
            has_parent=True,
            has_link=False,
            flags=_FLAGS_LOCAL_PARENT,
        )

    def leaf_class(self, service: Service, target: Datastore | ExternalApi, operation: str) -> SpanClass:
        """The client span of a call to a datastore or third-party API (`operation`: "VERB table" or "METHOD /path")."""
        if isinstance(target, ExternalApi):
            method, path = operation.split(" ", 1)
            return SpanClass(
                service=self._service_index[service.name],
                scope=self.scope(service.language, "http-client"),
                name=method,
                kind=SpanKind.CLIENT,
                attributes={
                    "http.request.method": method,
                    "server.address": target.name,
                    "server.port": 443,
                    "url.full": f"https://{target.name}{path}",
                },
                outcome_attributes=(
                    {"http.response.status_code": 200},
                    {"http.response.status_code": 503, "error.type": "503"},
                    {"http.response.status_code": 504, "error.type": "504"},
                    {"error.type": "timeout"},
                ),
                has_parent=True,
                has_link=False,
                flags=_FLAGS_LOCAL_PARENT,
            )
        verb, _, table = operation.partition(" ")
        if target.system == "redis":
            instrumentation, name = "redis", verb
            attributes: dict[str, AttributeValue] = {
                "db.system": "redis",
                "peer.service": target.name,
                "db.operation": verb,
            }
        elif target.system == "elasticsearch":
            instrumentation, name = "search", operation
            attributes = {
                "db.system": "elasticsearch",
                "peer.service": target.name,
                "db.operation": table.rsplit("_", 1)[-1],
                "http.request.method": verb,
                "url.full": f"http://{target.name}:{target.port}{table}",
            }
        else:
            instrumentation, name = "sql", f"{verb} {target.name}.{table}"
            attributes = {
                "db.system": target.system,
                "db.name": target.name,
                "db.operation": verb,
                "db.sql.table": table,
            }
        attributes["server.address"] = target.name
        attributes["server.port"] = target.port
        return SpanClass(
            service=self._service_index[service.name],
            scope=self.scope(service.language, instrumentation),
            name=name,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            outcome_attributes=({}, {"error.type": "db_error"}, {"error.type": "db_error"}, {"error.type": "timeout"}),
            has_parent=True,
            has_link=False,
            flags=_FLAGS_LOCAL_PARENT,
        )

    def producer_class(self, service: Service, topic: Topic) -> SpanClass:
        """The Kafka publish span of `topic`."""
        return SpanClass(
            service=self._service_index[service.name],
            scope=self.scope(service.language, "kafka"),
            name=f"{topic.name} publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic.name,
                "messaging.operation.type": "publish",
                "server.address": "kafka",
                "server.port": 9092,
            },
            outcome_attributes=(
                {},
                {"error.type": "publish_failed"},
                {"error.type": "timeout"},
                {"error.type": "timeout"},
            ),
            has_parent=True,
            has_link=False,
            flags=_FLAGS_LOCAL_PARENT,
        )

    def consumer_class(self, service: Service, topic: Topic, *, linked: bool) -> SpanClass:
        """The Kafka process span of `topic` in `service` (linked: a new trace with a link to the producer)."""
        return SpanClass(
            service=self._service_index[service.name],
            scope=self.scope(service.language, "kafka"),
            name=f"{topic.name} process",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic.name,
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": service.name,
            },
            outcome_attributes=(
                {},
                {"error.type": "processing_failed"},
                {"error.type": "timeout"},
                {"error.type": "timeout"},
            ),
            has_parent=not linked,
            has_link=linked,
            flags=_FLAGS_LOCAL_PARENT if linked else _FLAGS_REMOTE_PARENT,
        )

    def resource(self, service: Service) -> dict[str, AttributeValue]:
        """The resource attributes of `service`'s pod (its name suffix fixed by the seed)."""
        pod = random.Random(f"{self.seed}/{service.name}")
        suffix = "".join(pod.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        replica = format(pod.getrandbits(40), "010x")[:10]
        return {
            "service.name": service.name,
            "service.namespace": "shop",
            "service.version": service.version,
            "deployment.environment.name": "production",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.language": service.language,
            "telemetry.sdk.version": _SDK_VERSIONS[service.language],
            "k8s.namespace.name": "shop",
            "k8s.pod.name": f"{service.name}-{replica}-{suffix}",
        }

    def span_shape(self, klass: int, outcome: int) -> SpanShape:
        """The encoder of spans of class `klass` with `outcome` (made once)."""
        shape = self._shape_cache.get((klass, outcome))
        if shape is None:
            c = self.classes[klass]
            shape = self._shape_cache[(klass, outcome)] = SpanShape(
                name=c.name,
                kind=c.kind,
                attributes={**c.attributes, **c.outcome_attributes[outcome]},
                has_parent=c.has_parent,
                has_link=c.has_link,
                status_code=StatusCode.ERROR if outcome else StatusCode.UNSET,
                flags=c.flags,
                link_flags=_FLAGS_REMOTE_PARENT,
            )
        return shape
