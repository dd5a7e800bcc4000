"""An ingest worker process's main: the spec's source through the one loop, into a sink that is the window's pipe.

`run_worker` opens the source a spec names (the `SOURCES` table: adding a source is one module and one
row), serves the drill-down panels' queries, and runs `pipeline.run_source` with `PipeSink` as the sink.
Between items it takes the window's commands (`Record`, `Stop`) and sends the source's status about
twice a second; a finite source ends with `Done`, after which the worker stays to answer the panels
until the window stops it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from flowviz.derive.consumer_lag import LagFrame
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.timeline_marks import LagMark
from flowviz.sources.capture_source import CaptureSource, CaptureSpec
from flowviz.sources.detail_channel import serve_details
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.kafka_worker import KafkaSource
from flowviz.sources.otlp_receiver import OtlpSource, ReceiverSettings
from flowviz.sources.pipe_messages import Crashed, Derived, Done, Failed, LagSeen, Marks, Record, SourceStatus
from flowviz.sources.pipeline import IngestPipeline, run_source
from flowviz.sources.prometheus_feed import PrometheusSource, PrometheusSpec
from flowviz.sources.simulator_source import SimulatorSource, SimulatorSpec
from flowviz.sources.source import Recordable, Source, SourceFailed
from flowviz.store.drill_down import DrillDownStore

STATUS_EVERY_S = 0.5

SOURCES: dict[type, Callable[..., Source]] = {  # spec type -> its source, opened with `problems=`
    SimulatorSpec: SimulatorSource,
    CaptureSpec: CaptureSource.from_spec,
    KafkaSettings: KafkaSource,
    ReceiverSettings: OtlpSource,
    PrometheusSpec: PrometheusSource,
}


def open_source(spec: object, problems: Problems) -> Source:
    """The source `spec` describes, counting what it skips in `problems`."""
    return SOURCES[type(spec)](spec, problems=problems)


class PipeSink:
    """The pipeline's sink in a worker: what it derives goes to the window as typed messages.

    Each `Derived` carries the running span count and problems (`counts()`); `catch_up` sends them on
    their own when they changed without calls to go with them.
    """

    def __init__(self, connection: Connection, counts: Callable[[], tuple[int, dict[str, dict[str, object]]]]) -> None:
        self.connection = connection
        self.counts = counts
        self._sent: tuple[int, dict[str, dict[str, object]]] = (0, {})

    def ingest(self, observations: EdgeObservations) -> None:
        self._sent = self.counts()
        self.connection.send(Derived(observations, *self._sent))

    def add_lag(self, frame: LagFrame) -> None:
        self.connection.send(LagSeen(frame))

    def add_marks(self, marks: list[LagMark]) -> None:
        self.connection.send(Marks(marks))

    def catch_up(self) -> None:
        counts = self.counts()
        if counts != self._sent:
            self.ingest(EdgeObservations.empty())


class WindowControl:
    """What the worker does between two items: the window's commands, and the source's status now and then."""

    def __init__(self, connection: Connection, source: Source, sink: PipeSink) -> None:
        self.connection = connection
        self.source = source
        self.sink = sink
        self.stopped = False
        self._next_status_s = 0.0

    def between_items(self) -> bool:
        """False when the window asked the worker to stop."""
        while self.connection.poll():
            command = self.connection.recv()
            if not isinstance(command, Record):
                self.stopped = True  # Stop (or anything else)
                return False
            if isinstance(self.source, Recordable):
                self.source.record(command.path)
                self._next_status_s = 0.0  # tell the window at once
        if time.monotonic() >= self._next_status_s:
            self.send_status()
        return True

    def send_status(self) -> None:
        self._next_status_s = time.monotonic() + STATUS_EVERY_S
        self.sink.catch_up()
        status: dict[str, Any] = self.source.status()
        if status:
            self.connection.send(SourceStatus(status))


def feed_window(source: Source, connection: Connection, details: DrillDownStore | None = None) -> None:
    """The one loop with the window's pipe as the sink; a finite source ends with `Done`, and the worker stays
    to answer the panels' queries until the window stops the feed."""
    pipeline: IngestPipeline
    sink = PipeSink(connection, lambda: (pipeline.totals.spans, source.problem_counts()))
    pipeline = IngestPipeline(sink, problems=source.problems, details=details)
    control = WindowControl(connection, source, sink)
    totals = run_source(source, pipeline, between=control.between_items)
    if control.stopped:
        return
    control.send_status()
    errors = "; ".join(totals.failed_files.values())
    connection.send(Done(totals.spans, source.problem_counts(), dict(totals.formats), errors))
    connection.recv()  # stay to answer the panels' queries until the window stops the feed


def run_worker(spec: object, connection: Connection, detail_connection: Connection | None = None) -> None:
    """A worker process's main (`ProcessFeed`): `spec`'s source fed to the window until it ends or is stopped."""
    try:
        source = open_source(spec, Problems())
        details = None
        if detail_connection is not None:
            answers = source.drill_down()
            serve_details(answers, detail_connection)
            details = answers if isinstance(answers, DrillDownStore) else None  # metrics answer from the server
        feed_window(source, connection, details)
    except (BrokenPipeError, EOFError, KeyboardInterrupt):
        pass
    except SourceFailed as error:  # the source's own verdict: final
        connection.send(Failed(str(error)))
    except Exception as error:  # report, don't die silently: the window shows it
        connection.send(Crashed(f"{type(error).__name__}: {error}"))  # a live feed is restarted
