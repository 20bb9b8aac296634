"""Tests for arinsights.behaviour.durations.compute_durations.

References are hand-computed day counts written beside each assertion.
"""

import numpy as np
import pandas as pd
import pytest

from arinsights.behaviour.durations import compute_durations
from arinsights.errors import InputError
from arinsights.schema import Durations, Invoices, Payments

AS_OF = "2024-03-31"


def _invoices(unit="us"):
    inv = pd.DataFrame({
        Invoices.invoice_id: ["001", "002", "003", "004", "005", "006"],
        Invoices.customer_id: ["c1", "c1", "c2", "c2", "c3", "c3"],
        Invoices.invoice_date: pd.to_datetime(
            ["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-10", "2024-03-31", "2024-04-05"]),
        Invoices.due_date: pd.to_datetime(
            ["2024-01-31", "2024-03-02", "2024-03-31", "2024-04-09", "2024-04-30", "2024-05-05"]),
        Invoices.amount: [100.0, 200.0, 300.0, 50.0, 80.0, 999.0],
        Invoices.paid_date: pd.to_datetime(
            ["2024-01-21", "2024-04-15", None, "2024-03-10", None, "2024-04-06"]),
    })
    for col in (Invoices.invoice_date, Invoices.due_date, Invoices.paid_date):
        inv[col] = inv[col].astype(f"datetime64[{unit}]")
    return inv


def _payments():
    return pd.DataFrame({
        Payments.payment_id: ["p1", "p2", "p3", "p4", "p5", "p6"],
        Payments.customer_id: ["c1", "c1", "c1", "c2", "c2", "c2"],
        Payments.payment_date: pd.to_datetime(
            ["2024-01-21", "2024-03-15", "2024-04-15", "2024-03-20", "2024-03-10", "2024-03-25"]),
        Payments.amount: [100.0, 60.0, 140.0, 120.0, 50.0, 10.0],
        Payments.invoice_id: ["001", "002", "002", "003", "004", None],
    })


def test_hand_computed_example():
    d = compute_durations(_invoices(), _payments(), AS_OF).set_index(Durations.invoice_id)
    # 006 is issued after as_of (5 Apr > 31 Mar): left out
    assert list(d.index) == ["001", "002", "003", "004", "005"]
    # 001: paid 21 Jan, issued 1 Jan -> 20 days; due 31 Jan -> 10 days early
    assert d.loc["001", Durations.paid] and d.loc["001", Durations.days_to_pay] == 20.0
    assert d.loc["001", Durations.days_late] == -10.0
    assert np.isnan(d.loc["001", Durations.age]) and d.loc["001", Durations.open_amount] == 0.0
    # 002: paid 15 Apr (after as_of) -> open on 31 Mar: censored at 1 Feb..31 Mar = 59 days
    assert not d.loc["002", Durations.paid]
    assert d.loc["002", Durations.days_to_pay] == 59.0 and d.loc["002", Durations.age] == 59.0
    assert np.isnan(d.loc["002", Durations.days_late])
    # due 2 Mar -> 29 days past due; open 200 - 60 (15 Mar); the 140 on 15 Apr is after as_of
    assert d.loc["002", Durations.days_past_due] == 29.0
    assert d.loc["002", Durations.open_amount] == 140.0
    # 003: open, 30 days old, due on as_of -> 0 past due; 300 - 120 = 180 open
    assert d.loc["003", Durations.days_to_pay] == 30.0 and d.loc["003", Durations.days_past_due] == 0.0
    assert d.loc["003", Durations.open_amount] == 180.0
    # 004: paid on its invoice date -> 0 days, 30 days early
    assert d.loc["004", Durations.days_to_pay] == 0.0 and d.loc["004", Durations.days_late] == -30.0
    # 005: issued on as_of, open: age 0, not yet due (-30), whole amount open
    assert d.loc["005", Durations.age] == 0.0 and d.loc["005", Durations.days_past_due] == -30.0
    assert d.loc["005", Durations.open_amount] == 80.0
    Durations.validate(d.reset_index())


def test_without_payments_open_amount_is_amount():
    d = compute_durations(_invoices(), None, AS_OF).set_index(Durations.invoice_id)
    assert d[Durations.open_amount].to_dict() == {"001": 0.0, "002": 200.0, "003": 300.0, "004": 0.0, "005": 80.0}


def test_open_amount_clipped_to_zero_and_amount():
    pay = _payments()
    pay.loc[3, Payments.amount] = 500.0  # over-allocation to 003 (amount 300)
    d = compute_durations(_invoices(), pay, AS_OF).set_index(Durations.invoice_id)
    assert d.loc["003", Durations.open_amount] == 0.0
    assert (d[Durations.open_amount] <= d[Durations.amount]).all()


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_any_datetime_resolution(unit):
    ref = compute_durations(_invoices("us"), _payments(), AS_OF)
    got = compute_durations(_invoices(unit), _payments(), pd.Timestamp(AS_OF))
    num = [Durations.days_to_pay, Durations.days_late, Durations.age, Durations.days_past_due, Durations.open_amount]
    np.testing.assert_array_equal(got[num].to_numpy(), ref[num].to_numpy())


def test_nothing_after_as_of_matters():
    """Randomised: rewriting everything dated after as_of leaves the result unchanged."""
    rng = np.random.default_rng(7)
    n = 400
    as_of = pd.Timestamp("2024-06-30")
    inv_date = as_of - pd.to_timedelta(rng.integers(-60, 300, n), unit="D")
    paid_date = inv_date + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    paid_date = paid_date.where(rng.random(n) < 0.8)
    inv = pd.DataFrame({
        Invoices.invoice_id: [f"I{i}" for i in range(n)], Invoices.customer_id: [f"c{i % 17}" for i in range(n)],
        Invoices.invoice_date: inv_date, Invoices.due_date: inv_date + pd.Timedelta(days=30),
        Invoices.amount: rng.uniform(10, 1000, n).round(2), Invoices.paid_date: paid_date,
    })
    pay = pd.DataFrame({
        Payments.invoice_id: inv[Invoices.invoice_id].to_numpy(),
        Payments.payment_date: inv_date + pd.to_timedelta(rng.integers(0, 150, n), unit="D"),
        Payments.amount: inv[Invoices.amount].to_numpy() * rng.uniform(0.1, 0.6, n),
    })
    ref = compute_durations(inv, pay, as_of)

    future_inv = inv[Invoices.invoice_date] > as_of
    paid_later = inv[Invoices.paid_date] > as_of
    inv2 = inv.copy()
    inv2.loc[paid_later, Invoices.paid_date] = inv2.loc[paid_later, Invoices.paid_date] + pd.Timedelta(days=400)
    inv2.loc[future_inv, Invoices.amount] = 1.0
    pay2 = pay.copy()
    late = pay2[Payments.payment_date] > as_of
    pay2.loc[late, Payments.amount] = 1e6
    extra = pay2.loc[late].assign(**{Payments.payment_date: as_of + pd.Timedelta(days=1)})
    got = compute_durations(inv2, pd.concat([pay2, extra], ignore_index=True), as_of)
    pd.testing.assert_frame_equal(got, ref)
    assert (~future_inv).sum() == len(ref)
    # and an invoice paid after as_of is open at as_of
    assert not ref.set_index(Durations.invoice_id).loc[inv.loc[paid_later & ~future_inv, Invoices.invoice_id],
                                                       Durations.paid].any()


def test_errors_are_plain():
    with pytest.raises(InputError, match="no column"):
        compute_durations(_invoices().drop(columns=[Invoices.paid_date]), None, AS_OF)
    with pytest.raises(InputError, match="not a date"):
        compute_durations(_invoices(), None, "not a date")
    with pytest.raises(InputError, match="as_of is missing"):
        compute_durations(_invoices(), None, None)


def test_empty_input_gives_empty_table():
    d = compute_durations(_invoices(), None, "2023-01-01")
    assert len(d) == 0 and list(d.columns) == list(Durations.to_schema().columns)
