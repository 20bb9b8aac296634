"""Tests for the synthetic ledger generator and the export writers (arinsights.sample).

References used beside the assertions:
* calendar facts checked by hand against a printed calendar (e.g. 2026-02-15 is a Sunday),
  and pandas' own business-day offsets (``BMonthEnd``) as an independent month-end oracle;
* truth totals recomputed independently from the payments table, and export totals
  recomputed by parsing the written text back with the stdlib ``csv`` module;
* simulate-and-recover: the drawn days to pay, standardised with the customer's true
  ``mu``/``sigma``, must look standard normal (mean 0, sd 1).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from arinsights import schema as S
from arinsights.errors import InputError
from arinsights.sample import LAYOUTS, generate_ledger, write_export, write_sample
from arinsights.sample import _calendar as cal

I, P = S.Invoices, S.Payments
END = pd.Timestamp("2026-06-30")


@pytest.fixture(scope="module")
def ledger():
    return generate_ledger(300, 2, seed=7)


@pytest.fixture(scope="module")
def small():
    return generate_ledger(60, 1, seed=3)


@pytest.fixture(scope="module")
def paid(ledger):
    inv = ledger.invoices.merge(ledger.customers[[I.customer_id, "archetype", "p80_days_to_pay", "mu", "sigma"]],
                                on=I.customer_id)
    out = inv[inv[I.paid_date].notna()].copy()
    out["days_late"] = (out[I.paid_date] - out[I.due_date]).dt.days
    out["days_to_pay"] = (out[I.paid_date] - out[I.invoice_date]).dt.days
    return out


def _cust(ledger, archetype):
    return ledger.customers[ledger.customers["archetype"] == archetype]


# ----------------------------------------------------------------------------- calendar
def test_calendar_helpers_match_hand_computed_dates():
    d = lambda s: cal.to_days(pd.Timestamp(s))  # noqa: E731
    # 2026-02-14 Sat, 02-15 Sun, 02-16 Mon (printed calendar)
    assert cal.weekday(np.array([d("2026-02-14"), d("2026-02-15"), d("2026-02-16")])).tolist() == [5, 6, 0]
    assert cal.business_forward(np.array([d("2026-02-14")]))[0] == d("2026-02-16")
    assert cal.business_back(np.array([d("2026-02-15")]))[0] == d("2026-02-13")
    # next Tuesday on/after Wed 2026-02-18 is 2026-02-24; on a Tuesday it is that day
    assert cal.next_weekday(np.array([d("2026-02-18"), d("2026-02-17")]), np.array([1, 1])).tolist() == [
        d("2026-02-24"), d("2026-02-17")]
    # run on the 15th: 2026-02-15 is a Sunday -> paid Mon 16th; after the 16th -> 2026-03-16 (a Monday)
    assert cal.day_of_month_run(np.array([d("2026-02-03")]), np.array([15]))[0] == d("2026-02-16")
    assert cal.day_of_month_run(np.array([d("2026-02-16")]), np.array([15]))[0] == d("2026-02-16")
    assert cal.day_of_month_run(np.array([d("2026-02-17")]), np.array([15]))[0] == d("2026-03-16")
    # month end: 2026-05-31 is a Sunday -> last business day Fri 2026-05-29
    assert cal.month_end_run(np.array([d("2026-05-20")]))[0] == d("2026-05-29")
    assert cal.month_end_run(np.array([d("2026-05-30")]))[0] == d("2026-06-30")


# ----------------------------------------------------------------------------- generator
def test_same_seed_same_frames_different_seed_differs(ledger):
    again = generate_ledger(300, 2, seed=7)
    pd.testing.assert_frame_equal(ledger.invoices, again.invoices)
    pd.testing.assert_frame_equal(ledger.payments, again.payments)
    pd.testing.assert_frame_equal(ledger.customers, again.customers)
    other = generate_ledger(300, 2, seed=8)
    assert not ledger.invoices[I.amount].head(100).equals(other.invoices[I.amount].head(100))
    assert set(ledger.customers[I.customer_id]) != set(other.customers[I.customer_id])


def test_frames_satisfy_the_schema_contracts(ledger, small):
    S.Invoices.validate(small.invoices, lazy=True)
    S.Payments.validate(small.payments, lazy=True)
    assert ledger.customers[I.customer_id].is_unique
    assert ledger.customers[I.customer_name].is_unique
    assert ledger.invoices[I.invoice_id].str.fullmatch(r"\d{10}").all()
    assert ledger.invoices[I.invoice_id].str.startswith("0").all()  # leading zeros to keep


def test_archetype_counts_follow_the_mix_exactly(ledger):
    # largest remainder on the default mix x 300: every share x 300 is a whole number
    expected = {"reliable": 129, "slipped": 24, "habitual": 36, "drifting": 21, "monthly_pay_run": 30,
                "weekly_pay_run": 24, "ghost": 18, "new": 18}
    assert ledger.customers["archetype"].value_counts().to_dict() == expected
    # a custom mix: 3 customers split 1/3 each -> exactly one each
    tiny = generate_ledger(3, 1, seed=1, mix={"reliable": 1, "habitual": 1, "ghost": 1})
    assert sorted(tiny.customers["archetype"]) == ["ghost", "habitual", "reliable"]
    with pytest.raises(InputError, match="unknown archetype"):
        generate_ledger(3, 1, mix={"golden": 1.0})


def test_nothing_is_dated_after_end(ledger):
    inv, pay = ledger.invoices, ledger.payments
    assert ledger.end == END
    assert inv[I.invoice_date].max() <= END and inv[I.invoice_date].min() >= ledger.start
    assert pay[P.payment_date].max() <= END
    assert inv[I.paid_date].max() <= END
    assert (inv[I.paid_date].dropna() >= inv.loc[inv[I.paid_date].notna(), I.invoice_date]).all()
    # invoices eventually settled after `end` are open at end (censoring)
    late = inv["eventual_paid_date"] > END
    assert late.sum() > 0 and inv.loc[late, I.paid_date].isna().all()


def test_allocations_add_up_to_the_invoice_amounts(ledger):
    inv, pay = ledger.invoices, ledger.payments
    alloc = pay.groupby(P.invoice_id)[P.amount].sum()
    got = alloc.reindex(inv[I.invoice_id]).fillna(0.0).to_numpy()
    # settled invoices: allocations == amount; every invoice: allocations == amount - open
    np.testing.assert_allclose(got, (inv[I.amount] - inv["open_amount"]).to_numpy(), atol=0.005)
    settled = inv[I.paid_date].notna().to_numpy()
    np.testing.assert_allclose(got[settled], inv[I.amount].to_numpy()[settled], atol=0.005)
    assert (inv.loc[~settled, "open_amount"] > 0).all()
    # paid_date is the date of the last settlement, recomputed from the payments table
    last = pay.dropna(subset=[P.invoice_id]).groupby(P.invoice_id)[P.payment_date].max()
    pd.testing.assert_series_equal(last.reindex(inv.loc[settled, I.invoice_id]).reset_index(drop=True),
                                   inv.loc[settled, I.paid_date].reset_index(drop=True), check_names=False)
    # settled_by agrees with the kinds of the settlements
    kinds = pay.dropna(subset=[P.invoice_id]).groupby(P.invoice_id)[P.kind].agg(lambda k: "".join(sorted(set(k))))
    sb = inv.loc[settled].set_index(I.invoice_id)[I.settled_by]
    expect = kinds.reindex(sb.index).map({"payment": "payment", "credit": "credit", "creditpayment": "mixed"})
    assert (sb == expect).all()


def test_cross_cutting_realism(ledger):
    inv, pay = ledger.invoices, ledger.payments
    n = len(inv)
    assert 0.01 < inv[I.disputed].mean() < 0.03
    cash = pay[pay[P.kind] == S.KIND_PAYMENT]
    per_invoice = cash.dropna(subset=[P.invoice_id]).groupby(P.invoice_id)[P.payment_id].nunique()
    assert 0.03 < (per_invoice >= 2).sum() / n < 0.07  # partial payments (~5%)
    assert 0.01 < (pay[P.kind] == S.KIND_CREDIT).sum() / n < 0.03  # credit notes (~2%)
    assert (inv[I.settled_by] == S.SETTLED_CREDIT).sum() > 0 and (inv[I.settled_by] == S.SETTLED_MIXED).sum() > 0
    assert (cash.groupby(P.payment_id)[P.invoice_id].nunique() >= 2).sum() > 50  # multi-invoice payments
    assert 0 < cash[P.invoice_id].isna().sum() < 0.01 * n  # a little unapplied cash
    assert set(inv["terms_days"].unique()) == {14, 30, 45, 60}
    assert inv["terms_days"].value_counts().idxmax() == 30
    # heavy-tailed amounts: the mean well above the median, the top 5% of customers > 25% of sales
    assert inv[I.amount].mean() > 1.3 * inv[I.amount].median()
    sales = inv.groupby(I.customer_id)[I.amount].sum().sort_values(ascending=False)
    assert sales.head(15).sum() > 0.25 * sales.sum()
    # invoices are issued on business days
    assert (inv[I.invoice_date].dt.day_of_week < 5).all()


def test_days_to_pay_recover_the_true_lognormal(ledger):
    """Simulate-and-recover: (log d - mu) / sigma ~ N(0, 1) for reliable customers."""
    inv = ledger.invoices.merge(ledger.customers, on=I.customer_id)
    ok = (inv["archetype"] == "reliable") & ~inv[I.disputed] & inv["intended_days"].notna() & (
        inv["median_days_to_pay"] >= 20)  # rounding to whole days is negligible there
    z = (np.log(inv.loc[ok, "intended_days"]) - inv.loc[ok, "mu"]) / inv.loc[ok, "sigma"]
    assert ok.sum() > 2000
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.06
    # and the ground-truth median equals exp(mu) by definition
    np.testing.assert_allclose(ledger.customers["median_days_to_pay"], np.exp(ledger.customers["mu"]))


def test_reliable_pay_within_terms(paid):
    r = paid[paid["archetype"] == "reliable"]
    share = r.groupby(I.customer_id)["days_late"].apply(lambda x: (x <= 5).mean())
    assert (share >= 0.8).all()
    assert r["days_late"].median() < 0


def test_habitual_are_late_most_of_the_time(paid, ledger):
    h = paid[paid["archetype"] == "habitual"].groupby(I.customer_id)["days_late"]
    assert len(h) == len(_cust(ledger, "habitual"))
    assert (h.median() > 20).all()
    assert (h.apply(lambda x: (x <= 5).mean()) < 0.4).all()


def test_pay_run_customers_pay_only_on_their_run_day(ledger):
    pay = ledger.payments.merge(ledger.customers, on=P.customer_id)
    pay = pay[pay[P.kind] == S.KIND_PAYMENT]
    wk = pay[pay["pay_run_pattern"] == "weekday"]
    assert len(wk) > 300
    assert (wk[P.payment_date].dt.day_of_week == wk["pay_run_day"]).all()
    me = pay[pay["pay_run_pattern"] == "month_end"]
    assert len(me) > 50
    # independent oracle: pandas' business-month-end offset rolls a month-end run day onto itself
    assert (me[P.payment_date].map(pd.offsets.BMonthEnd().rollforward) == me[P.payment_date]).all()
    dm = pay[pay["pay_run_pattern"] == "day_of_month"]
    assert len(dm) > 200
    # independent oracle: the run day D of the payment's month or of the month before,
    # rolled forward to a business day by pandas' BDay offset, must be the payment date
    x = dm[P.payment_date].reset_index(drop=True)
    run = dm["pay_run_day"].astype(int).reset_index(drop=True)
    prev = x - pd.offsets.MonthBegin(1) - pd.offsets.MonthBegin(1)
    this_run = pd.to_datetime(pd.DataFrame({"year": x.dt.year, "month": x.dt.month, "day": run}))
    prev_run = pd.to_datetime(pd.DataFrame({"year": prev.dt.year, "month": prev.dt.month, "day": run}))
    roll = pd.offsets.BDay().rollforward
    assert ((this_run.map(roll) == x) | (prev_run.map(roll) == x)).all()
    # many pay-run invoices are late by the terms but paid exactly on the run
    inv = ledger.invoices.merge(ledger.customers, on=I.customer_id)
    m = inv[(inv["archetype"] == "monthly_pay_run") & inv[I.paid_date].notna()]
    assert ((m[I.paid_date] - m[I.due_date]).dt.days > 5).mean() > 0.2


def test_ordinary_payers_use_a_natural_mix_of_weekdays(ledger):
    pay = ledger.payments.merge(ledger.customers, on=P.customer_id)
    pay = pay[(pay[P.kind] == S.KIND_PAYMENT) & (pay["pay_run_pattern"] == "none")]
    share = pay[P.payment_date].dt.day_of_week.value_counts(normalize=True)
    assert set(share.index) == {0, 1, 2, 3, 4}  # weekend payments are posted on Monday
    assert share.max() < 0.26 and share.min() > 0.15


def test_ghosts_pay_nothing_after_their_ghost_date(ledger):
    g = _cust(ledger, "ghost")
    pay = ledger.payments.merge(g[[I.customer_id, "ghost_date"]], on=P.customer_id)
    assert len(pay) > 0 and (pay[P.payment_date] <= pay["ghost_date"]).all()
    assert ((END - g["ghost_date"]).dt.days >= 150).all()
    inv = ledger.invoices.merge(g[[I.customer_id, "ghost_date"]], on=I.customer_id)
    after = (inv[I.invoice_date] - inv["ghost_date"]).dt.days
    assert (after <= 60).all()
    assert inv.loc[after > 0].groupby(I.customer_id).size().size == len(g)  # invoices kept coming
    assert inv.loc[after > 0, I.paid_date].isna().all()


def test_slipped_have_a_good_history_and_open_invoices_beyond_their_window(ledger, paid):
    s = _cust(ledger, "slipped").set_index(I.customer_id)
    assert ((END - s["shock_date"]).dt.days.between(30, 75)).all()
    inv = ledger.invoices[ledger.invoices[I.customer_id].isin(s.index)]
    open_age = (END - inv.loc[inv[I.paid_date].isna(), I.invoice_date]).dt.days
    oldest = open_age.groupby(inv.loc[inv[I.paid_date].isna(), I.customer_id]).max().reindex(s.index)
    assert (oldest > s["p80_days_to_pay"] + 3).all()
    pay = ledger.payments.merge(s["shock_date"].reset_index(), on=P.customer_id)
    assert (pay[P.payment_date] < pay["shock_date"]).all()
    # paid history, recent invoices included, is still good
    p = paid[paid[I.customer_id].isin(s.index)].sort_values(I.paid_date)
    assert (p.groupby(I.customer_id)["days_late"].apply(lambda x: (x <= 5).mean()) >= 0.8).all()
    recent = p.groupby(I.customer_id).tail(4)
    assert recent.groupby(I.customer_id)["days_late"].apply(lambda x: (x <= 5).mean()).mean() > 0.85


def test_drifting_recent_paid_invoices_are_later_than_their_long_run_p80(paid, ledger):
    d = paid[(paid["archetype"] == "drifting") & (paid[I.settled_by] != S.SETTLED_CREDIT)]
    d = d.sort_values([I.paid_date, I.invoice_date])
    g = d.groupby(I.customer_id)["days_to_pay"]
    margin = g.apply(lambda x: x.tail(4).mean()) - g.quantile(0.8)
    assert len(margin) == len(_cust(ledger, "drifting"))
    assert (margin > 0).all() and (margin > 7).mean() >= 0.8
    # but their earlier history (before the last 4 paid) is reliable, and they are not
    # habitual (design: < 50% on time or median days late > 15)
    late = d.groupby(I.customer_id)["days_late"]
    earlier = late.apply(lambda x: (x.iloc[:-4] <= 5).mean())
    assert (earlier >= 0.7).all() and (earlier >= 0.8).mean() >= 0.8
    assert (late.apply(lambda x: (x <= 5).mean()) >= 0.6).all() and (late.median() <= 0).all()


def test_new_customers_are_recent_with_few_paid_invoices(ledger):
    n = _cust(ledger, "new")
    assert ((END - n["first_invoice_date"]).dt.days <= 92).all()
    assert (n["n_paid"] <= 3).all()
    old = ledger.customers[ledger.customers["archetype"] != "new"]
    assert (old["n_paid"] >= 4).all()


def test_ground_truth_columns_agree_with_the_tables(ledger):
    c = ledger.customers.set_index(I.customer_id)
    inv = ledger.invoices
    first = inv.groupby(I.customer_id)[I.invoice_date].min()
    pd.testing.assert_series_equal(c["first_invoice_date"].reindex(first.index), first, check_names=False)
    np.testing.assert_array_equal(c["n_invoices"].reindex(first.index), inv.groupby(I.customer_id).size())
    pr = c["pay_run_pattern"]
    assert pr[c["archetype"] == "weekly_pay_run"].eq("weekday").all()
    assert pr[c["archetype"] == "monthly_pay_run"].isin(["day_of_month", "month_end"]).all()
    assert c.loc[pr == "weekday", "pay_run_day"].between(0, 4).all()
    assert c.loc[pr == "day_of_month", "pay_run_day"].between(1, 28).all()
    assert c.loc[pr.isin(["none", "month_end"]), "pay_run_day"].isna().all()
    assert c["shock_date"].notna().sum() == (c["archetype"] == "slipped").sum()


# ----------------------------------------------------------------------------- writers
def _lines(path):
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def _check_manifest(path, fm):
    """The manifest's line kinds, injected rows and counts match the file."""
    lines = _lines(path)
    assert fm["lines"] == len(lines)
    assert sum(fm["line_kinds"].values()) == len(lines)
    for d in fm["duplicates"]:
        assert lines[d["line"] - 1] == d["of_text"]
        assert lines.count(d["of_text"]) == 2
    bad_value = re.compile(r"#VALUE!|\b0?2/30/\d{4}|30/02/\d{4}|\d{4}-02-30|30 Feb \d{4}|30\.02\.\d{4}")
    for b in fm["bad_rows"]:
        assert bad_value.search(lines[b["line"] - 1])
        assert (b["amount"] is None) == ("#VALUE!" in lines[b["line"] - 1])
    for k, where in fm["skipped_lines"].items():
        if k == "blank":
            assert all(lines[i - 1].strip() == "" for i in where)
    assert len(fm["skipped_lines"].get("blank", [])) == sum(1 for ln in lines if not ln.strip())
    kinds = fm["line_kinds"]
    assert kinds["data"] == fm["genuine_data_rows"]
    assert kinds["duplicate"] == 3 and kinds["bad"] in (2, 3)
    return lines


def _genuine_rows(path, fm, skip_header=True):
    """The genuine data rows, parsed back with the stdlib csv module."""
    lines = _lines(path)
    drop = {d["line"] for d in fm["duplicates"]} | {b["line"] for b in fm["bad_rows"]}
    drop |= {i for v in fm["skipped_lines"].values() for i in v}
    header = fm["header_lines"][0]
    keep = [ln for i, ln in enumerate(lines, 1) if i not in drop and i != header]
    return list(csv.DictReader(io.StringIO("\n".join([lines[header - 1]] + keep))))


def _money(text):
    t = text.replace("$", "").replace(",", "")
    return -float(t.strip("()")) if t.startswith("(") else float(t)


def test_generic_export(small, tmp_path):
    paths = write_export(small, "generic", tmp_path, seed=1)
    assert [p.name for p in paths] == ["ledger.csv", "manifest.json"]
    fm = json.loads(paths[-1].read_text())["files"][0]
    lines = _check_manifest(paths[0], fm)
    assert lines[0] == "customerID,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,Disputed,SettledDate"
    rows = _genuine_rows(paths[0], fm)
    inv = small.invoices
    assert len(rows) == len(inv)
    r0, t0 = rows[0], inv.iloc[0]
    assert r0["invoiceNumber"] == t0[I.invoice_id] and r0["invoiceNumber"].startswith("0000")
    d = t0[I.invoice_date]
    assert r0["InvoiceDate"] == f"{d.month}/{d.day}/{d.year}"  # M/D/YYYY, no zero padding
    assert all(re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", r["DueDate"]) for r in rows)
    assert all(re.fullmatch(r"\d+\.\d\d", r["InvoiceAmount"]) for r in rows)
    settled = [r["SettledDate"] != "" for r in rows]
    assert settled == inv[I.paid_date].notna().tolist()
    assert {r["Disputed"] for r in rows} == {"Yes", "No"}
    assert sum(float(r["InvoiceAmount"]) for r in rows) == pytest.approx(inv[I.amount].sum(), abs=0.01)
    bad = [next(csv.reader([lines[b["line"] - 1]])) for b in fm["bad_rows"]]
    assert any(b[4] == "#VALUE!" for b in bad)
    # the corrupted dates really are not dates (stdlib strptime as the oracle)
    for b in bad:
        if b[4] != "#VALUE!":
            with pytest.raises(ValueError):
                datetime.strptime(b[2], "%m/%d/%Y")


def test_transactions_export(small, tmp_path):
    paths = write_export(small, "transactions", tmp_path, seed=1)
    m = json.loads(paths[-1].read_text())
    fm = m["files"][0]
    lines = _check_manifest(paths[0], fm)
    assert fm["skipped_lines"]["title"] == [1] and lines[0].startswith("Transaction List")
    assert lines[1] == "Type,Date,Number,Customer,Due Date,Amount,Applied To,Disputed"
    rows = _genuine_rows(paths[0], fm)
    by_type = pd.DataFrame(rows).groupby("Type")
    assert set(by_type.groups) == {"Invoice", "Payment", "Credit Memo"}
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", r["Date"]) for r in rows)
    assert all(re.fullmatch(r"\$[\d,]+\.\d\d", r["Amount"]) for r in rows if r["Type"] != "Credit Memo")
    assert all(re.fullmatch(r"\(\$[\d,]+\.\d\d\)", r["Amount"]) for r in rows if r["Type"] == "Credit Memo")
    assert any('"$' in ln for ln in lines)  # amounts with thousands separators are quoted
    pay = small.payments
    cash = pay[pay[P.kind] == S.KIND_PAYMENT]
    inv_total = sum(_money(r["Amount"]) for r in rows if r["Type"] == "Invoice")
    cash_total = sum(_money(r["Amount"]) for r in rows if r["Type"] == "Payment")
    credit_total = sum(_money(r["Amount"]) for r in rows if r["Type"] == "Credit Memo")
    assert inv_total == pytest.approx(small.invoices[I.amount].sum(), abs=0.01)
    assert cash_total == pytest.approx(cash[P.amount].sum(), abs=0.01)
    assert credit_total == pytest.approx(-pay.loc[pay[P.kind] == S.KIND_CREDIT, P.amount].sum(), abs=0.01)
    payments = [r for r in rows if r["Type"] == "Payment"]
    assert len(payments) == cash[P.payment_id].nunique() == fm["payments"]
    share = np.mean([r["Applied To"] != "" for r in payments])
    assert 0.78 < share < 0.92 and fm["payments_with_applied_to"] == sum(r["Applied To"] != "" for r in payments)
    # Applied To only when the payment covers exactly one invoice, and then it is that invoice
    alloc = cash.groupby(P.payment_id)[P.invoice_id].agg(list)
    for r in payments:
        if r["Applied To"]:
            assert alloc[r["Number"]] == [r["Applied To"]]
    # customers appear by name
    assert {r["Customer"] for r in rows} <= set(small.customers[I.customer_name])
    # Disputed: "Yes" exactly on the invoices disputed in the truth, empty everywhere else
    truth_disputed = set(small.invoices.loc[small.invoices[I.disputed].to_numpy(dtype=bool), I.invoice_id])
    assert truth_disputed, "the sample should hold some disputed invoices"
    assert {r["Number"] for r in rows if r["Disputed"] == "Yes"} == truth_disputed
    assert {r["Disputed"] for r in rows} == {"Yes", ""}
    assert all(r["Disputed"] == "" for r in rows if r["Type"] != "Invoice")
    assert fm["invoices_disputed"] == len(truth_disputed)


def test_two_files_export(small, tmp_path):
    paths = write_export(small, "two_files", tmp_path, seed=2)
    assert [p.name for p in paths] == ["invoices.csv", "payments.csv", "manifest.json"]
    m = json.loads(paths[-1].read_text())
    fi, fp = m["files"]
    _check_manifest(paths[0], fi)
    _check_manifest(paths[1], fp)
    assert _lines(paths[0])[0] == "Invoice Number,Customer,Invoice Date,Due Date,Amount,Currency"
    assert _lines(paths[1])[0] == "Payment ID,Customer,Payment Date,Amount,Invoice Number"
    pr = _genuine_rows(paths[1], fp)
    assert len(pr) == len(small.payments)
    assert sum(float(r["Amount"]) for r in pr) == pytest.approx(small.payments[P.amount].sum(), abs=0.01)
    assert sum(r["Invoice Number"] == "" for r in pr) == small.payments[P.invoice_id].isna().sum()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", r["Payment Date"]) for r in pr)


def test_quickbooks_aging_export(small, tmp_path):
    paths = write_export(small, "quickbooks_aging", tmp_path, seed=1)
    fm = json.loads(paths[-1].read_text())["files"][0]
    lines = _check_manifest(paths[0], fm)
    assert lines[1].startswith("A/R Aging Detail Report") and lines[2] == '"As of Jun 30, 2026",,,,,,,'
    assert lines[fm["header_lines"][0] - 1] == ",Date,Transaction type,Num,Customer full name,Due date,Amount,Open balance"
    assert lines[-1].startswith('" Wednesday, July 1, 2026')  # footer timestamp
    rows = _genuine_rows(paths[0], fm)
    open_inv = small.invoices[small.invoices["open_amount"] > 0]
    assert len(rows) == len(open_inv)
    assert sum(_money(r["Open balance"]) for r in rows) == pytest.approx(open_inv["open_amount"].sum(), abs=0.01)
    total = [ln for ln in lines if ln.startswith("TOTAL")][0]
    assert _money(next(csv.reader([total]))[-1]) == pytest.approx(open_inv["open_amount"].sum(), abs=0.01)
    assert any(ln.startswith("Total for 91 or more days past due") for ln in lines)


def test_xero_export_folds_lines_into_invoices(small, tmp_path):
    paths = write_export(small, "xero", tmp_path, seed=1)
    fm = json.loads(paths[-1].read_text())["files"][0]
    lines = _check_manifest(paths[0], fm)
    assert lines[0].startswith("ContactName,InvoiceNumber,Reference,InvoiceDate,DueDate,Total,TaxTotal,")
    rows = pd.DataFrame(_genuine_rows(paths[0], fm))
    assert (rows["Currency"] == "GBP").all()
    style = r"\d{1,2} [A-Z][a-z]{2} \d{4}" if fm["date_style"] == "d mon yyyy" else r"\d\d/\d\d/\d{4}"
    assert rows["InvoiceDate"].str.fullmatch(style).all()
    g = rows.groupby("InvoiceNumber")
    assert g.ngroups == len(small.invoices) and (g.size() > 1).sum() > 0.2 * g.ngroups
    assert (g["Total"].nunique() == 1).all()  # Total repeats on every line
    folded = g["LineAmount"].apply(lambda x: x.astype(float).sum()) + g["TaxTotal"].first().astype(float)
    np.testing.assert_allclose(folded, g["Total"].first().astype(float), atol=0.005)
    truth = small.invoices.set_index(I.invoice_id)
    np.testing.assert_allclose(g["InvoiceAmountDue"].first().astype(float), truth.loc[g.groups.keys(), "open_amount"],
                               atol=0.005)


def test_sap_export(small, tmp_path):
    paths = write_export(small, "sap", tmp_path, seed=1)
    fm = json.loads(paths[-1].read_text())["files"][0]
    lines = _check_manifest(paths[0], fm)
    header = lines[fm["header_lines"][0] - 1]
    assert header.startswith("|Account") and "|Amount in local currency|" in header and header.endswith("|")
    assert set(lines[2]) == {"-"}  # dashed ruler
    data = [lines[i] for i in range(len(lines)) if i + 1 not in {d["line"] for d in fm["duplicates"]}
            and i + 1 not in {b["line"] for b in fm["bad_rows"]} and re.match(r"\|\d{4}-", lines[i])]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in data]
    assert len(cells) == fm["genuine_data_rows"]
    types = {c[3] for c in cells}
    assert types == {"RV", "DZ", "DG"}
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4}", c[4]) for c in cells)

    def de(t):
        neg = t.endswith("-")
        v = float(t.rstrip("-").replace(".", "").replace(",", "."))
        return -v if neg else v

    assert all(de(c[8]) > 0 for c in cells if c[3] == "RV") and all(c[8].endswith("-") for c in cells if c[3] != "RV")
    total = de([ln for ln in lines if ln.startswith("|**")][0].split("|")[9].strip())
    expect = small.invoices[I.amount].sum() - small.payments[P.amount].sum()
    assert total == pytest.approx(expect, abs=0.01)
    assert sum(de(c[8]) for c in cells) == pytest.approx(expect, abs=0.01)
    # cleared invoices carry their paid date as clearing date
    rv = {c[2]: c[10] for c in cells if c[3] == "RV"}
    truth = small.invoices.set_index(I.invoice_id)[I.paid_date]
    assert all((rv[k] == "") == pd.isna(v) for k, v in truth.items())


def test_clean_export_has_no_injected_rows(small, tmp_path):
    paths = write_export(small, "generic", tmp_path, messy=False)
    fm = json.loads(paths[-1].read_text())["files"][0]
    assert fm["injected"] == {"duplicates": 0, "bad_rows": 0, "blank_lines": 0, "title_lines": 0}
    assert len(_lines(paths[0])) == 1 + len(small.invoices)
    with pytest.raises(InputError, match="unknown export layout"):
        write_export(small, "lotus123", tmp_path)


def test_writers_are_deterministic(tmp_path):
    tiny = generate_ledger(12, 1, seed=4)
    for layout in LAYOUTS:
        a = write_export(tiny, layout, tmp_path / "a" / layout, seed=5)
        b = write_export(tiny, layout, tmp_path / "b" / layout, seed=5)
        assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_write_sample_and_the_committed_sample(tmp_path, sample_dir):
    paths = write_sample(tmp_path, customers=300, years=2, seed=7, layout="transactions")
    assert [p.name for p in paths] == ["ledger.csv", "ground_truth.csv", "ground_truth_invoices.csv.gz",
                                       "manifest.json"]
    truth = pd.read_csv(paths[1], dtype={"customer_id": str})
    assert len(truth) == 300 and truth["archetype"].nunique() == 8
    m = json.loads(paths[-1].read_text())
    assert m["regenerate"].startswith("arinsights sample --customers 300 --years 2 --seed 7 --layout transactions")
    # the committed files are exactly what the generator writes (regenerable)
    for name in ("ledger.csv", "ground_truth.csv"):
        assert (sample_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name
    size = sum(p.stat().st_size for p in sample_dir.iterdir())
    assert size < 3_000_000
