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
    """`run(job)` for each job, by `workers` processes started with `method`, yielded in the jobs' order.

    At most `ahead` jobs are in flight or waiting to be yielded. A job whose worker died is run once more in a
    fresh worker (`on_death` is told, `retried=True`); if that worker dies too, `on_death` is told again
    (`retried=False`) and a `LostJob` is yielded in the job's place. `run` must be picklable (module level).
    """
    context = multiprocessing.get_context(method)
    pool = [_Worker(context, run, initializer) for _ in range(max(1, workers))]
    waiting: deque[tuple[int, Any, int]] = deque()  # (index, job, attempt) to hand out, retries first
    done: dict[int, tuple[str, Any]] = {}
    next_index = next_out = 0
    exhausted = False
    try:
        while True:
            while not exhausted and next_index - next_out < ahead and len(waiting) < len(pool):
                job = next(jobs, None)
                if job is None:
                    exhausted = True
                    break
                waiting.append((next_index, job, 1))
                next_index += 1
            for worker in pool:
                if worker.job is None and waiting:
                    worker.job = waiting.popleft()
                    with contextlib.suppress(OSError):  # a worker that died idle: found dead by `_collect`
                        worker.connection.send(worker.job[1])
            while next_out in done:
                kind, value = done.pop(next_out)
                next_out += 1
                if kind == "error":
                    raise value
                yield value
            if exhausted and next_out == next_index:
                return
            if not any(worker.job is not None for worker in pool):
                continue  # more jobs to take (the limit allowed none while results waited to be yielded)
            _collect(pool, done, waiting, context, run, initializer, on_death)
    finally:
        for worker in pool:
            worker.stop()
        for worker in pool:
            worker.end()


def _collect(pool, done, waiting, context, run, initializer, on_death) -> None:
    """Wait for a busy worker to answer or end; take its answer, or replace it and deal with its job."""
    busy = [worker for worker in pool if worker.job is not None]
    ready = set(wait([w.connection for w in busy] + [w.process.sentinel for w in busy]))
    for slot, worker in enumerate(pool):
        if worker.job is None or not (worker.connection in ready or worker.process.sentinel in ready):
            continue
        index, job, attempt = worker.job
        try:
            if worker.connection.poll():
                done[index] = worker.connection.recv()
                worker.job = None
                continue
        except (EOFError, OSError):
            pass  # it died while answering
        worker.process.join(STOP_WAIT_S)
        if worker.process.is_alive():
            continue  # the pipe readable before the answer was whole: wait for the rest
        death = death_text(worker.process.exitcode)
        worker.connection.close()
        pool[slot] = _Worker(context, run, initializer)
        retried = attempt == 1
        on_death(WorkerDeath(job, death, retried))
        if retried:
            waiting.appendleft((index, job, attempt + 1))
        else:
            done[index] = ("ok", LostJob(job, death))
