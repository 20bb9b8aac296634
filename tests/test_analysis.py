"""The end-to-end analysis: report date resolution, determinism, and tables that agree with each other."""

import pandas as pd
import pandas.testing as pdt
import pytest

from arinsights.analysis import analyse, resolve_as_of
from arinsights.errors import InputError
from arinsights.sample import generate_ledger
from arinsights.schema import Actions, Segments, Worklist


@pytest.fixture(scope="module")
def small():
    return generate_ledger(60, 1.5, seed=3)


@pytest.fixture(scope="module")
def result(small):
    return analyse(small.invoices, small.payments, "2026-06-30", with_backtest=False)


def test_resolve_as_of_defaults_to_last_ledger_date_not_the_clock(small):
    last = max(small.invoices["invoice_date"].max(), small.payments["payment_date"].max())
    assert resolve_as_of(small.invoices, small.payments) == pd.Timestamp(last).normalize()
    assert resolve_as_of(small.invoices, small.payments, "2026-01-31") == pd.Timestamp("2026-01-31")


@pytest.mark.parametrize("bad", ["31/01/2026", "2026-13-01", "yesterday"])
def test_resolve_as_of_rejects_non_iso_dates(small, bad):
    with pytest.raises(InputError, match="as-of"):
        resolve_as_of(small.invoices, small.payments, bad)


def test_every_customer_with_invoices_gets_exactly_one_segment(small, result):
    seen = small.invoices.loc[small.invoices["invoice_date"] <= "2026-06-30", "customer_id"].unique()
    assert sorted(result.segments[Segments.customer_id]) == sorted(seen)
    assert result.segments[Segments.customer_id].is_unique


def test_tables_agree(result):
    # open amount per customer in segments = open balance from durations
    open_by_customer = result.durations.groupby("customer_id")["open_amount"].sum()
    seg = result.segments.set_index(Segments.customer_id)[Segments.open_amount]
    pdt.assert_series_equal(seg.sort_index(), open_by_customer.reindex(seg.index).fillna(0).sort_index(),
                            check_names=False, atol=0.01)
    # the worklist holds every action, and value at risk = open amount x P(not paid within 30 days)
    assert len(result.worklist) == len(result.actions)
    w = result.worklist
    pdt.assert_series_equal(w[Worklist.value_at_risk], w[Worklist.open_amount] * w[Worklist.p_not_paid_30],
                            check_names=False)
    # the aging buckets add up to total AR in the KPI summary
    total_ar = result.kpi_summary.query("kpi == 'closing_ar'")["value"].sum()
    assert result.aging["open_amount"].sum() == pytest.approx(total_ar, rel=1e-9)


def test_same_inputs_same_segments_and_actions(small, result):
    again = analyse(small.invoices.sample(frac=1, random_state=1), small.payments.sample(frac=1, random_state=2),
                    "2026-06-30", with_backtest=False)
    pdt.assert_frame_equal(result.segments.reset_index(drop=True), again.segments.reset_index(drop=True))
    pdt.assert_frame_equal(result.actions[list(Actions.to_schema().columns)].reset_index(drop=True),
                           again.actions[list(Actions.to_schema().columns)].reset_index(drop=True))


def test_invoices_paid_before_a_snapshot_count_as_paid_but_teach_the_models_nothing(small, result):
    # some paid invoices marked paid before an aging snapshot (real date unknown), and one of
    # them given a "before-snapshot:" payment: the behaviour tables must be those of the ledger
    # without them, the balances those of the whole ledger (every paid date is unchanged)
    inv, pay = small.invoices.copy(), small.payments.copy()
    paid = inv.index[(inv["paid_date"] <= "2026-06-30").to_numpy()]
    marked = inv.loc[paid[::7], "invoice_id"]
    inv.loc[inv["invoice_id"].isin(marked), "settled_by"] = "before snapshot"
    first = pay.index[pay["invoice_id"].isin(marked).to_numpy()][0]
    pay.loc[first, "payment_id"] = "before-snapshot:" + pay.loc[first, "invoice_id"]
    got = analyse(inv, pay, "2026-06-30", with_backtest=False)
    keep = ~small.invoices["invoice_id"].isin(marked)
    without = analyse(small.invoices[keep], small.payments[~small.payments["invoice_id"].isin(marked)],
                      "2026-06-30", with_backtest=False)
    assert len(marked) > 10 and not got.durations["invoice_id"].isin(marked).any()
    for name in ("durations", "windows", "pay_runs", "segments", "worklist"):
        pdt.assert_frame_equal(getattr(got, name).reset_index(drop=True), getattr(without, name).reset_index(drop=True))
    for name in ("aging", "kpi_summary"):
        pdt.assert_frame_equal(getattr(got, name), getattr(result, name))
    assert len(got.invoices) == len(small.invoices)
    assert any(f"{len(marked)} invoice(s) known only from an aging snapshot" in n for n in got.notes)


def test_pay_runs_leave_out_payments_dated_by_a_snapshot(small, result):
    # a "before-snapshot:" payment is dated the snapshot date, not the day the money came: the
    # pay runs are found without it, while the balances still count it
    from arinsights.behaviour.paycycle import detect_pay_runs
    pay = small.payments.copy()
    busiest = pay["customer_id"].value_counts().index[0]
    rows = pay.index[(pay["customer_id"] == busiest).to_numpy()][:5]
    pay.loc[rows, "payment_id"] = "before-snapshot:" + pay.loc[rows, "invoice_id"]
    got = analyse(small.invoices, pay, "2026-06-30", with_backtest=False)
    b = got.settings.behaviour
    expected = detect_pay_runs(pay.drop(index=rows), "2026-06-30", min_payments=b.paycycle_min_payments,
                               fdr=b.paycycle_fdr)
    pdt.assert_frame_equal(got.pay_runs.reset_index(drop=True), expected.reset_index(drop=True))
    pdt.assert_frame_equal(got.durations, result.durations)
    pdt.assert_frame_equal(got.kpi_summary, result.kpi_summary)


def test_a_report_dated_before_the_snapshot_counts_its_invoices_open_everywhere(small, result):
    # open invoices that an aging snapshot of 25 July (after the report date) shows paid: as of
    # 30 June nothing says they were paid, so the worklist, segments and durations count them
    # open, as the balances do -- the analysis is the one of the ledger without the snapshot
    inv, pay = small.invoices.copy(), small.payments.copy()
    still_open = inv.index[inv["paid_date"].isna().to_numpy()][::3]
    snap = pd.Timestamp("2026-07-25")
    inv.loc[still_open, "paid_date"] = snap
    inv.loc[still_open, "settled_by"] = "before snapshot"
    made_up = pd.DataFrame({
        "payment_id": "before-snapshot:" + inv.loc[still_open, "invoice_id"], "customer_id": inv.loc[still_open, "customer_id"],
        "payment_date": snap, "amount": inv.loc[still_open, "amount"], "invoice_id": inv.loc[still_open, "invoice_id"],
        "kind": "payment", "currency": inv.loc[still_open, "currency"], "source": "aging.csv:9"})
    pay = pd.concat([pay, made_up[pay.columns]], ignore_index=True)
    got = analyse(inv, pay, "2026-06-30", with_backtest=False)
    assert len(still_open) > 5
    for name in ("durations", "segments", "worklist", "aging", "kpi_summary"):
        pdt.assert_frame_equal(getattr(got, name).reset_index(drop=True), getattr(result, name).reset_index(drop=True))
    # the open amounts of the customers add up to the balances' total AR
    total_ar = got.kpi_summary.query("kpi == 'closing_ar'")["value"].sum()
    assert got.segments[Segments.open_amount].sum() == pytest.approx(total_ar, rel=1e-9)
    assert any(f"{len(still_open)} invoice(s) known only from an aging snapshot dated after 30 Jun 2026 count as open"
               in n for n in got.notes)
    # as of a date after the snapshot they are paid, and left out of what the models learn
    late = analyse(inv, pay, "2026-07-31", with_backtest=False)
    assert not late.durations["invoice_id"].isin(inv.loc[still_open, "invoice_id"]).any()
