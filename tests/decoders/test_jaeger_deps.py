"""Jaeger dependency-link reader: the jaeger-ui sample graphs, the "data" envelope, bad links, sniffing."""

from __future__ import annotations

from pathlib import Path

import orjson

from flowviz.decoders.jaeger_deps import looks_like_dependencies, read_dependencies
from flowviz.model.problems import Problems

SMALL = "jaeger-dependencies/jaeger-ui-dependencygraph-small.json"
LARGE = "jaeger-dependencies/jaeger-ui-dependencygraph-large.json"


def _load(captures_dir: Path, name: str) -> object:
    return orjson.loads((captures_dir / name).read_bytes())


def test_small_graph(captures_dir: Path) -> None:
    problems = Problems()
    edges = read_dependencies(_load(captures_dir, SMALL), problems, "small.json")
    assert not problems
    assert len(edges) == 7
    assert edges[0] == ("Service1", "Service2", 30489)
    assert ("Service2", "Service4", 129216) in edges
    assert len({name for parent, child, _ in edges for name in (parent, child)}) == 8


def test_large_graph_and_data_envelope(captures_dir: Path) -> None:
    links = _load(captures_dir, LARGE)
    problems = Problems()
    edges = read_dependencies({"data": links}, problems, "large.json")
    assert not problems
    assert len(edges) == 4271
    assert len({name for parent, child, _ in edges for name in (parent, child)}) == 1238
    assert edges[:2] == [("Service574", "Service1529", 54), ("Service242", "Service50", 4064)]
    assert all(count > 0 for _, _, count in edges)


def test_malformed_links_are_skipped_and_counted() -> None:
    doc = [
        {"parent": "a", "child": "b", "callCount": 3},
        "a->b",
        {"parent": "a", "callCount": 1},
        {"parent": "a", "child": 5, "callCount": 1},
        {"parent": "a", "child": "b", "callCount": 0},
        {"parent": "a", "child": "b", "callCount": -2},
        {"parent": "a", "child": "b", "callCount": 1.5},
        {"parent": "a", "child": "b", "callCount": "7"},
        {"parent": "a", "child": "b", "callCount": True},
        {"parent": "a", "child": "b"},
        {"parent": "b", "child": "c", "callCount": 4.0},
    ]
    problems = Problems()
    assert read_dependencies(doc, problems, "deps.json") == [("a", "b", 3), ("b", "c", 4)]
    assert problems.as_dict() == {
        "dependencies: callCount is not a positive integer": {
            "count": 6,
            "first": [f"deps.json:link {i}" for i in (4, 5, 6, 7, 8)],
        },
        "dependencies: link is not an object": {"count": 1, "first": ["deps.json:link 1"]},
        "dependencies: link without parent or child name": {
            "count": 2,
            "first": ["deps.json:link 2", "deps.json:link 3"],
        },
    }


def test_wrong_document_shapes_never_raise() -> None:
    for doc in (None, "x", {"data": None}, {"links": []}, 4):
        problems = Problems()
        assert read_dependencies(doc, problems, "d.json") == []
        assert problems.count("dependencies: document is not a list of links") == 1
    problems = Problems()
    assert read_dependencies({"data": []}, problems, "d.json") == []
    assert not problems


def test_looks_like_dependencies(captures_dir: Path) -> None:
    small = _load(captures_dir, SMALL)
    assert looks_like_dependencies(small)
    assert looks_like_dependencies({"data": small})
    for name in (
        "jaeger-json/jaeger-ui-genai-agent-trace.json",
        "jaeger-json/jaeger-telemetrygen-otlp2jaeger-out.json",
        "zipkin-v2/zipkin-lens-yelp.json",
        "otlp-json/jaeger-integration-example-trace.json",
        "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",
    ):
        assert not looks_like_dependencies(_load(captures_dir, name)), name
    for doc in ({"data": []}, [], None, [{"parent": "a", "child": "b"}], {"traceId": "t", "spans": []}):
        assert not looks_like_dependencies(doc)
