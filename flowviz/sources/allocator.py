"""The C allocator of an ingesting process: freed memory kept for the next batch, not returned and faulted in again."""

from __future__ import annotations

import ctypes
import sys

# mallopt(3) parameters of glibc
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 64 << 20  # blocks below this come from the heap, not from a mapping of their own
TRIM_THRESHOLD_BYTES = 256 << 20  # free memory at the heap's top given back only beyond this
TOP_PAD_BYTES = 64 << 20  # the heap grows by this much more than asked

_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's allocator for batch work (once per process); True when it is set.

    Decoding makes and drops arrays of megabytes per batch. By default glibc maps each such block on
    its own and unmaps it when freed, so every batch faults its pages in again (half the system time of
    a `report`, and a fresh decode worker pays it for every region). Kept in the heap, the pages are
    reused: the process holds up to `TRIM_THRESHOLD_BYTES` more than it uses. Not glibc: nothing changes.
    """
    global _tuned
    if _tuned is None:
        _tuned = _set_glibc_parameters()
    return _tuned


def _set_glibc_parameters() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    settings = (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
        (M_TOP_PAD, TOP_PAD_BYTES),
    )
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)
