"""The simulated platform as data: services and their calls, databases, caches, third-party APIs, Kafka topics."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class NodeType(StrEnum):
    """What a node of the simulated platform is."""

    SERVICE = "service"
    DATABASE = "database"  # SQL, search and analytics stores
    CACHE = "cache"  # redis
    EXTERNAL = "external"  # third-party HTTPS API
    TOPIC = "topic"  # Kafka topic


@dataclass(frozen=True, slots=True)
class Call:
    """One step of an operation: a call to a service operation, a datastore, a third-party API or a topic.

    `operation` is the callee's operation (services), the statement (`SELECT orders`, `GET`) for
    datastores, `METHOD /path` for third-party APIs, unused for topics (the call publishes one
    message). Consecutive calls with `parallel=True` run concurrently (one slot); `repeat` draws a
    fan-out between its bounds. A call with `timeout_ms` gives up (ERROR) when the answer takes
    longer. A failing `critical` call fails the caller's span too.
    """

    target: str
    operation: str = ""
    probability: float = 1.0
    repeat: tuple[int, int] = (1, 1)
    parallel: bool = False
    timeout_ms: float = 0.0
    critical: bool = True


@dataclass(frozen=True, slots=True)
class Operation:
    """An HTTP endpoint (`METHOD /route`) or a message handler (`<Topic> process`) of a service."""

    name: str
    self_ms: float  # median time spent in the service itself (outside its calls)
    calls: tuple[Call, ...] = ()

    @property
    def method(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def route(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else self.name


@dataclass(frozen=True, slots=True)
class Service:
    """An instrumented service: its operations, error rate and latency spread."""

    name: str
    language: str  # telemetry.sdk.language: java, go, python, nodejs
    operations: tuple[Operation, ...]
    error_rate: float = 0.002
    sigma: float = 0.45  # lognormal spread of its self time
    version: str = "1.0.0"

    def operation(self, name: str) -> Operation:
        for operation in self.operations:
            if operation.name == name:
                return operation
        raise KeyError(f"{self.name} has no operation {name!r}")


@dataclass(frozen=True, slots=True)
class Datastore:
    """A database or cache: seen only through the client spans of the services calling it."""

    name: str
    system: str  # db.system: postgresql, redis, elasticsearch, clickhouse
    latency_ms: float
    error_rate: float = 0.0005
    sigma: float = 0.5
    port: int = 5432

    @property
    def node_type(self) -> NodeType:
        return NodeType.CACHE if self.system == "redis" else NodeType.DATABASE


@dataclass(frozen=True, slots=True)
class ExternalApi:
    """A third-party HTTPS API, named by its host (`server.address`)."""

    name: str
    latency_ms: float
    error_rate: float = 0.004
    sigma: float = 0.35


@dataclass(frozen=True, slots=True)
class Subscription:
    """A consumer service of a topic: the operation handling each message, and how its span is tied to the producer.

    `style` "child": the CONSUMER span is a child of the PRODUCER span (same trace); "link": it
    starts a new trace and carries a span link to the PRODUCER span.
    """

    service: str
    operation: str
    style: str = "child"


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    subscriptions: tuple[Subscription, ...]


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """A kind of user request: the front-end operation it starts at and its share of the traffic."""

    label: str
    service: str
    operation: str
    weight: float


@dataclass(frozen=True, slots=True)
class Edge:
    """A connection the platform makes, in the deriver's vocabulary (connection type label, via)."""

    source: str
    target: str
    connection_type: str  # "", "database", "messaging_system", "virtual_node"
    via: str = ""


@dataclass(frozen=True)
class Topology:
    """The whole platform; `validate()` checks every name a call or subscription uses."""

    services: tuple[Service, ...]
    datastores: tuple[Datastore, ...]
    externals: tuple[ExternalApi, ...]
    topics: tuple[Topic, ...]
    entry_points: tuple[EntryPoint, ...]
    network_ms: float = 0.6  # client overhead around a service-to-service call
    publish_ms: float = 1.5  # producer send (broker acknowledgement)
    queue_ms: float = 6.0  # median time a message waits before a consumer starts on it
    _by_name: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for group in (self.services, self.datastores, self.externals, self.topics):
            for item in group:
                if item.name in self._by_name:
                    raise ValueError(f"duplicate node name {item.name!r}")
                self._by_name[item.name] = item

    def node(self, name: str) -> Service | Datastore | ExternalApi | Topic:
        try:
            return self._by_name[name]  # type: ignore[return-value]
        except KeyError:
            raise KeyError(f"no node {name!r} in the topology") from None

    def node_type(self, name: str) -> NodeType:
        node = self.node(name)
        if isinstance(node, Service):
            return NodeType.SERVICE
        if isinstance(node, Datastore):
            return node.node_type
        if isinstance(node, ExternalApi):
            return NodeType.EXTERNAL
        return NodeType.TOPIC

    def service(self, name: str) -> Service:
        node = self.node(name)
        if not isinstance(node, Service):
            raise KeyError(f"{name!r} is not a service")
        return node

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def validate(self) -> None:
        """Raise ValueError naming the first call, subscription or entry point that refers to nothing."""
        for service in self.services:
            for operation in service.operations:
                for call in operation.calls:
                    where = f"{service.name} {operation.name!r} -> {call.target}"
                    if call.target not in self._by_name:
                        raise ValueError(f"{where}: unknown target")
                    target = self._by_name[call.target]
                    if isinstance(target, Service):
                        try:
                            target.operation(call.operation)
                        except KeyError as error:
                            raise ValueError(f"{where}: {error.args[0]}") from None
                    if not (0.0 <= call.probability <= 1.0) or not (1 <= call.repeat[0] <= call.repeat[1]):
                        raise ValueError(f"{where}: bad probability or repeat")
        for topic in self.topics:
            for subscription in topic.subscriptions:
                try:
                    self.service(subscription.service).operation(subscription.operation)
                except KeyError as error:
                    raise ValueError(f"topic {topic.name}: {error.args[0]}") from None
                if subscription.style not in ("child", "link"):
                    raise ValueError(f"topic {topic.name}: style must be 'child' or 'link'")
        for entry in self.entry_points:
            try:
                self.service(entry.service).operation(entry.operation)
            except KeyError as error:
                raise ValueError(f"entry point {entry.label}: {error.args[0]}") from None

    def edges(self) -> tuple[Edge, ...]:
        """Every connection the platform can make, as the deriver names it (user -> entry services too)."""
        seen: dict[Edge, None] = {}
        for entry in self.entry_points:
            seen[Edge("user", entry.service, "virtual_node")] = None
        for service in self.services:
            for operation in service.operations:
                for call in operation.calls:
                    kind = self.node_type(call.target)
                    if kind is NodeType.SERVICE:
                        edges = [Edge(service.name, call.target, "")]
                    elif kind in (NodeType.DATABASE, NodeType.CACHE):
                        edges = [Edge(service.name, call.target, "database")]
                    elif kind is NodeType.EXTERNAL:
                        edges = [Edge(service.name, call.target, "virtual_node")]
                    else:
                        topic = self.node(call.target)
                        edges = [
                            Edge(service.name, s.service, "messaging_system", call.target)
                            for s in topic.subscriptions  # type: ignore[union-attr]
                        ]
                    seen.update(dict.fromkeys(edges))
        return tuple(seen)

    def summary(self) -> dict[str, int]:
        """Node counts by type, plus edges (as derived) and topic subscriptions."""
        counts = {t.value: 0 for t in NodeType}
        for name in self._by_name:
            counts[self.node_type(name).value] += 1
        counts["nodes"] = len(self._by_name)
        counts["edges"] = len(self.edges())
        counts["subscriptions"] = sum(len(t.subscriptions) for t in self.topics)
        return counts


# -- the default platform ----------------------------------------------------------------------


def _svc(target: str, operation: str, **options: object) -> Call:
    return Call(target, operation, **options)  # type: ignore[arg-type]


def _gateway_route(name: str, self_ms: float, *calls: Call, auth: float = 1.0) -> Operation:
    validate = (Call("auth", "POST /auth/validate", probability=auth, timeout_ms=500),) if auth else ()
    return Operation(name, self_ms, (*validate, *calls))


def ecommerce_platform() -> Topology:
    """The e-commerce platform support engineers know: ~50 nodes, checkout with payments, Kafka fan-out."""
    gw = "api-gateway"
    services = (
        Service(
            "web-frontend",
            "nodejs",
            (
                Operation("GET /", 6, (_svc(gw, "GET /api/recommendations"), _svc(gw, "GET /api/products"))),
                Operation("GET /product/{id}", 8, (_svc(gw, "GET /api/products/{id}"),)),
                Operation("GET /search", 6, (_svc(gw, "GET /api/search"),)),
                Operation("POST /cart", 4, (_svc(gw, "POST /api/cart/items"),)),
                Operation("GET /cart", 4, (_svc(gw, "GET /api/cart"),)),
                Operation("POST /checkout", 6, (_svc(gw, "POST /api/checkout", timeout_ms=10_000),)),
                Operation("POST /login", 4, (_svc(gw, "POST /api/auth/login"),)),
                Operation("GET /account/orders", 5, (_svc(gw, "GET /api/orders"),)),
                Operation("POST /register", 5, (_svc(gw, "POST /api/customers"),)),
            ),
            version="4.12.0",
        ),
        Service(
            "mobile-bff",
            "go",
            (
                Operation(
                    "GET /m/home",
                    2,
                    (
                        _svc(gw, "GET /api/recommendations", parallel=True),
                        _svc(gw, "GET /api/products", parallel=True),
                        _svc(gw, "GET /api/orders", parallel=True, probability=0.4, critical=False),
                    ),
                ),
                Operation("GET /m/product/{id}", 2, (_svc(gw, "GET /api/products/{id}"),)),
                Operation("GET /m/search", 2, (_svc(gw, "GET /api/search"),)),
                Operation("POST /m/cart", 2, (_svc(gw, "POST /api/cart/items"),)),
                Operation("POST /m/checkout", 2, (_svc(gw, "POST /api/checkout", timeout_ms=10_000),)),
                Operation("POST /m/login", 2, (_svc(gw, "POST /api/auth/login"),)),
                Operation("GET /m/orders", 2, (_svc(gw, "GET /api/orders"),)),
            ),
            version="2.3.1",
        ),
        Service(
            gw,
            "go",
            (
                _gateway_route(
                    "GET /api/products/{id}",
                    1.0,
                    _svc("catalog", "GET /products/{id}", parallel=True),
                    _svc("pricing", "POST /prices/quote", parallel=True),
                    _svc("inventory", "GET /stock/{sku}", parallel=True, critical=False),
                    _svc("reviews", "GET /reviews/{productId}", parallel=True, probability=0.8, critical=False),
                    _svc("recommendations", "GET /recommendations/similar", probability=0.6, critical=False),
                ),
                _gateway_route(
                    "GET /api/products",
                    1.0,
                    _svc("catalog", "GET /products"),
                    _svc("pricing", "POST /prices/quote"),
                    auth=0.6,
                ),
                _gateway_route("GET /api/search", 1.0, _svc("search", "GET /search"), auth=0.6),
                _gateway_route("POST /api/cart/items", 1.0, _svc("cart", "POST /cart/items")),
                _gateway_route("GET /api/cart", 1.0, _svc("cart", "GET /cart")),
                _gateway_route("POST /api/checkout", 1.2, _svc("orders", "POST /orders", timeout_ms=8_000)),
                _gateway_route("POST /api/auth/login", 1.0, _svc("auth", "POST /auth/login"), auth=0),
                _gateway_route("GET /api/orders", 1.0, _svc("orders", "GET /orders")),
                _gateway_route(
                    "GET /api/recommendations", 1.0, _svc("recommendations", "GET /recommendations"), auth=0.5
                ),
                _gateway_route("POST /api/customers", 1.0, _svc("customers", "POST /customers"), auth=0),
            ),
            error_rate=0.0005,
            sigma=0.3,
            version="1.28.4",
        ),
        Service(
            "auth",
            "java",
            (
                Operation("POST /auth/validate", 1.2, (Call("session-cache", "GET"),)),
                Operation(
                    "POST /auth/login",
                    25,
                    (_svc("customers", "GET /customers/{id}"), Call("session-cache", "SET")),
                ),
            ),
            error_rate=0.001,
            version="3.7.2",
        ),
        Service(
            "customers",
            "java",
            (
                Operation("GET /customers/{id}", 2, (Call("customers-db", "SELECT customers"),)),
                Operation(
                    "POST /customers",
                    5,
                    (Call("customers-db", "INSERT customers"), Call("CustomerRegistered")),
                ),
                Operation("GET /customers/{id}/profile", 2, (Call("customers-db", "SELECT addresses"),)),
            ),
            version="2.14.0",
        ),
        Service(
            "catalog",
            "java",
            (
                Operation(
                    "GET /products/{id}",
                    2,
                    (Call("catalog-cache", "GET"), Call("catalog-db", "SELECT products", probability=0.25)),
                ),
                Operation(
                    "GET /products",
                    4,
                    (Call("catalog-cache", "MGET"), Call("catalog-db", "SELECT products", probability=0.4)),
                ),
                Operation("InventoryUpdated process", 2, (Call("catalog-cache", "SET"),)),
            ),
            version="5.2.0",
        ),
        Service(
            "search",
            "python",
            (
                Operation(
                    "GET /search",
                    6,
                    (
                        Call("search-index", "POST /products/_search"),
                        _svc("pricing", "POST /prices/quote", probability=0.8),
                    ),
                ),
                Operation("InventoryUpdated process", 3, (Call("search-index", "POST /products/_update"),)),
            ),
            version="0.9.3",
        ),
        Service(
            "pricing",
            "go",
            (
                Operation(
                    "POST /prices/quote",
                    1.5,
                    (Call("pricing-cache", "MGET"), Call("pricing-db", "SELECT prices", probability=0.3)),
                ),
                Operation(
                    "POST /prices/checkout",
                    3,
                    (Call("pricing-db", "SELECT prices"), _svc("tax", "POST /tax/calculate", timeout_ms=1_000)),
                ),
            ),
            version="1.6.0",
        ),
        Service(
            "cart",
            "nodejs",
            (
                Operation(
                    "POST /cart/items",
                    2,
                    (
                        Call("cart-cache", "GET"),
                        _svc("inventory", "GET /stock/{sku}", timeout_ms=1_000),
                        _svc("pricing", "POST /prices/quote"),
                        Call("cart-cache", "SET"),
                    ),
                ),
                Operation("GET /cart", 1.5, (Call("cart-cache", "GET"), _svc("pricing", "POST /prices/quote"))),
                Operation("DELETE /cart", 1, (Call("cart-cache", "DEL"),)),
            ),
            version="3.1.0",
        ),
        Service(
            "recommendations",
            "python",
            (
                Operation(
                    "GET /recommendations",
                    12,
                    (Call("recs-cache", "GET"), _svc("catalog", "GET /products", critical=False)),
                ),
                Operation("GET /recommendations/similar", 8, (Call("recs-cache", "GET"),)),
                Operation("OrderPlaced process", 5, (Call("recs-cache", "ZINCRBY"),)),
            ),
            sigma=0.55,
            version="0.21.0",
        ),
        Service(
            "orders",
            "java",
            (
                Operation(
                    "POST /orders",
                    6,
                    (
                        _svc("customers", "GET /customers/{id}/profile", parallel=True),
                        _svc("cart", "GET /cart", parallel=True),
                        _svc("pricing", "POST /prices/checkout", timeout_ms=2_000),
                        _svc("inventory", "POST /stock/reserve", timeout_ms=3_000),
                        _svc("payments", "POST /payments/authorize", timeout_ms=1_500),
                        Call("orders-db", "INSERT orders"),
                        Call("orders-db", "INSERT order_items"),
                        Call("OrderPlaced"),
                        _svc("cart", "DELETE /cart", critical=False),
                    ),
                ),
                Operation(
                    "GET /orders",
                    3,
                    (
                        Call("orders-db", "SELECT orders"),
                        _svc("delivery", "GET /shipments/{orderId}", repeat=(1, 3), parallel=True, critical=False),
                    ),
                ),
                Operation("PaymentProcessed process", 2, (Call("orders-db", "UPDATE orders"),)),
                Operation("ShipmentCreated process", 2, (Call("orders-db", "UPDATE orders"),)),
            ),
            error_rate=0.002,
            version="7.4.1",
        ),
        Service(
            "payments",
            "java",
            (
                Operation(
                    "POST /payments/authorize",
                    8,
                    (
                        _svc("fraud", "POST /fraud/score", timeout_ms=1_000),
                        Call("payments-db", "SELECT payment_methods"),
                        Call("payments-db", "INSERT payments"),
                        Call("api.stripe.com", "POST /v1/payment_intents", timeout_ms=5_000),
                        Call("payments-db", "UPDATE payments"),
                        Call("PaymentProcessed"),
                    ),
                ),
            ),
            error_rate=0.003,
            version="6.0.2",
        ),
        Service(
            "fraud",
            "python",
            (
                Operation(
                    "POST /fraud/score",
                    10,
                    (
                        Call("fraud-features", "HGETALL", repeat=(2, 4), parallel=True),
                        _svc("customers", "GET /customers/{id}", probability=0.3),
                    ),
                ),
            ),
            sigma=0.5,
            version="2.2.0",
        ),
        Service(
            "inventory",
            "go",
            (
                Operation("GET /stock/{sku}", 1.5, (Call("inventory-db", "SELECT stock"),)),
                Operation(
                    "POST /stock/reserve",
                    3,
                    (
                        Call("inventory-db", "SELECT stock"),
                        Call("inventory-db", "UPDATE stock"),
                        Call("InventoryUpdated"),
                    ),
                ),
            ),
            error_rate=0.001,
            version="4.9.0",
        ),
        Service(
            "delivery",
            "java",
            (
                Operation("GET /shipments/{orderId}", 2, (Call("delivery-db", "SELECT shipments"),)),
                Operation(
                    "PaymentProcessed process",
                    8,
                    (
                        Call("delivery-db", "INSERT shipments"),
                        Call("maps.googleapis.com", "GET /maps/api/distancematrix/json", timeout_ms=3_000),
                        Call("api.shipengine.com", "POST /v1/labels", probability=0.9, timeout_ms=5_000),
                        Call("ShipmentCreated"),
                    ),
                ),
            ),
            version="3.3.0",
        ),
        Service(
            "loyalty",
            "nodejs",
            (
                Operation(
                    "OrderPlaced process",
                    3,
                    (Call("loyalty-db", "SELECT members"), Call("loyalty-db", "UPDATE points")),
                ),
                Operation("CustomerRegistered process", 2, (Call("loyalty-db", "INSERT members"),)),
            ),
            version="1.12.0",
        ),
        Service(
            "notifications",
            "python",
            (
                Operation("OrderPlaced process", 4, (Call("api.sendgrid.com", "POST /v3/mail/send"),)),
                Operation("PaymentProcessed process", 3, (Call("api.sendgrid.com", "POST /v3/mail/send"),)),
                Operation(
                    "ShipmentCreated process",
                    4,
                    (
                        Call("api.twilio.com", "POST /2010-04-01/Accounts/{sid}/Messages.json", probability=0.7),
                        Call("api.sendgrid.com", "POST /v3/mail/send"),
                    ),
                ),
                Operation("CustomerRegistered process", 3, (Call("api.sendgrid.com", "POST /v3/mail/send"),)),
            ),
            version="2.0.5",
        ),
        Service(
            "reporting",
            "python",
            (
                Operation("OrderPlaced process", 2, (Call("reporting-dw", "INSERT order_facts"),)),
                Operation("PaymentProcessed process", 2, (Call("reporting-dw", "INSERT payment_facts"),)),
                Operation("InventoryUpdated process", 2, (Call("reporting-dw", "INSERT stock_facts"),)),
                Operation("ShipmentCreated process", 2, (Call("reporting-dw", "INSERT shipment_facts"),)),
            ),
            version="1.4.0",
        ),
        Service("tax", "go", (Operation("POST /tax/calculate", 2, (Call("tax-db", "SELECT tax_rates"),)),)),
        Service(
            "reviews",
            "nodejs",
            (Operation("GET /reviews/{productId}", 3, (Call("reviews-db", "SELECT reviews"),)),),
            version="1.8.2",
        ),
    )
    postgres = (
        ("customers-db", 2.0),
        ("orders-db", 3.0),
        ("payments-db", 4.0),
        ("inventory-db", 2.0),
        ("catalog-db", 3.0),
        ("pricing-db", 2.0),
        ("delivery-db", 2.5),
        ("loyalty-db", 2.0),
        ("reviews-db", 3.0),
        ("tax-db", 1.5),
    )
    redis = ("session-cache", "catalog-cache", "cart-cache", "pricing-cache", "recs-cache", "fraud-features")
    datastores = (
        *(Datastore(name, "postgresql", latency) for name, latency in postgres),
        Datastore("reporting-dw", "clickhouse", 8.0, port=9000),
        Datastore("search-index", "elasticsearch", 15.0, sigma=0.6, port=9200),
        *(Datastore(name, "redis", 0.4, error_rate=0.0002, sigma=0.4, port=6379) for name in redis),
    )
    externals = (
        ExternalApi("api.stripe.com", 250, error_rate=0.005),
        ExternalApi("api.sendgrid.com", 120),
        ExternalApi("api.twilio.com", 180),
        ExternalApi("maps.googleapis.com", 90, error_rate=0.002),
        ExternalApi("api.shipengine.com", 300, error_rate=0.006),
    )
    topics = (
        Topic(
            "OrderPlaced",
            (
                Subscription("loyalty", "OrderPlaced process", "link"),
                Subscription("notifications", "OrderPlaced process", "child"),
                Subscription("reporting", "OrderPlaced process", "link"),
                Subscription("recommendations", "OrderPlaced process", "link"),
            ),
        ),
        Topic(
            "PaymentProcessed",
            (
                Subscription("delivery", "PaymentProcessed process", "child"),
                Subscription("orders", "PaymentProcessed process", "child"),
                Subscription("notifications", "PaymentProcessed process", "child"),
                Subscription("reporting", "PaymentProcessed process", "link"),
            ),
        ),
        Topic(
            "InventoryUpdated",
            (
                Subscription("search", "InventoryUpdated process", "link"),
                Subscription("catalog", "InventoryUpdated process", "child"),
                Subscription("reporting", "InventoryUpdated process", "link"),
            ),
        ),
        Topic(
            "ShipmentCreated",
            (
                Subscription("notifications", "ShipmentCreated process", "child"),
                Subscription("orders", "ShipmentCreated process", "child"),
                Subscription("reporting", "ShipmentCreated process", "link"),
            ),
        ),
        Topic(
            "CustomerRegistered",
            (
                Subscription("loyalty", "CustomerRegistered process", "link"),
                Subscription("notifications", "CustomerRegistered process", "child"),
            ),
        ),
    )
    entry_points = (
        EntryPoint("home (web)", "web-frontend", "GET /", 9),
        EntryPoint("product page (web)", "web-frontend", "GET /product/{id}", 18),
        EntryPoint("search (web)", "web-frontend", "GET /search", 12),
        EntryPoint("add to cart (web)", "web-frontend", "POST /cart", 6),
        EntryPoint("view cart (web)", "web-frontend", "GET /cart", 4),
        EntryPoint("checkout (web)", "web-frontend", "POST /checkout", 2.5),
        EntryPoint("login (web)", "web-frontend", "POST /login", 4),
        EntryPoint("order history (web)", "web-frontend", "GET /account/orders", 3),
        EntryPoint("register (web)", "web-frontend", "POST /register", 0.6),
        EntryPoint("home (mobile)", "mobile-bff", "GET /m/home", 8),
        EntryPoint("product page (mobile)", "mobile-bff", "GET /m/product/{id}", 12),
        EntryPoint("search (mobile)", "mobile-bff", "GET /m/search", 7),
        EntryPoint("add to cart (mobile)", "mobile-bff", "POST /m/cart", 4),
        EntryPoint("checkout (mobile)", "mobile-bff", "POST /m/checkout", 2),
        EntryPoint("login (mobile)", "mobile-bff", "POST /m/login", 3),
        EntryPoint("order history (mobile)", "mobile-bff", "GET /m/orders", 3),
    )
    topology = Topology(services, datastores, externals, topics, entry_points)
    topology.validate()
    return topology
