"""Properties of derivation: independent of batch split and span order; the same graph from every format."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from flowviz.bench.encode import jaeger_json_document, otlp_json_lines, zipkin_json_traces
from flowviz.bench.synthetic import synthetic_traces
from flowviz.derive.deriver import EdgeDeriver
from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.capture_file import CaptureReader

CAPTURES = (
    "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json",
    "zipkin-v2/zipkin-lens-smartthings-mobile-web-install.json",
    "zipkin-v2/zipkin-lens-messaging-kafka.json",
    "jaeger-json/jaeger-ui-genai-agent-trace.json",
    "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json",
)


def read(path: Path) -> SpanBatch:
    return SpanBatch.concat(CaptureReader(path, problems=Problems()))


def graph(observations: EdgeObservations) -> Counter:
    """Every call with its figures, as a multiset: equal graphs have equal multisets."""
    names = observations.names
    return Counter(
        zip(
            [names[i] for i in observations.source],
            [names[i] for i in observations.target],
            [ConnectionType(c).label for c in observations.connection_type],
            [names[i] for i in observations.via],
            observations.failed.tolist(),
            observations.latency_ns.tolist(),
            observations.time_ns.tolist(),
            strict=True,
        )
    )


HOUR_NS = 3600 * 1_000_000_000


def derive_in_parts(
    batch: SpanBatch, order: np.ndarray, cuts: list[int], *, ttl_ns: int = HOUR_NS
) -> tuple[Counter, dict]:
    problems = Problems()
    deriver = EdgeDeriver(problems=problems, ttl_ns=ttl_ns)
    shuffled = batch.take(order)
    bounds = [0, *sorted(set(cuts)), len(batch)]
    parts = [deriver.process(shuffled.take(np.arange(a, b))) for a, b in itertools.pairwise(bounds)]
    parts.append(deriver.flush())
    counts = {reason: entry["count"] for reason, entry in problems.as_dict().items()}
    return graph(EdgeObservations.concat(parts)), counts


def _reference(batch: SpanBatch) -> tuple[Counter, dict]:
    return derive_in_parts(batch, np.arange(len(batch)), [])


_BATCHES: dict[str, SpanBatch] = {}


def _batch(captures_dir: Path, name: str) -> SpanBatch:
    if name not in _BATCHES:
        _BATCHES[name] = read(captures_dir / name)
    return _BATCHES[name]


@settings(max_examples=25, deadline=None)
@given(data=st.data(), name=st.sampled_from(CAPTURES))
def test_real_captures_give_the_same_graph_in_any_split_and_order(captures_dir, data, name):
    # any order at all, with a TTL longer than the capture (disorder is then always within it)
    batch = _batch(captures_dir, name)
    seed = data.draw(st.integers(0, 2**32 - 1))
    order = np.random.default_rng(seed).permutation(len(batch))
    cuts = data.draw(st.lists(st.integers(1, max(1, len(batch) - 1)), max_size=6))
    assert derive_in_parts(batch, order, cuts) == _reference(batch)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), name=st.sampled_from(CAPTURES))
def test_time_ordered_arrival_in_any_split_matches_at_the_default_ttl(captures_dir, data, name):
    # the live case: spans arrive roughly in time order; the default 30 s TTL must lose nothing
    batch = _batch(captures_dir, name)
    order = np.argsort(batch.start_ns, kind="stable")
    cuts = data.draw(st.lists(st.integers(1, max(1, len(batch) - 1)), max_size=8))
    default_ttl = EdgeDeriver().ttl_ns
    assert derive_in_parts(batch, order, cuts, ttl_ns=default_ttl) == _reference(batch)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), cuts=st.lists(st.integers(1, 2999), max_size=8))
def test_synthetic_traffic_gives_the_same_graph_in_any_split_and_order(tmp_path_factory, seed, cuts):
    path = tmp_path_factory.mktemp("syn") / "spans.jsonl"
    path.write_bytes(otlp_json_lines(synthetic_traces(spans=3000, seed=seed), spans_per_request=50))
    batch = read(path)
    order = np.random.default_rng(seed).permutation(len(batch))
    reference = _reference(batch)
    assert sum(reference[0].values()) > 1000
    assert derive_in_parts(batch, order, cuts) == reference


def _graph_of(path: Path) -> Counter:
    batch = read(path)
    deriver = EdgeDeriver(problems=Problems())
    observations = EdgeObservations.concat([deriver.process(batch), deriver.flush()])
    # Jaeger and Zipkin keep microseconds: compare latencies at that precision
    return Counter(
        (source, target, kind, via, failed, latency // 1000, time // 1000)
        for (source, target, kind, via, failed, latency, time), n in graph(observations).items()
        for _ in range(n)
    )


def test_the_same_traces_as_otlp_jaeger_and_zipkin_give_the_same_graph(tmp_path):
    traces = list(synthetic_traces(spans=4000, seed=7))
    # microsecond-aligned times so that the µs formats carry exactly the same values
    for trace in traces:
        for span in trace:
            span.start_ns -= span.start_ns % 1000
            span.end_ns -= span.end_ns % 1000
    (tmp_path / "otlp.jsonl").write_bytes(otlp_json_lines(traces))
    (tmp_path / "jaeger.json").write_bytes(orjson.dumps(jaeger_json_document(traces)))
    (tmp_path / "zipkin.json").write_bytes(orjson.dumps(zipkin_json_traces(traces)))
    otlp = _graph_of(tmp_path / "otlp.jsonl")
    assert sum(otlp.values()) > 2000
    assert len({(s, t) for s, t, *_ in otlp}) > 40
    assert _graph_of(tmp_path / "jaeger.json") == otlp
    assert _graph_of(tmp_path / "zipkin.json") == otlp


def test_the_jaeger_rendering_of_an_otlp_trace_gives_the_same_graph(captures_dir):
    # jaeger's own converter fixture: the same telemetrygen trace as OTLP in and Jaeger out
    otlp = _graph_of(captures_dir / "otlp-json/jaeger-telemetrygen-otlp2jaeger-in.json")
    jaeger = _graph_of(captures_dir / "jaeger-json/jaeger-telemetrygen-otlp2jaeger-out.json")
    assert jaeger == otlp
