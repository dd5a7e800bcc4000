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
