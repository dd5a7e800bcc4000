"""The graph of every real capture is the same however its spans are split into batches and (within the TTL) ordered.

Each batch goes through what the batch builder does to a batch (shared span ids separated within it,
`separate_shared_spans`), so a client half and its server half, or a shared id and its children, can
land in different batches: the deriver must come to the same edges, call counts and errors.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml

import flowviz.decoders.builder as builder_module
from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_json import add_otlp_json
from flowviz.decoders.shared_spans import separate_shared_spans
from flowviz.derive.deriver import DEFAULT_TTL_NS, EdgeDeriver
from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch
from flowviz.sources.capture_file import CaptureReader

VENDORED = Path(__file__).parents[1] / "data" / "captures"
# every span capture (dependency lists carry no spans; README and SOURCES describe the folder)
CAPTURES = sorted(
    str(path.relative_to(VENDORED)).removesuffix(".gz")
    for path in VENDORED.rglob("*")
    if path.is_file() and path.parent.name != "jaeger-dependencies" and path.suffix in (".json", ".yaml", ".gz")
)
HOUR_NS = 3600 * 1_000_000_000
BATCH_SIZES = (1, 7, 1000)
SEEDS = (0, 1)


def unseparated(path: Path, monkeypatch: pytest.MonkeyPatch) -> SpanBatch:
    """The capture's spans as decoded, shared ids not yet separated (the test splits them first)."""
    with monkeypatch.context() as patch:
        patch.setattr(builder_module, "separate_shared_spans", lambda batch, **_: batch)
        if path.suffix == ".yaml":  # the collector's golden traces: OTLP JSON written as YAML
            problems = Problems()
            builder = SpanBatchBuilder(problems)
            add_otlp_json(orjson.loads(orjson.dumps(yaml.safe_load(path.read_text()))), builder, problems, path.name)
            return builder.build()
        return SpanBatch.concat(b for b in CaptureReader(path, problems=Problems()) if isinstance(b, SpanBatch))


def graph(batch: SpanBatch, order: np.ndarray, batch_size: int, ttl_ns: int) -> Counter:
    """Calls and failed calls per edge when `batch` arrives in `order`, `batch_size` spans at a time."""
    deriver = EdgeDeriver(problems=Problems(), ttl_ns=ttl_ns)
    arriving = batch.take(order)
    parts = [
        deriver.process(separate_shared_spans(arriving.take(np.arange(start, min(start + batch_size, len(batch))))))
        for start in range(0, len(batch), batch_size)
    ]
    observations = EdgeObservations.concat([*parts, deriver.flush()])
    names = observations.names
    edges: Counter = Counter()
    for source, target, kind, via, failed in zip(
        observations.source,
        observations.target,
        observations.connection_type,
        observations.via,
        observations.failed,
        strict=True,
    ):
        edge = (names[source], names[target], ConnectionType(kind).label, names[via])
        edges[(*edge, "calls")] += 1
        edges[(*edge, "errors")] += int(failed)
    return +edges


def per_trace_shuffled(batch: SpanBatch, seed: int) -> np.ndarray:
    """Traces in the order of their first span, the spans of each trace in random order."""
    rng = np.random.default_rng(seed)
    traces, trace_of = np.unique(batch.trace_lo, return_inverse=True)
    first_start = np.full(traces.size, np.iinfo(np.int64).max)
    np.minimum.at(first_start, trace_of, batch.start_ns)
    return np.lexsort((rng.random(len(batch)), first_start[trace_of]))


def jittered(batch: SpanBatch, seed: int, jitter_ns: int) -> np.ndarray:
    """Time order, each span late by up to `jitter_ns` (the live case: roughly in time, never beyond the TTL)."""
    rng = np.random.default_rng(seed)
    return np.argsort(batch.start_ns + rng.integers(0, jitter_ns, len(batch)), kind="stable")


@pytest.fixture(scope="module")
def batches(captures_dir: Path) -> dict[str, SpanBatch]:
    monkeypatch = pytest.MonkeyPatch()
    try:
        return {name: unseparated(captures_dir / name, monkeypatch) for name in CAPTURES}
    finally:
        monkeypatch.undo()


def test_every_span_capture_is_checked(batches: dict[str, SpanBatch]) -> None:
    assert len(CAPTURES) >= 17
    assert all(len(batch) for batch in batches.values())
    with_edges = [name for name, batch in batches.items() if graph(batch, np.arange(len(batch)), len(batch), HOUR_NS)]
    assert len(with_edges) >= 15


@pytest.mark.parametrize("name", CAPTURES)
def test_file_order_in_batches_of_any_size_gives_the_one_batch_graph(batches, name: str) -> None:
    batch = batches[name]
    in_file_order = np.arange(len(batch))
    # files are not in time order (the smartthings ones span 300 s back and forth): a TTL that covers them
    whole = graph(batch, in_file_order, len(batch), HOUR_NS)
    for size in BATCH_SIZES:
        assert graph(batch, in_file_order, size, HOUR_NS) == whole, f"batches of {size}"


@pytest.mark.parametrize("name", CAPTURES)
def test_per_trace_shuffled_arrival_gives_the_one_batch_graph(batches, name: str) -> None:
    batch = batches[name]
    whole = graph(batch, np.arange(len(batch)), len(batch), HOUR_NS)
    # the TTL tolerates disorder up to its length: at least the default, and the capture's own time span
    ttl_ns = max(DEFAULT_TTL_NS, 2 * int(batch.end_ns.max() - batch.start_ns.min()))
    for seed in SEEDS:
        order = per_trace_shuffled(batch, seed)
        for size in BATCH_SIZES[:2]:
            assert graph(batch, order, size, ttl_ns) == whole, f"seed {seed}, batches of {size}"


@pytest.mark.parametrize("name", CAPTURES)
def test_live_arrival_late_within_the_default_ttl_gives_the_one_batch_graph(batches, name: str) -> None:
    batch = batches[name]
    whole = graph(batch, np.arange(len(batch)), len(batch), HOUR_NS)
    for seed in SEEDS:
        order = jittered(batch, seed, DEFAULT_TTL_NS // 4)
        for size in BATCH_SIZES[:2]:
            assert graph(batch, order, size, DEFAULT_TTL_NS) == whole, f"seed {seed}, batches of {size}"


def test_yelp_shared_spans_one_span_at_a_time_link_as_zipkin_does(batches) -> None:
    # each server half is declared `shared`; two arrive before their client half. A child of a shared id in another
    # service than the server half (yelp-main under the id `unknown` sent to yelp_main/api_proxy) stays under the
    # client half, as Zipkin's SpanNode attaches it
    batch = batches["zipkin-v2/zipkin-lens-yelp.json"]
    calls = {
        edge[:2]: count
        for edge, count in graph(batch, np.arange(len(batch)), 1, DEFAULT_TTL_NS).items()
        if edge[-1] == "calls"
    }
    assert calls == {
        ("user", "routing"): 1,
        ("unknown", "yelp_main/api_proxy"): 1,
        ("unknown", "yelp-main"): 1,
        ("yelp-main", "mobile_api"): 1,
        ("yelp-main", "memcache"): 3,
        ("yelp-main", "mysql"): 2,
        ("mobile_api", "memcache"): 2,
        ("mobile_api", "blt"): 1,
        ("mobile_api", "spectre"): 1,
    }
