"""A kept trace as a waterfall, headless: tree order and folding, the critical path of the seed trace."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from flowviz.chart.waterfall import has_children, visible_indices, waterfall
from flowviz.model.problems import Problems
from flowviz.sources.capture_file import CaptureReader
from flowviz.store.exemplars import ExemplarStore
from tests.analysis.test_service_report import SEED_TRACE


def test_folding_hides_exactly_the_subtree() -> None:
    depth = np.array([0, 1, 2, 2, 1, 2, 0, 1])
    assert has_children(depth).tolist() == [True, True, False, False, True, False, True, False]
    assert visible_indices(depth, set()).tolist() == list(range(8))
    assert visible_indices(depth, {1}).tolist() == [0, 1, 4, 5, 6, 7]
    assert visible_indices(depth, {0}).tolist() == [0, 6, 7]
    assert visible_indices(depth, {1, 4}).tolist() == [0, 1, 4, 6, 7]


def _seed_waterfall(tmp_path):
    exemplars = ExemplarStore()
    path = tmp_path / "seed.json"
    path.write_bytes(orjson.dumps(SEED_TRACE))
    for batch in CaptureReader(path, problems=Problems()):
        exemplars.ingest(batch)
    exemplars.flush()
    return waterfall(exemplars.trace("5eed"))


def test_waterfall_of_the_seed_trace_marks_payment_and_database_critical(tmp_path):
    """The seed example: frontend 15 ms, auth 10, payment 50, database 30 (nested)."""
    fall = _seed_waterfall(tmp_path)
    services = fall.spans.string_column("service")
    share = {services[r]: int(fall.path.self_ns[r]) for r in range(len(services))}
    total = sum(share.values())
    assert share["payment"] / total == pytest.approx(0.4, abs=0.01)
    assert share["database"] / total == pytest.approx(0.6, abs=0.01)


def test_tree_order_puts_children_after_their_parent_one_level_deeper(tmp_path):
    fall = _seed_waterfall(tmp_path)
    spans = fall.spans
    row_of = {int(s): r for r, s in enumerate(spans.span_id.tolist())}
    position = {int(row): index for index, row in enumerate(fall.order.tolist())}
    assert sorted(position) == list(range(len(spans)))  # every span once
    for row, parent_id in enumerate(spans.parent_id.tolist()):
        parent = row_of.get(int(parent_id))
        if parent is not None and parent != row:
            assert position[row] > position[parent]
            assert fall.depth[position[row]] == fall.depth[position[parent]] + 1
    assert fall.duration_ns == int(spans.end_ns.max()) - int(spans.start_ns.min())
