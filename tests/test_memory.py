"""release_memory() hands memory freed by pandas/numpy and Arrow back to the system."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import arinsights._memory as memory
from arinsights._memory import _malloc_trim, release_memory


@pytest.fixture
def always_release(monkeypatch):
    """Release whatever the process holds (the tests hold far less than RELEASE_ABOVE)."""
    monkeypatch.setattr(memory, "RELEASE_ABOVE", 0)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim")
def test_freed_heap_memory_goes_back_to_the_system(always_release):
    # small arrays come from malloc's heap; freeing nine in ten leaves holes that the process
    # keeps (only the top of the heap is returned by itself) until it is trimmed
    arrays = [np.ones(1024) for _ in range(40_000)]  # 8 KiB each, 320 MiB in all
    kept = arrays[::10]
    del arrays
    freed = 36_000 * 8192
    before = _rss()
    release_memory()
    after = _rss()
    assert before - after > 0.5 * freed, (before, after)
    assert all(a[0] == 1.0 for a in kept)  # what is alive is untouched


def test_freed_arrow_memory_goes_back_to_the_system(always_release):
    # Arrow's pool keeps what it freed for reuse, large blocks included, until released
    base = pa.array(np.arange(1_000_000, dtype=np.int64))
    arrays = [pc.add(base, i) for i in range(40)]  # 8 MB each from the pool, 320 MB in all
    assert pa.total_allocated_bytes() >= 40 * 8_000_000
    del arrays
    before = _rss()
    release_memory()
    after = _rss()
    assert before - after > 0.5 * 40 * 8_000_000, (before, after)
    assert pc.sum(base).as_py() == 999_999 * 1_000_000 // 2  # what is alive is untouched
    release_memory()  # nothing left to release: still fine


def test_small_processes_keep_their_freed_memory(monkeypatch):
    """Below RELEASE_ABOVE nothing is handed back (re-mapping pages costs time); above it both
    allocators are asked."""
    calls = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: (lambda pad: calls.append(("trim", pad))))
    monkeypatch.setattr(pa, "default_memory_pool", lambda: type("P", (), {"release_unused": lambda self: calls.append("arrow")})())
    resident = memory._resident()
    assert resident is not None and 0 < resident < memory.RELEASE_ABOVE  # this test process is small
    release_memory()
    assert calls == []
    monkeypatch.setattr(memory, "RELEASE_ABOVE", resident // 2)
    release_memory()
    assert calls == ["arrow", ("trim", 0)]
