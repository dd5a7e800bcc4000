"""`flowviz pack` (captures + window, baseline, bookmarks -> one incident file), and reading a package given
to `report`, `render` or `open` in place of captures."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from flowviz.model.time_spec import TimeSpecError, format_time_ns, parse_time_ns
from flowviz.sources.capture_file import FORMAT_NAMES
from flowviz.sources.incident_package import (
    PACKAGE_SUFFIX,
    IncidentView,
    PackageError,
    UnpackedIncident,
    is_package,
    open_package,
    write_package,
)

EXIT_OK, EXIT_NOTHING_USABLE, EXIT_USAGE = 0, 1, 2


@dataclass(slots=True)
class Inputs:
    """What a command reads: capture paths, and the package they came from (None for plain captures)."""

    paths: list[str]
    incident: UnpackedIncident | None = None

    @property
    def view(self) -> IncidentView | None:
        return self.incident.package.view if self.incident is not None else None

    def format_name(self, requested: str) -> str:
        """The format to read with: the one asked for, else the package's."""
        if requested != "auto" or self.incident is None:
            return requested
        return self.incident.package.format_name

    def names(self, by_path: dict[str, str]) -> dict[str, str]:
        """`by_path` keyed by the captures' names in the package instead of the unpacked files' paths."""
        if self.incident is None:
            return by_path
        names = {path: capture.name for path, capture in zip(self.paths, self.incident.package.captures, strict=True)}
        return {names.get(path, path): value for path, value in by_path.items()}

    def source(self) -> str:
        if self.incident is not None:
            return f"{self.incident.package.source} ({os.path.basename(self.incident.package.path)})"
        return ", ".join(os.path.basename(p) for p in self.paths)


def open_inputs(paths: Sequence[str]) -> Inputs:
    """Plain captures as they are; one package unpacked (PackageError when mixed, or it cannot be read)."""
    packages = [p for p in paths if is_package(p) or p.endswith(PACKAGE_SUFFIX)]
    if not packages:
        return Inputs(list(paths))
    if len(paths) > 1:
        raise PackageError("an incident file is read alone: give either one .flowviz file or capture files")
    incident = open_package(packages[0])
    return Inputs(list(incident.paths), incident)


def add_pack_command(commands: argparse._SubParsersAction) -> None:
    pack = commands.add_parser(
        "pack",
        help="pack captures with a window, baseline and bookmarks into one incident file",
        description="Write one .flowviz incident file (a zip with a manifest) that open, report and render read.",
    )
    pack.add_argument("captures", nargs="+", metavar="CAPTURE", help="trace capture files or recordings")
    pack.add_argument("-o", "--output", required=True, metavar="INCIDENT.flowviz")
    pack.add_argument("--from", dest="start", metavar="T", help="the incident window's start: +SECONDS or ISO")
    pack.add_argument("--to", dest="end", metavar="T", help="the incident window's end (exclusive)")
    pack.add_argument("--baseline-from", metavar="T", help="the calm window to compare with: start")
    pack.add_argument("--baseline-to", metavar="T", help="the calm window to compare with: end")
    pack.add_argument("--bookmark", action="append", default=[], metavar="NAME@T", help="a named moment (repeatable)")
    pack.add_argument("--note", default="", help="notes kept with the incident")
    pack.add_argument("--format", choices=FORMAT_NAMES, default="auto", help="force the capture format")
    pack.set_defaults(handler=run_pack)


def parse_bookmark(text: str) -> tuple[str, str]:
    """`NAME@T` -> (NAME, T); TimeSpecError when malformed (T is checked by the caller)."""
    name, at, time_text = text.rpartition("@")
    if not at or not name.strip() or not time_text.strip():
        raise TimeSpecError(f'bookmark {text!r} is not NAME@T (e.g. "payments fail@+5m")')
    return name.strip(), time_text.strip()


def _span(start: str | None, end: str | None, origin_ns: int, retained: tuple[int, int]) -> tuple[int, int] | None:
    if not start and not end:
        return None
    span = (
        parse_time_ns(start, origin_ns=origin_ns) if start else retained[0],
        parse_time_ns(end, origin_ns=origin_ns) if end else retained[1],
    )
    if span[1] <= span[0]:
        raise TimeSpecError("a window must end after it starts (--to after --from)")
    return span


def run_pack(args: argparse.Namespace) -> int:
    from flowviz.model.problems import Problems
    from flowviz.sources.pipeline import IngestPipeline, load_captures, say_what_was_unreadable
    from flowviz.store.rolling_store import RollingStore

    try:
        for text in (args.start, args.end, args.baseline_from, args.baseline_to):
            if text:
                parse_time_ns(text, origin_ns=0)
        bookmarks = [parse_bookmark(b) for b in args.bookmark]
        for _, time_text in bookmarks:
            parse_time_ns(time_text, origin_ns=0)
        if bool(args.baseline_from) != bool(args.baseline_to):
            raise TimeSpecError("a baseline needs both --baseline-from and --baseline-to")
    except TimeSpecError as error:
        print(f"flowviz pack: {error}", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in args.captures if not os.path.isfile(p)]
    if missing:
        print(f"flowviz pack: no such file: {', '.join(missing)}", file=sys.stderr)
        return EXIT_NOTHING_USABLE
    if any(is_package(p) for p in args.captures):
        print("flowviz pack: an incident file cannot be packed again; give its captures", file=sys.stderr)
        return EXIT_USAGE
    problems = Problems()
    store = RollingStore(problems=problems)
    totals = load_captures(args.captures, IngestPipeline(store, problems=problems), format_name=args.format)
    retained = store.time_range_ns()
    if not say_what_was_unreadable(totals, sys.stderr, usable=retained is not None):
        return EXIT_NOTHING_USABLE
    origin = totals.first_start_ns if totals.first_start_ns is not None else retained[0]
    try:
        view = IncidentView(
            window=_span(args.start, args.end, origin, retained),
            baseline=_span(args.baseline_from, args.baseline_to, origin, retained),
            bookmarks=[(parse_time_ns(t, origin_ns=origin), name) for name, t in bookmarks],
            notes=args.note,
        )
    except TimeSpecError as error:
        print(f"flowviz pack: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        manifest = write_package(args.output, args.captures, view, format_name=args.format)
    except OSError as error:
        print(f"flowviz pack: cannot write {args.output}: {error}", file=sys.stderr)
        return EXIT_NOTHING_USABLE
    copied = [c for c in manifest["captures"] if c["member"]]
    lines = [f"wrote {args.output}: {len(copied)} of {len(manifest['captures'])} captures copied"]
    lines += [f"  {c['name']}: {c['note']} ({c['path']})" for c in manifest["captures"] if not c["member"]]
    if view.window is not None:
        lines.append(f"  window {format_time_ns(view.window[0])} .. {format_time_ns(view.window[1])}")
    if view.baseline is not None:
        lines.append(f"  baseline {format_time_ns(view.baseline[0])} .. {format_time_ns(view.baseline[1])}")
    lines += [f"  bookmark {format_time_ns(t)} {name}" for t, name in view.bookmarks]
    print("\n".join(lines))
    return EXIT_OK
