"""Tests of ingest.cleaning on hand-computed tiny ledgers.

Every expected number below is computed by hand in the comment beside it, and every case
checks that each input row is kept, merged or rejected exactly once, with the amounts adding
up (``assert_accounted``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arinsights import schema as S
from arinsights.ingest.cleaning import CleanResult, _fifo_pairs, clean_transactions
from arinsights.schema import Invoices as I
from arinsights.schema import Payments as P
from arinsights.settings import IngestSettings

TX_COLS = list(S.Transactions.to_schema().columns)


def tx(*rows: dict, file: str = "f.csv") -> pd.DataFrame:
    """Transactions frame from short dicts; file/row/source filled in (rows numbered from 2)."""
    out = []
    for i, r in enumerate(rows, start=2):
        d = {c: None for c in TX_COLS}
        d.update(file=file, row=i)
        d.update(r)
        d["source"] = f"{d['file']}:{d['row']}"
        out.append(d)
    df = pd.DataFrame(out, columns=TX_COLS)
    for c in (S.Transactions.document_date, S.Transactions.due_date, S.Transactions.settled_date,
              S.Transactions.snapshot_date):
        df[c] = pd.to_datetime(df[c])
    for c in (S.Transactions.amount, S.Transactions.open_amount, S.Transactions.terms_days):
        df[c] = df[c].astype(float)
    df[S.Transactions.row] = df[S.Transactions.row].astype("int64")
    return df


def inv(doc, cust, date, amount, **kw):
    return dict(kind=S.KIND_INVOICE, document_id=doc, customer_id=cust, document_date=date, amount=amount, **kw)


def pay(doc, cust, date, amount, **kw):
    return dict(kind=S.KIND_PAYMENT, document_id=doc, customer_id=cust, document_date=date, amount=amount, **kw)


def cred(doc, cust, date, amount, **kw):
    return dict(kind=S.KIND_CREDIT, document_id=doc, customer_id=cust, document_date=date, amount=amount, **kw)


def assert_accounted(t: pd.DataFrame, res: CleanResult) -> None:
    """Every input row is in exactly one of kept / merged / rejected; amounts add up."""
    keys = [tuple(x) for x in t[["file", "row"]].to_numpy()]
    got = (list(map(tuple, res.kept[["file", "row"]].to_numpy()))
           + list(map(tuple, res.merged[["file", "row"]].to_numpy()))
           + list(map(tuple, res.rejects[["file", "row"]].to_numpy())))
    assert sorted(got) == sorted(keys)
    total = res.kept["amount"].sum() + res.merged["amount"].sum() + res.rejects["amount"].sum()
    assert total == pytest.approx(t["amount"].sum())


def run(t: pd.DataFrame, settings: IngestSettings | None = None) -> CleanResult:
    before = t.copy()
    res = clean_transactions(t, settings)
    pd.testing.assert_frame_equal(t, before)  # input never mutated
    assert_accounted(t, res)
    return res


def by_id(res: CleanResult) -> pd.DataFrame:
    return res.invoices.set_index(I.invoice_id)


def alloc(res: CleanResult) -> list[tuple]:
    p = res.payments
    return [(a, None if pd.isna(b) else b, round(c, 2))
            for a, b, c in zip(p[P.payment_id], p[P.invoice_id], p[P.amount])]


# ----------------------------------------------------------------------------- rule 1

def test_exact_duplicate_across_files_is_merged_once():
    a = tx(inv("INV-1", "A", "2025-03-02", 100.0), inv("INV-2", "A", "2025-03-05", 50.0), file="a.csv")
    b = tx(inv("INV-1", "A", "2025-03-02", 100.0), file="b.csv")  # the same row, exported again
    res = run(pd.concat([a, b], ignore_index=True))
    assert list(res.invoices[I.invoice_id]) == ["INV-1", "INV-2"]
    assert res.merged[["file", "row", "rule", "into"]].values.tolist() == [["b.csv", 2, "exact_duplicate", "a.csv:2"]]
    assert res.invoices.loc[0, I.source] == "a.csv:2"  # the first (by file, row) is kept
    assert any("exact duplicate" in n for n in res.notes)


def test_repeated_row_within_a_file_is_merged():
    res = run(tx(pay("P1", "A", "2025-01-02", 10.0), pay("P1", "A", "2025-01-02", 10.0)))
    assert res.merged["rule"].tolist() == ["exact_duplicate"]
    assert res.payments[P.amount].sum() == 10.0


# ----------------------------------------------------------------------------- rule 2

def xero_line(doc, total, **kw):
    return inv(doc, "Acme", "2025-07-15", total, due_date="2025-08-14", line_of=doc, currency="GBP", **kw)


def test_xero_lines_fold_into_one_invoice():
    t = tx(xero_line("INV-5", 300.0), xero_line("INV-5", 300.0), xero_line("INV-5", 300.0),
           xero_line("INV-6", 40.0), file="xero.csv")
    res = run(t)
    # 3 lines of INV-5 -> 1 invoice of 300 (the total repeats on each line, it is not summed)
    assert by_id(res).loc["INV-5", I.amount] == 300.0
    assert by_id(res).loc["INV-5", I.currency] == "GBP"
    assert len(res.invoices) == 2
    assert res.merged["rule"].tolist() == ["invoice_line", "invoice_line"]
    assert res.merged["into"].tolist() == ["xero.csv:2", "xero.csv:2"]


def test_xero_file_loaded_twice_lines_are_duplicates_of_the_first_file():
    a = tx(xero_line("INV-5", 300.0), xero_line("INV-5", 300.0), file="xero.csv")
    b = tx(xero_line("INV-5", 300.0), xero_line("INV-5", 300.0), file="xero_copy.csv")
    res = run(pd.concat([a, b], ignore_index=True))
    assert len(res.invoices) == 1
    rules = res.merged.set_index(["file", "row"])["rule"].to_dict()
    assert rules == {("xero.csv", 3): "invoice_line", ("xero_copy.csv", 2): "exact_duplicate",
                     ("xero_copy.csv", 3): "exact_duplicate"}


def test_xero_lines_that_disagree_are_all_rejected_naming_rows_and_values():
    t = tx(xero_line("INV-7", 100.0), xero_line("INV-7", 120.0), xero_line("INV-8", 10.0), file="xero.csv")
    res = run(t)
    assert list(res.invoices[I.invoice_id]) == ["INV-8"]
    assert res.rejects["row"].tolist() == [2, 3]
    reason = res.rejects["reason"].iloc[0]
    assert reason == "the lines of invoice INV-7 disagree on amount: xero.csv:2 has 100.00, xero.csv:3 has 120.00"
    assert (res.rejects["reason"] == reason).all()
    assert "document_id=INV-7" in res.rejects["raw"].iloc[0]


def test_xero_lines_where_one_has_no_due_date_disagree():
    # a missing value is a value of its own: a line without a due date is not folded into
    # a line that has one
    undated = inv("INV-7", "Acme", "2025-07-15", 100.0, due_date=None, line_of="INV-7", currency="GBP")
    t = tx(xero_line("INV-7", 100.0), undated, file="xero.csv")
    res = run(t)
    assert res.invoices.empty
    assert res.rejects["reason"].iloc[0] == ("the lines of invoice INV-7 disagree on due date: xero.csv:2 has "
                                             "due 2025-08-14, xero.csv:3 has due no date")


# ----------------------------------------------------------------------------- rule 4

def test_conflicting_duplicate_invoice_rejects_both_rows_with_both_in_reason():
    rows = [inv(f"X{i}", "A", "2025-01-01", 1.0) for i in range(10)]
    t = tx(inv("INV-1", "A", "2025-03-02", 100.0, row=12), *rows, inv("INV-1", "A", "2025-03-02", 120.0, row=40),
           file="file.csv")
    res = run(t)
    assert "INV-1" not in set(res.invoices[I.invoice_id])
    assert res.rejects["row"].tolist() == [12, 40]
    expected = ("conflicting duplicate invoice INV-1: file.csv:12 has 100.00 dated 2025-03-02, "
                "file.csv:40 has 120.00 dated 2025-03-02")
    assert res.rejects["reason"].tolist() == [expected, expected]
    assert res.rejects["amount"].tolist() == [100.0, 120.0]


def test_conflicting_duplicate_payment_and_date_conflict():
    t = tx(pay("P-9", "A", "2025-03-02", 50.0), pay("P-9", "A", "2025-03-09", 50.0), file="p.csv")
    res = run(t)
    assert res.rejects["reason"].iloc[0] == ("conflicting duplicate payment P-9: p.csv:2 has 50.00 dated "
                                            "2025-03-02, p.csv:3 has 50.00 dated 2025-03-09")
    assert len(res.payments) == 0


def test_repeat_that_agrees_is_merged_and_completes_the_first_row():
    # March export: open; June export: same invoice with its settlement date
    a = tx(inv("INV-1", "A", "2025-03-02", 100.0), file="march.csv")
    b = tx(inv("INV-1", "A", "2025-03-02", 100.0, settled_date="2025-04-10"), file="june.csv")
    res = run(pd.concat([a, b], ignore_index=True))
    assert res.merged["rule"].tolist() == ["repeated_document"]
    assert by_id(res).loc["INV-1", I.paid_date] == pd.Timestamp("2025-04-10")


def test_split_payment_lines_are_not_duplicates():
    # one cheque PMT-7 split over two invoices: 60 to I1, 40 to I2
    t = tx(inv("I1", "A", "2025-01-01", 60.0), inv("I2", "A", "2025-01-02", 40.0),
           pay("PMT-7", "A", "2025-01-20", 60.0, applied_to="I1"), pay("PMT-7", "A", "2025-01-20", 40.0, applied_to="I2"))
    res = run(t)
    assert sorted(alloc(res)) == [("PMT-7", "I1", 60.0), ("PMT-7", "I2", 40.0)]
    assert res.invoices[I.paid_date].eq(pd.Timestamp("2025-01-20")).all()


def test_invoice_number_shared_by_two_customers_is_rejected():
    res = run(tx(inv("INV-1", "Acme", "2025-01-01", 10.0), inv("INV-1", "Acme Ltd", "2025-01-01", 10.0)))
    assert len(res.invoices) == 0
    assert res.rejects["reason"].iloc[0].startswith(
        "invoice number INV-1 is used for more than one customer: f.csv:2 (customer Acme), f.csv:3 (customer Acme Ltd)")


# ----------------------------------------------------------------------------- rule 5

def test_due_dates_terms_default_and_given():
    t = tx(inv("I1", "A", "2025-01-10", 10.0, due_date="2025-02-28"),
           inv("I2", "A", "2025-01-10", 10.0, terms_days=15),
           inv("I3", "A", "2025-01-10", 10.0))
    res = run(t, IngestSettings(default_terms_days=45))
    d = by_id(res)[I.due_date]
    assert d["I1"] == pd.Timestamp("2025-02-28")  # given
    assert d["I2"] == pd.Timestamp("2025-01-25")  # 10 Jan + 15 days
    assert d["I3"] == pd.Timestamp("2025-02-24")  # 10 Jan + 45 days (default terms)
    assert res.quality["due_from_terms"] == 1 and res.quality["due_from_default"] == 1
    assert any("+ 45 days" in n for n in res.notes)


def test_zero_amount_and_undated_rows_are_rejected_and_defaults_applied():
    t = tx(inv("I1", "A", "2025-01-10", 0.0), inv("I2", "A", None, 10.0), pay("P1", "A", None, 5.0),
           inv("I3", "A", "2025-01-10", 10.0, currency="eur", disputed=True), inv("I4", "A", "2025-01-11", 5.0))
    res = run(t, IngestSettings(default_currency="CHF"))
    assert dict(zip(res.rejects["row"], res.rejects["reason"])) == {
        2: "zero-amount invoice", 3: "invoice without a date", 4: "payment without a date"}
    d = by_id(res)
    assert d.loc["I3", I.currency] == "EUR" and bool(d.loc["I3", I.disputed]) is True
    assert d.loc["I4", I.currency] == "CHF" and bool(d.loc["I4", I.disputed]) is False


def test_customer_name_is_latest_non_empty():
    t = tx(inv("I1", "C1", "2025-01-01", 10.0, customer_name="Old Name"),
           inv("I2", "C1", "2025-03-01", 10.0, customer_name="New Name"),
           inv("I3", "C1", "2025-04-01", 10.0))
    res = run(t)
    assert set(res.invoices[I.customer_name]) == {"New Name"}


# ----------------------------------------------------------------------------- rule 3 (snapshots)

def test_snapshot_row_of_known_invoice_is_merged():
    hist = tx(inv("SI-1", "TACTICS", "2025-11-11", 1000.0), pay("PM-1", "TACTICS", "2025-12-01", 200.0),
              file="history.csv")
    snap = tx(inv("SI-1", "TACTICS", "2025-11-11", 1000.0, open_amount=800.0, snapshot_date="2026-07-25"),
              file="aging.csv")
    res = run(pd.concat([hist, snap], ignore_index=True))
    assert res.merged[["file", "rule", "into"]].values.tolist() == [["aging.csv", "snapshot_of_known_invoice",
                                                                      "history.csv:2"]]
    assert alloc(res) == [("PM-1", "SI-1", 200.0)]


def test_snapshot_with_a_different_amount_is_a_conflict():
    hist = tx(inv("SI-1", "T", "2025-11-11", 1000.0), file="history.csv")
    snap = tx(inv("SI-1", "T", "2025-11-11", 900.0, open_amount=900.0, snapshot_date="2026-07-25"), file="aging.csv")
    res = run(pd.concat([hist, snap], ignore_index=True))
    assert len(res.invoices) == 0
    assert res.rejects["reason"].iloc[0] == ("conflicting duplicate invoice SI-1: aging.csv:2 has 900.00 dated "
                                            "2025-11-11, history.csv:2 has 1000.00 dated 2025-11-11")


def test_snapshot_only_part_paid_invoice_stays_open_for_its_open_balance():
    # invoice 1000, open 800 on the snapshot date: 200 paid before, date unknown.
    # A later payment of 800 settles it (only the open 800 can still be paid).
    t = tx(inv("SI-1", "T", "2025-11-11", 1000.0, open_amount=800.0, snapshot_date="2026-07-25"),
           inv("SI-2", "T", "2026-01-05", 500.0, open_amount=500.0, snapshot_date="2026-07-25"), file="aging.csv")
    res = run(t)
    d = by_id(res)
    assert d.loc["SI-1", I.amount] == 1000.0 and pd.isna(d.loc["SI-1", I.paid_date])
    assert res.quality["paid_before_snapshot_invoices"] == 1
    assert res.quality["paid_before_snapshot_by_currency"] == {"USD": 200.0}
    assert res.quality["open_amount_by_currency"] == {"USD": 1300.0}  # 800 + 500
    assert any("date unknown" in n for n in res.notes)
    later = tx(pay("PM-9", "T", "2026-08-01", 800.0), file="payments.csv")
    res2 = run(pd.concat([t, later], ignore_index=True))
    assert by_id(res2).loc["SI-1", I.paid_date] == pd.Timestamp("2026-08-01")
    assert pd.isna(by_id(res2).loc["SI-2", I.paid_date])


def test_snapshot_only_credit_stays_unapplied_cash():
    # the aging report lists SC-1 (100, open 100) and SC-2 (100, open 60) as unapplied on the snapshot date:
    # they are not allocated to SI-1, which keeps the 800 the snapshot shows
    t = tx(inv("SI-1", "Z", "2025-11-11", 1000.0, open_amount=800.0, snapshot_date="2026-07-25"),
           cred("SC-1", "Z", "2023-01-23", 100.0, open_amount=-100.0, snapshot_date="2026-07-25"),
           cred("SC-2", "Z", "2023-02-23", 100.0, open_amount=-60.0, snapshot_date="2026-07-25"), file="aging.csv")
    res = run(t)
    # (the 200 of SI-1 paid before the snapshot is its own payment, dated the snapshot date)
    assert alloc(res) == [("SC-1", None, 100.0), ("SC-2", None, 60.0), ("before-snapshot:SI-1", "SI-1", 200.0)]
    assert res.quality["snapshot_unapplied"] == 2
    assert res.quality["open_amount_by_currency"] == {"USD": 800.0}


# ----------------------------------------------------------------------------- rules 6-8

def test_explicit_reference_beats_oldest_first():
    # without the reference, FIFO would give P1 to the older I1
    t = tx(inv("I1", "A", "2025-01-01", 100.0), inv("I2", "A", "2025-01-05", 100.0),
           pay("P1", "A", "2025-01-10", 100.0, applied_to="I2"))
    res = run(t)
    assert alloc(res) == [("P1", "I2", 100.0)]
    d = by_id(res)
    assert d.loc["I2", I.paid_date] == pd.Timestamp("2025-01-10") and d.loc["I2", I.settled_by] == "payment"
    assert pd.isna(d.loc["I1", I.paid_date]) and pd.isna(d.loc["I1", I.settled_by])


def test_explicit_excess_goes_to_oldest_open_and_unknown_reference_counted():
    # P1 150 -> I2 (ref) 100, excess 50 -> I1 (oldest open). P2 30 references INV-404 (unknown) -> I1.
    t = tx(inv("I1", "A", "2025-01-01", 80.0), inv("I2", "A", "2025-01-05", 100.0),
           pay("P1", "A", "2025-01-10", 150.0, applied_to="I2"), pay("P2", "A", "2025-01-12", 30.0, applied_to="INV-404"))
    res = run(t)
    assert sorted(alloc(res)) == [("P1", "I1", 50.0), ("P1", "I2", 100.0), ("P2", "I1", 30.0)]
    assert by_id(res).loc["I1", I.paid_date] == pd.Timestamp("2025-01-12")  # 50 on 10 Jan, 80 reached on 12 Jan
    assert res.quality["unreferenced_payments"] == 1


def test_fifo_across_several_invoices_with_partial_payment():
    # Invoices (oldest first): I1 100 (1 Jan), I2 50 (10 Jan), I3 80 (1 Feb) = 230
    # Cash: P1 120 (20 Jan), P2 40 (15 Feb), P3 60 (10 Mar) = 220
    # Cumulative intervals: I1 [0,100) I2 [100,150) I3 [150,230); P1 [0,120) P2 [120,160) P3 [160,220)
    # Overlaps: P1-I1 100, P1-I2 20, P2-I2 30, P2-I3 10, P3-I3 60; I3 keeps 10 open.
    # paid: I1 on 20 Jan (P1), I2 on 15 Feb (P2 completes 20+30), I3 open.
    t = tx(inv("I1", "A", "2025-01-01", 100.0), inv("I2", "A", "2025-01-10", 50.0), inv("I3", "A", "2025-02-01", 80.0),
           pay("P1", "A", "2025-01-20", 120.0), pay("P2", "A", "2025-02-15", 40.0), pay("P3", "A", "2025-03-10", 60.0))
    res = run(t)
    assert alloc(res) == [("P1", "I1", 100.0), ("P1", "I2", 20.0), ("P2", "I2", 30.0), ("P2", "I3", 10.0),
                          ("P3", "I3", 60.0)]
    d = by_id(res)
    assert d.loc["I1", I.paid_date] == pd.Timestamp("2025-01-20")
    assert d.loc["I2", I.paid_date] == pd.Timestamp("2025-02-15")
    assert pd.isna(d.loc["I3", I.paid_date])
    assert res.quality["open_amount_by_currency"] == {"USD": pytest.approx(10.0)}
    assert res.quality["open_invoices"] == 1


def test_unreferenced_cash_pays_undisputed_invoices_before_a_disputed_older_one():
    # Hand-computed. I1 100 (1 Jan) is disputed; I2 60 (10 Jan) and I3 40 (20 Jan) are not.
    # P1 60 (5 Feb) and P2 40 (5 Mar) name no invoice. Undisputed issued by 5 Feb = 100 >= 60 cash,
    # by 5 Mar = 100 >= 100: the customer never paid more than the undisputed invoices, so I1 waits.
    # Queue I2 [0,60) I3 [60,100) I1 [100,200); cash P1 [0,60) P2 [60,100): P1-I2 60, P2-I3 40.
    # (Plain oldest-first would give P1-I1 60, P2-I1 40 and leave I2 and I3 open, out of character.)
    t = tx(inv("I1", "A", "2025-01-01", 100.0, disputed=True), inv("I2", "A", "2025-01-10", 60.0),
           inv("I3", "A", "2025-01-20", 40.0), pay("P1", "A", "2025-02-05", 60.0), pay("P2", "A", "2025-03-05", 40.0))
    res = run(t)
    assert alloc(res) == [("P1", "I2", 60.0), ("P2", "I3", 40.0)]
    d = by_id(res)
    assert d.loc["I2", I.paid_date] == pd.Timestamp("2025-02-05")
    assert d.loc["I3", I.paid_date] == pd.Timestamp("2025-03-05")
    assert pd.isna(d.loc["I1", I.paid_date]) and bool(d.loc["I1", I.disputed])


def test_resolved_dispute_is_paid_by_the_cash_that_exceeds_the_undisputed_invoices():
    # Hand-computed. I1 100 (1 Jan, disputed), I2 50 (10 Jan); P1 50 (1 Feb) pays I2.
    # P2 100 (1 Mar): cash so far 150 > 50 undisputed issued by 1 Mar; its overflow 100 covers I1,
    # so I1 queues on 1 Mar, ahead of I4 80 (15 Mar), which P3 80 (1 Apr) then pays.
    # Queue I2 [0,50) I1 [50,150) I4 [150,230); cash P1 [0,50) P2 [50,150) P3 [150,230).
    # (Putting disputed invoices simply last would give P2 to I4 (80) + I1 (20) and P3 to I1 --
    # I4 "paid" before it was issued.)
    t = tx(inv("I1", "A", "2025-01-01", 100.0, disputed=True), inv("I2", "A", "2025-01-10", 50.0),
           inv("I4", "A", "2025-03-15", 80.0), pay("P1", "A", "2025-02-01", 50.0), pay("P2", "A", "2025-03-01", 100.0),
           pay("P3", "A", "2025-04-01", 80.0))
    res = run(t)
    assert alloc(res) == [("P1", "I2", 50.0), ("P2", "I1", 100.0), ("P3", "I4", 80.0)]
    d = by_id(res)
    assert d.loc["I1", I.paid_date] == pd.Timestamp("2025-03-01")
    assert d.loc["I4", I.paid_date] == pd.Timestamp("2025-04-01")


def test_disputed_invoice_takes_cash_once_undisputed_ones_are_settled_and_references_still_win():
    # Hand-computed. I1 100 (1 Jan, disputed), I2 30 (5 Jan). P2 60 (2 Feb) names I1: references
    # are applied first, 60 to I1 (40 left open). P1 70 (1 Feb) has no reference: 30 to I2, and
    # its overflow 40 covers what is left of I1 (no undisputed invoice is open) -> I1 paid on
    # 2 Feb (its last settlement), I2 on 1 Feb.
    # Customer B: disputed J1 50 and the payment Q1 50 names it -> J1 paid although disputed.
    t = tx(inv("I1", "A", "2025-01-01", 100.0, disputed=True), inv("I2", "A", "2025-01-05", 30.0),
           pay("P1", "A", "2025-02-01", 70.0), pay("P2", "A", "2025-02-02", 60.0, applied_to="I1"),
           inv("J1", "B", "2025-01-01", 50.0, disputed=True), inv("J2", "B", "2025-01-02", 50.0),
           pay("Q1", "B", "2025-01-20", 50.0, applied_to="J1"))
    res = run(t)
    assert sorted(alloc(res)) == [("P1", "I1", 40.0), ("P1", "I2", 30.0), ("P2", "I1", 60.0), ("Q1", "J1", 50.0)]
    d = by_id(res)
    assert d.loc["I1", I.paid_date] == pd.Timestamp("2025-02-02")
    assert d.loc["J1", I.paid_date] == pd.Timestamp("2025-01-20") and pd.isna(d.loc["J2", I.paid_date])


def test_overpayment_becomes_unapplied_cash():
    # I1 100; P1 150 -> 100 to I1, 50 unapplied. P2 20 from customer B with nothing open -> unapplied.
    t = tx(inv("I1", "A", "2025-01-01", 100.0), pay("P1", "A", "2025-01-20", 150.0), pay("P2", "B", "2025-01-21", 20.0))
    res = run(t)
    assert alloc(res) == [("P1", "I1", 100.0), ("P1", None, 50.0), ("P2", None, 20.0)]
    assert res.quality["unapplied_by_currency"] == {"USD": 70.0}
    assert res.quality["overpayments"] == 1 and res.quality["unapplied_payments"] == 1
    assert any("Unapplied cash: 70.00 USD" in n for n in res.notes)


def test_prepayment_settles_on_invoice_date():
    # cash of 1 Jan arrives before the invoice of 1 Feb: paid_date = invoice date
    res = run(tx(pay("P1", "A", "2025-01-01", 100.0), inv("I1", "A", "2025-02-01", 100.0)))
    assert by_id(res).loc["I1", I.paid_date] == pd.Timestamp("2025-02-01")
    assert alloc(res) == [("P1", "I1", 100.0)]


def test_credit_note_and_mixed_settlement():
    # I1 100 settled by credit C1 100 -> credit. I2 100: P1 60 (5 Feb) then C2 40 (9 Feb) -> mixed on 9 Feb.
    # I3 50: P2 50 (1 Mar), then a later credit C3 30 that finds I3 already paid -> settled_by payment.
    t = tx(inv("I1", "A", "2025-01-01", 100.0), inv("I2", "A", "2025-01-02", 100.0), inv("I3", "A", "2025-02-20", 50.0),
           cred("C1", "A", "2025-01-15", 100.0, applied_to="I1"), pay("P1", "A", "2025-02-05", 60.0),
           cred("C2", "A", "2025-02-09", 40.0), pay("P2", "A", "2025-03-01", 50.0), cred("C3", "A", "2025-03-02", 30.0))
    res = run(t)
    d = by_id(res)
    assert d.loc["I1", I.settled_by] == "credit" and d.loc["I1", I.paid_date] == pd.Timestamp("2025-01-15")
    assert d.loc["I2", I.settled_by] == "mixed" and d.loc["I2", I.paid_date] == pd.Timestamp("2025-02-09")
    assert d.loc["I3", I.settled_by] == "payment" and d.loc["I3", I.paid_date] == pd.Timestamp("2025-03-01")
    assert ("C3", None, 30.0) in alloc(res)
    assert set(res.payments.loc[res.payments[P.payment_id] == "C1", P.kind]) == {"credit"}


def test_settled_date_synthesises_a_payment():
    t = tx(inv("0000611365", "0379-NEVHP", "2013-01-02", 55.94, due_date="2013-02-01", settled_date="2013-01-15"),
           inv("0007900770", "8976-AMJEO", "2013-01-26", 61.74, due_date="2013-02-25", disputed=True),
           inv("0000000001", "X", "2013-03-10", 10.0, settled_date="2013-03-01"))  # cleared before issue
    res = run(t)
    assert alloc(res) == [("settled:0000611365", "0000611365", 55.94), ("settled:0000000001", "0000000001", 10.0)]
    row = res.payments.iloc[0]
    assert row[P.source] == "f.csv:2" and row[P.kind] == "payment" and row[P.payment_date] == pd.Timestamp("2013-01-15")
    d = by_id(res)
    assert d.loc["0000611365", I.paid_date] == pd.Timestamp("2013-01-15")
    assert d.loc["0000000001", I.paid_date] == pd.Timestamp("2013-03-10")  # effect at the invoice date
    assert pd.isna(d.loc["0007900770", I.paid_date])


def test_cleared_items_are_merged():
    # SAP: invoice RV cleared on 20 Mar by payment DZ carrying the same clearing date
    t = tx(inv("1800000001", "100234", "2025-03-01", 1234.56, settled_date="2025-03-20", currency="EUR"),
           pay("1400000007", "100234", "2025-03-20", 1234.56, settled_date="2025-03-20", currency="EUR"),
           pay("1400000008", "100234", "2025-03-25", 10.0, currency="EUR"), file="fbl5n.txt")
    res = run(t)
    assert res.merged[["row", "rule"]].values.tolist() == [[3, "cleared_item"]]
    assert alloc(res) == [("settled:1800000001", "1800000001", 1234.56), ("1400000008", None, 10.0)]
    assert any("already carried by the invoices' clearing dates" in n for n in res.notes)


def test_currencies_are_kept_apart():
    # A owes USD 100 (older) and EUR 100; a EUR payment pays the EUR invoice, not the older USD one.
    t = tx(inv("U1", "A", "2025-01-01", 100.0, currency="USD"), inv("E1", "A", "2025-02-01", 100.0, currency="EUR"),
           pay("P1", "A", "2025-02-10", 100.0, currency="EUR"), pay("P2", "A", "2025-02-11", 30.0, currency="GBP"))
    res = run(t)
    assert alloc(res) == [("P1", "E1", 100.0), ("P2", None, 30.0)]
    assert pd.isna(by_id(res).loc["U1", I.paid_date])
    assert res.quality["currencies"] == ["EUR", "GBP", "USD"]


def test_tolerance_counts_as_settled():
    # 99.995 pays 100.00 within the 0.01 tolerance
    res = run(tx(inv("I1", "A", "2025-01-01", 100.0), pay("P1", "A", "2025-01-09", 99.995)))
    assert by_id(res).loc["I1", I.paid_date] == pd.Timestamp("2025-01-09")


def test_empty_input():
    res = run(tx())
    assert len(res.invoices) == 0 and len(res.payments) == 0
    S.Invoices.validate(res.invoices)


# ----------------------------------------------------------------------------- determinism & oracle

def random_ledger(n_customers: int, n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kind = rng.choice([S.KIND_INVOICE, S.KIND_PAYMENT, S.KIND_CREDIT], size=n_rows, p=[0.5, 0.4, 0.1])
    cust = np.char.add("C", rng.integers(0, n_customers, n_rows).astype(str))
    cur = rng.choice(["USD", "EUR"], size=n_rows, p=[0.8, 0.2])
    date = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n_rows), unit="D")
    amount = np.round(rng.uniform(1, 500, n_rows), 2)
    prefix = np.where(kind == S.KIND_INVOICE, "INV-", np.where(kind == S.KIND_PAYMENT, "PMT-", "CN-"))
    doc = np.char.add(prefix.astype(str), np.arange(n_rows).astype(str))
    inv_ids = doc[kind == S.KIND_INVOICE]
    applied = np.where((kind != S.KIND_INVOICE) & (rng.random(n_rows) < 0.3),
                       rng.choice(inv_ids, n_rows), None)
    return tx(*[dict(kind=k, document_id=d, customer_id=c, document_date=dt, amount=a, currency=cu, applied_to=ap)
                for k, d, c, dt, a, cu, ap in zip(kind, doc, cust, date, amount, cur, applied)], file="gen.csv")


def reference_allocation(t: pd.DataFrame) -> dict:
    """Plain-Python two-queue allocation (explicit refs, then oldest first), the oracle."""
    invs = t[t.kind == "invoice"].sort_values(["document_date", "due_date", "document_id"])
    cap = {r.document_id: r.amount for r in invs.itertuples()}
    owner = {r.document_id: (r.customer_id, r.currency) for r in invs.itertuples()}
    cash = t[t.kind != "invoice"].sort_values(["document_date", "document_id"])
    out: dict = {}
    left = {}
    for r in cash.itertuples():  # explicit references first
        a = r.amount
        if isinstance(r.applied_to, str) and owner.get(r.applied_to) == (r.customer_id, r.currency):
            x = min(a, cap[r.applied_to])
            if x > 0:
                out[(r.document_id, r.applied_to)] = out.get((r.document_id, r.applied_to), 0) + x
                cap[r.applied_to] -= x
            a -= x
        left[r.document_id] = a
    for r in cash.itertuples():
        a = left[r.document_id]
        for i in invs.itertuples():
            if a <= 0.01:
                break
            if (i.customer_id, i.currency) != (r.customer_id, r.currency) or cap[i.document_id] <= 0.01:
                continue
            x = min(a, cap[i.document_id])
            out[(r.document_id, i.document_id)] = out.get((r.document_id, i.document_id), 0) + x
            cap[i.document_id] -= x
            a -= x
        if a > 0.01:
            out[(r.document_id, None)] = a
    return {k: round(v, 2) for k, v in out.items() if v > 0.005}


@pytest.mark.parametrize("seed", [1, 2])
def test_vectorised_allocation_matches_a_plain_python_reference(seed):
    t = random_ledger(n_customers=6, n_rows=120, seed=seed)
    res = run(t)
    got: dict = {}
    for pid, iid, amt in zip(res.payments[P.payment_id], res.payments[P.invoice_id], res.payments[P.amount]):
        k = (pid, None if pd.isna(iid) else iid)
        got[k] = round(got.get(k, 0) + amt, 2)
    assert got == reference_allocation(t)
    # conservation: every unit of cash is either allocated or unapplied; no invoice gets more than its amount
    assert res.payments[P.amount].sum() == pytest.approx(t.loc[t.kind != "invoice", "amount"].sum())
    per_invoice = res.payments.groupby(P.invoice_id)[P.amount].sum()
    amounts = res.invoices.set_index(I.invoice_id)[I.amount]
    assert (per_invoice <= amounts.reindex(per_invoice.index) + 1e-9).all()


def test_fifo_pairs_interval_overlap_by_hand():
    # group 0: invoices 100, 50; cash 120, 30 -> (0,0,100) (1,0,20) (1,1,30)
    # group 1: invoice 10; cash 4, 4 -> (2,2,4) (2,3,4)
    pi, pc, amt = _fifo_pairs(np.array([0, 0, 1]), np.array([100, 50, 10]), np.array([0, 0, 1, 1]),
                              np.array([120, 30, 4, 4]))
    assert list(zip(pi, pc, amt)) == [(0, 0, 100), (1, 0, 20), (1, 1, 30), (2, 2, 4), (2, 3, 4)]


def test_shuffled_input_gives_identical_output():
    t = pd.concat([random_ledger(5, 80, seed=7), tx(xero_line("INV-5", 30.0), xero_line("INV-5", 30.0), file="x.csv"),
                   tx(inv("INV-1", "Z", "2025-01-01", 5.0), inv("INV-1", "Z", "2025-01-01", 6.0), file="z.csv"),
                   tx(inv("SI-1", "Y", "2025-02-01", 90.0, open_amount=40.0, snapshot_date="2025-06-30"),
                      inv("SI-2", "Y", "2025-02-03", 9.0, settled_date="2025-03-01"),
                      pay("PM-1", "Y", "2025-07-01", 20.0), file="aging.csv")],
                  ignore_index=True)
    a = run(t)
    b = run(t.sample(frac=1.0, random_state=3).reset_index(drop=True))
    for name in ("invoices", "payments", "rejects", "merged", "kept"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.notes == b.notes


@pytest.mark.slow
def test_vectorised_run_on_200k_rows_completes():
    rng = np.random.default_rng(0)
    n = 200_000
    kind = rng.choice([S.KIND_INVOICE, S.KIND_PAYMENT], size=n)
    t = pd.DataFrame({c: pd.Series([None] * n, dtype=object) for c in TX_COLS})
    t["file"] = "big.csv"
    t["row"] = np.arange(2, n + 2)
    t["source"] = "big.csv:" + t["row"].astype(str)
    t["kind"] = kind
    t["document_id"] = np.char.add("D", np.arange(n).astype(str))
    t["customer_id"] = np.char.add("C", rng.integers(0, 5000, n).astype(str))
    for c in ("document_date", "due_date", "settled_date", "snapshot_date"):
        t[c] = pd.NaT
    t["document_date"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    t["amount"] = np.round(rng.uniform(1, 1000, n), 2)
    for c in ("open_amount", "terms_days"):
        t[c] = np.nan
    t["row"] = t["row"].astype("int64")
    res = clean_transactions(t)
    assert len(res.kept) == n
    assert res.payments[P.amount].sum() == pytest.approx(t.loc[t.kind == "payment", "amount"].sum())


def test_payment_in_a_currency_the_customer_never_invoiced_is_flagged():
    # invoices in EUR, the payments file had no currency column and was read as USD
    t = tx(inv("I1", "A", "2025-01-01", 100.0, currency="EUR"), pay("P1", "A", "2025-01-09", 100.0, currency="USD"),
           pay("P2", "B", "2025-01-09", 5.0, currency="USD"))  # B has no invoice at all: plain unapplied cash
    res = run(t)
    assert res.quality["currency_mismatch_payments"] == 1
    assert any("default_currency" in n for n in res.notes)


def test_copies_of_a_rejected_row_are_rejected_too():
    # a.csv exported twice (b.csv); INV-1 conflicts inside a.csv: all four INV-1 rows end up rejected
    rows = (inv("INV-1", "A", "2025-03-02", 100.0), inv("INV-1", "A", "2025-03-02", 120.0), inv("INV-2", "A", "2025-03-05", 1.0))
    res = run(pd.concat([tx(*rows, file="a.csv"), tx(*rows, file="b.csv")], ignore_index=True))
    assert list(res.invoices[I.invoice_id]) == ["INV-2"]
    rej = res.rejects.set_index(["file", "row"])["reason"]
    assert len(rej) == 4
    assert rej[("b.csv", 2)].startswith("copy of a.csv:2, which was rejected: conflicting duplicate invoice INV-1: "
                                        "a.csv:2 has 100.00 dated 2025-03-02, a.csv:3 has 120.00")
    assert res.merged[["file", "row", "rule"]].values.tolist() == [["b.csv", 4, "exact_duplicate"]]


def messy_ledger(seed: int) -> pd.DataFrame:
    """A random ledger with every kind of trouble: copies, conflicts, settlement dates,
    cleared items, snapshot rows, zero amounts, missing dates, lines."""
    rng = np.random.default_rng(seed)
    t = random_ledger(n_customers=5, n_rows=60, seed=seed)
    n = len(t)
    is_inv = (t["kind"] == "invoice").to_numpy()
    t.loc[is_inv & (rng.random(n) < 0.2), "settled_date"] = t["document_date"] + pd.Timedelta(days=20)
    t.loc[~is_inv & (rng.random(n) < 0.1), "settled_date"] = t["document_date"]
    t.loc[rng.random(n) < 0.05, "amount"] = 0.0
    t.loc[rng.random(n) < 0.05, "document_date"] = pd.NaT
    copies = t.sample(n=15, random_state=seed).assign(file="copy.csv")
    copies.loc[copies.index[:4], "amount"] += 1.0  # conflicting copies
    copies["row"] = np.arange(2, len(copies) + 2)
    snap = t[is_inv].sample(n=5, random_state=seed + 1).assign(file="aging.csv", snapshot_date=pd.Timestamp("2025-06-30"))
    snap["open_amount"] = snap["amount"] * 0.5
    snap["row"] = np.arange(2, len(snap) + 2)
    lines = tx(xero_line("X-1", 30.0), xero_line("X-1", 30.0), xero_line("X-2", 5.0), xero_line("X-2", 6.0),
               file="xero.csv")
    out = pd.concat([t, copies, snap, lines], ignore_index=True)
    out["source"] = out["file"] + ":" + out["row"].astype(str)
    return out


@pytest.mark.parametrize("seed", [11, 12])
def test_messy_random_ledgers_account_for_every_row_and_are_deterministic(seed):
    t = messy_ledger(seed)
    a = run(t)  # every row kept, merged or rejected once; amounts add up; outputs schema-valid
    b = run(t.sample(frac=1.0, random_state=seed).reset_index(drop=True))
    for name in ("invoices", "payments", "rejects", "merged", "kept"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.invoices[I.invoice_id].is_unique
    # every kept payment/credit's amount is fully present in the payments table (allocated or unapplied),
    # except cash known only from a snapshot (its open part only) -- none here
    cash_kept = a.kept[a.kept["kind"] != "invoice"]["amount"].sum()
    settled = a.payments[a.payments[P.payment_id].str.startswith("settled:")][P.amount].sum()
    assert a.payments[P.amount].sum() - settled == pytest.approx(cash_kept)


# ----------------------------------------------------------------------------- rule 4c

def _two_exports(pay_rows_b, *, file_b="b.csv", pay_rows_a=None):
    """A transaction list (a.csv): INV-1 100, INV-2 50, and PMT-1 paying INV-1 (100) unless
    other payment lines are given; plus a payments export (file_b)."""
    a = tx(inv("INV-1", "A", "2025-01-05", 100.0), inv("INV-2", "A", "2025-01-20", 50.0),
           *(pay_rows_a or [pay("PMT-1", "A", "2025-02-13", 100.0, applied_to="INV-1")]), file="a.csv")
    b = tx(*pay_rows_b, file=file_b)
    return pd.concat([a, b], ignore_index=True)


def test_payment_in_a_second_export_without_its_invoice_counts_once():
    # the payments export has PMT-1 (same customer, date, 100.00) with no invoice: before rule
    # 4c it was a second 100.00 that paid INV-2 (50) and left 50 unapplied
    t = _two_exports([pay("PMT-1", "A", "2025-02-13", 100.0)])
    res = run(t)
    assert res.merged[["file", "row", "rule", "into"]].values.tolist() == [["b.csv", 2, "repeated_payment", "a.csv:4"]]
    assert alloc(res) == [("PMT-1", "INV-1", 100.0)]
    assert pd.isna(by_id(res).loc["INV-2", I.paid_date])  # INV-2 is still open: 50.00
    assert res.quality["open_amount_by_currency"] == {"USD": 50.0}
    assert any("same payment as one in another file" in n for n in res.notes)


def test_split_payment_lines_and_the_other_files_single_total_count_once():
    # a.csv: PMT-1 in two lines, 60 to INV-1 and 40 to INV-2 (total 100); b.csv: PMT-1 100,
    # listed first in canonical order and without references: a.csv says more, so it is kept
    lines = [pay("PMT-1", "A", "2025-02-13", 60.0, applied_to="INV-1"),
             pay("PMT-1", "A", "2025-02-13", 40.0, applied_to="INV-2")]
    t = _two_exports([pay("PMT-1", "A", "2025-02-13", 100.0)], file_b="0-payments.csv", pay_rows_a=lines)
    res = run(t)
    assert res.merged[["file", "row", "rule", "into"]].values.tolist() == [
        ["0-payments.csv", 2, "repeated_payment", "a.csv:4"]]
    # 60 + 40 applied as referenced; INV-1 keeps 40 open (100 - 60), INV-2 is paid (40 of 50: 10 open)
    assert sorted(alloc(res)) == [("PMT-1", "INV-1", 60.0), ("PMT-1", "INV-2", 40.0)]
    assert res.quality["open_amount_by_currency"] == {"USD": pytest.approx(50.0)}  # 40 + 10


def test_payments_in_two_files_that_do_not_agree_are_both_kept():
    # different totals (100 against 80), a different date, or another customer: not one payment
    for other in (pay("PMT-1", "A", "2025-02-13", 80.0), pay("PMT-1", "A", "2025-02-14", 100.0),
                  pay("PMT-1", "B", "2025-02-13", 100.0)):
        res = run(_two_exports([other]))
        assert "repeated_payment" not in set(res.merged["rule"])
        assert len(res.payments) >= 2


def test_split_lines_of_one_file_are_not_merged_with_each_other():
    lines = [pay("PMT-1", "A", "2025-02-13", 60.0, applied_to="INV-1"),
             pay("PMT-1", "A", "2025-02-13", 40.0, applied_to="INV-2")]
    res = run(_two_exports([inv("INV-9", "A", "2025-01-02", 10.0)], pay_rows_a=lines))
    assert len(res.merged) == 0
    assert sorted(alloc(res)) == [("PMT-1", "INV-1", 60.0), ("PMT-1", "INV-2", 40.0)]


def test_due_date_before_the_invoice_date_is_counted_and_noted():
    # INV-2 issued 2025-03-10 but due 2025-02-03 (a slip): kept as given, counted once, noted
    t = tx(inv("INV-1", "A", "2025-03-02", 100.0, due_date="2025-04-01"),
           inv("INV-2", "A", "2025-03-10", 50.0, due_date="2025-02-03"),
           inv("INV-3", "A", "2025-03-12", 20.0, terms_days=30.0))
    res = run(t)
    assert res.quality["due_before_invoice_date"] == 1
    assert by_id(res).loc["INV-2", I.due_date] == pd.Timestamp("2025-02-03")
    note = [n for n in res.notes if "due before they were issued" in n]
    assert note and "INV-2 (f.csv:3): issued 2025-03-10, due 2025-02-03" in note[0]
    assert run(t.iloc[[0, 2]]).quality["due_before_invoice_date"] == 0


# ----------------------------------------------------------------------------- settlement date and payments

def test_payment_of_an_invoice_with_a_settlement_date_settles_it_once():
    # INV-1 (100) says "paid on 2025-02-13"; the payments file has PMT-1 100 applied to INV-1,
    # received 2025-02-10. Before: the settlement payment paid INV-1 and PMT-1 went to INV-2
    # (50) with 50 unapplied. Now PMT-1 settles INV-1 on its own date, INV-2 stays open.
    t = tx(inv("INV-1", "A", "2025-01-05", 100.0, settled_date="2025-02-13"),
           inv("INV-2", "A", "2025-01-20", 50.0),
           pay("PMT-1", "A", "2025-02-10", 100.0, applied_to="INV-1"))
    res = run(t)
    assert alloc(res) == [("PMT-1", "INV-1", 100.0)]
    assert by_id(res).loc["INV-1", I.paid_date] == pd.Timestamp("2025-02-10")
    assert pd.isna(by_id(res).loc["INV-2", I.paid_date])
    assert res.quality["settled_date_and_payments"] == 1 and res.quality["settled_by_date"] == 0
    assert res.quality["unapplied_payments"] == 0 and res.quality["overpayments"] == 0
    assert any("so no invoice is settled twice" in n for n in res.notes)


def test_part_payment_of_a_settled_invoice_leaves_the_rest_to_the_settlement_date():
    # PMT-1 pays 60 of INV-1 on 2025-02-10; the settlement date 2025-02-13 covers the other 40
    t = tx(inv("INV-1", "A", "2025-01-05", 100.0, settled_date="2025-02-13"),
           inv("INV-2", "A", "2025-01-20", 50.0),
           pay("PMT-1", "A", "2025-02-10", 60.0, applied_to="INV-1"))
    res = run(t)
    assert sorted(alloc(res)) == [("PMT-1", "INV-1", 60.0), ("settled:INV-1", "INV-1", 40.0)]
    assert by_id(res).loc["INV-1", I.paid_date] == pd.Timestamp("2025-02-13")
    assert pd.isna(by_id(res).loc["INV-2", I.paid_date])
    assert res.quality["settled_date_and_payments"] == 1 and res.quality["settled_by_date"] == 1


def test_part_paid_before_the_snapshot_is_a_payment_dated_the_snapshot_date():
    # SI-1: 1000, 800 open on 2026-07-25 -> "before-snapshot:SI-1" 200 on 2026-07-25; SI-2 fully
    # open (no payment); the total AR from the snapshot date on is the snapshot's 800 + 500
    from arinsights.playbook.kpis import ar_balances
    t = tx(inv("SI-1", "T", "2025-11-11", 1000.0, open_amount=800.0, snapshot_date="2026-07-25"),
           inv("SI-2", "T", "2026-01-05", 500.0, open_amount=500.0, snapshot_date="2026-07-25"), file="aging.csv")
    res = run(t)
    assert alloc(res) == [("before-snapshot:SI-1", "SI-1", 200.0)]
    p = res.payments.iloc[0]
    assert p[P.payment_date] == pd.Timestamp("2026-07-25") and p[P.source] == "aging.csv:2"
    assert pd.isna(by_id(res).loc["SI-1", I.paid_date])  # the made-up date never pays an invoice
    bal = ar_balances(res.invoices, res.payments, ["2026-07-25", "2026-07-24"]).set_index("date")["total_ar"]
    assert bal[pd.Timestamp("2026-07-25")] == 1300.0  # 800 + 500, as the snapshot says
    assert bal[pd.Timestamp("2026-07-24")] == 1500.0  # before the snapshot the 200 is not known paid
    # a later payment of the open 800 pays SI-1 on its own date, after the before-snapshot part
    later = tx(pay("PM-9", "T", "2026-08-01", 800.0), file="payments.csv")
    res2 = run(pd.concat([t, later], ignore_index=True))
    assert by_id(res2).loc["SI-1", I.paid_date] == pd.Timestamp("2026-08-01")
    assert alloc(res2) == [("before-snapshot:SI-1", "SI-1", 200.0), ("PM-9", "SI-1", 800.0)]
    assert ar_balances(res2.invoices, res2.payments, ["2026-08-01"])["total_ar"].iloc[0] == 500.0


def test_snapshot_only_invoice_with_nothing_open_is_paid_on_the_snapshot_date():
    # SI-2 (500) has nothing open on 2026-07-25: it was paid before, on a date the export does
    # not give. It must not look open (it would be chased): it is paid on the snapshot date,
    # settled_by "before snapshot", with a "before-snapshot:SI-2" payment of its 500, so the
    # balances from the snapshot date on are the snapshot's own
    from arinsights.playbook.kpis import ar_balances
    t = tx(inv("SI-1", "T", "2025-11-11", 1000.0, open_amount=800.0, snapshot_date="2026-07-25"),
           inv("SI-2", "T", "2026-07-01", 500.0, open_amount=0.0, snapshot_date="2026-07-25"), file="aging.csv")
    res = run(t)
    d = by_id(res)
    assert d.loc["SI-2", I.paid_date] == pd.Timestamp("2026-07-25")
    assert d.loc["SI-2", I.settled_by] == S.SETTLED_BEFORE_SNAPSHOT
    assert pd.isna(d.loc["SI-1", I.paid_date]) and pd.isna(d.loc["SI-1", I.settled_by])
    assert alloc(res) == [("before-snapshot:SI-1", "SI-1", 200.0), ("before-snapshot:SI-2", "SI-2", 500.0)]
    assert res.quality["open_invoices"] == 1 and res.quality["open_amount_by_currency"] == {"USD": 800.0}
    assert res.quality["paid_before_snapshot_invoices"] == 2
    assert res.quality["paid_in_full_before_snapshot_invoices"] == 1
    bal = ar_balances(res.invoices, res.payments, ["2026-07-25", "2026-07-24"]).set_index("date")["total_ar"]
    assert bal[pd.Timestamp("2026-07-25")] == 800.0  # as the snapshot says
    assert bal[pd.Timestamp("2026-07-24")] == 1500.0  # before it, neither part is known paid
    assert [n for n in res.notes if "nothing open on the snapshot date (500.00 USD)" in n]
    assert [n for n in res.notes if "were part-paid" in n and "(200.00 USD)" in n]
    # a later payment naming it finds nothing open there: it goes to what is open, never pays it twice
    later = tx(pay("PM-9", "T", "2026-08-01", 500.0, applied_to="SI-2"), file="payments.csv")
    res2 = run(pd.concat([t, later], ignore_index=True))
    assert ("PM-9", "SI-1", 500.0) in alloc(res2)
    assert by_id(res2).loc["SI-2", I.paid_date] == pd.Timestamp("2026-07-25")


def test_ledger_payments_before_the_snapshot_are_not_counted_twice():
    # aging of 2026-07-25: SI-1 (1000) has 800 open, SI-2 (500) nothing open. The payments export
    # holds what paid them before the snapshot: PM-1 200 naming SI-1 on 1 March, PM-2 500 naming
    # SI-2 on 2 July. Those are the payments before the snapshot: no made-up payment is added,
    # SI-1 keeps the snapshot's 800 open (not 600) and SI-2 is paid on PM-2's own date
    from arinsights.playbook.kpis import ar_balances
    snap = tx(inv("SI-1", "T", "2025-11-11", 1000.0, open_amount=800.0, snapshot_date="2026-07-25"),
              inv("SI-2", "T", "2026-07-01", 500.0, open_amount=0.0, snapshot_date="2026-07-25"), file="aging.csv")
    pays = tx(pay("PM-1", "T", "2026-03-01", 200.0, applied_to="SI-1"),
              pay("PM-2", "T", "2026-07-02", 500.0, applied_to="SI-2"), file="payments.csv")
    res = run(pd.concat([snap, pays], ignore_index=True))
    assert alloc(res) == [("PM-1", "SI-1", 200.0), ("PM-2", "SI-2", 500.0)]
    d = by_id(res)
    assert pd.isna(d.loc["SI-1", I.paid_date])
    assert d.loc["SI-2", I.paid_date] == pd.Timestamp("2026-07-02") and d.loc["SI-2", I.settled_by] == "payment"
    assert res.quality["open_amount_by_currency"] == {"USD": 800.0}
    assert res.quality["paid_before_snapshot_invoices"] == 0
    bal = ar_balances(res.invoices, res.payments, ["2026-07-25"])["total_ar"].iloc[0]
    assert bal == 800.0  # as the snapshot says
    # a payment naming SI-1 after the snapshot pays its open part; one that names it before
    # the snapshot but pays less than the snapshot says was paid leaves the rest made up
    part = tx(pay("PM-1", "T", "2026-03-01", 150.0, applied_to="SI-1"),
              pay("PM-3", "T", "2026-08-01", 800.0, applied_to="SI-1"), file="payments.csv")
    res2 = run(pd.concat([snap.iloc[:1], part], ignore_index=True))
    assert alloc(res2) == [("PM-1", "SI-1", 150.0), ("before-snapshot:SI-1", "SI-1", 50.0),
                           ("PM-3", "SI-1", 800.0)]
    assert by_id(res2).loc["SI-1", I.paid_date] == pd.Timestamp("2026-08-01")
    # a payment that names no invoice, or names it after the snapshot, does not count as before it
    other = tx(pay("PM-4", "T", "2026-03-01", 200.0), file="payments.csv")
    res3 = run(pd.concat([snap.iloc[:1], other], ignore_index=True))
    assert ("before-snapshot:SI-1", "SI-1", 200.0) in alloc(res3)
    # ... it is applied oldest-first to SI-1 as well, which then has 600 open on the snapshot
    # date where the snapshot shows 800: not forced, but said, with the invoice
    assert ("PM-4", "SI-1", 200.0) in alloc(res3)
    assert res3.quality["snapshot_balance_mismatch_invoices"] == 1
    note = [n for n in res3.notes if "another open balance on the snapshot date" in n]
    assert len(note) == 1 and "SI-1 of customer T: 600.00 in this ledger, 800.00 in the snapshot" in note[0]
    # the ledgers above agree with their snapshot: nothing to say
    assert res.quality["snapshot_balance_mismatch_invoices"] == 0
    assert res2.quality["snapshot_balance_mismatch_invoices"] == 0
    assert not any("another open balance" in n for n in res.notes + res2.notes)


def test_one_payment_two_files_apply_to_different_invoices_is_merged_and_flagged():
    # a.csv applies PMT-1 (100) to INV-1; b.csv has the same payment (customer, number, date,
    # total) applied to INV-2. It counts once, as a.csv applies it (first in canonical order,
    # both name one invoice), and the note names the disagreement with an example
    t = _two_exports([pay("PMT-1", "A", "2025-02-13", 100.0, applied_to="INV-2")])
    res = run(t)
    assert res.merged[["file", "row", "rule", "into"]].values.tolist() == [
        ["b.csv", 2, "repeated_payment_conflict", "a.csv:4"]]
    assert res.quality["merged_by_rule"] == {"repeated_payment_conflict": 1}
    assert alloc(res) == [("PMT-1", "INV-1", 100.0)]
    note = [n for n in res.notes if "apply it to different invoices" in n]
    assert len(note) == 1 and "PMT-1 of customer A: b.csv:2 applies it to INV-2, a.csv:4 to INV-1" in note[0]
    assert not any("so each payment counts once" in n for n in res.notes)


def test_one_payment_applied_differently_keeps_the_newer_exports_application():
    # a.csv (dates to 2025-02-13) applies PMT-1 (50) to INV-1; b.csv, exported later (it has
    # INV-3 of 2025-03-31), applies it to INV-2. Both name one invoice: the newer export's
    # application is the current one, whatever the files are called
    for newer in ("b.csv", "0-newer.csv"):
        t = _two_exports([pay("PMT-1", "A", "2025-02-13", 50.0, applied_to="INV-2"),
                          inv("INV-3", "A", "2025-03-31", 10.0)], file_b=newer,
                         pay_rows_a=[pay("PMT-1", "A", "2025-02-13", 50.0, applied_to="INV-1")])
        res = run(t)
        assert res.merged[["file", "row", "rule", "into"]].values.tolist() == [
            ["a.csv", 4, "repeated_payment_conflict", f"{newer}:2"]]
        assert alloc(res) == [("PMT-1", "INV-2", 50.0)]
        assert pd.isna(by_id(res).loc["INV-1", I.paid_date])


def test_one_payment_split_over_other_invoices_is_flagged_and_agreeing_files_are_not():
    # a.csv: 60 to INV-1 + 40 to INV-2; b.csv: the same 100 to INV-3 (an invoice a.csv does not
    # name) -> a conflict; a.csv names the most invoices, so its application is kept
    lines_a = [pay("PMT-1", "A", "2025-02-13", 60.0, applied_to="INV-1"),
               pay("PMT-1", "A", "2025-02-13", 40.0, applied_to="INV-2")]
    t = pd.concat([_two_exports([pay("PMT-1", "A", "2025-02-13", 100.0, applied_to="INV-3")], pay_rows_a=lines_a),
                   tx(inv("INV-3", "A", "2025-01-25", 100.0), file="c.csv")], ignore_index=True)
    res = run(t)
    assert res.merged[["file", "row", "rule"]].values.tolist() == [["b.csv", 2, "repeated_payment_conflict"]]
    assert sorted(alloc(res)) == [("PMT-1", "INV-1", 60.0), ("PMT-1", "INV-2", 40.0)]
    # the same application in two files (exact duplicates) and a payments export without
    # invoices (agrees with any): merged, never flagged
    same = pd.concat([_two_exports(lines_a, pay_rows_a=lines_a),
                      tx(pay("PMT-1", "A", "2025-02-13", 100.0), file="c.csv")], ignore_index=True)
    res = run(same)
    assert "repeated_payment_conflict" not in set(res.merged["rule"])
    assert set(res.merged["rule"]) == {"exact_duplicate", "repeated_payment"}
    assert not any("apply it to different invoices" in n for n in res.notes)


def test_one_payment_split_differently_by_two_exports_counts_once_not_rejected():
    # a.csv splits PMT-1 (100) 60 + 40 over INV-1 and INV-2, b.csv 50 + 50: line by line the
    # two conflict (rule 4), but they tell of one payment (same customer, number, date, total),
    # so it counts once as a.csv applies it (first in canonical order), flagged, never rejected
    lines_a = [pay("PMT-1", "A", "2025-02-13", 60.0, applied_to="INV-1"),
               pay("PMT-1", "A", "2025-02-13", 40.0, applied_to="INV-2")]
    lines_b = [pay("PMT-1", "A", "2025-02-13", 50.0, applied_to="INV-1"),
               pay("PMT-1", "A", "2025-02-13", 50.0, applied_to="INV-2")]
    res = run(_two_exports(lines_b, pay_rows_a=lines_a))
    assert res.rejects.empty
    assert res.merged[["file", "row", "rule", "into"]].values.tolist() == [
        ["b.csv", 2, "repeated_payment_conflict", "a.csv:4"], ["b.csv", 3, "repeated_payment_conflict", "a.csv:4"]]
    assert sorted(alloc(res)) == [("PMT-1", "INV-1", 60.0), ("PMT-1", "INV-2", 40.0)]
    assert any("apply it to different invoices" in n for n in res.notes)


def test_conflicting_payment_lines_that_are_not_one_payment_are_still_rejected():
    # different totals across the files (60 against 50), or the conflict inside one file:
    # rule 4 rejects the lines as before, naming every row
    res = run(_two_exports([pay("PMT-1", "A", "2025-02-13", 50.0, applied_to="INV-1")],
                           pay_rows_a=[pay("PMT-1", "A", "2025-02-13", 60.0, applied_to="INV-1")]))
    assert sorted(res.rejects["row"].tolist()) == [2, 4]
    assert res.rejects["reason"].str.startswith("conflicting duplicate payment PMT-1: ").all()
    one_file = tx(inv("INV-1", "A", "2025-01-05", 100.0), pay("PMT-1", "A", "2025-02-13", 60.0, applied_to="INV-1"),
                  pay("PMT-1", "A", "2025-02-13", 50.0, applied_to="INV-1"))
    res = run(one_file)
    assert sorted(res.rejects["row"].tolist()) == [3, 4]
