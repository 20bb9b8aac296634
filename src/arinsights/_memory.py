"""Give memory freed between the stages of a large load back to the operating system.

pandas/numpy (the C library's ``malloc``) and Arrow (its own memory pool) keep freed memory
for reuse rather than returning it, so a process that built and dropped a few GB of working
columns still holds them: its resident memory is the sum of what each allocator once needed,
not what is alive. :func:`release_memory` asks both to hand back what they hold free. It is
called between the big stages (after reading a file, between cleaning steps, between
analysis stages); it changes no data, only the peak memory of the process.

Handing memory back has a price: the next stage's allocations must be mapped and zeroed
again by the system (about 20% of the load time of a 1M-invoice ledger). So memory is
handed back only while the process holds more than :data:`RELEASE_ABOVE` bytes, where the
peak is worth its time; a smaller load keeps its freed pages for reuse.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import lru_cache

__all__ = ["release_memory", "RELEASE_ABOVE"]

#: resident memory (bytes) from which :func:`release_memory` hands freed memory back
RELEASE_ABOVE = 2 << 30


def _resident() -> int | None:
    """The process' resident memory in bytes (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim`` (Linux), or None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # e.g. musl: no malloc_trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_memory() -> None:
    """Return the free memory held by Arrow's pool and by ``malloc`` to the system, when the
    process holds more than :data:`RELEASE_ABOVE` bytes (always where its resident memory
    cannot be read); a no-op where neither allocator can."""
    resident = _resident()
    if resident is not None and resident < RELEASE_ABOVE:
        return
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - pyarrow is a dependency
        pass
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
