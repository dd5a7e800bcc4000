"""The OTLP receiver on the command line: `flowviz listen` (a window) and `flowviz record --grpc/--http` (a file)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from flowviz.commands.kafka import stop_on_signals
from flowviz.sources.otlp_defaults import DEFAULT_GRPC, DEFAULT_HTTP

if TYPE_CHECKING:  # the receiver (ssl, sockets) loads when listen or record runs, not for every command
    from flowviz.sources.otlp_receiver import ReceiverSettings


EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2


def add_receiver_arguments(parser: argparse.ArgumentParser, *, defaults_note: str) -> None:
    """--grpc, --http, --allow-remote, --tls-cert, --tls-key, --max-request-mb."""
    parser.add_argument("--grpc", metavar="HOST:PORT", help=f"receive OTLP/gRPC here ({defaults_note}{DEFAULT_GRPC})")
    parser.add_argument(
        "--http", metavar="HOST:PORT", help=f"receive OTLP/HTTP POST /v1/traces here ({defaults_note}{DEFAULT_HTTP})"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow addresses other than loopback (other machines can send); needs --tls-cert and --tls-key",
    )
    parser.add_argument("--tls-cert", metavar="FILE", help="PEM certificate (chain) to serve TLS with")
    parser.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    parser.add_argument(
        "--max-request-mb", type=float, default=16.0, metavar="MB", help="largest request taken, uncompressed (16)"
    )


def receiver_settings_from_args(args: argparse.Namespace, *, both_by_default: bool) -> ReceiverSettings:
    """ReceiverSettings from `add_receiver_arguments` options (checked: ReceiverConfigError)."""
    from flowviz.sources.otlp_receiver import ReceiverSettings, check_receiver_settings

    grpc, http = args.grpc, args.http
    if both_by_default and not grpc and not http:
        grpc, http = DEFAULT_GRPC, DEFAULT_HTTP
    settings = ReceiverSettings(
        grpc=grpc or None,
        http=http or None,
        allow_remote=args.allow_remote,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        max_body_bytes=int(args.max_request_mb * (1 << 20)),
    )
    check_receiver_settings(settings)
    return settings


def add_listen_command(commands: argparse._SubParsersAction, *, themes: tuple[str, ...]) -> None:
    listen = commands.add_parser(
        "listen",
        help="open the window on OTLP that SDKs or collectors send to flowviz (gRPC and HTTP), live",
        description="Receive OTLP traces as a collector does and show their service graph live. Without "
        "--grpc/--http both default addresses are used; with either, only the ones given.",
    )
    add_receiver_arguments(listen, defaults_note="default ")
    listen.add_argument("--theme", choices=themes, help="colour theme (default: the one last chosen, else dark)")
    listen.set_defaults(handler=run_listen)


def add_record_options(record: argparse.ArgumentParser) -> None:
    """`flowviz record` records OTLP sent to flowviz instead of Kafka topics when --grpc or --http is given."""
    group = record.add_argument_group("recording OTLP sent to flowviz (instead of Kafka topics)")
    add_receiver_arguments(group, defaults_note="e.g. ")  # type: ignore[arg-type]


def run_listen(args: argparse.Namespace) -> int:
    from flowviz.sources.otlp_receiver import ReceiverConfigError
    from flowviz.ui.app import run_listen as run_window

    try:
        settings = receiver_settings_from_args(args, both_by_default=True)
    except ReceiverConfigError as error:
        print(f"flowviz listen: {error}", file=sys.stderr)
        return EXIT_USAGE
    return run_window(settings, theme=args.theme)


def run_record_otlp(args: argparse.Namespace, *, err: TextIO | None = None) -> int:
    """`flowviz record --grpc/--http -o FILE`: every accepted request appended, as it came, until idle or stopped."""
    from flowviz.model.problems import Problems
    from flowviz.sources.otlp_receiver import OtlpReceiver, ReceiverConfigError, record_otlp, status_text
    from flowviz.sources.recording import RecordingError, RecordingWriter

    err = err or sys.stderr
    kafka_options = [name for name in ("bootstrap", "topics", "kafka_config") if getattr(args, name, None)]
    if kafka_options:
        print("flowviz record: Kafka options and --grpc/--http do not go together", file=err)
        return EXIT_USAGE
    try:
        settings = receiver_settings_from_args(args, both_by_default=False)
    except ReceiverConfigError as error:
        print(f"flowviz record: {error}", file=err)
        return EXIT_USAGE
    try:
        receiver = OtlpReceiver(settings, problems=Problems())
    except (OSError, ReceiverConfigError) as error:
        print(f"flowviz record: {error}", file=err)
        return EXIT_NOTHING
    try:
        writer = RecordingWriter(args.output, header=receiver.recording_header())
    except RecordingError as error:
        receiver.stop()
        print(f"flowviz record: {error}", file=err)
        return EXIT_USAGE
    where = " and ".join(
        f"{name} {address}"
        for name, address in (("gRPC", receiver.intake.status.grpc), ("HTTP", receiver.intake.status.http))
        if address
    )
    print(f"recording OTLP received on {where} to {args.output}", file=err, flush=True)
    try:
        with stop_on_signals() as should_stop:
            totals = record_otlp(
                receiver,
                writer,
                until_idle_s=args.until_idle,
                max_requests=args.max_messages,
                should_stop=should_stop,
                on_status=lambda status: print(status_text(status), file=err, flush=True),
            )
    finally:
        receiver.stop()
        writer.close()
    status = receiver.intake.snapshot()
    refused = status["refused_invalid"] + status["refused_too_large"] + status["refused_busy"]
    print(
        f"recorded {totals.requests:,} requests ({totals.spans:,} spans, {totals.bytes:,} bytes) to {args.output}"
        + (f"; {status['rejected_spans']:,} spans rejected" if status["rejected_spans"] else "")
        + (f"; {refused:,} requests refused" if refused else "")
        + (f"; {totals.stopped_by}" if totals.stopped_by else ""),
        file=err,
    )
    return EXIT_OK if totals.requests else EXIT_NOTHING


def wrap_record_handler(record: argparse.ArgumentParser) -> None:
    """Route `flowviz record` to the OTLP recorder when --grpc or --http is given, else to Kafka as before."""
    kafka_handler = record.get_default("handler")

    def handler(args: argparse.Namespace) -> int:
        if args.grpc or args.http:
            return run_record_otlp(args)
        return kafka_handler(args)

    add_record_options(record)
    record.set_defaults(handler=handler)
