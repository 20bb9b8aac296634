"""Spreadsheet error values ("#N/A", "#REF!", ...) are failed formulas, not data.

A ledger kept in a spreadsheet shows "#N/A" where a lookup found nothing and "#REF!" where
a reference was deleted. Exported to CSV they are text; in a workbook they are error cells,
which the Excel engines read as empty. Either way none of them may become a customer called
"#N/A", an invoice numbered "#REF!", or a due date made up from the default terms because
the real one was "#N/A". The rows are rejected with a reason naming the value, or, for a
payment's reference, a dispute flag or a name beside the customer's id, the value is read
as empty with a note. Reference: the rows and reasons written out by hand.
"""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from arinsights.ingest import textio
from arinsights.ingest.ledger import load_ledger
from arinsights.ingest.readers import read_export

HEADER = ["Type", "Date", "Number", "Customer ID", "Customer Name", "Due Date", "Amount", "Applied To", "Disputed"]
ROWS = [
    ["Invoice", "07/01/2024", "0001", "C1", "Acme", "07/31/2024", "100.00", "", "No"],     # kept
    ["Invoice", "07/01/2024", "0002", "C1", "Acme", "#N/A", "200.00", "", ""],             # due date
    ["Invoice", "07/02/2024", "0003", "#N/A", "Acme", "08/01/2024", "300.00", "", ""],     # customer
    ["Invoice", "07/02/2024", "#REF!", "C2", "Bob", "08/01/2024", "400.00", "", ""],       # number
    ["Invoice", "07/03/2024", "0005", "C2", "Bob", "08/02/2024", "#DIV/0!", "", ""],       # amount
    ["Invoice", "#VALUE!", "0006", "C2", "Bob", "08/02/2024", "600.00", "", ""],           # date
    ["Invoice", "07/04/2024", "0007", "C2", "#N/A", "08/03/2024", "700.00", "", "#N/A"],   # name, flag: empty
    ["Payment", "07/20/2024", "P-1", "C1", "Acme", "", "100.00", "#N/A", ""],             # reference: empty
]
#: the rejected rows (file row numbers: the header is row 1) and the start of their reasons
REJECTED = {
    3: "Due Date '#N/A' is a spreadsheet error, not a date",
    4: "Customer ID '#N/A' is a spreadsheet error, not a customer",
    5: "Number '#REF!' is a spreadsheet error, not a document number",
    6: "Amount '#DIV/0!' is a spreadsheet error, not an amount",
    7: "Date '#VALUE!' is a spreadsheet error, not a date",
}


def _csv(path):
    pd.DataFrame(ROWS, columns=HEADER).to_csv(path, index=False)
    return path


def _xlsx(path):
    """The same rows as a workbook, each error value an error cell (type "e"), as Excel
    writes a failed formula's cached result."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Ledger"
    ws.append(HEADER)
    for row in ROWS:
        ws.append(row)
    wb.save(path)
    errors = [c.coordinate for r in ws.iter_rows() for c in r if c.data_type == "e"]
    assert len(errors) == 8  # openpyxl stores "#N/A" & co. as error cells
    return path


def _check(led):
    rejects = led.rejects.set_index("row")
    assert sorted(rejects.index) == sorted(REJECTED)
    for row, start in REJECTED.items():
        reason = rejects.loc[row, "reason"]
        assert reason.startswith(start), reason
        assert "correct it there and export again" in reason
    # kept: the good invoice, the invoice whose name and flag were errors, the payment
    inv = led.invoices.set_index("invoice_id")
    assert sorted(inv.index) == ["0001", "0007"]
    # its name was "#N/A", and C2's other rows are rejected: no name is known (as for an empty cell)
    assert pd.isna(inv.loc["0007", "customer_name"]) and inv.loc["0007", "customer_id"] == "C2"
    assert not inv.loc["0007", "disputed"]
    # the payment's reference was "#N/A": read as none, so it is allocated as an unreferenced
    # payment of its customer (to the oldest open invoice, 0001)
    pay = led.payments
    assert pay["payment_id"].tolist() == ["P-1"] and pay["invoice_id"].tolist() == ["0001"]
    assert "#N/A" not in set(inv["customer_id"]) | set(inv["customer_name"])
    notes = " ".join(led.files["notes"])
    for column in ("Customer Name", "Disputed", "Applied To"):
        assert f"1 cell(s) of '{column}' hold a spreadsheet error, e.g. '#N/A'" in notes
    # nothing lost: 9 rows read = the header + 3 kept + 5 rejected
    assert led.files["rows_read"].tolist() == [9]
    assert (len(led.skipped), len(led.kept), len(led.rejects), len(led.merged)) == (1, 3, 5, 0)


def test_error_values_in_a_csv_file_are_rejected_or_blanked(tmp_path):
    _check(load_ledger(_csv(tmp_path / "ledger.csv")))


def test_error_cells_of_a_workbook_are_read_as_their_values(tmp_path):
    path = _xlsx(tmp_path / "ledger.xlsx")
    grid = textio.read_grid(path)
    assert grid.cells.iloc[2, 5] == "#N/A" and grid.cells.iloc[4, 2] == "#REF!"
    assert grid.cells.iloc[5, 6] == "#DIV/0!" and grid.cells.iloc[6, 1] == "#VALUE!"
    _check(load_ledger(path))


def test_workbook_and_csv_give_the_same_ledger(tmp_path):
    a, b = load_ledger(_csv(tmp_path / "l.csv")), load_ledger(_xlsx(tmp_path / "l.xlsx"))
    pd.testing.assert_frame_equal(a.invoices.drop(columns="source"), b.invoices.drop(columns="source"))
    pd.testing.assert_frame_equal(a.rejects[["row", "reason"]], b.rejects[["row", "reason"]])


def _rewrite_sheet(path, out, edit):
    """Copy a workbook, passing its first sheet's XML through ``edit``."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = edit(data)
            dst.writestr(item, data)
    return out


@pytest.mark.parametrize("form, expected", [
    # a formula whose cached result is an error
    (b'<c r="B2" t="e"><f>1/0</f><v>#DIV/0!</v></c>', [(1, 1, "#DIV/0!")]),
    # attributes in another order, single quotes, a namespace prefix (other writers)
    (b"<x:c t='e' s=\"0\" r='AA2'><x:v>#REF!</x:v></x:c>", [(1, 26, "#REF!")]),
    # an error cell without a value, then a good one: nothing is borrowed from the next cell
    (b'<c r="B2" t="e"/><c r="C2" t="n"><v>5</v></c>', []),
])
def test_error_cells_in_the_sheet_xml(tmp_path, form, expected):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["a", "b"])
    wb.active.append(["x", "PLACEHOLDER"])
    wb.save(tmp_path / "a.xlsx")

    def edit(xml: bytes) -> bytes:
        start = xml.index(b'<c r="B2"')
        end = xml.index(b"</c>", start) + 4
        return xml[:start] + form + xml[end:]

    path = _rewrite_sheet(tmp_path / "a.xlsx", tmp_path / "b.xlsx", edit)
    assert textio._xlsx_error_cells(path, wb.active.title) == expected


def test_no_error_cells_no_scan(tmp_path):
    # a workbook without error cells, and a sheet name that is not there: nothing found
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["a", 1])
    wb.save(tmp_path / "a.xlsx")
    assert textio._xlsx_error_cells(tmp_path / "a.xlsx", wb.active.title) == []
    assert textio._xlsx_error_cells(tmp_path / "a.xlsx", "Nope") == []


def test_hash_ids_that_are_not_errors_are_kept(tmp_path):
    # "#1001" and "#N/A-2" are ids that happen to start with "#": only a whole error value counts
    rows = [["Invoice", "07/01/2024", "#1001", "#N/A-2", "Acme", "07/31/2024", "100.00", "", ""]]
    path = tmp_path / "l.csv"
    pd.DataFrame(rows, columns=HEADER).to_csv(path, index=False)
    read = read_export(path)
    assert len(read.rejects) == 0
    assert read.transactions["document_id"].tolist() == ["#1001"]
    assert read.transactions["customer_id"].tolist() == ["#N/A-2"]


def test_spreadsheet_errors_matches_a_plain_python_check():
    # the buffer pre-check must find every error value a plain comparison finds: padded,
    # lower case, after a no-break space, in chunks and slices, beside missing cells
    import numpy as np
    import pyarrow as pa

    from arinsights.ingest.parsing import SPREADSHEET_ERRORS
    from arinsights.ingest.readers._base import spreadsheet_errors

    rng = np.random.default_rng(3)
    pool = ["#N/A", " #ref! ", "\u00a0#VALUE!", "#DIV/0!\t", "#1001", "N/A", "#N/A-2", "", "Acme", "Ünï",
            "#NAME?", "x #N/A", "#n/a", "\u3000#NUM!"]
    cells = [None if rng.random() < 0.05 else pool[i] for i in rng.integers(0, len(pool), 3000)]

    def expected(values):
        return np.array([v is not None and v.strip().upper() in SPREADSHEET_ERRORS for v in values])

    arr = pa.array(cells, type=pa.string())
    for values, col in [(cells, arr), (cells[100:2900], arr.slice(100, 2800)),
                        (cells, pa.chunked_array([arr.slice(0, 1000), arr.slice(1000)])),
                        (cells, arr.cast(pa.large_string()))]:
        got = spreadsheet_errors(col)
        assert got is not None and got.tolist() == expected(values).tolist()
    assert spreadsheet_errors(pa.array(["Acme", "#1001", "", None, "N/A"])) is None
    # the reasons' check of a few Python strings agrees
    from arinsights.ingest.readers._base import _is_error_text

    assert _is_error_text(np.array(cells, dtype=object)).tolist() == expected(cells).tolist()


def test_error_cells_among_real_date_and_number_cells(tmp_path):
    # a workbook as Excel keeps it: dates and amounts are typed cells, and an error cell sits
    # in a date or number column (the engines read it as an empty date or number)
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Type", "Date", "Number", "Customer", "Due Date", "Amount"])
    ws.append(["Invoice", dt.datetime(2024, 7, 1), "0001", "Acme", dt.datetime(2024, 7, 31), 100.0])
    ws.append(["Invoice", dt.datetime(2024, 7, 2), "0002", "Acme", "#N/A", 200.0])
    ws.append(["Invoice", dt.datetime(2024, 7, 3), 3, "Bob", dt.datetime(2024, 8, 2), "#VALUE!"])
    ws.append(["Invoice", "#REF!", 4, "Bob", dt.datetime(2024, 8, 2), 50.0])
    wb.save(tmp_path / "l.xlsx")
    led = load_ledger(tmp_path / "l.xlsx")
    assert led.invoices["invoice_id"].tolist() == ["0001"]
    reasons = dict(zip(led.rejects["row"], led.rejects["reason"]))
    assert reasons[3].startswith("Due Date '#N/A' is a spreadsheet error, not a date")
    assert reasons[4].startswith("Amount '#VALUE!' is a spreadsheet error, not an amount")
    assert reasons[5].startswith("Date '#REF!' is a spreadsheet error, not a date")
