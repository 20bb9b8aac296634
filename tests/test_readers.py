"""Layout readers: every fixture in tests/fixtures/layouts is read exactly.

The fixtures are written by tests/fixtures/layouts/make_fixtures.py in each layout's real
shape. Expected values below are read off the fixture text by hand (the reference); the
amount totals are the hand-added magnitudes of every readable value in the file's amount
column, so they check that no row's amount is lost between kept, skipped and rejected.
"""

from __future__ import annotations

import math
from pathlib import Path
import tomllib

import numpy as np
import pandas as pd
import pytest

from arinsights.errors import InputError
from arinsights.ingest.mapping import load_mapping, mapping_from_dict
from arinsights.ingest.readers import detect_layout, read_export
from arinsights.ingest.readers._base import norm_header, parse_terms
from arinsights.ingest.textio import read_grid
from arinsights.schema import Rejects, Skipped, Transactions
from arinsights.settings import IngestSettings

from conftest import FIXTURES

LAYOUTS = FIXTURES / "layouts"
T = Transactions


def read(name, **kw):
    return read_export(LAYOUTS / name, **kw)


def records(tx: pd.DataFrame, cols: list[str]) -> list[tuple]:
    """Rows as tuples; dates as 'YYYY-MM-DD', missing values as None (for exact comparison)."""
    out = []
    for rec in tx[cols].itertuples(index=False):
        row = []
        for v in rec:
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                row.append(None)
            elif isinstance(v, (pd.Timestamp, np.datetime64)):
                row.append(pd.Timestamp(v).strftime("%Y-%m-%d"))
            elif isinstance(v, (float, np.floating)):
                row.append(round(float(v), 2))
            else:
                row.append(v if not isinstance(v, np.integer) else int(v))
        out.append(tuple(row))
    return out


def skipped_rules(r) -> dict[int, str]:
    return dict(zip(r.skipped[Skipped.row].astype(int), r.skipped[Skipped.rule]))


def reject_reasons(r) -> dict[int, str]:
    return dict(zip(r.rejects[Rejects.row].astype(int), r.rejects[Rejects.reason]))


def check_invariants(r, amount_total: float, n_unknown_amounts: int = 0) -> None:
    """Every physical row in exactly one table; amounts reconcile; tables meet their schemas."""
    kept, skip, rej = (set(map(int, df[col])) for df, col in
                       ((r.transactions, T.row), (r.skipped, Skipped.row), (r.rejects, Rejects.row)))
    assert r.rows_read == len(r.transactions) + len(r.skipped) + len(r.rejects)
    assert not (kept & skip) and not (kept & rej) and not (skip & rej)
    assert kept | skip | rej == set(range(1, r.rows_read + 1))
    assert len(kept) == len(r.transactions)
    total = (r.transactions[T.amount].sum() + r.skipped[Skipped.amount].sum() + r.rejects[Rejects.amount].sum())
    assert total == pytest.approx(amount_total, abs=1e-9)
    assert int(r.rejects[Rejects.amount].isna().sum()) == n_unknown_amounts
    Transactions.validate(r.transactions, lazy=True)
    Skipped.validate(r.skipped, lazy=True)
    Rejects.validate(r.rejects, lazy=True)
    names = r.transactions[T.file].map(lambda f: Path(f).name)
    assert (r.transactions[T.source] == names + ":" + r.transactions[T.row].astype(str)).all()


COLS = [T.row, T.kind, T.document_id, T.customer_id, T.customer_name, T.document_date, T.due_date, T.amount,
        T.currency]


# --- generic ---------------------------------------------------------------------------

def test_generic_list():
    r = read("generic.csv")
    assert r.layout == "generic"
    assert records(r.transactions, COLS + [T.disputed, T.settled_date]) == [
        (2, "invoice", "0000611365", "0379-NEVHP", None, "2013-01-02", "2013-02-01", 55.94, "USD", False,
         "2013-01-15"),
        (3, "invoice", "0007900770", "8976-AMJEO", None, "2013-01-26", "2013-02-25", 61.74, "USD", True, None),
        (4, "invoice", "0009231909", "2820-XGXSB", None, "2012-07-03", "2012-08-02", 65.88, "USD", False,
         "2012-08-24"),
        (5, "invoice", "9888306", "9322-YCTQO", None, "2012-02-10", "2012-03-11", 105.92, "USD", False,
         "2012-03-30"),
        # -20.00 on an untyped invoice list is a credit note (credits marked by sign)
        (7, "credit", "0000129821", "6157-NWBAV", None, "2013-01-30", "2013-03-01", 20.0, "USD", False, None),
    ]
    assert skipped_rules(r) == {1: "header", 6: "blank", 12: "total"}
    assert reject_reasons(r) == {
        8: "missing customer in 'customerID'",
        9: "InvoiceDate '2/30/2013' is not a date",
        10: "missing invoice number in 'invoiceNumber'",
        11: "InvoiceAmount 'abc' is not an amount",
    }
    raw = r.rejects.set_index(Rejects.row).loc[9, Rejects.raw]
    assert raw.startswith("customerID=0379-NEVHP; invoiceNumber=0000700002; InvoiceDate=2/30/2013")
    # 55.94+61.74+65.88+105.92+20 kept, 12.50+40+10 rejected (+ 'abc' unknown), 332.00 total line
    check_invariants(r, 703.98, n_unknown_amounts=1)
    # derived DaysToSettle: 2012-02-10 -> 2012-03-30 is 49 days (leap year), the file says 50
    assert any("DaysToSettle" in n and "row 5" in n and "says 50" in n and "give 49" in n for n in r.notes)
    assert not any("DaysLate" in n for n in r.notes)


def test_generic_xlsx_typed_cells():
    r = read("generic.xlsx")
    assert r.layout == "generic"
    assert records(r.transactions, [T.row, T.document_id, T.document_date, T.amount, T.disputed, T.settled_date]) == [
        (2, "0000611365", "2013-01-02", 55.94, False, "2013-01-15"),
        (3, "0007900770", "2013-01-26", 61.74, True, None),
        (5, "0009231909", "2012-07-03", 65.88, False, "2012-08-24"),
    ]
    assert skipped_rules(r) == {1: "header", 4: "blank"}
    check_invariants(r, 55.94 + 61.74 + 65.88)


# --- transactions ---------------------------------------------------------------------------

def test_transaction_list():
    r = read("transactions.csv")
    assert r.layout == "transactions"
    assert records(r.transactions, COLS + [T.applied_to]) == [
        (2, "invoice", "INV-1001", "Acme Ltd", "Acme Ltd", "2025-03-02", "2025-04-01", 1250.0, "USD", None),
        (3, "invoice", "INV-1002", "Beta Corp", "Beta Corp", "2025-03-15", "2025-04-14", 800.0, "USD", None),
        (4, "payment", "PMT-77", "Acme Ltd", "Acme Ltd", "2025-03-28", None, 1000.0, "USD", "INV-1001"),
        (5, "payment", "PMT-81", "Acme Ltd", "Acme Ltd", "2025-04-15", None, 250.0, "USD", None),
        (6, "credit", "CM-3", "Beta Corp", "Beta Corp", "2025-04-20", None, 40.0, "USD", "INV-1002"),
        (7, "credit", "CN-4", "Beta Corp", "Beta Corp", "2025-04-21", None, 10.0, "USD", None),
    ]
    reasons = reject_reasons(r)
    assert reasons[8] == "negative invoice amount: credit notes must be typed as credits"
    assert reasons[9].startswith("unknown transaction type 'Journal Entry' in 'Type'")
    assert "mapping file" in reasons[9]
    assert reasons[10] == "missing invoice number in 'Number'"
    assert reasons[11] == "Date '04/31/2025' is not a date"
    assert skipped_rules(r) == {1: "header"}
    check_invariants(r, 1250 + 800 + 1000 + 250 + 40 + 10 + 75 + 5 + 60 + 70)


def test_two_file_form_invoices_with_terms():
    r = read("invoices.csv")
    assert r.layout == "invoices"
    assert records(r.transactions, COLS + [T.terms_days]) == [
        (2, "invoice", "INV-001", "Müller GmbH", "Müller GmbH", "2025-03-17", None, 1234.56, "EUR", 30.0),
        (3, "invoice", "INV-002", "Müller GmbH", "Müller GmbH", "2025-04-02", None, 500.0, "EUR", 30.0),
        (4, "invoice", "INV-003", "Dupont SA", "Dupont SA", "2025-04-05", None, 2000.0, "EUR", 30.0),
        (5, "invoice", "INV-004", "Dupont SA", "Dupont SA", "2025-04-06", None, 99.9, "EUR", 0.0),
    ]
    assert reject_reasons(r) == {6: "Terms 'soon' is not a payment term (e.g. 'Net 30')"}
    assert "encoding cp1252" in r.notes
    check_invariants(r, 1234.56 + 500 + 2000 + 99.9 + 10)


def test_two_file_form_payments():
    r = read("payments.csv")
    assert r.layout == "payments"
    assert records(r.transactions, COLS + [T.applied_to]) == [
        (2, "payment", "P-1", "Müller GmbH", "Müller GmbH", "2025-04-20", None, 1234.56, "EUR", "INV-001"),
        (3, "payment", "P-2", "Dupont SA", "Dupont SA", "2025-05-01", None, 2000.0, "EUR", None),
    ]
    assert reject_reasons(r) == {4: "missing customer in 'Customer'"}
    check_invariants(r, 1234.56 + 2000 + 50)


@pytest.mark.parametrize("text,days", [("Net 30", 30), ("30", 30), ("NET30", 30), ("net 45 days", 45),
                                       ("Due on receipt", 0), ("", None), ("soon", None)])
def test_parse_terms(text, days):
    got, failed = parse_terms(pd.Series([text]))
    assert (got.iloc[0] == days) if days is not None else math.isnan(got.iloc[0])
    assert bool(failed.iloc[0]) == (text == "soon")


# --- QuickBooks -----------------------------------------------------------------------------

def test_quickbooks_aging_detail():
    r = read("qb_aging.csv")
    assert r.layout == "quickbooks_aging"
    assert records(r.transactions, COLS + [T.open_amount, T.snapshot_date]) == [
        (7, "invoice", "SI-1", "TACTICS", "TACTICS", "2025-11-11", "2025-12-11", 1000.0, "USD", 800.0, "2026-07-25"),
        (8, "credit", "SC-1", "ZUMIEZ", "ZUMIEZ", "2023-01-23", "2023-01-23", 100.0, "USD", 100.0, "2026-07-25"),
        (11, "invoice", "SI-7", "Acme Ltd", "Acme Ltd", "2026-06-30", "2026-07-15", 250.0, "USD", 250.0,
         "2026-07-25"),
        (12, "payment", None, "TACTICS", "TACTICS", "2026-07-01", None, 300.0, "USD", 300.0, "2026-07-25"),
        (16, "invoice", "SI-9", "ZUMIEZ", "ZUMIEZ", "2026-07-20", "2026-08-19", 400.0, "USD", 400.0, "2026-07-25"),
    ]
    assert skipped_rules(r) == {
        1: "title", 2: "title", 3: "title", 4: "blank", 5: "header", 6: "bucket_header", 9: "subtotal",
        10: "bucket_header", 14: "subtotal", 15: "bucket_header", 17: "subtotal", 18: "blank", 19: "total",
        20: "blank", 21: "footer"}
    assert reject_reasons(r) == {13: "negative invoice amount: credit notes must be typed as credits"}
    # subtotal/total rows carry their figure in Open balance, not Amount: their amount is unknown (NaN)
    check_invariants(r, 1000 + 100 + 250 + 300 + 400 + 5)


def test_quickbooks_invoices_and_received_payments_customer_headers():
    r = read("qb_invoices_payments.csv")
    assert r.layout == "quickbooks_aging"
    assert records(r.transactions, COLS + [T.open_amount, T.snapshot_date]) == [
        (7, "invoice", "1001", "Acme Ltd", "Acme Ltd", "2025-02-01", None, 1200.0, "USD", 0.0, None),
        (8, "payment", "77", "Acme Ltd", "Acme Ltd", "2025-02-20", None, 1200.0, "USD", None, None),
        (11, "invoice", "1002", "Beta Corp", "Beta Corp", "2025-03-03", None, 300.0, "USD", 300.0, None),
        (12, "credit", "CM-9", "Beta Corp", "Beta Corp", "2025-03-14", None, 30.0, "USD", 30.0, None),
    ]
    assert skipped_rules(r) == {1: "title", 2: "title", 3: "title", 4: "blank", 5: "header",
                                6: "customer_header", 9: "subtotal", 10: "customer_header", 13: "subtotal",
                                14: "blank", 15: "total"}
    assert r.rejects.empty
    check_invariants(r, 1200 + 1200 + 300 + 30 + 2400 + 270 + 2670)


# --- Xero ------------------------------------------------------------------------------------

def test_xero_invoices_lines_status_and_types():
    r = read("xero_invoices.csv")
    assert r.layout == "xero_invoices"
    assert records(r.transactions, COLS + [T.open_amount, T.line_of]) == [
        (2, "invoice", "INV-0001", "Acme Ltd", "Acme Ltd", "2026-07-15", "2026-08-14", 180.0, "GBP", 180.0,
         "INV-0001"),
        (3, "invoice", "INV-0001", "Acme Ltd", "Acme Ltd", "2026-07-15", "2026-08-14", 180.0, "GBP", 180.0,
         "INV-0001"),
        (4, "invoice", "INV-0002", "Beta Corp", "Beta Corp", "2026-06-01", "2026-07-01", 120.0, "GBP", 0.0,
         "INV-0002"),
        (5, "credit", "CN-0001", "Beta Corp", "Beta Corp", "2026-06-20", "2026-06-20", 24.0, "GBP", 24.0,
         "CN-0001"),
    ]
    assert r.transactions[T.settled_date].isna().all()
    assert skipped_rules(r) == {1: "header", 6: "status_voided", 7: "status_draft"}
    assert reject_reasons(r) == {
        8: "type 'ACCPAY' is a supplier bill (accounts payable), not a receivable",
        9: "InvoiceDate '32 Jul 2026' is not a date",
    }
    assert any("paid in full" in n and "settled date is left unknown" in n for n in r.notes)
    check_invariants(r, 180 + 180 + 120 + 24 + 60 + 36 + 12 + 48)


def test_xero_aged_receivables_detail_xlsx():
    r = read("xero_aged.xlsx")
    assert r.layout == "xero_aged_receivables"
    assert records(r.transactions, COLS + [T.open_amount, T.snapshot_date]) == [
        (8, "invoice", "INV-0001", "Acme Ltd", "Acme Ltd", "2026-07-15", "2026-08-14", 180.0, "USD", 180.0,
         "2026-07-31"),
        (9, "invoice", "INV-0007", "Acme Ltd", "Acme Ltd", "2026-05-01", "2026-05-31", 50.0, "USD", 50.0,
         "2026-07-31"),
        # a negative outstanding total is a credit note; the contact header's double space is squashed
        (13, "credit", "CN-0001", "Beta Corp", "Beta Corp", "2026-06-20", "2026-06-20", 24.0, "USD", 24.0,
         "2026-07-31"),
    ]
    assert skipped_rules(r) == {1: "title", 2: "title", 3: "title", 4: "title", 5: "blank", 6: "header",
                                7: "customer_header", 10: "subtotal", 11: "blank", 12: "customer_header",
                                15: "subtotal", 16: "blank", 17: "total", 18: "blank", 19: "footer"}
    assert reject_reasons(r) == {14: "Total 'tbc' is not an amount"}
    check_invariants(r, 180 + 50 + 24 + 230 + 24 + 206, n_unknown_amounts=1)


# --- SAP FBL5N -----------------------------------------------------------------------------

SAP_COLS = [T.row, T.kind, T.document_id, T.customer_id, T.document_date, T.due_date, T.amount, T.currency,
            T.settled_date, T.applied_to]


def test_sap_english_pipe_text():
    r = read("sap_en.txt")
    assert r.layout == "sap_fbl5n"
    assert records(r.transactions, SAP_COLS) == [
        (7, "invoice", "0090000001", "0000100001", "2025-03-03", "2025-04-02", 1234.56, "EUR", "2025-04-15", None),
        (8, "payment", "1400000001", "0000100001", "2025-04-15", "2025-04-15", 1234.56, "EUR", "2025-04-15", None),
        (9, "invoice", "0090000002", "0000100001", "2025-03-20", "2025-04-19", 500.0, "EUR", None, None),
        (10, "credit", "1600000001", "0000100001", "2025-03-25", "2025-03-25", 50.0, "EUR", None, None),
        (15, "invoice", "0090000003", "0000100002", "2025-04-01", "2025-05-01", 2000.0, "USD", None, None),
    ]
    assert skipped_rules(r) == {1: "title", 2: "blank", 3: "title", 4: "ruler", 5: "header", 6: "ruler",
                                12: "ruler", 13: "subtotal", 14: "ruler", 16: "ruler", 17: "subtotal", 18: "ruler",
                                19: "total", 20: "total", 21: "ruler"}
    reasons = reject_reasons(r)
    assert list(reasons) == [11]
    assert reasons[11].startswith("document type 'AB' in 'Document Type' is not read")
    assert 'type_column = "Document Type"' in reasons[11]
    # items 1234.56*2 + 500 + 50 + 2000, rejected 10, subtotals 460 + 2000, totals 460 + 2000
    check_invariants(r, 2 * 1234.56 + 500 + 50 + 2000 + 10 + 2 * (460 + 2000))
    assert r.transactions[T.terms_days].isna().all()  # SAP terms keys (ZB30) are not day counts


def test_sap_german_pipe_text_cp1252():
    r = read("sap_de.txt")
    assert r.layout == "sap_fbl5n"
    assert records(r.transactions, SAP_COLS) == [
        (6, "invoice", "0090000101", "0000200001", "2025-02-10", "2025-03-12", 1000.0, "EUR", "2025-03-20", None),
        (7, "payment", "1400000101", "0000200001", "2025-03-20", "2025-03-20", 1000.0, "EUR", "2025-03-20", None),
        (8, "invoice", "0090000102", "0000200001", "2025-03-13", "2025-04-12", 250.5, "EUR", None, None),
    ]
    assert skipped_rules(r) == {1: "title", 2: "blank", 3: "ruler", 4: "header", 5: "ruler", 9: "total",
                                10: "ruler"}
    check_invariants(r, 1000 + 1000 + 250.5 + 250.5)


def test_sap_french_semicolons():
    r = read("sap_fr.csv")
    assert r.layout == "sap_fbl5n"
    assert records(r.transactions, SAP_COLS) == [
        (2, "invoice", "0090000201", "0000300001", "2025-01-14", "2025-02-13", 1234.56, "EUR", None, None),
        (3, "credit", "1600000201", "0000300001", "2025-01-20", "2025-01-20", 34.56, "EUR", None, None),
    ]
    assert reject_reasons(r) == {4: "negative invoice amount: credit notes must be typed as credits"}
    assert skipped_rules(r) == {1: "header", 5: "total"}
    check_invariants(r, 1234.56 + 34.56 + 5 + 1195)


def test_sap_dutch_xlsx():
    r = read("sap_nl.xlsx")
    assert r.layout == "sap_fbl5n"
    assert records(r.transactions, SAP_COLS) == [
        (2, "invoice", "0090000301", "0000400001", "2025-05-02", "2025-06-01", 750.0, "EUR", "2025-06-03", None),
        (3, "payment", "1400000301", "0000400001", "2025-06-03", "2025-06-03", 750.0, "EUR", "2025-06-03", None),
        (4, "invoice", "0090000302", "0000400001", "2025-06-20", "2025-07-20", 125.25, "EUR", None, None),
        (5, "invoice", "90000303", "0000400001", "2025-06-25", "2025-07-25", 10.0, "EUR", None, None),
    ]
    assert skipped_rules(r) == {1: "header", 6: "total"}
    check_invariants(r, 750 + 750 + 125.25 + 10 + 135.25)


# --- detection --------------------------------------------------------------------------------

@pytest.mark.parametrize("name,layout,header_idx", [
    ("generic.csv", "generic", 0), ("generic.xlsx", "generic", 0), ("transactions.csv", "transactions", 0),
    ("invoices.csv", "invoices", 0), ("payments.csv", "payments", 0), ("qb_aging.csv", "quickbooks_aging", 4),
    ("qb_invoices_payments.csv", "quickbooks_aging", 4), ("xero_invoices.csv", "xero_invoices", 0),
    ("xero_aged.xlsx", "xero_aged_receivables", 5),
    ("sap_en.txt", "sap_fbl5n", 4), ("sap_de.txt", "sap_fbl5n", 3), ("sap_fr.csv", "sap_fbl5n", 0),
    ("sap_nl.xlsx", "sap_fbl5n", 0),
])
def test_detect_layout(name, layout, header_idx):
    assert detect_layout(read_grid(LAYOUTS / name)) == (layout, header_idx)


def test_norm_header_ignores_case_space_accents_punctuation():
    assert norm_header(" *ContactName") == "contactname"
    assert norm_header("Date d'échéance nette") == "datedecheancenette"
    assert norm_header("Betrag in Hauswährung") == "betraginhauswahrung"
    assert norm_header("N° pièce") == "npiece"


def test_unknown_layout_proposes_a_mapping_file():
    with pytest.raises(InputError) as exc:
        read("unknown.csv")
    text = str(exc.value)
    assert "could not recognise the layout of" in text and "unknown.csv" in text
    assert "columns found: ['Cust', 'Inv No', 'Inv Date', 'Due', 'Gross', 'Paid On']" in text
    assert "Write a mapping file like this and pass it with --mapping:" in text
    skeleton = exc.value.hint
    assert 'layout = "invoices"' in skeleton
    for line in ['document_id = "Inv No"', 'customer_id = "Cust"',
                 'document_date = "Inv Date"', 'due_date = "Due"', 'amount = "Gross"', 'settled_date = "Paid On"']:
        assert line in skeleton.splitlines()
    # the skeleton is a valid mapping as it stands, and it reads the file
    mapping = mapping_from_dict(tomllib.loads(skeleton), path="skeleton.toml")
    r = read("unknown.csv", mapping=mapping, settings=IngestSettings(date_order="dayfirst"))
    assert len(r.transactions) == 2


def test_missing_required_column_in_recognised_layout(tmp_path):
    p = tmp_path / "no_amount.csv"
    p.write_text("customerID,invoiceNumber,InvoiceDate,DueDate,Disputed,SettledDate\n"
                 "A,0001,1/2/2013,2/1/2013,No,\n")
    with pytest.raises(InputError) as exc:
        read_export(p)
    text = str(exc.value)
    assert "no_amount.csv" in text and "'InvoiceAmount'" in text and "generic" in text
    assert exc.value.column == "InvoiceAmount"


def test_header_only_file_gives_no_transactions(tmp_path):
    p = tmp_path / "header_only.csv"
    p.write_text("Type,Date,Number,Customer,Due Date,Amount,Applied To\n")
    r = read_export(p)
    assert r.layout == "transactions" and r.transactions.empty and r.rejects.empty
    assert skipped_rules(r) == {1: "header"}
    check_invariants(r, 0.0)


def test_blank_file_is_an_error(tmp_path):
    p = tmp_path / "blank.csv"
    p.write_text("\n\n")
    with pytest.raises(InputError, match="empty"):
        read_export(p)


def test_ambiguous_dates_are_a_file_error_unless_the_order_is_set(tmp_path):
    p = tmp_path / "ambiguous.csv"
    p.write_text("Type,Date,Number,Customer,Amount\nInvoice,03/04/2025,1,A,10.00\nInvoice,05/06/2025,2,A,20.00\n")
    with pytest.raises(InputError, match="ambiguous"):
        read_export(p)
    r = read_export(p, settings=IngestSettings(date_order="dayfirst"))
    assert records(r.transactions, [T.document_date]) == [("2025-04-03",), ("2025-06-05",)]


def test_default_currency_from_settings():
    r = read("generic.csv", settings=IngestSettings(default_currency="EUR"))
    assert set(r.transactions[T.currency]) == {"EUR"}


def test_repeated_header_rows_are_skipped(tmp_path):
    p = tmp_path / "paged.csv"
    p.write_text("Type,Date,Number,Customer,Amount\nInvoice,03/14/2025,1,A,10.00\n"
                 "Type,Date,Number,Customer,Amount\nPayment,03/20/2025,P1,A,10.00\nTotal,,,,20.00\n")
    r = read_export(p)
    assert skipped_rules(r) == {1: "header", 3: "header", 5: "total"}
    assert list(r.transactions[T.kind]) == ["invoice", "payment"]
    check_invariants(r, 40.0)


# --- mapping ------------------------------------------------------------------------------------

def test_mapped_invoices_file():
    r = read("unknown.csv", mapping=LAYOUTS / "mapping_invoices.toml")
    assert r.layout == "mapping"
    assert records(r.transactions, COLS + [T.settled_date]) == [
        (2, "invoice", "00042", "C-001", None, "2025-03-05", "2025-04-04", 1200.0, "EUR", "2025-03-20"),
        (3, "invoice", "00043", "C-002", None, "2025-03-06", "2025-04-05", 300.0, "EUR", None),
    ]
    assert reject_reasons(r) == {4: "missing invoice number in 'Inv No'"}
    check_invariants(r, 1200 + 300 + 50)


def test_mapped_transactions_file_with_types_and_header_row():
    r = read("mapped_tx.csv", mapping=load_mapping(LAYOUTS / "mapping_tx.toml"))
    assert records(r.transactions, [T.row, T.kind, T.document_id, T.customer_id, T.document_date, T.amount]) == [
        (3, "invoice", "A-1", "K1", "2025-03-01", 100.0),
        (4, "payment", "P-1", "K1", "2025-03-20", 60.0),
        (5, "credit", "C-1", "K1", "2025-03-21", 40.0),  # "cn" matches CN: type values ignore case
    ]
    assert skipped_rules(r) == {1: "title", 2: "header"}
    reason = reject_reasons(r)[6]
    assert "'XX'" in reason and "[types]" in reason and "mapping_tx.toml" in reason
    check_invariants(r, 201.0)


def test_mapping_with_a_column_not_in_the_file(tmp_path):
    m = tmp_path / "m.toml"
    m.write_text('layout = "invoices"\n[columns]\ndocument_id = "Inv No"\ncustomer_id = "Customer Code"\n'
                 'document_date = "Inv Date"\namount = "Gross"\n')
    with pytest.raises(InputError) as exc:
        read("unknown.csv", mapping=m)
    text = str(exc.value)
    assert "'Customer Code'" in text and "not in the file" in text
    assert "'Cust', 'Inv No', 'Inv Date', 'Due', 'Gross', 'Paid On'" in text


# --- robustness: the row invariant on generated messy files ------------------------------------

def test_row_invariant_on_generated_messy_transaction_lists(tmp_path):
    rng = np.random.default_rng(3)
    types = np.array(["Invoice", "Payment", "Credit Memo", "Journal", ""])
    for case in range(3):
        n = 200
        lines = ["Type,Date,Number,Customer,Due Date,Amount"]
        expected = 0.0
        for i in range(n):
            kind = rng.choice(types, p=[0.5, 0.25, 0.1, 0.05, 0.1])
            if kind == "":
                lines.append("")
                continue
            day = int(rng.integers(1, 32))
            amount = round(float(rng.uniform(-50, 500)), 2)
            expected += abs(amount)
            cust = "" if rng.random() < 0.05 else f"C{int(rng.integers(5))}"
            lines.append(f"{kind},03/{day:02d}/2025,N{i},{cust},,{amount:.2f}")
        p = tmp_path / f"messy{case}.csv"
        p.write_text("\n".join(lines) + "\n")
        r = read_export(p)
        check_invariants(r, expected)
        assert (r.transactions[T.amount] >= 0).all()


def test_parquet_generic_list(tmp_path):
    # Parquet keeps native types: datetimes and floats; ids written as text keep their zeros
    df = pd.DataFrame({"customerID": ["0379-NEVHP", "8976-AMJEO"], "invoiceNumber": ["0000611365", "0007900770"],
                       "InvoiceDate": pd.to_datetime(["2013-01-02", "2013-01-26"]),
                       "DueDate": pd.to_datetime(["2013-02-01", "2013-02-25"]), "InvoiceAmount": [55.94, 61.74],
                       "Disputed": ["No", "Yes"], "SettledDate": pd.to_datetime(["2013-01-15", None])})
    p = tmp_path / "generic.parquet"
    df.to_parquet(p)
    r = read_export(p)
    assert r.layout == "generic"
    assert records(r.transactions, [T.row, T.document_id, T.document_date, T.amount, T.disputed, T.settled_date]) == [
        (2, "0000611365", "2013-01-02", 55.94, False, "2013-01-15"),
        (3, "0007900770", "2013-01-26", 61.74, True, None),
    ]
    check_invariants(r, 55.94 + 61.74)


# --- dispute flag in a transaction list ---------------------------------------------------

def test_transaction_list_with_dispute_column():
    # Hand-read from the fixture: "In dispute" is Yes on INV-2002, No on INV-2003, Y on INV-2004,
    # blank on INV-2001 and on the payment row (blank flags are unknown, <NA>).
    r = read("transactions_disputed.csv")
    assert r.layout == "transactions"
    assert records(r.transactions, [T.row, T.kind, T.document_id, T.amount, T.disputed]) == [
        (3, "invoice", "INV-2001", 500.0, None),
        (4, "invoice", "INV-2002", 300.0, True),
        (5, "invoice", "INV-2003", 200.0, False),
        (6, "payment", "PMT-90", 700.0, None),
        (7, "invoice", "INV-2004", 150.0, True),
    ]
    check_invariants(r, 500 + 300 + 200 + 700 + 150)


def test_dispute_column_reaches_the_ledger_and_cash_skips_the_disputed_invoice():
    # End to end on the fixture: PMT-90 700 names no invoice; Acme's undisputed invoices issued by
    # 27 Feb are 500 + 200 = 700, so it pays INV-2001 and INV-2003 and the disputed INV-2002 stays open
    # (plain oldest-first would have paid INV-2001 and 200 of INV-2002).
    from arinsights.ingest.ledger import load_ledger

    led = load_ledger(LAYOUTS / "transactions_disputed.csv")
    inv = led.invoices.set_index("invoice_id")
    assert inv["disputed"].to_dict() == {"INV-2001": False, "INV-2002": True, "INV-2003": False, "INV-2004": True}
    alloc = sorted(zip(led.payments["invoice_id"], led.payments["amount"].round(2)))
    assert alloc == [("INV-2001", 500.0), ("INV-2003", 200.0)]
    assert pd.isna(inv.loc["INV-2002", "paid_date"]) and inv.loc["INV-2003", "paid_date"] == pd.Timestamp("2026-02-27")


@pytest.mark.parametrize("header", ["Disputed", "Dispute", "In dispute", "Dispute status", "DISPUTE_FLAG"])
def test_dispute_column_header_aliases(tmp_path, header):
    p = tmp_path / "tx.csv"
    p.write_text(f"Type,Date,Number,Customer,Due Date,Amount,Applied To,{header}\n"
                 "Invoice,03/22/2025,INV-1,Acme Ltd,04/21/2025,$100.00,,Yes\n"
                 "Invoice,03/03/2025,INV-2,Acme Ltd,04/02/2025,$50.00,,No\n")
    r = read_export(p)
    assert r.layout == "transactions"
    assert r.transactions[T.disputed].tolist() == [True, False]


def test_dispute_column_with_a_value_that_is_not_yes_or_no(tmp_path):
    p = tmp_path / "tx.csv"
    p.write_text("Type,Date,Number,Customer,Due Date,Amount,Applied To,Disputed\n"
                 "Invoice,03/22/2025,INV-1,Acme Ltd,04/21/2025,$100.00,,maybe\n")
    with pytest.raises(InputError, match="yes/no"):
        read_export(p)


def test_sap_dotted_two_digit_years_are_not_read_day_first_blindly(tmp_path):
    """SAP dates written YY.MM.DD (25.03.03 = 3 March 2025) were read day-first because every
    date was dotted; now only DD.MM.YYYY is, and two-digit years go through the parser's
    checks: read day-first they would spread over 2003-2020, so the load stops and asks."""
    import re

    from arinsights.errors import InputError
    from arinsights.settings import IngestSettings

    text = (LAYOUTS / "sap_en.txt").read_text(encoding="utf-8")
    yy = re.sub(r"(\d\d)\.(\d\d)\.20(\d\d)", lambda m: f"  {m[3]}.{m[2]}.{m[1]}", text)
    path = tmp_path / "sap_yy.txt"
    path.write_text(yy, encoding="utf-8")
    with pytest.raises(InputError, match="year-first"):
        read_export(path)
    r = read_export(path, settings=IngestSettings(date_order="yearfirst"))
    assert records(r.transactions, SAP_COLS) == records(read("sap_en.txt").transactions, SAP_COLS)


# --- invoice and payment lists with their columns named in the company's language ---------------

_LOCAL_INVOICE_LISTS = {
    "de": ("Rechnungsnr;Kunde;Rechnungsdatum;Fällig am;Betrag;Währung;Offen\n"
           "R-1;Bäckerei Schön;15.01.2026;14.02.2026;1.234,56;EUR;1.234,56\n"
           "R-2;Bäckerei Schön;20.01.2026;19.02.2026;300,00;EUR;0,00\n"
           "Summe;;;;1.534,56;;1.234,56\n"),
    "fr": ("N° facture;Client;Date facture;Échéance;Montant TTC;Devise;Reste à payer\n"
           "F-1;Boulangerie Dupont;15/01/2026;14/02/2026;1 234,56;EUR;1 234,56\n"
           "F-2;Boulangerie Dupont;20/01/2026;19/02/2026;300,00;EUR;0,00\n"
           ";Total général;;;1 534,56;;1 234,56\n"),
    "nl": ("Factuurnummer;Klant;Factuurdatum;Vervaldatum;Bedrag;Valuta;Openstaand\n"
           "V-1;Bakkerij de Vries;15-01-2026;14-02-2026;1.234,56;EUR;1.234,56\n"
           "V-2;Bakkerij de Vries;20-01-2026;19-02-2026;300,00;EUR;0,00\n"
           "Totaal;;;;1.534,56;;1.234,56\n"),
    "es": ("Nº factura;Cliente;Fecha factura;Vencimiento;Importe;Moneda;Pendiente\n"
           "E-1;Panadería López;15/01/2026;14/02/2026;1.234,56;EUR;1.234,56\n"
           "E-2;Panadería López;20/01/2026;19/02/2026;300,00;EUR;0,00\n"
           "Suma;;;;1.534,56;;1.234,56\n"),
    "pt": ("Número da fatura;Cliente;Data da fatura;Data de vencimento;Valor;Moeda;Valor em aberto\n"
           "P-1;Padaria Silva;15/01/2026;14/02/2026;1.234,56;EUR;1.234,56\n"
           "P-2;Padaria Silva;20/01/2026;19/02/2026;300,00;EUR;0,00\n"
           "Total;;;;1.534,56;;1.234,56\n"),
    "it": ("Numero fattura;Cliente;Data fattura;Scadenza;Importo;Valuta;Residuo\n"
           "I-1;Panificio Rossi;15/01/2026;14/02/2026;1.234,56;EUR;1.234,56\n"
           "I-2;Panificio Rossi;20/01/2026;19/02/2026;300,00;EUR;0,00\n"
           "Totale;;;;1.534,56;;1.234,56\n"),
}


@pytest.mark.parametrize("lang", sorted(_LOCAL_INVOICE_LISTS))
def test_invoice_list_with_columns_in_the_companys_language_reads_without_a_mapping(tmp_path, lang):
    # a spreadsheet kept in German, French, Dutch, Spanish, Italian or Portuguese: recognised as an invoice
    # list, every column found, and its total row ("Summe", "Total général", ...) skipped as a total
    p = tmp_path / f"rechnungen_{lang}.csv"
    p.write_text(_LOCAL_INVOICE_LISTS[lang], encoding="utf-8")
    assert detect_layout(read_grid(p)) == ("invoices", 0)
    r = read_export(p)
    tx = r.transactions
    assert len(tx) == 2 and tx["customer_id"].notna().all()
    assert tx["amount"].tolist() == [1234.56, 300.0] and tx["currency"].tolist() == ["EUR", "EUR"]
    assert tx["document_date"].tolist() == [pd.Timestamp("2026-01-15"), pd.Timestamp("2026-01-20")]
    assert tx["due_date"].tolist() == [pd.Timestamp("2026-02-14"), pd.Timestamp("2026-02-19")]
    assert tx["open_amount"].tolist() == [1234.56, 0.0]
    assert r.skipped["rule"].tolist() == ["header", "total"] and len(r.rejects) == 0


def test_payments_list_in_german_names_the_invoice_it_pays(tmp_path):
    p = tmp_path / "zahlungen.csv"
    p.write_text("Zahlungsnr;Kunde;Zahlungsdatum;Betrag;Rechnungsnummer\n"
                 "Z-1;Bäckerei Schön;20.01.2026;300,00;R-2\nZ-2;Bäckerei Schön;25.01.2026;100,00;\n", encoding="utf-8")
    assert detect_layout(read_grid(p)) == ("payments", 0)
    tx = read_export(p).transactions
    assert tx["document_id"].tolist() == ["Z-1", "Z-2"] and tx["kind"].tolist() == ["payment", "payment"]
    assert tx["applied_to"].tolist()[0] == "R-2" and pd.isna(tx["applied_to"].tolist()[1])
    assert tx["document_date"].tolist() == [pd.Timestamp("2026-01-20"), pd.Timestamp("2026-01-25")]


def test_a_data_row_whose_number_starts_like_a_total_is_not_a_total(tmp_path):
    # only a row without a date is a total row: invoice "Total-7" (dated) is kept; "TOTAL-8"
    # (no date) is a document number, not a total's label: rejected with its reason
    p = tmp_path / "invoices.csv"
    p.write_text("Invoice Number,Customer,Invoice Date,Amount\nTotal-7,ACME,2026-01-05,10.00\n"
                 "TOTAL-8,ACME,,5.00\n,Total,,10.00\n")
    r = read_export(p)
    assert r.transactions["document_id"].tolist() == ["Total-7"] and r.skipped["rule"].tolist() == ["header", "total"]
    assert r.rejects["row"].tolist() == [3] and "missing date" in r.rejects["reason"].iloc[0]
