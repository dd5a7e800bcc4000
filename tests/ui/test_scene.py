"""What `flowviz render --describe` reports of a drawn chart: readable labels in every theme, focus,
filters and groups cutting the graph exactly as they say."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
import pytest

from flowviz.chart.labels import overlaps
from flowviz.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample-shop.otlp.jsonl.gz"


def _render(tmp_path: Path, *args: str, captures: tuple[str, ...] = (str(SAMPLE),)) -> dict:
    out, scene = tmp_path / "chart.png", tmp_path / "scene.json"
    assert main(["render", *captures, "-o", str(out), "--describe", str(scene), *args]) == 0
    return orjson.loads(scene.read_bytes())


def _assert_readable(scene: dict) -> None:
    width, height = scene["size"]
    labels = [(item["name"], item["label"]["rect"]) for item in scene["items"] if item["label"]]
    for (a, rect_a), (b, rect_b) in itertools.combinations(labels, 2):
        assert not overlaps(rect_a, rect_b), f"labels of {a} and {b} overlap"
    for name, rect in labels:
        assert rect[0] >= 0
        assert rect[1] >= 0
        assert rect[0] + rect[2] <= width
        assert rect[1] + rect[3] <= height
        for item in scene["items"]:
            assert not overlaps(rect, item["rect"]), f"the label of {name} covers {item['name']}"


@pytest.mark.parametrize("theme", ["dark", "light", "projector"])
def test_every_node_of_the_shop_is_named_without_overlaps_at_1280x720(tmp_path, theme) -> None:
    # the whole 1280x720 for the chart: no title and legend taking a fifth of it
    scene = _render(tmp_path, "--size", "1280x720", "--theme", theme, "--no-legend")
    assert scene["size"] == [1280, 720]
    assert scene["theme"] == theme
    items = scene["items"]
    assert len(items) == 37
    assert all(item["kind"] == "node" for item in items)
    unnamed = [item["name"] for item in items if item["label"] is None or item["label"]["lines"][0] != item["name"]]
    assert unnamed == []
    _assert_readable(scene)
    if theme == "projector":
        assert min(item["label"]["font_px"] for item in items) >= 16
    # every edge is drawn from its source's side to its target's side
    rects = {item["name"]: item["rect"] for item in items}
    for edge in scene["edges"]:
        (x0, _y0), (x1, _y1) = edge["points"][0], edge["points"][-1]
        source, target = rects[edge["source"]], rects[edge["target"]]
        assert abs(x0 - (source[0] + source[2] / 2)) < source[2]
        assert abs(x1 - (target[0] + target[2] / 2)) < target[2]


def test_focus_shows_exactly_the_n_hop_neighbourhood(tmp_path) -> None:
    whole = _render(tmp_path, "--size", "1280x720")
    edges = {(e["source"], e["target"]) for e in whole["edges"]}
    scene = _render(tmp_path, "--size", "1280x720", "--focus", "orders", "--hops", "1")
    expected = {"orders"} | {t for s, t in edges if s == "orders"} | {s for s, t in edges if t == "orders"}
    assert {item["name"] for item in scene["items"]} == expected
    two = _render(tmp_path, "--size", "1280x720", "--focus", "orders", "--hops", "2")
    down2 = {t for s, t in edges if s in expected - {s for s, t in edges if t == "orders"}}
    up2 = {s for s, t in edges if t in expected - {t for s, t in edges if s == "orders"}}
    assert {item["name"] for item in two["items"]} >= expected | down2 | up2
    _assert_readable(two)


def test_a_filter_hides_exactly_what_it_says(tmp_path) -> None:
    whole = _render(tmp_path, "--size", "1280x720")
    names = {item["name"] for item in whole["items"]}
    databases = {item["name"] for item in whole["items"] if item["node_kind"] == "database"}
    scene = _render(tmp_path, "--size", "1280x720", "--filter", "hide kind = database")
    assert {item["name"] for item in scene["items"]} == names - databases
    only = _render(tmp_path, "--size", "1280x720", "--filter", "kind = database OR name ~ pay")
    assert {item["name"] for item in only["items"]} == databases | {n for n in names if "pay" in n}
    assert main(["render", str(SAMPLE), "-o", str(tmp_path / "x.png"), "--filter", "p95 >> 3"]) == 2


def test_the_large_jaeger_graph_opens_grouped_and_readable(tmp_path, captures_dir) -> None:
    large = captures_dir / "jaeger-dependencies" / "jaeger-ui-dependencygraph-large.json"
    scene = _render(tmp_path, "--size", "1920x1080", captures=(str(large),))
    items = scene["items"]
    groups = [item for item in items if item["kind"] == "group"]
    assert groups
    assert sum(1 for item in items if item["label"]) <= 150
    members = [name for group in groups for name in group["members"]]
    assert len(members) == len(set(members))
    assert len(members) + sum(1 for item in items if item["kind"] == "node") == 1238
    _assert_readable(scene)
    assert all(group["label"] is not None for group in groups)


def test_the_scene_is_in_pixels_of_the_picture_under_its_title(tmp_path) -> None:
    with_title = _render(tmp_path, "--size", "1280x720")
    bare = _render(tmp_path, "--size", "1280x720", "--no-legend")
    assert with_title["size"] == bare["size"] == [1280, 720]
    left, top, width, height = with_title["chart_rect"]
    assert (left, width) == (0, 1280)
    assert top > 30
    assert top + height < 720  # the legend is below
    assert bare["chart_rect"] == [0, 0, 1280, 720]
    for item in with_title["items"]:
        assert top <= item["rect"][1] <= top + height
