"""The one selection of a window, headless: its commands and their rules, who is told what changed, the lit path
on a chart frame's rows, what the chart draws of it, and that it survives a scrub."""

from __future__ import annotations

import numpy as np

from flowviz.chart.emphasis import emphasis_of
from flowviz.chart.selection import EDGE, HOVER, LATENCY, NODE, PATH, Selection
from tests.chart.test_neighbours import BASE_NS, SECOND_NS, chart_model


def _recorded(selection: Selection) -> list[frozenset[str]]:
    changes: list[frozenset[str]] = []
    selection.subscribe(changes.append)
    return changes


def test_a_node_and_an_edge_exclude_each_other_and_the_range_belongs_to_the_node():
    selection = Selection()
    changes = _recorded(selection)
    selection.select_node(3)
    selection.set_latency_range((40, 36))
    assert selection.latency_bins == (36, 40)  # first, last
    selection.select_edge(5)
    assert (selection.node, selection.edge, selection.latency_bins) == (None, 5, None)
    assert changes == [{NODE}, {LATENCY}, {NODE, LATENCY, EDGE}]
    selection.set_latency_range((1, 2))  # no node: no range
    assert selection.latency_bins is None
    selection.select_node(2)
    assert (selection.node, selection.edge) == (2, None)
    assert changes[-1] == {NODE, EDGE}
    selection.set_latency_range((10, 12))
    selection.select_node(4)  # another node: its histogram, not the last one's range
    assert selection.latency_bins is None


def test_a_command_that_changes_nothing_tells_nobody():
    selection = Selection()
    changes = _recorded(selection)
    selection.select_node(None)
    selection.select_edge(None)
    selection.clear_path()
    selection.hover(None)
    selection.clear()
    assert changes == []
    assert selection.version == 0
    selection.hover(1, 7)  # over a node: the edge under it does not count
    assert (selection.hovered_node, selection.hovered_edge) == (1, None)
    selection.hover(None, 7)
    selection.hover(None, 7)
    assert changes == [{HOVER}, {HOVER}]
    assert selection.version == 2


def test_clear_drops_everything_chosen_and_lit_but_not_the_pointer():
    selection = Selection()
    selection.hover(2)
    selection.select_node(1)
    selection.set_latency_range((3, 4))
    selection.show_path({"a", "b"}, {("a", "b")}, badges=[("a", "1")])
    changes = _recorded(selection)
    selection.clear()
    assert changes == [{NODE, LATENCY, PATH}]
    assert (selection.node, selection.edge, selection.latency_bins) == (None, None, None)
    assert (selection.path_names, selection.path_calls, selection.badges) == (frozenset(), frozenset(), ())
    assert selection.hovered_node == 2


def test_a_path_by_names_lights_the_charts_own_rows():
    chart = chart_model().chart
    names = chart.node_names
    selection = Selection()
    selection.show_path({"a", "b", "d", "gone"}, {("a", "b"), ("b", "d"), ("gone", "b"), ("d", "a")})
    nodes, edges = selection.path_rows(chart)
    assert {names[i] for i in np.flatnonzero(nodes)} == {"a", "b", "d"}
    lit = {(names[chart.edge_source[e]], names[chart.edge_target[e]]) for e in np.flatnonzero(edges)}
    assert lit == {("a", "b"), ("b", "d")}  # calls the chart has; d -> a is no edge of it
    assert len(nodes) == chart.node_count
    assert len(edges) == chart.edge_count


def test_what_the_chart_draws_of_a_selection():
    model = chart_model()
    chart = model.chart
    names = chart.node_names
    b, d = names.index("b"), names.index("d")
    selection = Selection()
    selection.select_node(b)
    emphasis = emphasis_of(selection, chart, model.neighbours(b))
    assert emphasis.selected == b
    assert {names[i] for i in emphasis.neighbours} == {"a", "c", "d"}
    assert not emphasis.is_dimmed(chart.node_count).any()  # b's neighbours are everything here
    edge = next(e for e in range(chart.edge_count) if chart.edge_target[e] == d)
    selection.select_edge(edge)
    selection.show_path(["b", "d"], [("b", "d")], badges=[("d", "1"), ("nowhere", "2")])
    emphasis = emphasis_of(selection, chart)
    assert (emphasis.selected, emphasis.selected_edge, emphasis.edge_ends) == (None, edge, {b, d})
    assert emphasis.path_edges == {edge}
    assert emphasis.badges == ((d, "1"),)
    assert [names[i] for i in np.flatnonzero(~emphasis.is_dimmed(chart.node_count))] == sorted(
        ["b", "d"], key=names.index
    )
    selection.select_node(chart.node_count + 5)  # a row the chart does not have (any more)
    assert emphasis_of(selection, chart).selected is None
    assert emphasis_of(selection, None).path_nodes == frozenset()


def test_the_selection_survives_a_scrub():
    model = chart_model(seconds=120)
    selection = Selection()
    selection.select_node(model.chart.node_names.index("c"))
    selection.show_path(["c", "b"], [("c", "b")])
    selection.set_latency_range((30, 34))
    version = selection.version
    model.time.seek(BASE_NS + 50 * SECOND_NS)
    model.refresh()
    assert selection.version == version  # a scrub is no command of the selection
    assert selection.node_name(model.chart) == "c"
    assert selection.latency_bins == (30, 34)
    nodes, edges = selection.path_rows(model.chart)
    assert int(nodes.sum()) == 2
    assert int(edges.sum()) == 1
