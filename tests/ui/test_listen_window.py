"""`flowviz listen`: the window on OTLP sent to flowviz, received and derived in the worker process."""

from __future__ import annotations

import time

import grpc

from flowviz.sim.simulator import Simulator
from flowviz.sources.otlp_receiver import ReceiverSettings
from flowviz.sources.pipe_messages import Record
from flowviz.sources.recording import read_recording
from flowviz.ui.windows import listen_window

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def test_listen_window_shows_and_records_what_a_sender_exports(qtbot, tmp_path):
    window = listen_window(ReceiverSettings(grpc="127.0.0.1:0", http="127.0.0.1:0"))
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: bool(window.feed.status.source.get("grpc")), timeout=30_000)  # bound in the worker
        address = window.feed.status.source["grpc"]
        assert window.feed.send(Record(str(tmp_path / "window.fvrec")))  # what the Record button sends
        qtbot.waitUntil(lambda: window.feed.status.source["recording"]["active"], timeout=10_000)
        now_ns = time.time_ns()
        messages = Simulator(seed=1, rate_per_s=800, start_ns=now_ns - 5_000_000_000).generate(now_ns)
        with grpc.insecure_channel(address) as channel:
            export = channel.unary_unary(EXPORT)
            for message in messages:
                assert export(message, timeout=10) == b""
        qtbot.waitUntil(
            lambda: window.model.chart is not None and "payments" in window.model.chart.node_names, timeout=30_000
        )
        assert {"api-gateway", "orders", "user"} <= set(window.model.chart.node_names)
        qtbot.waitUntil(lambda: f"{len(messages)} requests" in window.feed.status.summary(), timeout=10_000)
        assert window.feed.status.summary().startswith(f"● REC window.fvrec · listening on gRPC {address} · HTTP 127.")
        assert "listening for OTLP" in window.windowTitle()
        assert window.feed.send(Record(None))
        qtbot.waitUntil(lambda: not window.feed.status.source["recording"]["active"], timeout=10_000)
        assert [m.value for m in read_recording(tmp_path / "window.fvrec").messages] == messages
    finally:
        window.feed.stop()


def test_start_page_and_file_menu_offer_listening(qtbot):
    from flowviz.ui.start_page import StartPage

    page = StartPage()
    qtbot.addWidget(page)
    assert "Receive OTLP" in page.listen_button.text()
    assert "127.0.0.1:4317" in page.listen_button.text()
    window = listen_window(ReceiverSettings(grpc="127.0.0.1:0", http=None))
    qtbot.addWidget(window)
    try:
        assert any("Receive OTLP" in action.text() for action in window.file_menu.actions())
    finally:
        window.feed.stop()


def test_a_grpc_port_in_use_shows_flowvizs_reason_and_no_grpc_log(qtbot, capfd, monkeypatch):
    import socket

    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)  # the worker as a user's: grpc's log level not set
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        window = listen_window(ReceiverSettings(grpc=f"127.0.0.1:{port}", http=None))
        qtbot.addWidget(window)
        try:
            reason = f"cannot listen on 127.0.0.1:{port}: Address already in use"
            qtbot.waitUntil(lambda: reason in window.feed.status.summary(), timeout=30_000)
        finally:
            window.feed.stop()
    err = capfd.readouterr().err  # the worker process writes to the same stderr
    assert "add_port.cc" not in err
    assert "Traceback" not in err
