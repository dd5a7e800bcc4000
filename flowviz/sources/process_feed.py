"""Ingestion in a worker process: the spec's source decodes and derives there (`sources/worker.py`, the one
ingest loop); a thread here takes its typed messages and writes the store.

With two cores, decoding in a thread would fight the UI thread for the GIL; a worker process hands
over compact numpy edge observations instead, and the store stays in the UI's process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection

from flowviz.sources.capture_source import CaptureSpec
from flowviz.sources.detail_channel import DetailClient
from flowviz.sources.kafka_settings import KafkaSettings as KafkaSpec  # Kafka topics, read live (no group)
from flowviz.sources.otlp_receiver import ReceiverSettings as ReceiverSpec  # OTLP received live
from flowviz.sources.pipe_messages import (
    Crashed,
    Derived,
    Done,
    Failed,
    LagSeen,
    Marks,
    Record,
    SourceStatus,
    Stop,
    WorkerMessage,
)
from flowviz.sources.prometheus_feed import PrometheusSpec  # service-graph metrics, a range or live
from flowviz.sources.simulator_source import SimulatorSpec
from flowviz.sources.worker import run_worker
from flowviz.store.rolling_store import RollingStore

RESTART_FIRST_S, RESTART_MAX_S = 1.0, 30.0  # back-off between restarts of a live worker that died


@dataclass(slots=True)
class FeedStatus:
    """How the feed is doing, for the status line."""

    spans: int = 0
    calls: int = 0
    spans_per_s: float = 0.0
    running: bool = False
    finished: bool = False
    error: str = ""
    problems: dict[str, dict[str, object]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    source: dict[str, object] = field(default_factory=dict)  # a live source's own status (KafkaStatus.as_dict())
    restarts: int = 0  # times a live worker died and was started again
    restart_note: str = ""  # why it was last restarted (and, while waiting, when the next start is)

    def summary(self) -> str:
        """One line for the status bar (the problem count has its own, clickable, place there)."""
        if self.error:
            return f"feed stopped: {self.error}"
        if self.restart_note:
            return f"{self.restart_note} · {self.spans:,} spans · {self.calls:,} calls"
        if self.source.get("kind") == "prometheus":
            from flowviz.sources.prometheus import status_text as metrics_text

            return f"{metrics_text(self.source)} · {self.calls:,} calls"
        if self.source.get("kind") == "otlp":
            from flowviz.sources.otlp_receiver import status_text as receiver_text

            return f"{receiver_text(self.source)} · {self.spans:,} spans · {self.calls:,} calls"
        if self.source:
            from flowviz.sources.kafka_status import status_text

            return f"{status_text(self.source)} · {self.spans:,} spans · {self.calls:,} calls"
        state = "loaded" if self.finished else f"{self.spans_per_s:,.0f} spans/s" if self.running else "starting…"
        return f"{state} · {self.spans:,} spans · {self.calls:,} calls"


@contextlib.contextmanager
def _sigint_ignored():
    """Ctrl+C in the terminal reaches the whole process group; the window decides what happens and stops its
    workers itself. While a worker starts, SIGINT is ignored and blocked: the worker inherits the ignored
    disposition through exec (Python then installs no KeyboardInterrupt handler, so an import in progress
    is never interrupted), and a Ctrl+C meant for the window stays pending (blocked signals are kept on
    Linux even when ignored) until the window's handler is back."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: console Ctrl+C goes to the window's process only
        yield
        return
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    main = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


class ProcessFeed:
    """Runs `spec` in a worker process and ingests what it derives into `store` from a thread here.

    With `details` (the default) the worker also keeps the drill-down store (exemplar traces, edge
    details), which `self.details` queries; a capture's worker stays after loading to answer.
    """

    def __init__(
        self,
        store: RollingStore,
        spec: SimulatorSpec | CaptureSpec | KafkaSpec | ReceiverSpec | PrometheusSpec,
        *,
        details: bool = True,
    ) -> None:
        self.store = store
        self.spec = spec
        self.details: DetailClient | None = None
        self._detail_child: Connection | None = None
        if details:  # the client exists from the start (windows hand it to their panels before starting)
            detail_parent, self._detail_child = multiprocessing.get_context("spawn").Pipe()
            self.details = DetailClient(detail_parent)
        self.status = FeedStatus()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None
        self._thread: threading.Thread | None = None
        self._rate_window: list[tuple[float, int]] = []
        self._stopping = threading.Event()
        self._carried_spans = 0  # spans and problems of workers that died (a restarted one counts from 0)
        self._carried_problems: dict[str, dict[str, object]] = {}
        self._last_data_ns = 0  # wall clock of the last data: a restarted Kafka worker reads again from there

    def start(self) -> None:
        self._spawn(self.spec)
        self.status.running = True
        self._thread = threading.Thread(target=self._receive, name="flowviz-ingest", daemon=True)
        self._thread.start()

    def _spawn(self, spec: SimulatorSpec | CaptureSpec | KafkaSpec) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt
        parent_end, child_end = context.Pipe()
        self._process = context.Process(target=run_worker, args=(spec, child_end, self._detail_child), daemon=True)
        with _sigint_ignored():  # inherited: the worker starts with Ctrl+C ignored, even while it imports
            self._process.start()
        child_end.close()
        if self._detail_child is not None:
            self._detail_child.close()
            self._detail_child = None
        self._connection = parent_end

    def _restart(self, reason: str) -> bool:
        """A live worker died: start it again after a back-off (shown in the status); False when stopping."""
        status = self.status
        status.restarts += 1
        self._carried_spans = status.spans
        self._carried_problems = dict(status.problems)
        delay_s = min(RESTART_FIRST_S * 2 ** (status.restarts - 1), RESTART_MAX_S)
        until = time.monotonic() + delay_s
        while (left := until - time.monotonic()) > 0:
            status.restart_note = f"worker stopped ({reason}); restart {status.restarts} in {left:.0f} s"
            if self._stopping.wait(min(left, 0.5)):
                return False
        if self.details is not None:
            detail_parent, self._detail_child = multiprocessing.get_context("spawn").Pipe()
            self.details.reconnect(detail_parent)
        self._spawn(_resumed(self.spec, self._last_data_ns))
        status.restart_note = f"worker restarted {status.restarts}× (last: {reason})"
        return True

    def _receive(self) -> None:
        while True:
            assert self._connection is not None
            try:
                message = self._connection.recv()
            except (EOFError, OSError):
                if self.status.finished or self.status.error or self._stopping.is_set():
                    break
                if isinstance(self.spec, CaptureSpec):
                    self.status.error = "the worker process ended unexpectedly"
                    break
                if self._restart("the worker process ended unexpectedly"):
                    continue
                break
            if not self._take(message):
                break

    def _take(self, message: WorkerMessage) -> bool:
        """Apply one message from the worker; False when the feed has ended with it."""
        match message:
            case Derived(observations, spans, problems):
                self._last_data_ns = time.time_ns()
                if len(observations):
                    self.store.ingest(observations)
                    self.status.calls += int(observations.count.sum())
                self._note_spans(self._carried_spans + spans)
                self.status.problems = _merged(self._carried_problems, problems)
            case Done(spans, problems, formats, errors):
                self._note_spans(spans)
                self.status.problems, self.status.formats = problems, formats
                self.status.finished, self.status.running = True, False
                self.status.error = errors
                return False
            case SourceStatus(status):
                self.status.source = status
            case LagSeen(frame):  # consumer groups' lag at a look (live Kafka events, or a recording of them)
                self.store.consumer_lag.add(frame)
            case Marks(marks):  # Kafka happenings for the timeline (a topic's new schema)
                self.store.consumer_lag.add_marks(marks)
            case Failed(reason):  # the source's own verdict (a Prometheus that is not there): final
                self.status.error, self.status.running = reason, False
                return False
            case Crashed(reason):  # an exception nobody expected: a live source starts again
                if isinstance(self.spec, CaptureSpec) or self._stopping.is_set():
                    self.status.error, self.status.running = reason, False
                    return False
                return self._restart(reason)
        return True

    def _note_spans(self, spans: int) -> None:
        now = time.monotonic()
        self.status.spans = spans
        self._rate_window = [(t, s) for t, s in self._rate_window if now - t <= 2.0] + [(now, spans)]
        first_t, first_spans = self._rate_window[0]
        if now > first_t:
            self.status.spans_per_s = (spans - first_spans) / (now - first_t)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for a finite feed (captures) to finish; True when it did."""
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.status.finished or bool(self.status.error)

    def send(self, command: Record) -> bool:
        """Send a command to a running worker (a Kafka or OTLP worker takes `Record(path)`); False when it is gone."""
        if self._connection is None or not self.status.running:
            return False
        try:
            self._connection.send(command)
        except (BrokenPipeError, OSError):
            return False
        return True

    def stop(self) -> None:
        self._stopping.set()
        if self._connection is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._connection.send(Stop())
        if self._process is not None:
            self._process.join(2.0)
            if self._process.is_alive():
                self._process.terminate()
        if self.details is not None:
            self.details.close()
        self.status.running = False


def _merged(first: dict[str, dict[str, object]], second: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """Problems of two workers (`Problems.as_dict()` shapes) as one: counts added, first locations joined."""
    if not first:
        return second
    merged = {reason: dict(entry) for reason, entry in first.items()}
    for reason, entry in second.items():
        if reason in merged:
            merged[reason] = {
                "count": int(merged[reason]["count"]) + int(entry["count"]),  # type: ignore[call-overload]
                "first": [*merged[reason]["first"], *entry["first"]][:5],  # type: ignore[misc]
            }
        else:
            merged[reason] = entry
    return dict(sorted(merged.items()))


def _resumed(spec, last_data_ns: int):
    """The spec a restarted worker runs: Kafka reads again from a second before the last data that arrived
    (a few messages twice rather than any lost); other sources start as they did."""
    if not isinstance(spec, KafkaSpec) or not last_data_ns:
        return spec
    since = datetime.fromtimestamp(last_data_ns / 1e9 - 1.0, UTC).isoformat()
    return dataclasses.replace(spec, start=since)
