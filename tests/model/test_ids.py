"""Id decoding: hex in any case and width, ints, raw bytes, base64 (protobuf JSON), invalid values."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowviz.model.ids import base64_id_to_hex, hex_ids_to_u64_pairs, u64_pair_to_hex


def _decode(values: list[object]) -> list[tuple[int, int, bool]]:
    high, low, ok = hex_ids_to_u64_pairs(values)
    assert high.dtype == low.dtype == np.uint64
    assert ok.dtype == bool
    return list(zip(high.tolist(), low.tolist(), ok.tolist(), strict=True))


def test_128_bit_hex_ids_split_into_high_and_low() -> None:
    assert _decode(["5b8efff798038103d269b633813fc60c"]) == [(0x5B8EFFF798038103, 0xD269B633813FC60C, True)]


def test_hex_is_case_insensitive() -> None:
    # the opentelemetry-proto example uses upper-case ids
    upper, lower, mixed = _decode(
        ["5B8EFFF798038103D269B633813FC60C", "5b8efff798038103d269b633813fc60c", "5b8EFFF798038103d269B633813fc60C"]
    )
    assert upper == lower == mixed == (0x5B8EFFF798038103, 0xD269B633813FC60C, True)


def test_short_ids_are_left_padded() -> None:
    assert _decode(["eee19b7ec3c1b174", "abc", "1", "0123456789abcdef0"]) == [
        (0, 0xEEE19B7EC3C1B174, True),  # a 64-bit id
        (0, 0xABC, True),  # odd number of digits
        (0, 1, True),
        (0, 0x0123456789ABCDEF0 & (2**64 - 1), True),  # 17 digits: the top digit lands in high64
    ]
    assert _decode(["0123456789abcdef0"])[0][0] == 0


def test_no_id_decodes_to_zero_and_is_valid() -> None:
    assert _decode(["", None, 0, False]) == [(0, 0, True)] * 4


@pytest.mark.parametrize(
    "bad",
    [
        "xyz",  # not hex
        "12 34",  # white space inside
        " 1234",
        "12345678901234567890123456789012a",  # 33 digits
        "é1",
        -1,
        1 << 128,
        1.5,
        True,
        [1],
        {"id": 1},
        b"\x01" * 17,
    ],
)
def test_invalid_ids_are_flagged_and_zero(bad: object) -> None:
    good = "00000000000000000000000000000abc"
    assert _decode([good, bad, good]) == [(0, 0xABC, True), (0, 0, False), (0, 0xABC, True)]


def test_ints_and_bytes() -> None:
    assert _decode([0xABC, (1 << 127) | 5]) == [(0, 0xABC, True), (1 << 63, 5, True)]
    assert _decode([bytes.fromhex("0102030405060708090a0b0c0d0e0f10"), bytes.fromhex("ff"), b""]) == [
        (0x0102030405060708, 0x090A0B0C0D0E0F10, True),
        (0, 0xFF, True),
        (0, 0, True),
    ]
    assert _decode([bytearray(b"\x01\x02"), "0102"]) == [(0, 0x0102, True), (0, 0x0102, True)]


def test_empty_input() -> None:
    high, low, ok = hex_ids_to_u64_pairs([])
    assert high.shape == low.shape == ok.shape == (0,)


def test_mixed_widths_keep_their_positions() -> None:
    values = ["a", "bbbb", "", "c" * 32, "d" * 16, "zz", "e" * 31]
    decoded = _decode(values)
    expected = []
    for value in values:
        if value == "zz":
            expected.append((0, 0, False))
        else:
            number = int(value or "0", 16)
            expected.append((number >> 64, number & (2**64 - 1), True))
    assert decoded == expected


@given(st.lists(st.integers(min_value=0, max_value=2**128 - 1), max_size=30), st.booleans())
def test_hex_round_trip(numbers: list[int], upper: bool) -> None:
    texts = [format(n, "032x").upper() if upper else format(n, "x") for n in numbers]
    high, low, ok = hex_ids_to_u64_pairs(texts)
    assert ok.all()
    assert [(int(h) << 64) | int(lo) for h, lo in zip(high.tolist(), low.tolist(), strict=True)] == numbers
    assert [u64_pair_to_hex(h, lo) for h, lo in zip(high.tolist(), low.tolist(), strict=True)] == [
        format(n, "032x") for n in numbers
    ]


def test_base64_ids() -> None:
    # Kiali's Tempo trace: protobuf canonical JSON ids
    assert base64_id_to_hex("S8EghnWOX8rjtqlHsizYcQ==") == base64.b64decode("S8EghnWOX8rjtqlHsizYcQ==").hex()
    assert base64_id_to_hex(base64.b64encode(bytes.fromhex("d269b633813fc60c")).decode()) == "d269b633813fc60c"
    assert base64_id_to_hex("") == ""
    for bad in ("not base64!", "abc", "é===", "S8EghnWOX8rjtqlHsizYcQ="):
        assert base64_id_to_hex(bad) == "!"
    assert _decode([base64_id_to_hex("S8EghnWOX8rjtqlHsizYcQ=="), "!"])[1] == (0, 0, False)


def test_u64_pair_to_hex_widths() -> None:
    assert u64_pair_to_hex(0, 0xABC) == "00000000000000000000000000000abc"
    assert u64_pair_to_hex(0, 0xABC, digits=16) == "0000000000000abc"
    assert u64_pair_to_hex(0, 0xABC, digits=0) == "0000000000000abc"  # a 64-bit trace id
    assert u64_pair_to_hex(1, 2, digits=0) == "00000000000000010000000000000002"
    assert u64_pair_to_hex(np.uint64(2**64 - 1), np.uint64(2**64 - 1)) == "f" * 32
