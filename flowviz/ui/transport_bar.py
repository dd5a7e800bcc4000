"""Play controls under the chart: play/pause, steps, live, speed, window length, loop, bookmark, time label."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from flowviz.model.time_control import PlayMode, TimeControl
from flowviz.model.time_spec import format_time_ns


def describe_window(window_s: float) -> str:
    return f"{window_s / 60:g} min" if window_s >= 120 else f"{window_s:g} s"


class TransportBar(QWidget):
    """Buttons that send commands to `time`; `update_labels()` shows its state (called by the window)."""

    bookmark_requested = Signal()
    loop_requested = Signal()

    def __init__(self, time: TimeControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.time = time
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)

        def button(text: str, tip: str, action) -> QPushButton:
            widget = QPushButton(text, self)
            widget.setToolTip(tip)
            widget.clicked.connect(action)
            layout.addWidget(widget)
            return widget

        button("|◀", "Start (Home)", time.home)
        button("◀", "One step back (←; Shift+← ten)", lambda: time.step(-1))
        self.play_button = button("▶", "Play / pause (Space)", time.toggle_play)
        button("▶|", "One step forward (→; Shift+→ ten)", lambda: time.step(+1))
        self.live_button = button("Live", "Back to live / the end (End)", time.follow)
        button("−", "Slower (-)", time.slower)
        self.speed_label = QLabel(self)
        layout.addWidget(self.speed_label)
        button("+", "Faster (+)", time.faster)
        button("[", "Shorter window ([)", time.shorter_window)
        self.window_label = QLabel(self)
        layout.addWidget(self.window_label)
        button("]", "Longer window (])", time.longer_window)
        self.loop_button = button(
            "Loop", "Loop the current window, or stop looping (L; Shift+drag on the timeline)", self.loop_requested.emit
        )
        button("Bookmark", "Name this moment (B)", self.bookmark_requested.emit)
        layout.addStretch(1)
        self.time_label = QLabel(self)
        layout.addWidget(self.time_label)
        self.update_labels()

    def update_labels(self) -> None:
        time = self.time
        self.play_button.setText("⏸" if time.mode is PlayMode.PLAYING else "▶")
        self.speed_label.setText(f"{time.speed:g}×")
        self.window_label.setText(describe_window(time.window_s))
        self.loop_button.setText("Loop ✓" if time.loop else "Loop")
        behind = time.behind_live_s()
        if time.cursor_ns is None:
            self.time_label.setText("waiting for data…")
            return
        moment = format_time_ns(time.cursor_ns)
        if time.mode is PlayMode.FOLLOWING:
            state = "● LIVE"
        elif time.live and behind is not None:
            state = f"{'playing' if time.mode is PlayMode.PLAYING else 'paused'} · {behind:,.0f} s behind live"
        else:
            state = "playing" if time.mode is PlayMode.PLAYING else "paused"
        self.time_label.setText(f"{state}   {moment}")
