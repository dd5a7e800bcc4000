"""The e-commerce platform support engineers know, as data: its topology and its incident story."""

from __future__ import annotations

from flowviz.sim.incidents import Effect, Incident, IncidentScript
from flowviz.sim.topology import (
    Call,
    Datastore,
    EntryPoint,
    ExternalApi,
    Operation,
    Service,
    Subscription,
    Topic,
    Topology,
)


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


def default_script(*, cycle_s: float = 600.0) -> IncidentScript:
    """The demo story, every `cycle_s` (default 10 min; times scale with it).

    1. payments-db slows down (lock contention) -> payments slows -> orders back up: checkout latency
       climbs and calls from orders to payments time out (errors at checkout).
    2. inventory has a burst of errors (a bad deploy, rolled back).
    3. loyalty falls behind on OrderPlaced (its database is slow): its consumer lag grows, then drains.
    """
    k = cycle_s / 600.0
    return IncidentScript(
        (
            Incident(
                "payments-db-slow",
                "payments-db slow queries (lock contention)",
                "payments-db",
                Effect.LATENCY,
                80.0,
                start_s=120 * k,
                duration_s=180 * k,
                ramp_in_s=40 * k,
                ramp_out_s=30 * k,
            ),
            Incident(
                "orders-backlog",
                "orders piling up behind payments",
                "orders",
                Effect.LATENCY,
                4.0,
                start_s=150 * k,
                duration_s=170 * k,
                ramp_in_s=40 * k,
                ramp_out_s=30 * k,
            ),
            Incident(
                "inventory-errors",
                "inventory error burst (bad deploy)",
                "inventory",
                Effect.ERRORS,
                0.4,
                start_s=370 * k,
                duration_s=60 * k,
                ramp_in_s=5 * k,
                ramp_out_s=10 * k,
            ),
            Incident(
                "loyalty-db-slow",
                "loyalty-db slow",
                "loyalty-db",
                Effect.LATENCY,
                8.0,
                start_s=420 * k,
                duration_s=150 * k,
                ramp_in_s=20 * k,
                ramp_out_s=20 * k,
            ),
            Incident(
                "loyalty-lag",
                "loyalty falling behind on OrderPlaced",
                "loyalty",
                Effect.CONSUMER_LAG,
                20.0,
                start_s=420 * k,
                duration_s=150 * k,
                ramp_in_s=120 * k,
                ramp_out_s=30 * k,
                topic="OrderPlaced",
            ),
        ),
        cycle_s=cycle_s,
    )
