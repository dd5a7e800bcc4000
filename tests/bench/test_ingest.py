"""The ingest benchmark's scaling figures: spans, both runs and their speedups, as the README shows them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flowviz.bench.encode import otlp_proto_frames
from flowviz.bench.ingest import format_figures, machine_ceiling, measure_scaling
from flowviz.bench.synthetic import synthetic_traces


def test_scaling_figures_of_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "spans.pb"
    path.write_bytes(otlp_proto_frames(list(synthetic_traces(spans=3_000, seed=1))))
    case = measure_scaling(str(path), 2)
    assert case["spans"] == 3_000
    assert case["workers"] == 2
    assert case["cpu_seconds_1"] > 0
    # seconds are rounded to 1 ms and the speedup to 0.01: on a quiet machine a run takes ~10 ms, so half a
    # millisecond of rounding is several per cent
    rounding_s = 0.0005
    assert abs(case["spans_per_s_1"] * case["seconds_1"] - 3_000) <= case["spans_per_s_1"] * rounding_s + 1
    ratio = case["seconds_1"] / case["seconds_n"]
    slack = ratio * (rounding_s / case["seconds_1"] + rounding_s / case["seconds_n"]) + 0.005
    assert case["speedup"] == pytest.approx(ratio, abs=slack)
    machine = machine_ceiling(path, 2, repeats=1)
    assert machine["copies"] == 2
    assert machine["seconds_alone"] > 0
    ceiling = 2 * machine["seconds_alone"] / machine["seconds_together"]
    slack = ceiling * (rounding_s / machine["seconds_alone"] + rounding_s / machine["seconds_together"]) + 0.005
    assert machine["ceiling"] == pytest.approx(ceiling, abs=slack)
    case.update(machine=machine, of_ceiling=round(case["speedup"] / machine["ceiling"], 2))
    figures = {
        "ingest": [],
        "pipeline": {"format": "otlp_json_lines", "spans_per_s": 1},
        "store": {"services": 1, "edges": 1, "retention_s": 1, "memory_mib": 1},
        "scaling": {
            "cases": [{"format": "otlp_proto_frames", **case}],
            "report": [],
            "load_average_1m": 1.0,
            "cores": 2,
            "bytecode_cached": True,
        },
    }
    text = format_figures(figures)
    assert "(load average 1.0 on 2 cores)" in text
    figures["scaling"]["bytecode_cached"] = False
    assert "bytecode could not be cached: starts compile it)" in format_figures(figures)
    assert f"-> {case['speedup']}x (CPU-bound: {case['cpu_bound_speedup']}x)" in text
    assert f"one-process copies on this machine: {machine['ceiling']}x, so {round(100 * case['of_ceiling'])} %" in text


def test_whole_process_runs_take_turns_and_each_is_timed(tmp_path: Path) -> None:
    from flowviz.bench.ingest import _process_seconds

    capture, log = tmp_path / "capture.bin", tmp_path / "order.txt"
    capture.write_bytes(bytes(1 << 20))
    commands = [
        [sys.executable, "-c", f"open({str(log)!r}, 'a').write('{name}')" + ("; import time; time.sleep(0.2)" * slow)]
        for name, slow in (("a", 0), ("b", 1))
    ]
    (fast_s, _), (slow_s, slow_cpu_s) = _process_seconds(*commands, path=capture, repeats=2)
    assert log.read_text() == "abab"
    assert slow_s >= 0.2 > slow_cpu_s
    assert fast_s < slow_s


def test_a_copy_that_dies_is_told_not_raised_as_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import flowviz.bench.ingest as ingest
    from flowviz.cli import EXIT_NOTHING_USABLE, main

    capture = tmp_path / "spans.pb"
    capture.write_bytes(otlp_proto_frames(list(synthetic_traces(spans=500, seed=1))))
    monkeypatch.setattr(ingest, "_COPY_SCRIPT", "import sys; print('ready', flush=True); sys.exit(3)")
    with pytest.raises(ingest.IngestBenchFailed, match="ended without its time"):
        machine_ceiling(capture, 2, repeats=1)
    dying = [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
    with pytest.raises(ingest.IngestBenchFailed, match="a run ended with code 3: boom"):
        ingest._run_checked(dying, "a run")

    def failing(**_options):
        raise ingest.IngestBenchFailed("the scaling run of x ended with code 9")

    monkeypatch.setattr(ingest, "run_ingest_bench", failing)
    assert main(["bench", "ingest", "--quick"]) == EXIT_NOTHING_USABLE
    assert capsys.readouterr().err == "flowviz bench ingest: the scaling run of x ended with code 9\n"


def test_whole_process_runs_start_from_cached_bytecode() -> None:
    import importlib.util

    import flowviz.bench.ingest as ingest_module
    from flowviz.bench.ingest import compiled_bytecode

    cached = Path(importlib.util.cache_from_source(ingest_module.__file__))
    cached.unlink(missing_ok=True)
    assert compiled_bytecode() is True
    assert cached.is_file()  # written even where PYTHONDONTWRITEBYTECODE keeps imports from writing it
