"""The canonical row order of the invoice and payment tables.

The ledger comes out of :func:`~arinsights.ingest.ledger.load_ledger` in this order and
:func:`~arinsights.analysis.analyse` puts its input in it (only checking when it already
is), so the row order of an export never changes a result: floating-point sums depend on
the order they are added in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .schema import Invoices, Payments

def stable_argsort(key) -> np.ndarray:
    """``np.argsort(key, kind="stable")``, faster for integer keys spanning fewer than 2**48
    values (codes, ranks, positions, days and their combinations): numpy sorts 16-bit
    integers by radix sort, so such keys are sorted in stable passes over their 16-bit
    digits, lowest first (two passes: about twice as fast as numpy's stable sort of int64
    on a million rows; three: still faster)."""
    k = np.asarray(key)
    if k.dtype.kind not in "iu" or len(k) < 1 << 16:
        return np.argsort(k, kind="stable")
    if bool((k[1:] >= k[:-1]).all()):  # in order already (often: rows come in date order)
        return np.arange(len(k))
    lo, hi = int(k.min()), int(k.max())
    span = hi - lo
    if span >= 1 << 48:
        return np.argsort(k, kind="stable")
    u = (k - k.dtype.type(lo)).astype(np.uint64) if k.dtype.kind == "u" else (k.astype(np.int64) - lo).astype(np.uint64)
    order = np.argsort((u & 0xFFFF).astype(np.uint16), kind="stable")
    shift = 16
    while span >> shift:
        order = order[np.argsort(((u[order] >> np.uint64(shift)) & 0xFFFF).astype(np.uint16), kind="stable")]
        shift += 16
    return order


_INVOICE_KEYS = [Invoices.customer_id, Invoices.invoice_date, Invoices.invoice_id]
_PAYMENT_KEYS = [Payments.customer_id, Payments.payment_date, Payments.payment_id, Payments.invoice_id,
                 Payments.amount]


def _arrow_keys(frame: pd.DataFrame, keys: list[str]):
    """The key columns as one Arrow table (missing values as nulls), or None when a column
    does not convert (e.g. mixed types): then pandas sorts as before."""
    try:
        return pa.table({k: pa.array(frame[k], from_pandas=True) for k in keys})
    except (TypeError, ValueError, pa.ArrowException):
        return None


def _in_key_order(table) -> bool:
    """True when the rows of an Arrow table are sorted by its columns (missing values last,
    ties in any order): then a stable sort would not move a row. One pass comparing each
    row with the next, column by column."""
    n = table.num_rows
    if n < 2:
        return True
    ok = np.zeros(n - 1, dtype=bool)     # row i < row i+1 decided by the columns so far
    tied = np.ones(n - 1, dtype=bool)    # rows i and i+1 equal on the columns so far
    for col in table.columns:
        a, b = col.slice(0, n - 1), col.slice(1)
        na_a = a.is_null().to_numpy(zero_copy_only=False)
        na_b = b.is_null().to_numpy(zero_copy_only=False)
        lt = pc.fill_null(pc.less(a, b), False).to_numpy(zero_copy_only=False) | (~na_a & na_b)
        eq = pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False) | (na_a & na_b)
        ok |= tied & lt
        tied &= eq
        if not (ok | tied).all():
            return False
    return True


def _first_key_as_ranks(table):
    """The table with a text first key (the customer id: few distinct values) replaced by the
    rank of each value among the distinct ones (nulls stay null), so the sort compares
    integers instead of strings: equal texts get equal ranks and the ranks are in the
    order Arrow sorts the texts in, so the sorted order is the same."""
    col = table.column(0)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) or table.num_rows < 2:
        return table
    enc = pc.dictionary_encode(col.combine_chunks())
    ranks = pc.rank(enc.dictionary, sort_keys="ascending", tiebreaker="dense")  # distinct values
    return table.set_column(0, table.field(0).name, pc.take(ranks, enc.indices))


def _sorted_by(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame.sort_values(keys, kind="mergesort", na_position="last", ignore_index=True)``.

    Arrow checks whether the rows are in that order already (no sort then) and otherwise
    sorts them (stable, missing values last, strings by code point as pandas compares them);
    pandas sorts when the columns do not convert to Arrow.
    """
    table = _arrow_keys(frame, keys)
    if table is None:
        return frame.sort_values(keys, kind="mergesort", na_position="last", ignore_index=True)
    if _in_key_order(table):
        return frame.reset_index(drop=True)
    order = pc.sort_indices(_first_key_as_ranks(table), sort_keys=[(k, "ascending") for k in keys])  # stable, nulls at the end
    return frame.take(order.to_numpy()).reset_index(drop=True)


def canonical_order(invoices: pd.DataFrame, payments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sort both tables by their keys, so the row order of the input never changes a result
    (floating-point sums depend on the order they are added in).

    The stable sort by the keys with missing values last; a table already in that order
    (e.g. the invoices straight from ``load_ledger``) is only checked, not sorted.
    """
    return _sorted_by(invoices, _INVOICE_KEYS), _sorted_by(payments, _PAYMENT_KEYS)
