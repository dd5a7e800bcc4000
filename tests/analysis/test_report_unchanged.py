"""`flowviz report --json` of every vendored capture is byte for byte the report recorded for it.

Speed work on decoders, derivation and the store must not change a report. The recorded reports are in
tests/data/reports/expected (one per capture; the inputs are the real captures of tests/data/captures and a
synthetic capture in OTLP protobuf frames and OTLP JSON lines, gzip, in tests/data/reports). After a change
that is meant to change reports, write them anew with FLOWVIZ_WRITE_EXPECTED_REPORTS=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowviz.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
EXPECTED = DATA / "reports" / "expected"
NOT_CAPTURES = {".md", ".yaml"}
CAPTURES = sorted(
    str(path.relative_to(DATA))
    for folder in ("captures", "reports")
    for path in (DATA / folder).rglob("*")
    if path.is_file() and path.suffix not in NOT_CAPTURES and EXPECTED not in path.parents
)


def _expected_path(capture: str) -> Path:
    return EXPECTED / (capture.replace("/", "__") + ".out")


@pytest.mark.parametrize("capture", CAPTURES)
def test_report_is_the_recorded_one(
    capture: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(DATA)  # the report names its files as given: relative, the same on every machine
    code = main(["report", "--json", "--workers", "1", capture])
    out = f"exit {code}\n" + capsys.readouterr().out
    expected = _expected_path(capture)
    if os.environ.get("FLOWVIZ_WRITE_EXPECTED_REPORTS") == "1":
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(out, encoding="utf-8")
    assert out == expected.read_text(encoding="utf-8")


def test_the_recorded_reports_cover_spans_of_both_otlp_encodings() -> None:
    for capture in ("reports/synthetic-3000-spans.pb.gz", "reports/synthetic-3000-spans.jsonl.gz"):
        recorded = _expected_path(capture).read_text(encoding="utf-8")
        assert recorded.startswith("exit 0\n")
        assert '"spans": 3000' in recorded or '"spans": 2' in recorded  # read, not refused
        assert '"edges": []' not in recorded
