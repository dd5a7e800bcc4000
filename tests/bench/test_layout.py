"""The layout as the chart draws it, against graphviz dot's figures on the same graphs (measured with
`flowviz bench layout`; dot itself need not be installed): few crossings, no edge through a node or
hidden under another, long edges routed through the columns they pass."""

from __future__ import annotations

import numpy as np

from flowviz.bench.layout import REPO, _platform_graph, _store_graph, crossings, flowviz_figures
from flowviz.layout.flow_layout import FlowLayout

# graphviz 2.43 `dot -Grankdir=LR` on the same graphs, crossings counted the same way
DOT_CROSSINGS = {"shop": 43, "platform": 18}


def test_the_shop_sample_is_drawn_close_to_dot() -> None:
    figures = flowviz_figures(_store_graph([str(REPO / "resources" / "sample-shop.otlp.jsonl.gz")]), repeats=1)
    assert figures["crossings"] <= 1.2 * DOT_CROSSINGS["shop"]  # 133 before long edges were routed, 53 before sifting
    assert figures["edges_through_nodes"] == 0
    assert figures["hidden_edges"] == 0
    assert figures["backward_edges"] == 0
    assert figures["fill_16_9"] >= 0.7


def test_the_simulator_platform_is_drawn_close_to_dot() -> None:
    figures = flowviz_figures(_platform_graph(), repeats=1)
    assert figures["edges_through_nodes"] == 0
    assert figures["hidden_edges"] == 0
    assert figures["backward_edges"] == 2  # the cycle edges, as dot draws them too
    # 75 before long edges were routed, 47 before graphviz's starts, sifting and routed cycle edges;
    # 23 now: the target of 1.2x dot (21) is reached only by longer searches (see refine.MAX_SWEEPS)
    assert figures["crossings"] <= 1.3 * DOT_CROSSINGS["platform"]


def test_long_edges_pass_through_their_own_room_in_every_column() -> None:
    names, source, target, weight = _platform_graph()
    layout = FlowLayout()
    result = layout.update(names, source, target, edge_weight=weight)
    assert result.routes  # the platform has edges spanning several columns
    backward = 0
    for (a, b), route in result.routes.items():
        start, end = result.positions[names.index(a)], result.positions[names.index(b)]
        if end[0] < start[0]:  # an edge of a cycle runs right to left
            start, end, route = end, start, route[::-1]
            backward += 1
        assert start[0] < route[0, 0]
        assert route[-1, 0] < end[0]
        assert np.all(np.diff(route[:, 0]) > 0)  # one way point per column passed, in the edge's direction
        # no node sits where the edge passes a column
        column = np.isin(result.positions[:, 0], route[:, 0])
        for x, y in route.tolist():
            here = column & (result.positions[:, 0] == x)
            assert np.all(np.abs(result.positions[here, 1] - y) >= layout.node_gap * 0.6)
    assert backward == 1  # delivery -> orders runs back over two columns, through its own room too
    layout.pin(names[int(source[0])], 5000.0, 5000.0)  # a moved node: its edges' routes are dropped
    assert all(names[int(source[0])] not in ends for ends in layout.result.routes)


def test_crossings_are_counted_where_drawn_lines_cross() -> None:
    lines = [np.array([[0.0, 0.0], [10.0, 10.0]]), np.array([[0.0, 10.0], [10.0, 0.0]]), np.array([[20.0, 0], [30, 0]])]
    assert crossings(lines, [(0, 1), (2, 3), (4, 5)]) == 1
    assert crossings(lines, [(0, 1), (0, 3), (4, 5)]) == 0  # edges sharing a node are not counted


def test_bench_layout_runs_and_prints_json(capsys) -> None:
    import orjson

    from flowviz.cli import main

    assert main(["bench", "layout", "--quick", "--json"]) == 0
    figures = orjson.loads(capsys.readouterr().out)
    shop = figures["layout"]["shop sample (resources/sample-shop)"]
    assert shop["nodes"] == 37
    assert shop["edges"] == 71
    assert set(shop["flowviz"]) >= {"crossings", "backward_edges", "edges_through_nodes", "fill_16_9", "time_ms"}
