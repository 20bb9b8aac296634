"""The bad-input corpus: every user mistake gives a clear error or a reasoned reject.

Two kinds of case:

* **errors** (``tests/fixtures/bad/corpus.py``): the load stops with an
  :class:`~arinsights.errors.InputError` whose message names the file and, where it
  applies, the row/column, what was expected and how to fix it. The same cases run through
  the command line in ``tests/test_cli.py``.
* **rejects** (below): the load succeeds; the bad rows are rejected with a specific reason
  at their physical line number, and the reconciliation holds:
  rows read = kept + merged + skipped + rejected, and the amounts likewise. Every expected
  count and amount is hand-counted from the tiny file written in the test (comments beside
  the asserts).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arinsights.errors import InputError
from arinsights.ingest.ledger import load_ledger
from arinsights.schema import Invoices, Payments, Rejects

_spec = importlib.util.spec_from_file_location("bad_corpus", Path(__file__).parent / "fixtures" / "bad" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bad_corpus", corpus)  # dataclasses look their module up here
_spec.loader.exec_module(corpus)

TX, INV = corpus.TX, corpus.INV


# ------------------------------------------------------------------------------- helpers

def write(tmp_path: Path, text: str | bytes, name: str = "ledger.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def total(led) -> pd.Series:
    rec = led.reconciliation()
    return rec[rec["file"] == "TOTAL"].iloc[0]


def check_reconciles(led, *, rows_read, kept, merged, skipped, rejected, amount_read=None):
    """The hand-counted reconciliation, and the invariant on every file and the total."""
    rec = led.reconciliation()
    assert rec["balanced"].all() and rec["amount_balanced"].all(), rec.to_string()
    # the invariant, recomputed here rather than trusted from the 'balanced' column
    parts = rec[["kept", "merged", "skipped", "rejected"]].sum(axis=1)
    assert (rec["rows_read"] == parts).all()
    amt_parts = rec[["amount_kept", "amount_merged", "amount_skipped", "amount_rejected"]].sum(axis=1)
    assert np.allclose(rec["amount_read"], amt_parts, atol=0.005)
    t = total(led)
    assert (t["rows_read"], t["kept"], t["merged"], t["skipped"], t["rejected"]) == \
        (rows_read, kept, merged, skipped, rejected)
    if amount_read is not None:
        assert t["amount_read"] == pytest.approx(amount_read)
    return t


def reasons(led) -> dict[int, str]:
    return dict(zip(led.rejects[Rejects.row].astype(int), led.rejects[Rejects.reason]))


# ------------------------------------------------------------------------- error corpus

def test_the_corpus_is_large_enough():
    assert len(corpus.CASES) >= 30


@pytest.mark.parametrize("name", sorted(corpus.CASES))
def test_error_case_gives_a_clear_input_error(name, tmp_path):
    case = corpus.CASES[name]
    paths, mapping = corpus.materialise(case, tmp_path)
    with pytest.raises(InputError) as err:
        load_ledger(paths, mapping=mapping)
    msg = str(err.value)
    assert str(corpus.named_file(case, paths, mapping)) in msg, msg  # which file
    for words in case.expect:  # row/column, what was expected, how to fix it
        assert words in msg, f"{words!r} not in:\n{msg}"
    assert "Traceback" not in msg


def _invoice_mapping(tmp_path, date_order: str):
    """A mapping file for the INV columns that states the date order."""
    return write(tmp_path, f'layout = "invoices"\ndate_order = "{date_order}"\n[columns]\n'
                           'document_id = "Invoice Number"\ncustomer_id = "Customer"\ndocument_date = "Invoice Date"\n'
                           'due_date = "Due Date"\namount = "Amount"\ncurrency = "Currency"\n', "mapping.toml")


def test_ambiguous_dates_load_once_the_mapping_says_dayfirst(tmp_path):
    # the fix the ambiguous-date message proposes: date_order = "dayfirst" in a mapping file
    p = write(tmp_path, INV + "I-1,Acme,03/02/2025,04/02/2025,100.00,EUR\nI-2,Acme,05/06/2025,06/06/2025,50.00,EUR\n")
    m = _invoice_mapping(tmp_path, "dayfirst")
    led = load_ledger(p, mapping=m)
    inv = led.invoices.set_index(Invoices.invoice_id)
    # day-first by hand: 03/02/2025 = 3 Feb, 04/02 = 4 Feb, 05/06 = 5 June, 06/06 = 6 June
    assert inv.loc["I-1", Invoices.invoice_date] == pd.Timestamp("2025-02-03")
    assert inv.loc["I-1", Invoices.due_date] == pd.Timestamp("2025-02-04")
    assert inv.loc["I-2", Invoices.invoice_date] == pd.Timestamp("2025-06-05")
    assert any("day-first as configured" in n for n in led.notes)
    check_reconciles(led, rows_read=3, kept=2, merged=0, skipped=1, rejected=0, amount_read=150.0)


def test_ambiguous_dates_load_with_settings_date_order(tmp_path):
    from arinsights.settings import Settings

    p = write(tmp_path, INV + "I-1,Acme,03/02/2025,04/02/2025,100.00,EUR\n")
    led = load_ledger(p, settings=Settings().replace(ingest={"date_order": "monthfirst"}))
    # month-first: 03/02/2025 = 2 March
    assert led.invoices[Invoices.invoice_date].iloc[0] == pd.Timestamp("2025-03-02")


# yy-mm-dd export, 2023-2025 (year-first by hand: 24-07-15 = 15 Jul 2024, 24-08-14 = 14 Aug 2024,
# 23-11-02 = 2 Nov 2023, 23-12-02 = 2 Dec 2023, 25-01-30 = 30 Jan 2025, 25-03-01 = 1 Mar 2025)
_YY_MM_DD = INV + ("I-1,Acme,24-07-15,24-08-14,100.00,EUR\n"
                   "I-2,Acme,23-11-02,23-12-02,50.00,EUR\n"
                   "I-3,Bolt,25-01-30,25-03-01,25.00,EUR\n")


def test_year_first_dates_stop_the_load_with_both_readings(tmp_path):
    # read day-first these would be 24 July 2015, 23 Nov 2002, 30 Jan 2025: silently wrong
    p = write(tmp_path, _YY_MM_DD)
    with pytest.raises(InputError) as err:
        load_ledger(p)
    msg = str(err.value)
    assert "ledger.csv" in msg and "'Invoice Date'" in msg and "'24-07-15' (row 2)" in msg
    assert "24 July 2015 read day-first" in msg and "15 July 2024 read year-first" in msg
    assert 'date_order = "yearfirst"' in msg


def test_year_first_dates_load_once_the_mapping_says_yearfirst(tmp_path):
    p = write(tmp_path, _YY_MM_DD)
    m = _invoice_mapping(tmp_path, "yearfirst")
    led = load_ledger(p, mapping=m)
    inv = led.invoices.set_index(Invoices.invoice_id)
    assert inv.loc["I-1", Invoices.invoice_date] == pd.Timestamp("2024-07-15")
    assert inv.loc["I-1", Invoices.due_date] == pd.Timestamp("2024-08-14")
    assert inv.loc["I-2", Invoices.invoice_date] == pd.Timestamp("2023-11-02")
    assert inv.loc["I-3", Invoices.due_date] == pd.Timestamp("2025-03-01")
    assert any("year-first (yy-mm-dd) as configured" in n for n in led.notes)
    check_reconciles(led, rows_read=4, kept=3, merged=0, skipped=1, rejected=0, amount_read=175.0)


def test_year_first_dates_load_with_settings_date_order(tmp_path):
    from arinsights.settings import Settings

    p = write(tmp_path, _YY_MM_DD)
    led = load_ledger(p, settings=Settings().replace(ingest={"date_order": "yearfirst"}))
    inv = led.invoices.set_index(Invoices.invoice_id)
    assert inv.loc["I-3", Invoices.invoice_date] == pd.Timestamp("2025-01-30")
    # stated year-first but the file is dd-mm-yyyy: the setting is contradicted, named as such
    q = write(tmp_path, INV + "I-1,Acme,15-07-2024,14-08-2024,100.00,EUR\n", "dmy.csv")
    with pytest.raises(InputError) as err:
        load_ledger(q, settings=Settings().replace(ingest={"date_order": "yearfirst"}))
    assert "dmy.csv" in str(err.value) and "date_order is 'yearfirst' but '15-07-2024'" in str(err.value)


def test_excel_with_several_sheets_loads_with_the_sheet_named_in_a_mapping(tmp_path):
    # the fix the several-sheets message proposes: sheet = "Invoices" in a mapping file
    paths, _ = corpus.materialise(corpus.CASES["excel_several_sheets"], tmp_path)
    m = write(tmp_path, 'layout = "invoices"\nsheet = "Invoices"\n' + corpus.MAP_INVOICES.split("\n", 1)[1],
              "mapping.toml")
    led = load_ledger(paths, mapping=m)
    assert led.invoices[Invoices.invoice_id].tolist() == ["I-1"]
    check_reconciles(led, rows_read=2, kept=1, merged=0, skipped=1, rejected=0, amount_read=100.0)


def test_unknown_layout_skeleton_works_once_filled_in(tmp_path):
    # the skeleton printed for an unknown layout is a valid mapping once copied to a file
    paths, _ = corpus.materialise(corpus.CASES["unknown_layout"], tmp_path)
    with pytest.raises(InputError) as err:
        load_ledger(paths)
    skeleton = err.value.hint
    m = write(tmp_path, skeleton, "mapping.toml")
    led = load_ledger(paths, mapping=m)
    inv = led.invoices.iloc[0]
    assert (inv[Invoices.invoice_id], inv[Invoices.customer_id], inv[Invoices.amount]) == ("00042", "C-001", 1200.0)


# ------------------------------------------------------------------ loads with rejects

def test_unparseable_dates_are_rejected_with_the_value_and_row(tmp_path):
    p = write(tmp_path, TX + "Invoice,03/20/2025,INV-1,Acme,04/19/2025,100.00,\n"   # line 2 ok
                             "Invoice,13/45/2025,INV-2,Acme,04/19/2025,50.00,\n"    # line 3 no month 13
                             "Invoice,yesterday,INV-3,Acme,04/19/2025,25.00,\n"     # line 4 words
                             "Invoice,03/21/2025,INV-4,Acme,04/20/2025,10.00,\n")   # line 5 ok
    led = load_ledger(p)
    assert reasons(led) == {3: "Date '13/45/2025' is not a date", 4: "Date 'yesterday' is not a date"}
    assert sorted(led.invoices[Invoices.invoice_id]) == ["INV-1", "INV-4"]
    # 5 lines: header skipped, 2 kept, 2 rejected; amounts 100+50+25+10
    check_reconciles(led, rows_read=5, kept=2, merged=0, skipped=1, rejected=2, amount_read=185.0)
    assert led.rejects[Rejects.amount].tolist() == [50.0, 25.0]


def test_negative_invoice_amount_in_a_transaction_list_is_rejected(tmp_path):
    p = write(tmp_path, TX + "Invoice,03/20/2025,INV-1,Acme,04/19/2025,100.00,\n"
                             "Invoice,03/21/2025,INV-2,Acme,04/20/2025,-50.00,\n")
    led = load_ledger(p)
    assert reasons(led) == {3: "negative invoice amount: credit notes must be typed as credits"}
    check_reconciles(led, rows_read=3, kept=1, merged=0, skipped=1, rejected=1, amount_read=150.0)


def test_negative_invoice_amount_in_an_invoice_list_is_a_credit_note_with_a_note(tmp_path):
    # an invoice list has no type column: the sign is the only way to tell a credit note
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\nI-2,Acme,2025-03-03,2025-04-02,-50.00,EUR\n")
    led = load_ledger(p)
    assert led.rejects.empty
    assert any("1 row(s) with a negative amount read as credit notes" in n for n in led.notes)
    credit = led.payments[led.payments[Payments.payment_id] == "I-2"].iloc[0]
    assert (credit[Payments.kind], credit[Payments.amount], credit[Payments.invoice_id]) == ("credit", 50.0, "I-1")
    assert led.invoices[Invoices.invoice_id].tolist() == ["I-1"]
    check_reconciles(led, rows_read=3, kept=2, merged=0, skipped=1, rejected=0, amount_read=150.0)


def test_zero_amount_invoice_is_rejected(tmp_path):
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\nI-2,Acme,2025-03-03,2025-04-02,0.00,EUR\n")
    led = load_ledger(p)
    assert reasons(led) == {3: "zero-amount invoice"}
    check_reconciles(led, rows_read=3, kept=1, merged=0, skipped=1, rejected=1, amount_read=100.0)


def test_unparseable_amounts_are_rejected_and_counted_as_amount_unknown(tmp_path):
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n"
                              "I-2,Acme,2025-03-03,2025-04-02,twelve,EUR\n"
                              "I-3,Acme,2025-03-03,2025-04-02,#VALUE!,EUR\n")
    led = load_ledger(p)
    assert reasons(led) == {3: "Amount 'twelve' is not an amount",
                            4: "Amount '#VALUE!' is a spreadsheet error, not an amount (a formula failed in the "
                               "sheet the file was made from: correct it there and export again)"}
    assert led.rejects[Rejects.amount].isna().all()
    t = check_reconciles(led, rows_read=4, kept=1, merged=0, skipped=1, rejected=2, amount_read=100.0)
    assert t["rows_amount_unknown"] == 2
    assert "2 rejected row(s) had an amount that could not be read" in led.summary()


def test_amounts_meaning_no_value_or_absurdly_large_are_rejected(tmp_path):
    # "nan" is not a zero amount; 1e308 and a 23-digit number are not receivables (and would
    # overflow the integer allocation in cleaning)
    p = write(tmp_path, INV + "I-1,Acme,2025-03-20,2025-04-19,nan,EUR\n"
                              "I-2,Acme,2025-03-20,2025-04-19,1e308,EUR\n"
                              "I-3,Acme,2025-03-20,2025-04-19,99999999999999999999999.00,EUR\n"
                              "I-4,Acme,2025-03-20,2025-04-19,100.00,EUR\n")
    led = load_ledger(p)
    r = reasons(led)
    assert r[2] == "Amount 'nan' is not an amount (it means no value)"
    assert r[3].startswith("Amount '1e308' is too large to be a receivable (more than 1,000,000,000,000)")
    assert r[4].startswith("Amount '99999999999999999999999.00' is too large to be a receivable")
    assert led.invoices[Invoices.amount].tolist() == [100.0]
    t = check_reconciles(led, rows_read=5, kept=1, merged=0, skipped=1, rejected=3)
    assert t["rows_amount_unknown"] == 1  # the "nan" row


def test_amount_beyond_the_range_of_numbers_is_rejected_not_a_crash(tmp_path):
    # "1e999" reads as a number but is infinite: the row is rejected like "twelve" (its
    # amount unknown), the file still loads and reconciles
    p = write(tmp_path, INV + "I-1,Acme,2025-03-20,2025-04-19,100.00,EUR\n"
                              "I-2,Acme,2025-03-20,2025-04-19,1e999,EUR\n")
    led = load_ledger(p)
    assert reasons(led) == {3: "Amount '1e999' is not an amount"}
    assert led.rejects[Rejects.amount].isna().all()
    t = check_reconciles(led, rows_read=3, kept=1, merged=0, skipped=1, rejected=1, amount_read=100.0)
    assert t["rows_amount_unknown"] == 1
    assert "e.g. '1e999'" in " ".join(led.notes)


def test_currency_that_is_not_a_code_is_rejected(tmp_path):
    p = write(tmp_path, INV + "I-1,Acme,2025-03-20,2025-04-19,100.00,Euro\n"
                              "I-2,Acme,2025-03-20,2025-04-19,50.00,12\n"
                              "I-3,Acme,2025-03-20,2025-04-19,25.00,usd\n")
    led = load_ledger(p)
    assert reasons(led) == {2: "Currency 'Euro' is not a three-letter currency code such as EUR, USD or GBP",
                            3: "Currency '12' is not a three-letter currency code such as EUR, USD or GBP"}
    assert led.invoices[Invoices.currency].tolist() == ["USD"]
    check_reconciles(led, rows_read=4, kept=1, merged=0, skipped=1, rejected=2, amount_read=175.0)


def test_mixed_currencies_are_kept_apart_not_summed(tmp_path):
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n"
                              "I-2,Acme,2025-03-03,2025-04-02,50.00,USD\n"
                              "I-3,Beta,2025-03-03,2025-04-02,70.00,GBP\n"
                              "I-4,Beta,2025-03-04,2025-04-03,30.00,eur\n")
    led = load_ledger(p)
    cur = led.invoices.set_index(Invoices.invoice_id)[Invoices.currency].to_dict()
    assert cur == {"I-1": "EUR", "I-2": "USD", "I-3": "GBP", "I-4": "EUR"}
    # open amounts per currency, by hand: EUR 100+30, GBP 70, USD 50 - never 250 in one sum
    assert led.quality["open_amount_by_currency"] == {"EUR": 130.0, "GBP": 70.0, "USD": 50.0}
    assert "130.00 EUR, 70.00 GBP, 50.00 USD" in led.summary()
    assert any("each kept apart; amounts are never converted" in n for n in led.notes)
    check_reconciles(led, rows_read=5, kept=4, merged=0, skipped=1, rejected=0)


def test_payment_in_another_currency_does_not_pay_the_invoice(tmp_path):
    p = write(tmp_path, "Type,Date,Number,Customer,Amount,Currency,Applied To\n"
                        "Invoice,03/20/2025,INV-1,Acme,100.00,EUR,\n"
                        "Payment,03/25/2025,P-1,Acme,100.00,USD,INV-1\n")
    led = load_ledger(p)
    inv = led.invoices.iloc[0]
    assert pd.isna(inv[Invoices.paid_date])  # 100 USD does not settle 100 EUR
    assert led.quality["unapplied_by_currency"] == {"USD": 100.0}
    check_reconciles(led, rows_read=3, kept=2, merged=0, skipped=1, rejected=0, amount_read=200.0)


def test_duplicate_invoice_ids_with_different_amounts_reject_both_rows(tmp_path):
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n"
                              "I-1,Acme,2025-03-02,2025-04-01,120.00,EUR\n"
                              "I-2,Acme,2025-03-02,2025-04-01,10.00,EUR\n")
    led = load_ledger(p)
    r = reasons(led)
    assert sorted(r) == [2, 3]
    for row in (2, 3):  # each reason names both rows and both amounts
        assert r[row].startswith("conflicting duplicate invoice I-1: ")
        assert f"{p.name}:2 has 100.00 dated 2025-03-02" in r[row] and f"{p.name}:3 has 120.00 dated 2025-03-02" in r[row]
    assert led.invoices[Invoices.invoice_id].tolist() == ["I-2"]
    check_reconciles(led, rows_read=4, kept=1, merged=0, skipped=1, rejected=2, amount_read=230.0)


def test_exact_duplicate_rows_are_merged_and_counted(tmp_path):
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n"
                              "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n"
                              "I-2,Acme,2025-03-02,2025-04-01,10.00,EUR\n"
                              "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n")
    led = load_ledger(p)
    assert led.rejects.empty
    assert led.merged[["row", "rule", "into"]].values.tolist() == [
        [3, "exact_duplicate", f"{p.name}:2"], [5, "exact_duplicate", f"{p.name}:2"]]
    assert led.invoices[Invoices.amount].sum() == 110.0  # counted once
    check_reconciles(led, rows_read=5, kept=2, merged=2, skipped=1, rejected=0, amount_read=310.0)
    assert "merged: exact_duplicate" in led.summary()


def test_payment_before_any_invoice_is_a_prepayment_not_lost(tmp_path):
    p = write(tmp_path, TX + "Payment,03/14/2025,P-1,Acme,,150.00,\n"
                             "Invoice,03/20/2025,INV-1,Acme,04/19/2025,100.00,\n"
                             "Invoice,03/25/2025,INV-2,Acme,04/24/2025,80.00,\n")
    led = load_ledger(p)
    assert led.rejects.empty
    pay = led.payments.set_index(Payments.invoice_id)[Payments.amount]
    # oldest open first: 100 to INV-1, the other 50 to INV-2; 30 of INV-2 still open
    assert pay.to_dict() == {"INV-1": 100.0, "INV-2": 50.0}
    inv = led.invoices.set_index(Invoices.invoice_id)
    assert inv.loc["INV-1", Invoices.paid_date] == pd.Timestamp("2025-03-20")  # paid on issue, not before it
    assert pd.isna(inv.loc["INV-2", Invoices.paid_date])
    assert led.quality["open_amount_by_currency"] == {"USD": 30.0}
    check_reconciles(led, rows_read=4, kept=3, merged=0, skipped=1, rejected=0, amount_read=330.0)


def test_payment_referencing_an_unknown_invoice_is_applied_and_noted(tmp_path):
    p = write(tmp_path, TX + "Invoice,03/22/2025,INV-1,Acme,04/21/2025,100.00,\n"
                             "Payment,03/25/2025,P-1,Acme,,40.00,INV-999\n"
                             "Payment,03/26/2025,P-2,Zeta,,40.00,INV-998\n")
    led = load_ledger(p)
    assert led.rejects.empty
    alloc = led.payments.set_index(Payments.payment_id)[Payments.invoice_id]
    assert alloc["P-1"] == "INV-1"  # same customer: oldest open invoice
    assert pd.isna(alloc["P-2"])  # unknown customer: unapplied cash, not lost
    assert any("2 payment(s) reference an invoice that is not in the ledger" in n for n in led.notes)
    assert led.quality["unapplied_by_currency"] == {"USD": 40.0}
    check_reconciles(led, rows_read=4, kept=3, merged=0, skipped=1, rejected=0, amount_read=180.0)


def test_overpayment_leaves_unapplied_cash(tmp_path):
    p = write(tmp_path, TX + "Invoice,03/20/2025,INV-1,Acme,04/19/2025,100.00,\n"
                             "Payment,03/25/2025,P-1,Acme,,130.00,INV-1\n")
    led = load_ledger(p)
    pay = led.payments
    assert sorted(pay[Payments.amount]) == [30.0, 100.0]
    assert pay.loc[pay[Payments.amount] == 30.0, Payments.invoice_id].isna().all()
    assert led.invoices[Invoices.paid_date].iloc[0] == pd.Timestamp("2025-03-25")
    assert led.quality["overpayments"] == 1
    assert any("1 overpayment(s)" in n and "30.00 USD" in n for n in led.notes)
    check_reconciles(led, rows_read=3, kept=2, merged=0, skipped=1, rejected=0, amount_read=230.0)


def test_cp1252_file_reads_fine(tmp_path):
    text = INV + "I-1,Müller GmbH,2025-03-02,2025-04-01,100.00,EUR\nI-2,Société Générale,2025-03-03,2025-04-02,50.00,EUR\n"
    p = write(tmp_path, text.encode("cp1252"))
    led = load_ledger(p)
    assert sorted(led.invoices[Invoices.customer_id]) == ["Müller GmbH", "Société Générale"]
    assert any("encoding cp1252" in n for n in led.notes)
    check_reconciles(led, rows_read=3, kept=2, merged=0, skipped=1, rejected=0, amount_read=150.0)


def test_utf16_file_with_bom_reads_fine(tmp_path):
    # Excel's "Unicode text" export
    p = write(tmp_path, b"\xff\xfe" + (INV + "I-1,Müller GmbH,2025-03-02,2025-04-01,100.00,EUR\n").encode("utf-16-le"))
    led = load_ledger(p)
    assert led.invoices[Invoices.customer_id].tolist() == ["Müller GmbH"]
    assert any("encoding utf-16" in n for n in led.notes)
    check_reconciles(led, rows_read=2, kept=1, merged=0, skipped=1, rejected=0, amount_read=100.0)


def test_utf8_bom_file_reads_fine(tmp_path):
    p = write(tmp_path, b"\xef\xbb\xbf" + (INV + "I-1,Müller GmbH,2025-03-02,2025-04-01,100.00,EUR\n").encode())
    led = load_ledger(p)
    # the BOM must not stick to the first header ("\ufeffInvoice Number" would not be recognised)
    assert led.invoices[Invoices.invoice_id].tolist() == ["I-1"]
    assert led.invoices[Invoices.customer_id].tolist() == ["Müller GmbH"]
    check_reconciles(led, rows_read=2, kept=1, merged=0, skipped=1, rejected=0, amount_read=100.0)


XERO = ("*ContactName,InvoiceNumber,Reference,InvoiceDate,DueDate,Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue,"
        "Description,Quantity,UnitAmount,LineAmount,Currency,Type,Status\n")


def test_xero_lines_whose_totals_disagree_are_rejected_together(tmp_path):
    p = write(tmp_path, XERO +
              "Acme Ltd,INV-0001,,15 Jul 2026,14 Aug 2026,180.00,30.00,0.00,180.00,Widgets,2,50.00,100.00,GBP,ACCREC,AUTHORISED\n"
              "Acme Ltd,INV-0001,,15 Jul 2026,14 Aug 2026,200.00,30.00,0.00,200.00,Delivery,1,50.00,50.00,GBP,ACCREC,AUTHORISED\n"
              "Beta,INV-0002,,15 Jul 2026,14 Aug 2026,60.00,10.00,0.00,60.00,Work,1,50.00,50.00,GBP,ACCREC,AUTHORISED\n")
    led = load_ledger(p)
    r = reasons(led)
    assert sorted(r) == [2, 3]
    for row in (2, 3):
        assert r[row] == f"the lines of invoice INV-0001 disagree on amount: {p.name}:2 has 180.00, {p.name}:3 has 200.00"
    assert led.invoices[Invoices.invoice_id].tolist() == ["INV-0002"]
    check_reconciles(led, rows_read=4, kept=1, merged=0, skipped=1, rejected=2, amount_read=440.0)


def test_xero_lines_that_agree_fold_into_one_invoice(tmp_path):
    p = write(tmp_path, XERO +
              "Acme Ltd,INV-0001,,15 Jul 2026,14 Aug 2026,180.00,30.00,0.00,180.00,Widgets,2,50.00,100.00,GBP,ACCREC,AUTHORISED\n"
              "Acme Ltd,INV-0001,,15 Jul 2026,14 Aug 2026,180.00,30.00,0.00,180.00,Delivery,1,50.00,50.00,GBP,ACCREC,AUTHORISED\n")
    led = load_ledger(p)
    assert led.invoices[Invoices.amount].tolist() == [180.0]  # Total repeats per line: not 360
    assert led.merged["rule"].tolist() == ["invoice_line"]
    check_reconciles(led, rows_read=3, kept=1, merged=1, skipped=1, rejected=0, amount_read=360.0)


SAP_HEAD = ("|Account    |Document Number |Document Type |Document Date |Net due date |Amount in local currency "
            "|Local Currency |Clearing date |\n")


def test_sap_unknown_document_type_is_rejected_with_how_to_read_it(tmp_path):
    p = write(tmp_path, "Customer Line Item Display\n\n" + SAP_HEAD +
              "| 0000100001|      0090000001|RV            |    03.03.2025|   02.04.2025|      1.234,56|EUR  |   |\n"
              "| 0000100001|      0100000001|ZZ            |    26.03.2025|   26.03.2025|         10,00|EUR  |   |\n",
              "fbl5n.txt")
    led = load_ledger(p)
    r = reasons(led)
    assert list(r) == [5]  # line 5 of the file
    assert r[5].startswith("document type 'ZZ' in 'Document Type' is not read: only RV/DR (invoices), DZ (payments)")
    assert 'type_column = "Document Type"' in r[5]
    inv = led.invoices.iloc[0]
    assert (inv[Invoices.invoice_id], inv[Invoices.customer_id], inv[Invoices.amount]) == ("0090000001", "0000100001",
                                                                                            1234.56)
    # lines: title, blank, header skipped; RV kept; ZZ rejected (10.00)
    check_reconciles(led, rows_read=5, kept=1, merged=0, skipped=3, rejected=1, amount_read=1244.56)


def test_ragged_row_with_extra_fields_is_rejected_not_shifted(tmp_path):
    # line 3: "1,250.00" written without quotes splits into two fields; reading it as an
    # amount of 1.00 in currency "250.00" would be a silent wrong value
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n"
                              "I-2,Acme,2025-03-03,2025-04-02,1,250.00,EUR\n"
                              "I-3,Beta,2025-03-03,2025-04-02,70.00,EUR\n")
    led = load_ledger(p)
    r = reasons(led)
    assert list(r) == [3]
    assert "7 values but the header has 6 columns" in r[3] and "'EUR'" in r[3] and "quote" in r[3]
    assert sorted(led.invoices[Invoices.invoice_id]) == ["I-1", "I-3"]
    assert set(led.invoices[Invoices.currency]) == {"EUR"}
    check_reconciles(led, rows_read=4, kept=2, merged=0, skipped=1, rejected=1)


def test_ragged_row_with_unquoted_comma_in_a_name_is_rejected(tmp_path):
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\nI-2,Acme, Inc,2025-03-03,2025-04-02,250.00,EUR\n")
    led = load_ledger(p)
    r = reasons(led)
    assert list(r) == [3] and "7 values but the header has 6 columns" in r[3]
    check_reconciles(led, rows_read=3, kept=1, merged=0, skipped=1, rejected=1)


def test_a_column_without_a_name_is_noted_not_a_reason_to_reject_every_row(tmp_path):
    # most rows have a value after the last named column: an unnamed column, not ragged rows
    p = write(tmp_path, "Invoice Number,Customer,Invoice Date,Amount\nI-1,Acme,2025-03-02,100.00,note a\n"
                        "I-2,Acme,2025-03-03,50.00,note b\nI-3,Acme,2025-03-04,5.00\n")
    led = load_ledger(p)
    assert led.rejects.empty and len(led.invoices) == 3
    assert any("2 of 3 rows have values after the last named column ('Amount')" in n for n in led.notes)


def test_dates_before_1990_or_far_after_the_rest_are_rejected_with_a_reason(tmp_path):
    # Decision: reject. A placeholder 01/01/1900 would make a 125-year-old open invoice, and
    # a typo year 2099 would move the default report date (the last date in the ledger) to
    # 2099; a reject with its reason is visible and nothing is lost.
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n"
                              "I-2,Acme,2099-03-03,2099-04-02,50.00,EUR\n"
                              "I-3,Beta,1985-03-03,1985-04-02,70.00,EUR\n"
                              "I-4,Beta,1900-01-01,1900-01-31,20.00,EUR\n"
                              "I-5,Beta,2025-06-30,2025-07-30,10.00,EUR\n")
    led = load_ledger(p)
    r = reasons(led)
    assert sorted(r) == [3, 4, 5]
    assert "2099-03-03" in r[3] and "more than a year after" in r[3] and "2025-06-30" in r[3]
    assert "1985-03-03" in r[4] and "before 1990-01-01" in r[4]
    assert "1900-01-01" in r[5] and "before 1990-01-01" in r[5]
    assert sorted(led.invoices[Invoices.invoice_id]) == ["I-1", "I-5"]
    check_reconciles(led, rows_read=6, kept=2, merged=0, skipped=1, rejected=3, amount_read=250.0)


def test_sparse_dates_with_a_gap_of_years_are_kept(tmp_path):
    # an aging snapshot: two old credit-like invoices from 2023 and one from late 2025.
    # The 2.7-year gap is real; 2025-11-11 is < 5 years after the median (2023-02-23).
    p = write(tmp_path, INV + "I-1,Zeta,2023-01-23,2023-02-22,100.00,USD\n"
                              "I-2,Zeta,2023-02-23,2023-03-25,100.00,USD\n"
                              "I-3,Zeta,2025-11-11,2025-12-11,1000.00,USD\n")
    led = load_ledger(p)
    assert led.rejects.empty
    assert sorted(led.invoices[Invoices.invoice_id]) == ["I-1", "I-2", "I-3"]


def test_transactions_skeleton_fills_in_the_type_column_and_then_reads_the_file(tmp_path):
    # no customer column: the skeleton asks only for the customer; once it is filled in, it reads
    paths, _ = corpus.materialise(corpus.CASES["transactions_without_customer"], tmp_path)
    with pytest.raises(InputError) as err:
        load_ledger(paths)
    skeleton = err.value.hint
    assert 'type_column = "Type"' in skeleton and skeleton.count('"?"') == 1
    p = write(tmp_path, "Type,Date,Number,Account,Due Date,Amount\nInvoice,03/20/2025,INV-1,C7,04/19/2025,10.00\n",
              "with_account.csv")
    m = write(tmp_path, skeleton.replace('customer_id = "?"', 'customer_id = "Account"'), "mapping.toml")
    led = load_ledger(p, mapping=m)
    inv = led.invoices.iloc[0]
    assert (inv[Invoices.invoice_id], inv[Invoices.customer_id], inv[Invoices.amount]) == ("INV-1", "C7", 10.0)


def test_customer_and_invoice_ids_keep_leading_zeros(tmp_path):
    p = write(tmp_path, "Invoice Number,Customer,Invoice Date,Amount\n0000123,00042,2025-03-02,100.00\n"
                        "0000124,00042,2025-03-03,5.00\n")
    led = load_ledger(p)
    assert sorted(led.invoices[Invoices.invoice_id]) == ["0000123", "0000124"]
    assert set(led.invoices[Invoices.customer_id]) == {"00042"}


def test_long_field_and_odd_quoting_are_read_exactly(tmp_path):
    long_name = "X" * 100_000
    p = write(tmp_path, INV + 'I-1,"Acme ""Big"" Ltd, Inc",2025-03-02,2025-04-01,"1,100.00",EUR\n'  # line 2
                              f'I-2,"{long_name}",2025-03-03,2025-04-02,50.00,EUR\n'                # line 3
                              'I-3,"multi\nline name",2025-03-04,2025-04-03,5.00,EUR\n'             # lines 4-5
                              "I-4,Beta,2025-03-05,2025-04-04,7.00,EUR\n")                          # line 6
    led = load_ledger(p)
    assert led.rejects.empty
    inv = led.invoices.set_index(Invoices.invoice_id)
    assert inv.loc["I-1", Invoices.customer_id] == 'Acme "Big" Ltd, Inc'
    assert inv.loc["I-1", Invoices.amount] == 1100.0
    assert inv.loc["I-2", Invoices.customer_id] == long_name
    # provenance is the physical line where each record starts, after the two-line record too
    src = inv[Invoices.source].to_dict()
    assert src == {"I-1": f"{p.name}:2", "I-2": f"{p.name}:3", "I-3": f"{p.name}:4", "I-4": f"{p.name}:6"}
    check_reconciles(led, rows_read=5, kept=4, merged=0, skipped=1, rejected=0, amount_read=1162.0)


def test_several_files_one_of_them_header_only_load_with_a_note(tmp_path):
    a = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n", "a.csv")
    b = write(tmp_path, INV, "b.csv")
    led = load_ledger([a, b])
    assert led.invoices[Invoices.invoice_id].tolist() == ["I-1"]
    assert any(str(b) in n and "no data rows" in n for n in led.notes)
    check_reconciles(led, rows_read=3, kept=1, merged=0, skipped=2, rejected=0)


def test_sources_name_the_file_and_files_of_one_name_name_their_paths(tmp_path):
    # one file: its rows' sources are "ledger.csv:<row>" while the file column keeps the path
    p = write(tmp_path, INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n")
    led = load_ledger(p)
    assert led.invoices[Invoices.source].tolist() == ["ledger.csv:2"]
    assert led.files["file"].tolist() == [str(p)]
    # two exports called ledger.csv in two folders: each source names its path, so a row
    # merged into another names exactly one row
    (tmp_path / "2025").mkdir()
    (tmp_path / "2026").mkdir()
    a = write(tmp_path / "2025", INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n")
    b = write(tmp_path / "2026", INV + "I-1,Acme,2025-03-02,2025-04-01,100.00,EUR\n"
                                       "I-2,Acme,2025-03-09,2025-04-08,50.00,EUR\n")
    led = load_ledger([a, b])
    assert led.invoices[Invoices.source].tolist() == [f"{a}:2", f"{b}:3"]
    assert led.merged[["file", "row", "into"]].values.tolist() == [[str(b), 2, f"{a}:2"]]
    # a file of another name in the same load keeps the short form
    c = write(tmp_path, INV + "I-3,Acme,2025-03-16,2025-04-15,10.00,EUR\n", name="march.csv")
    led = load_ledger([a, b, c])
    assert led.invoices[Invoices.source].tolist() == [f"{a}:2", f"{b}:3", "march.csv:2"]
