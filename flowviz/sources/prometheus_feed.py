"""What a worker reads for `flowviz open --prometheus` (a past range) and `flowviz live --prometheus` (following).

Through the one ingest loop, as every source: calls per chunk (no spans), a `PrometheusStatus` for the
status line; a range ends (`Done` to the window). Following, it reads the steps that completed since
the last read, once per step; a Prometheus that stops answering is retried (the status says so), never fatal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flowviz.model.problems import Problems
from flowviz.sources.metric_details import MetricDetails
from flowviz.sources.prometheus import PrometheusError, PrometheusReader, PrometheusSettings
from flowviz.sources.source import FormatFound, Idle, SourceFailed, SourceItem

SECOND_NS = 1_000_000_000
RETRY_MAX_S = 30.0
IDLE_S = 0.1  # while waiting for the next step, the loop gets a turn this often (commands, status)


@dataclass(frozen=True, slots=True)
class PrometheusSpec:
    """Metrics of [start, end) from `settings`; `end_ns` None follows the present (live)."""

    settings: PrometheusSettings
    start_ns: int
    end_ns: int | None = None

    def describe(self) -> str:
        return self.settings.describe()


class PrometheusSource:
    """Service-graph metrics as a `Source`: a range read chunk by chunk (a Prometheus that fails it is the source's
    final verdict), or the present followed step by step (a Prometheus that stops answering is retried, and
    the status says so). Its items are calls derived from the metrics; the panels ask the server itself."""

    def __init__(self, spec: PrometheusSpec, *, problems: Problems) -> None:
        self.spec = spec
        self.problems = problems
        self.reader = PrometheusReader(spec.settings, problems=problems)

    def batches(self) -> Iterator[SourceItem]:
        spec, status = self.spec, self.reader.status
        if spec.end_ns is None:
            yield from self._follow()
            return
        status.state = "reading"
        try:
            for graph in self.reader.read(spec.start_ns / SECOND_NS, spec.end_ns / SECOND_NS):
                yield graph.observations
        except PrometheusError as error:
            raise SourceFailed(str(error)) from error
        status.state = "done"
        yield FormatFound(spec.settings.url, "prometheus")

    def _follow(self) -> Iterator[SourceItem]:
        """The history, then every step the steps completed since; retried with back-off when Prometheus fails."""
        reader, status = self.reader, self.reader.status
        read_to_s = self.spec.start_ns / SECOND_NS
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
                    for graph in reader.read(read_to_s, complete_s):
                        yield graph.observations
                    read_to_s = complete_s
                status.state, status.last_error = "following", ""
                retry_s = 1.0
                wait_s = max(0.2, complete_s + 2 * step - time.time())
            except PrometheusError as error:
                status.state, status.last_error = "retrying", str(error)
                wait_s, retry_s = retry_s, min(RETRY_MAX_S, retry_s * 2)
            until_s = time.monotonic() + wait_s
            while (left_s := until_s - time.monotonic()) > 0:
                time.sleep(min(left_s, IDLE_S))
                yield Idle()

    def status(self) -> dict[str, Any]:
        self.reader.status.problems = self.problems.as_dict()
        return self.reader.status.as_dict()

    def problem_counts(self) -> dict[str, dict[str, object]]:
        return self.problems.as_dict()

    def drill_down(self) -> MetricDetails:
        return MetricDetails(self.spec.settings)  # metrics keep no spans: the panels' questions go to the server
