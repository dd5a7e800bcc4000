"""Deterministic synthetic traces (realistic shapes) and their encodings, for benchmarks and tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class SyntheticSpan:
    """A format-neutral span; encoders turn lists of these into OTLP, Jaeger or Zipkin documents."""

    trace_id: str
    span_id: str
    parent_id: str
    service: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    error: bool = False
    attributes: dict[str, str | int] = field(default_factory=dict)


def _hex(rng: random.Random, digits: int) -> str:
    return format(rng.getrandbits(digits * 4) | 1, f"0{digits}x")


SHOP_SERVICES = (
    "web-frontend",
    "mobile-bff",
    "api-gateway",
    "auth",
    "catalog",
    "search",
    "cart",
    "pricing",
    "orders",
    "recommendations",
    "inventory",
    "payments",
    "fraud",
    "customers",
    "delivery",
    "loyalty",
    "notifications",
    "reporting",
    "tax",
    "shipping-rates",
)


class _TraceMaker:
    def __init__(self, *, services: int, seed: int, names: tuple[str, ...] = ()) -> None:
        self.rng = random.Random(seed)
        self.services = list(names) if names else [f"svc-{i:04d}" for i in range(services)]
        services = len(self.services)
        rng = self.rng
        # each service calls a few others "to its right": a DAG with depth, plus a database each
        self.callees = {
            i: sorted(rng.sample(range(i + 1, services), k=min(3, services - i - 1))) for i in range(services)
        }
        self.latency_ms = {i: rng.uniform(2.0, 40.0) for i in range(services)}

    def trace(self, start_ns: int, *, max_spans: int) -> list[SyntheticSpan]:
        rng = self.rng
        trace_id = _hex(rng, 32)
        spans: list[SyntheticSpan] = []
        root = rng.randrange(0, max(1, len(self.services) // 4))
        self._server(spans, trace_id, "", root, start_ns, depth=0, max_spans=max_spans)
        return spans

    def _server(self, spans, trace_id, parent_id, svc, start_ns, *, depth, max_spans) -> int:
        rng = self.rng
        span_id = _hex(rng, 16)
        duration_ns = int(rng.lognormvariate(0, 0.5) * self.latency_ms[svc] * 1e6)
        error = rng.random() < 0.01
        server = SyntheticSpan(
            trace_id,
            span_id,
            parent_id,
            self.services[svc],
            f"GET /api/v{depth}/items",
            2,
            start_ns,
            start_ns + duration_ns,
            error,
            {
                "http.request.method": "GET",
                "http.response.status_code": 500 if error else 200,
                "url.path": f"/api/v{depth}/items",
                "server.address": self.services[svc],
            },
        )
        spans.append(server)
        t = start_ns + duration_ns // 10
        if rng.random() < 0.5 and len(spans) < max_spans - 1:
            db_ns = int(rng.lognormvariate(0, 0.6) * 2e6)
            spans.append(
                SyntheticSpan(
                    trace_id,
                    _hex(rng, 16),
                    span_id,
                    self.services[svc],
                    "SELECT items",
                    3,
                    t,
                    t + db_ns,
                    False,
                    {
                        "db.system": "postgresql",
                        "db.name": f"{self.services[svc]}-db",
                        "server.address": f"{self.services[svc]}-pg",
                        "db.operation": "SELECT",
                    },
                )
            )
        for callee in self.callees[svc]:
            if depth >= 4 or len(spans) >= max_spans - 2 or rng.random() < 0.4:
                continue
            client_id = _hex(rng, 16)
            client = SyntheticSpan(
                trace_id,
                client_id,
                span_id,
                self.services[svc],
                "HTTP GET",
                3,
                t,
                t,
                False,
                {"http.request.method": "GET", "server.address": self.services[callee], "server.port": 8080},
            )
            spans.append(client)
            end = self._server(spans, trace_id, client_id, callee, t + 200_000, depth=depth + 1, max_spans=max_spans)
            client.end_ns = end + 300_000
            client.error = spans[-1].error and rng.random() < 0.5
        return server.end_ns


def synthetic_traces(
    *,
    spans: int,
    services: int = 50,
    seed: int = 1,
    start_ns: int = 1_700_000_000_000_000_000,
    rate_per_s: float = 10_000.0,
    names: tuple[str, ...] = (),
) -> Iterator[list[SyntheticSpan]]:
    """Yield traces (lists of spans) until about `spans` spans were produced, `rate_per_s` spans/s.

    `names` replaces the generated service names (`svc-0000`...) and sets the number of services.
    """
    maker = _TraceMaker(services=services, seed=seed, names=names)
    produced = 0
    step_ns = int(1e9 / rate_per_s)
    t = start_ns
    while produced < spans:
        trace = maker.trace(t, max_spans=min(40, spans - produced + 1))
        produced += len(trace)
        t += step_ns * len(trace)
        yield trace
