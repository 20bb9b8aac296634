"""The shortcuts the analysis takes at scale give the numbers of the plain ways.

One feature build for the lateness classifier and the customers' next invoices, the ordered
check and Arrow sort of ``canonical_order``, the integer-coded outlook features of today's
invoices, and the customer sample of the outlook calibration (deterministic, independent of
row order, and a no-op when there are few customers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from arinsights.analysis import _INVOICE_KEYS, _PAYMENT_KEYS, _sorted_by, canonical_order
from arinsights.behaviour.distributions import DaysToPayModel
from arinsights.behaviour.durations import compute_durations
from arinsights._text import byte_words
from arinsights.behaviour.features import _sort_by_date_and_id, build_features
from arinsights.behaviour.lateness import (LatenessModel, customer_lateness, features_as_of, known_as_of,
                                           next_invoice_features)
from arinsights.behaviour.outlook import (PaymentOutlookCalibrator, _customer_sample, _LedgerCodes,
                                          calibrated_outlook, outlook_features)
from arinsights.errors import ParameterError
from arinsights.schema import Invoices, Payments
from arinsights.schema import InvoiceFeatures as F

TINY = {"max_iter": 20, "max_leaf_nodes": 7}


@pytest.fixture(scope="module")
def sample():
    mod = pytest.importorskip("arinsights.sample")
    return mod.generate_ledger(120, 2.0, seed=3)


# ----------------------------------------------------------------------------- one feature build
def test_features_as_of_next_invoice_features_is_build_features(sample):
    inv, pay = canonical_order(sample.invoices, sample.payments)
    due_g = pd.to_datetime(inv[Invoices.due_date]).dt.normalize() + pd.Timedelta(days=5)
    open_then = inv[Invoices.paid_date].isna() | (inv[Invoices.paid_date] > due_g)
    # a date on which some open invoice reaches due + grace exactly: its label is unknown
    # on that day and known (late) the next, the one place the two tables' labels differ
    candidates = due_g[open_then & (inv[Invoices.invoice_date] <= due_g)].sort_values()
    tricky = candidates.iloc[len(candidates) // 2]
    for as_of in (pd.Timestamp("2025-11-15"), tricky, pd.Timestamp(sample.end)):
        ref = build_features(inv, pay, as_of)
        nxt = next_invoice_features(inv, pay, as_of)
        pd.testing.assert_frame_equal(features_as_of(nxt, as_of), ref, check_exact=True)
        hypo = nxt[nxt[F.invoice_date] > as_of]
        assert len(hypo) == ref[F.customer_id].nunique()
        assert hypo[F.invoice_id].str.startswith("__next__").all()
        if as_of == tricky:
            labels_next_day = nxt[F.late].to_numpy()[: len(ref)]
            assert (np.isnan(ref[F.late].to_numpy()) & (labels_next_day == 1.0)).any()


def test_features_as_of_last_known_is_what_the_model_trains_on(sample):
    # analyse copies only the training rows out of the feature table: the last n rows with a
    # known label, which is what fit takes from the whole table with max_train=n
    inv, pay = canonical_order(sample.invoices, sample.payments)
    as_of = pd.Timestamp(sample.end) - pd.Timedelta(days=40)
    nxt = next_invoice_features(inv, pay, as_of)
    full = features_as_of(nxt, as_of)
    known = full[full[F.late].notna()].reset_index(drop=True)
    assert known_as_of(nxt, as_of).sum() == len(known) > 300
    assert (nxt[F.late].notna() & (nxt[F.invoice_date] <= as_of)).sum() > len(known)  # some labels come later
    for n in (1, 300, len(known), len(known) + 7):
        pd.testing.assert_frame_equal(features_as_of(nxt, as_of, last_known=n),
                                      known.iloc[len(known) - min(n, len(known)):].reset_index(drop=True),
                                      check_exact=True)
    whole = LatenessModel(**TINY, max_train=300).fit(full)
    part = LatenessModel(**TINY, max_train=300).fit(features_as_of(nxt, as_of, last_known=300))
    assert whole.n_train_ == part.n_train_ == 300
    np.testing.assert_array_equal(whole.predict_proba(full), part.predict_proba(full))


def test_customer_lateness_from_given_features_is_the_same(sample):
    inv, pay, as_of = sample.invoices, sample.payments, pd.Timestamp(sample.end)
    nxt = next_invoice_features(inv, pay, as_of)
    model = LatenessModel(**TINY).fit(features_as_of(nxt, as_of))
    pd.testing.assert_frame_equal(customer_lateness(model, inv, pay, as_of, features=nxt),
                                  customer_lateness(model, inv, pay, as_of), check_exact=True)


def test_sort_by_date_and_id_with_missing_and_object_ids():
    rng = np.random.default_rng(5)
    n = 600
    ids = [f"{p}{i}" for p, i in zip(rng.choice(["Z", "a", "Ä", "10", "9", ""], n), rng.integers(0, 30, n))]
    ids = pd.Series(ids, dtype=object)
    ids[rng.random(n) < 0.05] = None
    for dtype in (object, "str"):
        df = pd.DataFrame({F.invoice_id: ids.astype(dtype) if dtype != object else ids,
                           F.invoice_date: pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 6, n), unit="D"),
                           "x": np.arange(n)})
        ref = df.sort_values([F.invoice_date, F.invoice_id], kind="mergesort", ignore_index=True)
        pd.testing.assert_frame_equal(_sort_by_date_and_id(df), ref)


@pytest.mark.parametrize("case", ["mixed", "one_length", "long", "nul"])
def test_sort_by_date_and_id_on_byte_words_equals_pandas(case):
    # ids compared as two integers of their UTF-8 bytes: prefixes, non-ASCII, ties and
    # lengths up to 16 bytes; longer ids or ids with a NUL byte take the ranked path
    rng = np.random.default_rng(11)
    n = 800
    stems = {"mixed": ["", "A", "A1", "A10", "a", "Ä", "Éa", "日本", "Z9", "INV-0001", "\U0001F600x"],
             "one_length": ["INV-0", "INV-1", "INV-A", "INV-a", "INV-Ä"[:5]],
             "long": ["INV-000000000000012", "INV-0000000000000012", "A"],
             "nul": ["A\x00", "A", "A\x00B"]}[case]
    ids = [stems[i] + (f"{j:02d}" if case == "mixed" else "") for i, j in
           zip(rng.integers(0, len(stems), n), rng.integers(0, 12, n))]
    if case == "one_length":
        ids = [x[:5] for x in ids]
    df = pd.DataFrame({F.invoice_id: pd.Series(ids, dtype="str"),
                       F.invoice_date: pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 4, n), unit="D"),
                       "x": np.arange(n)})
    words = byte_words(pa.array(df[F.invoice_id], from_pandas=True), max_bytes=16)
    assert (words is None) == (case in ("long", "nul"))
    ref = df.sort_values([F.invoice_date, F.invoice_id], kind="mergesort", ignore_index=True)
    pd.testing.assert_frame_equal(_sort_by_date_and_id(df), ref)


# ----------------------------------------------------------------------------- canonical order
def _pandas_order(frame, keys):
    return frame.sort_values(keys, kind="mergesort", na_position="last", ignore_index=True)


def test_canonical_order_equals_the_pandas_sort_on_tricky_keys():
    rng = np.random.default_rng(8)
    n = 900
    pay = pd.DataFrame({
        Payments.customer_id: pd.Series(rng.choice(["b", "B", "é", "a b", "10", "9"], n), dtype="str"),
        Payments.payment_date: pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 4, n), unit="D"),
        Payments.payment_id: pd.Series(rng.choice(["P1", "P10", "P2"], n), dtype="str"),
        Payments.invoice_id: pd.Series(rng.choice(["I1", "I2", None], n), dtype="str"),
        Payments.amount: rng.choice([1.0, -2.5, np.nan, 10.0], n),
        "row": np.arange(n),
    })
    got = _sorted_by(pay, _PAYMENT_KEYS)
    pd.testing.assert_frame_equal(got, _pandas_order(pay, _PAYMENT_KEYS))
    # already in order: the same rows back (only checked, not sorted), as pandas would give
    again = _sorted_by(got.iloc[::1].set_axis(np.arange(n) * 2), _PAYMENT_KEYS)
    pd.testing.assert_frame_equal(again, got)
    # one row out of place is noticed
    swapped = got.iloc[np.r_[1, 0, 2:n]]
    if not swapped.iloc[:2][_PAYMENT_KEYS].reset_index(drop=True).equals(got.iloc[:2][_PAYMENT_KEYS]):
        pd.testing.assert_frame_equal(_sorted_by(swapped, _PAYMENT_KEYS), _pandas_order(swapped, _PAYMENT_KEYS))
    # mixed types Arrow cannot hold: pandas sorts, as it always did (result or error alike)
    mixed = pay.assign(**{Payments.payment_id: np.array([1, "P", 2.5], dtype=object)[rng.integers(0, 3, n)]})
    try:
        want = _pandas_order(mixed, _PAYMENT_KEYS)
    except TypeError:
        with pytest.raises(TypeError):
            _sorted_by(mixed, _PAYMENT_KEYS)
    else:
        pd.testing.assert_frame_equal(_sorted_by(mixed, _PAYMENT_KEYS), want)


def test_canonical_order_of_the_sample_in_any_row_order(sample):
    inv, pay = sample.invoices, sample.payments
    ref_inv, ref_pay = _pandas_order(inv, _INVOICE_KEYS), _pandas_order(pay, _PAYMENT_KEYS)
    for seed in (0, 1):
        got_inv, got_pay = canonical_order(inv.sample(frac=1, random_state=seed),
                                           pay.sample(frac=1, random_state=seed + 10))
        pd.testing.assert_frame_equal(got_inv, ref_inv)
        pd.testing.assert_frame_equal(got_pay, ref_pay)
    # input already canonical: equal tables, new index
    got_inv, got_pay = canonical_order(ref_inv, ref_pay)
    pd.testing.assert_frame_equal(got_inv, ref_inv)
    pd.testing.assert_frame_equal(got_pay, ref_pay)


# ----------------------------------------------------------------------------- outlook
def test_outlook_features_of_today_from_codes_equal_the_public_function(sample):
    inv, pay, as_of = sample.invoices, sample.payments, pd.Timestamp(sample.end)
    d = compute_durations(inv, pay, as_of)
    model = DaysToPayModel().fit(d)
    raw = model.outlook(d, as_of)
    ref = outlook_features(d, raw, model.windows(), as_of, invoices=inv, payments=pay)
    keep = (inv[Invoices.invoice_date] <= as_of).to_numpy()
    got = _LedgerCodes(inv, pay).features(np.flatnonzero(keep), d, raw, model.windows(), as_of, (7, 30, 60))
    pd.testing.assert_frame_equal(got, ref)


def test_customer_sample_is_deterministic_and_ignores_row_order(sample):
    inv, pay = sample.invoices, sample.payments
    n = inv[Invoices.customer_id].nunique()
    same_inv, same_pay, kept = _customer_sample(inv, pay, n, 0)
    assert same_inv is inv and same_pay is pay and kept == n
    a_inv, a_pay, kept = _customer_sample(inv, pay, 40, 7)
    assert kept == 40 and a_inv[Invoices.customer_id].nunique() == 40
    assert set(a_pay[Payments.customer_id]) <= set(a_inv[Invoices.customer_id])
    b_inv, b_pay, _ = _customer_sample(inv.sample(frac=1, random_state=3), pay.sample(frac=1, random_state=4), 40, 7)
    assert set(b_inv[Invoices.customer_id]) == set(a_inv[Invoices.customer_id])
    assert len(b_inv) == len(a_inv) and len(b_pay) == len(a_pay)
    c_inv, _, _ = _customer_sample(inv, pay, 40, 8)
    assert set(c_inv[Invoices.customer_id]) != set(a_inv[Invoices.customer_id])


def test_outlook_with_few_customers_ignores_the_sample_size(sample):
    inv, pay, as_of = sample.invoices, sample.payments, pd.Timestamp("2026-03-31")
    full, cal_full = calibrated_outlook(inv, pay, as_of)
    same, cal_same = calibrated_outlook(inv, pay, as_of, max_customers=inv[Invoices.customer_id].nunique(),
                                        random_state=5)
    pd.testing.assert_frame_equal(full, same, check_exact=True)
    assert cal_same.n_customers_ == cal_full.n_customers_


def test_outlook_calibrated_on_a_sample_covers_every_customer(sample):
    inv, pay, as_of = sample.invoices, sample.payments, pd.Timestamp("2026-03-31")
    full, _ = calibrated_outlook(inv, pay, as_of)
    part, cal = calibrated_outlook(inv, pay, as_of, max_customers=60, random_state=0)
    assert cal.n_customers_ == 60
    assert cal.training_["customer_id"].nunique() <= 60
    pd.testing.assert_series_equal(part["invoice_id"], full["invoice_id"])
    assert cal.models_[30] is not None
    # the same sample from rows in another order: the same outlook
    again, _ = calibrated_outlook(inv.sample(frac=1, random_state=1), pay, as_of, max_customers=60, random_state=0)
    key = ["invoice_id", "customer_id"]
    pd.testing.assert_frame_equal(part.sort_values(key, ignore_index=True), again.sort_values(key, ignore_index=True))
    with pytest.raises(ParameterError):
        PaymentOutlookCalibrator(max_customers=0).fit(inv, pay, as_of)


def test_canonical_order_with_integer_ranked_customer_ids_and_missing_ones():
    # the Arrow sort ranks the text first key (customer id) as integers; missing ids stay last
    rng = np.random.default_rng(21)
    n = 700
    cust = pd.Series(rng.choice(["b", "B", "é", "a b", "10", "9", "", "Ä"], n), dtype=object)
    cust[rng.random(n) < 0.05] = None
    for dtype in ("str", object):
        pay = pd.DataFrame({
            Payments.customer_id: cust.astype(dtype) if dtype != object else cust,
            Payments.payment_date: pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 3, n), unit="D"),
            Payments.payment_id: pd.Series(rng.choice(["P1", "P10", "P2"], n), dtype="str"),
            Payments.invoice_id: pd.Series(rng.choice(["I1", "I2", None], n), dtype="str"),
            Payments.amount: rng.choice([1.0, -2.5, np.nan], n),
            "row": np.arange(n),
        })
        pd.testing.assert_frame_equal(_sorted_by(pay, _PAYMENT_KEYS), _pandas_order(pay, _PAYMENT_KEYS))


# ----------------------------------------------------------------------------- lateness hold-out
def test_lateness_single_holdout_only_above_its_threshold(sample):
    inv, pay, as_of = sample.invoices, sample.payments, pd.Timestamp(sample.end)
    feats = build_features(*canonical_order(inv, pay), as_of)
    n = int(feats[F.late].notna().sum())
    folds = LatenessModel(single_holdout_rows=None, **TINY).fit(feats)
    below = LatenessModel(single_holdout_rows=n + 1, **TINY).fit(feats)
    np.testing.assert_array_equal(below.predict_proba(feats), folds.predict_proba(feats))
    one = LatenessModel(single_holdout_rows=n, **TINY).fit(feats)
    # same final booster, calibration learned on the second-newest time-ordered fold only
    np.testing.assert_array_equal(one.booster_.predict_proba(feats[one.feature_names_].astype(float)),
                                  folds.booster_.predict_proba(feats[folds.feature_names_].astype(float)))
    assert one.calibration_method_ is not None
    p = one.predict_proba(feats)
    assert np.all((p >= 0) & (p <= 1))
    assert not np.array_equal(p, folds.predict_proba(feats))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint64, np.uint32, np.int16])
def test_stable_argsort_matches_numpy(dtype):
    """The radix passes give numpy's stable order (ties in row order) for every span: one
    16-bit pass, two passes, and numpy's own sort beyond 32 bits; negative keys too."""
    from arinsights._order import stable_argsort

    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    for span in (5, 40_000, 3_000_000, 2 ** 33, 2 ** 47, 2 ** 50):
        if span > int(info.max) - max(int(info.min), -(2 ** 40)):
            continue
        low = max(int(info.min), -span // 2)
        keys = (rng.integers(0, span, 100_000) + low).astype(dtype)
        np.testing.assert_array_equal(stable_argsort(keys), np.argsort(keys, kind="stable"))
    small = np.array([3, 1, 3, 0], dtype=dtype)
    np.testing.assert_array_equal(stable_argsort(small), [3, 1, 0, 2])
    # keys in order already (ties included) come back as they are; one step down is sorted
    ordered = np.sort(rng.integers(0, 1000, 100_000)).astype(dtype)
    np.testing.assert_array_equal(stable_argsort(ordered), np.arange(len(ordered)))
    ordered[50_000] = 0
    np.testing.assert_array_equal(stable_argsort(ordered), np.argsort(ordered, kind="stable"))
