"""The frame clock's schedule: each client at its own rate, first on the next frame, in the order added."""

from flowviz.model.frame_schedule import FrameSchedule


def test_clients_run_at_their_own_rates_from_one_clock():
    schedule, calls = FrameSchedule(), []
    schedule.add(0.25, lambda: calls.append("status"))
    schedule.add(0.5, lambda: calls.append("whats_wrong"))
    schedule.add(0.0, lambda: calls.append("every"))
    for frame in range(61):  # one second of frames at 60 Hz
        schedule.run_due(frame / 60)
    assert calls.count("every") == 61
    assert calls.count("status") == 5  # at 0, 0.25, 0.5, 0.75 and 1.0 s
    assert calls.count("whats_wrong") == 3  # 0, 0.5, 1.0
    assert calls[:3] == ["status", "whats_wrong", "every"]  # the first frame runs them all, in order


def test_a_removed_client_runs_no_more_and_run_due_counts():
    schedule, calls = FrameSchedule(), []

    def record() -> None:
        calls.append(1)

    schedule.add(0.1, record)
    assert schedule.run_due(0.0) == 1
    assert schedule.run_due(0.05) == 0
    schedule.remove(record)
    assert len(schedule) == 0
    assert schedule.run_due(1.0) == 0
    assert calls == [1]
