"""Renders the icon (flowviz/resources/flowviz.svg, the one source) to the PNG sizes a Linux desktop looks
for (packaging/linux/icons/hicolor/NxN/apps/flowviz.png); run it after changing the SVG and commit the PNGs:
`QT_QPA_PLATFORM=offscreen python packaging/make_icons.py`."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
SIZES_PX = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ROOT / "flowviz" / "resources" / "flowviz.svg"))
    if not renderer.isValid():
        print("make_icons: the SVG could not be read", file=sys.stderr)
        return 1
    for size in SIZES_PX:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = ROOT / "packaging" / "linux" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "flowviz.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(target))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
