"""The `flowviz` command line: report (headless summary) and bench (benchmarks)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import orjson

from flowviz.sources.capture_file import FORMAT_NAMES

EXIT_OK, EXIT_NOTHING_USABLE, EXIT_USAGE = 0, 1, 2


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report",
        help="summarise captures: nodes, edges, rates, errors, latency percentiles",
        description="Read trace captures and print the service graph of a time window.",
    )
    report.add_argument("captures", nargs="+", metavar="CAPTURE", help="trace capture files (format detected)")
    report.add_argument("--from", dest="start", metavar="T", help="window start: +SECONDS after the first span, or ISO")
    report.add_argument("--to", dest="end", metavar="T", help="window end (exclusive), same forms")
    report.add_argument("--json", action="store_true", help="print one JSON object (GUIDE §4 schema)")
    report.add_argument("--format", choices=FORMAT_NAMES, default="auto", help="force the capture format")
    report.set_defaults(handler=_run_report)


def _add_bench(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="run benchmarks and print their figures")
    bench.add_argument("suite", choices=("ingest",), help="which benchmark")
    bench.add_argument("--json", action="store_true", help="print figures as JSON")
    bench.add_argument("--spans", type=int, default=200_000, help="generated spans per format (default 200000)")
    bench.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    bench.set_defaults(handler=_run_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowviz", description="See how data flows between microservices.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_report(commands)
    _add_bench(commands)
    return parser


def _run_report(args: argparse.Namespace) -> int:
    from flowviz.analysis.report import ReportWindow, build_report, default_window, format_report
    from flowviz.model.problems import Problems
    from flowviz.model.time_spec import TimeSpecError, parse_time_ns
    from flowviz.sources.pipeline import IngestPipeline, load_captures
    from flowviz.store.rolling_store import RollingStore

    for text in (args.start, args.end):  # a malformed time is a usage error whatever the captures hold
        try:
            if text:
                parse_time_ns(text, origin_ns=0)
        except TimeSpecError as error:
            print(f"flowviz report: {error}", file=sys.stderr)
            return EXIT_USAGE
    problems = Problems(echo=sys.stderr)
    store = RollingStore(problems=problems)
    totals = load_captures(args.captures, IngestPipeline(store, problems=problems), format_name=args.format)
    for error in totals.failed_files.values():
        print(f"flowviz: {error}", file=sys.stderr)
    if not totals.usable:
        print("flowviz: nothing usable in the given captures", file=sys.stderr)
        return EXIT_NOTHING_USABLE
    window = default_window(store, totals)
    if window is not None and (args.start or args.end):
        origin_ns = totals.first_start_ns  # +T is relative to the capture's first span
        try:
            start = parse_time_ns(args.start, origin_ns=origin_ns) if args.start else window.start_ns
            end = parse_time_ns(args.end, origin_ns=origin_ns) if args.end else window.end_ns
        except TimeSpecError as error:
            print(f"flowviz report: {error}", file=sys.stderr)
            return EXIT_USAGE
        if end <= start:
            print("flowviz report: --to must be after --from", file=sys.stderr)
            return EXIT_USAGE
        window = ReportWindow.snapped(start, end)
    report = build_report(store, window, totals, problems)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(format_report(report))
    return EXIT_OK


def _run_bench(args: argparse.Namespace) -> int:
    from flowviz.bench.ingest import format_figures, run_ingest_bench

    spans = 20_000 if args.quick else args.spans
    figures = run_ingest_bench(spans=spans, quick=args.quick)
    if args.json:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(format_figures(figures))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
