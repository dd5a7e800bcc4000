"""Jobs off the UI thread: a polled job hands its result to the UI thread once, its button disabled meanwhile."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QPushButton, QWidget

from flowviz.ui.background import PolledJob


def test_a_polled_job_hands_its_result_to_the_ui_thread_and_frees_its_button(qtbot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    button = QPushButton("Read", owner)
    done: list[tuple] = []
    job = PolledJob("test-job", owner, button=button)
    job.done.connect(lambda *answer: done.append((*answer, threading.current_thread())))
    release = threading.Event()
    ran_on: list[threading.Thread] = []

    def work(value: int) -> int:
        ran_on.append(threading.current_thread())
        release.wait(5.0)
        return value * 2

    assert job.start("first", work, 21)
    assert job.running
    assert not button.isEnabled()
    assert not job.start("second", work, 1)  # one at a time: the second is refused, not queued
    release.set()
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    assert done == [("first", 42, None, threading.main_thread())]
    assert ran_on[0] is not threading.main_thread()
    assert not job.running
    assert button.isEnabled()


def test_a_failing_job_gives_its_error_as_text(qtbot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    done: list[tuple] = []

    def fail() -> None:
        raise OSError("broker down")

    job = PolledJob("test-job", owner, poll_ms=10)
    job.done.connect(lambda *answer: done.append(answer))
    assert job.start("key", fail)
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    assert done == [("key", None, "OSError: broker down")]
    assert job.start("again", lambda: 1)  # free again after a failure
    qtbot.waitUntil(lambda: len(done) == 2, timeout=5_000)
    assert done[1] == ("again", 1, None)
