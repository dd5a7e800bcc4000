"""`--prometheus URL` on the command line: its options, the time range, and `flowviz report --prometheus`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from flowviz.model.time_spec import TimeSpecError, format_time_ns, parse_duration_s, parse_time_ns

if TYPE_CHECKING:  # the data side loads when a command runs, not for `--help`
    from flowviz.model.problems import Problems
    from flowviz.sources.pipeline import IngestTotals
    from flowviz.sources.prometheus import PrometheusReader, PrometheusSettings
    from flowviz.store.rolling_store import RollingStore

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2
SECOND_NS = 1_000_000_000


def add_prometheus_arguments(parser: argparse.ArgumentParser) -> None:
    """--prometheus URL and its auth/TLS/tenant/step options (secrets only from files)."""
    group = parser.add_argument_group("service-graph metrics from Prometheus (the servicegraph connector's)")
    group.add_argument("--prometheus", metavar="URL", help="read the graph from this Prometheus / Mimir / Thanos")
    group.add_argument("--bearer-token-file", metavar="FILE", help="Authorization: Bearer <the file's content>")
    group.add_argument("--basic-auth-file", metavar="FILE", help="basic auth from a file holding USER:PASSWORD")
    group.add_argument("--prometheus-ca", metavar="FILE", help="CA bundle to verify an https URL with")
    group.add_argument("--prometheus-cert", metavar="FILE", help="client certificate (mutual TLS)")
    group.add_argument("--prometheus-key", metavar="FILE", help="client key of --prometheus-cert")
    group.add_argument("--insecure-skip-verify", action="store_true", help="do not verify the server's certificate")
    group.add_argument("--tenant", metavar="ID", help="X-Scope-OrgID (Mimir, Cortex)")
    group.add_argument(
        "--step", metavar="DURATION", help="resolution, e.g. 15s (default: the scrape interval; never finer)"
    )


def prometheus_settings_from_args(args: argparse.Namespace) -> PrometheusSettings:
    """PrometheusSettings from `add_prometheus_arguments` options (checked: PrometheusError, TimeSpecError)."""
    from flowviz.sources.prometheus import PrometheusSettings, check_prometheus_settings

    settings = PrometheusSettings(
        url=args.prometheus,
        bearer_token_file=args.bearer_token_file,
        basic_auth_file=args.basic_auth_file,
        ca_file=args.prometheus_ca,
        client_cert=args.prometheus_cert,
        client_key=args.prometheus_key,
        insecure_skip_verify=args.insecure_skip_verify,
        tenant=args.tenant,
        step_s=parse_duration_s(args.step) if args.step else None,
    )
    check_prometheus_settings(settings)
    return settings


def parse_instant_ns(text: str, *, now_ns: int | None = None) -> int:
    """An instant for metrics: ISO-8601, `now`, or `-DURATION` before now (`-1h`); TimeSpecError otherwise."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    text = text.strip()
    if text.lower() == "now":
        return now_ns
    if text.startswith("-"):
        return now_ns - round(parse_duration_s(text[1:]) * SECOND_NS)
    if text.startswith("+"):
        raise TimeSpecError(f"{text!r}: metrics have no first span to count from: use ISO-8601, now or -DURATION")
    return parse_time_ns(text, origin_ns=now_ns)


def time_range_ns(start: str | None, end: str | None, *, now_ns: int | None = None) -> tuple[int, int]:
    """[from, to) from --from/--to (default: the last 15 minutes); TimeSpecError when it is empty or unreadable."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    end_ns = parse_instant_ns(end, now_ns=now_ns) if end else now_ns
    start_ns = parse_instant_ns(start, now_ns=now_ns) if start else end_ns - 15 * 60 * SECOND_NS
    if end_ns <= start_ns:
        raise TimeSpecError("--to must be after --from")
    return start_ns, end_ns


def load_prometheus(
    settings: PrometheusSettings, store: RollingStore, start_ns: int, end_ns: int, problems: Problems
) -> tuple[IngestTotals, PrometheusReader]:
    """Read the service graph of [start, end) into `store`; PrometheusError when it cannot."""
    from flowviz.sources.pipeline import IngestTotals
    from flowviz.sources.prometheus import PrometheusReader

    reader = PrometheusReader(settings, problems=problems)
    totals = IngestTotals()
    for graph in reader.read(start_ns / SECOND_NS, end_ns / SECOND_NS):
        observations = graph.observations
        if len(observations):
            store.ingest(observations)
            totals.calls += int(observations.count.sum())
            first, last = int(observations.time_ns.min()), int(observations.time_ns.max())
            totals.first_start_ns = first if totals.first_start_ns is None else min(totals.first_start_ns, first)
            totals.last_start_ns = last if totals.last_start_ns is None else max(totals.last_start_ns, last)
    return totals, reader


def _settings_and_range(
    args: argparse.Namespace, command: str, start: str | None, end: str | None
) -> tuple[PrometheusSettings, int, int] | None:
    """The server's settings and the [start, end) range in ns from the command line; None (said on stderr,
    prefixed by `command`) when either is wrong."""
    from flowviz.sources.prometheus import PrometheusError

    try:
        settings = prometheus_settings_from_args(args)
        start_ns, end_ns = time_range_ns(start, end)
    except (PrometheusError, TimeSpecError) as error:
        print(f"flowviz {command}: {error}", file=sys.stderr)
        return None
    return settings, start_ns, end_ns


def run_report_prometheus(args: argparse.Namespace) -> int:
    """`flowviz report --prometheus URL --from T --to T`: the report of the counters' increase in [from, to)."""
    import orjson

    from flowviz.analysis.report import ReportWindow, build_report, format_report
    from flowviz.model.problems import Problems
    from flowviz.sources.prometheus import PrometheusError
    from flowviz.store.rolling_store import RollingStore

    if args.captures:
        print("flowviz report: give capture files or --prometheus, not both", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "service", None):
        print(
            "flowviz report: --service needs traces (a service report is built from spans; with metrics, "
            "--json lists operations from span metrics and exemplar trace ids)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    parsed = _settings_and_range(args, "report", args.start, args.end)
    if parsed is None:
        return EXIT_USAGE
    settings, start_ns, end_ns = parsed
    problems = Problems(echo=sys.stderr)
    store = RollingStore(problems=problems)
    try:
        totals, reader = load_prometheus(settings, store, start_ns, end_ns, problems)
    except PrometheusError as error:
        print(f"flowviz: {error}", file=sys.stderr)
        return EXIT_NOTHING
    from flowviz.sources.prometheus import describe_step

    if reader.status.step_note:
        print(f"flowviz report: {reader.status.step_note}", file=sys.stderr)
    report = build_report(store, ReportWindow.snapped(start_ns, end_ns), totals, problems)
    covered = counts_cover(reader, start_ns, end_ns)
    from flowviz.sources.span_metrics import read_operations

    try:
        operations = read_operations(reader, start_ns / SECOND_NS, end_ns / SECOND_NS)
    except PrometheusError as error:
        print(f"flowviz: span metrics not read: {error}", file=sys.stderr)
        operations = []
    if operations:
        report["operations"] = operations  # per service and operation, from span metrics
    try:
        exemplars = exemplar_rows(reader, start_ns / SECOND_NS, end_ns / SECOND_NS)
    except PrometheusError as error:
        print(f"flowviz: exemplars not read: {error}", file=sys.stderr)
        exemplars = []
    if exemplars:
        report["exemplars"] = exemplars  # trace ids the server keeps, the slowest per edge
    report["input"] = {  # type: ignore[dict-item]
        **report["input"],  # type: ignore[dict-item]
        "prometheus": settings.url,
        "metric": reader.status.metric,
        "step_seconds": reader.step_s,
        "scrape_interval_seconds": reader.scrape_s,
        **({"step_note": reader.status.step_note} if reader.status.step_note else {}),
        **({"counts_cover": covered} if covered else {}),
    }
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(format_report(report))
        if covered:
            print(
                f"Counts cover the counters' increase between the samples at {covered['start']} and "
                f"{covered['end']}: the window's edges fall between samples"
            )
        if operations:
            print(f"\nOperations ({len(operations)}, from span metrics)")
            for row in operations:
                latency = " ".join(f"{k[:3]} {row[k]} ms" for k in ("p50_ms", "p95_ms", "p99_ms") if row[k] is not None)
                print(
                    f"  {row['service']}  {row['operation']} ({row['kind']}): {row['requests']:,} requests, "
                    f"{row['errors']:,} errors  {latency}"
                )
        if exemplars:
            print(f"\nExemplar traces (the slowest per edge, {len(exemplars)}; look them up in your tracing backend)")
            for row in exemplars:
                latency = f"{row['latency_ms']:g} ms" if row["latency_ms"] is not None else "latency not given"
                failed = ", failed" if row["failed"] else ""
                print(f"  {row['source']} -> {row['target']}  {row['trace_id']}  {row['time']}  {latency}{failed}")
        print(f"\nfrom {settings.url}: {reader.status.metric}, step {describe_step(reader.step_s, reader.scrape_s)}")
        if reader.status.step_note:
            print(reader.status.step_note)
    return EXIT_OK


def counts_cover(reader: PrometheusReader, start_ns: int, end_ns: int) -> dict[str, str] | None:
    """Where the counted increases run between samples other than [start, end]'s edges: the samples' times
    (`start`, `end`, ISO-8601); None when the counts are exactly the window's (or nothing was counted)."""
    covered = reader.status.covered_s
    if covered is None:
        return None
    first_ns, last_ns = (round(t * SECOND_NS) for t in covered)
    if (first_ns, last_ns) == (start_ns, end_ns):
        return None
    return {"start": format_time_ns(first_ns), "end": format_time_ns(last_ns)}


def exemplar_rows(reader, start_s: float, end_s: float, per_edge: int = 5) -> list[dict[str, object]]:
    """The slowest `per_edge` exemplar trace ids of each edge in [start, end) (failed ones first among equals)."""
    from flowviz.sources.metric_details import read_exemplars

    assert reader.metrics is not None
    found = read_exemplars(reader, reader.metrics, start_s, end_s)
    found.sort(key=lambda e: (e.client, e.server, -e.latency_ns, not e.failed, e.time_ns))
    rows: list[dict[str, object]] = []
    taken: dict[tuple[str, str], int] = {}
    for item in found:
        edge = (item.client, item.server)
        if taken.get(edge, 0) >= per_edge or not start_s * SECOND_NS <= item.time_ns < end_s * SECOND_NS:
            continue
        taken[edge] = taken.get(edge, 0) + 1
        rows.append(
            {
                "source": item.client,
                "target": item.server,
                "trace_id": item.trace_id,
                "time": format_time_ns(item.time_ns),
                "latency_ms": item.latency_ns / 1e6 if item.latency_ns else None,
                "failed": item.failed,
            }
        )
    return rows


def add_range_arguments(parser: argparse.ArgumentParser) -> None:
    """--from/--to for `open --prometheus` (captures have their own times and take neither)."""
    parser.add_argument("--from", dest="start", metavar="T", help="with --prometheus: ISO-8601, now or -DURATION")
    parser.add_argument("--to", dest="end", metavar="T", help="with --prometheus: the range's end (default now)")


def run_open_prometheus(args: argparse.Namespace) -> int:
    """`flowviz open --prometheus URL --from T --to T`: a window on a past range of service-graph metrics."""
    from flowviz.sources.prometheus_feed import PrometheusSpec
    from flowviz.ui.app import run_metrics

    if args.captures:
        print("flowviz open: give capture files or --prometheus, not both", file=sys.stderr)
        return EXIT_USAGE
    parsed = _settings_and_range(args, "open", args.start, args.end)
    if parsed is None:
        return EXIT_USAGE
    settings, start_ns, end_ns = parsed
    return run_metrics(PrometheusSpec(settings, start_ns, end_ns), theme=args.theme)


def run_live_prometheus(args: argparse.Namespace) -> int:
    """`flowviz live --prometheus URL [--from -15m]`: a window following the service-graph metrics."""
    from flowviz.sources.prometheus_feed import PrometheusSpec
    from flowviz.ui.app import run_metrics

    if args.bootstrap or args.topics or args.kafka_config:
        print("flowviz live: Kafka options and --prometheus do not go together", file=sys.stderr)
        return EXIT_USAGE
    start = args.start if args.start not in ("latest", "earliest") else "-15m"  # metrics give a past for free
    parsed = _settings_and_range(args, "live", start, None)
    if parsed is None:
        return EXIT_USAGE
    settings, start_ns, _ = parsed
    return run_metrics(PrometheusSpec(settings, start_ns), theme=args.theme)
