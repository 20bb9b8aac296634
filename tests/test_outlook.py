"""The calibrated payment outlook: no leakage, better than the raw curve against the truth,
reliable by decile on a later cut-off, bounded and monotone, and a fallback when history is short."""

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from arinsights.behaviour.distributions import DaysToPayModel
from arinsights.behaviour.durations import compute_durations
from arinsights.behaviour.outlook import (
    FEATURES,
    calibrated_outlook,
    expected_days_from_probabilities,
    outlook_features,
)
from arinsights.sample import generate_ledger
from arinsights.schema import OpenInvoiceOutlook as O

END = pd.Timestamp("2026-06-30")
P_COLS = [O.p_pay_7, O.p_pay_30, O.p_pay_60]


@pytest.fixture(scope="module")
def ledger():
    return generate_ledger(150, 2, seed=11)


@pytest.fixture(scope="module")
def end_result(ledger):
    """Raw and calibrated outlook as of the ledger's end, with the true outcome."""
    d = compute_durations(ledger.invoices, ledger.payments, END)
    model = DaysToPayModel().fit(d)
    raw = model.outlook(d, END)
    cal, calibrator = calibrated_outlook(ledger.invoices, ledger.payments, END, durations=d, model=model)
    # truth: the generator's settlement date ignoring the end of the history
    eventual = ledger.invoices.set_index("invoice_id")["eventual_paid_date"]
    e = eventual.reindex(raw[O.invoice_id]).to_numpy()
    y30 = (pd.notna(e) & (e <= (END + pd.Timedelta(days=30)).to_datetime64())).astype(float)
    arch = ledger.customers.set_index("customer_id")["archetype"].reindex(raw[O.customer_id]).to_numpy()
    return raw, cal, calibrator, y30, arch


# ------------------------------------------------------------------ (1) leakage
def test_nothing_dated_after_as_of_changes_the_calibrated_outlook(ledger):
    as_of = pd.Timestamp("2026-03-31")
    inv, pay = ledger.invoices, ledger.payments
    base, cal = calibrated_outlook(inv, pay, as_of)
    assert cal.models_[30] is not None  # the calibrated path, not the fallback
    # rewrite the future: nothing paid after as_of, payments after as_of moved a year on,
    # and the generator's eventual settlement dates scrambled
    inv2 = inv.copy()
    inv2["paid_date"] = inv2["paid_date"].where(inv2["paid_date"] <= as_of)
    inv2["eventual_paid_date"] = pd.Timestamp("2030-01-01")
    later = pay["payment_date"] > as_of
    pay2 = pay.copy()
    pay2["payment_date"] = pay2["payment_date"].where(~later, pay2["payment_date"] + pd.Timedelta(days=365))
    pay2["amount"] = pay2["amount"].where(~later, pay2["amount"] * 0.5)
    other, _ = calibrated_outlook(inv2, pay2, as_of)
    pdt.assert_frame_equal(base, other)
    # and a rerun gives the same numbers (deterministic)
    again, _ = calibrated_outlook(inv, pay, as_of)
    pdt.assert_frame_equal(base, again)


def test_training_labels_use_only_payments_known_on_as_of(ledger):
    as_of = pd.Timestamp("2026-03-31")
    _, cal = calibrated_outlook(ledger.invoices, ledger.payments, as_of)
    t = cal.training_
    assert len(t) > 0
    ends = t["cutoff"] + pd.to_timedelta(t["horizon"], unit="D")
    assert (ends <= as_of).all()
    # independent reference: the label is "paid_date on or before cutoff + h", read straight
    # from the invoices table (its paid_date is the date the balance reached zero)
    paid_date = ledger.invoices.set_index("invoice_id")["paid_date"].reindex(t["invoice_id"]).to_numpy()
    expected = (pd.notna(paid_date) & (paid_date <= ends.to_numpy())).astype(float)
    np.testing.assert_array_equal(t["label"].to_numpy(), expected)
    # every training invoice was open at its cut-off
    assert (t["age"] >= 0).all()
    assert (paid_date[pd.notna(paid_date)] > t["cutoff"].to_numpy()[pd.notna(paid_date)]).all()
    # each horizon uses its own number of cut-offs, at most n_cutoffs
    assert all(1 <= len(v) <= 6 for v in cal.cutoffs_.values())


# ------------------------------------------------------------------ (2) better than raw
def test_calibrated_brier_beats_raw_against_the_truth(end_result):
    raw, cal, _, y30, arch = end_result
    pdt.assert_series_equal(raw[O.invoice_id], cal[O.invoice_id])
    brier_raw = float(np.mean((raw[O.p_pay_30].to_numpy() - y30) ** 2))
    brier_cal = float(np.mean((cal[O.p_pay_30].to_numpy() - y30) ** 2))
    # measured (seed 11, 150 customers): raw about 0.25, calibrated about 0.12
    assert brier_cal < brier_raw - 0.05
    # customers who suddenly stopped paying: the raw curve says "pays any minute"
    slipped = arch == "slipped"
    assert slipped.sum() >= 20
    truth = y30[slipped].mean()
    assert abs(cal[O.p_pay_30].to_numpy()[slipped].mean() - truth) < 0.5 * abs(
        raw[O.p_pay_30].to_numpy()[slipped].mean() - truth)


# ------------------------------------------------------------------ (3) reliability
def _reliability(p, y, bins=10):
    """Predicted vs observed by decile of the prediction; expected calibration error."""
    dec = pd.qcut(pd.Series(p).rank(method="first"), bins, labels=False)
    table = pd.DataFrame({"p": p, "y": y}).groupby(dec.to_numpy()).agg(pred=("p", "mean"), obs=("y", "mean"),
                                                                      n=("y", "size"))
    ece = float(np.sum(table["n"] * (table["pred"] - table["obs"]).abs()) / table["n"].sum())
    return table, ece


def test_reliability_by_decile_on_a_held_out_later_cut_off():
    led = generate_ledger(150, 2, seed=12)
    as_of = pd.Timestamp("2026-05-31")  # trained on facts up to here; scored 30 days later
    d = compute_durations(led.invoices, led.payments, as_of)
    model = DaysToPayModel().fit(d)
    raw = model.outlook(d, as_of)
    cal, _ = calibrated_outlook(led.invoices, led.payments, as_of, durations=d, model=model)
    paid = led.invoices.set_index("invoice_id")["paid_date"].reindex(raw[O.invoice_id]).to_numpy()
    y = (pd.notna(paid) & (paid <= (as_of + pd.Timedelta(days=30)).to_datetime64())).astype(float)
    t_raw, ece_raw = _reliability(raw[O.p_pay_30].to_numpy(), y)
    t_cal, ece_cal = _reliability(cal[O.p_pay_30].to_numpy(), y)
    assert len(t_cal) == 10
    # measured: raw ECE about 0.2, calibrated under 0.1
    assert ece_cal < ece_raw
    assert ece_cal < 0.12
    # the observed share rises with the predicted decile (lowest vs highest)
    assert t_cal["obs"].iloc[-1] - t_cal["obs"].iloc[0] > 0.5


# ------------------------------------------------------------------ (4) bounds, monotonicity
def test_bounds_monotonicity_schema_and_expected_dates(end_result):
    _, cal, _, _, _ = end_result
    O.validate(cal)
    p = cal[P_COLS].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p, axis=1) >= 0).all()
    # the expected date is consistent with the calibrated probabilities
    days = (cal[O.expected_pay_date] - END) / pd.Timedelta(days=1)
    for h, col in ((7, O.p_pay_7), (30, O.p_pay_30), (60, O.p_pay_60)):
        sure = cal[col] >= 0.5
        assert (days[sure] <= h).all()
    later = cal[O.p_pay_60] < 0.5
    assert (days[later].isna() | (days[later] >= 60)).all()


def test_expected_days_hand_computed():
    p = np.array([[0.2, 0.5, 0.8],     # reaches 1/2 exactly at 30 days
                  [0.6, 0.7, 0.9],     # within the first 7 days: 7 * 0.5 / 0.6
                  [0.1, 0.3, 0.4],     # beyond 60: constant hazard of the 30-60 interval
                  [0.0, 0.0, 0.0]])    # never
    got = expected_days_from_probabilities(p, (7, 30, 60), max_days=365)
    # row 3: S(30)=0.7, S(60)=0.6, hazard=log(0.7/0.6)/30; S reaches 0.5 after log(0.6/0.5)/hazard
    beyond = 60 + 30 * np.log(0.6 / 0.5) / np.log(0.7 / 0.6)
    np.testing.assert_allclose(got[:3], [30.0, 7 * 0.5 / 0.6, beyond])
    assert np.isnan(got[3])
    assert np.isnan(expected_days_from_probabilities(p[2:3], (7, 30, 60), max_days=90)[0])


def test_features_hand_computed():
    as_of = pd.Timestamp("2026-06-30")
    inv = pd.DataFrame({
        "invoice_id": ["A1", "A2", "A3", "B1"], "customer_id": ["A", "A", "A", "B"],
        "invoice_date": pd.to_datetime(["2026-04-01", "2026-05-01", "2026-06-20", "2026-06-10"]),
        "due_date": pd.to_datetime(["2026-05-01", "2026-05-31", "2026-07-20", "2026-07-10"]),
        "amount": [100.0, 100.0, 100.0, 50.0],
        "paid_date": pd.to_datetime(["2026-04-11", None, None, None]),
        "disputed": [False, True, False, False]})
    d = compute_durations(inv, None, as_of)
    raw = pd.DataFrame({O.invoice_id: ["A2", "A3", "B1"], O.customer_id: ["A", "A", "B"],
                        O.age: [60.0, 10.0, 20.0], "p_pay_7": [0.5, 0.1, 0.2], "p_pay_30": [0.9, 0.5, 0.6],
                        "p_pay_60": [0.95, 0.8, 0.9]})
    windows = pd.DataFrame({"customer_id": ["A", "B"], "p90_days": [29.0, 40.0]})
    f = outlook_features(d, raw, windows, as_of, invoices=inv).set_index(O.invoice_id)
    np.testing.assert_allclose(f.loc["A2", "logit_raw_30"], np.log(0.9 / 0.1))
    np.testing.assert_allclose(f["log_age_over_window"], np.log([61 / 30, 11 / 30, 21 / 41]))
    np.testing.assert_allclose(f["log_days_past_due"], np.log1p([30.0, 0.0, 0.0]))  # A2 due 31 May
    np.testing.assert_array_equal(f["disputed"], [1.0, 0.0, 0.0])
    # A last paid on 11 Apr (80 days); B never paid: days since its first invoice (20)
    np.testing.assert_allclose(f["log_days_since_payment"], np.log1p([80.0, 80.0, 20.0]))
    # A: one of two open invoices is beyond p90 (60 > 29); B: none
    np.testing.assert_allclose(f["share_beyond_window"], [0.5, 0.5, 0.0])
    assert set(FEATURES) - {"logit_raw"} <= set(f.columns)


# ------------------------------------------------------------------ (5) fallback
def test_fallback_keeps_the_raw_outlook_when_history_is_short(ledger):
    # ten customers and four months of history: far fewer past open invoices than min_train
    few = ledger.customers["customer_id"].iloc[:10]
    inv = ledger.invoices.loc[ledger.invoices["customer_id"].isin(few)]
    pay = ledger.payments.loc[ledger.payments["customer_id"].isin(few)]
    as_of = inv["invoice_date"].min() + pd.Timedelta(days=120)
    d = compute_durations(inv, pay, as_of)
    model = DaysToPayModel().fit(d)
    raw = model.outlook(d, as_of)
    cal, calibrator = calibrated_outlook(inv, pay, as_of, durations=d, model=model)
    assert calibrator.fallback_
    assert len(calibrator.notes_) == 3 and all("Too little payment history" in n for n in calibrator.notes_)
    pdt.assert_frame_equal(cal[P_COLS], raw[P_COLS])  # the raw curve is already monotone
    O.validate(cal)


def test_fallback_for_one_horizon_keeps_monotonicity(ledger):
    as_of = pd.Timestamp("2026-03-31")
    d = compute_durations(ledger.invoices, ledger.payments, as_of)
    model = DaysToPayModel().fit(d)
    raw = model.outlook(d, as_of)
    feats = outlook_features(d, raw, model.windows(), as_of, invoices=ledger.invoices, payments=ledger.payments)
    full, calibrator = calibrated_outlook(ledger.invoices, ledger.payments, as_of, durations=d, model=model)
    calibrator.models_[60] = None  # as if the 60-day horizon had too little history
    mixed = calibrator.transform(feats, as_of)
    pdt.assert_series_equal(mixed[O.p_pay_30], full[O.p_pay_30])
    # p60 = max(raw p60, calibrated p30): the running maximum across horizons
    np.testing.assert_allclose(mixed[O.p_pay_60], np.maximum(raw[O.p_pay_60], full[O.p_pay_30]))
    assert (np.diff(mixed[P_COLS].to_numpy(), axis=1) >= 0).all()
