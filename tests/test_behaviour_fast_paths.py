"""The fast paths of the behaviour stage give exactly the numbers of the plain pandas ways.

Each speed-up (integer codes instead of string keys, searchsorted instead of merge_asof, one
rolling median instead of a per-group expanding one, shared work across cut-offs, fits run
side by side) is checked here against the straightforward pandas/scikit-learn computation
it replaces, written out beside the test, with exact equality.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arinsights.behaviour.distributions import DaysToPayModel
from arinsights.behaviour.durations import _DurationsAt, compute_durations
from arinsights.behaviour.features import (
    _AsOf,
    _by_code_and_day,
    _expanding_median,
    _pay_day_codes,
    _sort_by_date_and_id,
    _take,
    build_features,
)
from arinsights.behaviour.lateness import LatenessModel, customer_lateness, score_open_invoices
from arinsights.behaviour.outlook import _LedgerCodes, outlook_features
from arinsights.behaviour.paycycle import pay_days
from arinsights.schema import Durations, Invoices, Payments
from arinsights.schema import InvoiceFeatures as F

TINY = {"max_iter": 20, "max_leaf_nodes": 7}


@pytest.fixture(scope="module")
def sample():
    mod = pytest.importorskip("arinsights.sample")
    return mod.generate_ledger(120, 2.0, seed=3)


# ----------------------------------------------------------------------------- features helpers
def test_asof_join_matches_pandas_merge_asof():
    rng = np.random.default_rng(0)
    n_q, n_e = 3000, 2000
    q = pd.DataFrame({"c": rng.integers(0, 40, n_q), "d": rng.integers(19000, 19400, n_q)})
    e = pd.DataFrame({"c": rng.integers(0, 40, n_e), "d": rng.integers(19000, 19400, n_e),
                      "v": rng.normal(size=n_e)})
    o = _by_code_and_day(e["c"].to_numpy(), e["d"].to_numpy())
    # reference: np.lexsort order (stable) and pandas merge_asof, last state strictly before
    np.testing.assert_array_equal(o, np.lexsort((e["d"].to_numpy(), e["c"].to_numpy())))
    es = e.iloc[o].reset_index(drop=True)
    es["v"] = es["v"].cumsum()  # a running total: ties on a day must give the last row's
    ref = pd.merge_asof(q.reset_index().sort_values("d", kind="mergesort"),
                        es.sort_values("d", kind="mergesort"), on="d", by="c",
                        allow_exact_matches=False, direction="backward").set_index("index").sort_index()
    rows = _AsOf(q["c"].to_numpy(), q["d"].to_numpy()).rows(es["c"].to_numpy(), es["d"].to_numpy())
    got = _take(es["v"].to_numpy(), rows)
    np.testing.assert_array_equal(got, ref["v"].to_numpy())
    assert np.isnan(got).any() and (~np.isnan(got)).any()


def test_expanding_median_matches_groupby_expanding():
    rng = np.random.default_rng(1)
    codes = np.sort(rng.integers(0, 50, 4000))
    values = np.round(rng.normal(10, 20, codes.size))  # many ties, like whole days late
    values[rng.random(codes.size) < 0.02] = np.nan
    ref = (pd.Series(values).groupby(codes, sort=False).expanding().median()
           .reset_index(level=0, drop=True).sort_index().to_numpy())
    np.testing.assert_array_equal(_expanding_median(values, codes), ref)


def test_pay_day_codes_are_pay_days():
    rng = np.random.default_rng(2)
    n = 500
    pays = pd.DataFrame({
        Payments.customer_id: rng.choice(["a", "b", "c", "zz"], n),
        Payments.payment_date: pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
        + pd.to_timedelta(rng.integers(0, 20, n), unit="h"),
        Payments.kind: rng.choice(["payment", "credit"], n, p=[0.8, 0.2]),
    })
    as_of = pd.Timestamp("2025-12-01")
    cats = pd.Index(["c", "a", "b"])  # "zz" has no invoices
    code, day = _pay_day_codes(pays, as_of, cats)
    ref = pay_days(pays, as_of)
    ref = ref[ref[Payments.customer_id].isin(cats)]
    ref_code = cats.get_indexer(ref[Payments.customer_id])
    ref_day = (ref[Payments.payment_date] - pd.Timestamp(0)) // pd.Timedelta(days=1)
    got = pd.DataFrame({"c": code, "d": day}).sort_values(["c", "d"], ignore_index=True)
    want = pd.DataFrame({"c": ref_code, "d": ref_day.to_numpy()}).sort_values(["c", "d"], ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert np.all(np.diff(code * 100_000 + day) > 0)  # sorted by (code, day), distinct


def test_sort_by_date_and_id_matches_pandas_sort():
    rng = np.random.default_rng(3)
    n = 800
    ids = [f"{p}{i}" for p, i in zip(rng.choice(["A", "a", "B", "é", "10", "9"], n), rng.integers(0, 50, n))]
    df = pd.DataFrame({F.invoice_id: pd.Series(ids, dtype="str"),
                       F.invoice_date: pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 9, n), unit="D"),
                       "x": np.arange(n)})
    ref = df.sort_values([F.invoice_date, F.invoice_id], kind="mergesort", ignore_index=True)
    pd.testing.assert_frame_equal(_sort_by_date_and_id(df), ref)


# ----------------------------------------------------------------------------- durations
def test_durations_at_several_dates_match_a_string_keyed_reference(sample):
    inv, pay = sample.invoices, sample.payments
    prepared = _DurationsAt(inv, pay)
    for as_of in ("2025-03-31", "2025-11-15", sample.end):
        as_of = pd.Timestamp(as_of)
        got = prepared.at(as_of)
        pd.testing.assert_frame_equal(got, compute_durations(inv, pay, as_of))
        # reference: allocations summed per invoice id string, mapped onto the invoices
        use = (pay[Payments.payment_date] <= as_of) & pay[Payments.invoice_id].notna()
        alloc = pay.loc[use, Payments.amount].astype(float).groupby(pay.loc[use, Payments.invoice_id]).sum()
        kept = inv[inv[Invoices.invoice_date] <= as_of]
        applied = kept[Invoices.invoice_id].map(alloc).fillna(0.0).to_numpy()
        amount = kept[Invoices.amount].to_numpy(dtype=float)
        open_ref = np.minimum(np.clip(amount - applied, 0.0, None), amount)
        paid = got[Durations.paid].to_numpy()
        np.testing.assert_array_equal(got[Durations.open_amount].to_numpy(), np.where(paid, 0.0, open_ref))


# ----------------------------------------------------------------------------- outlook
def test_outlook_features_from_codes_equal_the_public_function(sample):
    inv, pay = sample.invoices, sample.payments
    c = pd.Timestamp(sample.end) - pd.Timedelta(days=97)
    prepared = _DurationsAt(inv, pay)
    keep = prepared.kept(c)
    d = prepared.at(c, keep)
    model = DaysToPayModel().fit(d)
    raw = model.outlook(d, c)
    ref = outlook_features(d, raw, model.windows(), c, invoices=inv, payments=pay)
    got = _LedgerCodes(inv, pay).features(np.flatnonzero(keep), d, raw, model.windows(), c, (7, 30, 60))
    pd.testing.assert_frame_equal(got[ref.columns], ref)


# ----------------------------------------------------------------------------- lateness
def test_customer_lateness_scores_open_invoices_like_score_open_invoices(sample):
    inv, pay, as_of = sample.invoices, sample.payments, sample.end
    model = LatenessModel(**TINY).fit(build_features(inv, pay, as_of))
    scores = score_open_invoices(model, inv, pay, as_of)
    cl = customer_lateness(model, inv, pay, as_of)
    # reference: the amount-weighted mean of score_open_invoices' P(late) per customer
    w = scores.assign(_wp=scores["p_late"] * scores[F.amount])
    ref = w.groupby(F.customer_id, sort=True).agg(_wp=("_wp", "sum"), _w=(F.amount, "sum"), n=("p_late", "size"))
    got = cl.set_index(F.customer_id).loc[ref.index]
    np.testing.assert_array_equal(got["p_open_late"].to_numpy(), (ref["_wp"] / ref["_w"]).to_numpy())
    np.testing.assert_array_equal(got["n_open"].to_numpy(), ref["n"].to_numpy())


def test_fits_side_by_side_give_the_same_model(sample):
    feats = build_features(sample.invoices, sample.payments, sample.end)
    one = LatenessModel(n_jobs=1, **TINY).fit(feats)
    two = LatenessModel(n_jobs=2, **TINY).fit(feats)
    np.testing.assert_array_equal(one.predict_proba(feats), two.predict_proba(feats))
    # shuffled rows are sorted inside fit: the same model again
    three = LatenessModel(n_jobs=2, **TINY).fit(feats.sample(frac=1.0, random_state=0))
    np.testing.assert_array_equal(one.predict_proba(feats), three.predict_proba(feats))
