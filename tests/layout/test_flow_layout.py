"""FlowLayout: flow goes rightward, new nodes slide in without moving anyone, pins win, results are cached."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from flowviz.layout import FlowLayout, LayoutResult, layout_bounds

from .conftest import random_dag, random_digraph

LAYER_GAP = 260.0
NODE_GAP = 90.0


def names_for(count: int) -> list[str]:
    return [f"svc-{index}" for index in range(count)]


def assert_no_overlap(result: LayoutResult, node_gap: float = NODE_GAP) -> None:
    """No two nodes share a position; nodes sharing a column are at least node_gap apart."""
    positions = result.positions
    assert np.isfinite(positions).all()
    assert np.unique(positions, axis=0).shape[0] == positions.shape[0]
    column = np.rint(positions[:, 0] / LAYER_GAP)
    for value in np.unique(column):
        ys = np.sort(positions[column == value, 1])
        assert (np.diff(ys) >= node_gap - 1e-6).all()


def test_empty_graph() -> None:
    result = FlowLayout().update([], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert result.positions.shape == (0, 2)
    assert result.bounds == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_dag_edges_all_go_rightward(seed: int) -> None:
    rng = np.random.default_rng(seed)
    source, target = random_dag(rng, 60, 130)
    result = FlowLayout(layer_gap=LAYER_GAP, node_gap=NODE_GAP).update(names_for(60), source, target)
    assert (result.positions[target, 0] > result.positions[source, 0]).all()
    assert (result.positions[:, 0] == result.layer * LAYER_GAP).all()
    assert_no_overlap(result)


@pytest.mark.parametrize("seed", range(5))
def test_cycles_lay_out_with_most_edges_rightward(seed: int) -> None:
    rng = np.random.default_rng(seed)
    source, target = random_digraph(rng, 50, 100)
    result = FlowLayout().update(names_for(50), source, target)
    real = source != target
    rightward = result.positions[target[real], 0] > result.positions[source[real], 0]
    assert rightward.mean() > 0.7
    assert_no_overlap(result)


def test_a_service_graph_with_a_cycle() -> None:
    names = ["user", "frontend", "cart", "checkout", "payment", "redis", "postgres"]
    # user -> frontend -> cart <-> checkout -> payment; cart -> redis; checkout -> postgres; payment -> payment
    source = np.array([0, 1, 2, 3, 3, 2, 3, 4])
    target = np.array([1, 2, 3, 2, 4, 5, 6, 4])
    result = FlowLayout().update(names, source, target)
    x = dict(zip(names, result.positions[:, 0].tolist(), strict=True))
    assert x["user"] < x["frontend"] < x["cart"] < x["checkout"] < x["payment"]
    assert x["redis"] > x["cart"]
    assert x["postgres"] > x["checkout"]


def test_new_node_slides_in_without_moving_others() -> None:
    rng = np.random.default_rng(11)
    source, target = random_dag(rng, 40, 80)
    layout = FlowLayout()
    before = layout.update(names_for(40), source, target)
    caller = int(source[0])
    grown = layout.update(names_for(41), np.append(source, caller), np.append(target, 40))
    assert np.array_equal(grown.positions[:40], before.positions)
    assert grown.positions[40, 0] == before.positions[caller, 0] + LAYER_GAP
    assert grown.version == before.version + 1
    assert_no_overlap(grown)


def test_new_node_sits_near_its_neighbours() -> None:
    names = ["a", "b", "c"]
    layout = FlowLayout()
    first = layout.update(names, np.array([0, 0]), np.array([1, 2]))
    result = layout.update([*names, "d"], np.array([0, 0, 2]), np.array([1, 2, 3]))
    assert result.positions[3, 0] == first.positions[2, 0] + LAYER_GAP
    assert result.positions[3, 1] == first.positions[2, 1]  # nothing else in that column: straight across


def test_new_caller_goes_left_of_its_callee() -> None:
    layout = FlowLayout()
    layout.update(["a", "b", "c"], np.array([0, 1]), np.array([1, 2]))
    result = layout.update(["a", "b", "c", "cron"], np.array([0, 1, 3]), np.array([1, 2, 2]))
    assert result.positions[3, 0] == result.positions[2, 0] - LAYER_GAP
    assert_no_overlap(result)


def test_chain_of_new_nodes_lines_up_rightward() -> None:
    layout = FlowLayout()
    layout.update(["a", "b"], np.array([0]), np.array([1]))
    # b -> c -> d -> e all new at once, plus an unconnected newcomer
    result = layout.update(["a", "b", "c", "d", "e", "lonely"], np.array([0, 1, 2, 3]), np.array([1, 2, 3, 4]))
    x = result.positions[:, 0]
    assert x[0] < x[1] < x[2] < x[3] < x[4]
    assert_no_overlap(result)


def test_growing_node_by_node_never_moves_or_overlaps() -> None:
    rng = np.random.default_rng(5)
    source, target = random_digraph(rng, 60, 150)
    order = np.lexsort((source, np.maximum(source, target)))  # an edge arrives with its later endpoint
    source, target = source[order], target[order]
    layout = FlowLayout()
    previous = layout.update(names_for(1), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    for count in range(2, 61):
        seen = np.maximum(source, target) < count
        result = layout.update(names_for(count), source[seen], target[seen])
        assert np.array_equal(result.positions[: count - 1], previous.positions)
        assert_no_overlap(result)
        previous = result


def test_a_node_left_out_comes_back_to_its_spot_unless_taken() -> None:
    layout = FlowLayout()
    first = layout.update(["a", "b", "c"], np.array([0, 0]), np.array([1, 2]))
    layout.update(["a", "b"], np.array([0]), np.array([1]))  # c filtered out
    back = layout.update(["a", "b", "c"], np.array([0, 0]), np.array([1, 2]))
    assert np.array_equal(back.positions, first.positions)
    layout.update(["a", "b"], np.array([0]), np.array([1]))
    layout.update(["a", "b", "d"], np.array([0, 0]), np.array([1, 2]))  # d arrives where c was
    again = layout.update(["a", "b", "d", "c"], np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert np.array_equal(again.positions[:2], first.positions[:2])
    assert_no_overlap(again)


def test_unchanged_input_returns_the_cached_result() -> None:
    source, target = np.array([0, 1]), np.array([1, 2])
    layout = FlowLayout()
    first = layout.update(["a", "b", "c"], source, target)
    again = layout.update(["a", "b", "c"], source.copy(), target.copy(), node_weight=np.array([5.0, 1.0, 1.0]))
    assert again is first
    # a new edge between placed nodes moves nobody
    more = layout.update(["a", "b", "c"], np.array([0, 1, 0]), np.array([1, 2, 2]))
    assert more.version == first.version
    assert np.array_equal(more.positions, first.positions)
    with pytest.raises(ValueError, match=r"read-only"):
        first.positions[0, 0] = 1.0


def test_pins_survive_updates_and_relayout() -> None:
    rng = np.random.default_rng(2)
    source, target = random_dag(rng, 30, 60)
    layout = FlowLayout()
    layout.update(names_for(30), source, target)
    layout.pin("svc-3", 1000.0, -500.0)
    pinned = layout.result
    assert pinned.positions[3].tolist() == [1000.0, -500.0]
    assert pinned.pinned[3]
    assert pinned.pinned.sum() == 1
    grown = layout.update(names_for(31), np.append(source, 3), np.append(target, 30))
    assert grown.positions[3].tolist() == [1000.0, -500.0]
    assert np.array_equal(grown.positions[:30], pinned.positions)
    fresh = layout.relayout()
    assert fresh.positions[3].tolist() == [1000.0, -500.0]
    assert_no_overlap(fresh)
    layout.unpin("svc-3")
    assert layout.result.positions[3].tolist() == [1000.0, -500.0]  # unpinning alone moves nothing
    assert not layout.result.pinned.any()
    assert layout.relayout().positions[3].tolist() != [1000.0, -500.0]


def test_relayout_avoids_pinned_spots() -> None:
    layout = FlowLayout()
    result = layout.update(["a", "b", "c", "d"], np.array([0, 0, 0]), np.array([1, 2, 3]))
    # pin the first node onto the spot of another in its column
    layout.pin("a", *result.positions[2].tolist())
    fresh = layout.relayout()
    assert fresh.positions[0].tolist() == result.positions[2].tolist()
    assert_no_overlap(fresh)


def test_pin_before_the_node_appears() -> None:
    layout = FlowLayout()
    layout.update(["a", "b"], np.array([0]), np.array([1]))
    layout.pin("later", 42.0, 4242.0)
    result = layout.update(["a", "b", "later"], np.array([0, 1]), np.array([1, 2]))
    assert result.positions[2].tolist() == [42.0, 4242.0]


def test_new_node_avoids_a_pinned_node() -> None:
    layout = FlowLayout()
    first = layout.update(["a", "b"], np.array([0]), np.array([1]))
    spot = (first.positions[1, 0], first.positions[0, 1] + 10.0)  # where a's next callee would go
    layout.pin("b", *spot)
    result = layout.update(["a", "b", "c"], np.array([0, 0]), np.array([1, 2]))
    assert result.positions[1].tolist() == list(spot)
    assert result.positions[2, 0] == spot[0]
    assert abs(result.positions[2, 1] - spot[1]) >= NODE_GAP - 1e-6
    assert_no_overlap(result)


def test_same_input_same_output() -> None:
    rng = np.random.default_rng(9)
    source, target = random_digraph(rng, 80, 200)
    weight = rng.random(80)
    results = [FlowLayout().update(names_for(80), source, target, node_weight=weight) for _ in range(2)]
    assert np.array_equal(results[0].positions, results[1].positions)
    assert np.array_equal(results[0].layer, results[1].layer)


def test_same_output_under_different_hash_seeds() -> None:
    code = textwrap.dedent(
        """
        import numpy as np
        from flowviz.layout import FlowLayout
        rng = np.random.default_rng(4)
        source, target = rng.integers(0, 40, 90), rng.integers(0, 40, 90)
        layout = FlowLayout()
        layout.update([f"s{i}" for i in range(39)], source[(source < 39) & (target < 39)],
                      target[(source < 39) & (target < 39)])
        print(layout.update([f"s{i}" for i in range(40)], source, target).positions.tobytes().hex())
        """
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_names_must_be_unique_and_edges_in_range() -> None:
    with pytest.raises(ValueError, match="unique"):
        FlowLayout().update(["a", "a"], np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="node indices"):
        FlowLayout().update(["a", "b"], np.array([0]), np.array([2]))
    with pytest.raises(TypeError, match="integer"):
        FlowLayout().update(["a", "b"], np.array([0.0]), np.array([1.0]))
    layout = FlowLayout()
    layout.update(["a", "b"], np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="node indices"):  # caught even when no node is new
        layout.update(["a", "b"], np.array([0, 1]), np.array([1, 5]))
    with pytest.raises(ValueError, match="edge_weight"):
        layout.update(["a", "b", "c"], np.array([0]), np.array([1]), edge_weight=np.ones(2))
    with pytest.raises(ValueError, match="node_weight"):
        FlowLayout().update(["a", "b"], np.array([0]), np.array([1]), node_weight=np.ones(3))


def test_layout_bounds() -> None:
    assert layout_bounds(np.array([[0.0, 5.0], [260.0, -90.0]])) == (0.0, -90.0, 260.0, 5.0)
    assert layout_bounds(np.zeros((0, 2))) == (0.0, 0.0, 0.0, 0.0)
