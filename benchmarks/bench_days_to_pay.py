"""Benchmark: DaysToPayModel on 20,000 simulated customers (~1M invoices).

Times our vectorised fit (both families, and log-normal only) and compares time and
estimates with per-customer fits by other libraries on a subset of customers, extrapolating
their per-customer time to the whole book:

- lifelines ``LogNormalFitter`` / ``WeibullFitter`` when ``import lifelines`` works;
- ``scipy.stats.lognorm.fit`` / ``weibull_min.fit`` on ``CensoredData`` (always).

Both use the same shifted durations (days_to_pay + shift) as the model.

Run::

    .venv/bin/python benchmarks/bench_days_to_pay.py [--customers 20000] [--subset 200]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from arinsights.behaviour.distributions import DaysToPayModel, fit_censored, simulate_days_to_pay


def _per_customer(durations: pd.DataFrame, ids, shift: float, fitter) -> tuple[pd.DataFrame, float]:
    """Fit ``fitter(t, event) -> (a, b)`` customer by customer; (estimates, seconds)."""
    sub = durations[durations["customer_id"].isin(ids)]
    groups = [(cid, g["days_to_pay"].to_numpy() + shift, g["paid"].to_numpy()) for cid, g in sub.groupby("customer_id")]
    rows = []
    t0 = time.perf_counter()
    for cid, t, e in groups:
        try:
            a, b = fitter(t, e)
        except Exception:  # a library failing on a degenerate customer counts as no estimate
            a, b = np.nan, np.nan
        rows.append((cid, a, b))
    seconds = time.perf_counter() - t0
    return pd.DataFrame(rows, columns=["customer_id", "a", "b"]), seconds


def _scipy_fitter(family):
    dist = stats.lognorm if family == "lognormal" else stats.weibull_min

    def fit(t, e):
        p = dist.fit(stats.CensoredData(uncensored=t[e], right=t[~e]), floc=0)
        return (np.log(p[2]), p[0]) if family == "lognormal" else (p[0], p[2])

    return fit


def _lifelines_fitter(family):
    import lifelines

    def fit(t, e):
        if family == "lognormal":
            f = lifelines.LogNormalFitter().fit(t, e)
            return f.mu_, f.sigma_
        f = lifelines.WeibullFitter().fit(t, e)
        return f.rho_, f.lambda_

    return fit


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--mean-invoices", type=float, default=50.0)
    ap.add_argument("--subset", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    # history lengths: 1 + geometric-ish spread around the mean (many short, some long)
    n_inv = 1 + rng.poisson(rng.gamma(2.0, (args.mean_invoices - 1) / 2.0, args.customers))
    durations, truth = simulate_days_to_pay(n_inv, history_days=730, random_state=args.seed)
    print(f"customers: {args.customers:,}  invoices: {len(durations):,}  "
          f"open at as_of: {(~durations['paid']).mean():.1%}")

    rows = []
    for dist in ("auto", "lognormal", "weibull"):
        t0 = time.perf_counter()
        model = DaysToPayModel(distribution=dist).fit(durations)
        sec = time.perf_counter() - t0
        rows.append({"method": f"DaysToPayModel({dist})", "seconds_all": sec, "chosen": model.distribution_})
        if dist == "lognormal":
            ln_model = model
    t0 = time.perf_counter()
    raw = fit_censored(durations["days_to_pay"] + 1.0, durations["paid"], durations["customer_id"], "lognormal")
    rows.append({"method": "fit_censored(lognormal) raw MLE", "seconds_all": time.perf_counter() - t0})
    t0 = time.perf_counter()
    fit_censored(durations["days_to_pay"] + 1.0, durations["paid"], durations["customer_id"], "weibull")
    rows.append({"method": "fit_censored(weibull) raw MLE", "seconds_all": time.perf_counter() - t0})

    # per-customer reference libraries on a subset of estimable customers
    est = raw.loc[raw["estimable"], "group"]
    subset = rng.choice(est.to_numpy(), size=min(args.subset, len(est)), replace=False)
    ours = raw.set_index("group").loc[subset]
    fitters = {"scipy CensoredData": _scipy_fitter}
    try:
        import lifelines  # noqa: F401

        fitters["lifelines"] = _lifelines_fitter
    except Exception as exc:  # ImportError, or lifelines failing to import with this pandas
        print(f"lifelines is not importable here ({type(exc).__name__}: {exc}); comparing with scipy only")
    for name, make in fitters.items():
        for family in ("lognormal", "weibull"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est_df, sec = _per_customer(durations, subset, 1.0, make(family))
            per = sec / len(subset)
            row = {"method": f"{name} {family} per customer", "seconds_subset": sec,
                   "seconds_all": per * args.customers, "extrapolated": True}
            if family == "lognormal":
                ref = est_df.set_index("customer_id").loc[subset]
                row["max_rel_diff_mu"] = float(np.nanmax(np.abs(ref["a"] - ours["mu"]) / np.abs(ours["mu"])))
                row["max_rel_diff_sigma"] = float(np.nanmax(np.abs(ref["b"] - ours["sigma"]) / ours["sigma"]))
            rows.append(row)
    table = pd.DataFrame(rows)
    ours_time = table.loc[table["method"] == "fit_censored(lognormal) raw MLE", "seconds_all"].iloc[0]
    table["x_slower_than_ours_raw_lognormal"] = table["seconds_all"] / ours_time
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))

    # recovery on the big book (log-normal truth)
    p = ln_model.params_.merge(truth, on="customer_id", suffixes=("", "_true"))
    err = np.abs(np.log(np.exp(p["mu"]) - 1.0) - np.log(p["median_days"]))
    print(f"mean |log error| of the median, all customers: {err.mean():.3f}")


if __name__ == "__main__":
    main()
