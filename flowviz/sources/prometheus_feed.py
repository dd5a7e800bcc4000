"""The worker-process side of `flowviz open --prometheus` (a past range) and `flowviz live --prometheus` (following).

Like the other workers it sends `Derived` per chunk (no spans) and `SourceStatus` with a
`PrometheusStatus`; a range ends with `Done`. Following, it reads the steps that
completed since the last read, once per step; a Prometheus that stops answering is retried (the
status says so), never fatal.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from flowviz.model.problems import Problems
from flowviz.sources.pipe_messages import Derived, Done, Failed, SourceStatus
from flowviz.sources.prometheus import PrometheusError, PrometheusReader, PrometheusSettings

SECOND_NS = 1_000_000_000
RETRY_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class PrometheusSpec:
    """Metrics of [start, end) from `settings`; `end_ns` None follows the present (live)."""

    settings: PrometheusSettings
    start_ns: int
    end_ns: int | None = None

    def describe(self) -> str:
        return self.settings.describe()


def run_prometheus_worker(spec: PrometheusSpec, connection: Connection) -> None:
    problems = Problems()
    reader = PrometheusReader(spec.settings, problems=problems)
    status = reader.status

    def send_status() -> None:
        status.problems = problems.as_dict()
        connection.send(SourceStatus(status.as_dict()))

    def send(start_s: float, end_s: float) -> None:
        for graph in reader.read(start_s, end_s):
            connection.send(Derived(graph.observations, 0, problems.as_dict()))
            send_status()
            if connection.poll():
                raise _Stopped

    try:
        if spec.end_ns is not None:
            status.state = "reading"
            send_status()
            try:
                send(spec.start_ns / SECOND_NS, spec.end_ns / SECOND_NS)
            except PrometheusError as error:
                connection.send(Failed(str(error)))
                return
            status.state = "done"
            send_status()
            connection.send(Done(0, problems.as_dict(), {spec.settings.url: "prometheus"}))
            connection.recv()  # stay until the window stops the feed (as a capture's worker does)
            return
        _follow(spec, reader, connection, send, send_status)
    except (_Stopped, EOFError, BrokenPipeError):
        return


class _Stopped(Exception):
    """The window asked the worker to stop."""


def _follow(spec: PrometheusSpec, reader: PrometheusReader, connection: Connection, send, send_status) -> None:
    """Read the history, then every step the steps completed since; retry with back-off when Prometheus fails."""
    status = reader.status
    read_to_s = spec.start_ns / SECOND_NS
    retry_s = 1.0
    while True:
        now_s = time.time()
        try:
            if reader.metrics is None:
                status.state = "connecting"
                reader.prepare(read_to_s, now_s)
            step = reader.step_s
            complete_s = math.floor(now_s / step) * step - step  # the newest step may still be missing samples
            if complete_s > read_to_s:
                status.state = "reading" if read_to_s < now_s - 3 * step else "following"
                send(read_to_s, complete_s)
                read_to_s = complete_s
            status.state, status.last_error = "following", ""
            retry_s = 1.0
            wait_s = max(0.2, complete_s + 2 * step - time.time())
        except PrometheusError as error:
            status.state, status.last_error = "retrying", str(error)
            wait_s, retry_s = retry_s, min(RETRY_MAX_S, retry_s * 2)
        send_status()
        if connection.poll(wait_s):
            raise _Stopped
