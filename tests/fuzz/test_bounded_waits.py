"""Headless commands wait a bounded time: `record --until-idle` with no broker or no topic ends."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from flowviz.cli import main
from flowviz.sources.kafka_publish import free_port


def test_record_until_idle_ends_when_no_broker_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code = main(
        ["record", "--bootstrap", f"127.0.0.1:{free_port()}", "--topic", "t", "-o", str(tmp_path / "r"),
         "--until-idle", "1.5"]
    )  # fmt: skip
    assert time.monotonic() - started < 10
    assert code == 1  # nothing recorded
    err = capsys.readouterr().err
    assert "idle for 1.5 s (" in err


def test_record_until_idle_ends_when_the_topic_is_missing(
    kafka_broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    topic = f"missing-{uuid.uuid4().hex[:8]}"
    code = main(
        ["record", "--bootstrap", kafka_broker.bootstrap, "--topic", topic, "-o", str(tmp_path / "r"),
         "--until-idle", "1.5"]
    )  # fmt: skip
    assert time.monotonic() - started < 10
    assert code == 1
    assert "idle for 1.5 s (waiting for topic" in capsys.readouterr().err


def test_the_group_poller_survives_timeouts_and_errors_and_keeps_looking() -> None:
    """An admin client that reaches no broker times out (TimeoutError from the future); the thread goes on."""
    from concurrent.futures import Future

    from flowviz.sources.kafka_groups import GroupOffsetPoller
    from flowviz.sources.kafka_settings import KafkaSettings

    class NoBroker:
        calls = 0

        def list_consumer_groups(self, **_):
            NoBroker.calls += 1
            if NoBroker.calls == 2:
                raise RuntimeError("something else entirely")
            return Future()  # never answered: result(timeout) raises TimeoutError

    import flowviz.sources.kafka_groups as kafka_groups

    original = kafka_groups._REQUEST_TIMEOUT_S
    kafka_groups._REQUEST_TIMEOUT_S = 0.05
    poller = GroupOffsetPoller(KafkaSettings(bootstrap="127.0.0.1:1"), interval_s=0.05, admin_factory=NoBroker)
    try:
        poller.watch(["orders"])
        looks: list = []
        deadline = time.monotonic() + 5
        while len(looks) < 3:
            assert time.monotonic() < deadline, looks
            looks += poller.take()
            time.sleep(0.02)
    finally:
        poller.stop()
        kafka_groups._REQUEST_TIMEOUT_S = original
    assert "no answer from the broker" in looks[0].error
    assert any("RuntimeError: something else entirely" in look.error for look in looks)
    assert poller._thread is not None
