"""The layout is Qt-free: it imports and works with PySide6 blocked."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_layout_imports_without_pyside6() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["PySide6"] = None  # any `import PySide6...` now fails
        import numpy as np
        import flowviz.layout
        import flowviz.bench.layout
        from flowviz.layout import FlowLayout
        result = FlowLayout().update(["a", "b"], np.array([0]), np.array([1]))
        assert result.positions[1, 0] > result.positions[0, 0]
        loaded = [name for name in sys.modules if sys.modules[name]]
        assert not any(name.startswith(("PySide6", "pyqtgraph", "shiboken")) for name in loaded)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
