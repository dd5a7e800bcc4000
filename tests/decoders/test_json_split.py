"""Splitting one JSON document into groups of its array elements, whatever the strings hold."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowviz.decoders.json_split import ElementGroup, split_document

# strings full of what a scanner can trip on: quotes, backslash runs, brackets, commas, colons, unicode
_TRICKY = st.text(alphabet=st.sampled_from(list('"\\[]{},: \n\tabxé€😀\u2028')), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TRICKY
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=8,
)
_SIZES = st.integers(min_value=1, max_value=64)
_EXAMPLES = settings(max_examples=40, deadline=None)


def _elements(data: bytes, **sizes: int) -> dict[str | None, list[object]]:
    out: dict[str | None, list[object]] = {}
    for group in split_document(data, **sizes):
        elements = orjson.loads(group.array_json)
        assert len(elements) == group.count
        assert data[group.first_offset - 1 : group.first_offset] in (b"[", b",") or data[
            : group.first_offset
        ].rstrip().endswith((b"[", b","))
        out.setdefault(group.key, []).extend(elements)
    return out


@_EXAMPLES
@given(st.lists(_VALUES, max_size=12), _SIZES, _SIZES, st.booleans())
def test_top_level_array_round_trips(elements: list[object], chunk: int, group: int, indent: bool) -> None:
    data = orjson.dumps(elements, option=orjson.OPT_INDENT_2 if indent else 0)
    got = _elements(data, chunk_bytes=chunk, group_bytes=group)
    assert got.get(None, []) == elements
    assert set(got) <= {None}


@_EXAMPLES
@given(
    st.dictionaries(st.sampled_from(["data", "resourceSpans", "batches", 'x\\"[', "total"]), _VALUES, max_size=4),
    st.lists(_VALUES, min_size=1, max_size=8),
    _SIZES,
    _SIZES,
)
def test_object_arrays_round_trip_with_their_keys(
    envelope: dict[str, object], payload: list[object], chunk: int, group: int
) -> None:
    document = {**envelope, "data": payload}
    data = orjson.dumps(document)
    got = _elements(data, chunk_bytes=chunk, group_bytes=group)
    arrays = {k: v for k, v in document.items() if isinstance(v, list) and v}
    # every element of every array member comes out once; keys are read back for the plain names
    # flowviz looks for (a key holding an escaped quote is not one of them)
    assert sorted(orjson.dumps(e) for v in got.values() for e in v) == sorted(
        orjson.dumps(e) for v in arrays.values() for e in v
    )
    for key in ("data", "resourceSpans", "batches", "total"):
        assert got.get(key) == arrays.get(key)


@_EXAMPLES
@given(st.lists(_VALUES, min_size=1, max_size=8), _SIZES, _SIZES, st.data())
def test_truncated_documents_raise_after_the_whole_elements(
    elements: list[object], chunk: int, group: int, data: st.DataObject
) -> None:
    text = orjson.dumps({"resourceSpans": elements})
    cut = data.draw(st.integers(min_value=1, max_value=len(text) - 1))
    seen: list[object] = []
    with pytest.raises(ValueError, match="ends early"):
        _collect(split_document(text[:cut], chunk_bytes=chunk, group_bytes=group), seen)
    # what came out before the error are whole elements, in order: a prefix of the real ones
    assert seen == elements[: len(seen)]
    # at most the element the cut went through is lost (and the comma-less tail of a scalar)
    complete_before_cut = sum(1 for i in range(len(elements)) if len(orjson.dumps(elements[: i + 1])) <= cut - 16)
    assert len(seen) >= complete_before_cut - 1


def test_group_sizes_bound_the_groups() -> None:
    elements = [{"traceId": f"{i:032x}", "name": 'a,b]"c'} for i in range(100)]
    data = orjson.dumps(elements)
    groups = list(split_document(data, group_bytes=500, chunk_bytes=128))
    assert len(groups) > 5
    assert all(len(g.array_json) < 500 + 200 for g in groups)
    assert sum(g.count for g in groups) == 100
    assert [e for g in groups for e in orjson.loads(g.array_json)] == elements
    assert groups[0].first_offset == 1


def test_empty_arrays_and_scalar_members_give_nothing() -> None:
    assert list(split_document(b"[]")) == []
    assert list(split_document(b'{"data": [ ], "total": 3, "errors": null}')) == []


@pytest.mark.parametrize("text", [b"", b"   ", b'"a string"', b"42", b"null", b"\xef\xbb\xbf 7"])
def test_not_an_array_or_object(text: bytes) -> None:
    with pytest.raises(ValueError, match="not a JSON array or object"):
        list(split_document(text))


def test_a_byte_order_mark_is_skipped() -> None:
    (group,) = split_document(b'\xef\xbb\xbf{"data": [1, 2]}')
    assert (group.key, orjson.loads(group.array_json)) == ("data", [1, 2])


def test_a_cut_right_after_a_whole_object_keeps_it() -> None:
    seen: list[object] = []
    with pytest.raises(ValueError, match="ends early"):
        _collect(split_document(b'{"data": [{"a": 1}, {"b": "]"}', group_bytes=1 << 20), seen)
    assert seen == [{"a": 1}, {"b": "]"}]


def _collect(groups: Iterator[ElementGroup], into: list[object]) -> None:
    """Parse groups into `into` as they come (so what came before an error is kept)."""
    for group in groups:
        into.extend(orjson.loads(group.array_json))
