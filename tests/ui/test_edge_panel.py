"""The edge panel's payload line, and its and the service panel's requests answered through the worker pipe."""

from __future__ import annotations

import multiprocessing

from flowviz.sources.detail_channel import DetailClient, serve_details
from flowviz.store.detail_queries import EdgeQuery, ServiceQuery
from flowviz.store.drill_down import DrillDownStore


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
