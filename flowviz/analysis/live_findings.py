"""Findings kept current in a background thread for the window: the tracker stepped once a second, results published.

Thread contract: one daemon thread owns the `FindingsTracker` and reads only immutable store
snapshots; it publishes an immutable `Diagnosis` and increments `version` by assigning attributes,
so the UI thread reads `latest()` without locks and never waits on the analysis.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flowviz.analysis.diagnosis import Diagnosis, all_findings, batch_settings, diagnose_tracker
from flowviz.analysis.findings import Finding, FindingsSettings, FindingsTracker
from flowviz.store.rolling_store import RollingStore

SECOND_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class LiveDiagnosis:
    """What the window shows: the diagnosis, every finding (edge ones too, for colours), and when it was made."""

    version: int
    diagnosis: Diagnosis
    all_findings: tuple[Finding, ...]
    evaluated_until_ns: int | None
    update_s: float  # how long the last update took
    error: str = ""  # the analysis stopped (a bug): what happened


EMPTY = LiveDiagnosis(0, Diagnosis((), ()), (), None, 0.0)


class FindingsService:
    """Runs a `FindingsTracker` over `store` every `interval_s` off the UI thread. `restart()` starts over (a
    capture finished loading: its data may have arrived out of time order); `finish()` judges up to the last data."""

    def __init__(self, store: RollingStore, settings: FindingsSettings | None = None, *, interval_s: float = 1.0):
        self.store = store
        self.settings = settings or FindingsSettings()
        self.interval_s = interval_s
        self._latest = EMPTY
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._restart = False
        self._to_end = False
        self._lag_version = -1
        self._thread = threading.Thread(target=self._run, name="flowviz-findings", daemon=True)
        self._thread.start()

    def latest(self) -> LiveDiagnosis:
        return self._latest

    def restart(self, *, to_end: bool = True) -> None:
        """Start over from the first data (and, with `to_end`, judge everything up to the last data)."""
        self._restart, self._to_end = True, to_end
        self._wake.set()

    def set_settings(self, settings: FindingsSettings) -> None:
        self.settings = settings
        self.restart(to_end=self._to_end)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        tracker = FindingsTracker(self.store, self.settings)
        fresh = True
        while not self._stop.is_set():
            if self._restart:
                self._restart, fresh = False, True
                # a whole capture at once: the step of `batch_settings`, as `report` judges it
                settings = batch_settings(self.store, self.settings) if self._to_end else self.settings
                tracker = FindingsTracker(self.store, settings)
            began = time.perf_counter()
            until = None
            if self._to_end:
                retained = self.store.time_range_ns()
                until = retained[1] if retained is not None else None
            try:
                changed = tracker.update(until)
            except Exception as error:  # an analysis bug must not take the window down: the panel says it
                self._latest = LiveDiagnosis(self._latest.version + 1, Diagnosis((), ()), (), None, 0.0, repr(error))
                return
            lag_version = self.store.consumer_lag.version
            if changed or fresh or lag_version != self._lag_version:
                self._lag_version, fresh = lag_version, False
                diagnosis, found = diagnose_tracker(tracker), tuple(all_findings(tracker))
            else:  # nothing opened or closed: the same diagnosis, judged further
                diagnosis, found = self._latest.diagnosis, self._latest.all_findings
            if diagnosis is not self._latest.diagnosis or self._latest.evaluated_until_ns != tracker.evaluated_until_ns:
                self._latest = LiveDiagnosis(
                    self._latest.version + 1,
                    diagnosis,
                    found,
                    tracker.evaluated_until_ns,
                    time.perf_counter() - began,
                )
            self._wake.wait(self.interval_s)
            self._wake.clear()
