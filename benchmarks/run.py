"""Speed and scale benchmarks: raw export file -> segments and KPIs, stage by stage.

``make bench`` runs this file. For each size it generates a ledger with the sample generator
(:func:`arinsights.sample.generate_ledger` + :func:`arinsights.sample.write_export`; files are
cached under ``benchmarks/results/data/``), then runs the whole pipeline in a fresh
subprocess per repeat and times every stage:

=================  ==========================================================================
stage              what runs
=================  ==========================================================================
pyarrow_read       ``pyarrow.csv.read_csv`` of the same file: the floor for ingestion
read_grid          :func:`arinsights.ingest.textio.read_grid` alone (file -> grid of strings)
read               the reader inside ``load_ledger`` (grid, layout detection, parse)
clean              ``clean_transactions`` inside ``load_ledger`` (dedupe, allocate, paid dates)
ingest             the whole :func:`arinsights.ingest.ledger.load_ledger` (read + clean +
                   reconciliation)
analyse            the whole :func:`arinsights.analysis.analyse` (``with_backtest=False``)
durations          ``compute_durations`` inside ``analyse``
dtp_fit            ``DaysToPayModel.fit`` of the current customer curves inside ``analyse``
outlook            ``calibrated_outlook`` (incl. its days-to-pay fits on past cut-offs)
pay_runs           ``detect_pay_runs``
features           ``next_invoice_features`` + ``features_as_of`` (one build serves training and
                   scoring)
lateness_fit       ``LatenessModel.fit`` (trained on the ``max_train_invoices`` most recent)
lateness_score     ``customer_lateness``
segments           ``segment_customers``
actions            ``recommend_actions``
worklist           ``build_worklist``
kpis               ``kpi_tables``: aging, monthly KPIs and their summary in one pass
analyse_other      what ``analyse`` spends outside the stages above (ordering, merges)
end_to_end         ingest + analyse: raw CSV to segments, actions and KPIs
=================  ==========================================================================

The analysis stages are timed inside one real :func:`arinsights.analysis.analyse` call
(default :class:`~arinsights.settings.Settings`) by wrapping the functions it calls; only
the outermost wrapped call counts, so a stage's time includes what it calls.

Peak memory: each repeat runs in its own process. Before every stage the process resets
its peak resident set size (writing ``5`` to ``/proc/self/clear_refs``) and reads
``VmHWM`` from ``/proc/self/status`` after it, so ``peak_rss_mb`` is the highest resident
memory *of the whole process* during that stage (everything still alive from earlier stages
included). Where ``clear_refs`` is not writable, the column falls back to the process peak
so far (``resource.getrusage`` maxrss), and the CSV says so in ``rss_method``.

Baselines in the same run: ``pyarrow_read`` (above) and lifelines per customer on a subset
of the same durations (``LogNormalFitter``), extrapolated to every customer. lifelines pins
pandas<3, so when ``import lifelines`` fails here that part runs in ``.venv-bench``.

Usage::

    .venv/bin/python benchmarks/run.py [--sizes 100k,1M] [--layout transactions|generic]
                                       [--repeat 3] [--out benchmarks/results/x.csv]

Timings are medians over ``--repeat`` processes; the machine load (``os.getloadavg``)
before and after each size is printed and stored, as the machine is shared.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BENCH_VENV_PY = ROOT / ".venv-bench" / "bin" / "python"

#: customers per invoice of the size label: "1M" is 20,012 customers, the issue's
#: "1M invoices / 20k customers" book; the default generator mix gives about 55 invoices
#: per customer over two years, so the actual count is ~1.1M (printed and stored)
INVOICES_PER_CUSTOMER = 49.97
YEARS = 2.0
SEED = 7
END = "2026-06-30"
LAYOUTS = ("transactions", "generic")
ANALYSIS_STAGES = ("durations", "dtp_fit", "outlook", "pay_runs", "features", "lateness_fit",
                   "lateness_score", "segments", "actions", "worklist", "kpis")
INGEST_STAGES = ("read", "clean", "ingest")


# --------------------------------------------------------------------------- helpers
def parse_size(text: str) -> int:
    """``"100k"`` -> 100_000, ``"1M"`` -> 1_000_000, ``"2500"`` -> 2500."""
    t = text.strip().lower().replace("_", "")
    mult = 1
    if t.endswith("k"):
        mult, t = 1_000, t[:-1]
    elif t.endswith("m"):
        mult, t = 1_000_000, t[:-1]
    return int(round(float(t) * mult))


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def pass_frame_on(fn, before, after):
    """``clean_transactions`` timed: ``before()`` runs at its start, ``after(seconds)`` at
    its end. load_ledger hands it its only reference to the readers' frame, so cleaning can
    free their columns as it goes; a wrapper taking ``*args`` would keep that frame alive in
    its argument tuple for the whole stage (and inflate its memory): this one passes the
    frame on without keeping it."""
    def inner(tx, settings=None):
        holder = [tx]
        del tx
        before()
        t0 = time.perf_counter()
        try:
            return fn(holder.pop(), settings)
        finally:
            after(time.perf_counter() - t0)
    return inner


class PeakRSS:
    """Peak resident memory of this process during a block (MB)."""

    def __init__(self):
        self.method = "VmHWM after clear_refs"
        try:
            self._reset()
            self._hwm()
        except OSError:
            self.method = "getrusage maxrss (process peak so far)"

    @staticmethod
    def _reset():
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")

    @staticmethod
    def _hwm() -> float:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        raise OSError("no VmHWM")

    def start(self):
        if self.method.startswith("VmHWM"):
            self._reset()

    def peak(self) -> float:
        if self.method.startswith("VmHWM"):
            return self._hwm()
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- data
def ensure_data(n_invoices: int, layout: str, data_dir: Path) -> tuple[Path, dict]:
    """Generate (once) the export of about ``n_invoices`` invoices; (csv path, manifest)."""
    from arinsights.sample import generate_ledger, write_export

    customers = max(10, int(round(n_invoices / INVOICES_PER_CUSTOMER)))
    out = data_dir / f"{layout}-{size_label(n_invoices)}"
    manifest_path = out / "manifest.json"
    params = {"customers": customers, "years": YEARS, "seed": SEED, "end": END, "layout": layout}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("bench") == params and (out / "ledger.csv").exists():
            return out / "ledger.csv", manifest
    t0 = time.perf_counter()
    sample = generate_ledger(customers, YEARS, seed=SEED, end=END)
    paths = write_export(sample, layout, out, seed=SEED)
    manifest = json.loads(manifest_path.read_text())
    manifest["bench"] = params
    manifest["generate_seconds"] = time.perf_counter() - t0
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    del sample
    return paths[0], manifest


# --------------------------------------------------------------------------- child
def _stage_hooks():
    """(stage, owner, attribute) of every call :func:`arinsights.analysis.analyse` makes.

    ``analyse`` imports its stages when it runs, so wrapping these module and class
    attributes times the real call without copying its code here. When several functions
    make up a stage (``features``), their times add up.
    """
    from arinsights.behaviour import distributions, durations, lateness, outlook, paycycle
    from arinsights.playbook import actions, kpis, segments, worklist

    return [
        ("durations", durations, "compute_durations"),
        ("dtp_fit", distributions.DaysToPayModel, "fit"),
        ("outlook", outlook, "calibrated_outlook"),
        ("pay_runs", paycycle, "detect_pay_runs"),
        ("features", lateness, "next_invoice_features"),
        ("features", lateness, "features_as_of"),
        ("lateness_fit", lateness.LatenessModel, "fit"),
        ("lateness_score", lateness, "customer_lateness"),
        ("segments", segments, "segment_customers"),
        ("actions", actions, "recommend_actions"),
        ("worklist", worklist, "build_worklist"),
        ("kpis", kpis, "kpi_tables"),
    ]


def run_pipeline(path: Path, as_of: str) -> dict:
    """Run every stage once in this process; {stage: (seconds, peak_rss_mb)} + counts."""
    import numpy as np  # noqa: F401  (imports before timing)
    import pandas as pd
    import pyarrow.csv as pacsv

    from arinsights._memory import release_memory
    from arinsights.analysis import analyse
    from arinsights.ingest import ledger as ledger_mod
    from arinsights.ingest import readers  # noqa: F401
    from arinsights.ingest.textio import read_grid
    from arinsights.schema import Durations
    import pandera.pandas as pandera_pd

    # pandera imports its validation backends (and, where hypothesis is installed, as in
    # the development environment, its data-synthesis strategies: 0.3 s) on the first
    # validation: trigger that import now, like the other imports, outside every stage
    pandera_pd.DataFrameSchema({}).validate(pd.DataFrame())

    rss = PeakRSS()
    res: dict = {"stages": {}, "rss_method": rss.method}

    def timed(name, fn, *args, **kwargs):
        gc.collect()
        rss.start()
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        res["stages"][name] = (time.perf_counter() - t0, rss.peak())
        return out

    timed("pyarrow_read", pacsv.read_csv, path)
    grid = timed("read_grid", read_grid, path)
    res["grid_rows"], res["grid_cols"] = grid.cells.shape
    del grid
    gc.collect()
    release_memory()  # the baselines' memory back to the system: ingest starts as in a process of its own

    # Stages inside a call are timed by wrapping the functions it calls (the package is not
    # changed). Only the outermost wrapped call counts, so the days-to-pay fits the outlook
    # makes on past cut-offs are part of "outlook", not of "dtp_fit". The memory column of a
    # stage is the process peak between its first start and its last end (the two feature calls).
    parts: dict[str, list] = {}
    depth = [0]

    def wrap(name, fn):
        if name == "clean":
            return pass_frame_on(fn, rss.start, lambda secs: parts.__setitem__("clean", [secs, rss.peak()]))

        def inner(*a, **k):
            if depth[0]:
                return fn(*a, **k)
            depth[0] += 1
            rss.start()
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                secs, peak = time.perf_counter() - t0, rss.peak()
                depth[0] -= 1
                old = parts.get(name, [0.0, 0.0])
                parts[name] = [old[0] + secs, max(old[1], peak)]
        return inner

    def patched(hooks, call, *args, **kwargs):
        saved = [(owner, attr, getattr(owner, attr)) for _, owner, attr in hooks]
        for (name, owner, attr), (_, _, fn) in zip(hooks, saved):
            setattr(owner, attr, wrap(name, fn))
        try:
            return call(*args, **kwargs)
        finally:
            for owner, attr, fn in saved:
                setattr(owner, attr, fn)

    ingest_hooks = [("read", ledger_mod, "_read_export"), ("clean", ledger_mod, "clean_transactions")]
    led = timed("ingest", patched, ingest_hooks, ledger_mod.load_ledger, path)
    for name in INGEST_STAGES[:-1]:
        res["stages"][name] = tuple(parts.pop(name))
    inv, pay = led.invoices, led.payments
    res["invoices"], res["payments"] = len(inv), len(pay)
    res["customers"] = int(inv["customer_id"].nunique())
    res["rows_read"] = int(led.files["rows_read"].sum())
    del led

    a = timed("analyse", patched, _stage_hooks(), analyse, inv, pay, as_of, with_backtest=False)
    for name in ANALYSIS_STAGES:
        if name in parts:
            res["stages"][name] = tuple(parts.pop(name))
    inner = sum(res["stages"][n][0] for n in ANALYSIS_STAGES if n in res["stages"])
    res["stages"]["analyse_other"] = (res["stages"]["analyse"][0] - inner, res["stages"]["analyse"][1])
    res["features_rows"] = int(a.lateness_model.n_train_ if a.lateness_model is not None
                               and hasattr(a.lateness_model, "n_train_") else 0)
    res["segment_counts"] = a.segments["segment"].value_counts().to_dict() if "segment" in a.segments else {}
    # clear_refs also resets getrusage's maxrss, so the process peak is the largest stage peak
    res["process_peak_rss_mb"] = max(v[1] for v in res["stages"].values())
    # durations of the book, for the lifelines baseline run in another interpreter
    dpath = Path(os.environ.get("ARINSIGHTS_BENCH_DURATIONS", ""))
    if dpath.name:
        a.durations[[Durations.customer_id, Durations.days_to_pay, Durations.paid]].to_parquet(dpath, index=False)
    return res


def child_main(argv) -> None:
    path, as_of, out = argv
    res = run_pipeline(Path(path), as_of)
    Path(out).write_text(json.dumps(res))


# --------------------------------------------------------------------------- lifelines
def lifelines_main(argv) -> None:
    """Fit lifelines LogNormalFitter per customer on a subset; print JSON."""
    import warnings

    import numpy as np
    import pandas as pd

    path, subset, seed = argv[0], int(argv[1]), int(argv[2])
    d = pd.read_parquet(path)
    t0 = time.perf_counter()
    import lifelines
    import_s = time.perf_counter() - t0
    counts = d.groupby("customer_id").size()
    eligible = counts.index[counts >= 3].to_numpy()
    rng = np.random.default_rng(seed)
    pick = rng.choice(eligible, size=min(subset, len(eligible)), replace=False)
    sub = d[d["customer_id"].isin(pick)]
    groups = [(g["days_to_pay"].to_numpy(dtype=float) + 1.0, g["paid"].to_numpy(dtype=bool))
              for _, g in sub.groupby("customer_id")]
    fails = 0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t, e in groups:
            try:
                lifelines.LogNormalFitter().fit(t, e)
            except Exception:  # degenerate customer: counts as a failure, keeps the time
                fails += 1
    sec = time.perf_counter() - t0
    print(json.dumps({"version": lifelines.__version__, "subset": len(groups), "seconds_subset": sec,
                      "seconds_all": sec / max(len(groups), 1) * d["customer_id"].nunique(),
                      "customers": int(d["customer_id"].nunique()), "failures": fails,
                      "import_seconds": import_s}))


def lifelines_baseline(durations: Path, subset: int, seed: int) -> dict:
    try:
        import lifelines  # noqa: F401
        py = sys.executable
    except Exception:  # ImportError, or lifelines breaking on this pandas
        if not BENCH_VENV_PY.exists():
            return {"error": "lifelines not importable and .venv-bench missing"}
        py = str(BENCH_VENV_PY)
    proc = subprocess.run([py, str(Path(__file__).resolve()), "--_lifelines", str(durations), str(subset), str(seed)],
                          capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["python"] = py
    return out


# --------------------------------------------------------------------------- driver
def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100k,1M", help="invoice counts, e.g. 100k,1M,5M (default 100k,1M)")
    ap.add_argument("--layout", default="transactions", choices=LAYOUTS)
    ap.add_argument("--repeat", type=int, default=3, help="processes per size; timings are medians")
    ap.add_argument("--lifelines-subset", type=int, default=50, help="customers fitted by lifelines (0: skip)")
    ap.add_argument("--data-dir", type=Path, default=RESULTS / "data")
    ap.add_argument("--out", type=Path, default=None, help="CSV (default benchmarks/results/bench_<layout>_<sizes>.csv)")
    args = ap.parse_args(argv)

    import pandas as pd

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.out or RESULTS / f"bench_{args.layout}_{'_'.join(size_label(n) for n in sizes)}.csv"
    rows = []
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}, {os.cpu_count()} CPUs, "
          f"layout {args.layout}, {args.repeat} repeat(s) per size")
    for n in sizes:
        label = size_label(n)
        path, manifest = ensure_data(n, args.layout, args.data_dir)
        mb = path.stat().st_size / 2**20
        print(f"\n== {label}: {path} ({mb:.0f} MB; {manifest['truth']['invoices']:,} invoices, "
              f"{manifest['truth']['customers']:,} customers)")
        runs = []
        load_before = os.getloadavg()[0]
        for r in range(args.repeat):
            res_path = RESULTS / f".child_{label}_{r}.json"
            env = dict(os.environ)
            dur_path = RESULTS / f".durations_{label}.parquet"
            if r == 0:
                env["ARINSIGHTS_BENCH_DURATIONS"] = str(dur_path)
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_child", str(path), END,
                                   str(res_path)], env=env)
            wall = time.perf_counter() - t0
            if proc.returncode:
                print(f"   repeat {r + 1} failed (exit {proc.returncode})")
                continue
            res = json.loads(res_path.read_text())
            res_path.unlink()
            res["wall"] = wall
            runs.append(res)
            e2e = res["stages"]["ingest"][0] + res["stages"]["analyse"][0]
            print(f"   repeat {r + 1}: end to end {e2e:.1f} s, process peak {res['process_peak_rss_mb']:.0f} MB, "
                  f"load {os.getloadavg()[0]:.1f}")
        load_after = os.getloadavg()[0]
        if not runs:
            continue
        first = runs[0]
        for stage in ("pyarrow_read", "read_grid") + INGEST_STAGES + ("analyse",) + ANALYSIS_STAGES + ("analyse_other", "end_to_end"):
            if stage == "end_to_end":
                secs = [r["stages"]["ingest"][0] + r["stages"]["analyse"][0] for r in runs]
                mems = [r["process_peak_rss_mb"] for r in runs]
            elif any(stage not in r["stages"] for r in runs):
                continue  # e.g. no lateness classifier on a book too small to train one
            else:
                secs = [r["stages"][stage][0] for r in runs]
                mems = [r["stages"][stage][1] for r in runs]
            rows.append({"size": label, "layout": args.layout, "stage": stage,
                         "seconds_median": _median(secs), "seconds_min": min(secs), "seconds_max": max(secs),
                         "repeats": len(secs), "peak_rss_mb": max(mems),
                         "invoices": first["invoices"], "payments": first["payments"],
                         "customers": first["customers"], "file_rows": first["rows_read"], "file_mb": round(mb, 1),
                         "rss_method": first["rss_method"], "load_before": load_before, "load_after": load_after,
                         "cpus": os.cpu_count()})
        if args.lifelines_subset > 0 and (RESULTS / f".durations_{label}.parquet").exists():
            ll = lifelines_baseline(RESULTS / f".durations_{label}.parquet", args.lifelines_subset, SEED)
            (RESULTS / f".durations_{label}.parquet").unlink()
            if "error" in ll:
                print(f"   lifelines baseline not run: {ll['error']}")
            else:
                rows.append({"size": label, "layout": args.layout,
                             "stage": f"lifelines_lognormal_per_customer (x{ll['customers']:,}, from {ll['subset']})",
                             "seconds_median": ll["seconds_all"], "seconds_min": ll["seconds_all"],
                             "seconds_max": ll["seconds_all"], "repeats": 1, "peak_rss_mb": float("nan"),
                             "invoices": first["invoices"], "payments": first["payments"],
                             "customers": first["customers"], "file_rows": first["rows_read"], "file_mb": round(mb, 1),
                             "rss_method": "", "load_before": load_before, "load_after": load_after,
                             "cpus": os.cpu_count()})

    table = pd.DataFrame(rows)
    if table.empty:
        print("no results")
        return 1
    floor = table[table["stage"] == "pyarrow_read"].set_index("size")["seconds_median"]
    table["x_pyarrow_read"] = table["seconds_median"] / table["size"].map(floor)
    table.to_csv(out, index=False)
    show = table[["size", "stage", "seconds_median", "seconds_min", "seconds_max", "peak_rss_mb", "x_pyarrow_read"]]
    with pd.option_context("display.width", 200, "display.max_rows", 200, "display.float_format", "{:.2f}".format):
        print("\n" + show.to_string(index=False))
    print(f"\nwritten {out}")
    _targets(table)
    return 0


def _targets(table) -> None:
    """Print the issue's targets against the measured medians."""
    def get(size, stage, col="seconds_median"):
        hit = table[(table["size"] == size) & (table["stage"] == stage)]
        return float(hit[col].iloc[0]) if len(hit) else None

    print("\ntargets:")
    for size in table["size"].unique():
        e2e, mem = get(size, "end_to_end"), get(size, "end_to_end", "peak_rss_mb")
        ing, floor = get(size, "ingest"), get(size, "pyarrow_read")
        if ing is not None and floor:
            print(f"  {size}: ingestion {ing:.1f} s = {ing / floor:.1f}x the pyarrow read "
                  f"({'met' if ing <= 10 * floor else 'NOT met'}: <= 10x)")
        if size == "1M" and e2e is not None:
            print(f"  1M: end to end {e2e:.1f} s ({'met' if e2e < 60 else 'NOT met'}: < 60 s), "
                  f"peak {mem / 1024:.2f} GB ({'met' if mem < 4096 else 'NOT met'}: < 4 GB)")
        if size == "5M" and mem is not None:
            print(f"  5M: completed, peak {mem / 1024:.2f} GB ({'met' if mem < 8192 else 'NOT met'}: < 8 GB)")
    sizes = [s for s in table["size"].unique() if get(s, "end_to_end")]
    if len(sizes) >= 2:
        inv = {s: get(s, "end_to_end", "invoices") for s in sizes}
        per = {s: get(s, "end_to_end") / inv[s] * 1e6 for s in sizes}
        print("  scaling (end to end, microseconds per invoice): "
              + ", ".join(f"{s} {per[s]:.1f}" for s in sizes))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        child_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--_lifelines":
        lifelines_main(sys.argv[2:])
    else:
        sys.exit(main())
