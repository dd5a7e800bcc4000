"""The simulator: deterministic, Collector-like messages, the configured rate and day curve, realistic trace shapes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from flowviz.model.span_batch import SpanBatch, SpanKind, StatusCode
from flowviz.sim import NO_INCIDENTS, Effect, Incident, IncidentScript, Simulator, day_curve

S = 1_000_000_000


def _rows(batch: SpanBatch) -> list[tuple]:
    """Every span as a comparable tuple (ids, kind, status, times, names, peer, destination, http status)."""
    columns = [batch.trace_hi, batch.trace_lo, batch.span_id, batch.parent_id, batch.kind, batch.status]
    columns += [batch.start_ns, batch.end_ns, batch.peer_kind, batch.http_status]
    strings = [batch.string_column(c) for c in ("service", "name", "peer", "destination")]
    return sorted(zip(*(c.tolist() for c in columns), *strings, strict=True))


def test_same_seed_and_calls_give_identical_bytes() -> None:
    def run(seed: int) -> list[bytes]:
        sim = Simulator(seed=seed, rate_per_s=500)
        out = []
        for until_s in (0.3, 1.7, 5.0, 5.0, 12.25):
            out += sim.generate(sim.start_ns + int(until_s * S))
        out += sim.generate_json(sim.start_ns + 14 * S)
        return out

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert sum(map(len, first)) > 50_000


def test_spans_do_not_depend_on_how_calls_slice_time(decode) -> None:
    one = Simulator(seed=4, rate_per_s=500)
    many = Simulator(seed=4, rate_per_s=500)
    whole = one.generate(one.start_ns + 8 * S)
    sliced = [m for step in range(1, 33) for m in many.generate(many.start_ns + step * S // 4)]
    assert len(sliced) > len(whole)
    assert _rows(decode(whole)) == _rows(decode(sliced))
    assert one.spans_emitted == many.spans_emitted == len(decode(whole))


def test_messages_are_grouped_like_a_collector_exports_finished_spans() -> None:
    sim = Simulator(seed=2, rate_per_s=3_000, spans_per_message=400)
    previous_ns = sim.start_ns
    services = {s.name for s in sim.topology.services}
    seen_services = set()
    for until_ns in (sim.start_ns + int(t * S) for t in (0.5, 1.0, 2.5, 4.0)):
        messages = sim.generate(until_ns)
        assert messages
        for message in messages:
            request = ExportTraceServiceRequest.FromString(message)
            names = []
            spans = 0
            for resource_spans in request.resource_spans:
                attributes = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
                names.append(attributes["service.name"])
                assert attributes["telemetry.sdk.language"] in ("java", "go", "python", "nodejs")
                assert attributes["k8s.pod.name"].startswith(attributes["service.name"] + "-")
                scopes = [s.scope.name for s in resource_spans.scope_spans]
                assert len(scopes) == len(set(scopes))
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        spans += 1
                        assert previous_ns < span.end_time_unix_nano <= until_ns  # exported once it ended
                        assert span.start_time_unix_nano <= span.end_time_unix_nano
                        assert len(span.trace_id) == 16
                        assert len(span.span_id) == 8
            assert len(names) == len(set(names))
            assert 0 < spans <= 400
            seen_services.update(names)
        assert sum(len(m) for m in messages) > 0
        previous_ns = until_ns
    assert seen_services == services


def _spans_ended_per_window(sim: Simulator, *, windows: int, window_s: int, skip_s: int = 0) -> np.ndarray:
    """Spans emitted (i.e. ended) in consecutive windows of simulated time."""
    sim.generate(sim.start_ns + skip_s * S)
    counts = []
    for window in range(1, windows + 1):
        before = sim.spans_emitted
        sim.generate(sim.start_ns + (skip_s + window * window_s) * S)
        counts.append(sim.spans_emitted - before)
    return np.array(counts)


def test_rate_follows_the_configured_rate() -> None:
    flat = Simulator(seed=5, rate_per_s=3_000, daily_amplitude=0, noise=0)
    (count,) = _spans_ended_per_window(flat, windows=1, window_s=30, skip_s=5)
    assert count / 30 == pytest.approx(3_000, rel=0.10)
    # with the default noise: the rate wobbles around the configured one, and the spans follow it
    noisy = Simulator(seed=6, rate_per_s=2_000, daily_amplitude=0)
    day = noisy.start_ns + np.arange(0, 86_400, 10) * S
    assert float(np.mean(noisy.rate_at(day))) == pytest.approx(2_000, rel=0.02)
    assert float(np.std(noisy.rate_at(day))) / 2_000 == pytest.approx(0.08, rel=0.25)  # `noise`
    counts = _spans_ended_per_window(noisy, windows=3, window_s=15, skip_s=5)
    expected = [float(np.sum(noisy.rate_at(noisy.start_ns + (t + 0.5) * S))) for t in np.arange(5, 50).reshape(3, 15)]
    assert counts == pytest.approx(expected, rel=0.10)


def test_rate_follows_the_daily_curve() -> None:
    # a day in two minutes, from 14:00: afternoon, evening peak, night trough, morning
    sim = Simulator(seed=8, rate_per_s=1_200, day_length_s=120, noise=0, script=NO_INCIDENTS)
    window_s = 30
    counts = _spans_ended_per_window(sim, windows=4, window_s=window_s)
    expected = [
        float(np.mean(sim.rate_at(sim.start_ns + np.arange(w * window_s, (w + 1) * window_s) * S + S // 2))) * window_s
        for w in range(4)
    ]
    assert counts == pytest.approx(expected, rel=0.15)  # ≥ 3 standard deviations of the span count
    assert counts[1] > 2.5 * counts[2]  # evening against night
    hours = np.arange(0, 24, 0.01)
    assert float(np.mean(day_curve(hours))) == pytest.approx(1.0)
    assert day_curve(20.0) > 1.5 > 0.4 > day_curve(4.0)


def test_trace_shapes_nest_in_time_and_link_consumers(decode) -> None:
    sim = Simulator(seed=9, rate_per_s=1_000, script=NO_INCIDENTS)
    batch = decode(sim.generate(sim.start_ns + 10 * S))
    ids = zip(batch.trace_hi.tolist(), batch.trace_lo.tolist(), batch.span_id.tolist(), strict=True)
    index = {key: row for row, key in enumerate(ids)}
    kinds = Counter()
    orphans = 0
    for row in np.flatnonzero(batch.parent_id).tolist():
        parent = index.get((int(batch.trace_hi[row]), int(batch.trace_lo[row]), int(batch.parent_id[row])))
        if parent is None:  # its parent had not ended yet when generation stopped
            orphans += 1
            continue
        pair = (SpanKind(batch.kind[parent]).name, SpanKind(batch.kind[row]).name)
        kinds[pair] += 1
        if pair == ("PRODUCER", "CONSUMER"):
            assert batch.start_ns[row] >= batch.end_ns[parent]
            continue
        assert batch.start_ns[parent] <= batch.start_ns[row]
        gave_up = batch.kind[parent] == SpanKind.CLIENT and batch.status[parent] == StatusCode.ERROR
        assert batch.end_ns[row] <= batch.end_ns[parent] or gave_up
    assert orphans < 0.01 * len(batch)
    assert set(kinds) == {
        ("SERVER", "CLIENT"),
        ("CLIENT", "SERVER"),
        ("PRODUCER", "CONSUMER"),
        ("CONSUMER", "CLIENT"),
        ("CONSUMER", "PRODUCER"),
        ("SERVER", "PRODUCER"),
    }
    # span links: consumers that start their own trace, after the producer span ended
    assert len(batch.link_row) > 100
    for row, trace_hi, trace_lo, span_id in zip(
        batch.link_row.tolist(),
        batch.link_trace_hi.tolist(),
        batch.link_trace_lo.tolist(),
        batch.link_span_id.tolist(),
        strict=True,
    ):
        producer = index[(trace_hi, trace_lo, span_id)]
        assert batch.kind[row] == SpanKind.CONSUMER
        assert batch.parent_id[row] == 0
        assert batch.kind[producer] == SpanKind.PRODUCER
        assert batch.start_ns[row] >= batch.end_ns[producer]
        assert batch.destination[row] != 0
        assert batch.strings[batch.destination[row]] == batch.strings[batch.destination[producer]]
    # attributes the deriver uses are there: databases, third parties, topics
    peers = Counter(zip(batch.string_column("peer"), batch.peer_kind.tolist(), strict=True))
    assert peers[("payments-db", 2)] > 0  # db.name
    assert peers[("session-cache", 2)] > 0  # peer.service of a redis call
    assert peers[("api.stripe.com", 3)] > 0  # server.address


def test_failing_calls_fail_their_callers_with_5xx_and_stop_the_operation(decode) -> None:
    outage = IncidentScript((Incident("down", "inventory down", "inventory", Effect.ERRORS, 1.0, 0, 60),))
    sim = Simulator(seed=10, rate_per_s=1_500, script=outage)
    batch = decode(sim.generate(sim.start_ns + 10 * S))
    service, name = np.array(batch.string_column("service")), np.array(batch.string_column("name"))
    server = batch.kind == SpanKind.SERVER
    failed = batch.status == StatusCode.ERROR
    assert np.all(failed[server & (service == "inventory")])
    assert set(batch.http_status[server & failed].tolist()) <= {500, 504}
    assert np.all(batch.http_status[server & ~failed] == 200)
    assert np.all(failed[server & (name == "POST /cart/items")])  # its stock check is critical
    assert np.all(failed[server & (name == "POST /api/cart/items")])
    # add-to-cart gives up after the failed stock check: no price quote, no cart update
    assert not np.any((service == "cart") & (name == "SET"))
    # a product page survives without stock information (not critical)
    product_pages = server & (name == "GET /api/products/{id}")
    assert product_pages.sum() > 30
    assert failed[product_pages].mean() < 0.05


def test_json_lines_carry_the_same_spans_as_protobuf(decode) -> None:
    proto, json = Simulator(seed=12, rate_per_s=1_000), Simulator(seed=12, rate_per_s=1_000)
    for until_s in (1.5, 4.0):
        proto_batch = decode(proto.generate(proto.start_ns + int(until_s * S)))
        json_batch = decode(json.generate_json(json.start_ns + int(until_s * S)), json=True)
        assert len(proto_batch) > 1_000
        assert _rows(proto_batch) == _rows(json_batch)


def test_scripts_are_checked_against_the_topology() -> None:
    with pytest.raises(ValueError, match="no node"):
        Simulator(script=IncidentScript((Incident("x", "x", "nowhere", Effect.LATENCY, 2, 0, 10),)))
    with pytest.raises(ValueError, match="does not consume"):
        Simulator(
            script=IncidentScript((Incident("x", "x", "auth", Effect.CONSUMER_LAG, 5, 0, 10, topic="OrderPlaced"),))
        )
    with pytest.raises(ValueError, match="ends after the cycle"):
        IncidentScript((Incident("x", "x", "auth", Effect.LATENCY, 2, 50, 20),), cycle_s=60)


def test_sim_is_qt_free() -> None:
    for path in Path(__file__).resolve().parents[2].joinpath("flowviz", "sim").glob("*.py"):
        text = path.read_text()
        assert "PySide6" not in text
        assert "pyqtgraph" not in text
    code = textwrap.dedent(
        """
        import sys
        sys.modules["PySide6"] = None  # any `import PySide6...` now fails
        from flowviz.sim import Simulator
        sim = Simulator(seed=1, rate_per_s=200)
        assert sim.generate(sim.start_ns + 2 * 10**9)
        loaded = [name for name in sys.modules if sys.modules[name]]
        assert not any(name.startswith(("PySide6", "pyqtgraph", "shiboken")) for name in loaded)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_output_bytes_are_pinned() -> None:
    """The exact bytes of a short run with every kind of incident, so refactoring cannot change the output.

    If a deliberate change of the simulator's output makes this fail, print the new digests and update them.
    """
    script = IncidentScript(
        (
            Incident("db", "payments-db slow", "payments-db", Effect.LATENCY, 4.0, 0, 9, ramp_in_s=2, ramp_out_s=2),
            Incident("cart", "cart slow", "cart", Effect.LATENCY, 2.5, 1, 6),
            Incident("inv", "inventory errors", "inventory", Effect.ERRORS, 0.6, 0, 8, ramp_in_s=1),
            Incident("lag", "loyalty lags", "loyalty", Effect.CONSUMER_LAG, 4.0, 0, 9, topic="OrderPlaced"),
        )
    )
    sim = Simulator(seed=7, rate_per_s=900, script=script, spans_per_message=250)
    protobuf = [m for until_s in (0.4, 2.9, 6.0) for m in sim.generate(sim.start_ns + int(until_s * S))]
    json = sim.generate_json(sim.start_ns + 9 * S)
    rates = sim.rate_at(sim.start_ns + np.arange(0, 3_600 * S, 97 * S))
    digest = hashlib.sha256()
    for message in protobuf + json:
        digest.update(len(message).to_bytes(8, "little") + message)
    assert (len(protobuf), len(json), sim.spans_emitted) == (24, 13, 7_911)
    assert digest.hexdigest() == "c6907becab0df5a3e56dbc533f161b6d089e271aee8e2b42410097a321acada9"
    rates_digest = hashlib.sha256(rates.tobytes()).hexdigest()
    assert rates_digest == "bb0950a16c45b39877088b39e87a48607835571acae54dd0e0694dab9cbe2db2"
