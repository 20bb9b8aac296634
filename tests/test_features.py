"""Tests of the as-of invoice features (behaviour.features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arinsights.behaviour.features import FEATURE_COLUMNS, build_features, lateness_labels
from arinsights.errors import InputError
from arinsights.schema import InvoiceFeatures as F
from arinsights.schema import Invoices, Payments

AS_OF = pd.Timestamp("2026-04-10")


def _invoices(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=[Invoices.invoice_id, Invoices.customer_id, Invoices.invoice_date,
                                     Invoices.due_date, Invoices.amount, Invoices.disputed, Invoices.paid_date])
    for c in (Invoices.invoice_date, Invoices.due_date, Invoices.paid_date):
        df[c] = pd.to_datetime(df[c])
    df[Invoices.currency] = "USD"
    df[Invoices.settled_by] = np.where(df[Invoices.paid_date].notna(), "payment", None)
    df[Invoices.source] = "test"
    return df


def _payments_for(inv: pd.DataFrame) -> pd.DataFrame:
    paid = inv[inv[Invoices.paid_date].notna()]
    return pd.DataFrame({
        Payments.payment_id: "P" + paid[Invoices.invoice_id].astype(str),
        Payments.customer_id: paid[Invoices.customer_id].to_numpy(),
        Payments.payment_date: paid[Invoices.paid_date].to_numpy(),
        Payments.amount: paid[Invoices.amount].to_numpy(),
        Payments.invoice_id: paid[Invoices.invoice_id].to_numpy(),
        Payments.kind: "payment", Payments.currency: "USD", Payments.source: "test",
    })


def hand_ledger():
    inv = _invoices([
        ("A1", "A", "2026-01-01", "2026-01-31", 100.0, False, "2026-01-20"),  # 11 days early
        ("A2", "A", "2026-01-10", "2026-02-09", 200.0, False, "2026-02-20"),  # 11 days late
        ("A3", "A", "2026-02-01", "2026-03-03", 300.0, True, None),           # open, past due+grace
        ("A4", "A", "2026-03-01", "2026-03-31", 400.0, False, "2026-04-20"),  # paid after as_of
        ("B1", "B", "2026-01-05", "2026-02-04", 50.0, False, "2026-01-30"),
        ("B2", "B", "2026-04-01", "2026-05-01", 60.0, False, None),           # open, not yet due
    ])
    return inv, _payments_for(inv)


def simulate_ledger(n_customers=25, seed=0, start="2025-01-01", end="2026-06-30"):
    """Own simulator: Poisson invoicing, terms 14/30/60, log-normal delays, some open invoices."""
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    span = (end - start).days
    n_inv = rng.integers(5, 40, n_customers)
    cust = np.repeat(np.arange(n_customers), n_inv)
    inv_date = start + pd.to_timedelta(rng.integers(0, span, cust.size), unit="D")
    terms = rng.choice([14, 30, 60], n_customers)[cust]
    mu = rng.normal(3.3, 0.4, n_customers)[cust]
    delay = np.rint(np.exp(rng.normal(mu, 0.4))).astype(int)
    paid = inv_date + pd.to_timedelta(delay, unit="D")
    paid = pd.Series(paid).where(rng.random(cust.size) > 0.05)  # 5% never paid
    ids = np.array([f"C{i:03d}" for i in range(n_customers)], dtype=object)
    inv = _invoices(list(zip([f"I{i:05d}" for i in range(cust.size)], ids[cust], inv_date,
                             inv_date + pd.to_timedelta(terms, unit="D"), np.round(rng.lognormal(6, 1, cust.size), 2),
                             rng.random(cust.size) < 0.03, paid)))
    inv.loc[inv[Invoices.paid_date] > end, Invoices.paid_date] = pd.NaT
    return inv, _payments_for(inv), end


# ----------------------------------------------------------------------------- hand case
def test_hand_case_features_and_labels():
    inv, pays = hand_ledger()
    f = build_features(inv, pays, AS_OF).set_index(F.invoice_id)
    F.validate(f.reset_index())
    a4 = f.loc["A4"]  # issued 2026-03-01: A1 paid (-11 days late), A2 paid (+11, late), A3 open
    assert a4[F.prior_invoice_count] == 3
    assert a4[F.prior_paid_count] == 2
    assert a4[F.prior_late_share] == 0.5
    assert a4[F.prior_mean_days_late] == 0.0
    assert a4[F.prior_median_days_late] == 0.0
    assert a4[F.open_count_at_issue] == 1 and a4[F.open_balance_at_issue] == 300.0
    assert a4[F.days_since_last_payment] == 9  # last A payment 2026-02-20
    assert a4[F.amount_to_prior_median] == 2.0  # 400 / median(100, 200, 300)
    assert a4[F.terms_days] == 30 and a4[F.disputed] == 0.0
    assert a4[F.issue_weekday] == 6 and a4[F.issue_day] == 1 and a4[F.issue_days_to_month_end] == 30
    # pay days before 1 Mar: Tue 20 Jan, Fri 20 Feb -> modal weekday Tue (tie -> first), share 1/2
    assert a4[F.modal_pay_weekday] == 1 and a4[F.modal_pay_weekday_share] == 0.5
    assert a4[F.days_to_modal_pay_weekday] == 2  # Sunday -> Tuesday

    a3 = f.loc["A3"]  # issued 2026-02-01: A1 paid 20 Jan; A2 open (paid 20 Feb)
    assert a3[F.prior_paid_count] == 1 and a3[F.open_count_at_issue] == 1 and a3[F.open_balance_at_issue] == 200.0
    assert a3[F.disputed] == 1.0
    # shrunk loc: customer mean log1p(19); portfolio as of 1 Feb: log1p(19) (A1) and log1p(25) (B1); k = 5
    m_c, m_p = np.log1p(19), (np.log1p(19) + np.log1p(25)) / 2
    assert a3[F.dtp_loc_shrunk] == pytest.approx((1 * m_c + 5 * m_p) / 6)
    assert a3[F.dtp_scale_shrunk] == pytest.approx(np.std([np.log1p(19), np.log1p(25)], ddof=1))

    first = f.loc["A1"]
    assert first[F.prior_paid_count] == 0 and np.isnan(first[F.prior_late_share])
    assert np.isnan(first[F.days_since_last_payment]) and np.isnan(first[F.dtp_loc_shrunk])

    # labels as of 2026-04-10, grace 5
    assert f.loc["A1", F.late] == 0 and f.loc["A1", F.outcome_known_date] == pd.Timestamp("2026-01-20")
    assert f.loc["A2", F.late] == 1 and f.loc["A2", F.outcome_known_date] == pd.Timestamp("2026-02-15")
    assert f.loc["A3", F.late] == 1 and f.loc["A3", F.outcome_known_date] == pd.Timestamp("2026-03-09")
    assert f.loc["A4", F.late] == 1 and f.loc["A4", F.outcome_known_date] == pd.Timestamp("2026-04-06")
    assert np.isnan(f.loc["B2", F.late]) and pd.isna(f.loc["B2", F.outcome_known_date])


def test_labels_as_of_earlier_date_hide_later_payments():
    inv, _ = hand_ledger()
    lab = lateness_labels(inv, "2026-02-12").set_index(F.invoice_id)
    # A2 due 9 Feb, grace to 14 Feb: on 12 Feb it is open and not yet late -> unknown
    assert np.isnan(lab.loc["A2", F.late]) and pd.isna(lab.loc["A2", F.outcome_known_date])
    assert "B2" not in lab.index and "A4" not in lab.index  # issued after the date
    assert lab.loc["A1", F.late] == 0


# ----------------------------------------------------------------------------- brute-force reference
def _reference(inv: pd.DataFrame, pays: pd.DataFrame, as_of, grace=5, k=5, shrink=5.0) -> pd.DataFrame:
    """Slow, obviously-correct reference: for each invoice filter the history by hand (numpy)."""
    inv = inv[inv[Invoices.invoice_date] <= as_of]
    day = lambda s: (pd.to_datetime(s) - pd.Timestamp("2000-01-01")).dt.days.to_numpy(float)  # noqa: E731
    cust = inv[Invoices.customer_id].to_numpy()
    t_all, due, amt = day(inv[Invoices.invoice_date]), day(inv[Invoices.due_date]), inv[Invoices.amount].to_numpy()
    paid = day(inv[Invoices.paid_date]).copy()
    paid[paid > day(pd.Series([as_of]))[0]] = np.nan  # paid after as_of: unknown
    p_cust, p_day = pays[Payments.customer_id].to_numpy(), day(pays[Payments.payment_date])
    rows = []
    for i in range(len(inv)):
        t, c = t_all[i], cust[i]
        mine = cust == c
        pp = np.flatnonzero(mine & (paid < t))
        pp = pp[np.argsort(paid[pp], kind="mergesort")]
        dl = paid[pp] - due[pp]
        issued = mine & (t_all < t)
        open_ = issued & ~(paid < t)
        overdue = open_ & (due + grace + 1 < t)  # > grace days past due strictly before t
        lp = p_day[(p_cust == c) & (p_day < t)]
        ldtp = np.log1p(paid[pp] - t_all[pp])
        port = paid < t
        pl = np.log1p(paid[port] - t_all[port])
        n = len(dl)
        m_p = pl.mean() if len(pl) else np.nan
        v_p = pl.var(ddof=1) if len(pl) > 1 else np.nan
        loc = (n * ldtp.mean() + shrink * m_p) / (n + shrink) if n else m_p
        w = (n - 1) / (n - 1 + shrink) if n >= 2 else 0.0
        var = w * ldtp.var(ddof=1) + (1 - w) * v_p if n >= 2 else v_p
        rows.append({
            F.invoice_id: inv[Invoices.invoice_id].iloc[i],
            F.prior_invoice_count: issued.sum(),
            F.prior_paid_count: n,
            F.prior_late_share: (dl > grace).mean() if n else np.nan,
            F.prior_mean_days_late: dl.mean() if n else np.nan,
            F.prior_median_days_late: np.median(dl) if n else np.nan,
            F.recent_trend_days_late: dl[-k:].mean() - dl.mean() if n else np.nan,
            F.open_count_at_issue: open_.sum(),
            F.open_balance_at_issue: amt[open_].sum(),
            F.overdue_count_at_issue: overdue.sum(),
            F.overdue_balance_at_issue: amt[overdue].sum(),
            F.days_since_last_payment: t - lp.max() if len(lp) else np.nan,
            F.amount_to_prior_median: amt[i] / np.median(amt[issued]) if issued.any() else np.nan,
            F.dtp_loc_shrunk: loc,
            F.dtp_scale_shrunk: np.sqrt(var),
        })
    return pd.DataFrame(rows).set_index(F.invoice_id).sort_index()


def test_vectorised_features_match_brute_force_reference():
    inv, pays, end = simulate_ledger(n_customers=15, seed=4)
    # distinct paid dates per customer so "last k" is unambiguous in the reference
    inv = inv.sort_values(Invoices.invoice_id).reset_index(drop=True)
    dup = inv.duplicated([Invoices.customer_id, Invoices.paid_date]) & inv[Invoices.paid_date].notna()
    inv = inv[~dup].reset_index(drop=True)
    pays = _payments_for(inv)
    as_of = end - pd.Timedelta(days=40)
    got = build_features(inv, pays, as_of).set_index(F.invoice_id).sort_index()
    ref = _reference(inv, pays, as_of)
    assert len(got) == len(ref) > 200
    for col in ref.columns:
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-9, atol=1e-9,
                                   err_msg=col)


# ----------------------------------------------------------------------------- leakage
def test_nothing_dated_after_issue_changes_an_invoices_features():
    inv, pays, end = simulate_ledger(n_customers=20, seed=1)
    full = build_features(inv, pays, end).set_index(F.invoice_id)
    rng = np.random.default_rng(5)
    feat_cols = list(FEATURE_COLUMNS)
    for pivot in pd.to_datetime(["2025-06-15", "2025-11-03", "2026-03-20"]):
        mod = inv[inv[Invoices.invoice_date] <= pivot].copy()  # delete later invoices
        later = mod[Invoices.paid_date] > pivot
        # move later paid dates elsewhere after the pivot, or wipe them
        shift = pd.to_timedelta(rng.integers(1, 200, later.sum()), unit="D")
        mod.loc[later, Invoices.paid_date] = (pivot + shift).where(rng.random(later.sum()) < 0.5)
        p_mod = pays[pays[Payments.payment_date] <= pivot]  # delete later payments ...
        extra = _payments_for(mod[later & mod[Invoices.paid_date].notna()])  # ... and add different ones
        p_mod = pd.concat([p_mod, extra], ignore_index=True)
        got = build_features(mod, p_mod, end).set_index(F.invoice_id)
        ids = got.index[got[F.invoice_date] <= pivot]
        assert len(ids) > 50
        pd.testing.assert_frame_equal(got.loc[ids, feat_cols], full.loc[ids, feat_cols], check_exact=True)


def test_own_paid_date_and_same_day_events_do_not_leak():
    inv, pays = hand_ledger()
    base = build_features(inv, pays, AS_OF).set_index(F.invoice_id)
    inv2 = inv.copy()
    inv2.loc[inv2[Invoices.invoice_id] == "A3", Invoices.paid_date] = pd.Timestamp("2026-02-01")  # paid on issue day
    pays2 = _payments_for(inv2)
    got = build_features(inv2, pays2, AS_OF).set_index(F.invoice_id)
    cols = list(FEATURE_COLUMNS)
    pd.testing.assert_series_equal(got.loc["A3", cols], base.loc["A3", cols])
    assert got.loc["A3", F.late] == 0  # only the label changes
    # a payment on the issue day of A3 is not "before" A3
    assert got.loc["A3", F.days_since_last_payment] == base.loc["A3", F.days_since_last_payment] == 12


def test_features_do_not_depend_on_as_of_only_labels_do():
    inv, pays, end = simulate_ledger(n_customers=15, seed=2)
    c = pd.Timestamp("2025-12-31")
    early = build_features(inv, pays, c).set_index(F.invoice_id)
    late = build_features(inv, pays, end).set_index(F.invoice_id)
    assert (early[F.invoice_date] <= c).all()
    cols = list(FEATURE_COLUMNS)
    pd.testing.assert_frame_equal(early[cols], late.loc[early.index, cols], check_exact=True)
    # labels known at c are known (and equal) later
    known = early[F.late].notna()
    assert (early.loc[known, F.outcome_known_date] <= c).all()
    np.testing.assert_array_equal(early.loc[known, F.late], late.loc[early.index[known], F.late])


def test_schema_and_errors():
    inv, pays, end = simulate_ledger(n_customers=5, seed=3)
    f = build_features(inv, pays, end)
    F.validate(f)
    assert f[F.invoice_id].is_unique
    no_pay = build_features(inv, None, end)
    assert no_pay[F.days_since_last_payment].isna().all()
    np.testing.assert_array_equal(no_pay[F.prior_paid_count], f[F.prior_paid_count])
    with pytest.raises(InputError):
        build_features(inv.drop(columns=[Invoices.due_date]), pays, end)
    with pytest.raises(InputError):
        build_features(inv, pays, None)


def test_row_order_of_the_inputs_does_not_matter():
    inv, pays, end = simulate_ledger(n_customers=10, seed=6)
    a = build_features(inv, pays, end)
    b = build_features(inv.sample(frac=1.0, random_state=1), pays.sample(frac=1.0, random_state=2), end)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
