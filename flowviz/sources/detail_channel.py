"""The drill-down store lives in the ingest worker; the window sends it typed requests over a pipe.

Spans exist only in the worker process (sending every span to the window would cost more than
deriving them), so the worker keeps the `DrillDownStore` (a metrics source: `MetricDetails`, which asks
the server) and a thread there answers requests; the
window's `DetailClient.ask` takes the same requests as `DrillDownStore.ask` (`ServiceQuery`,
`EdgeQuery`, `TraceQuery`, `StatusQuery` of `flowviz.store.detail_queries`) and gives the same typed
answers, one pipe round trip each.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from multiprocessing.connection import Connection

from flowviz.sources.metric_details import MetricDetails
from flowviz.store.detail_queries import (
    ContinuationsQuery,
    DetailAnswer,
    DetailQuery,
    EdgeQuery,
    ServiceQuery,
    StatusQuery,
    TraceQuery,
)
from flowviz.store.drill_down import DrillDownStore

QUERY_TIMEOUT_S = 10.0
QUERY_TYPES = (ServiceQuery, EdgeQuery, TraceQuery, ContinuationsQuery, StatusQuery)


class DetailsUnavailable(RuntimeError):
    """The worker holding the details is gone, or did not answer in time."""


def serve_details(details: DrillDownStore | MetricDetails, connection: Connection) -> threading.Thread:
    """Answer `(request id, query)` requests on `connection` from a daemon thread with `details.ask(query)`.

    The answer is `(request id, True, answer)` or `(request id, False, error text)`; the thread ends
    when the other end closes. Queries take the stores' locks, so ingestion goes on meanwhile.
    """

    def answer() -> None:
        while True:
            try:
                request_id, query = connection.recv()
            except (EOFError, OSError):
                return
            try:
                if not isinstance(query, QUERY_TYPES):
                    raise TypeError(f"not a drill-down query: {type(query).__name__}")
                reply = (request_id, True, details.ask(query))
            except Exception as error:  # a bad query must not end the worker: say why
                reply = (request_id, False, f"{type(error).__name__}: {error}")
            try:
                connection.send(reply)
            except (BrokenPipeError, OSError):
                return

    thread = threading.Thread(target=answer, name="flowviz-details", daemon=True)
    thread.start()
    return thread


class DetailClient:
    """The window's handle on the worker's drill-down store; call from any thread (one request at a time).

    Raises `DetailsUnavailable` when the worker has gone or takes longer than `timeout_s`.
    `round_trips` counts the requests sent.
    """

    def __init__(self, connection: Connection, *, timeout_s: float = QUERY_TIMEOUT_S) -> None:
        self._connection = connection
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self.round_trips = 0

    def ask(self, query: DetailQuery) -> DetailAnswer:
        """`DrillDownStore.ask(query)` of the worker's store, in one round trip."""
        with self._lock:
            if self._closed:
                raise DetailsUnavailable("the ingest worker has stopped")
            request_id = next(self._ids)
            self.round_trips += 1
            try:
                self._connection.send((request_id, query))
                while True:  # answers to requests that timed out earlier are skipped
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

    def close(self) -> None:
        with self._lock:
            self._closed = True
            with contextlib.suppress(OSError):
                self._connection.close()
