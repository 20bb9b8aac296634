"""The shortcuts of the read (kinds and currencies as codes into a small table, amounts
mapped back to the rows without a take when every row is its own value) give exactly what
the general code gives, on tricky inputs. No timing here: only agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arinsights.ingest.parsing import _parse_amounts, parse_amounts
from arinsights.ingest.readers import _base, read_export
from arinsights.schema import KIND_CREDIT, KIND_INVOICE, KIND_PAYMENT

#: amount cells of every form the parser reads (and some it does not), with a decimal point
POINT_CELLS = ["$1,250.00", "($40.00)", "-$1,234.56", "1,234.56-", "(1,234.56)", "-12.50", "12.50-",
               "EUR 1,200.00", "1,200.00 USD", "€12.00", "£3.50", "¥100", "₹1,00,000.50", "C$ 5.25",
               "40.00 CR", "40.00 DR", "1 234.56", "1'234.56", "1\u00a0234.56", "  7.00  ", "", " ", "n/a",
               "nan", "abc", "#VALUE!", "1.2.3", "--5", "+5", "5e3", "1e999", "$-5", "XX 5.00", "１２.５",
               "0.5", ".5", "1,234,567.891", "99", "12345678901234567890"]
#: the same with a decimal comma
COMMA_CELLS = ["1.250,00", "(40,00)", "-1.234,56", "1.234,56-", "EUR 1.200,00", "1 234,56", "12,50 €",
               "40,00 CR", "", " ", "n/a", "abc", "0,5", "99", "1.234.567,8", "7,00-"]


def _arrow_text(values):
    return pd.Series(pd.array(values, dtype=pd.StringDtype("pyarrow")))


def _same_parse(a, b):
    np.testing.assert_array_equal(a.values.to_numpy(), b.values.to_numpy())
    np.testing.assert_array_equal(a.failed.to_numpy(), b.failed.to_numpy())
    assert a.currency.tolist() == b.currency.tolist()
    assert (a.decimal, a.note) == (b.decimal, b.note)


@pytest.mark.parametrize("cells,decimal", [(POINT_CELLS, None), (POINT_CELLS, "."), (COMMA_CELLS, None),
                                           (COMMA_CELLS, ",")])
@pytest.mark.parametrize("arrow", [True, False])
def test_currency_codes_agree_with_currency_column(cells, decimal, arrow):
    values = _arrow_text(cells) if arrow else pd.Series(cells, dtype=object)
    parsed = parse_amounts(values, decimal=decimal, column="Amount", file="f.csv")
    coded, codes, names = _parse_amounts(values, decimal=decimal, column="Amount", file="f.csv")
    assert coded.currency is None
    assert [names[c] if c >= 0 else None for c in codes] == parsed.currency.tolist()
    np.testing.assert_array_equal(coded.values.to_numpy(), parsed.values.to_numpy())
    np.testing.assert_array_equal(coded.failed.to_numpy(), parsed.failed.to_numpy())
    assert (coded.decimal, coded.note) == (parsed.decimal, parsed.note)


@pytest.mark.parametrize("cells,decimal", [(POINT_CELLS, None), (COMMA_CELLS, ",")])
def test_rows_without_a_take_agree_with_the_take(cells, decimal):
    """Many distinct cells, none missing: each row is its own value (no take back to the
    rows); the same cells with one missing cell go through the take. Same results."""
    rng = np.random.default_rng(5)
    sep = "." if decimal is None else ","
    numbers = [f"{v}{sep}{c:02d}" for v, c in zip(rng.integers(0, 10**6, 3000), rng.integers(0, 100, 3000))]
    distinct = list(dict.fromkeys(cells + numbers))
    every = _arrow_text(distinct)
    with_missing = _arrow_text(distinct + [None])
    a = parse_amounts(every, decimal=decimal, column="Amount", file="f.csv")
    b = parse_amounts(with_missing, decimal=decimal, column="Amount", file="f.csv")
    n = len(distinct)
    np.testing.assert_array_equal(a.values.to_numpy(), b.values.to_numpy()[:n])
    np.testing.assert_array_equal(a.failed.to_numpy(), b.failed.to_numpy()[:n])
    assert a.currency.tolist() == b.currency.tolist()[:n]
    assert np.isnan(b.values.iloc[-1]) and not b.failed.iloc[-1] and b.currency.iloc[-1] is None
    assert a.decimal == b.decimal
    # and object strings (pandas' factorize) agree with Arrow strings
    _same_parse(a, parse_amounts(pd.Series(distinct, dtype=object), decimal=decimal, column="Amount",
                                 file="f.csv"))


def test_errors_are_the_same_through_the_codes():
    values = _arrow_text(["1.234,56", "1,234.56"])
    with pytest.raises(Exception) as one:
        parse_amounts(values, column="Amount", file="f.csv")
    with pytest.raises(Exception) as two:
        _parse_amounts(values, column="Amount", file="f.csv")
    assert str(one.value) == str(two.value)


KINDS = [KIND_INVOICE, None, KIND_PAYMENT, KIND_CREDIT, None, KIND_INVOICE, KIND_PAYMENT]


@pytest.mark.parametrize("rows", [slice(None), [0, 2, 3, 6], [1, 4], []])
def test_kind_codes_of_categorical_and_object_kinds_agree(rows):
    idx = np.arange(len(KINDS))[rows]
    as_objects = pd.Series(np.array(KINDS, dtype=object), dtype=object)
    found = [k for k in dict.fromkeys(KINDS) if k is not None]
    as_codes = pd.Series(pd.Categorical.from_codes([found.index(k) if k else -1 for k in KINDS],
                                                   categories=pd.Index(found, dtype=object)))
    for kinds in (as_objects, as_codes):
        codes, table = _base._kind_codes(kinds, idx)
        assert table[-1] is None
        assert list(table.take(codes)) == [KINDS[i] for i in idx]
        out = _base._kinds_text(table, codes)
        assert [None if pd.isna(v) else v for v in pd.Series(out).tolist()] == [KINDS[i] for i in idx]


def test_kinds_of_column_is_the_table_lookup():
    cells = pd.DataFrame({0: ["Type", "Invoice", "INVOICE ", "Payment", "Refund", "", "Credit Memo"]})
    from arinsights.ingest.readers.tabular import TRANSACTION_TYPES
    general = _base.kinds_from_values(cells.iloc[:, 0], TRANSACTION_TYPES)
    arrow = _base.ArrowCells([pa_strings(cells[0].str.strip().tolist())], len(cells))
    fast = _base.kinds_of_column(arrow, 0, TRANSACTION_TYPES)
    assert [None if pd.isna(v) else v for v in fast.astype(object)] == general.tolist()


def pa_strings(values):
    import pyarrow as pa
    return pa.array(values, type=pa.string())


def test_read_export_kinds_currencies_and_credit_flip(tmp_path):
    """A transaction list (kinds from the type column) and a mapped invoice list whose
    negative amounts become credit notes (the flip adds "credit" to the kinds' table)."""
    path = tmp_path / "tx.csv"
    path.write_text("Type,Date,Number,Customer,Due Date,Amount,Applied To\n"
                    "Invoice,07/01/2024,1,Acme,07/31/2024,\"$1,250.00\",\n"
                    "Payment,07/02/2024,P1,Acme,,EUR 10.00,1\n"
                    "Refund,07/02/2024,R1,Acme,,10.00,1\n"
                    "Credit Memo,07/03/2024,C1,Acme,,(5.00),1\n"
                    "Invoice,07/04/2024,2,Bob,08/03/2024,12.00 GBP,\n", encoding="utf-8")
    res = read_export(path)
    tx = res.transactions
    assert tx["kind"].tolist() == [KIND_INVOICE, KIND_PAYMENT, KIND_CREDIT, KIND_INVOICE]
    assert tx["currency"].tolist() == ["USD", "EUR", "USD", "GBP"]
    assert res.rejects["reason"].str.contains("Refund").all() and len(res.rejects) == 1
    assert tx["kind"].dtype == pd.Series(["a"]).dtype and tx["currency"].dtype == pd.Series(["a"]).dtype

    inv = tmp_path / "inv.csv"
    inv.write_text("Invoice,Customer,Date,Due,Amount\nI1,Acme,2024-07-01,2024-07-31,100.00\n"
                   "I2,Acme,2024-07-02,2024-08-01,-20.00\nI3,Bob,2024-07-03,2024-08-02,\n", encoding="utf-8")
    res = read_export(inv)
    assert res.transactions["kind"].tolist() == [KIND_INVOICE, KIND_CREDIT]
    assert res.transactions["amount"].tolist() == [100.0, 20.0]
    assert any("credit notes" in n for n in res.notes)


NAMES = ["Acme Corp", "Acme  Corp", "Acme\tCorp", "Acme\nCorp", "Acme\r\nCorp", "Acme\u00a0Corp", "Acme\fCorp",
         "Acme\x0bCorp", "Café Noir", "Ünïcode  Name", "A B C", " Leading", "Trailing ", "", "Ω", "a\u3000b",
         "x" * 300 + "  y", "Acme \u00a0Corp"]


@pytest.mark.parametrize("block", [3, 1 << 20])
def test_plain_spaces_never_hides_a_name_to_squash(monkeypatch, block):
    """The byte check says "nothing to collapse" only when Arrow's regex finds nothing
    either, and the squashed names are the same as with the check off."""
    import pyarrow as pa
    import pyarrow.compute as pc
    monkeypatch.setattr(_base, "_SPACE_BLOCK", block)
    pattern = r"\s\s|[\t\r\n\xa0]"
    for name in NAMES:
        for values in (pa.array(["Plain Name", name, None], pa.string()),
                       pa.chunked_array([pa.array(["Plain"], pa.large_string()),
                                         pa.array([name, "B"], pa.large_string()).slice(0, 1)])):
            if _base._plain_spaces(values):
                assert not pc.any(pc.match_substring_regex(values, pattern)).as_py(), repr(name)
            fast = _base._squash_unique(values)
            with monkeypatch.context() as m:
                m.setattr(_base, "_plain_spaces", lambda v: False)
                slow = _base._squash_unique(values)
            assert fast.to_pylist() == slow.to_pylist()
    assert _base._plain_spaces(pa.array(["Acme Corp", "Blue Glass Inc 2", ""], pa.string()))


@pytest.mark.parametrize("file", ["ledger.csv", "/tmp/dir with space/é:ü.csv", "C:\\exports\\ar.csv", ""])
def test_sources_are_file_colon_row(file):
    """``_sources`` (the row numbers' texts with the prefix inserted, large_string) gives
    the texts of the plain join, and the output columns keep their dtype."""
    import pyarrow as pa
    import pyarrow.compute as pc
    rows = np.array([1, 2, 9, 10, 99, 100, 12345, 10**12], dtype=np.int64)
    joined = pc.binary_join_element_wise(pa.scalar(file, pa.string()), pc.cast(pa.array(rows), pa.string()), ":")
    got = _base._sources(file, rows)
    assert got.to_pylist() == joined.to_pylist() == [f"{file}:{r}" for r in rows]
    assert _base._sources(file, rows[:0]).to_pylist() == []
    out = _base._out_text(got)
    assert pd.Series(out).tolist() == [f"{file}:{r}" for r in rows]
    assert pd.Series(out).dtype == pd.Series(["a"]).dtype
    rep = _base._out_repeat(file, 3)
    assert pd.Series(rep).tolist() == [file] * 3 and pd.Series(rep).dtype == pd.Series(["a"]).dtype


def test_ids_blanks_missing_agrees_with_if_else():
    """Blank ids become missing through a validity bitmap over the same buffers (sliced
    chunks, all-blank chunks, no blank at all): the same as Arrow's if_else."""
    import pyarrow as pa
    import pyarrow.compute as pc
    cases = [
        pa.chunked_array([pa.array(["x", "", "y", "", "z"], pa.string()).slice(1, 3), pa.array(["", "ü"]),
                          pa.array(["q", ""])]),
        pa.array(["", "", ""], pa.string()),
        pa.repeat(pa.scalar("", pa.string()), 5),
        pa.array(["a", "b"], pa.string()),
        pa.array(["", None, "a"], pa.string()),
        pa.array(["", "a"], pa.large_string()),
        pa.chunked_array([pa.array(["0001", "", "INV-9"])] * 3),
    ]
    for values in cases:
        want = pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)
        got = pd.Series(_base._ids(values))
        assert [None if pd.isna(v) else v for v in got] == want.to_pylist()
        assert got.dtype == pd.Series(["a"]).dtype or got.dtype == object


def test_only_keeps_the_kept_values_aligned():
    """``_only`` (the fast amounts alone, the others missing, no copy) equals the filter's
    values at the kept positions, also for sliced arrays and arrays with missing values
    (the copying fallback)."""
    import pyarrow as pa
    from arinsights.ingest.parsing import _only
    base = pa.array(["$1.00", "abc", "(2.50)", "", "-3", "x"] * 3, pa.string())
    for src in (base, base.slice(2, 9), pa.array(["1", None, "2", "3"], pa.string()),
                pa.array(["1", "b", "2"], pa.large_string())):
        keep = np.array([i % 2 == 0 for i in range(len(src))])
        got = _only(src, keep)
        assert len(got) == len(src) and got.type == src.type
        assert [v for v, k in zip(got.to_pylist(), keep) if k] == src.filter(pa.array(keep)).to_pylist()
        assert all(v is None for v, k in zip(got.to_pylist(), keep) if not k)
