"""`flowviz render` to SVG, with and without its title and legend; `flowviz report --csv` adds up to --json."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from PySide6.QtGui import QImage

from flowviz.cli import EXIT_OK, main

DEATHSTARBENCH = "jaeger-json/deathstarbench-socialnetwork-jaeger-ui-20traces.json"
SVG = "{http://www.w3.org/2000/svg}"


def test_render_svg_holds_the_services_title_and_window_as_text(captures_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "chart.svg"
    assert main(["render", str(captures_dir / DEATHSTARBENCH), "-o", str(out), "--size", "1280x720"]) == EXIT_OK
    root = ET.parse(out).getroot()
    assert root.get("viewBox") == "0 0 1280 720"
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert {"compose-post-service", "nginx-web-server", "user-mention-service"} <= texts
    assert "deathstarbench-socialnetwork-jaeger-ui-20traces.json" in texts
    assert any(t.startswith("2023-09-28 23:30:01 – 23:31:01 UTC") for t in texts)
    assert "wrote" in capsys.readouterr().out


def test_render_png_keeps_its_size_with_or_without_the_legend(captures_dir: Path, tmp_path: Path, capsys):
    capture = str(captures_dir / DEATHSTARBENCH)
    with_legend, bare = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["render", capture, "-o", str(with_legend), "--size", "1280x720"]) == EXIT_OK
    assert main(["render", capture, "-o", str(bare), "--size", "1280x720", "--no-legend"]) == EXIT_OK
    a, b = QImage(str(with_legend)), QImage(str(bare))
    assert (a.width(), a.height()) == (b.width(), b.height()) == (1280, 720)
    assert a != b


@pytest.mark.parametrize("window", [(), ("--from", "+1", "--to", "+2")])
def test_report_csv_adds_up_to_the_json(captures_dir: Path, capsys, window):
    capture = str(captures_dir / DEATHSTARBENCH)
    assert main(["report", capture, "--json", *window]) == EXIT_OK
    report = orjson.loads(capsys.readouterr().out)
    assert main(["report", capture, "--csv", *window]) == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(report["edges"]) > 0
    assert sum(int(r["requests"]) for r in rows) == sum(e["requests"] for e in report["edges"])
    assert [(r["source"], r["target"], float(r["p95_ms"])) for r in rows] == [
        (e["source"], e["target"], e["p95_ms"]) for e in report["edges"]
    ]


def test_render_draws_a_comparison_and_says_what_with(tmp_path: Path, capsys):
    sample = Path(__file__).resolve().parents[1] / "resources" / "sample-shop.otlp.jsonl.gz"
    out = tmp_path / "compare.svg"
    args = ["render", str(sample), "--at", "+120", "--window", "60s", "-o", str(out), "--size", "1280x720"]
    assert main([*args, "--baseline-from", "+0", "--baseline-to", "+60"]) == EXIT_OK
    texts = {"".join(t.itertext()) for t in ET.parse(out).getroot().iter(f"{SVG}text")}
    assert "compared with 2023-11-14 22:13:20 – 22:14:20 UTC (60 s)" in texts
    assert any(t.startswith("change vs baseline") for t in texts)
