"""Decode jobs run by worker processes, results in the order the jobs came; a worker that dies is noticed at once.

`ordered_results` hands each job to an idle worker over its own pipe, so it always knows which job a worker
was running: when a worker dies (the OOM killer, a SIGKILL, a crash in native code) its job is run once more
in a fresh worker, and when that one dies too the job is given up and reported — never waited for forever, as
`multiprocessing.Pool` does. Exceptions raised by a job are raised to the caller in the job's turn.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

STOP_WAIT_S = 2.0  # a worker told to stop gets this long to end before it is terminated


@dataclass(frozen=True, slots=True)
class LostJob:
    """A job whose worker died twice (the first time it was run again in a fresh worker)."""

    job: Any
    death: str  # how the last worker ended: "killed by signal 9 (SIGKILL)", "exited with code 3"


@dataclass(frozen=True, slots=True)
class WorkerDeath:
    """A worker died while running `job`; `retried`: the job is run again in a fresh worker."""

    job: Any
    death: str
    retried: bool


def death_text(exitcode: int | None) -> str:
    """How a process ended, for a problem report: `killed by signal 9 (SIGKILL)`, `exited with code 3`."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            return f"killed by signal {-exitcode}"
        return f"killed by signal {-exitcode} ({name})"
    return f"exited with code {exitcode}"


def _serve(connection: Connection, run: Callable[[Any], Any], initializer: Callable[[], None] | None) -> None:
    """A worker's loop: run each job it is sent, send back ("ok", result) or ("error", exception)."""
    if initializer is not None:
        initializer()
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            answer = ("ok", run(job))
        except Exception as error:  # raised to the caller in the job's turn
            answer = ("error", error)
        connection.send(answer)


class _Worker:
    """One worker process, its end of the pipe and the job it runs (index, job, attempt) if any."""

    def __init__(self, context, run: Callable[[Any], Any], initializer: Callable[[], None] | None) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, run, initializer), daemon=True)
        self.process.start()
        child.close()
        self.job: tuple[int, Any, int] | None = None

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.connection.send(None)

    def end(self) -> None:
        self.process.join(STOP_WAIT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(STOP_WAIT_S)
        self.connection.close()


class DecodePool:
    """`workers` processes running `run(job)`; jobs `submit`ted, answers taken in the order of submission.

    A job whose worker died is run once more in a fresh worker (`on_death` is told, `retried=True`); if that
    worker dies too, `on_death` is told again (`retried=False`) and a `LostJob` is taken in the job's place.
    `on_death` is told in the job's turn, as its answer is taken: deaths come in submission order too,
    whichever worker was found dead first.
    An exception raised by a job is raised by `take` in the job's turn. `run` must be picklable (module level).
    """

    def __init__(
        self,
        run: Callable[[Any], Any],
        *,
        method: str,
        workers: int,
        on_death: Callable[[WorkerDeath], None],
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self._context = multiprocessing.get_context(method)
        self._run, self._initializer, self._on_death = run, initializer, on_death
        self._pool = [self._start() for _ in range(max(1, workers))]
        self._waiting: deque[tuple[int, Any, int]] = deque()  # (index, job, attempt) to hand out, retries first
        self._done: dict[int, tuple[str, Any]] = {}
        self._deaths: dict[int, list[WorkerDeath]] = {}  # per job index: its workers' deaths, told in its turn
        self._next_index = self._next_out = 0

    @property
    def pending(self) -> int:
        """Jobs submitted and not taken yet."""
        return self._next_index - self._next_out

    def submit(self, job: Any) -> None:
        self._waiting.append((self._next_index, job, 1))
        self._next_index += 1
        self._hand_out()

    def take(self, *, block: bool) -> Iterator[Any]:
        """The answers ready, in submission order; with `block`, waits for at least the next one (if any)."""
        while True:
            while self._next_out in self._done:
                for death in self._deaths.pop(self._next_out, ()):
                    self._on_death(death)
                kind, value = self._done.pop(self._next_out)
                self._next_out += 1
                if kind == "error":
                    raise value
                yield value
                block = False
            if not self.pending or not self._collect(timeout_s=None if block else 0.0):
                return

    def close(self) -> None:
        """Stop the workers (those still busy are terminated after `STOP_WAIT_S`)."""
        for worker in self._pool:
            worker.stop()
        for worker in self._pool:
            worker.end()
        self._pool = []

    def _start(self) -> _Worker:
        return _Worker(self._context, self._run, self._initializer)

    def _hand_out(self) -> None:
        for worker in self._pool:
            if worker.job is None and self._waiting:
                worker.job = self._waiting.popleft()
                with contextlib.suppress(OSError):  # a worker that died idle: found dead by `_collect`
                    worker.connection.send(worker.job[1])

    def _collect(self, timeout_s: float | None) -> bool:
        """Wait up to `timeout_s` (None: as long as it takes) for busy workers to answer or end; take their
        answers, replace the dead and deal with their jobs. False when nothing happened."""
        pool = self._pool
        busy = [worker for worker in pool if worker.job is not None]
        ready = set(wait([w.connection for w in busy] + [w.process.sentinel for w in busy], timeout_s))
        if not ready:
            return False
        for slot, worker in enumerate(pool):
            if worker.job is None or not (worker.connection in ready or worker.process.sentinel in ready):
                continue
            index, job, attempt = worker.job
            try:
                if worker.connection.poll():
                    self._done[index] = worker.connection.recv()
                    worker.job = None
                    continue
            except (EOFError, OSError):
                pass  # it died while answering
            worker.process.join(STOP_WAIT_S)
            if worker.process.is_alive():
                continue  # the pipe readable before the answer was whole: wait for the rest
            death = death_text(worker.process.exitcode)
            worker.connection.close()
            pool[slot] = self._start()
            retried = attempt == 1
            self._deaths.setdefault(index, []).append(WorkerDeath(job, death, retried))
            if retried:
                self._waiting.appendleft((index, job, attempt + 1))
            else:
                self._done[index] = ("ok", LostJob(job, death))
        self._hand_out()
        return True


def ordered_results(
    jobs: Iterator[Any],
    run: Callable[[Any], Any],
    *,
    method: str,
    workers: int,
    ahead: int,
    on_death: Callable[[WorkerDeath], None],
    initializer: Callable[[], None] | None = None,
) -> Iterator[Any]:
    """`run(job)` for each job, by a `DecodePool` of `workers` processes started with `method`, yielded in the
    jobs' order, at most `ahead` jobs in flight or waiting to be yielded (a lost job yields its `LostJob`)."""
    pool = DecodePool(run, method=method, workers=workers, on_death=on_death, initializer=initializer)
    try:
        for job in jobs:
            pool.submit(job)
            if pool.pending >= ahead:
                yield from pool.take(block=True)
        while pool.pending:
            yield from pool.take(block=True)
    finally:
        pool.close()
