"""`flowviz bench receive` runs and accounts for every span it sent (the figures themselves are not timed tests)."""

from __future__ import annotations

from flowviz.bench.receive import SPANS_PER_REQUEST, format_receive_figures, run_receive_bench


def test_the_receive_bench_gets_every_span_into_the_store():
    figures = run_receive_bench(quick=True)
    assert set(figures) == {"grpc", "http"}
    for result in figures.values():
        assert 0 < result["spans"] / result["requests"] <= SPANS_PER_REQUEST
        assert result["spans"] >= 20_000 * 0.9  # the simulator's arrivals are random around the rate
        assert result["spans"] == figures["grpc"]["spans"]  # the same requests over both transports
        assert result["spans_per_s"] > 0
    assert "OTLP/grpc" in format_receive_figures(figures)
