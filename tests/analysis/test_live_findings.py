"""The findings service: judges off the calling thread, publishes diagnoses, starts over on request, stops."""

from __future__ import annotations

import time

import numpy as np

from flowviz.analysis.live_findings import FindingsService
from flowviz.store.rolling_store import RollingStore

from .test_findings import BASE_NS, SECOND_NS, _traffic


def _wait(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the service did not get there in time"
        time.sleep(0.05)


def test_service_finds_the_culprit_off_the_ui_thread_and_restarts_on_request() -> None:
    store = RollingStore()
    store.ingest(_traffic(np.random.default_rng(2), 600, slow_from_s=300))
    service = FindingsService(store, interval_s=0.05)
    try:
        _wait(lambda: service.latest().diagnosis.root_causes)
        first = service.latest()
        assert [c.node for c in first.diagnosis.root_causes] == ["orders-db"]
        assert first.evaluated_until_ns <= BASE_NS + 600 * SECOND_NS
        assert any(f.edge is not None for f in first.all_findings)  # edges too, for the chart's colours
        assert first.error == ""
        service.restart(to_end=True)  # e.g. a capture finished loading
        _wait(lambda: service.latest().version > first.version and service.latest().evaluated_until_ns)
        _wait(lambda: service.latest().evaluated_until_ns >= BASE_NS + 599 * SECOND_NS)
        assert [c.node for c in service.latest().diagnosis.root_causes] == ["orders-db"]
    finally:
        service.stop()
    service._thread.join(5)
    assert not service._thread.is_alive()
