"""Regression against a reference layout of the shop sample and the simulator's platform: crossings as
drawn, edges through nodes, hidden edges, fill, each node's column and the order within columns.

After a deliberate change of the layout, write a new reference with
`FLOWVIZ_WRITE_LAYOUT_REFERENCE=1 python -m pytest tests/layout/test_reference_layout.py` and say why in
the commit.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import orjson
import pytest

from flowviz.bench.layout import REPO, _platform_graph, _store_graph, flowviz_figures
from flowviz.layout.flow_layout import FlowLayout

REFERENCE = Path(__file__).parents[1] / "data" / "layout" / "reference_layout.json"
GRAPHS = {
    "shop sample": lambda: _store_graph([str(REPO / "resources" / "sample-shop.otlp.jsonl.gz")]),
    "simulator platform": _platform_graph,
}
CROSSINGS_TOLERANCE = 0.1  # a tenth more crossings than the reference fails
ORDER_TOLERANCE = 0.1  # a tenth of the pairs of nodes in one column swapped fails
FIGURES = ("crossings", "edges_through_nodes", "hidden_edges", "backward_edges", "fill_16_9")


def _layout_of(name: str) -> dict:
    graph = GRAPHS[name]()
    names, source, target, weight = graph
    result = FlowLayout().update(names, source, target, edge_weight=weight)
    figures = flowviz_figures(graph, repeats=1)
    return {
        **{key: figures[key] for key in FIGURES},
        "positions": {
            node: [round(x, 1), round(y, 1)] for node, (x, y) in zip(names, result.positions.tolist(), strict=True)
        },
    }


def _swapped_share(now: dict[str, list[float]], then: dict[str, list[float]]) -> float:
    """Share of the pairs of nodes in one column (in both layouts) whose vertical order flipped."""
    pairs = swapped = 0
    for a, b in itertools.combinations(sorted(now), 2):
        if now[a][0] != now[b][0] or then[a][0] != then[b][0]:
            continue
        pairs += 1
        swapped += (now[a][1] < now[b][1]) != (then[a][1] < then[b][1])
    return swapped / max(pairs, 1)


def test_write_reference_when_asked() -> None:
    if not os.environ.get("FLOWVIZ_WRITE_LAYOUT_REFERENCE"):
        pytest.skip("writes the reference only when FLOWVIZ_WRITE_LAYOUT_REFERENCE is set")
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_bytes(orjson.dumps({name: _layout_of(name) for name in GRAPHS}, option=orjson.OPT_INDENT_2))


@pytest.mark.parametrize("name", list(GRAPHS))
def test_layout_does_not_regress_from_the_reference(name: str) -> None:
    reference = orjson.loads(REFERENCE.read_bytes())[name]
    now = _layout_of(name)
    assert now["crossings"] <= reference["crossings"] * (1 + CROSSINGS_TOLERANCE)
    assert now["edges_through_nodes"] <= reference["edges_through_nodes"]
    assert now["hidden_edges"] <= reference["hidden_edges"]
    assert now["backward_edges"] <= reference["backward_edges"]
    assert now["fill_16_9"] >= reference["fill_16_9"] - 0.05
    assert set(now["positions"]) == set(reference["positions"])
    columns_now = {node: xy[0] for node, xy in now["positions"].items()}
    columns_then = {node: xy[0] for node, xy in reference["positions"].items()}
    assert columns_now == columns_then  # the layering is the reference's (and dot's)
    assert _swapped_share(now["positions"], reference["positions"]) <= ORDER_TOLERANCE


def test_the_order_check_can_fail() -> None:
    then = {"a": [0.0, 0.0], "b": [0.0, 90.0], "c": [260.0, 0.0]}
    now = {"a": [0.0, 90.0], "b": [0.0, 0.0], "c": [260.0, 0.0]}
    assert _swapped_share(now, then) == 1.0
    assert _swapped_share(then, then) == 0.0
    assert np.isclose(_swapped_share({**now, "d": [0.0, 200.0]}, {**then, "d": [0.0, 200.0]}), 1 / 3)
