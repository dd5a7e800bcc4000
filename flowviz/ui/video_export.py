"""A replay as video (MP4 or GIF): the animated chart frame by frame with a timeline cursor, the time and
captions from bookmarks, encoded by the ffmpeg that the imageio-ffmpeg package ships."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QImage, QPainter, QPen

from flowviz.chart.caption import Caption, LegendEntry, clock_text, window_caption
from flowviz.chart.video_plan import VideoPlan, caption_at
from flowviz.ui.chart_export import paint_picture, picture_margins
from flowviz.ui.chart_painter import qcolor
from flowviz.ui.flow_view import FlowChartView

VIDEO_SUFFIXES = (".mp4", ".gif")
WARMUP_S = 1.5  # particles flow this long before the first frame, so they are spread out
_ENCODER_WAIT_S = 300.0


def timeline_height(view: FlowChartView) -> int:
    return round(max(44.0, view.model.theme.label_pt * 1.33 * 3.4))


class VideoEncoder:
    """ffmpeg in a subprocess, fed raw frames on its standard input: H.264 (yuv420p, widely playable) for
    .mp4, a palette-optimised GIF for .gif. `close()` waits for it and raises OSError with ffmpeg's message
    when it failed."""

    def __init__(self, path: str, width: int, height: int, fps: int) -> None:
        import imageio_ffmpeg

        if not path.lower().endswith(VIDEO_SUFFIXES):
            raise OSError(f"{path}: a video is written as .mp4 or .gif")
        if width % 2 or height % 2:
            raise OSError(f"a video needs an even width and height, not {width}x{height}")
        self.path, self.width, self.height = path, width, height
        self.frames = 0
        raw = ["-f", "rawvideo", "-pix_fmt", "bgra", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
        if path.lower().endswith(".gif"):
            encode = [
                "-filter_complex",
                "[0:v]split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=4",
                "-loop",
                "0",
            ]
        else:
            encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "20"]
            encode += ["-movflags", "+faststart"]
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *raw, "-an", *encode, path]
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 -- ffmpeg's stderr, read on failure; closed in close()
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._errors)

    def write(self, image: QImage) -> None:
        frame = image.convertToFormat(QImage.Format.Format_RGB32)  # bytes B, G, R, 255 on little-endian machines
        if frame.width() >= self.width and frame.height() >= self.height:
            frame = frame.copy(0, 0, self.width, self.height)  # an odd pixel off: H.264 wants even sizes
        if (frame.width(), frame.height()) != (self.width, self.height):
            raise OSError(f"frame {frame.width()}x{frame.height()} differs from the video's {self.width}x{self.height}")
        try:
            self._process.stdin.write(bytes(frame.constBits()))
        except BrokenPipeError:
            raise OSError(f"could not write {self.path}: {self._message()}") from None
        self.frames += 1

    def _message(self) -> str:
        self._errors.seek(0)
        text = self._errors.read().decode(errors="replace").strip()
        return text.splitlines()[-1] if text else "ffmpeg stopped"

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        try:
            code = self._process.wait(timeout=_ENCODER_WAIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            raise OSError(f"could not write {self.path}: ffmpeg took longer than {_ENCODER_WAIT_S:.0f} s") from None
        message = self._message() if code != 0 else ""
        self._errors.close()
        if code != 0:
            raise OSError(f"could not write {self.path}: {message}")

    def abort(self) -> None:
        """Stop encoding and remove the partial file."""
        self._process.kill()
        self._process.wait()
        self._errors.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def _paint_timeline(painter: QPainter, view: FlowChartView, plan: VideoPlan, frame: int, top: float, bookmarks):
    """The range as a track, the played part in the selection colour, the cursor, bookmark ticks, the time."""
    theme = view.model.theme
    width, height = view.width(), timeline_height(view)
    painter.fillRect(QRectF(0, top, width, height), qcolor(theme.background))
    font = QFont(theme.font_family)
    font.setPixelSize(max(9, round(theme.label_pt * 1.33 * 1.05)))
    font.setBold(True)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    cursor = int(plan.cursor_ns[frame])
    time_text = f"{clock_text(cursor)} UTC"
    speed_text = f"{plan.speed:g}×"
    left = 14 + metrics.horizontalAdvance("00:00:00 UTC") + 16
    right = width - 14 - metrics.horizontalAdvance(speed_text) - 16
    middle = top + height / 2
    text_flags = int(Qt.AlignmentFlag.AlignVCenter) | int(Qt.TextFlag.TextDontClip)
    painter.setPen(qcolor(theme.text))
    painter.drawText(QRectF(14, top, left, height), text_flags | int(Qt.AlignmentFlag.AlignLeft), time_text)
    painter.setPen(qcolor(theme.text_dim))
    painter.drawText(QRectF(right + 16, top, width, height), text_flags | int(Qt.AlignmentFlag.AlignLeft), speed_text)
    span = max(plan.end_ns - plan.start_ns, 1)

    def x_of(time_ns: int) -> float:
        return left + (right - left) * min(max((time_ns - plan.start_ns) / span, 0.0), 1.0)

    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(qcolor(theme.grid)))
    painter.drawRoundedRect(QRectF(left, middle - 3, right - left, 6), 3, 3)
    painter.setBrush(QBrush(qcolor(theme.selection, 170)))
    painter.drawRoundedRect(QRectF(left, middle - 3, x_of(cursor) - left, 6), 3, 3)
    for time_ns, _name in bookmarks:
        if plan.start_ns <= time_ns <= plan.end_ns:
            painter.setPen(QPen(qcolor(theme.degraded), 2))
            painter.drawLine(QLineF(x_of(time_ns), middle - 9, x_of(time_ns), middle + 9))
    painter.setPen(QPen(qcolor(theme.background), 2))
    painter.setBrush(QBrush(qcolor(theme.selection)))
    painter.drawEllipse(QPointF(x_of(cursor), middle), 7, 7)


def _paint_bookmark_caption(painter: QPainter, view: FlowChartView, text: str, chart_bottom: float) -> None:
    """A bookmark's name in large type over the bottom of the chart."""
    theme = view.model.theme
    font = QFont(theme.font_family)
    font.setPixelSize(max(14, round(theme.label_pt * 1.33 * 2.0)))
    font.setBold(True)
    metrics = QFontMetricsF(font)
    box_w = metrics.horizontalAdvance(text) + 40
    box_h = metrics.height() + 18
    box = QRectF((view.width() - box_w) / 2, chart_bottom - box_h - 18, box_w, box_h)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(qcolor(theme.degraded), 2))
    painter.setBrush(QBrush(qcolor(theme.label_background, 235)))
    painter.drawRoundedRect(box, 8, 8)
    painter.setFont(font)
    painter.setPen(qcolor(theme.text))
    painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)


def frame_image(
    view: FlowChartView,
    plan: VideoPlan,
    frame: int,
    *,
    source: str,
    legend: list[LegendEntry],
    bookmarks: Sequence[tuple[int, str]],
    with_caption: bool = True,
) -> QImage:
    """One frame as the view shows it now: header (source, the window at the cursor), chart, bookmark caption,
    legend, timeline."""
    window = view.model.time.window_ns()
    caption: Caption | None = window_caption(source, *window) if with_caption and window else None
    header, legend_h = picture_margins(view, caption, legend, view.width())
    chart_bottom = header + view.height()
    image = QImage(view.width(), round(chart_bottom + legend_h) + timeline_height(view), QImage.Format.Format_RGB32)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    paint_picture(painter, view, caption, legend)
    text = caption_at(plan, frame, bookmarks)
    if text:
        _paint_bookmark_caption(painter, view, text, chart_bottom)
    _paint_timeline(painter, view, plan, frame, round(chart_bottom + legend_h), bookmarks)
    painter.end()
    return image


def chart_height_for(view: FlowChartView, height: int, *, source: str, legend: list[LegendEntry], captions: bool):
    """The chart's height in a video frame `height` pixels tall (the rest: header, legend, timeline)."""
    window = view.model.time.window_ns() or (0, 1)
    caption = window_caption(source, *window) if captions else None
    header, legend_h = picture_margins(view, caption, legend, view.width())
    return max(64, round(height - header - legend_h - timeline_height(view)))


def play_frames(view: FlowChartView, plan: VideoPlan) -> Iterator[int]:
    """Move the view's model through the plan: before yielding frame k the cursor is at `plan.cursor_ns[k]`,
    the chart refreshed and the particles moved on by one frame's time."""
    model = view.model
    model.time.pause()
    dt_s = 1.0 / plan.fps
    for frame, cursor_ns in enumerate(plan.cursor_ns.tolist()):
        model.time.seek(cursor_ns)
        model.refresh()
        if frame == 0:
            for _ in range(round(WARMUP_S * plan.fps)):
                model.particles.step(dt_s)
        model.particles.step(dt_s)
        yield frame


def write_video(
    view: FlowChartView,
    plan: VideoPlan,
    path: str,
    *,
    source: str,
    legend: list[LegendEntry],
    bookmarks: Sequence[tuple[int, str]] = (),
    with_caption: bool = True,
) -> Iterator[int]:
    """Encode the plan to `path`, yielding after each frame (so a window can show progress and stay
    responsive); the file is complete when the iteration ends. Closing the iterator early aborts and
    removes the partial file."""
    encoder: VideoEncoder | None = None
    try:
        for frame in play_frames(view, plan):
            image = frame_image(
                view, plan, frame, source=source, legend=legend, bookmarks=bookmarks, with_caption=with_caption
            )
            if encoder is None:
                encoder = VideoEncoder(path, image.width() // 2 * 2, image.height() // 2 * 2, plan.fps)
            encoder.write(image)
            yield frame
    except BaseException:
        if encoder is not None:
            encoder.abort()
        raise
    if encoder is not None:
        encoder.close()
