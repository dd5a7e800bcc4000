"""The Record toggle of a live window, against a real broker: the worker records what the window reads."""

from __future__ import annotations

import uuid

from flowviz.model.graph_kinds import ConnectionType
from flowviz.model.problems import Problems
from flowviz.sim.simulator import DEFAULT_START_NS, Simulator
from flowviz.sources.kafka_publish import Publisher, create_topic
from flowviz.sources.kafka_settings import KafkaSettings
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.sources.recording import read_recording
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.record_button import ACTIVE_TEXT, IDLE_TEXT, default_recording_path
from flowviz.ui.windows import live_window
from tests.sources.test_kafka import _edges

SECOND_NS = 1_000_000_000


def test_default_recording_name_has_topic_and_time():
    settings = KafkaSettings(topics=("otlp/spans", "other"))
    path = default_recording_path(settings, "/data", now_s=0)
    assert path.startswith("/data/flowviz-otlp_spans-19")
    assert path.endswith(".fvrec")


def test_the_record_toggle_writes_a_recording_that_gives_the_windows_graph(qtbot, kafka_broker, tmp_path):
    topic = f"record-window-{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(bootstrap=kafka_broker.bootstrap, topics=(topic,), start="earliest")
    create_topic(settings, topic)
    window = live_window(settings)
    qtbot.addWidget(window)
    window.show()
    recorder = window.recorder
    output = tmp_path / "window.fvrec"
    simulator = Simulator(seed=11, rate_per_s=2_000, spans_per_message=100)
    messages = simulator.generate(DEFAULT_START_NS + 10 * SECOND_NS)
    try:
        qtbot.waitUntil(lambda: window.feed.status.source.get("state") == "connected", timeout=30_000)
        assert recorder.action.text() == IDLE_TEXT
        # a file the worker cannot open: it says so and the button turns itself off
        assert recorder.start(str(tmp_path / "no-such-dir" / "x.fvrec"))
        assert recorder.action.isChecked()
        qtbot.waitUntil(lambda: not recorder.action.isChecked(), timeout=10_000)
        assert "Recording stopped" in window.statusBar().currentMessage()
        assert "No such file or directory" in window.statusBar().currentMessage()
        # a file that is something else is refused before the worker is asked
        notes = tmp_path / "notes.txt"
        notes.write_text("keep me")
        assert not recorder.start(str(notes))
        assert "is not a flowviz recording" in window.statusBar().currentMessage()
        assert notes.read_text() == "keep me"

        # the toggle: choose a file, record, then publish
        recorder.choose_path = lambda: str(output)
        recorder.action.trigger()
        assert recorder.action.isChecked()
        assert recorder.action.text() == ACTIVE_TEXT
        qtbot.waitUntil(lambda: recorder.worker_recording().get("active") is True, timeout=10_000)
        publisher = Publisher(settings, topic)
        publisher.send(messages)
        assert publisher.flush(10.0) == 0
        qtbot.waitUntil(lambda: window.feed.status.spans == simulator.spans_emitted, timeout=30_000)
        qtbot.waitUntil(lambda: recorder.worker_recording().get("messages") == len(messages), timeout=10_000)
        summary = window.feed.status.summary()
        assert summary.startswith("● REC window.fvrec ")
        assert " kB · connected" in summary or " MB · connected" in summary
        recorder.action.trigger()  # off
        assert not recorder.action.isChecked()
        assert recorder.action.text() == IDLE_TEXT
        assert f"Recording saved: {output}" in window.statusBar().currentMessage()
        qtbot.waitUntil(lambda: recorder.worker_recording().get("active") is False, timeout=10_000)
        assert not window.feed.status.summary().startswith("● REC")
        window_edges = _edges(window.feed.store)
    finally:
        window.feed.stop()

    problems = Problems()
    contents = read_recording(output, problems=problems)
    assert not problems
    assert [m.value for m in contents.messages] == messages
    assert contents.headers[0]["topics"] == [topic]
    store = RollingStore(problems=Problems())
    totals = load_captures([output], IngestPipeline(store, problems=Problems()))  # what `flowviz open` does
    assert totals.spans == simulator.spans_emitted
    assert len(window_edges) > 20
    file_edges = _edges(store)
    # every edge the window showed, with the same requests, errors, type, via and p50
    assert {key: file_edges.get(key) for key in window_edges} == window_edges
    # reading to the end of the file also settles the calls still waiting for their other half when the
    # window stopped (event-time TTL): they can only add calls to virtual nodes, nothing else
    extra = {key: value for key, value in file_edges.items() if key not in window_edges}
    assert {value[2] for value in extra.values()} <= {ConnectionType.VIRTUAL_NODE}
