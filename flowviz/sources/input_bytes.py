"""An input's bytes within limits: regular files mapped, pipes/FIFOs/procfs files streamed with a bounded
wait, gzip decompressed to a temporary file (a cut-off or damaged gzip keeps what came before the damage)."""

from __future__ import annotations

import mmap
import os
import select
import stat
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flowviz.model.problems import Problems

MIB = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK_BYTES = 1 << 20
_GZIP_PIECE_BYTES = 4 << 10


class InputError(Exception):
    """An input that cannot be read at all (missing, a directory, empty, nothing arrived)."""


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How much flowviz takes of one input, so that memory and time are bounded by these, not by the input.

    `line_bytes`: a JSON line (or a single JSON document that cannot be split) longer than this is skipped
    and counted. `input_bytes`: at most this much is taken from a gzip's decompressed data or from a pipe.
    `idle_s`: a pipe or FIFO from which nothing arrives for this long is taken as ended.
    The environment variables `FLOWVIZ_MAX_LINE_MB`, `FLOWVIZ_MAX_INPUT_MB` and `FLOWVIZ_PIPE_IDLE_S` set them.
    """

    line_bytes: int = 32 * MIB
    input_bytes: int = 2048 * MIB
    idle_s: float = 10.0

    @classmethod
    def from_environment(cls) -> ReadLimits:
        """The defaults, overridden by the environment (bad values are ignored)."""
        default = cls()
        return cls(
            line_bytes=_env_number("FLOWVIZ_MAX_LINE_MB", default.line_bytes / MIB, MIB),
            input_bytes=_env_number("FLOWVIZ_MAX_INPUT_MB", default.input_bytes / MIB, MIB),
            idle_s=_env_number("FLOWVIZ_PIPE_IDLE_S", default.idle_s, 1, cast=float),
        )


def _env_number(name: str, default: float, scale: int, *, cast=int):
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        value = default
    return cast(value * scale) if value > 0 else cast(default * scale)


def limit_text(limit_bytes: int) -> str:
    return f"{limit_bytes / MIB:,.0f} MiB"


def load_input(path: Path, problems: Problems, limits: ReadLimits) -> bytes | mmap.mmap:
    """The bytes of `path`: a regular file mapped; anything else (a pipe, a FIFO, a procfs file that says
    it is empty) streamed into a temporary file first; gzip decompressed. Raises InputError."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from error
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path}: is a directory")
    if stat.S_ISREG(info.st_mode) and info.st_size > 0:
        try:
            with path.open("rb") as file:
                if file.read(2) == GZIP_MAGIC:
                    file.seek(0)
                    return _gunzip_to_map(file, path, problems, limits)
                return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as error:
            raise InputError(f"{path}: {error.strerror or error}") from error
    with tempfile.TemporaryFile(prefix="flowviz-") as copy:
        _stream_into(path, copy, problems, limits)
        copy.seek(0)
        if copy.read(2) == GZIP_MAGIC:
            copy.seek(0)
            return _gunzip_to_map(copy, path, problems, limits)
        return _mapped(copy, path)


def _stream_into(path: Path, out: BinaryIO, problems: Problems, limits: ReadLimits) -> None:
    """Copy a pipe, FIFO or special file into `out`, waiting at most `idle_s` for each next piece."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO without a writer does not block the open
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from error
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    total, waited_since = 0, time.monotonic()
    try:
        while True:
            if not poller.poll(100):
                if time.monotonic() - waited_since >= limits.idle_s:
                    if not total:
                        raise InputError(
                            f"{path}: nothing arrived within {limits.idle_s:g} s (a pipe without a writer?)"
                        )
                    problems.add(
                        f"input: nothing more arrived within {limits.idle_s:g} s; what came before is read", str(path)
                    )
                    return
                continue
            try:
                piece = os.read(fd, _CHUNK_BYTES)
            except BlockingIOError:
                continue
            if not piece:
                return  # the writer closed its end (or the special file ended)
            waited_since = time.monotonic()
            keep = piece[: max(0, limits.input_bytes - total)]
            out.write(keep)
            total += len(keep)
            if len(keep) < len(piece):
                problems.add(
                    f"input: larger than the {limit_text(limits.input_bytes)} limit, only the first part read "
                    "(FLOWVIZ_MAX_INPUT_MB raises it)",
                    str(path),
                )
                return
    except OSError as error:
        raise InputError(f"{path}: {error.strerror or error}") from error
    finally:
        os.close(fd)


def _gunzip_to_map(file: BinaryIO, path: Path, problems: Problems, limits: ReadLimits) -> mmap.mmap:
    """Decompress into an anonymous temporary file and map it: a large capture never sits in memory.

    Every member of a multi-member gzip is read. Output stops at `input_bytes`; a cut-off or damaged
    stream keeps everything decompressed before the damage (counted as a problem)."""
    with tempfile.TemporaryFile(prefix="flowviz-") as plain:
        written = _gunzip(file, plain, path, problems, limits)
        if written == 0:
            raise InputError(f"{path}: no data in the gzip stream")
        return _mapped(plain, path)


def _gunzip(file: BinaryIO, out: BinaryIO, path: Path, problems: Problems, limits: ReadLimits) -> int:
    decompressor = zlib.decompressobj(wbits=31)
    written = 0
    pending = b""
    while True:
        if not pending:
            pending = file.read(_CHUNK_BYTES)
            if not pending:
                if not decompressor.eof:
                    problems.add(f"gzip: the data is cut off after {written:,} bytes; those are read", str(path))
                return written
        try:
            # bounded output per step: a small stream of zeros must not expand at once
            # and small input pieces: damage loses only what its piece would have given
            data = decompressor.decompress(pending[:_GZIP_PIECE_BYTES], _CHUNK_BYTES)
        except zlib.error as error:
            problems.add(f"gzip: damaged data after {written:,} bytes ({error}); those are read", str(path))
            return written
        pending = decompressor.unconsumed_tail + pending[_GZIP_PIECE_BYTES:]
        room = limits.input_bytes - written
        out.write(data[:room])
        written += min(len(data), room)
        if len(data) > room:
            problems.add(
                f"gzip: decompresses to more than the {limit_text(limits.input_bytes)} limit, only the first "
                "part read (FLOWVIZ_MAX_INPUT_MB raises it)",
                str(path),
            )
            return written
        if decompressor.eof:
            rest = decompressor.unused_data + pending or file.read(_CHUNK_BYTES)
            if rest[:2] != GZIP_MAGIC:
                if rest.strip(b"\x00"):  # zero padding after the stream is usual; anything else is noted
                    problems.add("gzip: trailing data after the compressed stream (ignored)", str(path))
                return written
            decompressor, pending = zlib.decompressobj(wbits=31), rest  # the next member


def _mapped(file: BinaryIO, path: Path) -> mmap.mmap:
    file.flush()
    if file.seek(0, os.SEEK_END) == 0:
        raise InputError(f"{path}: the file is empty")
    return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
