"""Window queries off the calling thread: newest request only, every result delivered, errors reported."""

from __future__ import annotations

import threading

from flowviz.chart.window_worker import WindowQueryWorker, WindowResult


class GatedQuery:
    """A query that blocks until released, recording the windows it ran."""

    def __init__(self) -> None:
        self.ran: list[tuple[int, int]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, start_ns: int, end_ns: int) -> tuple[int, int]:
        self.ran.append((start_ns, end_ns))
        self.started.set()
        assert self.release.wait(10)
        return (start_ns, end_ns)


def collect() -> tuple[list[WindowResult], threading.Event, object]:
    results: list[WindowResult] = []
    done = threading.Event()

    def deliver(result: WindowResult) -> None:
        results.append(result)
        done.set()

    return results, done, deliver


def test_a_burst_while_a_query_runs_runs_only_its_newest_request() -> None:
    query = GatedQuery()
    results, _, deliver = collect()
    worker = WindowQueryWorker(query, deliver)
    worker.request(0, 10)
    assert query.started.wait(5)
    for end in range(11, 20):  # nine requests while the first one runs
        worker.request(end - 10, end)
    query.release.set()
    for _ in range(200):
        if len(results) == 2:
            break
        threading.Event().wait(0.01)
    assert query.ran == [(0, 10), (9, 19)]  # the first, then the newest only
    assert [r.request.sequence for r in results] == [1, 10]
    assert [r.frame for r in results] == [(0, 10), (9, 19)]
    assert worker.coalesced == 8
    assert worker.latest_sequence == 10


def test_request_returns_while_the_query_is_still_running() -> None:
    query = GatedQuery()
    results, done, deliver = collect()
    worker = WindowQueryWorker(query, deliver)
    request = worker.request(5, 15)
    assert query.started.wait(5)
    assert results == []  # the caller got its request back before any result
    query.release.set()
    assert done.wait(5)
    assert results[0].request == request
    assert request.requested_at_s > 0


def test_a_failing_query_is_delivered_with_its_reason_and_the_worker_goes_on() -> None:
    calls = []

    def query(start_ns: int, end_ns: int):
        calls.append(start_ns)
        if start_ns == 1:
            raise ValueError("bad window")
        return "frame"

    results, done, deliver = collect()
    worker = WindowQueryWorker(query, deliver)
    worker.request(1, 2)
    assert done.wait(5)
    done.clear()
    worker.request(3, 4)
    assert done.wait(5)
    assert results[0].frame is None
    assert results[0].error == "ValueError: bad window"
    assert results[1].frame == "frame"
    assert results[1].error == ""


def test_a_closed_worker_runs_nothing_more() -> None:
    query = GatedQuery()
    results, _, deliver = collect()
    worker = WindowQueryWorker(query, deliver)
    worker.request(0, 1)
    assert query.started.wait(5)
    worker.request(1, 2)
    worker.close()
    query.release.set()
    for _ in range(100):
        if results:
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.05)
    assert query.ran == [(0, 1)]
