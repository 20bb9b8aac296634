"""Time :func:`arinsights.sample.generate_ledger` at growing sizes (linear scaling check).

Run: ``.venv/bin/python benchmarks/bench_generate.py [customers ...]``. Prints customers,
invoices, payment rows, seconds and microseconds per invoice for each size.
"""

from __future__ import annotations

import sys
import time

from arinsights.sample import generate_ledger


def main(sizes: list[int]) -> None:
    print(f"{'customers':>10} {'invoices':>10} {'payments':>10} {'seconds':>8} {'us/invoice':>10}")
    for n in sizes:
        t0 = time.perf_counter()
        ledger = generate_ledger(n, 2.0, seed=7)
        dt = time.perf_counter() - t0
        n_inv = len(ledger.invoices)
        print(f"{n:>10} {n_inv:>10} {len(ledger.payments):>10} {dt:>8.2f} {1e6 * dt / n_inv:>10.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2_500, 10_000, 20_000, 40_000])
