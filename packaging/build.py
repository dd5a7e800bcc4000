"""Build the stand-alone flowviz app for this platform with PyInstaller (see packaging/README in the main
README's "Packaging" section): `python packaging/build.py` -> build/dist/flowviz/ (and on Linux an archive
build/flowviz-VERSION-linux-ARCH.tar.gz with the desktop entry, icons, AppStream metainfo and install.sh)."""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
DIST = BUILD / "dist"


def version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "flowviz" / "__init__.py").read_text(), namespace)
    return namespace["__version__"]


def build_app() -> Path:
    """Run PyInstaller on packaging/flowviz.spec; returns the app folder."""
    command = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller"), str(ROOT / "packaging" / "flowviz.spec"),
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=ROOT)
    return DIST / "flowviz"


def linux_archive(app: Path) -> Path:
    """The app folder with what a desktop needs around it, as one archive: flowviz-VERSION/{flowviz/, share/,
    install.sh}; `install.sh` puts it under ~/.local (or PREFIX)."""
    name = f"flowviz-{version()}-linux-{platform.machine()}"
    stage = BUILD / name
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(app, stage / "flowviz", symlinks=True)
    share = stage / "share"
    shutil.copytree(ROOT / "packaging" / "linux" / "icons", share / "icons")
    scalable = share / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "flowviz" / "resources" / "flowviz.svg", scalable / "flowviz.svg")
    (share / "applications").mkdir(parents=True)
    shutil.copy2(ROOT / "packaging" / "linux" / "flowviz.desktop", share / "applications")
    (share / "metainfo").mkdir(parents=True)
    shutil.copy2(ROOT / "packaging" / "linux" / "io.github.flowviz.flowviz.metainfo.xml", share / "metainfo")
    shutil.copy2(ROOT / "packaging" / "linux" / "install.sh", stage / "install.sh")
    shutil.copy2(ROOT / "LICENSE", stage / "LICENSE")
    archive = BUILD / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(stage, arcname=name)
    return archive


def smoke(app: Path) -> None:
    """The built app answers --version and reports the bundled sample capture."""
    executable = app / ("flowviz.exe" if sys.platform == "win32" else "flowviz")
    for args in (["--version"], ["report", "--sample", "--json"]):
        done = subprocess.run([str(executable), *args], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"smoke run `flowviz {' '.join(args)}` failed ({done.returncode}):\n{done.stderr}")
    print(f"smoke run passed: {executable}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="run the built app's --version and report after")
    args = parser.parse_args()
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print('build: PyInstaller is missing: pip install -e ".[package]"', file=sys.stderr)
        return 2
    app = build_app()
    print(f"built {app}")
    if sys.platform.startswith("linux"):
        print(f"archive {linux_archive(app)}")
    if args.smoke:
        smoke(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
