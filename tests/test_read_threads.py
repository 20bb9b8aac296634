"""The read's steps that run side by side on large files (:func:`arinsights._parallel.together`:
the amounts beside the other data-row columns, the two halves of the amount column, the
source/file output columns beside the others) give exactly what the same steps give one
after the other: the same frames, notes and reasons in the same order, and the same error
when the input is bad. The threaded path is forced on small files (``MIN_ROWS`` = 0, one
worker); the sequential one by a ``MIN_ROWS`` no file reaches. No timing here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import arinsights._parallel as par
from arinsights.errors import InputError
from arinsights.ingest import parsing
from arinsights.ingest.parsing import _parse_amounts
from arinsights.ingest.readers import read_export

_spec = importlib.util.spec_from_file_location("bad_corpus", Path(__file__).parent / "fixtures" / "bad" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bad_corpus", corpus)
_spec.loader.exec_module(corpus)


def _threads(monkeypatch, on: bool) -> list:
    """Force the threaded (``on``) or the sequential path; returns the list of the steps
    handed to the pool (to prove the threads were used)."""
    submitted: list = []
    if on:
        monkeypatch.setattr(par, "MIN_ROWS", 0)
        monkeypatch.setattr(par, "_workers", lambda: 1)
        real = par.ThreadPoolExecutor.submit
        monkeypatch.setattr(par.ThreadPoolExecutor, "submit",
                            lambda self, fn: submitted.append(fn) or real(self, fn))
    else:
        monkeypatch.setattr(par, "MIN_ROWS", 10 ** 12)
    return submitted


def _outcome(fn):
    """The ReadResult's frames and notes, or the error message."""
    try:
        res = fn()
    except InputError as exc:
        return str(exc)
    return res


def _assert_same(a, b):
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    for name in ("transactions", "skipped", "rejects"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert (a.layout, a.rows_read, a.notes) == (b.layout, b.rows_read, b.notes)


def _both(monkeypatch, fn):
    """``fn()`` in sequence, then on threads (asserting the pool was used)."""
    _threads(monkeypatch, False)
    one = _outcome(fn)
    submitted = _threads(monkeypatch, True)
    two = _outcome(fn)
    assert submitted, "no step ran on a thread"
    return one, two


#: a transaction list with one or more problems on most rows, several per row (their order
#: in the reason is the order of the checks), an unnamed trailing value, structural rows
MESSY = (
    "Transaction List by Date,,,,,,\n"
    "Type,Date,Number,Customer,Due Date,Amount,Applied To\n"
    "Invoice,07/01/2024,0001,Acme,07/31/2024,\"$1,250.00\",\n"
    "Invoice,07/02/2024,0002,Acme,07/31/2024,-$40.00,\n"                # negative invoice
    "Refund,07/03/2024,,  Beta   Co ,07/31/2024,abc,\n"                  # type, amount, (name squashed)
    "Invoice,02/30/2024,,,,n/a,\n"                                       # date, no value, customer, number
    "Payment,,P-1,Gamma,,\"$2,000,000,000,000.00\",0001\n"             # missing date, too large
    "Invoice,07/04/2024,0003,Delta,07/31/2024,,\n"                       # missing amount
    "Credit Memo,07/05/2024,C-1,Acme,,(12.50),0002\n"
    "Invoice,07/06/2024,0004,Acme,08/05/2024,17.5,,extra\n"              # a value after the last column
    "Payment,07/07/2024,P-2,Beta Co,,\"1,234.56\",0001\n"
    "Total,,,,,\"$2,000.00\",\n"
    "\n"
    "Invoice,07/08/2024,0005,Acme,08/07/2024,#VALUE!,\n"
)


def test_messy_transaction_list_is_the_same_on_threads(tmp_path, monkeypatch):
    p = tmp_path / "ledger.csv"
    p.write_text(MESSY)
    one, two = _both(monkeypatch, lambda: read_export(p))
    _assert_same(one, two)
    # the file really has several reasons on a row and notes from both sides of the split
    assert any("; " in r for r in one.rejects["reason"])
    assert any(n.startswith("decimal point") for n in one.notes)


@pytest.mark.parametrize("name", sorted(corpus.CASES))
def test_bad_input_corpus_reads_the_same_on_threads(name, tmp_path, monkeypatch):
    case = corpus.CASES[name]
    paths, mapping = corpus.materialise(case, tmp_path)
    for path in paths:
        if not path.is_file():
            continue
        one = _outcome(lambda: read_export(path, mapping=mapping))
        _threads(monkeypatch, True)
        two = _outcome(lambda: read_export(path, mapping=mapping))
        _threads(monkeypatch, False)
        _assert_same(one, two)


#: both decimal separators in the amounts AND year-first dates: sequentially the amounts
#: are read first, so theirs is the error
_AMOUNT_AND_DATE_ERRORS = (
    corpus.TX
    + "Invoice,24-07-15,1,Acme,24-08-14,\"1,234.56\",\n"
    + "Invoice,02-11-23,2,Acme,02-12-23,\"1.234,56\",\n"
    + "Invoice,25-01-30,3,Acme,25-03-01,10.00,\n"
)
#: dates both day-first and month-first AND a disputed flag that is not yes/no: the dates'
#: error comes first
_DATE_AND_FLAG_ERRORS = (
    corpus.GEN
    + "C1,I1,31/01/2024,07/31/2024,100.00,maybe,\n"
    + "C1,I2,02/11/2024,03/11/2024,100.00,No,\n"
)
_FLAG_ERROR = (
    corpus.GEN
    + "C1,I1,2024-07-15,2024-08-14,100.00,maybe,\n"
    + "C1,I2,2024-07-16,2024-08-15,100.00,No,\n"
)


@pytest.mark.parametrize("text, words", [
    (_AMOUNT_AND_DATE_ERRORS, "both a decimal point and a decimal comma"),
    (_DATE_AND_FLAG_ERRORS, "both day-first and month-first"),
    (_FLAG_ERROR, "expected yes/no values"),
])
def test_the_first_error_in_read_order_wins_on_threads(text, words, tmp_path, monkeypatch):
    p = tmp_path / "ledger.csv"
    p.write_text(text)
    one, two = _both(monkeypatch, lambda: read_export(p))
    assert isinstance(one, str) and words in one, one
    assert two == one


def _chunked(values: list, cuts: list[int]) -> pd.Series:
    """Arrow-backed text whose array has chunks cut at ``cuts`` (as the CSV reader gives
    them), one of them a slice with an offset."""
    arr = pa.array(values, type=pa.large_string())
    bounds = [0, *cuts, len(values)]
    chunks = [arr.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:])]
    # the last chunk sliced out of a longer array (an offset into its buffers)
    tail = pa.array(["pad", *values[bounds[-2]:]], type=pa.large_string()).slice(1)
    chunks[-1] = tail
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))


@pytest.mark.parametrize("decimal", [None, ".", ","])
def test_fast_amounts_in_chunks_on_threads_agree_with_the_full_chain(decimal, monkeypatch):
    """The fast path's chunk-by-chunk reading, halves on two threads, against the full chain
    (fast path off) on the whole column: same values, failures, currencies, decision, note
    (or error). Chunks: all fast, none fast, mixed, empty, sliced."""
    rng = np.random.default_rng(11)
    plain = [f"${v:,}.{c:02d}" for v, c in zip(rng.integers(0, 10 ** 7, 300), rng.integers(0, 100, 300))]
    odd = ["EUR 1.200,00", "abc", "", "n/a", "1,234.56-", "40.00 CR", "($40.00)", "-7", "1250", "0,50",
           "1e999", "99999999999999999999.99", "12.5", "1,234,567.891"]
    for extra in ([], ["0,50"], ["1.234,56"]):
        values = plain[:100] + odd + extra + plain[100:200] + odd[::-1] + plain[200:]
        cuts = [100, 100, 100 + len(odd), 150, len(values) - 120]
        series = _chunked(values, cuts)
        assert pa.array(series.array).num_chunks == len(cuts) + 1

        def run():
            try:
                res, codes, names = _parse_amounts(series, decimal=decimal, column="Amount", file="f.csv",
                                                   rows=np.arange(len(series)) + 2)
            except InputError as exc:
                return str(exc)
            return res.values.to_numpy(), res.failed.to_numpy(), [names[c] if c >= 0 else None for c in codes], \
                res.decimal, res.note

        monkeypatch.setattr(parsing, "_FAST_AMOUNTS", False)
        _threads(monkeypatch, False)
        full = run()
        monkeypatch.setattr(parsing, "_FAST_AMOUNTS", True)
        seq = run()
        submitted = _threads(monkeypatch, True)
        thr = run()
        assert submitted or isinstance(thr, str)
        for got in (seq, thr):
            if isinstance(full, str) or isinstance(got, str):
                assert got == full
                continue
            np.testing.assert_array_equal(got[0], full[0])
            assert (np.signbit(got[0]) == np.signbit(full[0])).all()
            np.testing.assert_array_equal(got[1], full[1])
            assert got[2:] == full[2:]
