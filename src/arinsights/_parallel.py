"""Run independent steps of a large load side by side, on the machine's other core.

Most of the ingest's time is spent inside numpy and Arrow kernels (sorts, hashing, takes,
text matching), which let go of Python's interpreter lock while they work. Two steps that
only read the same columns (for example building the invoices and the cash rows from one
working frame) can therefore run at the same time on two threads, and a 2-core laptop
finishes them in little more than the time of the longer one.

:func:`together` is the one entry point. It changes no result: each step is a pure function
of its inputs, the results come back in the order the steps were given, and when steps fail
the error of the first failing step (in that order) is raised, after every step has
finished, exactly as a sequential run would raise it. Small inputs run sequentially (the
threads would cost more than they save), as do machines with one core.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

__all__ = ["together", "MIN_ROWS"]

#: inputs with fewer rows than this run their steps one after the other
MIN_ROWS = 200_000

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return max(cores - 1, 0)


def _executor() -> ThreadPoolExecutor | None:
    global _pool
    with _lock:
        if _pool is None and _workers():
            _pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="arinsights")
        return _pool


def together(*steps: Callable[[], Any], rows: int) -> tuple:
    """Run the steps (functions of no argument) and return their results in order.

    Parameters
    ----------
    *steps : callable
        Independent steps: none may depend on another's result or change data another reads.
    rows : int
        The size of the input (rows); below :data:`MIN_ROWS` the steps run one after the other.

    Returns
    -------
    tuple
        ``(steps[0](), steps[1](), ...)``.

    Examples
    --------
    >>> together(lambda: 1 + 1, lambda: "b", rows=10)
    (2, 'b')
    """
    if len(steps) < 2 or rows < MIN_ROWS or threading.current_thread().name.startswith("arinsights"):
        return tuple(step() for step in steps)
    pool = _executor()
    if pool is None:
        return tuple(step() for step in steps)
    # the first step runs here, the others on the pool
    futures = [pool.submit(step) for step in steps[1:]]
    results: list[Any] = []
    errors: list[BaseException | None] = []
    for i, step in enumerate(steps):
        try:
            results.append(step() if i == 0 else futures[i - 1].result())
            errors.append(None)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in step order
            results.append(None)
            errors.append(exc)
    for exc in errors:
        if exc is not None:
            raise exc
    return tuple(results)
