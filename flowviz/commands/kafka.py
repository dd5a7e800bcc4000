"""The Kafka subcommands: `flowviz record` (topics -> recording file), `simulate` (simulator -> topic), `peek`
and `journey` (the newest messages, one event's way, printed).

`add_kafka_arguments` and `settings_from_args` give `flowviz live` the same broker options.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

from flowviz.decoders.formats import KAFKA_FORMATS
from flowviz.model.time_spec import TimeSpecError
from flowviz.sources.kafka_reader import KafkaReader
from flowviz.sources.kafka_settings import (
    DEFAULT_TOPIC,
    START_CHOICES_HELP,
    KafkaConfigError,
    KafkaSettings,
    check_settings,
    recording_header,
)
from flowviz.sources.kafka_status import status_text

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2
STATUS_EVERY_S = 5.0
STOP_WAIT_S = 1.0  # at the end of `record`, how long a look at the groups still in flight may take


def _add_broker_arguments(parser: argparse.ArgumentParser) -> None:
    """The broker and its librdkafka properties file, as peek, journey and simulate take them."""
    parser.add_argument("--bootstrap", default="", metavar="HOST:PORT", help="Kafka broker(s)")
    parser.add_argument("--kafka-config", metavar="FILE", help="librdkafka properties file (security settings)")


def add_kafka_arguments(
    parser: argparse.ArgumentParser, *, with_format: bool = True, with_groups: bool = True, start: str = "latest"
) -> None:
    """--bootstrap, --topic (repeatable), --from, --kafka-config and (optionally) --format, with the business
    event options --event-producer and --group."""
    parser.add_argument("--bootstrap", default="", metavar="HOST:PORT", help="Kafka broker(s), comma-separated")
    parser.add_argument(
        "--topic",
        dest="topics",
        action="append",
        metavar="T",
        help=f"topic to read (repeatable; default {DEFAULT_TOPIC})",
    )
    parser.add_argument("--from", dest="start", default=start, metavar="WHEN", help=f"{START_CHOICES_HELP}")
    parser.add_argument(
        "--kafka-config",
        metavar="FILE",
        help="librdkafka properties file (security.protocol, sasl.*, ssl.*): secrets stay in that file",
    )
    if with_format:
        parser.add_argument("--format", choices=KAFKA_FORMATS, default="auto", help="message format (default: detect)")
        parser.add_argument(
            "--event-producer",
            metavar="WHERE",
            help="where business events name their producer: header:NAME or a JSON field path such as "
            "producer or data.service (default: CloudEvents source, else a source/producer field)",
        )
    if with_format:
        parser.add_argument(
            "--event-field",
            dest="event_fields",
            action="append",
            metavar="NAME=PATH",
            help="where plain events (JSON, Avro, Protobuf) keep their type, id or time: type=meta.kind, "
            "id=meta.uuid, time=occurred_at (repeatable)",
        )
        parser.add_argument(
            "--dead-letter",
            dest="dead_letters",
            action="append",
            metavar="PATTERN",
            help="names of dead-letter/retry topics, shell patterns (repeatable; default *.DLT, *-dlq, *.retry, "
            "*-retry-* and the like): their messages are failures on the flow they left",
        )
    if with_format:
        parser.add_argument(
            "--schema-registry",
            metavar="URL",
            help="schema registry for Avro/Protobuf events in the Confluent wire format (its HTTP API)",
        )
        parser.add_argument(
            "--schemas",
            metavar="DIR",
            help="folder of schemas named by id: 17.avsc, 18-orders.proto, 25-shipments.json, ...",
        )
        parser.add_argument(
            "--schema-registry-config",
            metavar="FILE",
            help="properties file with the registry's basic.auth.user.info=USER:PASSWORD (stays in that file)",
        )
    if with_format and with_groups:
        parser.add_argument(
            "--group",
            dest="groups",
            action="append",
            metavar="G",
            help="consumer group to show on event topics (repeatable; default: every group the broker lists)",
        )


def settings_from_args(args: argparse.Namespace) -> KafkaSettings:
    """KafkaSettings from `add_kafka_arguments` options (checked: KafkaConfigError / TimeSpecError)."""
    settings = KafkaSettings(
        bootstrap=args.bootstrap,
        topics=tuple(args.topics or (DEFAULT_TOPIC,)),
        format_name=getattr(args, "format", "auto"),
        start=args.start,
        config_path=args.kafka_config,
        event_producer=getattr(args, "event_producer", None),
        groups=tuple(getattr(args, "groups", None) or ()),
        dead_letters=tuple(getattr(args, "dead_letters", None) or ()),
        schema_registry=getattr(args, "schema_registry", None),
        schemas=getattr(args, "schemas", None),
        schema_registry_config=getattr(args, "schema_registry_config", None),
        event_fields=tuple(getattr(args, "event_fields", None) or ()),
        workers=_decode_workers(args),
    )
    check_settings(settings)
    return settings


def _decode_workers(args: argparse.Namespace) -> int:
    """`--workers N` where a command has it (unset: `kafka_decoders.default_live_workers`); else 1."""
    if not hasattr(args, "workers"):
        return 1
    from flowviz.sources.kafka_decoders import default_live_workers

    return args.workers or default_live_workers()


def add_kafka_commands(commands: argparse._SubParsersAction) -> None:
    """The `record` and `simulate` subcommands."""
    record = commands.add_parser(
        "record",
        help="record Kafka topics to a file losslessly, headless (open or report it later)",
        description="Append every message of the topics (value, key, headers, timestamp, offsets) to FILE.",
    )
    add_kafka_arguments(record, start="latest")
    record.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="recording file (appended to if it exists)"
    )
    record.add_argument("--until-idle", type=float, metavar="S", help="stop after S seconds without a message")
    record.add_argument("--max-messages", type=int, metavar="N", help="stop after N messages")
    record.set_defaults(handler=run_record)
    peek_command = commands.add_parser(
        "peek",
        help="show the last messages of a topic (of one producer, or before a group's commits), headless",
        description="Read the newest messages of a topic by assign() (no group, no commits) and print them: time, "
        "place, event producer/type/id, key, size and a preview of the value. Nothing is kept.",
    )
    _add_broker_arguments(peek_command)
    peek_command.add_argument("--topic", required=True, metavar="T", help="the topic")
    peek_command.add_argument("-n", "--count", type=int, default=20, metavar="N", help="messages (default 20)")
    peek_command.add_argument("--producer", metavar="P", help="only business events of this producer")
    peek_command.add_argument("--group", metavar="G", help="only what this consumer group had consumed (committed)")
    peek_command.add_argument("--json", action="store_true", help="one JSON list of the messages")
    add_connect_timeout(peek_command)
    peek_command.set_defaults(handler=run_peek)
    journey = commands.add_parser(
        "journey",
        help="one event's journey: producer, trace context, topic/partition/offset, each group's commit",
        description="Find the event with this id among the topics' newest messages and show where it went.",
    )
    _add_broker_arguments(journey)
    journey.add_argument("--topic", dest="topics", action="append", required=True, metavar="T", help="(repeatable)")
    journey.add_argument("--id", dest="event_id", required=True, metavar="ID", help="the event id (CloudEvents id)")
    journey.add_argument("--group", dest="groups", action="append", metavar="G", help="only these groups")
    journey.add_argument("--json", action="store_true", help="one JSON object")
    add_connect_timeout(journey)
    journey.set_defaults(handler=run_journey)
    simulate = commands.add_parser(
        "simulate",
        help="publish the built-in simulated platform to a Kafka topic (demos, load tests)",
        description="Publish OTLP messages of the simulator in real time, as the Collector's kafka exporter does.",
    )
    _add_broker_arguments(simulate)
    simulate.add_argument("--topic", default=DEFAULT_TOPIC, metavar="T", help=f"topic (default {DEFAULT_TOPIC})")
    simulate.add_argument("--rate", type=float, default=1_500.0, help="mean spans per second (default 1500)")
    simulate.add_argument("--format", choices=("otlp_proto", "otlp_json"), default="otlp_proto")
    simulate.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    simulate.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: Ctrl-C)")
    simulate.add_argument("--flat", action="store_true", help="a constant rate (no daily curve): for load tests")
    simulate.add_argument("--spans-per-message", type=int, default=100, metavar="N", help="(default 100)")
    add_connect_timeout(simulate)
    simulate.set_defaults(handler=run_simulate)


# -- record ----------------------------------------------------------------------------------


@dataclass(slots=True)
class RecordTotals:
    """What a recording session appended, and why it stopped."""

    messages: int = 0
    bytes: int = 0
    stopped_by: str = ""


def record_kafka(
    reader: KafkaReader,
    writer,
    *,
    until_idle_s: float | None = None,
    max_messages: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_status: Callable[[dict], None] | None = None,
    groups=None,
) -> RecordTotals:
    """Append what `reader` consumes to `writer` (a RecordingWriter) until idle, a count, or `should_stop()`;
    with `groups` (a GroupOffsetPoller watching the topics) its looks at the consumer groups too."""
    totals = RecordTotals()
    last_message_s = time.monotonic()
    next_status_s = time.monotonic() + 1.0
    while True:
        if should_stop():
            totals.stopped_by = "stopped"
            break
        wanted = 20_000 if max_messages is None else min(20_000, max_messages - totals.messages)
        messages = reader.poll(max_messages=wanted, timeout_s=0.2)
        now = time.monotonic()
        if messages:
            writer.append(messages)
            totals.messages += len(messages)
            totals.bytes += sum(len(m.value() or b"") for m in messages)
            last_message_s = now
        if groups is not None:
            writer.append_looks(groups.take())
        if on_status is not None and now >= next_status_s:
            next_status_s = now + STATUS_EVERY_S
            on_status(reader.status.as_dict())
        if max_messages is not None and totals.messages >= max_messages:
            totals.stopped_by = f"{max_messages} messages"
            break
        if until_idle_s is not None and now - last_message_s >= until_idle_s:
            # idle counts with no broker or no topic too: a headless command's wait is bounded
            status = reader.status
            why = "" if status.state == "connected" else f" ({status.state}: {status.last_error or 'no answer'})"
            totals.stopped_by = f"idle for {until_idle_s:g} s{why}"
            break
    return totals


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Callable[[], bool]]:
    """SIGTERM and Ctrl-C end the loop at the next batch (the recording closes cleanly)."""
    stop = [False]

    def handle(_signum, _frame) -> None:
        stop[0] = True

    previous = {}
    for name in ("SIGTERM", "SIGINT"):
        number = getattr(signal, name)
        with contextlib.suppress(ValueError):  # not the main thread: no handlers
            previous[number] = signal.signal(number, handle)
    try:
        yield lambda: stop[0]
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_record(args: argparse.Namespace, *, err: TextIO | None = None) -> int:
    from flowviz.model.problems import Problems
    from flowviz.sources.kafka_groups import GroupOffsetPoller
    from flowviz.sources.recording import RecordingError, RecordingWriter

    err = err or sys.stderr
    try:
        settings = settings_from_args(args)
    except (KafkaConfigError, TimeSpecError) as error:
        print(f"flowviz record: {error}", file=err)
        return EXIT_USAGE
    if args.max_messages is not None and args.max_messages < 1:
        print("flowviz record: --max-messages must be at least 1", file=err)
        return EXIT_USAGE
    header = recording_header(settings)
    try:
        writer = RecordingWriter(args.output, header=header)
    except RecordingError as error:
        print(f"flowviz record: {error}", file=err)
        return EXIT_USAGE
    if writer.cut_bytes:
        print(f"flowviz record: cut off a partial last record ({writer.cut_bytes} bytes) before appending", file=err)
    reader = KafkaReader(settings, problems=Problems())
    groups = GroupOffsetPoller(settings)  # the groups' commits and the ends: `open` shows their lag too
    groups.watch(settings.topics)
    print(
        f"recording {', '.join(settings.topics)} from {settings.bootstrap or 'the configured broker'} to {args.output}",
        file=err,
    )
    try:
        with stop_on_signals() as should_stop:
            totals = record_kafka(
                reader,
                writer,
                until_idle_s=args.until_idle,
                max_messages=args.max_messages,
                should_stop=should_stop,
                on_status=lambda status: print(status_text(status), file=err),
                groups=groups,
            )
        groups.stop(wait_s=STOP_WAIT_S)  # a look in flight at a broker that does not answer is not waited out
        writer.append_looks(groups.take())
    finally:
        groups.stop(wait_s=0.0)
        reader.close()
        writer.close()
    print(
        f"recorded {totals.messages:,} messages ({totals.bytes:,} bytes of values) to {args.output}"
        + (f"; {totals.stopped_by}" if totals.stopped_by else ""),
        file=err,
    )
    return EXIT_OK if totals.messages else EXIT_NOTHING


# -- peek ------------------------------------------------------------------------------------


def run_peek(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    import orjson

    from flowviz.sources.kafka_peek import committed_offsets, peek

    out, err = out or sys.stdout, err or sys.stderr
    settings = KafkaSettings(bootstrap=args.bootstrap, topics=(args.topic,), config_path=args.kafka_config)
    if args.count < 1:
        print("flowviz peek: -n must be at least 1", file=err)
        return EXIT_USAGE
    try:
        check_settings(settings)
        unreachable = broker_unreachable(settings, getattr(args, "connect_timeout", DEFAULT_CONNECT_TIMEOUT_S))
        if unreachable:
            print(f"flowviz peek: {unreachable}", file=err)
            return EXIT_NOTHING
        before = committed_offsets(settings, args.group, args.topic) if args.group else None
        messages = peek(settings, args.topic, count=args.count, producer=args.producer, before=before)
    except (KafkaConfigError, LookupError) as error:
        print(f"flowviz peek: {error}", file=err)
        return EXIT_USAGE
    except Exception as error:  # a broker that does not answer: said, never a traceback
        print(f"flowviz peek: {type(error).__name__}: {error}", file=err)
        return EXIT_NOTHING
    if args.json:
        rows = [{**{f: getattr(m, f) for f in m.__slots__}, "time": m.time_text} for m in messages]
        out.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for message in messages:
            print(message.line(), file=out)
    return EXIT_OK if messages else EXIT_NOTHING


def run_journey(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    import orjson

    from flowviz.sources.kafka_journey import event_journey

    out, err = out or sys.stdout, err or sys.stderr
    settings = KafkaSettings(
        bootstrap=args.bootstrap,
        topics=tuple(args.topics),
        config_path=args.kafka_config,
        groups=tuple(args.groups or ()),
    )
    try:
        check_settings(settings)
        unreachable = broker_unreachable(settings, getattr(args, "connect_timeout", DEFAULT_CONNECT_TIMEOUT_S))
        if unreachable:
            print(f"flowviz journey: {unreachable}", file=err)
            return EXIT_NOTHING
        journey = event_journey(settings, args.event_id, topics=settings.topics)
    except KafkaConfigError as error:
        print(f"flowviz journey: {error}", file=err)
        return EXIT_USAGE
    except Exception as error:  # a broker that does not answer: said, never a traceback
        print(f"flowviz journey: {type(error).__name__}: {error}", file=err)
        return EXIT_NOTHING
    if journey is None:
        print(
            f"flowviz journey: no event {args.event_id!r} among the newest messages of {', '.join(args.topics)}",
            file=err,
        )
        return EXIT_NOTHING
    if args.json:
        message = journey.message
        document = {
            "event_id": journey.event_id,
            "producer": message.producer,
            "type": message.event_type,
            "time": message.time_text,
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "trace_id": journey.trace_id,
            "span_id": journey.span_id,
            "groups": [
                {"group": c.group, "committed": c.committed, "consumed": c.covered, "delay_ms": c.delay_ms}
                for c in journey.groups
            ],
        }
        out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print("\n".join(journey.lines()), file=out)
    return EXIT_OK


# -- simulate --------------------------------------------------------------------------------

DEFAULT_CONNECT_TIMEOUT_S = 10.0


def add_connect_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT_S,
        metavar="S",
        help=f"give up when the broker does not answer within S seconds (default {DEFAULT_CONNECT_TIMEOUT_S:g})",
    )


def broker_unreachable(settings: KafkaSettings, timeout_s: float) -> str | None:
    """Why the broker cannot be used (refused, no answer within `timeout_s`, bad settings); None when it answered."""
    from flowviz.sources.kafka_probe import probe_topics

    result = probe_topics(settings, timeout_s=max(timeout_s, 0.1))
    if result.ok:
        return None
    return f"cannot reach the broker at {settings.bootstrap} within {timeout_s:g} s: {result.error}"


def run_simulate(args: argparse.Namespace, *, err: TextIO | None = None) -> int:
    from flowviz.sources.kafka_publish import publish_simulator

    err = err or sys.stderr
    settings = KafkaSettings(bootstrap=args.bootstrap, topics=(args.topic,), config_path=args.kafka_config)
    try:
        check_settings(settings)
    except KafkaConfigError as error:
        print(f"flowviz simulate: {error}", file=err)
        return EXIT_USAGE
    if args.rate <= 0 or args.spans_per_message < 1:
        print("flowviz simulate: --rate and --spans-per-message must be positive", file=err)
        return EXIT_USAGE
    unreachable = broker_unreachable(settings, args.connect_timeout)
    if unreachable:
        print(f"flowviz simulate: {unreachable}", file=err)
        return EXIT_NOTHING
    next_report = [time.monotonic() + STATUS_EVERY_S]

    def report(totals) -> None:
        if time.monotonic() >= next_report[0]:
            next_report[0] += STATUS_EVERY_S
            failed = f", {totals.failed:,} failed ({totals.last_error})" if totals.failed else ""
            print(f"published {totals.messages:,} messages, {totals.spans:,} spans{failed}", file=err)

    print(f"publishing the simulator at {args.rate:,.0f} spans/s to {args.topic} on {args.bootstrap}", file=err)
    with stop_on_signals() as should_stop:
        totals = publish_simulator(
            settings,
            args.topic,
            rate_per_s=args.rate,
            format_name=args.format,
            seed=args.seed,
            duration_s=args.duration,
            spans_per_message=args.spans_per_message,
            flat=args.flat,
            should_stop=should_stop,
            on_tick=report,
        )
    failed = f"; {totals.failed:,} not delivered ({totals.last_error})" if totals.failed else ""
    print(f"published {totals.messages:,} messages, {totals.spans:,} spans in {totals.seconds:.1f} s{failed}", file=err)
    return EXIT_OK if totals.messages and not totals.failed else EXIT_NOTHING
