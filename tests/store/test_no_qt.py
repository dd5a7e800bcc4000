"""The store is Qt-free: it imports and works with PySide6 blocked."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_store_imports_without_pyside6() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["PySide6"] = None  # any `import PySide6...` now fails
        import numpy as np
        import flowviz.store
        from flowviz.bench.store_memory import measure_store_memory
        from flowviz.store.rolling_store import RollingStore
        from flowviz.model.observations import EdgeObservations
        store = RollingStore()
        store.ingest(EdgeObservations.from_columns(
            ("", "a", "b"), source=np.array([1]), target=2, source_kind=0, target_kind=0, connection_type=0,
            via=0, time_ns=0, latency_ns=5, failed=False))
        assert store.query(0, 10**9).edge_requests.tolist() == [1]
        qt = ("PySide6", "pyqtgraph", "shiboken")
        assert not [name for name, module in sys.modules.items() if module and name.startswith(qt)]
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
