"""The Arrow lane of read_export (regular text files read as Arrow string arrays, never as
one Python string per cell) gives exactly what the general lane (the object grid of
``grid_cells``) gives: same transactions, skipped rows, rejects, notes and errors.

Reference: the general lane itself, obtained by switching the Arrow lane off with
monkeypatch (``arrow_cells`` -> None), and the C-parser path of ``read_grid`` (the
behaviour before any fast path existed). The parsers are also fed the same tricky cells
as object strings and as Arrow-backed strings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from arinsights.errors import InputError
from arinsights.ingest import readers, textio
from arinsights.ingest.parsing import parse_amounts, parse_date_columns, parse_flags
from arinsights.ingest.readers import _base, read_export

HEADER = "Type,Date,Number,Customer,Due Date,Amount,Applied To,Currency,Disputed"

#: cells chosen to hit every branch: blanks, padding, brackets, signs, "no value" words,
#: unknown types, missing ids, totals, a repeated header and a blank line
TRICKY_ROWS = [
    'Invoice,07/01/2024,0001,Acme,07/31/2024,"$1,250.00",,USD,No',
    'Invoice, 07/15/2024 , 0002 ,  Acme  Corp ,08/14/2024,($40.00),,,Yes',
    'Payment,07/20/2024,P-1,Acme,,"1,234.56",0001,usd,',
    'Credit Memo,2024-07-21,CM-1,Acme,,-12.50,0001,EUR,',
    'Invoice,21 Jul 2024,0003,Bob,"Jul 30, 2024",-,,,',
    'Invoice,07/22/2024,0004,Bob,08/21/2024,n/a,,,',
    'Invoice,07/23/2024,,Bob,08/22/2024,99.00,,,',
    'Refund,07/24/2024,R-1,Bob,,10.00,,,',
    'Invoice,,0005,Carol,08/22/2024,10.00,,,',
    'Invoice,02/30/2025,0006,Carol,03/30/2025,10.00,,,',
    'Invoice,07/25/2024,0007,,08/24/2024,10.00,,,',
    'Invoice,07/26/2024,0008,Dan,08/25/2024,#VALUE!,,,',
    'Invoice,07/27/2024,0009,Dan,08/26/2024,$ 12.00,,XX,',
    'Invoice,07/28/2024,0010,Dan,08/27/2024,"1,000,000,000,000.00",,,',
    'Invoice,20240729,0011,Eve,45520,12.5 CR,,,',
    'Invoice,"Monday, July 29, 2024",0012,Eve,08/28/2024,"$1,250.00",,,',
    '',
    HEADER,
    ',,,,,"$9,999.99",,,',
    'Total,,,,,"$9,999.99",,,',
    'Invoice,07/30/2024,0013,Eve,08/29/2024, ,,,',
    'Payment,07/31/2024,P-2,Eve,,"(1,000.00)",0013,,',
]


def _write(tmp_path, rows, name="ledger.csv", title="Transaction List by Date,,,,,,,,"):
    lines = ([title] if title is not None else []) + [HEADER] + rows
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _outcome(path, **kwargs):
    try:
        r = read_export(path, **kwargs)
    except InputError as exc:
        return ("error", str(exc))
    frames = [r.transactions, r.skipped, r.rejects]
    return ("ok", r.layout, r.rows_read, r.notes,
            [f.astype(object).where(f.notna(), None).to_dict("list") for f in frames],
            [[str(d) for d in f.dtypes] for f in frames])


def _lanes(path, monkeypatch, **kwargs):
    grid = textio.read_grid(path)
    assert _base.arrow_cells(grid) is not None  # the Arrow lane is taken
    fast = _outcome(path, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(readers, "arrow_cells", lambda grid: None)
        general = _outcome(path, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(textio, "_read_text_arrow", lambda *a, **k: None)
        c_parser = _outcome(path, **kwargs)
    return fast, general, c_parser


def test_tricky_cells_read_the_same_in_both_lanes(tmp_path, monkeypatch):
    fast, general, c_parser = _lanes(_write(tmp_path, TRICKY_ROWS), monkeypatch)
    assert fast[0] == "ok", fast
    assert fast == general == c_parser
    # hand-checked spots: a bracketed payment, the padded customer, the rejects
    tx = pd.DataFrame(fast[4][0])
    assert tx.loc[tx["document_id"] == "P-2", "amount"].tolist() == [1000.0]
    assert tx.loc[tx["document_id"] == "0001", ["customer_id", "currency"]].values.tolist() == [["Acme", "USD"]]
    rejects = pd.DataFrame(fast[4][2])
    assert any("negative invoice amount" in r for r in rejects["reason"])
    assert any("'n/a' is not an amount (it means no value)" in r for r in rejects["reason"])
    assert any("unknown transaction type 'Refund'" in r for r in rejects["reason"])


def test_text_columns_have_pandas_default_text_dtype(tmp_path):
    # Arrow-backed "str" where that is pandas' default (pandas >= 3), object otherwise; the
    # same in every lane (checked above), missing ids stay missing
    r = read_export(_write(tmp_path, TRICKY_ROWS))
    default = pd.Series(["a"]).dtype
    text = {"transactions": ["source", "file", "kind", "document_id", "customer_id", "customer_name",
                             "currency", "applied_to", "line_of"],
            "skipped": ["file", "rule"], "rejects": ["source", "file", "reason", "raw"]}
    for name, columns in text.items():
        frame = getattr(r, name)
        for col in columns:
            assert frame[col].dtype == default, (name, col, frame[col].dtype)
    tx = r.transactions
    assert tx["applied_to"].isna().sum() == (tx["kind"] == "invoice").sum()
    assert tx["source"].iloc[0] == f"{Path(tx['file'].iloc[0]).name}:{tx['row'].iloc[0]}"


@pytest.mark.parametrize("rows", [
    ['Invoice,03/04/2024,0001,Acme,04/04/2024,10.00,,,'],                      # ambiguous dd/mm
    ['Invoice,17/03/2024,0001,Acme,04/04/2024,10.00,,,',
     'Invoice,03/17/2024,0002,Acme,04/04/2024,10.00,,,'],                      # both orders
    ['Invoice,17/03/2024,0001,Acme,17/04/2024,"1.234,56",,,',
     'Invoice,18/03/2024,0002,Acme,18/04/2024,"1,234.56",,,'],                 # both decimal marks
    ['Invoice,17/03/2024,0001,Acme,17/04/2024,"1,234",,,'],                    # ambiguous separator
])
def test_errors_are_the_same_in_both_lanes(tmp_path, monkeypatch, rows):
    fast, general, c_parser = _lanes(_write(tmp_path, rows), monkeypatch)
    assert fast[0] == "error", fast
    assert fast == general == c_parser


def test_mapped_file_reads_the_same_in_both_lanes(tmp_path, monkeypatch):
    path = tmp_path / "mapped.csv"
    path.write_text("Doc;Amt;Client;When\nA1;1.234,56;Acme;17.03.2024\nA2;12,00;Bob ;18.03.2024\n\nA3;-;Bob;\n",
                    encoding="utf-8")
    mapping = tmp_path / "map.toml"
    mapping.write_text('layout = "invoices"\n[columns]\ndocument_id = "Doc"\namount = "Amt"\n'
                       'customer_id = "Client"\ndocument_date = "When"\n', encoding="utf-8")
    fast, general, c_parser = _lanes(path, monkeypatch, mapping=mapping)
    assert fast[0] == "ok", fast
    assert fast == general == c_parser


AMOUNT_CELLS = ["", " ", "($40.00)", "$1,250.00", "-", "n/a", "NULL", "1,234.56", "-1234.5", "12.5",
                "1250", "40.00 CR", "EUR 1,200.00", "1,200.00 USD", "+5", "--5", "(5", "$", "abc",
                "1e3", ".5", "1 234.50", "1'234.56", "$-5.00", "-$5.00", "US$ 5.00", "5.00-", "XYZ 5.00"]
COMMA_CELLS = ["1.234,56", "12,50", "1.234,56-", "-", "n/a", "", "€ 1.200,00", "1 234,50", "(1.000,00)"]
DATE_CELLS = ["2025-03-02", "2025/03/02", "17/03/2025", "17.03.25", "1/2/2013", "05-Feb-19", "15 Jul 2026",
              "Jul 15, 2026", "Thursday, July 30, 2026", "20190205", "20190205.0", "45123", "00.00.0000",
              "", " ", "n/a", "soon", "31/02/2025", "2025-03-02T10:00:00Z", "17/03/2025 04:19 PM"]


def _arrow_series(values):
    return pd.Series(pd.arrays.ArrowStringArray(pa.array(values, type=pa.string())),
                     dtype=pd.StringDtype("pyarrow"))


def _amount_outcome(values, **kwargs):
    try:
        r = parse_amounts(values, **kwargs)
    except InputError as exc:
        return ("error", str(exc))
    return (_no_nan(r.values), r.failed.tolist(), r.currency.tolist(), r.decimal, r.note)


def _no_nan(values: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in values.tolist()]


@pytest.mark.parametrize("cells, decimal", [(AMOUNT_CELLS, None), (COMMA_CELLS, None), (COMMA_CELLS, ","),
                                            (AMOUNT_CELLS, ","), (["1,234", "", "-"], None)])
def test_parse_amounts_same_on_objects_and_arrow_strings(cells, decimal):
    rows = np.arange(2, len(cells) + 2)
    obj = _amount_outcome(pd.Series(cells * 3, dtype=object), decimal=decimal, column="Amount",
                          rows=np.tile(rows, 3))
    arrow = _amount_outcome(_arrow_series(cells * 3), decimal=decimal, column="Amount", rows=np.tile(rows, 3))
    assert obj == arrow


@pytest.mark.parametrize("order", [None, "dayfirst"])
def test_parse_dates_same_on_objects_and_arrow_strings(order):
    def outcome(make):
        frame = pd.DataFrame({"a": make(DATE_CELLS), "b": make(DATE_CELLS[::-1])})
        try:
            res = parse_date_columns(frame, ["a", "b"], order=order, file="f.csv")
        except InputError as exc:
            return ("error", str(exc))
        return [(_no_nan(r.values), r.failed.tolist(), r.order, r.note) for r in res.values()]

    assert outcome(lambda v: pd.Series(v, dtype=object)) == outcome(_arrow_series)


def test_parse_flags_same_on_objects_and_arrow_strings():
    cells = ["Yes", "no", "", "X", "TRUE", "0", "n/a"]
    assert parse_flags(pd.Series(cells, dtype=object)).tolist() == parse_flags(_arrow_series(cells)).tolist()


def test_blank_lines_are_put_back_as_empty_rows(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("\n\na,b\n\n\nc,d\ne,f\n\ng,h\n\n", encoding="utf-8")
    g = textio.read_grid(path)
    assert g.arrow is not None
    assert g.cells.to_numpy().tolist() == [["", ""], ["", ""], ["a", "b"], ["", ""], ["", ""], ["c", "d"],
                                           ["e", "f"], ["", ""], ["g", "h"], ["", ""]]
    assert g.rows.tolist() == list(range(1, 11))


def test_many_blank_lines_read_as_the_c_parser_path_does(tmp_path, monkeypatch):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i}\n\n" for i in range(1500)), encoding="utf-8")
    fast = textio.read_grid(path)
    assert fast.arrow is not None
    with monkeypatch.context() as m:
        m.setattr(textio, "_read_text_arrow", lambda *a, **k: None)
        slow = textio.read_grid(path)
    assert fast.cells.to_numpy().tolist() == slow.cells.to_numpy().tolist()
    assert fast.rows.tolist() == slow.rows.tolist()


def test_parse_amounts_same_when_values_are_mostly_distinct():
    # many distinct Arrow-backed amounts skip the factorisation; the outcome is the same as
    # on objects (which are factorised), including the error and note examples
    base = [f"${i:,}.{i % 100:02d}" for i in range(1, 3000)]
    for cells in (base + AMOUNT_CELLS, base + COMMA_CELLS + ["", None], base + ["1.234,56"]):
        rows = np.arange(2, len(cells) + 2)
        obj = _amount_outcome(pd.Series(cells, dtype=object), column="Amount", rows=rows)
        arrow = _amount_outcome(_arrow_series(cells), column="Amount", rows=rows)
        assert obj == arrow


def test_trim_check_from_the_buffers_agrees_with_arrow_trim():
    """``_trimmed`` skips the trim of chunks whose cells' first and last bytes are printable
    ASCII: the result is always ``utf8_trim_whitespace`` (slices, chunks, Unicode spaces)."""
    import pyarrow.compute as pc

    cells = ["abc", "  x", "de ", "\tf", "g\n", "h\xa0", "\u2003i", "é", "ü ", "", "j k", "\x1fl",
             "m\x7f", "n\u3000"]
    plain = pa.array(["abc", "", "x y", "1,250.00", "Z"] * 3, type=pa.string())
    for values in (pa.array(cells, type=pa.string()), plain, pa.array(cells, type=pa.large_string())):
        for off in range(len(values)):
            for length in range(len(values) - off + 1):
                part = values.slice(off, length)
                assert _base._trimmed(part).equals(pc.utf8_trim_whitespace(part))
        chunked = pa.chunked_array([values.slice(0, 3), plain.cast(values.type), values.slice(3)])
        assert _base._trimmed(chunked).equals(pc.utf8_trim_whitespace(chunked))
    assert _base._trimmed(plain) is plain  # nothing to trim: no copy
    padded = pd.Series([" 1.50", "2.00 ", "3"], dtype=pd.StringDtype("pyarrow"))
    assert parse_amounts(padded).values.tolist() == [1.5, 2.0, 3.0]


def test_squash_shortcut_on_distinct_names():
    names = pa.array(["Acme  Corp", "Bob", "Carol\tLtd", "Dan\xa0Co", "Eve Inc"] * 3)
    squashed = _base._squash_unique(names).to_pylist()
    assert squashed == ["Acme Corp", "Bob", "Carol Ltd", "Dan Co", "Eve Inc"] * 3
    clean = pa.array(["Acme Corp", "Bob", " Eve"] * 3)
    assert _base._squash_unique(clean) is clean


def test_empty_from_offsets_agrees_with_arrow():
    import pyarrow.compute as pc

    base = pa.array(["", "a", "", "bc", "", ""])
    for off in range(len(base)):
        for length in range(len(base) - off + 1):
            part = base.slice(off, length)
            for col in (part, pa.chunked_array([part, base]), pa.chunked_array([part]),
                        pa.array(["", None, "x"])):
                ref = pc.equal(pc.binary_length(col), 0).to_numpy(zero_copy_only=False)
                got = _base._empty(col)
                assert got.dtype == ref.dtype and got.tolist() == ref.tolist()


# --- SAP pipe lists and Xero invoices: Arrow reader == object reader == C-parser path -----

FIXTURES = Path(__file__).parent / "fixtures"


def _layout_lanes(path, monkeypatch, recognised=True):
    """read_export three ways: the Arrow lane with the Arrow reader, the Arrow lane with the
    object reader, and the C-parser path (the behaviour before either)."""
    grid = textio.read_grid(path)
    assert grid.arrow is not None and _base.arrow_cells(grid) is not None

    def no_objects(grid):
        raise AssertionError("the Arrow lane made the object grid")

    with monkeypatch.context() as m:
        if recognised:  # (an unrecognised file goes on to the object lane, for its error)
            m.setattr(readers, "grid_cells", no_objects)
        fast = _outcome(path)
    with monkeypatch.context() as m:
        m.setattr(readers, "arrow_cells", lambda grid: None)
        general = _outcome(path)
    with monkeypatch.context() as m:
        m.setattr(textio, "_read_pipes_arrow", lambda *a, **k: None)
        m.setattr(textio, "_read_text_arrow", lambda *a, **k: None)
        c_parser = _outcome(path)
    return fast, general, c_parser


@pytest.mark.parametrize("name, outcome", [("layouts/sap_en.txt", "ok"), ("layouts/sap_de.txt", "ok"),
                                           ("textio/sap_fbl5n.txt", "error")])  # too few SAP columns
def test_sap_lists_read_the_same_in_every_lane(name, outcome, monkeypatch):
    fast, general, c_parser = _layout_lanes(FIXTURES / name, monkeypatch, recognised=outcome == "ok")
    assert fast[0] == outcome and (outcome == "error" or fast[1] == "sap_fbl5n")
    assert fast == general == c_parser


def test_sap_list_with_page_breaks_and_bad_rows_reads_the_same_in_every_lane(tmp_path, monkeypatch):
    # many title/ruler lines (page breaks repeat the header): more than the interleave's
    # slicing limit, so the take branch is used; plus an unknown document type, a bad date,
    # a bad amount and an indented item
    src = (FIXTURES / "layouts/sap_en.txt").read_text(encoding="utf-8").splitlines()
    header, items = src[4], [ln for ln in src if ln.startswith("|   | 00001")]
    lines = ["Customer Line Item Display", ""]
    for page in range(700):
        lines += [f"Page {page + 1}", "-" * 40, header, "|" + "-" * 40 + "|"]
        lines += [it.replace("0090000001", f"09{page:08d}").replace("1400000001", f"14{page:08d}") for it in items]
    lines += ["|   | 0000100003|     |      0090999999|XX            |    03.03.2025|   03.03.2025|   02.04.2025|"
              "   |      1,00|EUR  |    |    |x   |    |",
              "|   | 0000100003|     |      0090999998|RV            |    31.02.2025|   03.03.2025|   02.04.2025|"
              "   |      abc|EUR  |    |    |x   |    |",
              "  |   | 0000100003|     |      0090999997|RV            |    03.03.2025|   03.03.2025|   02.04.2025|"
              "   |      7,00|EUR  |    |    |x   |    |"]
    path = tmp_path / "fbl5n.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, general, c_parser = _layout_lanes(path, monkeypatch)
    assert fast[0] == "ok" and fast[1] == "sap_fbl5n"
    assert fast == general == c_parser
    rejects = pd.DataFrame(fast[4][2])
    assert any("document type 'XX'" in r for r in rejects["reason"])
    assert len(pd.DataFrame(fast[4][0])) == 700 * len(items) - 700 + 1  # the AB rows are rejected too


def test_xero_invoices_read_the_same_in_every_lane(tmp_path, monkeypatch):
    fast, general, c_parser = _layout_lanes(FIXTURES / "layouts/xero_invoices.csv", monkeypatch)
    assert fast[0] == "ok" and fast[1] == "xero_invoices"
    assert fast == general == c_parser
    skipped = pd.DataFrame(fast[4][1])
    assert {"status_voided", "status_draft"} <= set(skipped["rule"])
    rejects = pd.DataFrame(fast[4][2])
    assert any("supplier bill" in r for r in rejects["reason"])
