"""Give memory freed between the stages of a large load back to the operating system.

pandas/numpy (the C library's ``malloc``) and Arrow (its own memory pool) keep freed memory
for reuse rather than returning it, so a process that built and dropped a few GB of working
columns still holds them: its resident memory is the sum of what each allocator once needed,
not what is alive. :func:`release_memory` asks both to hand back what they hold free. It is
called between the big stages (after reading a file, between cleaning steps, between
analysis stages); it changes no data, only the peak memory of the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

__all__ = ["release_memory"]


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
    """Return the free memory held by Arrow's pool and by ``malloc`` to the system (a no-op
    where neither can)."""
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - pyarrow is a dependency
        pass
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
