"""Mapping files: loading, every validation error, column checks and the skeleton guesses."""

from __future__ import annotations

import tomllib

import pytest

from arinsights.errors import InputError
from arinsights.ingest.mapping import (Mapping, guess_columns, load_mapping, mapping_from_dict,
                                       mapping_skeleton)

from conftest import FIXTURES

GOOD = {"layout": "invoices",
        "columns": {"document_id": "Inv No", "customer_id": "Cust", "document_date": "Inv Date", "amount": "Gross"}}


def write(tmp_path, text: str):
    p = tmp_path / "mapping.toml"
    p.write_text(text)
    return p


def test_load_fixture_mappings():
    m = load_mapping(FIXTURES / "layouts" / "mapping_invoices.toml")
    assert isinstance(m, Mapping)
    assert (m.layout, m.date_order, m.decimal, m.currency, m.header_row) == ("invoices", "dayfirst", ",", "EUR", None)
    assert m.columns["settled_date"] == "Paid On"
    t = load_mapping(FIXTURES / "layouts" / "mapping_tx.toml")
    assert t.type_column == "Kind" and t.header_row == 2
    assert t.types == {"invoice": ("INV",), "payment": ("PMT",), "credit": ("CN",)}
    assert t.used_columns() == ["Ref", "client", "When", "Value", "Kind"]


def test_lower_case_currency_is_upper_cased():
    assert mapping_from_dict({**GOOD, "currency": "eur"}).currency == "EUR"


@pytest.mark.parametrize("order", ["dayfirst", "monthfirst", "yearfirst"])
def test_every_date_order_is_accepted(order):
    assert mapping_from_dict({**GOOD, "date_order": order}).date_order == order


@pytest.mark.parametrize("change,expected", [
    ({"colums": {}}, "unknown key(s) ['colums']"),
    ({"layout": "ledger"}, "unknown layout 'ledger'"),
    ({"layout": None}, "the mapping has no layout"),
    ({"columns": {}}, "no [columns] section"),
    ({"columns": {**GOOD["columns"], "price": "P"}}, "unknown field(s) ['price'] in [columns]"),
    ({"columns": {**GOOD["columns"], "amount": 3}}, "amount must be the name of a column in quotes"),
    ({"columns": {k: v for k, v in GOOD["columns"].items() if k != "document_date"}},
     "missing the required field(s) ['document_date'] for layout 'invoices'"),
    ({"header_row": 0}, "header_row must be a whole number from 1"),
    ({"header_row": "2"}, "header_row must be a whole number from 1"),
    ({"date_order": "dmy"}, 'date_order must be "dayfirst", "monthfirst" or "yearfirst" (yy-mm-dd)'),
    ({"decimal": ";"}, 'decimal must be "." or ","'),
    ({"currency": "EURO"}, "currency must be a three-letter code"),
    ({"sheet": 1}, "sheet must be a sheet name in quotes"),
    ({"types": {"type_column": "Kind", "invoice": ["I"]}}, "a [types] section is only used with layout"),
    ({"balances_as_of": "30/06/2026", "columns": {**GOOD["columns"], "open_amount": "Open"}},
     "balances_as_of must be a date written year-month-day"),
    ({"balances_as_of": "2026-02-30", "columns": {**GOOD["columns"], "open_amount": "Open"}},
     "balances_as_of must be a date written year-month-day"),
    ({"balances_as_of": 20260630, "columns": {**GOOD["columns"], "open_amount": "Open"}},
     "balances_as_of must be a date written year-month-day"),
    ({"balances_as_of": "2026-06-30"}, "[columns] names no open_amount column"),
])
def test_validation_errors_say_what_is_wrong(change, expected):
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InputError) as exc:
        mapping_from_dict(data, path="m.toml")
    assert expected in str(exc.value)
    assert "m.toml" in str(exc.value)


TX = {"layout": "transactions",
      "columns": {"document_id": "Ref", "customer_id": "Client", "document_date": "When", "amount": "Value"}}


@pytest.mark.parametrize("types,expected", [
    (None, 'layout "transactions" needs a [types] section'),
    ({"invoice": ["I"]}, "[types] needs type_column"),
    ({"type_column": "Kind", "refund": ["R"]}, "unknown key(s) ['refund'] in [types]"),
    ({"type_column": "Kind", "invoice": "I", "payment": [1]}, "[types] payment must be a list of values"),
    ({"type_column": "Kind"}, "[types] lists no values"),
    ({"type_column": "Kind", "invoice": ["INV"], "credit": ["inv"]}, "listed under both invoice and credit"),
])
def test_transactions_types_validation(types, expected):
    data = dict(TX) if types is None else {**TX, "types": types}
    with pytest.raises(InputError) as exc:
        mapping_from_dict(data)
    assert expected in str(exc.value)


def test_payments_layout_needs_no_document_id():
    m = mapping_from_dict({"layout": "payments",
                           "columns": {"customer_id": "C", "document_date": "D", "amount": "A"}})
    assert m.layout == "payments"


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.toml")
    with pytest.raises(InputError, match="not valid TOML") as exc:
        load_mapping(write(tmp_path, "layout = invoices\n"))
    assert "double quotes" in str(exc.value)


def test_check_columns_matches_loosely_and_lists_the_file_columns():
    m = mapping_from_dict(GOOD)
    assert m.check_columns(["cust ", "Inv  No", "INV DATE", "Gross"], "f.csv") == {
        "Cust": "cust ", "Inv No": "Inv  No", "Inv Date": "INV DATE", "Gross": "Gross"}
    with pytest.raises(InputError) as exc:
        m.check_columns(["Customer", "Inv No", "Inv Date", "Gross"], "f.csv")
    text = str(exc.value)
    assert "file f.csv" in text and "'Cust'" in text and "not in the file" in text
    assert "'Customer', 'Inv No', 'Inv Date', 'Gross'" in text


@pytest.mark.parametrize("headers,expected", [
    (["Cust", "Inv No", "Inv Date", "Due", "Gross", "Paid On"],
     {"customer_id": "Cust", "document_id": "Inv No", "document_date": "Inv Date", "due_date": "Due",
      "amount": "Gross", "settled_date": "Paid On"}),
    (["Client", "Document", "Doc Date", "Value", "Ccy"],
     {"customer_id": "Client", "document_id": "Document", "document_date": "Doc Date", "amount": "Value",
      "currency": "Ccy"}),
    (["Debtor Code", "Reference", "Date", "Amount", "Terms", "Disputed"],
     {"customer_id": "Debtor Code", "document_id": "Reference", "document_date": "Date", "amount": "Amount",
      "terms": "Terms", "disputed": "Disputed"}),
    # the skeleton for a layout not recognised, with columns in the company's language
    (["Belegnr", "Rechnungsnr", "Kunde", "Rechnungsdatum", "Fällig", "Betrag", "Währung"],
     {"document_id": "Rechnungsnr", "customer_id": "Kunde", "document_date": "Rechnungsdatum",
      "due_date": "Fällig", "amount": "Betrag", "currency": "Währung"}),
    (["Nº factura", "Cliente", "Fecha", "Vencimiento", "Importe", "Moneda"],
     {"document_id": "Nº factura", "customer_id": "Cliente", "document_date": "Fecha", "due_date": "Vencimiento",
      "amount": "Importe", "currency": "Moneda"}),
    (["Numero fattura", "Cliente", "Data fattura", "Scadenza", "Importo", "Valuta"],
     {"document_id": "Numero fattura", "customer_id": "Cliente", "document_date": "Data fattura",
      "due_date": "Scadenza", "amount": "Importo", "currency": "Valuta"}),
])
def test_guess_columns(headers, expected):
    assert guess_columns(headers) == expected


def test_skeleton_marks_unguessed_required_fields_and_is_toml():
    text = mapping_skeleton(["Foo", "Bar", "Amount"], layout="invoices")
    data = tomllib.loads(text)
    assert data["columns"]["amount"] == "Amount"
    assert data["columns"]["document_id"] == "?" and data["columns"]["customer_id"] == "?"
    assert "# required" in text
    tx = tomllib.loads(mapping_skeleton(["Kind", "Date", "Amount", "Customer", "No"], layout="transactions"))
    assert tx["layout"] == "transactions" and "type_column" in tx["types"]


def test_balances_as_of_is_a_date_in_toml_or_in_quotes(tmp_path):
    import datetime as dt

    cols = {**GOOD["columns"], "open_amount": "Open"}
    assert mapping_from_dict({**GOOD, "columns": cols, "balances_as_of": "2026-06-30"}).balances_as_of == \
        dt.date(2026, 6, 30)
    text = ('layout = "invoices"\nbalances_as_of = 2026-06-30\n[columns]\n'
            + "".join(f'{k} = "{v}"\n' for k, v in cols.items()))
    assert load_mapping(write(tmp_path, text)).balances_as_of == dt.date(2026, 6, 30)
    assert mapping_from_dict(GOOD).balances_as_of is None


def test_balances_as_of_makes_an_invoice_list_a_snapshot(tmp_path):
    # an invoice list with an open balance but no date for it: A-1 is shown paid, A-2 part-paid,
    # A-3 open. Without balances_as_of, A-1 and A-2 stay open in full (the list does not say
    # when the balances were taken), with a note. With it they are paid / part-paid before
    # that date, as with an aging report's snapshot.
    from arinsights.ingest.ledger import load_ledger

    (tmp_path / "inv.csv").write_text(
        "Inv No,Cust,Inv Date,Gross,Open\n"
        "A-1,Acme,2026-04-01,100.00,0.00\n"
        "A-2,Acme,2026-05-01,200.00,50.00\n"
        "A-3,Acme,2026-06-01,300.00,300.00\n")
    cols = "".join(f'{k} = "{v}"\n' for k, v in {**GOOD["columns"], "open_amount": "Open"}.items())
    plain = write(tmp_path, 'layout = "invoices"\n[columns]\n' + cols)
    led = load_ledger(tmp_path / "inv.csv", mapping=plain)
    assert led.quality["open_amount_by_currency"] == {"USD": 600.0}
    assert any("shown (part-)paid in the export" in n for n in led.notes)

    dated = tmp_path / "dated.toml"
    dated.write_text('layout = "invoices"\nbalances_as_of = 2026-06-30\n[columns]\n' + cols)
    led = load_ledger(tmp_path / "inv.csv", mapping=dated)
    inv = led.invoices.set_index("invoice_id")
    assert inv.loc["A-1", "paid_date"] == __import__("pandas").Timestamp("2026-06-30")
    assert inv.loc["A-1", "settled_by"] == "before snapshot"
    assert led.quality["open_amount_by_currency"] == {"USD": 350.0}  # 50 + 300, as the list says
    assert any("open balances as of 2026-06-30 (balances_as_of in the mapping)" in n for n in led.notes)
