"""Packaging: LICENSE, py.typed, the sample capture and the icon in the wheel; the desktop entry and AppStream
metainfo validate; the built stand-alone app reports the sample and opens its window under Xvfb (when the
app was built: `python packaging/build.py`, or FLOWVIZ_BUILD_APP=1 builds it here — slow, so opt-in)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowviz import __version__
from flowviz.resources import icon_path, sample_capture_path

REPO = Path(__file__).resolve().parents[1]
LINUX = REPO / "packaging" / "linux"
APP = REPO / "build" / "dist" / "flowviz" / "flowviz"


def test_the_package_resources_are_files_on_disk() -> None:
    assert sample_capture_path().read_bytes()[:2] == b"\x1f\x8b"  # gzip
    assert icon_path().read_text().lstrip().startswith("<?xml")
    assert (REPO / "flowviz" / "py.typed").is_file()
    assert "Apache License" in (REPO / "LICENSE").read_text()


def test_the_wheel_ships_license_types_sample_and_icon(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = tmp_path.glob("flowviz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "flowviz/py.typed" in names
    assert "flowviz/resources/sample-shop.otlp.jsonl.gz" in names
    assert "flowviz/resources/flowviz.svg" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") or name.endswith(".dist-info/LICENSE") for name in names)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils is not installed")
def test_the_desktop_entry_validates() -> None:
    done = subprocess.run(["desktop-file-validate", str(LINUX / "flowviz.desktop")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout.lower()


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream is not installed")
def test_the_appstream_metainfo_validates() -> None:
    metainfo = LINUX / "io.github.flowviz.flowviz.metainfo.xml"
    done = subprocess.run(["appstreamcli", "validate", "--no-net", str(metainfo)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f'<release version="{__version__}"' in metainfo.read_text()


def test_icons_come_in_the_sizes_a_desktop_looks_for() -> None:
    from PySide6.QtGui import QImage

    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        image = QImage(str(LINUX / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "flowviz.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.pixelColor(size // 2, size // 2).alpha() == 255  # drawn, not blank


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    from flowviz.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"flowviz {__version__} (Python 3.")


# -- the built app (opt-in: building takes minutes) ------------------------------------------------------


@pytest.fixture(scope="module")
def built_app() -> Path:
    if not APP.exists() and os.environ.get("FLOWVIZ_BUILD_APP") == "1":
        pytest.importorskip("PyInstaller", reason="the builder (PyInstaller) is not installed")
        subprocess.run([sys.executable, str(REPO / "packaging" / "build.py")], check=True, timeout=1800)
    if not APP.exists():
        pytest.skip("no built app: run `python packaging/build.py` (or set FLOWVIZ_BUILD_APP=1)")
    return APP


def test_the_built_app_reports_the_sample(built_app: Path) -> None:
    version = subprocess.run([str(built_app), "--version"], capture_output=True, text=True, timeout=120)
    assert version.stdout.startswith(f"flowviz {__version__}")
    done = subprocess.run([str(built_app), "report", "--sample", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["nodes"]) == 37
    assert report["input"]["spans"] == 6000


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A private X server (Xvfb) on a free display number, killed by its pid afterwards."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    number = next(n for n in range(90, 190) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Xvfb did not start")
            time.sleep(0.1)
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def test_the_built_app_opens_its_window_under_xvfb(built_app: Path, xvfb_display: str, tmp_path: Path) -> None:
    """The window opens on an X server (Qt's xcb plugin and its libraries are in the bundle or the system),
    loads the sample, and closes cleanly on Ctrl+C — its geometry saved on close shows it was mapped."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QT_", "XDG_", "WAYLAND"))}
    env.update(HOME=str(tmp_path), DISPLAY=xvfb_display)
    process = subprocess.Popen(
        [str(built_app), "open", "--sample"], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    settings = tmp_path / ".config" / "flowviz" / "flowviz.conf"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            if settings.is_file() and "sample-shop" in settings.read_text():  # loaded: on the recent list
                break
            time.sleep(0.5)
        assert process.poll() is None, process.stderr.read()
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    err = process.stderr.read()
    assert code == 130
    assert "Traceback" not in err
    text = settings.read_text()
    assert "sample-shop" in text
    assert "geometry=" in text
