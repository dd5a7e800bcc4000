"""Play controls under the chart: play/pause, steps, live, speed, window length, loop, bookmark, time label."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QToolButton, QWidget

from flowviz.model.time_control import PlayMode, TimeControl
from flowviz.model.time_spec import format_duration_s, format_time_ns
from flowviz.ui.flow_layout import FlowLayout
from flowviz.ui.transport_icons import transport_icon


class TransportBar(QWidget):
    """Buttons that send commands to `time`; `update_labels()` shows its state (called by the window).
    In a narrow window the controls wrap onto a second row instead of being cut off."""

    bookmark_requested = Signal()
    loop_requested = Signal()

    def __init__(self, time: TimeControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.time = time
        layout = FlowLayout(self, spacing_px=4)
        layout.setContentsMargins(6, 2, 6, 2)
        self._icons: dict[QToolButton, str] = {}

        def button(text: str, tip: str, action, *, icon: str | None = None) -> QToolButton:
            widget = QToolButton(self)
            widget.setText(text)
            widget.setToolTip(tip)
            widget.setAutoRaise(False)
            widget.clicked.connect(action)
            if icon is not None:
                self._icons[widget] = icon
                widget.setAccessibleName(text)
            layout.addWidget(widget)
            return widget

        button("Start", "Start (Home)", time.home, icon="start")
        button("Back", "One step back (←; Shift+← ten)", lambda: time.step(-1), icon="back")
        self.play_button = button("Play", "Play / pause (Space)", time.toggle_play, icon="play")
        button("Forward", "One step forward (→; Shift+→ ten)", lambda: time.step(+1), icon="forward")
        self.live_button = button("Live", "Back to live / the end (End)", time.follow)
        button("−", "Slower (-)", time.slower)
        self.speed_label = QLabel(self)
        self.speed_label.setToolTip("Replay speed")
        layout.addWidget(self.speed_label)
        button("+", "Faster (+)", time.faster)
        button("[", "Shorter window ([)", time.shorter_window)
        self.window_label = QLabel(self)
        self.window_label.setToolTip("Window length: how much time the chart aggregates")
        layout.addWidget(self.window_label)
        button("]", "Longer window (])", time.longer_window)
        self.loop_button = button(
            "Loop", "Loop the current window, or stop looping (L; Shift+drag on the timeline)", self.loop_requested.emit
        )
        button("Bookmark", "Name this moment (B)", self.bookmark_requested.emit)
        self.time_label = QLabel(self)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout.add_stretching_widget(self.time_label)
        self._paint_icons()
        self.update_labels()

    def _paint_icons(self) -> None:
        color = self.palette().color(QPalette.ColorRole.ButtonText)
        for widget, name in self._icons.items():
            shown = "pause" if widget is self.play_button and self.time.mode is PlayMode.PLAYING else name
            widget.setIcon(transport_icon(shown, color))
            widget.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and self._icons:
            self._paint_icons()
        super().changeEvent(event)

    def update_labels(self) -> None:
        time = self.time
        playing = time.mode is PlayMode.PLAYING
        if self.play_button.text() != ("Pause" if playing else "Play"):
            self.play_button.setText("Pause" if playing else "Play")
            self.play_button.setAccessibleName(self.play_button.text())
            self._paint_icons()
        self.speed_label.setText(f"{time.speed:g}×")
        self.window_label.setText(format_duration_s(time.window_s))
        self.loop_button.setText("Loop ✓" if time.loop else "Loop")
        behind = time.behind_live_s()
        if time.cursor_ns is None:
            self.time_label.setText("waiting for data…")
            return
        moment = format_time_ns(time.cursor_ns)
        if time.mode is PlayMode.FOLLOWING:
            state = "● LIVE"
        elif time.live and behind is not None:
            state = f"{'playing' if playing else 'paused'} · {behind:,.0f} s behind live"
        else:
            state = "playing" if playing else "paused"
        self.time_label.setText(f"{state}   {moment}")
