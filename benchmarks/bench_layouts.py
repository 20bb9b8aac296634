"""Ingestion of every export layout: ``load_ledger`` against the pyarrow-only read.

``benchmarks/run.py`` times the whole pipeline on one layout. This script writes one
generated book in every layout of :data:`arinsights.sample.LAYOUTS` (the same generator,
seed and dates as ``run.py``) and times its ingestion, so that a slow reader (SAP pipe
lists, Xero invoice lines, two files) shows up::

    .venv/bin/python benchmarks/bench_layouts.py                  # 1M invoices, 3 runs each
    .venv/bin/python benchmarks/bench_layouts.py --size 100k --repeat 1
    .venv/bin/python benchmarks/bench_layouts.py --layouts sap,xero

Each run is two fresh processes (imports done before the clock starts): one times the
pyarrow read, the other ``load_ledger`` and its stages:

============  ==============================================================================
stage         what runs
============  ==============================================================================
pyarrow_read  ``pyarrow.csv.read_csv`` of each file of the layout (every cell as text, on all
              cores; the widest line's fields as columns, shorter lines such as titles
              skipped; pipes for SAP lists): the floor for ingestion
read          the readers inside ``load_ledger``
clean         ``clean_transactions`` inside ``load_ledger``
ingest        the whole ``load_ledger(files)``
============  ==============================================================================

``peak_rss_mb`` is the peak resident memory of ``load_ledger`` (``VmHWM`` of its process,
reset before it starts). The table shows the
median of the runs and ``ingest`` as a multiple of ``pyarrow_read``; it is written as CSV to
``benchmarks/results/bench_layouts_<size>.csv`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  (the sizes, generator settings and data folder of run.py)

STAGES = ("pyarrow_read", "read", "clean", "ingest")


def ensure_layouts(n_invoices: int, layouts: list[str], data_dir: Path) -> dict[str, list[Path]]:
    """Write (once) the generated book of about ``n_invoices`` invoices in each layout;
    {layout: export files}."""
    from arinsights.sample import generate_ledger, write_export

    customers = max(10, int(round(n_invoices / bench.INVOICES_PER_CUSTOMER)))
    params = {"customers": customers, "years": bench.YEARS, "seed": bench.SEED, "end": bench.END}
    root = data_dir / f"layouts-{bench.size_label(n_invoices)}"
    out, sample = {}, None
    for layout in layouts:
        folder = root / layout
        stamp = folder / "bench.json"
        saved = json.loads(stamp.read_text()) if stamp.exists() else {}
        files = [folder / f for f in saved.get("files", [])]
        if not (files and saved.get("params") == params and all(f.exists() for f in files)):
            if sample is None:
                sample = generate_ledger(customers, bench.YEARS, seed=bench.SEED, end=bench.END)
            files = [p for p in write_export(sample, layout, folder, seed=bench.SEED) if p.name != "manifest.json"]
            stamp.write_text(json.dumps({"params": params, "files": [f.name for f in files]}, indent=2) + "\n")
        out[layout] = files
    return out


def _pyarrow_options(path: Path):
    """pyarrow.csv options that read ``path`` with every cell as text: the delimiter and the
    widest line's fields, from the first lines (worked out before the clock starts)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, "rb") as fh:
        head = fh.read(1 << 20).decode("utf-8", "replace").splitlines()[:200]
    delim = "|" if sum(ln.count("|") for ln in head) > sum(ln.count(",") for ln in head) else ","
    quoting = csv.QUOTE_NONE if delim == "|" else csv.QUOTE_MINIMAL
    width = max((len(r) for r in csv.reader(io.StringIO("\n".join(head)), delimiter=delim, quoting=quoting)),
                default=1)
    names = [f"f{i}" for i in range(width)]
    return dict(read_options=pacsv.ReadOptions(column_names=names),
                parse_options=pacsv.ParseOptions(delimiter=delim, quote_char=False if delim == "|" else '"',
                                                 invalid_row_handler=lambda row: "skip"),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}))


def run_baseline(files: list[Path]) -> dict:
    """The pyarrow-only read of the files, timed in this process (a process of its own, so
    that its tables do not count in the peak memory of ``load_ledger``)."""
    import pyarrow.csv as pacsv

    options = [_pyarrow_options(f) for f in files]
    t0 = time.perf_counter()
    rows = sum(pacsv.read_csv(f, **o).num_rows for f, o in zip(files, options))
    return {"pyarrow_read": time.perf_counter() - t0, "pyarrow_rows": rows}


def run_once(files: list[Path]) -> dict:
    """Time ``load_ledger`` and its stages once in this process, with its peak memory."""
    import pandas as pd
    import pandera.pandas as pandera_pd

    from arinsights.ingest import ledger as ledger_mod

    pandera_pd.DataFrameSchema({}).validate(pd.DataFrame())  # pandera's first-use import, untimed
    res: dict = {}
    parts: dict[str, float] = {}

    def wrap(name, fn):
        def inner(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                parts[name] = parts.get(name, 0.0) + time.perf_counter() - t
        return inner

    saved = {n: getattr(ledger_mod, n) for n in ("_read_export", "clean_transactions")}
    ledger_mod._read_export = wrap("read", saved["_read_export"])
    ledger_mod.clean_transactions = bench.pass_frame_on(saved["clean_transactions"], lambda: None,
                                                        lambda secs: parts.__setitem__("clean", secs))
    peak = bench.PeakRSS()
    try:
        peak.start()
        t0 = time.perf_counter()
        led = ledger_mod.load_ledger([str(f) for f in files])
        res["ingest"] = time.perf_counter() - t0
        res["peak_rss_mb"] = peak.peak()
    finally:
        for n, fn in saved.items():
            setattr(ledger_mod, n, fn)
    res.update(parts)
    res["invoices"], res["payments"] = len(led.invoices), len(led.payments)
    res["rows_read"] = int(led.files["rows_read"].sum())
    return res


def _child(mode: str, files: list[Path]) -> dict:
    """Run :func:`run_baseline` or :func:`run_once` in a fresh process; its result."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_child", mode, *map(str, files)],
                          capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    from arinsights.sample import LAYOUTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1M", help="invoice count, e.g. 100k or 1M (default 1M)")
    ap.add_argument("--layouts", default=",".join(LAYOUTS), help="comma-separated (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="processes per layout; timings are medians")
    ap.add_argument("--data-dir", type=Path, default=bench.RESULTS / "data")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    n = bench.parse_size(args.size)
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    unknown = sorted(set(layouts) - set(LAYOUTS))
    if unknown:
        ap.error(f"unknown layout(s) {', '.join(unknown)}; choose from {', '.join(LAYOUTS)}")
    data = ensure_layouts(n, layouts, args.data_dir)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {bench.size_label(n)} invoices, "
          f"{args.repeat} run(s) per layout, load {os.getloadavg()[0]:.1f}")
    rows = []
    for layout in layouts:
        files = data[layout]
        runs = []
        for _ in range(args.repeat):
            runs.append({**_child("baseline", files), **_child("ingest", files)})
        med = {s: bench._median([r[s] for r in runs]) for s in (*STAGES, "peak_rss_mb")}
        rows.append({"size": bench.size_label(n), "layout": layout,
                     "files": " ".join(f.name for f in files),
                     "mb": round(sum(f.stat().st_size for f in files) / 1e6, 1),
                     "rows_read": runs[0]["rows_read"], "invoices": runs[0]["invoices"],
                     **{s: round(med[s], 2) for s in STAGES},
                     "x_pyarrow_read": round(med["ingest"] / med["pyarrow_read"], 1),
                     "ingest_min": round(min(r["ingest"] for r in runs), 2),
                     "ingest_max": round(max(r["ingest"] for r in runs), 2),
                     "peak_rss_mb": round(med["peak_rss_mb"]), "load_after": round(os.getloadavg()[0], 2)})
        r = rows[-1]
        print(f"  {layout:17s} {r['mb']:7.1f} MB  pyarrow {r['pyarrow_read']:6.2f} s  read {r['read']:6.2f} s  "
              f"clean {r['clean']:6.2f} s  ingest {r['ingest']:6.2f} s ({r['x_pyarrow_read']:.1f}x)  "
              f"peak {r['peak_rss_mb']:.0f} MB", flush=True)
    out = args.out or bench.RESULTS / f"bench_layouts_{bench.size_label(n)}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--_child":
        paths = [Path(p) for p in sys.argv[3:]]
        print(json.dumps(run_baseline(paths) if sys.argv[2] == "baseline" else run_once(paths)))
    else:
        sys.exit(main())
