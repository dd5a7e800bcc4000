"""Recording inside the live worker: switched by the window, status for the line, bad files never fatal."""

from __future__ import annotations

import os

from flowviz.model.problems import Problems
from flowviz.sources.kafka_status import status_text
from flowviz.sources.live_recording import LiveRecorder
from flowviz.sources.recording import RecordedMessage, read_recording

HEADER = {"bootstrap": "kafka:9092", "topics": ["otlp_spans"], "format_name": "auto", "start": "latest"}


def _messages(first: int, count: int) -> list[RecordedMessage]:
    return [
        RecordedMessage("otlp_spans", 0, offset, 1, 1_700_000_000_000 + offset, None, b"value-%d" % offset)
        for offset in range(first, first + count)
    ]


def test_switching_on_and_off_writes_a_recording_with_the_header(tmp_path):
    path = tmp_path / "live.fvrec"
    recorder = LiveRecorder(HEADER)
    recorder.append(_messages(0, 3))  # not recording yet: nothing written
    assert not path.exists()
    recorder.switch(str(path))
    recorder.append(_messages(3, 4))
    status = recorder.status()
    assert status["active"]
    assert status["sessions"] == 1
    assert status["messages"] == 4
    assert status["bytes"] == os.path.getsize(path)
    recorder.switch(None)
    recorder.append(_messages(7, 2))  # after stopping: not written
    assert not recorder.status()["active"]
    problems = Problems()
    contents = read_recording(path, problems=problems)
    assert not problems
    assert [m.offset for m in contents.messages] == [3, 4, 5, 6]
    assert contents.headers[0]["topics"] == ["otlp_spans"]
    assert contents.headers[0]["recorded_by"] == "flowviz live window"
    # again to the same file: appended as a second session, the size counts what was there
    size_before = os.path.getsize(path)
    recorder.switch(str(path))
    assert recorder.status()["bytes"] == os.path.getsize(path) > size_before
    recorder.append(_messages(9, 1))
    recorder.stop()
    contents = read_recording(path)
    assert len(contents.headers) == 2
    assert [m.offset for m in contents.messages] == [3, 4, 5, 6, 9]


def test_a_file_that_cannot_be_recorded_to_is_reported_not_raised(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("not a recording")
    recorder = LiveRecorder(HEADER)
    recorder.switch(str(other))
    status = recorder.status()
    assert not status["active"]
    assert status["sessions"] == 1
    assert "is not a flowviz recording" in status["error"]
    assert other.read_text() == "not a recording"  # never overwritten
    recorder.switch(str(tmp_path / "no-such-dir" / "x.fvrec"))
    assert "No such file or directory" in recorder.status()["error"]
    assert recorder.status()["sessions"] == 2
    recorder.append(_messages(0, 1))  # nothing open: ignored


def test_the_status_line_shows_the_recording():
    status = {"state": "connected", "topics": ("otlp_spans",), "messages_per_s": 10.0, "bytes_per_s": 2000.0}
    recording = {
        "active": True,
        "sessions": 1,
        "path": "/tmp/x/live.fvrec",
        "messages": 5,
        "bytes": 12_345,
        "error": "",
    }
    assert status_text({**status, "recording": recording}).startswith("● REC live.fvrec 12.3 kB · connected")
    failed = {**recording, "active": False, "error": "/full: No space left on device"}
    assert status_text({**status, "recording": failed}).startswith("recording stopped: /full: No space left")
    assert status_text(status).startswith("connected · otlp_spans")
