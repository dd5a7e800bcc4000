"""Jaeger `/api/dependencies` link lists ([{"parent", "child", "callCount"}], optionally under "data") -> edges."""

from __future__ import annotations

from flowviz.model.problems import Problems


def looks_like_dependencies(doc: object) -> bool:
    """True for a non-empty list of {"parent", "child", "callCount"} dicts, bare or under "data"."""
    if isinstance(doc, dict):
        doc = doc.get("data")
    if not isinstance(doc, list) or not doc:
        return False
    first = doc[0]
    return isinstance(first, dict) and "parent" in first and "child" in first and "callCount" in first


def read_dependencies(doc: object, problems: Problems, where: str) -> list[tuple[str, str, int]]:
    """(parent, child, callCount) of every well-formed link; malformed ones are skipped and counted."""
    links = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(links, list):
        problems.add("dependencies: document is not a list of links", where)
        return []
    edges: list[tuple[str, str, int]] = []
    for index, link in enumerate(links):
        if not isinstance(link, dict):
            problems.add("dependencies: link is not an object", f"{where}:link {index}")
            continue
        parent = link.get("parent")
        child = link.get("child")
        if not isinstance(parent, str) or not parent or not isinstance(child, str) or not child:
            problems.add("dependencies: link without parent or child name", f"{where}:link {index}")
            continue
        count = _call_count(link.get("callCount"))
        if count is None:
            problems.add("dependencies: callCount is not a positive integer", f"{where}:link {index}")
            continue
        edges.append((parent, child, count))
    return edges


MAX_CALL_COUNT = 1 << 53  # beyond any real count, and still exact in a float


def _call_count(value: object) -> int | None:
    """A positive integer count up to 2**53 (an integral float such as 3.0 is accepted), else None."""
    if type(value) is float and value.is_integer() and abs(value) <= MAX_CALL_COUNT:
        value = int(value)
    if type(value) is int and 0 < value <= MAX_CALL_COUNT:
        return value
    return None
