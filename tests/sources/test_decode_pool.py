"""Decode jobs in worker processes: results in order, a worker killed mid-job noticed, its job run again or given up."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from flowviz.sources.decode_pool import LostJob, WorkerDeath, death_text, ordered_results


def _square_slowly(job: tuple[int, str]) -> int:
    """Squares the number; the job named `wait:<dir>` first writes its pid there and waits to be killed (once)."""
    number, order = job
    if order.startswith("wait:"):
        folder = Path(order[5:])
        if not (folder / "killed").exists():
            (folder / "pid").write_text(str(os.getpid()))
            time.sleep(60)
    if order == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if order == "die-late":
        time.sleep(0.4)
        os.kill(os.getpid(), signal.SIGKILL)
    if order == "fail":
        raise ValueError(f"no square for {number}")
    return number * number


def _run(jobs: list[tuple[int, str]], deaths: list[WorkerDeath], workers: int = 2) -> list:
    return list(
        ordered_results(iter(jobs), _square_slowly, method="fork", workers=workers, ahead=4, on_death=deaths.append)
    )


def test_results_come_in_the_jobs_order() -> None:
    deaths: list[WorkerDeath] = []
    assert _run([(n, "") for n in range(30)], deaths, workers=3) == [n * n for n in range(30)]
    assert deaths == []


def test_a_worker_killed_from_outside_mid_job_is_replaced_and_its_job_run_again(tmp_path: Path) -> None:
    def kill_when_waiting() -> None:
        pid_file = tmp_path / "pid"
        while not pid_file.exists():
            time.sleep(0.01)
        (tmp_path / "killed").write_text("")  # the job's second run does not wait
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_waiting, daemon=True)
    killer.start()
    deaths: list[WorkerDeath] = []
    jobs = [(n, f"wait:{tmp_path}" if n == 5 else "") for n in range(12)]
    began = time.monotonic()
    assert _run(jobs, deaths) == [n * n for n in range(12)]
    assert time.monotonic() - began < 30  # not the job's 60 s: the death was noticed
    assert deaths == [WorkerDeath(jobs[5], "killed by signal 9 (SIGKILL)", True)]


def test_a_job_whose_worker_dies_twice_is_given_up_and_the_others_finish() -> None:
    deaths: list[WorkerDeath] = []
    jobs = [(n, "die" if n == 3 else "") for n in range(10)]
    results = _run(jobs, deaths)
    assert results[:3] + results[4:] == [n * n for n in range(10) if n != 3]
    assert results[3] == LostJob(jobs[3], "killed by signal 9 (SIGKILL)")
    assert [(d.job, d.retried) for d in deaths] == [(jobs[3], True), (jobs[3], False)]


def test_an_exception_in_a_job_is_raised_in_its_turn() -> None:
    results = ordered_results(
        iter([(n, "fail" if n == 4 else "") for n in range(10)]),
        _square_slowly,
        method="fork",
        workers=2,
        ahead=4,
        on_death=lambda death: None,
    )
    seen = [next(results) for _ in range(4)]
    with pytest.raises(ValueError, match="no square for 4"):
        next(results)
    assert seen == [0, 1, 4, 9]


def test_how_a_process_ended_is_told() -> None:
    assert death_text(-9) == "killed by signal 9 (SIGKILL)"
    assert death_text(3) == "exited with code 3"
    assert death_text(-200) == "killed by signal 200"


def test_deaths_are_told_in_the_jobs_order_whichever_worker_is_found_dead_first() -> None:
    """Job 0's workers die 0.4 s into it, job 1's at once: job 1's deaths are found first, told second."""
    deaths: list[WorkerDeath] = []
    jobs = [(0, "die-late"), (1, "die"), (2, "")]
    results = _run(jobs, deaths, workers=3)
    assert [type(result) for result in results[:2]] == [LostJob, LostJob]
    assert results[2] == 4
    assert [(death.job, death.retried) for death in deaths] == [
        (jobs[0], True), (jobs[0], False), (jobs[1], True), (jobs[1], False)
    ]  # fmt: skip
