"""Replays as video: `render -o OUT.mp4|.gif` has the planned number of frames and its timeline cursor moves;
the window's loop range exports at its speed and the window's cursor is put back."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from flowviz.chart.flow_model import FlowChartModel
from flowviz.chart.themes import DARK
from flowviz.cli import EXIT_OK, EXIT_USAGE, main
from flowviz.store.rolling_store import RollingStore
from flowviz.ui.main_window import MainWindow
from flowviz.ui.timeline_strip import Bookmark
from flowviz.ui.video_dialog import export_loop_video
from tests.ui.test_flow_view import SECOND, T0, traffic

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample-shop.otlp.jsonl.gz"


def _frames(path: Path) -> tuple[tuple[int, int], list[np.ndarray]]:
    """The video's size and RGB frames, decoded by ffmpeg started without a `preexec_fn`.

    (imageio_ffmpeg's `read_frames` starts it with one, so Python forks instead of vforking, and gRPC's fork
    handler — active once an earlier test in this process used gRPC — crashed the child before it ran ffmpeg:
    grpc/grpc#43055, seen in CI as "Could not load meta information".)"""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False)
    size = re.search(r"Video: .*?, (\d+)x(\d+)", probe.stderr)
    assert size, probe.stderr
    width, height = int(size[1]), int(size[2])
    command = [ffmpeg, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return (width, height), list(np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3))


def _cursor_x(frame: np.ndarray) -> float:
    """Where the timeline's cursor dot (the selection colour) is, in the bottom 40 rows."""
    colour = np.array(DARK.selection[:3])
    _rows, columns = np.nonzero(np.abs(frame[-40:].astype(int) - colour).sum(axis=2) < 40)
    return float(columns.mean())


def test_render_mp4_has_the_planned_frames_and_the_cursor_moves(tmp_path, capsys):
    out = tmp_path / "replay.mp4"
    args = ["render", str(SAMPLE), "-o", str(out), "--from", "+20", "--to", "+50", "--speed", "5", "--fps", "10"]
    assert main([*args, "--size", "640x360", "--bookmark", "card errors@+30"]) == EXIT_OK
    assert "60 frames" in capsys.readouterr().out
    assert imageio_ffmpeg.count_frames_and_secs(str(out)) == (60, 6.0)
    size, frames = _frames(out)
    assert size == (640, 360)
    assert len(frames) == 60
    assert _cursor_x(frames[0]) + 100 < _cursor_x(frames[30]) < _cursor_x(frames[-1]) - 100


def test_render_gif(tmp_path, capsys):
    out = tmp_path / "replay.gif"
    args = ["render", str(SAMPLE), "-o", str(out), "--from", "+0", "--to", "+12", "--speed", "4", "--fps", "5"]
    assert main([*args, "--size", "480x270", "--theme", "light"]) == EXIT_OK
    assert out.read_bytes()[:6] == b"GIF89a"
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 15


def test_a_video_longer_than_the_limit_or_backwards_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "x.mp4"
    assert main(["render", str(SAMPLE), "-o", str(out), "--from", "+50", "--to", "+20"]) == EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists()


def test_the_window_exports_its_loop_range_at_its_speed(qtbot, tmp_path):
    store = RollingStore()
    store.ingest(traffic([("checkout", "payments", 5, 0.1), ("checkout", "catalog", 4, 0.0)], seconds=120))
    model = FlowChartModel(store, window_s=10.0, live=False)
    window = MainWindow(model, title="loop test")
    qtbot.addWidget(window)
    window.resize(900, 640)
    window.show()
    model.tick(0.0)
    model.time.seek(T0 + 100 * SECOND)
    window.view.refresh()
    model.time.set_loop(T0 + 30 * SECOND, T0 + 60 * SECOND)
    model.time.set_speed(10.0)
    window.strip.set_bookmarks([Bookmark(T0 + 40 * SECOND, "retry storm")])
    out = tmp_path / "loop.mp4"
    assert export_loop_video(window, str(out), fps=10) == 30  # 30 s at 10x, 10 frames a second
    assert imageio_ffmpeg.count_frames_and_secs(str(out)) == (30, 3.0)
    assert model.time.cursor_ns == T0 + 100 * SECOND  # put back
