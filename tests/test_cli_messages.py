"""The command line's messages and exit codes for what new users get wrong: render's output path and moment,
report's time range, durations, misspelt options, an unreachable broker, Ctrl+C."""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowviz.cli import EXIT_NOTHING_USABLE, EXIT_USAGE, main
from flowviz.resources import sample_capture_path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = sample_capture_path()  # 2023-11-14T22:13:20Z .. 22:15:20Z


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("missing/dir/x.png", "the folder"),
        (".", "is a folder: give a file name"),
        ("chart", "has no extension"),
    ],
)
def test_render_output_problems_are_one_line_and_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str, expected: str
) -> None:
    code, err = _run(capsys, "render", str(SAMPLE), "-o", str(tmp_path / output))
    assert code == EXIT_USAGE
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_render_to_a_format_qt_cannot_write_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = _run(capsys, "render", str(SAMPLE), "-o", str(tmp_path / "chart.xyz"))
    assert code == EXIT_NOTHING_USABLE
    assert err.strip().endswith("(is .xyz an image format Qt writes?)")
    assert not (tmp_path / "chart.xyz").exists()


@pytest.mark.parametrize("at", ["+1h", "2020-01-01T00:00:00Z"])
def test_render_at_outside_the_capture_names_its_range(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, at: str
) -> None:
    code, err = _run(capsys, "render", str(SAMPLE), "--at", at, "-o", str(tmp_path / "x.png"))
    assert code == EXIT_USAGE
    assert "is outside the capture" in err
    assert "2023-11-14T22:13:20.000Z to 2023-11-14T22:15:20.000Z" in err
    assert not (tmp_path / "x.png").exists()  # no empty chart written


def test_report_from_after_the_end_does_not_blame_a_missing_to(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "report", str(SAMPLE), "--from", "+1h")
    assert code == EXIT_USAGE
    assert "--to" not in err
    assert "--from +1h is at or after the end of the capture" in err
    assert "+0 s to +120 s" in err
    code, err = _run(capsys, "report", str(SAMPLE), "--from", "+30", "--to", "+20")
    assert code == EXIT_USAGE
    assert "--to +20 must be after --from +30" in err


def test_a_bad_duration_is_called_a_duration(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = _run(capsys, "render", str(SAMPLE), "--window", "abc", "-o", str(tmp_path / "x.png"))
    assert code == EXIT_USAGE
    assert "'abc' is not a duration: use 60s, 5m, 1h" in err
    assert "ISO" not in err


def test_a_misspelt_option_gets_the_commands_usage_and_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "report", str(SAMPLE), "--jsn")
    assert code == EXIT_USAGE
    assert err.startswith("usage: flowviz report")
    assert "unrecognized arguments: --jsn (did you mean --json?)" in err


def test_report_help_names_no_internal_document(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "GUIDE" not in out
    assert "§" not in out
    assert "README" in out


def test_simulate_without_a_broker_says_connection_refused_within_the_timeout() -> None:
    from flowviz.commands.kafka import EXIT_NOTHING, run_simulate
    from flowviz.sources.kafka_publish import free_port

    args = argparse.Namespace(
        bootstrap=f"127.0.0.1:{free_port()}", topic="otlp_spans", rate=100.0, format="otlp_proto", seed=0,
        duration=1.0, flat=True, spans_per_message=10, kafka_config=None, connect_timeout=2.0,
    )  # fmt: skip
    err = io.StringIO()
    started = time.monotonic()
    assert run_simulate(args, err=err) == EXIT_NOTHING
    assert time.monotonic() - started < 8.0
    assert "cannot reach the broker" in err.getvalue()
    assert "Connection refused" in err.getvalue()


def test_ctrl_c_closes_the_window_cleanly(tmp_path: Path) -> None:
    """Ctrl+C in the terminal reaches the whole process group (window and worker): the window closes, its
    settings are saved, the worker stops, no traceback, exit 130."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("XDG_DATA_HOME", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flowviz", "demo", "--rate", "200", "--history", "0s"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(3.0)
        assert process.poll() is None
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(45)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    err = process.stderr.read()
    assert code == 130
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert (tmp_path / ".config" / "flowviz" / "flowviz.conf").is_file()  # the window's closeEvent ran


def test_peek_without_a_broker_says_connection_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from flowviz.sources.kafka_publish import free_port

    started = time.monotonic()
    code, err = _run(
        capsys, "peek", "--bootstrap", f"127.0.0.1:{free_port()}", "--topic", "orders", "--connect-timeout", "2"
    )
    assert code == 1
    assert time.monotonic() - started < 8.0
    assert "cannot reach the broker" in err
    assert "Connection refused" in err
