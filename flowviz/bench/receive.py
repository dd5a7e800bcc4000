"""`flowviz bench receive`: spans/s an OTLP sender gets into the store through flowviz's receiver (gRPC and HTTP).

A sender process exports simulator requests of `SPANS_PER_REQUEST` spans (the SDK's default batch)
one after another, as an exporter does; this process receives them (`OtlpReceiver`: decode per
request, answer with the rejected count) and derives them into a store (`IngestPipeline`). The
figure is spans over the time from the first request to the last span in the store.
"""

from __future__ import annotations

import multiprocessing
import threading
import time

from flowviz.model.problems import Problems
from flowviz.sources.otlp_receiver import OtlpReceiver, ReceiverSettings
from flowviz.sources.pipeline import IngestPipeline
from flowviz.store.rolling_store import RollingStore

SPANS_PER_REQUEST = 512
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _requests(spans: int) -> list[bytes]:
    from flowviz.sim.simulator import DEFAULT_START_NS, Simulator

    rate = 20_000.0
    simulator = Simulator(seed=0, rate_per_s=rate, spans_per_message=SPANS_PER_REQUEST, daily_amplitude=0.0, noise=0.0)
    return simulator.generate(DEFAULT_START_NS + int(spans / rate * 1e9))


def _send(transport: str, address: str, spans: int, ready, done) -> None:
    """The sender process: every request in turn, each answer awaited (an exporter's behaviour)."""
    requests = _requests(spans)
    ready.send(sum(1 for _ in requests))
    ready.recv()  # go
    if transport == "grpc":
        import grpc

        with grpc.insecure_channel(address) as channel:
            export = channel.unary_unary(EXPORT)
            for body in requests:
                export(body, timeout=30)
    else:
        import http.client

        host, port = address.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        for body in requests:
            connection.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
            connection.getresponse().read()
    done.send("sent")


def _one(transport: str, spans: int) -> dict[str, float]:
    settings = ReceiverSettings(
        grpc="127.0.0.1:0" if transport == "grpc" else None, http="127.0.0.1:0" if transport == "http" else None
    )
    problems = Problems()
    store = RollingStore(problems=problems)
    pipeline = IngestPipeline(store, problems=problems)
    with OtlpReceiver(settings, problems=problems) as receiver:
        address = receiver.intake.status.grpc or receiver.intake.status.http
        context = multiprocessing.get_context("spawn")
        ready_here, ready_there = context.Pipe()
        done_here, done_there = context.Pipe()
        sender = context.Process(target=_send, args=(transport, address, spans, ready_there, done_there), daemon=True)
        sender.start()
        requests = ready_here.recv()
        stop = threading.Event()

        def consume() -> None:
            while not stop.is_set() or receiver.intake.status.spans > pipeline.totals.spans:
                for received in receiver.intake.take(0.05):
                    pipeline.feed(received.batch)

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        start = time.perf_counter()
        ready_here.send("go")
        done_here.recv()
        stop.set()
        consumer.join(60)
        seconds = time.perf_counter() - start
        sender.join(10)
    return {
        "requests": requests,
        "spans": pipeline.totals.spans,
        "seconds": round(seconds, 3),
        "spans_per_s": round(pipeline.totals.spans / seconds),
        "requests_per_s": round(requests / seconds),
    }


def run_receive_bench(*, quick: bool = False) -> dict[str, dict[str, float]]:
    spans = 20_000 if quick else 300_000
    return {transport: _one(transport, spans) for transport in ("grpc", "http")}


def format_receive_figures(figures: dict[str, dict[str, float]]) -> str:
    return "\n".join(
        f"OTLP/{transport}: {f['spans_per_s']:,} spans/s into the store ({f['requests_per_s']:,} requests/s of "
        f"{SPANS_PER_REQUEST} spans, {f['spans']:,} spans in {f['seconds']} s)"
        for transport, f in figures.items()
    )
