"""One job at a time in a daemon thread; the UI thread takes the newest result when it next refreshes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


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
