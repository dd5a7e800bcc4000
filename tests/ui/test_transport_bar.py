"""The transport bar: drawn icons (no symbol glyphs), readable labels, wrapping in a narrow window."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor

from flowviz.model.time_control import PlayMode, TimeControl
from flowviz.ui.transport_bar import TransportBar
from flowviz.ui.transport_icons import ICON_NAMES, transport_icon


def test_icons_are_drawn_shapes_and_play_turns_into_pause(qtbot) -> None:
    for name in ICON_NAMES:
        image = transport_icon(name, QColor("#ff0000")).pixmap(16, 16).toImage()
        width, height = image.width(), image.height()
        alpha = np.array([[image.pixelColor(x, y).alpha() for x in range(width)] for y in range(height)])
        assert 0.15 < (alpha > 128).mean() < 0.7, name  # a filled shape, not an empty box or a blank
    time = TimeControl(live=False)
    bar = TransportBar(time)
    qtbot.addWidget(bar)
    before = bar.play_button.icon().pixmap(16, 16).toImage()
    time.mode = PlayMode.PLAYING
    bar.update_labels()
    assert bar.play_button.text() == "Pause"
    assert bar.play_button.icon().pixmap(16, 16).toImage() != before
    assert all(ord(c) < 0x2000 for c in bar.play_button.text())  # no ⏸ / ▶ glyphs a font may lack


def test_window_length_reads_in_minutes_and_seconds(qtbot) -> None:
    time = TimeControl(live=False)
    bar = TransportBar(time)
    qtbot.addWidget(bar)
    time.window_s = 598.99
    bar.update_labels()
    assert bar.window_label.text() == "9 min 59 s"


def test_a_narrow_bar_wraps_instead_of_cutting_controls_off(qtbot) -> None:
    time = TimeControl(live=False)
    bar = TransportBar(time)
    qtbot.addWidget(bar)
    wide_height = bar.layout().heightForWidth(1600)
    assert bar.minimumSizeHint().width() < 200  # the window can be narrow
    bar.resize(420, bar.layout().heightForWidth(420))
    bar.show()
    qtbot.wait(20)
    assert bar.height() > wide_height  # a second row
    for child in (bar.play_button, bar.loop_button, bar.window_label, bar.time_label):
        geometry = child.geometry()
        assert geometry.right() <= bar.width(), child
        assert geometry.bottom() <= bar.height(), child


def test_small_window_keeps_the_bar_whole_between_chart_and_timeline(qtbot) -> None:
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.main_window import MainWindow
    from flowviz.ui.windows import new_chart_model

    window = MainWindow(new_chart_model(RollingStore(), live=False, theme=None), title="small")
    qtbot.addWidget(window)
    window.resize(640, 480)
    window.show()
    qtbot.wait(50)
    assert (window.width(), window.height()) == (640, 480)
    bar, view, strip = window.transport, window.view, window.strip
    assert bar.geometry().top() >= view.geometry().bottom()  # not drawn over the chart
    assert bar.geometry().bottom() <= strip.geometry().top()
    assert bar.height() >= bar.layout().heightForWidth(bar.width())  # every row gets its height
    for child in bar.findChildren(type(bar.play_button)):
        assert bar.rect().contains(child.geometry()), child.text()


def test_bookmark_names_take_the_theme_text_colour(qtbot) -> None:
    from flowviz.chart.themes import THEMES
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.chart_painter import qcolor
    from flowviz.ui.main_window import MainWindow
    from flowviz.ui.timeline_strip import Bookmark
    from flowviz.ui.windows import new_chart_model

    window = MainWindow(new_chart_model(RollingStore(), live=False, theme="dark"), title="bookmarks")
    qtbot.addWidget(window)
    window.strip.set_bookmarks([Bookmark(1_700_000_000_000_000_000, "payments slow")])
    window.set_theme_everywhere("light")
    [line] = window.strip._bookmark_items
    assert line.label.color == qcolor(THEMES["light"].text)  # dark text on the light strip


def test_tooltips_follow_the_theme(qtbot) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QToolTip

    from flowviz.chart.themes import THEMES
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.chart_painter import qcolor
    from flowviz.ui.main_window import MainWindow
    from flowviz.ui.windows import new_chart_model

    window = MainWindow(new_chart_model(RollingStore(), live=False, theme="dark"), title="tips")
    qtbot.addWidget(window)
    for name in ("light", "dark"):
        window.set_theme_everywhere(name)
        palette = QToolTip.palette()
        assert palette.color(QPalette.ColorRole.ToolTipText) == qcolor(THEMES[name].text)
        assert palette.color(QPalette.ColorRole.ToolTipBase).rgb() == qcolor(THEMES[name].label_background).rgb()


def test_the_view_menu_keeps_its_order(qtbot) -> None:
    from flowviz.store.rolling_store import RollingStore
    from flowviz.ui.main_window import MainWindow
    from flowviz.ui.windows import new_chart_model

    window = MainWindow(new_chart_model(RollingStore(), live=False, theme=None), title="menu")
    qtbot.addWidget(window)
    window.show()

    def titles() -> list[str]:
        window.view_menu.aboutToShow.emit()
        return [a.text() for a in window.view_menu.actions() if not a.isSeparator()]

    first = titles()
    window.trace_dock.setFloating(True)  # re-parents the dock's window: Qt reorders its children
    window.trace_dock.setFloating(False)
    window.edge_dock.show()
    window.service_dock.raise_()
    assert titles() == first
    assert first.index("Service") < first.index("Edge") < first.index("Trace")
