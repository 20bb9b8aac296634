"""Tests of pay-run detection (behaviour.paycycle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from arinsights.behaviour.paycycle import (
    _bh_adjust, _PRIOR_WEIGHT, _WEEKDAY_PRIOR, detect_pay_runs, next_pay_run, pay_days,
    rayleigh_log_pvalue, run_dates_on_or_after,
)
from arinsights.errors import InputError
from arinsights.schema import Payments, PayRuns

AS_OF = pd.Timestamp("2026-06-30")


def _payments(customer_ids, dates, payment_ids=None, kind="payment") -> pd.DataFrame:
    dates = pd.to_datetime(pd.Series(dates))
    n = len(dates)
    return pd.DataFrame({
        Payments.payment_id: payment_ids if payment_ids is not None else [f"P{i}" for i in range(n)],
        Payments.customer_id: customer_ids,
        Payments.payment_date: dates.to_numpy(),
        Payments.amount: 100.0,
        Payments.invoice_id: [f"I{i}" for i in range(n)],
        Payments.kind: kind,
        Payments.currency: "USD",
        Payments.source: "test",
    })


def simulate_pay_days(n_customers: int, seed: int, start="2024-07-01", end="2026-06-30"):
    """Own simulator: customers with a weekday / day-of-month / month-end run or none.

    Intended pay dates are uniform over the window; a run customer pays on the first run
    day on/after the intended date; the others pay on the intended date, weekend payments
    posted on the next Monday (as banks do).
    """
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    span = (end - start).days
    kinds = rng.choice(["none", "weekday", "day_of_month", "month_end"], size=n_customers, p=[0.6, 0.15, 0.15, 0.1])
    run_day = np.where(kinds == "weekday", rng.integers(0, 5, n_customers),
                       np.where(kinds == "day_of_month", rng.integers(1, 29, n_customers), -1)).astype(float)
    run_day[run_day < 0] = np.nan
    n_pay = rng.integers(6, 30, n_customers)
    cust = np.repeat(np.arange(n_customers), n_pay)
    intended = start + pd.to_timedelta(rng.integers(0, span, cust.size), unit="D")
    pattern = kinds[cust]
    paid = run_dates_on_or_after(np.where(pattern == "none", "day_of_month", pattern),
                                 np.where(pattern == "none", np.nan, run_day[cust]), intended)
    wd = intended.day_of_week.to_numpy()
    natural = intended + pd.to_timedelta(np.where(wd == 5, 2, np.where(wd == 6, 1, 0)), unit="D")
    paid = pd.DatetimeIndex(np.where(pattern == "none", natural, paid))
    ids = np.array([f"C{i:04d}" for i in range(n_customers)], dtype=object)
    pays = _payments(ids[cust], paid)
    pays = pays[pays[Payments.payment_date] <= end].reset_index(drop=True)
    truth = pd.DataFrame({PayRuns.customer_id: ids, "true_pattern": kinds, "true_day": run_day})
    return pays, truth


# ----------------------------------------------------------------------------- pay days
def test_pay_days_counts_events_not_allocations_and_ignores_credits_and_future():
    pays = _payments(
        ["A", "A", "A", "A", "A", "B"],
        ["2026-06-01", "2026-06-01", "2026-06-01", "2026-06-03", "2026-07-01", "2026-06-02"],
        payment_ids=["P1", "P1", "P2", "C9", "P3", "P4"])
    pays.loc[3, Payments.kind] = "credit"
    days = pay_days(pays, AS_OF)
    # A: P1 (two allocations) and P2 on the same day -> one pay day; the credit and the
    # July payment (after as_of) do not count.  B: one day.
    assert days.groupby(Payments.customer_id).size().to_dict() == {"A": 1, "B": 1}


# ----------------------------------------------------------------------------- statistics
def test_rayleigh_pvalue_matches_hand_value_and_monte_carlo_null():
    # Hand value (Zar eq. 27.4): n=10, R=4.5 -> sqrt(1 + 40 + 4*(100 - 20.25)) - 21 = sqrt(360) - 21
    assert rayleigh_log_pvalue(10, 4.5) == pytest.approx(np.sqrt(360.0) - 21.0)
    # Independent check: Monte Carlo null of 10 uniform angles, P(R >= r)
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, 2 * np.pi, size=(200_000, 10))
    r_null = np.hypot(np.cos(theta).sum(1), np.sin(theta).sum(1))
    for r in (3.0, 4.5, 6.0):
        mc = (r_null >= r).mean()
        assert np.exp(rayleigh_log_pvalue(10, r)) == pytest.approx(mc, abs=0.01)
    assert rayleigh_log_pvalue(0, 0) == 0.0


def test_bh_adjustment_matches_hand_computation():
    # sorted 0.01, 0.03, 0.04, 0.2 (m=4): 0.2*4/4=0.2; 0.04*4/3=0.0533; 0.03*4/2=0.06 -> 0.0533; 0.01*4=0.04
    adj = _bh_adjust(np.array([0.01, 0.04, 0.03, 0.2]))
    np.testing.assert_allclose(adj, [0.04, 0.16 / 3, 0.16 / 3, 0.2])


def test_weekday_p_value_is_exact_binomial_against_leave_one_out_portfolio_mix():
    # Customer X: 8 Tuesdays in different months. Five small customers (5 pay days each,
    # below min_payments, so untested but part of the portfolio mix) pay Mon..Fri evenly.
    tuesdays = pd.date_range("2025-01-07", periods=8, freq="35D")
    assert (tuesdays.day_of_week == 1).all()
    others_c, others_d = [], []
    for j in range(5):
        for wd in range(5):
            others_c.append(f"O{j}")
            others_d.append(pd.Timestamp("2025-03-03") + pd.Timedelta(days=wd + 7 * (j * 5 + wd)))
    pays = _payments(["X"] * 8 + others_c, list(tuesdays) + others_d)
    out = detect_pay_runs(pays, AS_OF).set_index(PayRuns.customer_id)
    # reference: others have 5 Tuesdays out of 25 pay days; pseudo-count prior 35 * prior(Tue)
    p_tue = (5 + _PRIOR_WEIGHT * _WEEKDAY_PRIOR[1]) / (25 + _PRIOR_WEIGHT)
    tail = stats.binomtest(8, 8, p_tue, alternative="greater").pvalue
    # Bonferroni x7 weekdays, x3 families; one tested customer so BH is the identity
    assert out.loc["X", PayRuns.p_value] == pytest.approx(21 * tail, rel=1e-9)
    assert out.loc["X", PayRuns.pattern] == "weekday"
    assert out.loc["X", PayRuns.day] == 1
    assert out.loc["X", PayRuns.strength] == 1.0
    assert out.loc["X", PayRuns.next_run] == pd.Timestamp("2026-07-07")  # first Tuesday after 2026-06-30
    # the small customers are not tested
    assert (out.loc[[f"O{j}" for j in range(5)], PayRuns.pattern] == "none").all()
    assert out.loc[[f"O{j}" for j in range(5)], PayRuns.p_value].isna().all()


def test_too_few_payments_is_no_run():
    pays = _payments(["A"] * 5, pd.date_range("2026-01-06", periods=5, freq="14D"))  # 5 Tuesdays
    out = detect_pay_runs(pays, AS_OF, min_payments=6)
    assert out[PayRuns.pattern].tolist() == ["none"]
    assert out[PayRuns.n_payments].tolist() == [5]
    assert np.isnan(out[PayRuns.p_value].iloc[0])
    assert detect_pay_runs(pays, AS_OF, min_payments=5)[PayRuns.pattern].tolist() == ["weekday"]


def test_day_of_month_and_month_end_hand_cases():
    months = pd.date_range("2025-01-01", periods=12, freq="MS")
    fifteenth = run_dates_on_or_after(["day_of_month"] * 12, [15.0] * 12, months)
    last_bday = run_dates_on_or_after(["month_end"] * 12, [np.nan] * 12, months)
    pays = _payments(["D"] * 12 + ["M"] * 12, list(fifteenth) + list(last_bday))
    out = detect_pay_runs(pays, AS_OF).set_index(PayRuns.customer_id)
    assert out.loc["D", PayRuns.pattern] == "day_of_month"
    assert out.loc["D", PayRuns.day] == 15
    assert out.loc["D", PayRuns.strength] == 1.0  # weekend runs paid on Monday are within +-2 days
    assert out.loc["D", PayRuns.next_run] == pd.Timestamp("2026-07-15")
    assert out.loc["M", PayRuns.pattern] == "month_end"
    assert np.isnan(out.loc["M", PayRuns.day])
    assert out.loc["M", PayRuns.next_run] == pd.Timestamp("2026-07-31")  # a Friday


def test_payments_after_as_of_do_not_change_the_result():
    pays, _ = simulate_pay_days(60, seed=3)
    cut = pd.Timestamp("2026-01-31")
    before = detect_pay_runs(pays, cut)
    rng = np.random.default_rng(1)
    later = pays[pays[Payments.payment_date] <= cut]
    extra = _payments(rng.choice(pays[Payments.customer_id].unique(), 200),
                      cut + pd.to_timedelta(rng.integers(1, 100, 200), unit="D"))
    after = detect_pay_runs(pd.concat([later, extra], ignore_index=True), cut)
    pd.testing.assert_frame_equal(before, after)


def test_empty_payments_and_bad_arguments():
    out = detect_pay_runs(_payments([], []), AS_OF)
    assert out.empty and list(out.columns) == list(PayRuns.to_schema().columns)
    with pytest.raises(InputError):
        detect_pay_runs(_payments(["A"], ["2026-01-01"]), AS_OF, fdr=2.0)
    with pytest.raises(InputError):
        detect_pay_runs(_payments(["A"], ["2026-01-01"]), "not a date")


# ----------------------------------------------------------------------------- simulate & recover
def test_simulated_runs_are_recovered_with_few_false_positives():
    pays, truth = simulate_pay_days(400, seed=11)
    out = detect_pay_runs(pays, AS_OF).merge(truth, on=PayRuns.customer_id)
    PayRuns.validate(out)
    tested = out[out[PayRuns.n_payments] >= 6]
    runs = tested[tested["true_pattern"] != "none"]
    none = tested[tested["true_pattern"] == "none"]
    recall = (runs[PayRuns.pattern] == runs["true_pattern"]).mean()
    fpr = (none[PayRuns.pattern] != "none").mean()
    assert len(runs) > 100 and len(none) > 200
    assert recall >= 0.9, recall
    assert fpr <= 0.05, fpr
    found = runs[(runs[PayRuns.pattern] == runs["true_pattern"]) & (runs["true_pattern"] != "month_end")]
    assert (found[PayRuns.day] == found["true_day"]).mean() >= 0.95


def test_monday_heavy_posting_is_not_a_pay_run_because_the_null_is_the_portfolio_mix():
    # Nobody has a run; weekend payments are posted on Monday, so ~3/7 of all pay days are
    # Mondays. Against a uniform Mon-Fri null (p = 0.2) a customer with 60 pay days and ~26
    # Mondays would be wildly "significant"; against the portfolio's own mix it is not.
    # min_strength=0 isolates the statistical test from the share threshold.
    rng = np.random.default_rng(8)
    n_c, n_each = 80, 60
    intended = pd.Timestamp("2024-07-01") + pd.to_timedelta(rng.integers(0, 700, n_c * n_each), unit="D")
    wd = intended.day_of_week.to_numpy()
    posted = intended + pd.to_timedelta(np.where(wd == 5, 2, np.where(wd == 6, 1, 0)), unit="D")
    ids = np.repeat([f"N{i:02d}" for i in range(n_c)], n_each)
    out = detect_pay_runs(_payments(ids, posted), AS_OF, min_strength=0.0)
    assert (out[PayRuns.pattern] == "none").mean() >= 0.95
    # reference: the same Monday counts against Binomial(n, 0.2) would be rejected for most (measured 88%)
    mondays = pd.Series(pd.DatetimeIndex(posted).day_of_week == 0).groupby(ids).sum()
    days = pd.Series(1, index=range(len(ids))).groupby(pd.Series(ids).to_numpy()).size()
    assert (stats.binom.sf(mondays - 1, days, 0.2) * 21 < 0.05).mean() > 0.75


def test_noisy_runs_are_still_found():
    # a Thursday payer who pays 20% of the time on a random other weekday
    rng = np.random.default_rng(4)
    dates = pd.Timestamp("2025-01-02") + pd.to_timedelta(7 * np.arange(30), unit="D")  # Thursdays
    off = rng.random(30) < 0.2
    dates = dates + pd.to_timedelta(np.where(off, rng.integers(-3, 2, 30), 0), unit="D")
    pays, _ = simulate_pay_days(50, seed=9)
    pays = pd.concat([pays, _payments(["T"] * 30, dates)], ignore_index=True)
    row = detect_pay_runs(pays, AS_OF).set_index(PayRuns.customer_id).loc["T"]
    assert row[PayRuns.pattern] == "weekday" and row[PayRuns.day] == 3
    assert row[PayRuns.strength] == pytest.approx((pd.DatetimeIndex(dates).day_of_week == 3).mean())
    assert row[PayRuns.strength] < 1.0


# ----------------------------------------------------------------------------- next run
def test_run_dates_hand_cases():
    got = run_dates_on_or_after(
        ["weekday", "day_of_month", "day_of_month", "month_end", "month_end", "none", "day_of_month", "weekday"],
        [1, 31, 15, np.nan, np.nan, np.nan, 15, 2],
        ["2026-07-01", "2026-02-01", "2026-08-01", "2026-05-01", "2026-05-30", "2026-05-01", "2026-08-18",
         "2026-07-01"])
    expected = pd.to_datetime([
        "2026-07-07",  # Wed 1 Jul -> next Tuesday
        "2026-03-02",  # 31st clamped to Sat 28 Feb -> Monday 2 Mar
        "2026-08-17",  # Sat 15 Aug -> Monday 17 Aug
        "2026-05-29",  # 31 May is a Sunday -> last business day Fri 29 May
        "2026-06-30",  # after 29 May -> June's last business day (Tue 30 Jun)
        None,
        "2026-09-15",  # after 15/17 Aug -> 15 Sep
        "2026-07-01",  # Wednesday on/after a Wednesday is that day
    ])
    assert list(got) == list(expected)


def test_next_pay_run_scalar_and_series():
    runs = pd.DataFrame({PayRuns.customer_id: ["A", "B", "C"], PayRuns.pattern: ["weekday", "day_of_month", "none"],
                         PayRuns.day: [4.0, 10.0, np.nan]})
    s = next_pay_run(runs, pd.Timestamp("2026-07-01"))
    assert list(s.index) == ["A", "B", "C"]
    assert s["A"] == pd.Timestamp("2026-07-03")  # first Friday on/after Wed 1 Jul
    assert s["B"] == pd.Timestamp("2026-07-10")
    assert pd.isna(s["C"])
    after = pd.Series(pd.to_datetime(["2026-07-11", "2026-07-04", "2026-07-04"]), index=[10, 11, 12])
    s2 = next_pay_run(runs, after, customer_ids=["B", "A", "Z"])
    assert list(s2.index) == [10, 11, 12]
    assert s2[10] == pd.Timestamp("2026-08-10") and s2[11] == pd.Timestamp("2026-07-10") and pd.isna(s2[12])


# ----------------------------------------------------------------------------- sample ground truth
def test_sample_ground_truth_recall_and_false_positive_rate():
    sample_mod = pytest.importorskip("arinsights.sample")
    s = sample_mod.generate_ledger(300, 2.0, seed=7)
    out = detect_pay_runs(s.payments, s.end)
    m = s.customers[[PayRuns.customer_id, "pay_run_pattern", "pay_run_day"]].merge(
        out, on=PayRuns.customer_id, how="left")
    m[PayRuns.n_payments] = m[PayRuns.n_payments].fillna(0)
    tested = m[m[PayRuns.n_payments] >= 6]
    runs = tested[tested["pay_run_pattern"] != "none"]
    none = tested[tested["pay_run_pattern"] == "none"]
    recall = (runs[PayRuns.pattern] == runs["pay_run_pattern"]).mean()
    fpr = (none[PayRuns.pattern] != "none").mean()
    # measured (seed 7, 300 customers): recall 1.00 on 54 pay-run customers, FPR 0.00 on 228
    assert len(runs) >= 15
    assert recall >= 0.9, recall
    assert fpr <= 0.05, fpr
    dated = runs[runs["pay_run_pattern"].isin(["weekday", "day_of_month"])]
    assert (dated[PayRuns.day] == dated["pay_run_day"]).mean() >= 0.9


def test_row_order_of_the_payments_does_not_matter():
    pays, _ = simulate_pay_days(80, seed=12)
    a = detect_pay_runs(pays, AS_OF)
    b = detect_pay_runs(pays.sample(frac=1.0, random_state=3), AS_OF)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
