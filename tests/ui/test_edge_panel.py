"""The edge panel's payload line, and its and the service panel's requests answered through the worker pipe."""

from __future__ import annotations

import multiprocessing

import numpy as np

from flowviz.sources.detail_channel import DetailClient, serve_details
from flowviz.store.detail_queries import EdgeQuery, ServiceQuery
from flowviz.store.drill_down import DrillDownStore
from flowviz.store.edge_details import SideFigures
from flowviz.ui.edge_panel import payload_text


def test_payload_text_in_bytes() -> None:
    assert payload_text(None) == ""
    assert payload_text(SideFigures(0, np.nan, np.nan, np.nan, np.zeros(1))) == ""
    text = payload_text(SideFigures(1200, 820.0, 4_100.0, 12_500_000.0, np.zeros(1)))
    assert text == "Payload: p50 820 B · p95 4.1 kB over 1,200 messages."


def test_the_panels_queries_all_go_through_the_worker_pipe() -> None:
    """Every question the edge and service panels ask is one the worker answers (a query missing from the
    channel's list once broke the edge panel of every window; a typed request is answered whole)."""
    here, there = multiprocessing.Pipe()
    serve_details(DrillDownStore(), there)
    client = DetailClient(here)
    figures = client.ask(EdgeQuery("orders", "payments", 0, 60_000_000_000, exemplar_limit=25))
    assert figures.sides["client"].calls == 0
    assert figures.payload is not None
    assert figures.payload.calls == 0
    service = client.ask(ServiceQuery("orders", 0, 60_000_000_000, exemplar_limit=25, latency_bins=(0, 10)))
    assert service.operations == []
    assert service.in_range == []
    assert client.round_trips == 2
