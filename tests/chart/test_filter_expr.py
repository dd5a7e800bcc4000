"""Find/hide expressions: each field, units, AND/OR/NOT, and errors that say what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.chart.chart_frame import Health
from flowviz.chart.filter_expr import FilterError, NodeFigures, NodeFilter

FIGURES = NodeFigures(
    names=("payments", "orders", "orders-db", "user", "pay-gw"),
    kind=np.array([0, 0, 1, 4, 3]),
    rate_per_s=np.array([5.0, 0.05, 2.0, 1.0, 0.0]),
    error_ratio=np.array([0.2, 0.005, 0.0, 0.0, 0.0]),
    p50_ms=np.array([30.0, 10.0, 2.0, np.nan, np.nan]),
    p95_ms=np.array([900.0, 40.0, 6.0, np.nan, np.nan]),
    p99_ms=np.array([2500.0, 90.0, 9.0, np.nan, np.nan]),
    health=np.array([Health.FAILING, Health.DEGRADED, Health.HEALTHY, Health.HEALTHY, Health.IDLE]),
)


def _names(text: str) -> list[str]:
    keep = NodeFilter.parse(text).keep(FIGURES)
    return [name for name, kept in zip(FIGURES.names, keep, strict=True) if kept]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("errors > 1%", ["payments"]),
        ("errors >= 0.005", ["payments", "orders"]),
        ("p95 > 500ms", ["payments"]),
        ("p95 > 0.5s", ["payments"]),
        ("rate < 0.1/s", ["orders", "pay-gw"]),
        ("rate >= 60/min", ["payments", "orders-db", "user"]),
        ("kind = database", ["orders-db"]),
        ("name ~ pay", ["payments", "pay-gw"]),
        ("name = ORDERS", ["orders"]),
        ("name !~ order", ["payments", "user", "pay-gw"]),
        ("healthy", ["orders-db", "user"]),
        ("idle", ["pay-gw"]),
        ("problems", ["payments", "orders"]),
        ("kind = service AND errors > 1% OR idle", ["payments", "pay-gw"]),
        ("kind = service and (errors > 1% or p95 < 50ms)", ["payments", "orders"]),
        ("NOT healthy AND NOT idle", ["payments", "orders"]),
        ("hide kind = database", ["payments", "orders", "user", "pay-gw"]),
    ],
)
def test_expressions_select_exactly_the_matching_nodes(text, expected) -> None:
    assert _names(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("errors >", "ends too early"),
        ("speed > 3", "unknown word"),
        ("p95 ~ 3", "compares names only"),
        ("kind = lorry", "none of"),
        ("rate > fast", "not a number"),
        ("(idle", "not closed"),
        ("idle healthy", "missing AND/OR"),
        ("", "empty"),
    ],
)
def test_malformed_expressions_say_what_is_wrong(text, says) -> None:
    with pytest.raises(FilterError, match=says):
        NodeFilter.parse(text)
