"""One incident file (`.flowviz`): a zip holding the captures (or recording) and a manifest of the view —
window, baseline, bookmarks, pins, notes and the rest — written by `flowviz pack` and File ▸ Save incident…,
read by `open`, `report` and `render` (Qt-free).

Captures larger than the copy limit are not copied: the manifest keeps their absolute path and says so,
and reading the package reads them from there (a missing one is an error that names it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

PACKAGE_SUFFIX = ".flowviz"
MANIFEST_NAME = "manifest.json"
PACKAGE_FORMAT = "flowviz-incident"
PACKAGE_VERSION = 1
COPY_LIMIT_BYTES = 1 << 30  # captures above this stay where they are; the manifest names their path
_COMPRESSED_SUFFIXES = (".gz", ".zip", ".zst", ".bz2", ".xz")


class PackageError(ValueError):
    """A file that is no readable incident package, or one whose referenced capture is missing."""


@dataclass(frozen=True, slots=True)
class PackedCapture:
    """One capture of a package: `member` inside the zip, or None when it was too large to copy
    (then `path`, its absolute path when packed, is where it is read from)."""

    name: str
    path: str
    size_bytes: int
    member: str | None
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": self.path,
            "size_bytes": self.size_bytes,
            "member": self.member,
            "note": self.note,
        }


@dataclass(slots=True)
class IncidentView:
    """What the incident's view was: times in int64 ns since the epoch, pins in chart coordinates.

    `extra` keeps further view state (groups, filters, hidden nodes, ...) by name, as its owner gave it."""

    window: tuple[int, int] | None = None
    baseline: tuple[int, int] | None = None
    bookmarks: list[tuple[int, str]] = field(default_factory=list)
    pins: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: str = ""
    theme: str | None = None
    selected: str | None = None
    viewport: dict[str, float] | None = None  # scale, center_x, center_y (layout units)
    extra: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "window": _span_json(self.window),
            "baseline": _span_json(self.baseline),
            "bookmarks": [{"time_ns": t, "name": n} for t, n in self.bookmarks],
            "pins": {name: [x, y] for name, (x, y) in self.pins.items()},
            "notes": self.notes,
            "theme": self.theme,
            "selected": self.selected,
            "viewport": self.viewport,
            "extra": self.extra,
        }

    @staticmethod
    def from_json(data: dict) -> IncidentView:
        try:
            return IncidentView(
                window=_span(data.get("window")),
                baseline=_span(data.get("baseline")),
                bookmarks=[(int(b["time_ns"]), str(b["name"])) for b in data.get("bookmarks") or []],
                pins={str(k): (float(v[0]), float(v[1])) for k, v in (data.get("pins") or {}).items()},
                notes=str(data.get("notes") or ""),
                theme=data.get("theme"),
                selected=data.get("selected"),
                viewport={k: float(v) for k, v in data["viewport"].items()} if data.get("viewport") else None,
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise PackageError(f"the package's view is malformed: {error}") from None


def _span_json(span: tuple[int, int] | None) -> dict[str, int] | None:
    return None if span is None else {"start_ns": int(span[0]), "end_ns": int(span[1])}


def _span(data: object) -> tuple[int, int] | None:
    if data is None:
        return None
    start, end = int(data["start_ns"]), int(data["end_ns"])  # type: ignore[index]
    if end <= start:
        raise ValueError("a window must end after it starts")
    return start, end


@dataclass(frozen=True, slots=True)
class IncidentPackage:
    """A package as read: where it is, its captures, the view, the capture format, and its manifest."""

    path: str
    captures: tuple[PackedCapture, ...]
    view: IncidentView
    format_name: str
    source: str  # what the captures are, for titles ("orders.json, payments.json" or "recording ...")
    manifest: dict


def _member_name(index: int, path: str) -> str:
    return f"captures/{index:02d}-{os.path.basename(path)}"


def write_package(
    out_path: str,
    capture_paths: Sequence[str],
    view: IncidentView,
    *,
    format_name: str = "auto",
    source: str | None = None,
    copy_limit_bytes: int = COPY_LIMIT_BYTES,
) -> dict:
    """Write the package; returns its manifest. Written to a temporary file first, then moved into place,
    so a failure never leaves half a package. OSError when a capture cannot be read or the file written."""
    captures: list[PackedCapture] = []
    directory = os.path.dirname(os.path.abspath(out_path))
    handle, temporary = tempfile.mkstemp(suffix=PACKAGE_SUFFIX, dir=directory)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as package:
            for index, path in enumerate(capture_paths):
                size = os.path.getsize(path)
                absolute = os.path.abspath(path)
                if size > copy_limit_bytes:
                    note = (
                        f"not copied: {size / 2**20:.0f} MiB is more than the {copy_limit_bytes / 2**20:.0f} MiB "
                        "limit; read from its path"
                    )
                    captures.append(PackedCapture(os.path.basename(path), absolute, size, None, note))
                    continue
                member = _member_name(index, path)
                stored = path.lower().endswith(_COMPRESSED_SUFFIXES)
                package.write(path, member, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
                captures.append(PackedCapture(os.path.basename(path), absolute, size, member))
            manifest = {
                "format": PACKAGE_FORMAT,
                "version": PACKAGE_VERSION,
                "source": source or ", ".join(c.name for c in captures),
                "capture_format": format_name,
                "captures": [c.as_json() for c in captures],
                "view": view.as_json(),
            }
            package.writestr(MANIFEST_NAME, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        os.replace(temporary, out_path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return manifest


def is_package(path: str) -> bool:
    """A zip with an incident manifest (whatever its name)."""
    try:
        if not os.path.isfile(path) or not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as package:
            return MANIFEST_NAME in package.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def read_package(path: str) -> IncidentPackage:
    """The package's manifest, checked; PackageError when it is not one this version reads."""
    try:
        with zipfile.ZipFile(path) as package:
            manifest = orjson.loads(package.read(MANIFEST_NAME))
            members = set(package.namelist())
    except (OSError, KeyError, zipfile.BadZipFile, orjson.JSONDecodeError) as error:
        raise PackageError(f"{path}: not a flowviz incident file ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PACKAGE_FORMAT:
        raise PackageError(f"{path}: not a flowviz incident file (no {PACKAGE_FORMAT} manifest)")
    if int(manifest.get("version", 0)) > PACKAGE_VERSION:
        raise PackageError(f"{path}: written by a newer flowviz (version {manifest.get('version')})")
    try:
        captures = tuple(
            PackedCapture(str(c["name"]), str(c["path"]), int(c["size_bytes"]), c.get("member"), str(c.get("note", "")))
            for c in manifest["captures"]
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PackageError(f"{path}: the manifest's captures are malformed ({error})") from None
    for capture in captures:
        if capture.member is not None and capture.member not in members:
            raise PackageError(f"{path}: {capture.member} is named in the manifest but missing")
    return IncidentPackage(
        path=path,
        captures=captures,
        view=IncidentView.from_json(manifest.get("view") or {}),
        format_name=str(manifest.get("capture_format") or "auto"),
        source=str(manifest.get("source") or ", ".join(c.name for c in captures)),
        manifest=manifest,
    )


class UnpackedIncident:
    """A package's captures as files to read: copied ones extracted into a temporary folder (removed by
    `close()` or when the object is collected), large ones read from their recorded path."""

    def __init__(self, package: IncidentPackage) -> None:
        self.package = package
        self._folder = tempfile.TemporaryDirectory(prefix="flowviz-incident-")
        paths = []
        with zipfile.ZipFile(package.path) as archive:
            for capture in package.captures:
                if capture.member is None:
                    if not os.path.exists(capture.path):
                        self.close()
                        raise PackageError(
                            f"{package.path}: {capture.name} was too large to copy and is not at {capture.path}"
                        )
                    paths.append(capture.path)
                    continue
                target = os.path.join(self._folder.name, os.path.basename(capture.member))
                with archive.open(capture.member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                paths.append(target)
        self.paths: tuple[str, ...] = tuple(paths)

    def close(self) -> None:
        self._folder.cleanup()


def open_package(path: str) -> UnpackedIncident:
    """Read and unpack a package (PackageError with the reason when it cannot be)."""
    try:
        return UnpackedIncident(read_package(path))
    except (OSError, zipfile.BadZipFile) as error:
        raise PackageError(f"{path}: {error}") from None
