"""The drill-down store lives in the ingest worker; the window asks it questions over a pipe.

Spans exist only in the worker process (sending every span to the window would cost more than
deriving them), so the worker keeps the `DrillDownStore` and a thread there answers queries; the
window's `DetailClient` offers the same `exemplars.*` and `edges.*` query methods.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from flowviz.store.drill_down import DrillDownStore

if TYPE_CHECKING:
    from flowviz.sources.metric_details import MetricDetails

QUERY_TIMEOUT_S = 10.0
QUERIES = {
    "exemplars": frozenset(
        {
            "exemplars",
            "traces_in_latency_range",
            "traces_in_latency_bins",
            "trace",
            "critical_path_share",
            "time_split",
            "operation_time_splits",
            "operations",
            "latency_histogram",
            "services",
            "memory_bytes",
        }
    ),
    "edges": frozenset({"sides", "statuses", "payload", "memory_bytes"}),
    "store": frozenset({"status", "span_details", "continued_traces"}),  # the drill-down store itself
}


class DetailsUnavailable(RuntimeError):
    """The worker holding the details is gone, or did not answer in time."""


def serve_details(details: DrillDownStore | MetricDetails, connection: Connection) -> threading.Thread:
    """Answer `(request id, part, method, args, kwargs)` requests on `connection` from a daemon thread.

    The answer is `(request id, True, result)` or `(request id, False, error text)`; the thread ends
    when the other end closes. Queries take the stores' locks, so ingestion goes on meanwhile.
    """

    def answer() -> None:
        while True:
            try:
                request_id, part, method, args, kwargs = connection.recv()
            except (EOFError, OSError):
                return
            try:
                if method not in QUERIES.get(part, ()):
                    raise ValueError(f"no query {part}.{method}")
                target = details if part == "store" else getattr(details, part)
                result = getattr(target, method)(*args, **kwargs)
                reply = (request_id, True, result)
            except Exception as error:  # a bad query must not end the worker: say why
                reply = (request_id, False, f"{type(error).__name__}: {error}")
            try:
                connection.send(reply)
            except (BrokenPipeError, OSError):
                return

    thread = threading.Thread(target=answer, name="flowviz-details", daemon=True)
    thread.start()
    return thread


class _RemotePart:
    """Stands for `details.exemplars` or `details.edges` in the window: each query is a round trip."""

    def __init__(self, client: DetailClient, part: str) -> None:
        self._client, self._part = client, part

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method not in QUERIES[self._part]:
            raise AttributeError(method)
        return lambda *args, **kwargs: self._client.call(self._part, method, *args, **kwargs)


class DetailClient:
    """The window's handle on the worker's drill-down store; call from any thread (one query at a time).

    Raises `DetailsUnavailable` when the worker has gone or takes longer than `timeout_s`.
    """

    def __init__(self, connection: Connection, *, timeout_s: float = QUERY_TIMEOUT_S) -> None:
        self._connection = connection
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self.exemplars = _RemotePart(self, "exemplars")
        self.edges = _RemotePart(self, "edges")

    def call(self, part: str, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._closed:
                raise DetailsUnavailable("the ingest worker has stopped")
            request_id = next(self._ids)
            try:
                self._connection.send((request_id, part, method, args, kwargs))
                while True:  # answers to queries that timed out earlier are skipped
                    if not self._connection.poll(self.timeout_s):
                        raise DetailsUnavailable(f"no answer from the ingest worker in {self.timeout_s:.0f} s")
                    answer_id, ok, result = self._connection.recv()
                    if answer_id == request_id:
                        break
            except (EOFError, OSError) as error:
                self._closed = True
                raise DetailsUnavailable("the ingest worker has stopped") from error
        if not ok:
            raise DetailsUnavailable(f"the query failed in the worker: {result}")
        return result

    def reconnect(self, connection: Connection) -> None:
        """Talk to a restarted worker on `connection` from now on."""
        with self._lock:
            old, self._connection, self._closed = self._connection, connection, False
        old.close()

    def status(self) -> dict[str, int]:
        """`DrillDownStore.status()` of the worker's store."""
        return self.call("store", "status")

    def span_details(self, trace_id: str) -> dict | None:
        """`DrillDownStore.span_details()` of the worker's store."""
        return self.call("store", "span_details", trace_id)

    def continued_traces(self, trace_id: str, span_id: str) -> list:
        """`DrillDownStore.continued_traces()` of the worker's store."""
        return self.call("store", "continued_traces", trace_id, span_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            with contextlib.suppress(OSError):
                self._connection.close()
