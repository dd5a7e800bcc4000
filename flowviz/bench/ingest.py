"""`flowviz bench ingest`: spans/s per format against bare parsing, the whole pipeline, and the store's memory."""

from __future__ import annotations

import compileall
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from flowviz.bench.encode import jaeger_json_document, otlp_json_lines, otlp_proto_frames, zipkin_json_traces
from flowviz.bench.synthetic import synthetic_traces
from flowviz.model.problems import Problems
from flowviz.sources.capture_file import CaptureReader
from flowviz.sources.pipeline import IngestPipeline, load_captures
from flowviz.store.rolling_store import RollingStore

REPEATS = 3


class IngestBenchFailed(Exception):
    """A process the benchmark started did not finish its run (it crashed or was killed): what and how."""


def _run_checked(command: list[str], what: str, *, keep_output: bool = True) -> subprocess.CompletedProcess:
    """`subprocess.run(command)` that raises `IngestBenchFailed` naming `what` when the process fails."""
    stdout = subprocess.PIPE if keep_output else subprocess.DEVNULL
    done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE)
    if done.returncode != 0:
        last = (done.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
        raise IngestBenchFailed(f"{what} ended with code {done.returncode}" + (f": {last[0]}" if last else ""))
    return done


def _best_cpu_seconds(work: Callable[[], object], repeats: int = REPEATS) -> float:
    """Least process CPU time of `repeats` runs: one core's cost, unaffected by other processes."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def _decode_all(path: Path) -> int:
    return sum(len(batch) for batch in CaptureReader(path, problems=Problems()))


def _bare_json_lines(data: bytes) -> Callable[[], None]:
    lines = data.splitlines()

    def parse() -> None:
        for line in lines:
            orjson.loads(line)  # parsed and dropped, as a decoder that extracts and moves on

    return parse


def _bare_protobuf_frames(data: bytes) -> Callable[[], None]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    frames, offset = [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        frames.append(data[offset + 4 : offset + 4 + length])
        offset += 4 + length

    def parse() -> None:
        for frame in frames:
            ExportTraceServiceRequest.FromString(frame)

    return parse


def _format_case(name: str, path: Path, bare: Callable[[], None], bare_label: str, spans: int) -> dict:
    decoded = _decode_all(path)
    seconds = _best_cpu_seconds(lambda: _decode_all(path))
    bare_seconds = _best_cpu_seconds(bare)
    return {
        "format": name,
        "spans": decoded,
        "bytes": path.stat().st_size,
        "seconds": round(seconds, 4),
        "spans_per_s": round(decoded / seconds),
        "bare_parse": bare_label,
        "bare_seconds": round(bare_seconds, 4),
        "ratio_to_bare": round(seconds / bare_seconds, 2),
        "generated_spans": spans,
    }


def _pipeline_case(path: Path) -> dict:
    def run() -> int:
        problems = Problems()
        return load_captures([path], IngestPipeline(RollingStore(problems=problems), problems=problems)).spans

    spans = run()
    seconds = _best_cpu_seconds(run)
    return {
        "format": "otlp_json_lines",
        "spans": spans,
        "seconds": round(seconds, 4),
        "spans_per_s": round(spans / seconds),
    }


def _wall_seconds(*works: Callable[[], object], repeats: int = REPEATS) -> list[tuple[float, float, float]]:
    """For each of `works`: its least wall time over `repeats` runs, and the CPU time of that run in this process
    and in its (finished) worker processes. The works take turns (a, b, a, b, ...), so a machine whose speed
    drifts (a virtual machine's neighbours) slows them alike."""
    best = [(float("inf"), 0.0, 0.0)] * len(works)
    for _ in range(repeats):
        for index, work in enumerate(works):
            own_start, workers_start = _cpu_seconds()
            start = time.perf_counter()
            work()
            wall = time.perf_counter() - start
            own_end, workers_end = _cpu_seconds()
            if wall < best[index][0]:
                best[index] = (wall, own_end - own_start, workers_end - workers_start)
    return best


def _cpu_seconds() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def ingest_capture(path: str, workers: int = 1) -> int:
    """Decode, derive and store one capture into a fresh store; its span count."""
    problems = Problems()
    pipeline = IngestPipeline(RollingStore(problems=problems), problems=problems)
    return load_captures([path], pipeline, workers=workers).spans


_COPY_SCRIPT = """
import sys, time
from flowviz.bench.ingest import ingest_capture
ingest_capture(sys.argv[1])  # warm: imports, caches, the file in the page cache
print("ready", flush=True)
sys.stdin.readline()
start = time.perf_counter()
ingest_capture(sys.argv[1])
print(time.perf_counter() - start, flush=True)
"""


def machine_ceiling(path: Path, copies: int, repeats: int = REPEATS) -> dict:
    """What `copies` processes gain on this machine when they share nothing: each ingests the whole capture in
    one process, all started at once, against one alone (best of `repeats`). `ceiling` = copies x alone / the
    slowest copy: the speedup of perfectly parallel work, what a virtual machine's cores, a shared cache and
    memory bandwidth allow. A scaling figure is judged against it."""

    def together(count: int) -> float:
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", _COPY_SCRIPT, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        try:
            for process in processes:
                if process.stdout.readline().strip() != "ready":
                    raise IngestBenchFailed(f"a one-process copy of the ingest of {path} ended before it was ready")
            for process in processes:
                process.stdin.write("go\n")
                process.stdin.flush()
            answers = [process.stdout.readline().strip() for process in processes]
            try:
                return max(map(float, answers))
            except ValueError:
                raise IngestBenchFailed(f"a one-process copy of the ingest of {path} ended without its time") from None
        finally:
            for process in processes:
                process.stdin.close()
                process.wait()

    alone = both = float("inf")
    for _ in range(repeats):  # in turns, as `_wall_seconds`
        alone, both = min(alone, together(1)), min(both, together(copies))
    return {
        "copies": copies,
        "seconds_alone": round(alone, 3),
        "seconds_together": round(both, 3),
        "ceiling": round(copies * alone / both, 2),
    }


def measure_scaling(path: str, workers: int) -> dict:
    """decode + derive + store of one capture with 1 and with `workers` decoding processes: wall time, and CPU
    time of this process (deriving, storing) and of the decoders. On a busy machine wall time says little; the
    CPU times give `cpu_bound_speedup`, the speedup on an otherwise idle machine: one process's time over the
    longest of this process's time, one decoder's share and the machine's cores' share of all the work. Run in
    a process of its own
    (`_scaling_case`): forked decoders of a process that holds much memory pay for copying its pages."""

    def run(count: int) -> int:
        return ingest_capture(path, count)

    cores = os.cpu_count() or 1
    spans = run(1)
    (one_s, one_cpu_s, _), (many_s, main_cpu_s, decoders_cpu_s) = _wall_seconds(lambda: run(1), lambda: run(workers))
    return {
        "spans": spans,
        "workers": workers,
        "seconds_1": round(one_s, 3),
        "seconds_n": round(many_s, 3),
        "cpu_seconds_1": round(one_cpu_s, 3),
        "main_cpu_seconds_n": round(main_cpu_s, 3),
        "decoders_cpu_seconds_n": round(decoders_cpu_s, 3),
        "spans_per_s_1": round(spans / one_s),
        "spans_per_s_n": round(spans / many_s),
        "speedup": round(one_s / many_s, 2),
        "cpu_bound_speedup": round(
            one_cpu_s / max(main_cpu_s, decoders_cpu_s / workers, (main_cpu_s + decoders_cpu_s) / cores), 2
        ),
    }


def _scaling_case(name: str, path: Path, workers: int) -> dict:
    script = (
        "import sys, orjson; from flowviz.bench.ingest import measure_scaling; "
        "sys.stdout.buffer.write(orjson.dumps(measure_scaling(sys.argv[1], int(sys.argv[2]))))"
    )
    done = _run_checked([sys.executable, "-c", script, str(path), str(workers)], f"the scaling run of {path}")
    case = {"format": name, **orjson.loads(done.stdout)}
    case["machine"] = machine_ceiling(path, workers)
    case["of_ceiling"] = round(case["speedup"] / case["machine"]["ceiling"], 2)
    return case


_BARE_SCRIPT = """
import sys, orjson
data = open(sys.argv[1], "rb").read()
if sys.argv[2] == "proto":
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    offset = 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        ExportTraceServiceRequest.FromString(data[offset + 4 : offset + 4 + length])
        offset += 4 + length
else:
    for line in data.splitlines():
        orjson.loads(line)
"""


def _read_through(path: Path) -> None:
    """Read the file once, so the next process finds it in the page cache (a virtual machine that reclaims
    memory drops it between runs, and a process that reads it from disk measures the disk)."""
    with path.open("rb") as file:
        while file.read(8 << 20):
            pass


def compiled_bytecode() -> bool:
    """Write flowviz's cached bytecode (`__pycache__`) if it is missing, as a wheel install does, so a whole-process
    run measures the installed program and not the compiling of its modules from source. An editable install run
    with PYTHONDONTWRITEBYTECODE set has none: each `flowviz report` compiled its ~100 modules (0.1 s on 2 vCPUs)
    while the bare parsing's protobuf modules came compiled from site-packages. False: the package is read-only."""
    package = Path(__file__).resolve().parents[1]
    return bool(compileall.compile_dir(package, quiet=2, workers=1))


def _process_seconds(*commands: list[str], path: Path, repeats: int = REPEATS) -> list[tuple[float, float]]:
    """For each of `commands`: the least wall time of its whole process (start, imports, work, exit), and the
    CPU time of that run (the process and the decoders it started). The commands take turns, as `_wall_seconds`,
    each after the capture at `path` was read through once."""

    def run(command: list[str]) -> None:
        _run_checked(command, " ".join(command[:4]) + " ...", keep_output=False)

    best = [(float("inf"), 0.0)] * len(commands)
    for _ in range(repeats):
        for index, command in enumerate(commands):
            _read_through(path)
            cpu_start = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            run(command)
            wall = time.perf_counter() - start
            cpu_end = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = cpu_end.ru_utime + cpu_end.ru_stime - cpu_start.ru_utime - cpu_start.ru_stime
            if wall < best[index][0]:
                best[index] = (wall, cpu)
    return best


def _report_case(name: str, path: Path, bare_kind: str, workers: int, spans: int) -> dict:
    """`flowviz report --json` of a capture against a process that only parses it (orjson / protobuf)."""
    report = [sys.executable, "-m", "flowviz.cli", "report", "--json", str(path), "--workers"]
    (bare_s, bare_cpu_s), (one_s, one_cpu_s), (many_s, many_cpu_s) = _process_seconds(
        [sys.executable, "-c", _BARE_SCRIPT, str(path), bare_kind], [*report, "1"], [*report, str(workers)], path=path
    )
    return {
        "format": name,
        "spans": spans,
        "bare_process_seconds": round(bare_s, 3),
        "report_seconds_1": round(one_s, 3),
        "report_seconds_n": round(many_s, 3),
        "workers": workers,
        "ratio_to_bare_1": round(one_s / bare_s, 2),
        "ratio_to_bare_n": round(many_s / bare_s, 2),
        "bare_cpu_seconds": round(bare_cpu_s, 3),
        "report_cpu_seconds_1": round(one_cpu_s, 3),
        "report_cpu_seconds_n": round(many_cpu_s, 3),
    }


def _report_cases(files: dict[str, Path], workers: int, spans: int) -> list[dict]:
    return [
        _report_case("otlp_proto_frames", files["otlp_proto_frames"], "proto", workers, spans),
        _report_case("otlp_json_lines", files["otlp_json_lines"], "json", workers, spans),
    ]


def _large_report_cases(root: Path, workers: int, spans: int) -> list[dict]:
    """The whole-process cases on a capture of `spans` spans (a large one: a process's fixed start weighs
    less), written only for them."""
    traces = list(synthetic_traces(spans=spans, seed=2))
    files = {"otlp_proto_frames": root / "large.pb", "otlp_json_lines": root / "large.jsonl"}
    files["otlp_proto_frames"].write_bytes(otlp_proto_frames(traces))
    files["otlp_json_lines"].write_bytes(otlp_json_lines(traces))
    del traces
    return _report_cases(files, workers, spans)


def run_ingest_bench(
    *, spans: int = 200_000, quick: bool = False, workers: int | None = None, report_spans: int = 0
) -> dict:
    """All ingest figures as one JSON-ready dict (targets from issue 2 alongside). With `workers`: also the
    scaling of decode + derive + store and of the whole `flowviz report` process with that many decoders, on the
    `spans` captures and (with `report_spans`) on captures of that many spans."""
    from flowviz.bench.store_memory import measure_store_memory

    traces = list(synthetic_traces(spans=spans, seed=1))
    with tempfile.TemporaryDirectory(prefix="flowviz-bench-") as folder:
        root = Path(folder)
        files = {
            "otlp_json_lines": root / "spans.jsonl",
            "otlp_proto_frames": root / "spans.pb",
            "jaeger_json": root / "jaeger.json",
            "zipkin_json": root / "zipkin.json",
        }
        files["otlp_json_lines"].write_bytes(otlp_json_lines(traces))
        files["otlp_proto_frames"].write_bytes(otlp_proto_frames(traces))
        files["jaeger_json"].write_bytes(orjson.dumps(jaeger_json_document(traces)))
        files["zipkin_json"].write_bytes(orjson.dumps(zipkin_json_traces(traces)))
        data = {name: path.read_bytes() for name, path in files.items()}
        formats = [
            _format_case(
                "otlp_json_lines",
                files["otlp_json_lines"],
                _bare_json_lines(data["otlp_json_lines"]),
                "orjson.loads per line",
                spans,
            ),
            _format_case(
                "otlp_proto_frames",
                files["otlp_proto_frames"],
                _bare_protobuf_frames(data["otlp_proto_frames"]),
                "ExportTraceServiceRequest.FromString per frame",
                spans,
            ),
            _format_case(
                "jaeger_json",
                files["jaeger_json"],
                lambda: orjson.loads(data["jaeger_json"]),
                "orjson.loads of the document",
                spans,
            ),
            _format_case(
                "zipkin_json",
                files["zipkin_json"],
                lambda: orjson.loads(data["zipkin_json"]),
                "orjson.loads of the document",
                spans,
            ),
        ]
        pipeline = _pipeline_case(files["otlp_json_lines"])
        scaling = (
            {
                "cases": [
                    _scaling_case("otlp_proto_frames", files["otlp_proto_frames"], workers),
                    _scaling_case("otlp_json_lines", files["otlp_json_lines"], workers),
                ],
                "bytecode_cached": compiled_bytecode(),
                "report": _report_cases(files, workers, spans)
                + (_large_report_cases(root, workers, report_spans) if report_spans else []),
                "cores": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "measured_with": "wall time, best of 3 (other processes on the machine slow it down)",
            }
            if workers
            else None
        )
    store = (
        measure_store_memory(services=200, edges=1000, retention_s=300)
        if quick
        else measure_store_memory(services=2000, edges=10_000, retention_s=3600)
    )
    figures = {
        "ingest": formats,
        "pipeline": pipeline,
        "store": store,
        "targets": {
            "otlp_json_lines_spans_per_s": 150_000,
            "otlp_json_lines_ratio_to_bare": 2.0,
            "otlp_proto_spans_per_s": 400_000,
            "store_memory_mib_at_2000_services_10000_edges_1h": 1024,
        },
        "measured_with": "process CPU time (one core), best of 3",
    }
    if scaling is not None:
        figures["scaling"] = scaling
        figures["targets"].update(
            speedup_with_2_workers=1.6, report_proto_ratio_to_bare=3.0, report_json_ratio_to_bare=1.5
        )
    return figures


def format_figures(figures: dict) -> str:
    """A readable table of `run_ingest_bench`'s figures."""
    lines = [f"{'format':20} {'spans':>8} {'spans/s':>10} {'bare s':>8} {'ratio':>6}"]
    for case in figures["ingest"]:
        lines.append(
            f"{case['format']:20} {case['spans']:>8} {case['spans_per_s']:>10} {case['bare_seconds']:>8} "
            f"{case['ratio_to_bare']:>6}"
        )
    pipeline = figures["pipeline"]
    lines.append(f"pipeline (decode+derive+store, {pipeline['format']}): {pipeline['spans_per_s']} spans/s")
    scaling = figures.get("scaling")
    for case in scaling["cases"] if scaling else []:
        lines.append(
            f"{case['format']}, decode+derive+store: {case['spans_per_s_1']} spans/s with 1 process, "
            f"{case['spans_per_s_n']} with {case['workers']} -> {case['speedup']}x "
            f"(CPU-bound: {case['cpu_bound_speedup']}x); {case['workers']} independent one-process copies on this "
            f"machine: {case['machine']['ceiling']}x, so {round(100 * case['of_ceiling'])} % of what it allows"
        )
    for case in scaling["report"] if scaling else []:
        lines.append(
            f"flowviz report, {case['format']}, {case['spans']} spans: {case['report_seconds_1']} s (1 process), "
            f"{case['report_seconds_n']} s "
            f"({case['workers']}); bare parsing {case['bare_process_seconds']} s -> {case['ratio_to_bare_1']}x, "
            f"{case['ratio_to_bare_n']}x"
        )
    if scaling:
        cached = "" if scaling["bytecode_cached"] else "; flowviz's bytecode could not be cached: starts compile it"
        lines.append(f"(load average {scaling['load_average_1m']} on {scaling['cores']} cores{cached})")
    store = figures["store"]
    lines.append(
        f"store: {store['services']} services, {store['edges']} edges, {store['retention_s']} s -> "
        f"{store['memory_mib']} MiB"
    )
    return "\n".join(lines)
