"""The tables' shared vocabulary: a few-value membership test that agrees with `np.isin`."""

from __future__ import annotations

import numpy as np
import pytest

from flowviz.model.columns import is_any_of


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint64])
def test_is_any_of_agrees_with_isin(dtype) -> None:
    values = np.random.default_rng(3).integers(0, 6, 500).astype(dtype)
    for wanted in ([2, 4], [0], [5, 1, 3], []):
        expected = np.isin(values, np.array(wanted, dtype))
        assert np.array_equal(is_any_of(values, np.array(wanted, dtype)), expected)
    assert is_any_of(values[:0], np.array([1], dtype)).shape == (0,)
