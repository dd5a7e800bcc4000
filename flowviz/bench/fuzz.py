"""`flowviz bench fuzz`: damaged captures and poison Kafka messages through the whole read path.

Seeds are real captures (`../shared/captures`) and inputs generated here (OTLP protobuf frames,
OTLP JSON lines, a Kafka recording, business events). Each case applies one damage — byte flips,
truncation, a JSON value swapped for another type, deep nesting, huge numbers, zero-length and
oversized protobuf frames, gzip damage — and reads the result as `flowviz report` does (files) or as
the live worker does (Kafka message values). A case fails when an exception escapes; the figures say
how many cases ran, how long they took, the peak memory, and how many problems were counted.
"""

from __future__ import annotations

import gzip
import random
import resource
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.events import MessageMeta
from flowviz.model.problems import Problems

DEEP = 1_500  # nesting deeper than orjson (1 024) and Python's default recursion limit (1 000) allow
HUGE_NUMBERS = (10**19, -(10**19), 10**30, 1e19, 1e300, -1, 2**63, 2**64, 0.5, float("nan"))
_HUGE_JSON = (b"1e19", b"99999999999999999999", b"-1", b"1e400", b"18446744073709551616", b"-0.0")


@dataclass(frozen=True, slots=True)
class Seed:
    """An input to damage: its bytes and what kind of input it is (`file` or `message`)."""

    name: str
    data: bytes
    kind: str = "file"


@dataclass(slots=True)
class FuzzFigures:
    """What a fuzz run did."""

    cases: int = 0
    file_cases: int = 0
    message_cases: int = 0
    seconds: float = 0.0
    peak_rss_mib: float = 0.0
    problems: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "cases": self.cases,
            "file_cases": self.file_cases,
            "message_cases": self.message_cases,
            "seconds": round(self.seconds, 2),
            "cases_per_s": round(self.cases / self.seconds, 1) if self.seconds else 0.0,
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "problems": self.problems,
            "failures": len(self.failures),
            "first_failures": self.failures[:10],
        }


# -- seeds ------------------------------------------------------------------------------------


def default_seeds(captures_dir: Path | None = None) -> list[Seed]:
    """Real captures (when `captures_dir` exists; files over 1 MB are left out to keep cases quick) and
    generated inputs of every format flowviz reads."""
    seeds: list[Seed] = []
    if captures_dir is not None and captures_dir.is_dir():
        for path in sorted(captures_dir.rglob("*.json")):
            if path.stat().st_size <= 1 << 20:
                seeds.append(Seed(path.name, path.read_bytes()))
    seeds += generated_seeds()
    return seeds


def generated_seeds() -> list[Seed]:
    """OTLP protobuf frames and messages, OTLP JSON lines, a recording, events, from the simulator."""
    from flowviz.sim.simulator import Simulator
    from flowviz.sources.recording import RECORDING_MAGIC, RecordedMessage, _frame

    simulator = Simulator(seed=7, rate_per_s=300.0, start_ns=1_700_000_000_000_000_000)
    messages = simulator.generate(1_700_000_000_000_000_000 + 2_000_000_000)[:12]
    frames = b"".join(len(m).to_bytes(4, "big") + m for m in messages)
    json_lines = b"\n".join(_otlp_json_of(m) for m in messages[:6]) + b"\n"
    events = [
        orjson.dumps({"type": "OrderPlaced", "id": f"e{i}", "source": "orders", "time": "2026-01-01T00:00:00Z"})
        for i in range(4)
    ]
    records = [
        RecordedMessage("otlp_spans", 0, offset, 1, 1_700_000_000_000 + offset, None, value, None)
        for offset, value in enumerate([*messages[:4], *events])
    ]
    from flowviz.sources.recording import _ENCODER, _HEADER, _MESSAGE

    recording = RECORDING_MAGIC + _frame(_HEADER + orjson.dumps({"version": 1, "format_name": "auto"}))
    recording += b"".join(_frame(_MESSAGE + _ENCODER.encode(r)) for r in records)
    seeds = [
        Seed("generated.otlp.pb-frames", frames),
        Seed("generated.otlp.pb", messages[0]),
        Seed("generated.otlp.jsonl", json_lines),
        Seed("generated.recording", recording),
        Seed("generated.otlp.jsonl.gz", gzip.compress(json_lines)),
    ]
    seeds += [Seed(f"message.otlp.pb.{i}", m, "message") for i, m in enumerate(messages[:4])]
    seeds += [Seed(f"message.otlp.json.{i}", _otlp_json_of(m), "message") for i, m in enumerate(messages[:2])]
    seeds += [Seed(f"message.event.{i}", e, "message") for i, e in enumerate(events[:2])]
    return seeds


def _otlp_json_of(message: bytes) -> bytes:
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return orjson.dumps(orjson.loads(MessageToJson(ExportTraceServiceRequest.FromString(message), indent=None)))


# -- damage -----------------------------------------------------------------------------------


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)] if data else data


def _splice_bytes(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    insert = rng.choice([b"\x00" * rng.randint(1, 8), b"\xff" * 4, b"[" * DEEP, b'{"a":' * DEEP, b"\n", b"null\n"])
    return data[:at] + insert + data[at:]


def _json_values(document: object) -> Iterator[tuple[object, object]]:
    """(container, key) of every value inside `document`."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                yield node, key
                stack.append(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield node, index
                stack.append(value)


def _deep(rng: random.Random) -> object:
    value: object = rng.choice(["x", 1, None])
    for _ in range(DEEP):
        value = [value] if rng.random() < 0.5 else {"v": value}
    return value


def _replacement(old: object, rng: random.Random) -> object:
    choices: list[Callable[[], object]] = [
        lambda: None,
        lambda: {},
        lambda: [],
        lambda: {"k": old},
        lambda: [old],
        lambda: rng.choice(HUGE_NUMBERS),
        lambda: (str(old) if isinstance(old, str | int | float) else "x")[: rng.randint(0, 40)],
        lambda: "0001-01-01T00:00:00Z",
        lambda: "9999-12-31T23:59:59.999999999Z",
        lambda: True,
        lambda: "\u0000\uffff",
        lambda: _deep(rng),
    ]
    return rng.choice(choices)()


def _swap_json_value(data: bytes, rng: random.Random) -> bytes:
    """A value of the JSON (of one of its lines) replaced by another type, a huge number or deep nesting."""
    lines = data.split(b"\n")
    candidates = [i for i, line in enumerate(lines) if line.strip()[:1] in (b"{", b"[")]
    if not candidates:
        return _flip(data, rng)
    index = rng.choice(candidates)
    try:
        document = orjson.loads(lines[index])
    except orjson.JSONDecodeError:
        return _flip(data, rng)
    places = list(_json_values(document))
    for _ in range(rng.randint(1, 3)):
        if not places:
            break
        container, key = rng.choice(places)
        replacement = _replacement(container[key], rng)  # type: ignore[index]
        container[key] = replacement  # type: ignore[index]
    try:
        text = orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        text = _dump_deep(document)
    lines[index] = text
    return b"\n".join(lines)


def _dump_deep(document: object) -> bytes:
    """JSON of a document deeper than orjson writes: the standard library with a raised limit."""
    import json
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20 * DEEP))
    try:
        return json.dumps(document, allow_nan=True).encode()
    except (ValueError, RecursionError):
        return b"{}"
    finally:
        sys.setrecursionlimit(limit)


def _huge_number(data: bytes, rng: random.Random) -> bytes:
    """A number of the text replaced by one out of every range (ns times, ids, counts)."""
    positions = [
        i for i in range(min(len(data), 1 << 16)) if 48 <= data[i] <= 57 and (i == 0 or data[i - 1] in b":[ ,")
    ]
    if not positions:
        return _flip(data, rng)
    at = rng.choice(positions)
    end = at
    while end < len(data) and (48 <= data[end] <= 57 or data[end] in b".eE+-"):
        end += 1
    return data[:at] + rng.choice(_HUGE_JSON) + data[end:]


def _frame_damage(data: bytes, rng: random.Random) -> bytes:
    """Length-prefixed frames: a zero-length frame, an oversized length, or a frame cut short."""
    boundaries, offset = [0], 0
    while offset + 4 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        offset += 4 + length
        if offset > len(data):
            break
        boundaries.append(offset)
    at = rng.choice(boundaries)
    choice = rng.randrange(3)
    if choice == 0:
        return data[:at] + b"\x00\x00\x00\x00" + data[at:]
    if choice == 1:
        return data[:at] + rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x10\x00\x00"]) + data[at + 4 :]
    return data[:at] + (len(data) - at).to_bytes(4, "big") + data[at : at + rng.randint(0, 64)]


def _gzip_damage(data: bytes, rng: random.Random) -> bytes:
    packed = data if data[:2] == b"\x1f\x8b" else gzip.compress(data)
    if rng.random() < 0.5:
        return packed[: rng.randrange(2, len(packed) + 1)]
    return packed[:10] + _flip(packed[10:], rng)


MUTATORS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "flip": _flip,
    "truncate": _truncate,
    "splice": _splice_bytes,
    "swap": _swap_json_value,
    "huge": _huge_number,
    "frames": _frame_damage,
    "gzip": _gzip_damage,
}


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One damage of `data` (chosen at random, one to three in a row): its name and the damaged bytes."""
    names = []
    for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
        name = rng.choice(list(MUTATORS))
        try:
            data = MUTATORS[name](data, rng)
        except (RecursionError, ValueError, TypeError):  # a damage that cannot apply to this input: a flip instead
            name, data = "flip", _flip(data, rng)
        names.append(name)
    return "+".join(names), data


# -- reading ----------------------------------------------------------------------------------


def read_file_as_report(path: Path, problems: Problems) -> int:
    """What `flowviz report --service` does with a capture: spans read (a `CaptureError` is a clean refusal)."""
    from flowviz.sources.pipeline import IngestPipeline, load_captures
    from flowviz.store.drill_down import DrillDownStore
    from flowviz.store.rolling_store import RollingStore

    store = RollingStore(problems=problems)
    pipeline = IngestPipeline(store, problems=problems, details=DrillDownStore())
    totals = load_captures([path], pipeline)
    if totals.usable:
        from flowviz.analysis.report import build_report, default_window

        build_report(store, default_window(store, totals), totals, problems)
    return totals.spans


def read_messages_as_live(values: list[bytes | None], problems: Problems) -> int:
    """What the live worker does with a batch of Kafka message values: decode, derive, events."""
    from flowviz.decoders.messages import MessageDecoder
    from flowviz.derive.deriver import EdgeDeriver
    from flowviz.derive.events import EventDeriver

    decoder = MessageDecoder("auto", problems=problems)
    builder = SpanBatchBuilder(problems)
    metas = [MessageMeta("fuzz", 0, offset, 1, 1_700_000_000_000, None) for offset in range(len(values))]
    decoder.add(values, [meta.where for meta in metas], builder, metas=metas)
    batch = builder.build()
    EdgeDeriver(problems=problems).process(batch)
    EventDeriver(problems=problems).process(decoder.take_events())
    return len(batch)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_fuzz(
    *,
    cases: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    seeds: list[Seed] | None = None,
    captures_dir: Path | None = None,
) -> FuzzFigures:
    """Damage inputs until `cases` were run or `seconds` passed; every escaped exception is a failure."""
    rng = random.Random(seed)
    inputs = seeds if seeds is not None else default_seeds(captures_dir)
    files = [s for s in inputs if s.kind == "file"]
    messages = [s for s in inputs if s.kind == "message"]
    figures = FuzzFigures()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flowviz-fuzz-") as scratch:
        path = Path(scratch) / "case"
        while (cases is None or figures.cases < cases) and (seconds is None or time.monotonic() - began < seconds):
            problems = Problems()
            if messages and rng.random() < 0.4:
                batch: list[bytes | None] = [rng.choice(messages).data for _ in range(rng.randint(1, 6))]
                target = rng.randrange(len(batch))
                damage, batch[target] = mutate(batch[target] or b"", rng)
                name = f"message {damage}"
                figures.message_cases += 1
                run: Callable[[], object] = lambda b=batch, p=problems: read_messages_as_live(b, p)  # noqa: E731
            else:
                source = rng.choice(files)
                damage, data = mutate(source.data, rng)
                path.write_bytes(data)
                name = f"{source.name} {damage}"
                figures.file_cases += 1
                run = lambda p=problems: read_file_as_report(path, p)  # noqa: E731
            figures.cases += 1
            try:
                run()
            except Exception as error:  # a failure of the read path: what the suite exists to find
                last = traceback.extract_tb(error.__traceback__)[-1]
                figures.failures.append(
                    f"{name}: {type(error).__name__}: {str(error)[:120]} ({Path(last.filename).name}:{last.lineno})"
                )
            figures.problems += problems.total
    figures.seconds = time.monotonic() - began
    figures.peak_rss_mib = _peak_rss_mib()
    return figures


def format_fuzz_figures(figures: FuzzFigures) -> str:
    values = figures.as_dict()
    lines = [
        f"fuzz: {values['cases']} cases ({values['file_cases']} files, {values['message_cases']} message batches) "
        f"in {values['seconds']} s, peak RSS {values['peak_rss_mib']} MiB, {values['problems']} problems counted, "
        f"{values['failures']} failures"
    ]
    lines += [f"  {failure}" for failure in figures.failures[:10]]
    return "\n".join(lines)
