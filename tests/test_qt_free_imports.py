"""The data side of flowviz imports without Qt: every module of the headless packages, found by walking them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QT_FREE_PACKAGES = (
    "flowviz.model",
    "flowviz.decoders",
    "flowviz.sources",
    "flowviz.derive",
    "flowviz.store",
    "flowviz.analysis",
    "flowviz.bench",
    "flowviz.commands",
    "flowviz.chart",
    "flowviz.layout",
    "flowviz.sim",
)

_SCRIPT = textwrap.dedent(
    """
    import importlib
    import pkgutil
    import sys

    for blocked in ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "PySide2"):
        sys.modules[blocked] = None  # any import of these now raises ImportError

    imported = []
    for package_name in sys.argv[1:]:
        package = importlib.import_module(package_name)
        imported.append(package_name)
        for module in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(module.name)
            imported.append(module.name)
    qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"))
    assert not [m for m in qt if sys.modules[m] is not None], qt
    print("\\n".join(imported))
    """
)


def test_headless_packages_import_without_qt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *QT_FREE_PACKAGES],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split())
    on_disk = {
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for package in QT_FREE_PACKAGES
        for path in (REPO / package.replace(".", "/")).rglob("*.py")
    }
    assert on_disk <= imported, sorted(on_disk - imported)
    assert "flowviz.sources.capture_file" in imported
    assert "flowviz.analysis.report" in imported
