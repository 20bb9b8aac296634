"""Tests for arinsights.playbook.worklist (hand-computed value at risk and ordering)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from arinsights.errors import InputError
from arinsights.playbook.worklist import build_worklist, write_worklist
from arinsights.schema import Actions, OpenInvoiceOutlook, Worklist

T = pd.Timestamp


def make_actions(rows):
    """rows: (customer_id, segment, action, next_action_date, open_amount)."""
    return pd.DataFrame({
        Actions.customer_id: [r[0] for r in rows],
        Actions.customer_name: [f"Name {r[0]}" for r in rows],
        Actions.segment: [r[1] for r in rows],
        Actions.action: [r[2] for r in rows],
        Actions.next_action_date: pd.to_datetime([r[3] for r in rows]),
        Actions.open_amount: [float(r[4]) for r in rows],
        Actions.reasons: [f"reason for {r[0]} / {r[2]}" for r in rows],
    })


def make_outlook(rows):
    """rows: (invoice_id, customer_id, p_pay_30, open_amount)."""
    return pd.DataFrame({
        OpenInvoiceOutlook.invoice_id: [r[0] for r in rows],
        OpenInvoiceOutlook.customer_id: [r[1] for r in rows],
        OpenInvoiceOutlook.age: 10.0,
        OpenInvoiceOutlook.p_pay_7: [r[2] / 2 for r in rows],
        OpenInvoiceOutlook.p_pay_30: [r[2] for r in rows],
        OpenInvoiceOutlook.p_pay_60: [min(1.0, r[2] + 0.1) for r in rows],
        OpenInvoiceOutlook.expected_pay_date: pd.NaT,
        "open_amount": [float(r[3]) for r in rows],
    })


@pytest.fixture
def example():
    actions = make_actions([
        ("A", "slipped", "reminder", "2026-07-01", 1000),
        ("B", "habitual", "firm dunning", "2026-07-02", 4000),
        ("C", "reliable", "wait", "2026-07-15", 9000),
        ("D", "slipped", "phone call", "2026-07-03", 600),
        ("E", "new", "standard reminders", "2026-07-01", 500),   # not in the outlook
        ("B", "habitual", "credit hold", "2026-07-01", 4000),
    ])
    outlook = make_outlook([
        ("a1", "A", 0.2, 750), ("a2", "A", 0.6, 250),  # A: (750*0.8 + 250*0.4)/1000 = 0.7
        ("b1", "B", 0.9, 4000),                        # B: 0.1
        ("c1", "C", 0.5, 9000),                        # C: 0.5 (but "wait": last)
        ("d1", "D", 0.0, 300), ("d2", "D", 0.0, 300),  # D: 1.0
    ])
    return actions, outlook


def test_value_at_risk_and_order_hand_example(example):
    actions, outlook = example
    wl = build_worklist(actions, outlook)
    # p_not_paid: A 0.7, B 0.1, C 0.5, D 1.0, E unknown -> 1.0
    # value at risk: A 700, B 400 (twice), C 4500 (wait -> last), D 600, E 500
    # order: A 700, D 600, E 500, B 400 credit hold (07-01), B 400 firm dunning (07-02), C wait
    assert list(zip(wl[Worklist.customer_id], wl[Worklist.action])) == [
        ("A", "reminder"), ("D", "phone call"), ("E", "standard reminders"),
        ("B", "credit hold"), ("B", "firm dunning"), ("C", "wait")]
    np.testing.assert_allclose(wl[Worklist.p_not_paid_30], [0.7, 1.0, 1.0, 0.1, 0.1, 0.5])
    np.testing.assert_allclose(wl[Worklist.value_at_risk], [700, 600, 500, 400, 400, 4500])
    assert list(wl.columns) == [Worklist.customer_id, Worklist.customer_name, Worklist.segment,
                                Worklist.action, Worklist.next_action_date, Worklist.open_amount,
                                Worklist.p_not_paid_30, Worklist.value_at_risk, Worklist.reasons]
    Worklist.validate(wl)


def test_ties_broken_by_date_then_customer_then_action():
    actions = make_actions([
        ("Z", "slipped", "reminder", "2026-07-05", 100),
        ("Y", "slipped", "reminder", "2026-07-05", 100),
        ("X", "slipped", "reminder", None, 100),
        ("W", "slipped", "reminder", "2026-07-01", 100),
    ])
    outlook = make_outlook([(c, c, 0.5, 100) for c in "WXYZ"])
    wl = build_worklist(actions, outlook)
    # equal value at risk (50): earliest date first, missing date last, then customer id
    assert list(wl[Worklist.customer_id]) == ["W", "Y", "Z", "X"]


def test_same_customer_same_day_primary_action_first():
    # equal value at risk and date: the playbook's priority (firm dunning before credit hold),
    # not the alphabet, decides
    actions = make_actions([("B", "habitual", "credit hold", "2026-07-01", 10),
                            ("B", "habitual", "firm dunning", "2026-07-01", 10)])
    wl = build_worklist(actions, make_outlook([("b1", "B", 0.5, 10)]))
    assert list(wl[Worklist.action]) == ["firm dunning", "credit hold"]


def test_deterministic_whatever_the_input_order(example):
    actions, outlook = example
    a = build_worklist(actions, outlook)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        b = build_worklist(actions.iloc[rng.permutation(len(actions))],
                           outlook.iloc[rng.permutation(len(outlook))])
        pd.testing.assert_frame_equal(a, b)


def test_unweighted_without_open_amount_and_other_horizon(example):
    actions, outlook = example
    wl = build_worklist(actions, outlook.drop(columns=["open_amount"]))
    # A without weights: mean(0.8, 0.4) = 0.6
    assert wl.set_index(Worklist.customer_id).loc["A", Worklist.p_not_paid_30] == pytest.approx(0.6)
    wl7 = build_worklist(actions, outlook, horizon_days=7)
    # A at 7 days: p_pay_7 = 0.1, 0.3 -> (750*0.9 + 250*0.7)/1000 = 0.85
    assert wl7.set_index(Worklist.customer_id).loc["A", Worklist.p_not_paid_30] == pytest.approx(0.85)
    with pytest.raises(InputError, match="p_pay_45"):
        build_worklist(actions, outlook, horizon_days=45)


def test_write_worklist_csv_and_xlsx(example, tmp_path):
    actions, outlook = example
    wl = build_worklist(actions, outlook)
    paths = write_worklist(wl, tmp_path / "out", currency_by_customer={"A": "EUR", "B": "USD", "C": "USD",
                                                                       "D": "GBP", "E": "USD"})
    assert set(paths) == {"csv", "xlsx"} and all(p.exists() for p in paths.values())

    csv = pd.read_csv(paths["csv"], dtype=str)
    assert len(csv) == len(wl)
    assert csv.loc[0, Worklist.next_action_date] == "2026-07-01"   # yyyy-mm-dd
    assert list(csv[Worklist.customer_id]) == list(wl[Worklist.customer_id])
    assert csv.loc[0, "currency"] == "EUR"

    ws = load_workbook(paths["xlsx"])["Worklist"]
    n = len(wl)
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:J{n + 1}"                    # 9 columns + currency
    header = [c.value for c in ws[1]]
    assert header[0] == "Customer ID" and "Value at risk" in header and "Currency" in header
    date_col = header.index("Next action date") + 1
    var_col = header.index("Value at risk") + 1
    pct_col = header.index("Chance not paid in 30 days") + 1
    reasons_col = header.index("Reasons") + 1
    d = ws.cell(row=2, column=date_col)
    assert isinstance(d.value, dt.datetime) and d.value.date() == dt.date(2026, 7, 1)
    assert d.number_format == "yyyy-mm-dd"
    v = ws.cell(row=2, column=var_col)
    assert v.value == pytest.approx(700) and v.number_format == '#,##0.00 "EUR"'
    assert ws.cell(row=3, column=var_col).number_format == '#,##0.00 "GBP"'
    assert ws.cell(row=2, column=pct_col).number_format == "0%"
    assert ws.cell(row=2, column=reasons_col).alignment.wrap_text
    assert ws.column_dimensions["A"].width >= 10
    assert ws.column_dimensions[ws.cell(row=1, column=reasons_col).column_letter].width >= 60


def test_write_worklist_without_currency_and_missing_dates(tmp_path):
    actions = make_actions([("A", "reliable", "none", None, 0)])
    wl = build_worklist(actions, make_outlook([]))
    paths = write_worklist(wl, tmp_path)
    ws = load_workbook(paths["xlsx"]).active
    assert ws.auto_filter.ref == "A1:I2"
    assert ws.cell(row=2, column=5).value is None
    assert ws.cell(row=2, column=6).number_format == "#,##0.00"
    assert pd.read_csv(paths["csv"]).shape == (1, 9)


def test_worklist_from_the_real_pipeline(tmp_path):
    # Integration with the upstream modules (skipped until they exist): every action is kept,
    # work rows are in decreasing value at risk, no-work rows last, the schema holds.
    sample = pytest.importorskip("arinsights.sample")
    durations = pytest.importorskip("arinsights.behaviour.durations")
    distributions = pytest.importorskip("arinsights.behaviour.distributions")
    paycycle = pytest.importorskip("arinsights.behaviour.paycycle")
    segments = pytest.importorskip("arinsights.playbook.segments")
    actions_mod = pytest.importorskip("arinsights.playbook.actions")
    led = sample.generate_ledger(n_customers=60, years=1, seed=11)
    inv, pay = led.invoices, led.payments
    as_of = pd.Timestamp(inv["invoice_date"].max()).normalize() - pd.Timedelta(days=15)
    d = durations.compute_durations(inv, pay, as_of)
    model = distributions.DaysToPayModel().fit(d)
    outlook = model.outlook(d, as_of)
    seg = segments.segment_customers(inv, pay, d, model.windows(), paycycle.detect_pay_runs(pay, as_of),
                                     outlook, as_of)
    acts = actions_mod.recommend_actions(seg, as_of)
    outlook = outlook.merge(d[["invoice_id", "open_amount"]], on="invoice_id", how="left")
    wl = build_worklist(acts, outlook)
    Worklist.validate(wl)
    assert len(wl) == len(acts)
    rest = wl[Worklist.action].isin(["wait", "none"]).to_numpy()
    assert not (rest[:-1] & ~rest[1:]).any()                      # no-work rows only at the end
    var = wl.loc[~rest, Worklist.value_at_risk].to_numpy()
    assert (np.diff(var) <= 1e-9).all()
    paths = write_worklist(wl, tmp_path)
    assert load_workbook(paths["xlsx"]).active.max_row == len(wl) + 1
