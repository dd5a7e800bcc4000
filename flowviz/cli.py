"""The `flowviz` command line: report (headless summary) and bench (benchmarks)."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence

import orjson

from flowviz.commands.incident import add_pack_command
from flowviz.commands.kafka import add_kafka_arguments, add_kafka_commands, settings_from_args
from flowviz.commands.otlp import add_listen_command, wrap_record_handler
from flowviz.commands.prometheus import add_prometheus_arguments, add_range_arguments
from flowviz.decoders.formats import FORMAT_NAMES

EXIT_OK, EXIT_NOTHING_USABLE, EXIT_USAGE = 0, 1, 2


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser(
        "report",
        help="summarise captures: nodes, edges, rates, errors, latency percentiles",
        description="Read trace captures and print the service graph of a time window.",
    )
    report.add_argument(
        "captures", nargs="*", metavar="CAPTURE", help="trace capture files (format detected), or --prometheus URL"
    )
    report.add_argument("--from", dest="start", metavar="T", help="window start: +SECONDS after the first span, or ISO")
    report.add_argument("--to", dest="end", metavar="T", help="window end (exclusive), same forms")
    report.add_argument("--baseline-from", metavar="T", help="compare with the window starting here: adds changes")
    report.add_argument("--baseline-to", metavar="T", help="the baseline's end (exclusive)")
    output = report.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print one JSON object (its fields: the README's `flowviz report`)"
    )
    output.add_argument("--csv", action="store_true", help="print the edges table as CSV (one header line)")
    report.add_argument(
        "--service",
        metavar="NAME",
        help="also report one service: callers, callees, operations, exemplar traces, critical-path share",
    )
    report.add_argument("--format", choices=FORMAT_NAMES, default="auto", help="force the capture format")
    _add_workers_argument(report)
    add_prometheus_arguments(report)
    report.add_argument(
        "--config", metavar="FILE", help="analysis settings (TOML; default: analysis.toml in flowviz's config folder)"
    )
    report.set_defaults(handler=_run_report)


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, at least 1 (not {text!r})")
    return value


def _add_workers_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="processes decoding a large capture (default: the machine's cores, at most 8; 1: this process only)",
    )


def _add_bench(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="run benchmarks and print their figures")
    bench.add_argument(
        "suite",
        choices=("ingest", "render", "scrub", "live", "groups", "receive", "layout", "findings", "fuzz"),
        help="which benchmark",
    )
    bench.add_argument("--json", action="store_true", help="print figures as JSON")
    bench.add_argument("--spans", type=int, default=200_000, help="generated spans per format (default 200000)")
    bench.add_argument(
        "--report-spans",
        type=int,
        default=1_000_000,
        metavar="S",
        help="ingest --workers: also time `report` on captures of S spans (default 1000000; 0: only --spans)",
    )
    bench.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    bench.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="ingest: also decode with N processes and report the speedup; live: N decode processes (default: cores)",
    )
    bench.add_argument("--bootstrap", metavar="HOST:PORT", help="live: this broker instead of a local one")
    bench.add_argument("--seconds", type=float, default=600.0, help="fuzz: how long to run (default 600)")
    bench.add_argument("--seed", type=int, default=0, help="fuzz: random seed (default 0)")
    bench.set_defaults(handler=_run_bench)


def _add_window_commands(commands: argparse._SubParsersAction) -> None:
    themes = ("dark", "light", "projector")
    demo = commands.add_parser("demo", help="open the window on the built-in simulated platform, live")
    demo.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    demo.add_argument("--rate", type=float, default=1_500.0, help="mean spans per second (default 1500)")
    demo.add_argument("--theme", choices=themes, help="colour theme (default: the one last chosen, else dark)")
    demo.add_argument(
        "--history",
        default="100s",
        help="simulated past to start with, e.g. 0s, 90s, 5m (default 100s: the baselines are learnt and the "
        "first scripted incident begins 20 s after the window opens; it begins 2 min into each 10-min cycle)",
    )
    demo.set_defaults(handler=_run_demo)
    open_ = commands.add_parser("open", help="open captures in the window")
    open_.add_argument("captures", nargs="*", metavar="CAPTURE", help="capture files, or --prometheus URL")
    open_.add_argument("--format", choices=FORMAT_NAMES, default="auto", help="force the capture format")
    open_.add_argument("--theme", choices=themes, help="colour theme (default: the one last chosen, else dark)")
    _add_workers_argument(open_)
    add_prometheus_arguments(open_)
    add_range_arguments(open_)
    open_.set_defaults(handler=_run_open)
    live = commands.add_parser("live", help="open the window on span or business event topics in Kafka, live")
    add_kafka_arguments(live)
    live.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="processes decoding Kafka messages, a poll's partitions side by side (default: the machine's cores "
        "less one, at most 7: 1 on 2 cores; 1: the reading process only)",
    )
    live.add_argument("--theme", choices=themes, help="colour theme (default: the one last chosen, else dark)")
    add_prometheus_arguments(live)
    live.set_defaults(handler=_run_live)
    render = commands.add_parser("render", help="draw the flow chart at a moment to a PNG, without a display")
    render.add_argument("captures", nargs="*", metavar="CAPTURE")
    render.add_argument("--at", metavar="T", help="the moment: +SECONDS after the first span or ISO (default: the end)")
    render.add_argument("-o", "--output", required=True, metavar="OUT.png|OUT.svg", help="PNG, or SVG (vector)")
    render.add_argument(
        "--window", help="how much time before T the chart aggregates (default 60s, or an incident file's window)"
    )
    render.add_argument("--size", default="1920x1080", metavar="WxH")
    render.add_argument("--theme", choices=themes, default="dark")
    render.add_argument("--format", choices=FORMAT_NAMES, default="auto", help="force the capture format")
    render.add_argument("--describe", metavar="SCENE.json", help="also write what was drawn (boxes, labels, edges)")
    render.add_argument("--config", metavar="FILE", help="analysis settings (TOML): health mode, objectives")
    render.add_argument("--focus", metavar="NAME", help="show only NAME and its neighbourhood (see --hops)")
    render.add_argument("--hops", type=int, default=1, metavar="N", help="focus depth up- and downstream (1-5)")
    render.add_argument("--filter", metavar="EXPR", help="show only nodes matching EXPR ('hide EXPR' hides them)")
    render.add_argument(
        "--group",
        choices=("auto", "namespace", "community", "none"),
        default="auto",
        help="collapse nodes into groups (auto: namespaces, else communities above ~80 nodes)",
    )
    render.add_argument("--no-legend", action="store_true", help="leave out the title, time range and legend")
    render.add_argument("--baseline-from", metavar="T", help="draw the comparison with the window starting here")
    render.add_argument("--baseline-to", metavar="T", help="the baseline's end (exclusive)")
    video = render.add_argument_group("video (-o OUT.mp4 or OUT.gif)")
    video.add_argument("--from", dest="start", metavar="T", help="where the replay starts (default: the beginning)")
    video.add_argument("--to", dest="end", metavar="T", help="where it ends (default: the end)")
    video.add_argument("--speed", type=float, default=1.0, help="data seconds per video second (default 1)")
    video.add_argument("--fps", type=int, default=15, help="frames per second (default 15)")
    video.add_argument("--bookmark", action="append", default=[], metavar="NAME@T", help="a caption at T (repeatable)")
    render.set_defaults(handler=_run_render)


SAMPLE_HELP = "the sample capture shipped with flowviz (a synthetic shop, two minutes, payments failing)"


def _add_sample_options(commands: argparse._SubParsersAction) -> None:
    """`--sample` where captures are read: the bundled capture, in place of (or besides) CAPTURE files."""
    for name in ("report", "open", "render"):
        commands.choices[name].add_argument("--sample", action="store_true", help=SAMPLE_HELP)
    commands.choices["demo"].add_argument(
        "--sample", action="store_true", help="open the sample capture instead of the live simulator"
    )


def _with_sample(args: argparse.Namespace) -> argparse.Namespace:
    if getattr(args, "sample", False) and args.command in ("report", "open", "render"):
        from flowviz.resources import sample_capture_path

        args.captures = [*args.captures, str(sample_capture_path())]
    return args


def _version_text() -> str:
    import platform

    from flowviz import __version__

    return f"flowviz {__version__} (Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowviz", description="See how data flows between microservices.")
    parser.add_argument("--version", action="version", version=_version_text())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_report(commands)
    _add_window_commands(commands)
    add_pack_command(commands)
    add_kafka_commands(commands)
    add_listen_command(commands, themes=("dark", "light", "projector"))
    wrap_record_handler(commands.choices["record"])  # record --grpc/--http: OTLP sent to flowviz
    _add_bench(commands)
    _add_sample_options(commands)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from flowviz.model.time_spec import TimeSpecError, parse_time_ns
    from flowviz.ui.app import run_demo

    if args.sample:
        from flowviz.resources import sample_capture_path
        from flowviz.ui.app import run_open

        return run_open([str(sample_capture_path())], format_name="auto", theme=args.theme)
    try:
        history_s = parse_time_ns("+" + args.history.lstrip("+"), origin_ns=0) / 1e9
    except TimeSpecError as error:
        print(f"flowviz demo: {error}", file=sys.stderr)
        return EXIT_USAGE
    return run_demo(seed=args.seed, rate_per_s=args.rate, theme=args.theme, history_s=history_s)


def _run_live(args: argparse.Namespace) -> int:
    from flowviz.model.time_spec import TimeSpecError
    from flowviz.sources.kafka_settings import KafkaConfigError
    from flowviz.ui.app import run_live

    if args.prometheus:
        from flowviz.commands.prometheus import run_live_prometheus

        return run_live_prometheus(args)
    try:
        settings = settings_from_args(args)
    except (KafkaConfigError, TimeSpecError) as error:
        print(f"flowviz live: {error}", file=sys.stderr)
        return EXIT_USAGE
    return run_live(settings, theme=args.theme)


def _run_open(args: argparse.Namespace) -> int:
    from flowviz.sources.incident_package import is_package
    from flowviz.ui.app import run_open

    if args.prometheus:
        from flowviz.commands.prometheus import run_open_prometheus

        return run_open_prometheus(args)
    if not args.captures:
        print("flowviz open: give capture files (or --prometheus URL)", file=sys.stderr)
        return EXIT_USAGE
    if args.start or args.end:
        print("flowviz open: --from/--to go with --prometheus (captures open whole)", file=sys.stderr)
        return EXIT_USAGE
    if len(args.captures) == 1 and is_package(args.captures[0]):
        from flowviz.ui.app import run_incident

        return run_incident(args.captures[0], theme=args.theme)
    return run_open(args.captures, format_name=args.format, theme=args.theme, workers=args.workers)


def _run_render(args: argparse.Namespace) -> int:
    from flowviz.chart.filter_expr import NodeFilter
    from flowviz.chart.focus import MAX_HOPS, Focus
    from flowviz.chart.reduction import ChartScope
    from flowviz.commands.incident import open_inputs
    from flowviz.model.time_spec import TimeSpecError, format_time_ns, parse_duration_s, parse_time_ns
    from flowviz.sources.incident_package import PackageError
    from flowviz.sources.pipeline import say_what_was_unreadable
    from flowviz.ui.render import OutsideCapture, output_problem, parse_size, render_captures

    if not args.captures:
        print("flowviz render: give capture files (or --sample)", file=sys.stderr)
        return EXIT_USAGE

    try:
        window_s = parse_duration_s(args.window) if args.window else 60.0
        parse_size(args.size)
        for text in (args.at, args.baseline_from, args.baseline_to):
            if text:
                parse_time_ns(text, origin_ns=0)
        if bool(args.baseline_from) != bool(args.baseline_to):
            raise TimeSpecError("a baseline needs both --baseline-from and --baseline-to")
        if not 1 <= args.hops <= MAX_HOPS:
            raise ValueError(f"--hops must be 1 to {MAX_HOPS}")
        scope = ChartScope(
            group_mode=args.group,
            focus=Focus(args.focus, args.hops, args.hops) if args.focus else None,
            node_filter=NodeFilter.parse(args.filter) if args.filter else None,
        )
    except (TimeSpecError, ValueError) as error:
        print(f"flowviz render: {error}", file=sys.stderr)
        return EXIT_USAGE
    config = _analysis_config("render", args.config)
    if config is None:
        return EXIT_USAGE
    problem = output_problem(args.output)
    if problem:
        print(f"flowviz render: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        inputs = open_inputs(args.captures)
    except PackageError as error:
        print(f"flowviz render: {error}", file=sys.stderr)
        return EXIT_NOTHING_USABLE
    if args.output.lower().endswith((".mp4", ".gif")):
        return _run_render_video(args, inputs, window_s)
    at = args.at
    packed = inputs.view.window if inputs.view is not None else None
    if packed is not None and not args.at and not args.window:  # the incident file's window
        at, window_s = format_time_ns(packed[1]), (packed[1] - packed[0]) / 1e9
    baseline = (args.baseline_from, args.baseline_to) if args.baseline_from else None
    if baseline is None and inputs.view is not None:
        baseline = inputs.view.baseline  # the incident file's
    try:
        drawn, totals = render_captures(
            inputs.paths,
            at=at,
            baseline=baseline,
            source=inputs.source(),
            window_s=window_s,
            size=args.size,
            theme=args.theme,
            output_path=args.output,
            format_name=inputs.format_name(args.format),
            scope=scope,
            describe_path=args.describe,
            legend=not args.no_legend,
            analysis_config=config,
        )
    except OutsideCapture as error:
        print(f"flowviz render: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"flowviz render: {error}", file=sys.stderr)
        return EXIT_NOTHING_USABLE
    if not say_what_was_unreadable(totals, sys.stderr):
        return EXIT_NOTHING_USABLE
    print(f"wrote {args.output}: {drawn['nodes']} nodes, {drawn['edges']} edges, {drawn['particles']} particles")
    return EXIT_OK


def _run_render_video(args: argparse.Namespace, inputs, window_s: float) -> int:
    from flowviz.chart.video_plan import VideoPlanError
    from flowviz.commands.incident import parse_bookmark
    from flowviz.model.time_spec import TimeSpecError, parse_time_ns
    from flowviz.sources.pipeline import say_what_was_unreadable
    from flowviz.ui.render_video import VideoRequest, render_video_captures

    try:
        for text in (args.start, args.end):
            if text:
                parse_time_ns(text, origin_ns=0)
        bookmarks = tuple(parse_bookmark(b) for b in args.bookmark)
    except TimeSpecError as error:
        print(f"flowviz render: {error}", file=sys.stderr)
        return EXIT_USAGE
    view = inputs.view
    request = VideoRequest(
        start=args.start,
        end=args.end,
        speed=args.speed,
        fps=args.fps,
        window_s=window_s,
        size=args.size,
        theme=args.theme,
        legend=not args.no_legend,
        source=inputs.source(),
        bookmarks=bookmarks,
        packed_range=view.window if view is not None else None,
        packed_bookmarks=tuple(view.bookmarks) if view is not None else (),
    )
    try:
        figures, totals = render_video_captures(
            inputs.paths, request, args.output, format_name=inputs.format_name(args.format)
        )
    except (TimeSpecError, VideoPlanError) as error:
        print(f"flowviz render: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"flowviz render: {error}", file=sys.stderr)
        return EXIT_NOTHING_USABLE
    if not say_what_was_unreadable(totals, sys.stderr):
        return EXIT_NOTHING_USABLE
    print(
        f"wrote {args.output}: {figures['frames']} frames at {figures['fps']} fps ({figures['seconds']:.1f} s), "
        f"in {figures['encode_s']} s"
    )
    return EXIT_OK


def _analysis_config(command: str, path: str | None):
    """The analysis settings (`--config FILE` or the default file); None after saying why they cannot be used."""
    from flowviz.analysis.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as error:
        print(f"flowviz {command}: {error}", file=sys.stderr)
        return None


def _run_report(args: argparse.Namespace) -> int:
    from flowviz.analysis.report import ReportWindow, add_payload_sizes, build_report, default_window, format_report
    from flowviz.commands.incident import open_inputs
    from flowviz.model.problems import Problems
    from flowviz.model.time_spec import TimeSpecError, parse_time_ns
    from flowviz.sources.incident_package import PackageError
    from flowviz.sources.pipeline import IngestPipeline, load_captures, say_what_was_unreadable
    from flowviz.store.drill_down import DrillDownStore
    from flowviz.store.edge_details import EdgeDetails
    from flowviz.store.rolling_store import RollingStore

    if args.prometheus:
        from flowviz.commands.prometheus import run_report_prometheus

        return run_report_prometheus(args)
    if not args.captures:
        print("flowviz report: give capture files (or --prometheus URL)", file=sys.stderr)
        return EXIT_USAGE
    for text in (args.start, args.end, args.baseline_from, args.baseline_to):  # a usage error whatever the captures
        try:
            if text:
                parse_time_ns(text, origin_ns=0)
        except TimeSpecError as error:
            print(f"flowviz report: {error}", file=sys.stderr)
            return EXIT_USAGE
    if bool(args.baseline_from) != bool(args.baseline_to):
        print("flowviz report: a baseline needs both --baseline-from and --baseline-to", file=sys.stderr)
        return EXIT_USAGE
    try:
        inputs = open_inputs(args.captures)
    except PackageError as error:
        print(f"flowviz report: {error}", file=sys.stderr)
        return EXIT_NOTHING_USABLE
    config = _analysis_config("report", args.config)
    if config is None:
        return EXIT_USAGE
    problems = Problems(echo=sys.stderr)
    store = RollingStore(problems=problems)
    details = DrillDownStore() if args.service else None
    pipeline = IngestPipeline(store, problems=problems, details=details, payloads=EdgeDetails())
    from flowviz.sources.parallel_capture import default_workers

    workers = args.workers or default_workers()
    totals = load_captures(inputs.paths, pipeline, format_name=inputs.format_name(args.format), workers=workers)
    totals.formats, totals.failed_files = inputs.names(totals.formats), inputs.names(totals.failed_files)
    if not say_what_was_unreadable(totals, sys.stderr):
        return EXIT_NOTHING_USABLE
    window = default_window(store, totals)
    packed = inputs.view.window if inputs.view is not None else None
    if window is not None and packed is not None and not (args.start or args.end):
        window = ReportWindow.snapped(*packed)  # the incident file's window
    if window is not None and (args.start or args.end):
        origin_ns = totals.first_start_ns  # +T is relative to the capture's first span
        try:
            start = parse_time_ns(args.start, origin_ns=origin_ns) if args.start else window.start_ns
            end = parse_time_ns(args.end, origin_ns=origin_ns) if args.end else window.end_ns
        except TimeSpecError as error:
            print(f"flowviz report: {error}", file=sys.stderr)
            return EXIT_USAGE
        if end <= start or start >= window.end_ns or end <= window.start_ns:
            print(f"flowviz report: {_empty_range_message(args, start, end, window)}", file=sys.stderr)
            return EXIT_USAGE
        window = ReportWindow.snapped(start, end)
    report = build_report(store, window, totals, problems, settings=config.findings)
    if totals.events and pipeline.payloads is not None:  # message sizes on producer → topic edges
        add_payload_sizes(report, pipeline.payloads, window)
    if len(store.consumer_lag):  # a recording of events with its looks at the consumer groups
        from flowviz.analysis.consumer_groups import consumer_groups

        bounds = (window.start_ns, window.end_ns) if window is not None else (None, None)
        report["consumer_groups"] = consumer_groups(store.consumer_lag, *bounds)
    baseline = packed_baseline = inputs.view.baseline if inputs.view is not None else None
    if args.baseline_from:
        origin_ns = totals.first_start_ns if totals.first_start_ns is not None else 0
        baseline = (
            parse_time_ns(args.baseline_from, origin_ns=origin_ns),
            parse_time_ns(args.baseline_to, origin_ns=origin_ns),
        )
        if baseline[1] <= baseline[0]:
            print("flowviz report: --baseline-to must be after --baseline-from", file=sys.stderr)
            return EXIT_USAGE
    if baseline is not None and window is not None:
        from flowviz.analysis.compare import add_comparison

        add_comparison(report, store, ReportWindow.snapped(*baseline), window)
    elif baseline is not None and baseline is not packed_baseline:
        print("flowviz report: a baseline needs timed spans (this capture has topology only)", file=sys.stderr)
        return EXIT_USAGE
    if args.service:
        from flowviz.analysis.service_report import format_service_summary, service_summary

        start, end = (window.start_ns, window.end_ns) if window is not None else (-(1 << 62), 1 << 62)
        try:
            report["service"] = service_summary(store, details.exemplars, args.service, start, end)
        except KeyError:
            print(f"flowviz report: no service {args.service!r} in the captures", file=sys.stderr)
            return EXIT_USAGE
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif args.csv:
        from flowviz.analysis.table_export import EDGE_COLUMNS, rows_csv

        sys.stdout.write(rows_csv(report["edges"], EDGE_COLUMNS))  # type: ignore[arg-type]
    else:
        print(format_report(report))
        if "changes" in report:
            from flowviz.analysis.compare import format_changes

            print("\n" + format_changes(report))
        if args.service:
            print("\n" + format_service_summary(report["service"]))  # type: ignore[arg-type]
    return EXIT_OK


def _empty_range_message(args: argparse.Namespace, start_ns: int, end_ns: int, capture) -> str:
    """Why [--from, --to) is empty, naming only the options given and the capture's own range."""
    from flowviz.model.time_spec import format_time_ns

    runs = f"the capture runs from {format_time_ns(capture.start_ns)} to {format_time_ns(capture.end_ns)}"
    length = f"+0 s to +{(capture.end_ns - capture.start_ns) / 1e9:.0f} s"
    if args.start and not args.end:
        return f"--from {args.start} is at or after the end of the capture ({runs}, {length})"
    if args.end and not args.start:
        return f"--to {args.end} is at or before the start of the capture ({runs}, {length})"
    if end_ns <= start_ns:
        return f"--to {args.end} must be after --from {args.start} ({runs}, {length})"
    return f"--from {args.start} --to {args.end} is outside the capture ({runs}, {length})"


def _run_bench(args: argparse.Namespace) -> int:
    if args.suite == "fuzz":
        from pathlib import Path

        from flowviz.bench.fuzz import format_fuzz_figures, run_fuzz

        captures = Path(__file__).resolve().parents[1].parent / "shared" / "captures"
        result = run_fuzz(seconds=10.0 if args.quick else args.seconds, seed=args.seed, captures_dir=captures)
        figures, text = result.as_dict(), format_fuzz_figures(result)
    elif args.suite == "live":
        from flowviz.bench.live import format_live_figures, run_live_bench
        from flowviz.sources.kafka_publish import BrokerError

        try:
            figures = run_live_bench(quick=args.quick, bootstrap=args.bootstrap, workers=args.workers)
        except BrokerError as error:
            print(f"flowviz bench live: {error}", file=sys.stderr)
            return EXIT_NOTHING_USABLE
        text = format_live_figures(figures)
    elif args.suite == "groups":  # one look at the consumer groups: 200 groups x 50 partitions
        from flowviz.bench.groups import format_groups_figures, run_groups_bench
        from flowviz.sources.kafka_publish import BrokerError

        try:
            figures = run_groups_bench(groups=20 if args.quick else 200, looks=3 if args.quick else 12)
        except BrokerError as error:
            print(f"flowviz bench groups: {error}", file=sys.stderr)
            return EXIT_NOTHING_USABLE
        text = format_groups_figures(figures)
    elif args.suite == "receive":
        from flowviz.bench.receive import format_receive_figures, run_receive_bench

        figures = run_receive_bench(quick=args.quick)
        text = format_receive_figures(figures)
    elif args.suite == "layout":
        from flowviz.bench.layout import format_layout_figures, run_layout_bench

        figures = run_layout_bench(quick=args.quick)
        text = format_layout_figures(figures)
    elif args.suite == "scrub":
        from flowviz.bench.render import run_scrub_bench

        figures = run_scrub_bench(retention_s=600 if args.quick else 3600, steps=10 if args.quick else 60)
        drag = figures["drag"]
        text = (
            f"scrub step at {figures['scrub']['services']} services, request to painted: "
            f"p50 {figures['scrub']['p50_ms']} ms, p95 {figures['scrub']['p95_ms']} ms\n"
            f"drag of {drag['requests']} positions {drag['interval_ms']} ms apart: {drag['frames_painted']} frames "
            f"painted, {drag['coalesced']} requests coalesced, {drag['stale_results_dropped']} stale results dropped, "
            f"p50 {drag['p50_ms']} ms, p95 {drag['p95_ms']} ms"
        )
    elif args.suite == "findings":
        from flowviz.bench.findings import format_findings_figures, run_findings_bench

        figures = run_findings_bench(retention_s=600 if args.quick else 3600, updates=10 if args.quick else 60)
        text = format_findings_figures(figures)
    elif args.suite == "render":
        from flowviz.bench.render import format_render_figures, run_render_bench

        figures = run_render_bench(frames=30 if args.quick else 200, quick=args.quick)
        text = format_render_figures(figures)
    else:
        from flowviz.bench.ingest import IngestBenchFailed, format_figures, run_ingest_bench

        try:
            figures = run_ingest_bench(
                spans=20_000 if args.quick else args.spans,
                quick=args.quick,
                workers=args.workers,
                report_spans=0 if args.quick else args.report_spans,
            )
        except IngestBenchFailed as error:
            print(f"flowviz bench ingest: {error}", file=sys.stderr)
            return EXIT_NOTHING_USABLE
        text = format_figures(figures)
    if args.json:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(text)
    return 1 if args.suite == "fuzz" and figures["failures"] else EXIT_OK  # a fuzz case that raised


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse; an unknown option is reported by the command it was given to (its usage, a close match)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        command = parser
        if args.command is not None:
            subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            command = subparsers.choices[args.command]
        known = [option for action in command._actions for option in action.option_strings]
        hints = [difflib.get_close_matches(extra.split("=")[0], known, n=1) for extra in extras]
        hint = next((f" (did you mean {match[0]}?)" for match in hints if match), "")
        command.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = _with_sample(_parse(parser, argv))
    if args.command is None:
        from flowviz.ui.app import run_start_page

        return run_start_page(theme=None)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
