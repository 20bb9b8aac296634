"""Tests for arinsights.ingest.textio.

The expected grids are written out by hand from the fixture files (tests/fixtures/textio/)
or from the bytes each test writes; line numbers are the ones a text editor shows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from arinsights.errors import InputError
from arinsights.ingest.textio import Grid, read_grid


@pytest.fixture
def textio_dir(fixtures_dir):
    return fixtures_dir / "textio"


def test_quickbooks_ragged_titles_quotes_and_blank_line(textio_dir):
    g = read_grid(textio_dir / "quickbooks_aging.csv")
    assert isinstance(g, Grid)
    assert g.encoding == "utf-8" and g.delimiter == "," and g.sheet is None and g.typed is None
    assert g.cells.shape == (11, 8)
    assert g.rows.tolist() == list(range(1, 12))
    assert g.cells.iloc[0].tolist() == ["Company, Inc"] + [""] * 7
    assert (g.cells.iloc[3] == "").all()  # blank physical line 4 kept
    assert g.cells.iloc[4].tolist() == ["", "Date", "Transaction type", "Num",
                                        "Customer full name", "Due date", "Amount", "Open balance"]
    assert g.cells.iloc[6].tolist() == ["", "11/11/2025", "Invoice", "SI-1", "TACTICS",
                                        "12/11/2025", "1,000.00", "800.00"]
    assert g.cells.iloc[10, 0] == " Thursday, July 30, 2026 04:19 PM GMT-06:00"
    assert list(g.cells.columns) == list(range(8))
    assert all(isinstance(v, str) for v in g.cells.to_numpy().ravel())


def test_sap_pipes_rulers_and_padding(textio_dir):
    g = read_grid(textio_dir / "sap_fbl5n.txt")
    assert g.delimiter == "|"
    assert g.cells.shape == (10, 8)
    assert g.rows.tolist() == list(range(1, 11))
    assert g.cells.iloc[0, 0] == "Customer Line Item Display"
    assert set(g.cells.iloc[1, 0]) == {"-"} and (g.cells.iloc[1, 1:] == "").all()
    assert set(g.cells.iloc[3, 0]) == {"-"} and (g.cells.iloc[3, 1:] == "").all()
    assert g.cells.iloc[2].tolist() == ["Account", "Document Number", "Type", "Doc. Date",
                                        "Net due dt", "Amount in LC", "LCurr", "Text"]
    assert g.cells.iloc[4].tolist() == ["0000100001", "1800000012", "RV", "17.03.2025",
                                        "16.04.2025", "1.234,56", "EUR", "Lieferung"]
    assert g.cells.iloc[5, 5] == "1.234,56-"
    assert g.cells.iloc[6, 7] == ""  # genuinely empty last field kept as a column
    assert g.cells.iloc[8, 0] == "*"


def test_semicolon_crlf_leading_zeros_blank_line(textio_dir):
    g = read_grid(textio_dir / "semicolon_crlf.csv")
    assert g.delimiter == ";" and g.encoding == "utf-8"
    assert g.cells.shape == (4, 4)
    assert g.cells.iloc[1].tolist() == ["0379-NEVHP", "0000611365", "17.03.2025", "1.234,56"]
    assert (g.cells.iloc[2] == "").all()
    assert g.rows.tolist() == [1, 2, 3, 4]
    assert g.cells.iloc[3, 1] == "0007900770"


def test_cp1252_file(textio_dir):
    g = read_grid(textio_dir / "cp1252_mueller.csv")
    assert g.encoding == "cp1252"
    assert g.cells.iloc[1].tolist() == ["Müller GmbH", "00042", "€ 1.234,56"]
    assert g.cells.iloc[2, 0] == "Café Zoë"


def test_utf8_bom_tab_file(textio_dir):
    g = read_grid(textio_dir / "bom_tab.txt")
    assert g.encoding == "utf-8-sig" and g.delimiter == "\t"
    assert g.cells.iloc[0, 0] == "ContactName"  # no BOM left in the first cell
    assert g.cells.iloc[1].tolist() == ["Zoë Ltd", "INV-0001", "15 Jul 2026", "1,250.00"]


def test_blank_lines_keep_physical_numbering(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("\n\na,b,c\n1,2,3\n\n\n4,5,6\n\n", encoding="utf-8")
    g = read_grid(p)
    assert g.rows.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert g.cells.iloc[6].tolist() == ["4", "5", "6"]
    assert (g.cells.iloc[[0, 1, 4, 5, 7]] == "").all().all()


def test_quoted_newline_rows_point_at_the_starting_line(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text('id,text,amount\n1,"two\nlines",5\n2,plain,6\n', encoding="utf-8")
    g = read_grid(p)
    assert g.cells.iloc[1].tolist() == ["1", "two\nlines", "5"]
    assert g.rows.tolist() == [1, 2, 4]


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_detection(tmp_path, delim):
    rows = [["Customer", "Invoice", "Amount", "Note"], ["ACME", "0001", "1.234,56", "x, y; z"],
            ["Beta", "0002", "12,50", "ok"]]
    p = tmp_path / "x.txt"
    quote = (lambda v: f'"{v}"' if (delim in v and delim != "|") else v)
    p.write_text("\n".join(delim.join(quote(v) for v in r) for r in rows) + "\n", encoding="utf-8")
    g = read_grid(p)
    assert g.delimiter == delim
    assert g.cells.to_numpy().tolist() == rows


def test_explicit_delimiter_and_encoding(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes("a;b\nMüller;1\n".encode("latin-1"))
    g = read_grid(p, delimiter=";", encoding="latin-1")
    assert g.delimiter == ";" and g.encoding == "latin-1" and g.cells.iloc[1, 0] == "Müller"
    with pytest.raises(InputError, match="unknown encoding"):
        read_grid(p, encoding="klingon")


def test_undecodable_file_names_the_byte(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"id,name\n1,ab\x81c\n")  # 0x81 is undefined in cp1252 and invalid UTF-8
    with pytest.raises(InputError) as err:
        read_grid(p)
    msg = str(err.value)
    assert "bad.csv" in msg and "byte 12" in msg and "UTF-8" in msg


def test_binary_file_with_text_extension(tmp_path):
    p = tmp_path / "book.csv"
    p.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(InputError, match="does not look like a text export"):
        read_grid(p)


def test_trailing_delimiters_and_padding(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("Title only\na,b,c,\n1,2,3,\n", encoding="utf-8")
    g = read_grid(p)
    assert g.cells.shape == (3, 4)  # the trailing empty column is part of the file
    assert g.cells.iloc[0].tolist() == ["Title only", "", "", ""]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "nope.csv", "file not found"),
        (lambda d: d, "folder"),
        (lambda d: (d / "e.csv").write_bytes(b"") and d / "e.csv" or d / "e.csv", "empty"),
        (lambda d: (d / "w.csv").write_text("\n \n") and d / "w.csv", "no content"),
        (lambda d: (d / "x.json").write_text("{}") and d / "x.json", "unsupported file type"),
        (lambda d: (d / "x.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 60) and d / "x.xls",
         "cannot be opened as an Excel workbook"),  # a cut binary workbook
        (lambda d: (d / "h.xls").write_text("<html><table><tr><td>1</td></tr></table></html>") and d / "h.xls",
         "web page"),
        (lambda d: (d / "u.xls").write_text("<html><table></table></html>", encoding="utf-16") and d / "u.xls",
         "web page"),
    ],
)
def test_bad_paths(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(InputError, match=message) as err:
        read_grid(path)
    assert str(path) in str(err.value)


# ------------------------------------------------------------------------------ Excel

def _workbook(path, sheets: dict[str, list[tuple[str, object]]]):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, cells in sheets.items():
        ws = wb.create_sheet(name)
        for ref, value in cells:
            ws[ref] = value
    wb.save(path)


def test_xlsx_single_sheet(tmp_path):
    p = tmp_path / "aged.xlsx"
    _workbook(p, {"Report": [("A1", "Aged Receivables"), ("B3", "Invoice"), ("C3", "Date"),
                             ("D3", "Amount"), ("B4", "0007"), ("C4", dt.datetime(2025, 3, 2)),
                             ("D4", 1250.5), ("E4", 45123)]})
    g = read_grid(p)
    assert g.sheet == "Report" and g.encoding is None and g.delimiter is None
    assert g.cells.shape == g.typed.shape == (4, 5)
    assert g.rows.tolist() == [1, 2, 3, 4]  # sheet rows; empty row 2 kept
    assert g.cells.iloc[0, 0] == "Aged Receivables"
    assert (g.cells.iloc[1] == "").all()
    # column E has empty cells, so Excel's 45123 arrives as a float: parsing reads "45123.0"
    assert g.cells.iloc[3].tolist() == ["", "0007", "2025-03-02 00:00:00", "1250.5", "45123.0"]
    assert g.typed.iloc[3, 2] == pd.Timestamp("2025-03-02")
    assert pd.api.types.is_datetime64_any_dtype(g.typed[2]) or isinstance(g.typed.iloc[3, 2],
                                                                           (pd.Timestamp, dt.datetime))
    assert g.typed.iloc[3, 3] == 1250.5


def test_xlsx_several_sheets_need_a_choice(tmp_path):
    p = tmp_path / "book.xlsx"
    _workbook(p, {"Invoices": [("A1", "x")], "Payments": [("A1", "y")], "Empty": []})
    with pytest.raises(InputError) as err:
        read_grid(p)
    msg = str(err.value)
    assert "'Invoices'" in msg and "'Payments'" in msg and "'Empty'" not in msg
    assert 'sheet = "Invoices"' in msg and "--sheet" in msg
    assert read_grid(p, sheet="Payments").cells.iloc[0, 0] == "y"
    with pytest.raises(InputError, match="has no sheet 'Nope'"):
        read_grid(p, sheet="Nope")


def test_xlsx_picks_the_only_non_empty_sheet(tmp_path):
    p = tmp_path / "book.xlsx"
    _workbook(p, {"Cover": [], "Data": [("A1", "id"), ("A2", "0042")]})
    g = read_grid(p)
    assert g.sheet == "Data" and g.cells[0].tolist() == ["id", "0042"]


def test_xlsx_text_that_pandas_would_call_missing_stays_text_as_in_csv(tmp_path):
    # a customer coded "NA", a document "NULL", an amount "n/a": a CSV file keeps them as
    # text (the parsers decide what is "no value" per column); a workbook must read the same
    from arinsights.ingest.readers import read_export

    rows = [("Invoice Number", "Customer", "Invoice Date", "Due Date", "Amount"),
            ("I-1", "NA", "2025-03-20", "2025-04-19", "100.00"),
            ("NULL", "Beta", "2025-04-02", "2025-05-02", "250.00"),
            ("I-3", "Beta", "2025-04-09", "2025-05-09", "n/a")]
    xlsx = tmp_path / "ledger.xlsx"
    _workbook(xlsx, {"Ledger": [(f"{'ABCDE'[j]}{i + 1}", v) for i, row in enumerate(rows) for j, v in enumerate(row)]})
    csv = tmp_path / "ledger.csv"
    csv.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    grid = read_grid(xlsx)
    assert grid.cells.iloc[1:, 1].tolist() == ["NA", "Beta", "Beta"] and grid.cells.iloc[2, 0] == "NULL"
    got, want = read_export(xlsx), read_export(csv)
    cols = ["document_id", "customer_id", "amount"]
    pd.testing.assert_frame_equal(got.transactions[cols], want.transactions[cols])
    assert got.transactions["customer_id"].tolist() == ["NA", "Beta"]
    assert got.rejects["reason"].tolist() == want.rejects["reason"].tolist()
    assert "'n/a' is not an amount (it means no value)" in got.rejects["reason"].iloc[0]


# ------------------------------------------------------------------------------ Parquet

def test_parquet_header_row_and_types(tmp_path):
    p = tmp_path / "ledger.parquet"
    frame = pd.DataFrame({
        "invoice_id": ["0007", "0008", None],
        "invoice_date": pd.to_datetime(["2025-03-02", None, "2025-03-04"]),
        "amount": [1250.5, np.nan, 3.0],
        "count": np.array([1, 2, 3], dtype="int64"),
    })
    frame.to_parquet(p)
    g = read_grid(p)
    assert g.cells.shape == g.typed.shape == (4, 4)
    assert g.rows.tolist() == [1, 2, 3, 4]
    assert g.cells.iloc[0].tolist() == ["invoice_id", "invoice_date", "amount", "count"]
    assert g.cells.iloc[1].tolist() == ["0007", "2025-03-02", "1250.5", "1"]
    assert g.cells.iloc[2].tolist() == ["0008", "", "", "2"]
    assert g.cells.iloc[3, 0] == ""
    assert g.typed.iloc[0].isna().all()
    assert pd.api.types.is_datetime64_any_dtype(g.typed[1])
    assert g.typed.iloc[1, 1] == pd.Timestamp("2025-03-02")
    assert g.typed[2].dtype == np.float64 and g.typed.iloc[1, 2] == 1250.5
    assert g.typed.iloc[3, 3] == 3 and str(g.typed[3].dtype) == "Int64"


@pytest.mark.parametrize("arrow", [True, False])
def test_record_running_over_lines_wider_than_any_line_keeps_every_field(tmp_path, monkeypatch, arrow):
    # a quoted field with line breaks makes the second record wider (4 fields) than any one
    # line of the file (3): the column count must come from the records, or the last fields
    # of that record are dropped (pandas only warns)
    import warnings

    from arinsights.ingest import textio
    p = tmp_path / "memo.csv"
    p.write_text('Invoice,Memo,Amount\nINV-1,"two\nlines",10.00,extra\nINV-2,one,5.00\n')
    if not arrow:
        monkeypatch.setattr(textio, "_read_text_arrow", lambda *a, **k: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = textio.read_grid(p)
    assert g.cells.to_numpy().tolist() == [["Invoice", "Memo", "Amount", ""],
                                           ["INV-1", "two\nlines", "10.00", "extra"],
                                           ["INV-2", "one", "5.00", ""]]
    assert g.rows.tolist() == [1, 2, 4]


def _typed_workbook(path):
    """Every kind of cell a ledger workbook holds: text ids with leading zeros, dates with
    and without a time, whole and decimal numbers, booleans, an error code, a time of day,
    percentages, formulas (without cached values), blanks and a gap row."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Ledger"
    ws.append(["Invoice", "Customer", "Date", "Due", "Amount", "Flag", "Mixed", "Time", "Pct", "Formula"])
    ws.append(["0001", "Acme", dt.datetime(2025, 3, 2), dt.date(2025, 4, 1), 1250.0, True, "x", dt.time(13, 30),
               0.25, "=E2*2"])
    ws.append([2, "Bob", dt.datetime(2025, 3, 2, 15, 45), "2025-04-01", 1250, False, 12, None, 0.5, "=1/0"])
    ws.append(["INV-3", None, None, "", -40.5, None, 3.5])
    ws.append([123456789012, "  spaced  ", dt.datetime(1999, 12, 31), dt.datetime(2100, 1, 1), 1e-7, "Yes",
               dt.datetime(2025, 1, 1), None, 1])
    ws.append(["#N/A", "Ünïcødé €", 45123, 45123.5, "1,234.56", "TRUE"])
    ws.append([])
    ws.append(["Total", None, None, None, "=SUM(E2:E6)"])
    ws["I2"].number_format = "0%"
    wb.create_sheet("Empty")
    wb.save(path)


@pytest.mark.parametrize("name", ["typed", "layouts/generic.xlsx", "layouts/sap_nl.xlsx", "layouts/xero_aged.xlsx"])
def test_calamine_reads_workbooks_as_openpyxl_does(tmp_path, fixtures_dir, monkeypatch, name):
    # workbooks are read with calamine (fast); openpyxl, pandas' reference reader, must
    # give the same grid: every cell's text and type, the sheet and the row numbers
    from arinsights.ingest import textio
    from arinsights.ingest.readers import read_export

    path = tmp_path / "typed.xlsx" if name == "typed" else fixtures_dir / name
    if name == "typed":
        _typed_workbook(path)
    assert textio._EXCEL_ENGINE == "calamine"
    fast, fast_read = read_grid(path), read_export(path) if name != "typed" else None
    monkeypatch.setattr(textio, "_EXCEL_ENGINE", "openpyxl")
    ref, ref_read = read_grid(path), read_export(path) if name != "typed" else None
    pd.testing.assert_frame_equal(fast.cells, ref.cells)
    pd.testing.assert_frame_equal(fast.typed, ref.typed)
    assert fast.sheet == ref.sheet and fast.rows.tolist() == ref.rows.tolist()
    if name == "typed":  # a few cells by hand
        assert fast.cells.iloc[1, :3].tolist() == ["0001", "Acme", "2025-03-02 00:00:00"]
        # (an error cell: its text, put back from the sheet's XML)
        assert fast.cells.iloc[5, 0] == "#N/A" and fast.cells.iloc[4, 1] == "  spaced  "
        assert (fast.cells.iloc[6] == "").all()
    else:
        pd.testing.assert_frame_equal(fast_read.transactions, ref_read.transactions)
        assert fast_read.notes == ref_read.notes


def test_damaged_sheet_is_a_clear_error(tmp_path):
    import zipfile

    good = tmp_path / "good.xlsx"
    _typed_workbook(good)
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            out.writestr(info, data[: len(data) // 2] if info.filename == "xl/worksheets/sheet1.xml" else data)
    with pytest.raises(InputError) as err:
        read_grid(bad)
    msg = str(err.value)
    assert "sheet 'Ledger' cannot be read" in msg and "bad.xlsx" in msg and "save it again as .xlsx" in msg


def test_xls_binary_workbook_reads_as_its_xlsx_twin(fixtures_dir):
    # generic.xls holds the cells of generic.xlsx in the old binary format (make_xls.py)
    from arinsights.ingest.readers import read_export

    old, new = read_grid(fixtures_dir / "layouts/generic.xls"), read_grid(fixtures_dir / "layouts/generic.xlsx")
    pd.testing.assert_frame_equal(old.cells, new.cells)
    pd.testing.assert_frame_equal(old.typed, new.typed)
    assert old.cells.iloc[1, :2].tolist() == ["0379-NEVHP", "0000611365"]
    got, want = read_export(fixtures_dir / "layouts/generic.xls"), read_export(fixtures_dir / "layouts/generic.xlsx")
    pd.testing.assert_frame_equal(got.transactions.drop(columns=["file", "source"]),
                                  want.transactions.drop(columns=["file", "source"]))
    assert got.layout == "generic" and len(got.transactions) == 3


def test_xls_that_is_tab_separated_text_is_read_as_text(tmp_path, fixtures_dir):
    # SAP's "Spreadsheet" download: tab-separated text named .xls
    from arinsights.ingest.readers import read_export

    csv = (fixtures_dir / "layouts/generic.csv").read_text(encoding="utf-8")
    tsv = tmp_path / "export.xls"
    tsv.write_text(csv.replace(",", "\t"), encoding="cp1252")
    ref = tmp_path / "export.csv"
    ref.write_text(csv, encoding="utf-8")
    g = read_grid(tsv)
    assert g.delimiter == "\t" and g.sheet is None
    pd.testing.assert_frame_equal(g.cells, read_grid(ref).cells)
    got, want = read_export(tsv), read_export(ref)
    cols = ["document_id", "customer_id", "amount", "document_date"]
    pd.testing.assert_frame_equal(got.transactions[cols], want.transactions[cols])
