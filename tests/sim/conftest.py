"""Helpers for the simulator tests: its messages through flowviz's own decoders and deriver."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import orjson
import pytest

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.decoders.otlp_json import add_otlp_json
from flowviz.decoders.otlp_proto import decode_otlp_proto
from flowviz.derive.deriver import EdgeDeriver
from flowviz.model.observations import EdgeObservations
from flowviz.model.problems import Problems
from flowviz.model.span_batch import SpanBatch


def decode_messages(messages: Iterable[bytes], *, json: bool = False) -> SpanBatch:
    """OTLP protobuf (or OTLP/JSON) messages -> one span batch; fails on any decoding problem."""
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    messages = list(messages)
    if json:
        for index, message in enumerate(messages):
            add_otlp_json(orjson.loads(message), builder, problems, f"message {index}")
    else:
        decode_otlp_proto(messages, builder, problems, [f"message {i}" for i in range(len(messages))])
    batch = builder.build()
    assert not problems, problems.as_dict()
    return batch


def derive_messages(message_groups: Iterable[list[bytes]]) -> tuple[EdgeObservations, Problems]:
    """decode -> derive, one `generate()` call's messages at a time (as the live feed does), then flush."""
    problems = Problems()
    builder = SpanBatchBuilder(problems)
    deriver = EdgeDeriver(problems=problems)
    parts = []
    for group, messages in enumerate(message_groups):
        decode_otlp_proto(messages, builder, problems, [f"group {group} message {i}" for i in range(len(messages))])
        parts.append(deriver.process(builder.build()))
    parts.append(deriver.flush())
    return EdgeObservations.concat(parts), problems


@pytest.fixture(scope="session")
def decode() -> Callable[..., SpanBatch]:
    return decode_messages


@pytest.fixture(scope="session")
def derive() -> Callable[..., tuple[EdgeObservations, Problems]]:
    return derive_messages
