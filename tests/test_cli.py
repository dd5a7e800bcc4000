"""`flowviz report`: exit codes, --json schema, windows, problems on stderr, never a traceback for bad data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from flowviz.cli import EXIT_NOTHING_USABLE, EXIT_OK, EXIT_USAGE, main

KIALI = "otlp-protojson/kiali-istio-bookinfo-tempo-trace.json"
ENVOY = "zipkin-v2/zipkin-lens-envoy.json"
SMALL_DEPS = "jaeger-dependencies/jaeger-ui-dependencygraph-small.json"
REPO = Path(__file__).resolve().parents[1]
S = 1_000_000_000
T0 = 1_700_000_040 * S


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main(["report", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _edges(out: str) -> dict[tuple[str, str], int]:
    return {(e["source"], e["target"]): e["requests"] for e in orjson.loads(out)["edges"]}


def _minutes(path: Path, per_minute: list[int]) -> Path:
    """JSON lines: `per_minute[m]` CLIENT a -> SERVER b calls in minute m, the first at T0 + 1 s."""
    lines, trace = [], 0
    for minute, calls in enumerate(per_minute):
        resources: dict[str, list[dict]] = {"a": [], "b": []}
        for i in range(calls):
            trace += 1
            start = T0 + (minute * 60 + 1 + i) * S
            for service, span, parent, kind in (("a", 1, "", 3), ("b", 2, f"{1:016x}", 2)):
                resources[service].append(
                    {
                        "traceId": f"{trace:032x}",
                        "spanId": f"{span:016x}",
                        "parentSpanId": parent,
                        "kind": kind,
                        "startTimeUnixNano": str(start),
                        "endTimeUnixNano": str(start + 5_000_000),
                    }
                )
        lines.append(
            orjson.dumps(
                {
                    "resourceSpans": [
                        {
                            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": s}}]},
                            "scopeSpans": [{"spans": spans}],
                        }
                        for s, spans in resources.items()
                    ]
                }
            )
        )
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_text_report(captures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, captures_dir / KIALI)
    assert code == EXIT_OK
    assert out.startswith("Window: 2023-12-05T12:37:56.000Z .. 2023-12-05T12:37:57.000Z (1 s)\n")
    row = next(line for line in out.splitlines() if line.startswith("productpage.bookinfo -> details.bookinfo "))
    assert row.split()[3:6] == ["direct", "1", "0"]
    assert err == ""


def test_json_report(captures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, captures_dir / KIALI, "--json")
    assert code == EXIT_OK
    report = orjson.loads(out)
    assert {"window", "nodes", "edges", "problems"} <= set(report)
    assert set(report["window"]) == {"start", "end", "seconds"}
    assert set(report["nodes"][0]) == {"name", "kind", "requests", "errors", "p50_ms", "p95_ms", "p99_ms"}
    assert set(report["edges"][0]) == {
        "source",
        "target",
        "connection_type",
        "requests",
        "errors",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "via",
    }
    assert _edges(out) == {
        ("istio-ingressgateway.istio-system", "productpage.bookinfo"): 1,
        ("productpage.bookinfo", "details.bookinfo"): 1,
        ("productpage.bookinfo", "reviews.bookinfo"): 1,
        ("reviews.bookinfo", "ratings.bookinfo"): 1,
    }
    assert report["window"]["seconds"] == 1.0


@pytest.mark.parametrize(
    ("window", "requests"),
    [
        ((), 3 + 5 + 7 + 2),
        (("--from", "+60", "--to", "+120"), 5),
        (("--from", "+1m", "--to", "+3m"), 12),
        (("--from", "+4m"), 2),
        (("--to", "+60s"), 3),
        (("--from", "2023-11-14T22:16:00Z", "--to", "2023-11-14T22:17:00"), 7),
    ],
)
def test_windows(tmp_path: Path, capsys: pytest.CaptureFixture[str], window: tuple[str, ...], requests: int) -> None:
    capture = _minutes(tmp_path / "minutes.jsonl", [3, 5, 7, 0, 2])
    code, out, _ = _run(capsys, capture, "--json", *window)
    assert code == EXIT_OK
    assert _edges(out) == {("a", "b"): requests}


def test_skipped_problems_are_announced_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = _minutes(tmp_path / "minutes.jsonl", [3, 5, 7])
    lines = capture.read_bytes().split(b"\n")
    lines[1] = lines[1][:50]
    capture.write_bytes(b"\n".join(lines))
    code, out, err = _run(capsys, capture, "--json")
    assert code == EXIT_OK
    assert _edges(out) == {("a", "b"): 10}
    assert err.startswith(f"flowviz: skipped: json: line is not valid JSON at {capture}:2 ")
    assert orjson.loads(out)["problems"]["json: line is not valid JSON"]["count"] == 1


def test_nothing_usable_in_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "anonymous.json"
    capture.write_bytes(orjson.dumps([{"traceId": "0a", "id": "0a", "timestamp": 1, "duration": 1}]))
    code, out, err = _run(capsys, capture)
    assert code == EXIT_NOTHING_USABLE
    assert out == ""
    assert "skipped: zipkin: span without localEndpoint serviceName or address" in err
    assert err.rstrip().endswith("flowviz: nothing usable in the given captures")


def test_not_a_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n- eggs\n")
    code, out, err = _run(capsys, path, "--json")
    assert code == EXIT_NOTHING_USABLE
    assert out == ""
    (line,) = [line for line in err.splitlines() if str(path) in line]
    assert line.startswith(f"flowviz: {path}: not a trace file (tried OTLP JSON")
    assert "Zipkin v2 JSON" in line
    assert "Jaeger dependency lists" in line


def test_one_bad_file_among_good_ones(captures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    code, out, err = _run(capsys, path, captures_dir / KIALI, "--json")
    assert code == EXIT_OK
    assert len(_edges(out)) == 4
    assert f"flowviz: {path}: the file is empty" in err
    assert orjson.loads(out)["input"]["unreadable"][str(path)].startswith(f"{path}: the file is empty")


@pytest.mark.parametrize(
    "args",
    [
        ("--from", "yesterday"),
        ("--to", "+5x"),
        ("--from", "+90", "--to", "+30"),  # --to before --from
        ("--from", "+10", "--to", "+10"),
        ("--to", "9999-12-31"),  # beyond int64 nanoseconds
        ("--format", "csv"),
        ("--workers", "0"),
        ("--workers", "many"),
    ],
)
def test_usage_errors(captures_dir: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    try:
        code = main(["report", str(captures_dir / KIALI), *args])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE
    assert out == ""
    assert "Traceback" not in err
    assert err.strip()


def test_a_bad_time_is_a_usage_error_whatever_the_captures(
    captures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for capture in (ENVOY, SMALL_DEPS):  # one span; topology only (no times to relate to)
        code, _, err = _run(capsys, captures_dir / capture, "--from", "soon")
        assert code == EXIT_USAGE
        assert "'soon' is not a time" in err


def test_missing_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == EXIT_USAGE  # captures, or --prometheus URL
    assert "capture files" in capsys.readouterr().err
    assert main(["open"]) == EXIT_USAGE
    assert "capture files" in capsys.readouterr().err


def test_no_command_opens_the_start_page(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = []
    monkeypatch.setattr("flowviz.ui.app.run_start_page", lambda *, theme: opened.append(theme) or 0)
    assert main([]) == EXIT_OK
    assert opened == [None]  # no --theme: the start page uses the theme last chosen (else dark)


def test_topology_only_ignores_no_window(captures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, captures_dir / SMALL_DEPS, "--json")
    assert code == EXIT_OK
    report = orjson.loads(out)
    assert report["window"] == {"start": None, "end": None, "seconds": None}
    assert sum(e["requests"] for e in report["edges"]) == 290225


@pytest.mark.parametrize(
    "content",
    [
        b'{"resourceSpans": [{"resource": {"attributes": 5}, "scopeSpans": [{"spans": [{}]}]}]}',
        b'{"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},'
        b' "scopeSpans": [{"spans": [{"traceId": "01", "spanId": "02", "startTimeUnixNano": [1],'
        b' "endTimeUnixNano": {"x": 1}, "kind": [], "status": 3, "attributes": 7, "links": [1]}]}]}]}',
        b'{"data": [{"traceID": 5, "spans": "x", "processes": []}]}',
        b'[{"traceId": [], "id": {}, "timestamp": "x", "duration": -1, "localEndpoint": 3}]',
        b'[{"parent": "a", "child": "b", "callCount": -3}, {"parent": 1}]',
        b'{"resourceSpans": [{"resource": {}, "scopeSp',
    ],
)
def test_bad_data_never_gives_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, _, err = _run(capsys, path, "--json")
    assert code == EXIT_NOTHING_USABLE
    assert err.strip()


def test_python_dash_m_entry_point(captures_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "flowviz", "report", str(captures_dir / KIALI), "--json"],
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_OK, result.stderr.decode()
    report = orjson.loads(result.stdout)
    assert len(report["edges"]) == 4
    assert report["input"]["spans"] == 8
    assert result.stderr == b""


DEATHSTARBENCH = "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json"


def test_service_report(captures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, captures_dir / DEATHSTARBENCH, "--service", "compose-post-service", "--json")
    assert code == EXIT_OK
    report = orjson.loads(out)
    service = report["service"]
    assert set(service) >= {"name", "upstream", "downstream", "operations", "exemplars", "critical_path_share"}
    assert set(service) - {"name", "upstream", "downstream", "operations", "exemplars", "critical_path_share"} == {
        "time_split",
        "operation_time_splits",
    }
    assert service["upstream"][0]["name"] == "nginx-web-server"
    node = next(n for n in report["nodes"] if n["name"] == "compose-post-service")
    assert sum(u["requests"] for u in service["upstream"]) == node["requests"] == 20
    assert all(len(e["trace_id"]) == 16 for e in service["exemplars"])
    assert 0 < service["critical_path_share"] < 1
    code, out, _ = _run(capsys, captures_dir / DEATHSTARBENCH, "--service", "compose-post-service")
    assert code == EXIT_OK
    assert "\nService compose-post-service\n" in out
    code, _, err = _run(capsys, captures_dir / DEATHSTARBENCH, "--service", "nobody")
    assert code == EXIT_USAGE
    assert "no service 'nobody'" in err
    code, out, _ = _run(capsys, captures_dir / KIALI, "--json")
    assert "service" not in orjson.loads(out)
