"""File ▸ Export ▸ Video of the loop range…: the window's loop (or its window) replayed at its speed into an
MP4 or GIF, frame by frame between events with a progress dialog that can cancel."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QProgressDialog

from flowviz.chart.video_plan import VideoPlan, VideoPlanError, plan_video
from flowviz.model.time_control import PlayMode
from flowviz.ui.chart_export import source_title, view_legend
from flowviz.ui.video_export import write_video

VIDEO_FPS = 15


def loop_plan(window: QMainWindow, *, fps: int = VIDEO_FPS) -> VideoPlan:
    """The loop range (else the current window) at the window's playback speed."""
    time = window.model.time
    if time.loop is not None:
        start_ns, end_ns = time.loop.start_ns, time.loop.end_ns
    else:
        span = time.window_ns()
        if span is None:
            raise VideoPlanError("nothing to replay yet: the window has no data")
        start_ns, end_ns = span
    return plan_video(start_ns, end_ns, speed=time.speed, fps=fps)


class _Restore:
    """Puts the window's cursor and play mode back after the export moved them."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        time = window.model.time
        self.cursor_ns, self.mode = time.cursor_ns, time.mode

    def __call__(self) -> None:
        time = self.window.model.time
        if self.cursor_ns is not None:
            time.seek(self.cursor_ns)
        if self.mode is PlayMode.PLAYING:
            time.play()
        elif self.mode is PlayMode.FOLLOWING:
            time.follow()
        self.window.view.refresh()


def video_frames(window: QMainWindow, path: str, plan: VideoPlan):
    """The export as an iterator of frame numbers (see `write_video`), with the window's look and bookmarks."""
    bookmarks = [(b.time_ns, b.name) for b in window.strip.bookmarks]
    view = window.view
    return write_video(view, plan, path, source=source_title(window), legend=view_legend(view), bookmarks=bookmarks)


def export_loop_video(window: QMainWindow, path: str, *, fps: int = VIDEO_FPS) -> int:
    """Write the loop range's video to `path` now (blocking); returns the number of frames."""
    restore = _Restore(window)
    try:
        return sum(1 for _ in video_frames(window, path, loop_plan(window, fps=fps)))
    finally:
        restore()


def ask_export_loop_video(window: QMainWindow) -> None:
    """Ask for a file, then encode frame by frame from a timer, showing progress (Cancel removes the file)."""
    try:
        plan = loop_plan(window)
    except VideoPlanError as error:
        QMessageBox.information(window, "Export video", str(error))
        return
    default = os.path.join(os.path.expanduser("~"), "flowviz-replay.mp4")
    path, _ = QFileDialog.getSaveFileName(window, "Export video", default, "MP4 video (*.mp4);;Animated GIF (*.gif)")
    if not path:
        return
    if not path.lower().endswith((".mp4", ".gif")):
        path += ".mp4"
    restore = _Restore(window)
    frames = video_frames(window, path, plan)
    progress = QProgressDialog(
        f"Writing {os.path.basename(path)}: {plan.frame_count} frames…", "Cancel", 0, plan.frame_count, window
    )
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setMinimumDuration(300)
    timer = QTimer(window)

    def finish(message: str) -> None:
        timer.stop()
        progress.close()
        restore()
        window.statusBar().showMessage(message, 10_000)

    def step() -> None:
        if progress.wasCanceled():
            frames.close()  # aborts the encoder and removes the partial file
            finish("Video export cancelled")
            return
        try:
            frame = next(frames)
        except StopIteration:
            finish(f"Wrote {path} ({plan.frame_count} frames, {plan.duration_s:.1f} s)")
            return
        except OSError as error:
            finish("Video export failed")
            QMessageBox.warning(window, "Export video", str(error))
            return
        progress.setValue(frame + 1)

    timer.timeout.connect(step)
    timer.start(0)
