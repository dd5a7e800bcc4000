"""Memory is bounded by budgets, not by the input: many services, times spread over centuries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson

from flowviz.store.operation_stats import DEFAULT_OPERATION_BUDGET_BYTES, OperationStats

T0 = 1_700_000_000_000_000_000


def test_150_000_services_stay_within_the_operation_budget_and_late_calls_do_not_crash() -> None:
    stats = OperationStats()
    count = 150_000
    times = np.full(count, T0, np.int64)
    stats.add(times, np.arange(count), np.full(count, 5), np.full(count, 1_000), np.zeros(count, bool))
    # calls older than anything kept (all dropped) used to leave no cells: "need at least one array"
    stats.add(times[:10] - 10**12, np.arange(10), np.full(10, 5), np.full(10, 1_000), np.zeros(10, bool))
    assert stats.memory_bytes() <= DEFAULT_OPERATION_BUDGET_BYTES
    names, errors, histogram = stats.operations(5, 0, 1 << 62)
    assert names == [5]
    assert int(histogram.sum()) == 2  # the call of now and the older one
    assert errors.tolist() == [0]


def _spread_capture(path: Path) -> int:
    rng = np.random.default_rng(1)
    starts = rng.integers(1, (1 << 63) - 10**12, 150)
    lines = []
    for i, start in enumerate(starts.tolist()):
        span = {"traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}", "name": "op", "kind": 2}
        span |= {"startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 500)}
        resource = {"attributes": [{"key": "service.name", "value": {"stringValue": f"svc-{i % 5}"}}]}
        lines.append(orjson.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)


_REPORT = """
import sys, orjson, contextlib, io
from flowviz.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["report", sys.argv[1], "--json", "--service", "svc-1"])
report = orjson.loads(out.getvalue())
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(code, sum(n["requests"] for n in report["nodes"]), peak_kib // 1024)
"""


def test_150_spans_spread_over_1970_to_2262_take_little_memory(tmp_path: Path) -> None:
    """The issue measured 1.2 GB for this 46 kB file (a bucket per second of the range)."""
    path = tmp_path / "spread.jsonl"
    spans = _spread_capture(path)
    done = subprocess.run([sys.executable, "-c", _REPORT, str(path)], capture_output=True, text=True, timeout=120)
    code, requests, peak_mib = (int(x) for x in done.stdout.split())
    assert (code, requests) == (0, spans)
    assert peak_mib < 300, done.stderr[-2000:]
