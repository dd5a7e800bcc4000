"""Jobs off the UI thread, one at a time in a daemon thread: taken on the next refresh, or polled by a timer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

POLL_MS = 100


class BackgroundJob:
    """Runs `fn(*args)` off the UI thread, one at a time; `take()` hands over (key, result, error) once.

    Store queries read immutable snapshots and detail queries go to the ingest worker, so both are
    safe here; widgets are only touched by the caller, on the UI thread, with what `take()` gives.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        self._done: tuple[Any, Any, str | None] | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, key: Any, fn: Callable[..., Any], *args: Any) -> bool:
        """Start unless a job is running (False then: try again on a later refresh)."""
        if self.busy:
            return False

        def run() -> None:
            try:
                self._done = (key, fn(*args), None)
            except Exception as error:  # shown by the widget, never raised into Qt
                self._done = (key, None, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        return True

    def take(self) -> tuple[Any, Any, str | None] | None:
        done, self._done = self._done, None
        return done

    def wait(self, timeout_s: float = 10.0) -> None:
        """Let a running job finish (for tests and renders)."""
        if self._thread is not None:
            self._thread.join(timeout_s)


class PolledJob(QObject):
    """A `BackgroundJob` for widgets that have no refresh of their own (dialogs): a timer polls it while it runs
    and emits `done(key, result, error)` on the UI thread; `button`, when given, is disabled meanwhile.

    `fn` runs off the UI thread and must not touch widgets; the slots of `done` may (an `error` is the
    exception's text, for the widget to show; nothing is raised into Qt).
    """

    done = Signal(object, object, object)  # key, result (None on error), error text (None on success)

    def __init__(self, name: str, parent: QObject, *, button: QWidget | None = None, poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._job = BackgroundJob(name)
        self._button = button
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    @property
    def running(self) -> bool:
        """True from `start` until `done` has been emitted."""
        return self._timer.isActive()

    def start(self, key: Any, fn: Callable[..., Any], *args: Any) -> bool:
        """Run `fn(*args)` off the UI thread unless a job is running (False then: nothing started)."""
        if self.running or not self._job.start(key, fn, *args):
            return False
        if self._button is not None:
            self._button.setEnabled(False)
        self._timer.start()
        return True

    def _poll(self) -> None:
        done = self._job.take()
        if done is None:
            return
        self._timer.stop()
        if self._button is not None:
            self._button.setEnabled(True)
        self.done.emit(*done)
