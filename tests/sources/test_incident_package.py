"""Incident files: the manifest round-trips the view, large captures are referenced (and said so), bad files
are named, and `flowviz pack` / `report` / `render` agree on the packed window."""

from __future__ import annotations

import zipfile
from pathlib import Path

import orjson
import pytest

from flowviz.cli import EXIT_NOTHING_USABLE, EXIT_OK, EXIT_USAGE, main
from flowviz.sources.incident_package import (
    MANIFEST_NAME,
    IncidentView,
    PackageError,
    is_package,
    open_package,
    read_package,
    write_package,
)

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample-shop.otlp.jsonl.gz"
S = 1_000_000_000
FIRST_S = 1_700_000_000  # the sample's first span: 2023-11-14T22:13:20Z

VIEW = IncidentView(
    window=((FIRST_S + 30) * S, (FIRST_S + 90) * S),
    baseline=(FIRST_S * S, (FIRST_S + 30) * S),
    bookmarks=[((FIRST_S + 45) * S, "payments slow"), ((FIRST_S + 80) * S, "recovered")],
    pins={"payments": (120.0, -40.5)},
    notes="DB pool exhausted\nsee ticket 42",
    theme="light",
    selected="orders",
    viewport={"scale": 1.5, "center_x": 10.0, "center_y": -3.0},
    extra={"hidden": ["user"]},
)


def test_the_view_round_trips_and_the_capture_is_copied(tmp_path):
    out = tmp_path / "incident.flowviz"
    manifest = write_package(str(out), [str(SAMPLE)], VIEW, format_name="otlp_json")
    assert is_package(str(out))
    package = read_package(str(out))
    assert package.view == VIEW
    assert package.format_name == "otlp_json"
    assert manifest["captures"][0]["member"] == "captures/00-sample-shop.otlp.jsonl.gz"
    unpacked = open_package(str(out))
    assert Path(unpacked.paths[0]).read_bytes() == SAMPLE.read_bytes()
    folder = Path(unpacked.paths[0]).parent
    unpacked.close()
    assert not folder.exists()


def test_a_capture_over_the_limit_is_referenced_by_path_and_said_so(tmp_path):
    out = tmp_path / "incident.flowviz"
    manifest = write_package(str(out), [str(SAMPLE)], IncidentView(), copy_limit_bytes=1024)
    entry = manifest["captures"][0]
    assert entry["member"] is None
    assert entry["path"] == str(SAMPLE)
    assert "not copied" in entry["note"]
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == [MANIFEST_NAME]
    assert open_package(str(out)).paths == (str(SAMPLE),)
    moved = tmp_path / "moved.flowviz"
    copy = tmp_path / "copy.jsonl.gz"
    copy.write_bytes(SAMPLE.read_bytes())
    write_package(str(moved), [str(copy)], IncidentView(), copy_limit_bytes=1024)
    copy.unlink()
    with pytest.raises(PackageError, match="too large to copy and is not at"):
        open_package(str(moved))


def test_files_that_are_no_package_are_told_apart(tmp_path):
    assert not is_package(str(SAMPLE))
    plain_zip = tmp_path / "x.flowviz"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr(MANIFEST_NAME, b'{"format": "something else"}')
    with pytest.raises(PackageError, match="not a flowviz incident file"):
        read_package(str(plain_zip))
    garbage = tmp_path / "y.flowviz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(PackageError):
        read_package(str(garbage))


def _report(capsys, *args) -> dict:
    assert main(["report", *map(str, args), "--json"]) == EXIT_OK
    return orjson.loads(capsys.readouterr().out)


def test_pack_then_report_and_render_use_the_packed_window(tmp_path, capsys):
    out = tmp_path / "incident.flowviz"
    code = main(
        [
            "pack",
            str(SAMPLE),
            "-o",
            str(out),
            "--from",
            "+30s",
            "--to",
            "+90s",
            "--baseline-from",
            "+0",
            "--baseline-to",
            "+30",
            "--bookmark",
            "payments slow@+45",
            "--bookmark",
            "back@2023-11-14T22:14:40Z",
            "--note",
            "db pool",
        ]
    )
    assert code == EXIT_OK
    assert "wrote" in capsys.readouterr().out
    view = read_package(str(out)).view
    assert view.window == ((FIRST_S + 30) * S, (FIRST_S + 90) * S)
    assert view.baseline == (FIRST_S * S, (FIRST_S + 30) * S)
    assert view.bookmarks == [((FIRST_S + 45) * S, "payments slow"), ((FIRST_S + 80) * S, "back")]
    assert view.notes == "db pool"
    packed = _report(capsys, out)
    direct = _report(capsys, SAMPLE, "--from", "+30", "--to", "+90")
    assert (
        packed["window"]
        == direct["window"]
        == {
            "start": "2023-11-14T22:13:50.000Z",
            "end": "2023-11-14T22:14:50.000Z",
            "seconds": 60.0,
        }
    )
    assert packed["edges"] == direct["edges"]
    assert list(packed["input"]["files"]) == ["sample-shop.otlp.jsonl.gz"]
    # told otherwise, the package's window gives way
    assert _report(capsys, out, "--from", "+0", "--to", "+10")["window"]["seconds"] == 10.0
    svg = tmp_path / "incident.svg"
    assert main(["render", str(out), "-o", str(svg), "--size", "1280x720"]) == EXIT_OK
    text = svg.read_text()
    assert "2023-11-14 22:13:50 – 22:14:50 UTC (60 s)" in text
    assert "incident.flowviz" in text


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--bookmark", "no-time"], EXIT_USAGE),
        (["--baseline-from", "+0"], EXIT_USAGE),
        (["--from", "+50", "--to", "+10"], EXIT_USAGE),
    ],
)
def test_pack_usage_errors(tmp_path, capsys, args, code):
    assert main(["pack", str(SAMPLE), "-o", str(tmp_path / "x.flowviz"), *args]) == code
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "x.flowviz").exists()


def test_a_broken_package_is_named_not_a_traceback(tmp_path, capsys):
    broken = tmp_path / "broken.flowviz"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert main(["report", str(broken)]) == EXIT_NOTHING_USABLE
    err = capsys.readouterr().err
    assert "broken.flowviz" in err
    assert "Traceback" not in err
