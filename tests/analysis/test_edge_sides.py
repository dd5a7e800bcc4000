"""What an edge's two sides say, headless: the gap between caller and callee, the payload line."""

from __future__ import annotations

import numpy as np

from flowviz.analysis.edge_sides import payload_text, side_gap_text
from flowviz.store.edge_details import SideFigures


def test_the_gap_between_client_and_server_is_explained():
    def side(calls: int, p95_ms: float) -> SideFigures:
        return SideFigures(calls, p95_ms / 2, p95_ms, p95_ms, np.zeros(1))

    assert "waits 80.0 ms longer" in side_gap_text({"client": side(10, 180.0), "server": side(10, 100.0)})
    assert "give up" in side_gap_text({"client": side(10, 1500.0), "server": side(10, 1800.0)})
    assert "about the same" in side_gap_text({"client": side(10, 102.0), "server": side(10, 100.0)})
    assert "Only the client side" in side_gap_text({"client": side(3, 5.0), "server": side(0, float("nan"))})


def test_payload_text_in_bytes() -> None:
    assert payload_text(None) == ""
    assert payload_text(SideFigures(0, np.nan, np.nan, np.nan, np.zeros(1))) == ""
    text = payload_text(SideFigures(1200, 820.0, 4_100.0, 12_500_000.0, np.zeros(1)))
    assert text == "Payload: p50 820 B · p95 4.1 kB over 1,200 messages."
