"""The one guard every message, line, document and frame passes on its way into a builder.

Decoders count the damage they expect (a missing field, a malformed id). Whatever else a decoder
raises on one input — a type no rule expected, nesting too deep to walk, a number too large for its
column — is caught here, for that input only: the spans it had half-added are taken back, the input
is counted as a problem at its location (`file:line`, `file@offset`, `topic[partition]@offset`), and
reading goes on with the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flowviz.decoders.builder import SpanBatchBuilder
from flowviz.model.problems import Problems

Result = TypeVar("Result")


def failure_text(error: BaseException) -> str:
    """What went wrong, in words that group alike failures (no message text that varies per input)."""
    if isinstance(error, RecursionError):
        return "nested too deep"
    if isinstance(error, MemoryError):
        return "too large to hold in memory"
    if isinstance(error, OverflowError):
        return "a number out of range"
    return f"unexpected content ({type(error).__name__})"


def guarded(
    problems: Problems,
    builder: SpanBatchBuilder | None,
    where: str,
    stage: str,
    decode: Callable[..., Result],
    *args: object,
    failed: Result | None = None,
) -> Result | None:
    """`decode(*args)`, or `failed` when it raised: then what it added to `builder` is dropped and the input
    is counted under `"{stage}: … (skipped)"` at `where`."""
    mark = builder.checkpoint() if builder is not None else None
    try:
        return decode(*args)
    except Exception as error:  # the guard's whole job: one bad input never stops a feed
        if builder is not None and mark is not None:
            builder.rollback(mark)
        problems.add(f"{stage}: {failure_text(error)} (skipped)", where)
        return failed


def guarded_group(
    problems: Problems,
    builder: SpanBatchBuilder,
    stage: str,
    decode: Callable[[list, list[str], SpanBatchBuilder], int],
    items: list,
    wheres: list[str],
) -> int:
    """`decode(items, wheres, builder)` for many inputs at once (a vectorised decoder); when that raises,
    each input again on its own through `guarded`, so only the bad ones are lost. Returns the spans added."""
    mark, counted = builder.checkpoint(), problems.mark()
    try:
        return decode(items, wheres, builder)
    except Exception:  # some input of the group: find it below (each read again, so counted once)
        builder.rollback(mark)
        problems.restore(counted)
    if len(items) == 1:
        return guarded(problems, builder, wheres[0], stage, decode, items, wheres, builder) or 0
    return sum(
        guarded(problems, builder, where, stage, decode, [item], [where], builder) or 0
        for item, where in zip(items, wheres, strict=True)
    )
