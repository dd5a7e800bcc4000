"""The time control, stepped with a fixed time step: follow, pause, play at speed, step, loop, clamp."""

from __future__ import annotations

import pytest

from flowviz.model.time_control import SECOND_NS, PlayMode, TimeControl, TimeRange

T0 = 1_700_000_000 * SECOND_NS
DT = 0.1  # seconds of wall time per tick


def live_range(seconds: float) -> TimeRange:
    return TimeRange(T0, T0 + int(seconds * SECOND_NS))


def test_following_keeps_the_cursor_at_the_newest_data():
    control = TimeControl(window_s=60)
    for k in range(1, 20):
        control.tick(DT, live_range(100 + k), streaming=True)
        assert control.cursor_ns == T0 + (100 + k) * SECOND_NS
    assert control.mode is PlayMode.FOLLOWING
    assert control.behind_live_s() == 0
    assert control.window_ns() == (control.cursor_ns - 60 * SECOND_NS, control.cursor_ns)


def test_paused_cursor_stays_while_data_keeps_arriving_and_end_returns_to_live():
    control = TimeControl()
    control.tick(DT, live_range(100), streaming=True)
    control.pause()
    for k in range(50):
        control.tick(DT, live_range(100 + k), streaming=True)
    assert control.cursor_ns == T0 + 100 * SECOND_NS
    assert control.behind_live_s() == pytest.approx(49)
    control.follow()
    control.tick(DT, live_range(150), streaming=True)
    assert control.mode is PlayMode.FOLLOWING
    assert control.cursor_ns == T0 + 150 * SECOND_NS


@pytest.mark.parametrize("speed", [0.1, 1.0, 10.0])
def test_playing_advances_by_speed_times_wall_time(speed):
    control = TimeControl(live=False)
    capture = live_range(3600)
    control.tick(DT, capture, streaming=False)
    control.seek(T0 + 100 * SECOND_NS)
    control.set_speed(speed)
    control.play()
    for _ in range(50):
        control.tick(DT, capture, streaming=False)
    assert control.cursor_ns == T0 + 100 * SECOND_NS + round(50 * DT * speed * SECOND_NS)


def test_a_frame_never_jumps_more_than_one_second_of_data():
    control = TimeControl(live=False)
    capture = live_range(3600)
    control.tick(DT, capture, streaming=False)
    control.seek(T0)
    control.set_speed(100)
    control.play()
    control.tick(0.5, capture, streaming=False)  # 50 s of data at 100x: capped
    assert control.cursor_ns == T0 + SECOND_NS


def test_steps_move_one_bucket_and_pause():
    control = TimeControl(live=False)
    control.tick(DT, live_range(600), streaming=False)
    control.seek(T0 + 300 * SECOND_NS)
    control.play()
    control.step(+1)
    assert control.mode is PlayMode.PAUSED
    assert control.cursor_ns == T0 + 301 * SECOND_NS
    control.step(-10)
    assert control.cursor_ns == T0 + 291 * SECOND_NS
    control.step(-10_000)
    assert control.cursor_ns == T0  # clamped to the data


def test_loop_wraps_playback_inside_the_selected_range():
    control = TimeControl(live=False)
    capture = live_range(3600)
    control.tick(DT, capture, streaming=False)
    control.set_loop(T0 + 100 * SECOND_NS, T0 + 110 * SECOND_NS)
    control.seek(T0 + 500 * SECOND_NS)
    control.play()  # outside the loop: starts at its beginning
    assert control.cursor_ns == T0 + 100 * SECOND_NS
    seen = []
    for _ in range(300):  # 30 s of wall time at 1x through a 10 s loop
        control.tick(DT, capture, streaming=False)
        seen.append(control.cursor_ns)
    assert min(seen) >= T0 + 100 * SECOND_NS
    assert max(seen) < T0 + 110 * SECOND_NS
    assert control.mode is PlayMode.PLAYING
    control.set_loop(None)
    assert control.loop is None


def test_playing_a_capture_stops_at_its_end_and_live_playback_rejoins_live():
    capture = TimeControl(live=False)
    capture.tick(DT, live_range(10), streaming=False)
    capture.seek(T0 + 9 * SECOND_NS)
    capture.play()
    notices = []
    for _ in range(20):
        capture.tick(DT, live_range(10), streaming=False)
        notices.append(capture.notice)
    assert capture.mode is PlayMode.PAUSED
    assert notices.count("Reached the end of the capture.") == 1
    assert capture.cursor_ns == T0 + 10 * SECOND_NS
    live = TimeControl(live=True)
    live.tick(DT, live_range(10), streaming=True)
    live.seek(T0 + 9 * SECOND_NS)
    live.set_speed(5)
    live.play()
    for k in range(10):
        live.tick(DT, live_range(10 + 0.1 * k), streaming=True)
    assert live.mode is PlayMode.FOLLOWING


def test_retention_overtaking_a_paused_cursor_clamps_it_and_says_so():
    control = TimeControl()
    control.tick(DT, live_range(100), streaming=True)
    control.pause()
    control.tick(DT, TimeRange(T0 + 150 * SECOND_NS, T0 + 3700 * SECOND_NS), streaming=True)
    assert control.cursor_ns == T0 + 150 * SECOND_NS
    assert "no longer retained" in control.notice


def test_speed_and_window_move_through_their_ladders_and_stay_in_bounds():
    control = TimeControl(window_s=60)
    control.faster()
    assert control.speed == 2.0
    for _ in range(20):
        control.faster()
    assert control.speed == 100.0
    for _ in range(30):
        control.slower()
    assert control.speed == 0.1
    control.longer_window()
    assert control.window_s == 120.0
    for _ in range(20):
        control.shorter_window()
    assert control.window_s == 10.0
    for _ in range(20):
        control.longer_window()
    assert control.window_s == 3600.0


def test_playing_into_the_end_of_a_capture_still_loading_waits_for_more():
    control = TimeControl(live=False)
    control.tick(DT, live_range(10), streaming=True)
    control.seek(T0 + 9 * SECOND_NS)
    control.play()
    for k in range(20):  # 2 s of wall time; the loaded part grows by 50 ms of data a tick
        control.tick(DT, live_range(10 + 0.05 * k), streaming=True)
    assert control.mode is PlayMode.PLAYING  # no "end of the capture" while it loads
    assert control.notice == ""
    held_ns = live_range(10 + 0.05 * 19).end_ns
    assert control.cursor_ns == held_ns  # held at the newest data
    for _ in range(30):  # loading went on: playback goes on with it
        control.tick(DT, live_range(20), streaming=True)
    assert control.cursor_ns == held_ns + 30 * int(DT * SECOND_NS)
    for _ in range(100):  # loading finished: playback stops at the end and says so
        control.tick(DT, live_range(20), streaming=False)
        if control.mode is PlayMode.PAUSED:
            break
    assert control.cursor_ns == T0 + 20 * SECOND_NS
    assert control.notice == "Reached the end of the capture."


def test_live_playback_stops_at_the_end_when_the_source_has_stopped():
    live = TimeControl(live=True)
    live.tick(DT, live_range(10), streaming=True)
    live.seek(T0 + 9 * SECOND_NS)
    live.set_speed(5)
    live.play()
    notices = []
    for _ in range(10):
        live.tick(DT, live_range(10), streaming=False)
        notices.append(live.notice)
    assert live.mode is PlayMode.PAUSED
    assert notices.count("Reached the end: the source stopped.") == 1
