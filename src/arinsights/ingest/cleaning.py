"""Turn parsed export rows into the canonical invoices and payments tables.

:func:`clean_transactions` takes the union of :class:`~arinsights.schema.Transactions` from
every file of a load and returns a :class:`CleanResult`. Every input row ends up in exactly
one of three places, and the function asserts it:

* **kept** - it became an invoice, or a payment/credit that is allocated to invoices;
* **merged** - folded into another row (``CleanResult.merged`` names the rule);
* **rejected** - unusable, with the reason in plain words (``CleanResult.rejects``).

The steps, in order (each a pure ``df -> df`` verb on a working copy of the rows that marks
rows as merged or rejected; none mutates its input):

1. :func:`merge_exact_duplicates` - rows equal on every business field.
2. :func:`fold_invoice_lines` - lines of one multi-line document (Xero) become one row.
3. :func:`merge_known_snapshots` - aging-snapshot rows of documents already in a history.
4. :func:`reject_conflicting_duplicates` - the same document number with different amount
   or date; repeats that agree are merged as ``"repeated_document"``.
   :func:`merge_repeated_payments` - one payment found in two files, told differently
   (lines applied to invoices in one, one unapplied total in the other): counted once;
   when the files apply it to different invoices the rows are merged as
   ``"repeated_payment_conflict"`` and a note names an example to check.
   :func:`reject_shared_invoice_numbers` - one invoice number used for two customers.
5. :func:`reject_unusable_rows` - invoices/payments without a date, zero amounts, dated
   before 1990 or more than a year after every other document;
   :func:`build_invoices` derives due dates, currency, dispute flag, customer name.
6. :func:`merge_cleared_items` and :func:`settlement_payments` - settlement dates;
   :func:`propagate_rejections` - copies of a rejected row are rejected with it;
   :func:`credit_ledger_payments_before_snapshot` - a snapshot-only invoice's own payments
   dated before its snapshot are the part the snapshot shows paid.
7. :func:`allocate_payments` - explicit references, then oldest-open-invoice-first with
   disputed invoices last, vectorised over all customers at once.
8. :func:`paid_dates` - when each invoice's balance first reached zero, and by what.
9. Output validation with the pandera models (a failure there is a bug, not a user error).

Choices worth knowing
---------------------
* An aging snapshot gives an invoice's open balance on the snapshot date but not when the
  rest was paid. A snapshot-only invoice with ``0 < open_amount < amount`` is kept **open**;
  only its open balance can still be settled by later payments, and the part paid before
  the snapshot is reported in the notes and in ``quality["paid_before_snapshot_*"]``
  ("paid before snapshot, date unknown"). So that balances computed from the ledger match
  the snapshot, that part is a payment ``"before-snapshot:<invoice>"`` dated the snapshot
  date (the latest it can have been paid; see :func:`snapshot_payments`), which never sets
  an invoice's paid date: we do not invent when an invoice was paid. Payments in the
  ledger that name the invoice and are dated on or before the snapshot are that part (as
  far as they go), so they are applied to it and nothing is made up for them. A payment
  that names no invoice cannot be told apart and is allocated oldest-first as usual.
* A payment or credit note known only from an aging snapshot was, by the snapshot's own
  statement, unapplied on the snapshot date: it stays unapplied cash (its open part) and
  is not allocated, so the invoices keep the open balances the snapshot shows.
* Payment rows that share a payment number but reference different invoices are the lines
  of one split payment, not duplicates.
* A remainder of a payment within ``amount_tolerance`` (rounding) is ignored rather than
  reported as unapplied cash.
* The same invoice number for two different customers is rejected (invoice numbers are
  unique in a company's receivables; a renamed customer is the usual cause).
* Unreferenced cash goes to the oldest **undisputed** open invoice first; a disputed
  invoice receives unreferenced cash only after every undisputed invoice of that customer
  (and currency) is settled. This is standard credit-control practice: a customer
  withholds payment on the invoice they dispute and pays the others, so plain
  oldest-first would settle the disputed invoice with cash that was meant for a newer one
  and leave the newer one looking overdue. An explicit reference ("Applied To") always
  wins, disputed or not. "Settled" is judged at the payment's date: a payment that arrives
  when every undisputed invoice issued by then is covered, and whose excess covers the
  disputed invoice, pays it (the dispute was resolved and paid); that cash is not pushed
  onto undisputed invoices issued later.
  With several disputed invoices for one customer each is placed in the queue on its own
  (see :func:`_dispute_queue_dates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema as S
from .._memory import release_memory
from .._order import _PAYMENT_KEYS, _sorted_by, stable_argsort
from .._parallel import together
from ..schema import Invoices, Merged, Payments, Rejects, Transactions
from ..settings import IngestSettings
from .._text import chunk_buffers as _chunk_buffers
from .._text import dictionary_codes, text_codes

__all__ = [
    "CleanResult",
    "clean_transactions",
    "prepare_transactions",
    "merge_exact_duplicates",
    "fold_invoice_lines",
    "merge_known_snapshots",
    "reject_conflicting_duplicates",
    "merge_repeated_payments",
    "reject_shared_invoice_numbers",
    "reject_unusable_rows",
    "merge_cleared_items",
    "propagate_rejections",
    "build_invoices",
    "settlement_payments",
    "credit_ledger_payments_before_snapshot",
    "snapshot_payments",
    "allocate_payments",
    "paid_dates",
    "raw_text",
    "MERGE_RULES",
    "BEFORE_SNAPSHOT",
]

T = Transactions
#: merge rules, in the order the steps apply them
MERGE_RULES = ("exact_duplicate", "invoice_line", "snapshot_of_known_invoice", "repeated_document", "repeated_payment",
               "repeated_payment_conflict", "cleared_item")

# working columns added by prepare_transactions
_RID = "_rid"        # position in the canonical (deterministic) order
_FATE = "_fate"      # missing = still live; "merged" or "rejected"
_RULE = "_rule"      # merge rule
_REASON = "_reason"  # reject reason
_INTO = "_into"      # source of the row a merged row was folded into
# integer codes of the identifier columns (equal text, equal code; missing: -1), made once
_DOC = "_doc"        # document_id, in one vocabulary with applied_to
_REF = "_ref"        # applied_to, in the vocabulary of document_id
_CUST = "_cust"      # customer_id
_CUR = "_cur"        # currency
_CODE_COLUMNS = {_DOC: T.document_id, _REF: T.applied_to, _CUST: T.customer_id, _CUR: T.currency}

_MERGED = "merged"
_REJECTED = "rejected"
_KEPT = "kept"

# extra (non-schema) invoice columns used between steps
_CAP = "_capacity"       # amount that can still be settled by payments in this ledger
_DUE_FROM = "_due_from"  # "given", "terms" or "default"
_SETTLED = "_settled_date"
_OPEN_GIVEN = "_open_amount"
_BEFORE_SNAP = "_paid_before_snapshot"
_SNAPSHOT = "_snapshot_date"
_INV = "_inv"  # position of the allocated invoice in the invoices frame (-1: unapplied)
_KIND = "_kind"  # code of kind in the cash frame (equal codes, equal kinds)
_PID = "_pid"  # in the cash frame: rank of (payment_date, payment_id) in its order (equal pairs, equal ranks)
_SEQ = "_seq"  # the allocation order of a payment row (paid_dates adds allocations up in it)
_CPOS = "_cpos"  # position of the payment/credit row in the cash frame (-1: settlement-date payment)

_STR_DTYPE = pd.Series(["a"]).dtype  # the default string dtype ("str" on pandas 3, object on 2.x)
_TX_COLUMNS = list(Transactions.to_schema().columns)
_PAY_COLUMNS = list(Payments.to_schema().columns)
_INV_COLUMNS = list(Invoices.to_schema().columns)

_DOC_WORD = {S.KIND_INVOICE: "invoice", S.KIND_PAYMENT: "payment", S.KIND_CREDIT: "credit note"}


@dataclass
class CleanResult:
    """Output of :func:`clean_transactions`.

    Attributes
    ----------
    invoices : pd.DataFrame
        :class:`~arinsights.schema.Invoices`, one row per invoice, ordered by customer,
        invoice date and invoice number.
    payments : pd.DataFrame
        :class:`~arinsights.schema.Payments`, one row per (payment, invoice) allocation;
        unapplied cash has a missing ``invoice_id``. Includes payments synthesised from
        settlement dates (``payment_id`` ``"settled:<invoice_id>"``).
    rejects : pd.DataFrame
        :class:`~arinsights.schema.Rejects` for rows cleaning could not use.
    merged : pd.DataFrame
        :class:`~arinsights.schema.Merged`: file, row, rule, amount, into (the source of the
        row it was folded into, when there is one).
    notes : list of str
        Plain-language notes on what cleaning did.
    kept : pd.DataFrame
        file, row, kind, amount of the input rows kept (for the reconciliation); file and
        kind are categoricals.
    quality : dict
        Counts and amounts for the quality report (see :func:`clean_transactions`).
    """

    invoices: pd.DataFrame
    payments: pd.DataFrame
    rejects: pd.DataFrame
    merged: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    kept: pd.DataFrame | None = None
    quality: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers

def _strings(s: pd.Series) -> pd.Series:
    """Strings in the default string dtype, missing values kept missing."""
    if s.dtype == _STR_DTYPE and _STR_DTYPE != object:
        return s
    if s.dtype == object and _STR_DTYPE != object:
        # the string dtype turns every missing value (None, NaN, NA, NaT) into its own
        # missing value, as the general path below does, without the object round trip
        return s.astype(_STR_DTYPE)
    return s.astype(object).where(s.notna(), None).astype(_STR_DTYPE)


def _arrow(values) -> pa.Array | pa.ChunkedArray | None:
    """The values as an Arrow string array (zero-copy for Arrow-backed strings), or None."""
    try:
        if isinstance(values, pd.Series):
            values = values.array
        a = pa.array(values, from_pandas=True) if not isinstance(values, (pa.Array, pa.ChunkedArray)) else values
        if pa.types.is_large_string(a.type):
            a = a.cast(pa.string())
        if pa.types.is_string(a.type):
            return a
        if pa.types.is_null(a.type):
            return a.cast(pa.string())
    except (pa.ArrowException, TypeError, ValueError):
        pass
    return None


def _dense_rank(values) -> np.ndarray:
    """Dense ranks (0, 1, ...) of the values in ascending order, missing values last.

    Text compares by code point (Arrow's byte order of UTF-8 is code point order, as is
    Python's), dates and numbers by value; equal values share a rank.
    """
    if isinstance(values, pd.Series):
        if pd.api.types.is_datetime64_any_dtype(values.dtype) and not isinstance(values.dtype, pd.DatetimeTZDtype):
            v = values.to_numpy().view("int64")
            codes, uniq = pd.factorize(v)
            nat = np.iinfo("int64").min
            uniq = np.where(uniq == nat, np.iinfo("int64").max, uniq)
            rank = np.empty(len(uniq), dtype="int64")
            rank[np.argsort(uniq, kind="stable")] = np.arange(len(uniq))
            return rank[codes]
        if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            if not values.hasnans:
                _, inv = np.unique(values.to_numpy(dtype="int64"), return_inverse=True)
                return inv.reshape(-1).astype("int64")
        a = _arrow(values)
        if a is not None:
            r = pc.rank(a, sort_keys="ascending", tiebreaker="dense")  # nulls last (the default)
            return np.asarray(r.to_numpy(zero_copy_only=False), dtype="int64") - 1
        values = values.to_numpy(dtype=object)
    codes, uniq = pd.factorize(values)
    order = np.argsort(np.asarray(uniq, dtype=object), kind="stable")
    rank = np.empty(len(uniq), dtype="int64")
    rank[order] = np.arange(len(uniq))
    return np.where(codes < 0, len(uniq), rank[np.maximum(codes, 0)])


def _stable_order(keys: list) -> np.ndarray:
    """Positions that sort the rows stably by the keys, missing values last: the order of
    ``df.sort_values(keys, kind="mergesort")``. A key is a Series (one value per row) or a
    function of the positions of the rows it is needed for, returning their values.

    A key is ranked only on the rows that the keys before it leave tied, so a text key
    (an invoice number) is usually compared on a few rows only; those rows are re-sorted
    within their runs of ties only (the order so far is refined, never redone).
    """
    n = len(keys[0])  # the first key is a Series
    order = np.arange(n)
    at = np.arange(n)  # positions in ``order`` of the rows still tied with a neighbour
    run = np.zeros(n, dtype="int64")  # the run of ties of each of them (non-decreasing along ``at``)
    for i, k in enumerate(keys):
        if len(at) == 0:
            break
        rows = order[at]
        if callable(k):  # the key of the tied rows only, asked in row order (a faster take)
            by_row = stable_argsort(rows)
            r = np.empty(len(rows), dtype="int64")
            r[by_row] = _dense_rank(k(rows[by_row]))
        else:
            v = k if i == 0 else k.iloc[rows]
            numeric = isinstance(v.dtype, np.dtype) and v.dtype.kind in "iub"
            if i == 0 and numeric:  # sorted as they are: only ties are looked at below
                r = v.to_numpy()
            else:
                ranked = _sort_ranks(v.to_numpy()) if numeric else None  # numpy integers: no sort
                r = ranked[0] if ranked is not None else _dense_rank(v)
        if i == 0:
            sub = stable_argsort(r)
        else:  # within each run of ties (runs keep their place), by the rank; stable
            sub = stable_argsort(run * (int(r.max(initial=0)) + 1) + r)
        order[at] = rows[sub]
        r, run = r[sub], run[sub]
        same = (run[1:] == run[:-1]) & (r[1:] == r[:-1])
        if not same.any():
            break
        tied = np.zeros(len(at), dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        start = np.ones(len(at), dtype=bool)
        start[1:] = ~same
        run = np.cumsum(start)[tied]
        at = at[tied]
    return order


def _take(s: pd.Series, pos: np.ndarray) -> pd.Series:
    """``s`` at positions ``pos`` (-1: missing), as a new Series with a RangeIndex."""
    pos = np.asarray(pos, dtype="int64")
    if len(pos) and (pos < 0).any():
        return pd.Series(s.array.take(pos, allow_fill=True), name=s.name)
    return pd.Series(s.array.take(pos), name=s.name)


def _take_coded(s: pd.Series, codes: np.ndarray, pos: np.ndarray) -> pd.Series:
    """``_take(s, pos)`` for a column with few distinct values, given their codes (equal
    values, equal codes; missing: -1): the values are taken once per code, then repeated
    from that short array (much faster than taking text from the whole column)."""
    pos = np.asarray(pos, dtype="int64")
    if len(codes) == 0 or len(pos) == 0:
        return _take(s, pos)
    c = np.where(pos >= 0, codes[np.maximum(pos, 0)], -1)
    known = c >= 0
    # a row of each code taken (any will do: its rows hold one value), found among the
    # positions taken rather than the whole column; codes not taken point at row 0 (unused)
    first = np.zeros(int(codes.max()) + 1, dtype="int64")
    first[c[known]] = pos[known]
    return _take(_take(s, first), c)


def _values_by_code(s: pd.Series, codes: np.ndarray) -> pd.Series:
    """The value of each code of ``s`` (codes as made by :func:`_codes`): ``_take(values,
    codes[pos])`` is ``s`` at ``pos`` (the first step of :func:`_take_coded`, kept to take
    from later without keeping ``s``)."""
    first = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, dtype="int64")
    rows = np.flatnonzero(codes >= 0)
    first[codes[rows]] = rows  # a row of each code (any will do: its rows hold one value)
    return _take(s, first)


def _labels(labels, codes: np.ndarray) -> pd.Series:
    """Text ``labels[code]`` per row (code -1: missing) in the default string dtype, taken
    by code from the few labels (much faster than building the text of every row)."""
    return _strings(_take(pd.Series(list(labels), dtype=_STR_DTYPE), np.asarray(codes, dtype="int64")))


def _categories(values: pd.Series, codes: np.ndarray) -> pd.Categorical:
    """``_take(values, codes)`` as a categorical (categories: ``values``, distinct text)."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype="int64"),
                                     categories=pd.Index(values.to_numpy(dtype=object), dtype=object))


def _live(w: pd.DataFrame) -> pd.Series:
    return w[_FATE].isna()


_PANDAS_MAJOR = int(pd.__version__.split(".")[0])


def _copy(w: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``w`` that later ``.loc`` assignments cannot leak into ``w``.

    Under Copy-on-Write (always on with pandas 3) a shallow copy is enough: a column is
    copied only when it is written to, so marking a few rows does not copy the whole frame.
    """
    cow = _PANDAS_MAJOR >= 3 or pd.get_option("mode.copy_on_write") is True
    return w.copy(deep=not cow)


def _mark(w: pd.DataFrame, mask: pd.Series, fate: str, *, rule=None, reason=None, into=None) -> pd.DataFrame:
    """Return a copy of ``w`` with the live rows in ``mask`` given a fate.

    ``reason`` and ``into`` may be a Series, a constant, or a function called with the
    boolean mask of the rows to mark (so the text is built only for those rows); a
    Series only needs its values on those rows.
    """
    if isinstance(mask, pd.Series) and mask.index.equals(w.index) and mask.dtype == bool:
        # the fate is looked at only on the rows in the mask (usually few): testing every
        # row of a large frame for a missing fate is the costly part
        m = mask.to_numpy(dtype=bool, copy=True)
        at = np.flatnonzero(m)
        now = w[_FATE]
        m[at] = (np.asarray(now.cat.codes)[at] < 0 if isinstance(now.dtype, pd.CategoricalDtype)
                 else pd.isna(now.to_numpy(dtype=object)[at]))
        m = pd.Series(m, index=w.index)
    else:
        m = mask & _live(w)
    if not m.any():
        return _copy(w)
    if callable(reason):
        reason = reason(m)
    out = _copy(w)
    out.loc[m, _FATE] = fate
    if rule is not None:
        out.loc[m, _RULE] = rule
    if reason is not None:
        out.loc[m, _REASON] = reason[m] if isinstance(reason, pd.Series) else reason
    if into is not None:
        out.loc[m, _INTO] = into[m] if isinstance(into, pd.Series) else into
    return out


def _fmt_amount(s: pd.Series) -> pd.Series:
    return s.map(lambda x: "no amount" if pd.isna(x) else f"{x:.2f}")


def _fmt_date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m-%d").fillna("no date")


def _business_columns(w: pd.DataFrame) -> list[str]:
    cols = [c for c in _TX_COLUMNS if c not in (T.source, T.file, T.row)]
    return [c for c in cols if c in w.columns]


def _join_by_group(group: pd.Series, text: pd.Series) -> pd.Series:
    """Per row: the ``", "``-joined texts of all rows of its group (used only on rejects)."""
    joined = text.groupby(group, sort=False).agg(", ".join)
    return group.map(joined)


def raw_text(tx: pd.DataFrame) -> pd.Series:
    """Rebuild a ``"column=value; ..."`` text of transaction rows (for rejects).

    Parameters
    ----------
    tx : pd.DataFrame
        Rows with :class:`~arinsights.schema.Transactions` columns.

    Returns
    -------
    pd.Series
        One string per row; missing values are left out.

    Examples
    --------
    >>> tx = pd.DataFrame({"kind": ["invoice"], "document_id": ["INV-1"], "amount": [12.5],
    ...                    "document_date": pd.to_datetime(["2025-03-02"]), "due_date": [pd.NaT]})
    >>> raw_text(tx).iloc[0]
    'kind=invoice; document_id=INV-1; document_date=2025-03-02; amount=12.5'
    """
    out = pd.Series("", index=tx.index, dtype=object)
    if len(tx) == 0:
        return out
    for col in _business_columns(tx):  # a handful of columns, each vectorised over the rows
        s = tx[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            text = s.dt.strftime("%Y-%m-%d").astype(object)
        else:
            text = s.astype(str).astype(object)
        piece = ("; " + col + "=" + text).where(s.notna(), "")
        out = out + piece.astype(object)
    return out.str.slice(2).astype(object)


# ----------------------------------------------------------------------------- step 0

def prepare_transactions(tx: pd.DataFrame, settings: IngestSettings | None = None) -> pd.DataFrame:
    """Canonical working copy: deterministic order, tidy identifiers, default currency.

    Rows are ordered by (file, row) with a content hash as tie-breaker, so the result of
    cleaning does not depend on the order of the input rows. Identifier columns are
    stripped (empty strings become missing); currency codes are upper-cased and default to
    ``settings.default_currency``. Working columns ``_rid``, ``_fate``, ``_rule``,
    ``_reason``, ``_into`` are added, and the integer codes of the identifiers, made once
    and used by every later step instead of the text: ``_doc`` and ``_ref`` (document_id
    and applied_to in one vocabulary, so a reference is an integer lookup), ``_cust``,
    ``_cur`` (equal text, equal code; missing: -1). A step that changes an identifier
    updates its code.

    Examples
    --------
    >>> tx = pd.DataFrame({"file": ["b.csv", "a.csv"], "row": [2, 5], "document_id": [" INV-1 ", ""],
    ...                    "customer_id": ["C1", "C1"], "currency": [None, "eur"], "amount": [1.0, 2.0]})
    >>> w = prepare_transactions(tx)
    >>> w["file"].tolist(), w["_rid"].tolist(), w["currency"].tolist()
    (['a.csv', 'b.csv'], [0, 1], ['EUR', 'USD'])
    >>> w["document_id"].isna().tolist(), w["document_id"].iloc[1]
    ([True, False], 'INV-1')
    """
    settings = settings or IngestSettings()
    w = _copy(tx)
    for col in _TX_COLUMNS:
        if col not in w.columns:
            w[col] = np.nan
    for col in (T.document_id, T.customer_id, T.customer_name, T.applied_to, T.line_of, T.currency):
        w[col] = _stripped(w[col])
    for col in (T.document_id, T.applied_to, T.line_of, T.customer_id, T.customer_name, T.currency, T.kind):
        w[col] = _one_chunk(w[col])  # the text taken most (file and source: long texts, taken as they are)
    w[T.currency] = _strings(w[T.currency].str.upper().fillna(settings.default_currency))
    w[T.amount] = w[T.amount].astype(float)
    w[T.open_amount] = w[T.open_amount].astype(float)
    w[T.terms_days] = w[T.terms_days].astype(float)
    w[T.row] = w[T.row].astype("int64")
    row = w[T.row].to_numpy()
    file_code, file_key = _file_keys(w[T.file])
    if file_code is None:  # missing or odd file values: the general (slower) path
        same_place = w.duplicated([T.file, T.row]).any()
        file_key = w[T.file].astype(str).to_numpy()
        order = None
    else:
        key = _combined_key([file_key, row])  # one integer per (file, row), in their order
        if key is not None and bool((key[1:] > key[:-1]).all()):
            order = np.arange(len(key))  # already in order, every (file, row) once: no sort
            same_place = False
        else:
            order = np.lexsort((row, file_key)) if key is None else stable_argsort(key)
            k, r = file_key[order], row[order]
            # equal (file, row) pairs have equal keys, so they are next to each other in this order
            same_place = bool(((k[1:] == k[:-1]) & (r[1:] == r[:-1])).any())
        if same_place:
            same_place = pd.DataFrame({"f": file_code, "r": row}).duplicated().any()
    if same_place:  # same provenance twice: order by content too
        tie = pd.util.hash_pandas_object(w[_business_columns(w)].astype(str), index=False).to_numpy()
        order = np.lexsort((tie, row, file_key))
    elif order is None:
        order = np.lexsort((row, file_key))
    if len(order) and not np.array_equal(order, np.arange(len(order))):  # already in order: no copy
        w = w.iloc[order]
    w = w.reset_index(drop=True)
    w[_RID] = np.arange(len(w), dtype="int64")
    # the document numbers (many distinct values) on one core, the customers and currencies
    # on the other (see arinsights._parallel)
    (w[_DOC], w[_REF]), (w[_CUST], w[_CUR]) = together(
        lambda: _joint_codes(w[T.document_id], w[T.applied_to]),
        lambda: (_codes(w[T.customer_id]), _codes(w[T.currency])), rows=len(w))
    # the fate as a categorical (live rows missing): rules test it for missing on every row,
    # which for Python objects was the slow part of marking
    w[_FATE] = pd.Series(pd.Categorical.from_codes(np.full(len(w), -1, dtype=np.int8), categories=[_MERGED, _REJECTED]),
                         index=w.index)
    for col in (_RULE, _REASON, _INTO):
        w[col] = pd.Series(np.full(len(w), None, dtype=object), index=w.index, dtype=object)
    return w


def _one_chunk(s: pd.Series) -> pd.Series:
    """Arrow-backed text as one chunk (the reader's columns come in blocks): Arrow's take
    from a chunked array first joins its chunks, which made each of the cleaning's many
    takes (even of a few rows) copy the whole column. Other columns are returned as they are."""
    a = s.array
    chunked = getattr(a, "_pa_array", None)
    if not isinstance(chunked, pa.ChunkedArray) or chunked.num_chunks < 2 or not isinstance(s.dtype, pd.StringDtype):
        return s
    joined = pa.chunked_array([chunked.combine_chunks()], type=chunked.type)
    a = a._from_pyarrow_array(joined) if hasattr(a, "_from_pyarrow_array") else type(a)(joined)
    return pd.Series(a, index=s.index, name=s.name)


def _stripped(values: pd.Series) -> pd.Series:
    """Text stripped of surrounding whitespace, empty strings missing. The column itself
    (not a copy) when that changes nothing, which is the usual case."""
    s = _strings(values)
    a = _arrow(s) if s.dtype != object else None
    if a is not None and _plain_ends(a):  # nothing to strip, no empty text: no new column
        return s
    t = s.str.strip()
    empty = t.eq("").fillna(False).to_numpy(dtype=bool)
    if not empty.any():
        # stripping only removes characters: an equal total length means nothing was stripped
        if _total_length(t) == _total_length(s):
            return s
        return _strings(t)
    return _strings(t.where(~empty, None))


def _plain_ends(a) -> bool:
    """Whether every non-missing text of the Arrow string array is non-empty and begins and
    ends with a visible ASCII character ("!" to "~"), so stripping whitespace (by any
    definition of whitespace) changes nothing: a look at two bytes per value. False when
    unsure (then the caller strips)."""
    chunks = _chunk_buffers(a)
    if chunks is None:
        return False
    for ch, off, data in chunks:
        start, end = off[:-1], off[1:]
        if ch.null_count:
            valid = np.asarray(ch.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            start, end = start[valid], end[valid]
        if len(start) == 0:
            continue
        if not (end > start).all() or int(end.max()) > len(data):
            return False  # an empty text (or a value without bytes)
        for b in (data[start], data[end - 1]):
            if not ((b >= 0x21) & (b <= 0x7E)).all():
                return False
    return True


def _total_length(s: pd.Series) -> int:
    """The summed length of the texts (in bytes for Arrow-backed text, else in characters)."""
    a = _arrow(s) if s.dtype != object else None
    if a is not None:
        return int(pc.sum(pc.binary_length(a)).as_py() or 0)
    return int(s.str.len().sum())


def _joint_codes(*columns: pd.Series) -> list[np.ndarray]:
    """Integer codes of the values of several columns in one vocabulary (equal text, equal
    code, across the columns; missing: -1). Document numbers: many distinct values, read
    as integers of their bytes (:func:`arinsights._text.text_codes`)."""
    codes = text_codes(*columns)
    if codes is None:  # not Arrow-backed text
        codes, _ = pd.factorize(np.concatenate([c.to_numpy(dtype=object) for c in columns]))
        codes = np.split(np.asarray(codes, dtype="int64"), np.cumsum([len(c) for c in columns])[:-1])
    return codes


def _file_keys(files: pd.Series) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Integer codes of the file names (equal names, equal codes) and their rank in the
    order of the names as text, computed on the few distinct names; (None, None) when a
    name is missing."""
    if _one_text(files):  # one file (the usual case): no hashing
        codes, uniq = np.zeros(len(files), dtype="int64"), np.asarray(files.iloc[:1].to_numpy(dtype=object))
    else:
        codes, uniq = pd.factorize(files)
    codes = np.asarray(codes, dtype="int64")
    if (codes < 0).any():
        return None, None
    text = pd.Series(np.asarray(uniq, dtype=object), dtype=object).astype(str).to_numpy(dtype=object)
    _, rank = np.unique(text, return_inverse=True)
    return codes, np.asarray(rank, dtype="int64").reshape(-1)[codes]


# ----------------------------------------------------------------------------- step 1

def merge_exact_duplicates(w: pd.DataFrame) -> pd.DataFrame:
    """Rule 1: rows equal on every business field are one row; the first is kept.

    The business fields are all :class:`~arinsights.schema.Transactions` columns except
    the provenance (source, file, row). Lines of a multi-line document (``line_of`` set)
    repeat the document's header, so two lines of one invoice look identical; for them
    only a copy found in *another* file (the same export loaded twice) is a duplicate, and
    the lines of one file are left to :func:`fold_invoice_lines`.

    Examples
    --------
    >>> tx = pd.DataFrame({"file": ["a.csv", "a.csv", "b.csv"], "row": [2, 3, 2],
    ...     "source": ["a.csv:2", "a.csv:3", "b.csv:2"], "kind": ["invoice"] * 3,
    ...     "document_id": ["INV-1", "INV-2", "INV-1"], "customer_id": ["C1"] * 3,
    ...     "amount": [10.0, 20.0, 10.0]})
    >>> w = merge_exact_duplicates(prepare_transactions(tx))
    >>> w["_rule"].tolist(), w["_into"].tolist()
    ([None, None, 'exact_duplicate'], [None, None, 'a.csv:2'])
    """
    live = _live(w)
    biz = _business_columns(w)
    # rows equal on every business field are equal on the numeric ones: only live rows that
    # share their numbers and dates with another live row can be duplicates (usually few)
    numeric = [c for c in biz if not (w[c].dtype == object or pd.api.types.is_string_dtype(w[c].dtype))]
    # an all-missing column does not tell rows apart: leave it out of the pre-filter
    numeric = [c for c in numeric if not w[c].isna().all()]
    cand = live.to_numpy(dtype=bool).copy()
    if cand.any():  # and share their document number (or both have none)
        doc = _code(w, _DOC)
        cand &= _repeated(w[T.document_id], cand, doc) | (doc < 0)
    if numeric and cand.any():
        cand[cand] = w.loc[cand, numeric].duplicated(keep=False).to_numpy(dtype=bool)
    if not cand.any():
        return w
    c = w[cand]
    key = c.groupby(biz, dropna=False, sort=False).ngroup()
    first_rid = c[_RID].groupby(key).transform("min")
    first_source = c[T.source].groupby(key).transform("first")
    first_file = c[T.file].groupby(key).transform("first")
    is_line = c[T.line_of].notna()
    dup_c = (c[_RID] != first_rid) & (~is_line | (c[T.file] != first_file))
    dup = pd.Series(False, index=w.index)
    dup[cand] = dup_c.to_numpy(dtype=bool)
    into = pd.Series(None, index=w.index, dtype=object)
    into[cand] = first_source.astype(object).to_numpy()
    return _mark(w, dup, _MERGED, rule="exact_duplicate", into=into)


# ----------------------------------------------------------------------------- step 2

_LINE_HEADER = (T.kind, T.document_date, T.due_date, T.amount, T.currency)


def fold_invoice_lines(w: pd.DataFrame) -> pd.DataFrame:
    """Rule 2: the lines of one document (same customer and ``line_of``) become one row.

    When the lines agree on kind, dates, amount (the document total repeats on every line)
    and currency, the first line is kept and the others are merged as ``"invoice_line"``.
    When they disagree, every line of the document is rejected, naming each line and the
    values that differ.

    Examples
    --------
    >>> tx = pd.DataFrame({"file": "x.csv", "row": [2, 3, 4], "source": ["x.csv:2", "x.csv:3", "x.csv:4"],
    ...     "kind": "invoice", "document_id": "INV-5", "line_of": "INV-5", "customer_id": "Acme",
    ...     "amount": [30.0, 30.0, 30.0], "currency": "GBP", "customer_name": ["a", "b", "c"]})
    >>> w = fold_invoice_lines(prepare_transactions(tx))
    >>> w["_rule"].tolist()
    [None, 'invoice_line', 'invoice_line']
    """
    live = (_live(w) & w[T.line_of].notna()).to_numpy()
    if not live.any():
        return w
    sub = w[live]
    # the documents: (customer, line_of) as one integer, numbered in order of appearance
    cust = _code(w, _CUST)[live]
    line = pd.factorize(_joint_codes(sub[T.line_of])[0])[0]  # 0, 1, ... (never missing here)
    gid = pd.factorize((cust + 1) * (int(line.max()) + 1) + line)[0]
    n_groups = int(gid.max()) + 1
    first = np.empty(n_groups, dtype="int64")
    first[gid[::-1]] = np.arange(len(gid) - 1, -1, -1)  # each document's first line (in sub)
    g = pd.Series(gid, index=sub.index)

    def disagree(codes: np.ndarray) -> pd.Series:
        """Per line: whether the lines of its document hold different codes."""
        bad_doc = np.zeros(n_groups, dtype=bool)
        bad_doc[gid[codes != codes[first[gid]]]] = True
        return pd.Series(bad_doc[gid], index=sub.index)

    differs = {}
    for col in _LINE_HEADER:
        vals = sub[col].round(6) if col == T.amount else sub[col]
        # the lines differ when their values' codes do (a missing value is a value of its own)
        differs[col] = disagree(pd.factorize(vals, use_na_sentinel=False)[0])
    bad = pd.Series(np.logical_or.reduce([d.to_numpy() for d in differs.values()]), index=sub.index)
    out = w
    if bad.any():
        b = sub[bad]
        gb = g[bad]
        desc = pd.Series("", index=b.index, dtype=object)
        field_names = pd.Series("", index=b.index, dtype=object)
        for col in _LINE_HEADER:  # five header fields, each vectorised over the rejected lines
            if col == T.amount:
                text = _fmt_amount(b[col])
            elif col in (T.document_date, T.due_date):
                text = _fmt_date(b[col])
            else:
                text = b[col].astype(object).fillna("none").astype(str)
            label = {T.document_date: "date ", T.due_date: "due "}.get(col, "")
            on = differs[col][bad]
            desc = desc + (" " + label + text.astype(object)).where(on, "")
            field_names = field_names + pd.Series(", " + col.replace("document_", "").replace("_", " "),
                                                  index=b.index).where(on, "")
        desc = b[T.source].astype(object) + " has" + desc
        field_names = field_names.str.slice(2)
        reason = ("the lines of " + b[T.kind].map(_DOC_WORD) + " " + b[T.line_of] + " disagree on "
                  + field_names + ": " + _join_by_group(gb, desc))
        out = _mark(out, pd.Series(w.index.isin(b.index), index=w.index), _REJECTED,
                    reason=reason.reindex(w.index))
    rid = sub[_RID].to_numpy(dtype="int64")
    first_rid = np.full(n_groups, np.iinfo("int64").max)
    np.minimum.at(first_rid, gid, rid)
    first_src = pd.Series(_take(sub[T.source], first[gid]).to_numpy(dtype=object), index=sub.index)
    fold = ~bad.to_numpy() & (rid != first_rid[gid])
    mask = pd.Series(w.index.isin(sub.index[fold]), index=w.index)
    return _mark(out, mask, _MERGED, rule="invoice_line", into=first_src.reindex(w.index))


# ----------------------------------------------------------------------------- step 3

def _has_separator(w: pd.DataFrame, columns) -> bool:
    """Whether any value of the columns holds the key separator ``"\x1f"`` (then keys built
    with :func:`_doc_key` could match across different document numbers)."""
    for col in columns:
        values = w[col]
        a = _arrow(values) if values.dtype != object else None
        if a is not None:
            found = _bytes_hold(a, 0x1F)
            if found is None:
                found = pc.any(pc.fill_null(pc.match_substring(a, "\x1f"), False)).as_py()
            if found:
                return True
            continue
        if values.dtype == object or not pd.api.types.is_string_dtype(values.dtype):
            values = pd.Series(pd.unique(values.to_numpy(dtype=object)), dtype=object)
            values = values[values.notna()].astype(str)
        if values.str.contains("\x1f", regex=False).fillna(False).astype(bool).any():
            return True
    return False


def _bytes_hold(a, byte: int) -> bool | None:
    """Whether the UTF-8 text of an Arrow string array holds the ASCII character ``byte``
    (in UTF-8 an ASCII byte is never part of another character), by one scan of its data
    bytes rather than a search per value; None when the array's layout is not the plain one.
    The bytes under a missing value may count too (then True may be a false alarm, which
    only sends the caller to its general path)."""
    chunks = _chunk_buffers(a)
    if chunks is None:
        return None
    return any(off[-1] > off[0] and (data[int(off[0]):int(off[-1])] == byte).any() for _, off, data in chunks)


def _repeated(s: pd.Series, mask: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
    """Rows in ``mask`` whose (non-missing) value of ``s`` occurs more than once among the
    rows in ``mask``: ``s[mask].duplicated(keep=False)`` for columns without missing values
    in ``mask``, on integer codes (``codes``: those of ``s`` when known)."""
    codes = _codes(s) if codes is None else codes
    m = mask & (codes >= 0)
    counts = np.bincount(codes[m], minlength=int(codes.max()) + 1 if len(codes) else 0)
    out = np.zeros(len(s), dtype=bool)
    out[m] = counts[codes[m]] > 1
    return out


def _doc_key(w: pd.DataFrame) -> pd.Series:
    return w[T.customer_id].astype(str) + "\x1f" + w[T.kind].astype(str) + "\x1f" + w[T.document_id].astype(str)


def merge_known_snapshots(w: pd.DataFrame, settings: IngestSettings | None = None) -> pd.DataFrame:
    """Rule 3: a snapshot row (``snapshot_date`` set) of a document also found in a history
    (non-snapshot) row is merged as ``"snapshot_of_known_invoice"`` when amount (within
    ``amount_tolerance``) and document date agree; otherwise it stays for rule 4, which
    rejects the conflict. Snapshot-only documents stay (see :func:`build_invoices`).
    """
    settings = settings or IngestSettings()
    live = _live(w) & w[T.document_id].notna()
    snap = live & w[T.snapshot_date].notna()
    hist = live & w[T.snapshot_date].isna()
    if not (snap.any() and hist.any()):
        return w
    key = _doc_key(w)
    h = w[hist].assign(_k=key[hist]).groupby("_k", sort=False).first()  # first history row per document
    s = w[snap].assign(_k=key[snap])
    s = s.join(h[[T.amount, T.document_date, T.source]].add_suffix("_h"), on="_k")
    known = s[T.source + "_h"].notna()
    same_amount = (s[T.amount] - s[T.amount + "_h"]).abs() <= settings.amount_tolerance
    d1, d2 = s[T.document_date], s[T.document_date + "_h"]
    same_date = (d1 == d2) | d1.isna() | d2.isna()
    ok = known & same_amount & same_date
    mask = pd.Series(w.index.isin(s.index[ok]), index=w.index)
    return _mark(w, mask, _MERGED, rule="snapshot_of_known_invoice", into=s[T.source + "_h"].reindex(w.index))


# ----------------------------------------------------------------------------- step 4

def reject_conflicting_duplicates(w: pd.DataFrame, settings: IngestSettings | None = None) -> pd.DataFrame:
    """Rule 4: the same document number (per customer and kind) more than once.

    Rows that differ in amount (beyond ``amount_tolerance``) or document date are all
    rejected, the reason listing every row with its amount and date, e.g.
    ``conflicting duplicate invoice INV-1: a.csv:12 has 100.00 dated 2025-03-02, a.csv:40
    has 120.00 dated 2025-03-02``. Repeats that agree on amount and date but differ in
    other fields (say an export from March when the invoice was open and one from June with
    its settlement date) are merged as ``"repeated_document"`` into the first row, which
    takes the first non-missing value of each field from its repeats.

    Payment rows that share a number but reference different invoices (``applied_to``)
    are the lines of one split payment and are not duplicates. Payment rows that conflict
    but come from several files telling of one payment (same date, per-file totals that
    agree: one export splits it 60 + 40, the other 50 + 50) are left to rule 4c, which
    counts the payment once and flags the disagreement.

    Examples
    --------
    >>> tx = pd.DataFrame({"file": "f.csv", "row": [12, 40], "source": ["f.csv:12", "f.csv:40"],
    ...     "kind": "invoice", "document_id": "INV-1", "customer_id": "A", "amount": [100.0, 120.0],
    ...     "document_date": pd.to_datetime(["2025-03-02", "2025-03-02"])})
    >>> w = reject_conflicting_duplicates(prepare_transactions(tx))
    >>> w["_fate"].tolist()
    ['rejected', 'rejected']
    >>> w["_reason"].iloc[0]
    'conflicting duplicate invoice INV-1: f.csv:12 has 100.00 dated 2025-03-02, f.csv:40 has 120.00 dated 2025-03-02'
    """
    settings = settings or IngestSettings()
    live = _live(w) & w[T.document_id].notna()
    if not live.any():
        return w
    # only rows whose document number repeats can share a key, except rows whose key is
    # missing (no customer or kind: they form one group) or whose parts hold the separator
    lv = live.to_numpy(dtype=bool)
    cand = lv & (_repeated(w[T.document_id], lv, _code(w, _DOC)) | w[T.customer_id].isna().to_numpy(dtype=bool)
                 | w[T.kind].isna().to_numpy(dtype=bool))
    cols = (T.customer_id, T.kind, T.document_id, T.applied_to)
    if _has_separator(w, cols) and _has_separator(w[live], cols):
        sub = w[live]
    else:
        sub = w[cand]
    applied = sub[T.applied_to].where(sub[T.kind] != S.KIND_INVOICE, None).astype(object).fillna("")
    key = _doc_key(sub) + "\x1f" + applied.astype(str)
    g = key.groupby(key, sort=False).ngroup()
    size = g.map(g.value_counts())
    rep = size > 1
    if not rep.any():
        return w
    amt = sub[T.amount]
    spread = amt.groupby(g).transform("max") - amt.groupby(g).transform("min")
    ndates = sub[T.document_date].astype(str).groupby(g).transform("nunique")
    conflict = rep & ((spread > settings.amount_tolerance) | (ndates > 1))
    # one payment split differently by two exports: rule 4c's (counted once, flagged). Only
    # the lines of payment numbers in conflict are looked at (all their lines, conflicting or not)
    held = pd.Series(False, index=sub.index)
    pay = (conflict & (sub[T.kind] != S.KIND_INVOICE)).to_numpy(dtype=bool)
    if pay.any():
        doc = _code(sub, _DOC)
        near = np.isin(doc, doc[pay])
        held[sub.index[near]] = _one_payment_of_several_files(sub[near], settings.amount_tolerance).to_numpy()
        held &= conflict
    conflict &= ~held
    out = w
    if conflict.any():
        c = sub[conflict]
        desc = c[T.source] + " has " + _fmt_amount(c[T.amount]) + " dated " + _fmt_date(c[T.document_date])
        reason = ("conflicting duplicate " + c[T.kind].map(_DOC_WORD) + " " + c[T.document_id] + ": "
                  + _join_by_group(g[conflict], desc))
        out = _mark(out, pd.Series(w.index.isin(c.index), index=w.index), _REJECTED, reason=reason.reindex(w.index))
    agree = rep & ~conflict & ~held
    if agree.any():
        a = sub[agree]
        ga = g[agree]
        first_rid = a[_RID].groupby(ga).transform("min")
        keep = a[_RID] == first_rid
        fill_cols = [c for c in _business_columns(w) if c not in (T.kind, T.document_id, T.customer_id)]
        filled = a[fill_cols].groupby(ga).transform("first")
        out = _copy(out)
        for col in fill_cols:  # a handful of columns
            cur = out.loc[a.index[keep], col]
            new = filled.loc[keep, col]
            out.loc[a.index[keep], col] = cur.where(cur.notna(), new)
        for code_col, col in _CODE_COLUMNS.items():  # keep the codes of filled values in step
            if col in fill_cols and code_col in out.columns:
                codes = out.loc[a.index, code_col].where(a[col].notna())  # one code per value
                new = codes.groupby(ga).transform("first").loc[keep]
                cur = out.loc[a.index[keep], code_col]
                out.loc[a.index[keep], code_col] = cur.where(cur >= 0, new.fillna(-1).astype("int64")).astype("int64")
        src = a[T.source].groupby(ga).transform("first")
        mask = pd.Series(w.index.isin(a.index[~keep]), index=w.index)
        out = _mark(out, mask, _MERGED, rule="repeated_document", into=src.reindex(w.index))
    return out


def _one_payment_of_several_files(sub: pd.DataFrame, tol: float) -> pd.Series:
    """Payment/credit rows that are one payment as :func:`merge_repeated_payments` sees it:
    the same customer, kind, number and date in more than one file, with per-file totals
    that agree. Rule 4 leaves them to it: two exports that split PMT-1 (100) differently
    over INV-1 and INV-2 (60 + 40 against 50 + 50) conflict line by line, yet they tell of
    one payment, which must count once rather than vanish."""
    out = pd.Series(False, index=sub.index)
    p = sub[((sub[T.kind] != S.KIND_INVOICE) & sub[T.document_date].notna() & sub[T.customer_id].notna()
             & sub[T.file].notna()).to_numpy(dtype=bool)]
    if p.empty or _one_text(p[T.file]):
        return out
    key = _doc_key(p) + "\x1f" + p[T.document_date].astype(str)
    g = key.groupby(key, sort=False).ngroup().to_numpy()
    per_file = p[T.amount].astype(float).groupby([g, p[T.file].astype(object).to_numpy()]).sum()
    by_g = per_file.groupby(level=0)
    one = (by_g.size() > 1) & (by_g.max() - by_g.min() <= tol)
    out[p.index[one.reindex(g).to_numpy(dtype=bool)]] = True
    return out


def merge_repeated_payments(w: pd.DataFrame, settings: IngestSettings | None = None) -> pd.DataFrame:
    """Rule 4c: one payment (or credit note) found in two files, told differently.

    A transaction list applies payment PMT-1 to INV-1 and INV-2 in two lines; the payments
    export of the same period has PMT-1 once, for the total, with no invoice. Rule 4 keeps
    both (their references differ), which would count the payment twice: the second copy
    pays the customer's next open invoice, which then looks paid. So payment/credit rows of
    one customer with the same number, kind and date, found in more than one file, whose
    totals per file agree (within ``amount_tolerance``), are one payment: the rows of the
    file that says the most about it (the most rows applied to an invoice; then the newer
    export, whose latest date is later; then the first file) are kept and the other files'
    rows are merged as ``"repeated_payment"`` into its
    first row; as ``"repeated_payment_conflict"`` when the files name different invoices for
    it (one export applied it differently: the notes show an example to check). Totals
    that disagree are left as they are (different payments, or one export cut short).

    Examples
    --------
    >>> tx = pd.DataFrame({"file": ["a.csv", "a.csv", "b.csv"], "row": [2, 3, 2],
    ...     "source": ["a.csv:2", "a.csv:3", "b.csv:2"], "kind": "payment", "document_id": "PMT-1",
    ...     "customer_id": "C1", "amount": [60.0, 40.0, 100.0], "applied_to": ["INV-1", "INV-2", None],
    ...     "document_date": pd.Timestamp("2025-02-13")})
    >>> w = merge_repeated_payments(prepare_transactions(tx))
    >>> w["_rule"].tolist(), w["_into"].tolist()
    ([None, None, 'repeated_payment'], [None, None, 'a.csv:2'])
    """
    settings = settings or IngestSettings()
    if _one_text(w[T.file]):
        return w
    live = (_live(w) & (w[T.kind] != S.KIND_INVOICE) & w[T.document_id].notna() & w[T.customer_id].notna()
            & w[T.document_date].notna())
    lv = live.to_numpy(dtype=bool)
    if not lv.any():
        return w
    lv = lv & _repeated(w[T.document_id], lv, _code(w, _DOC))  # a number seen once is one payment
    if not lv.any():
        return w
    c = w[lv]
    g = pd.DataFrame({"c": _code(c, _CUST), "k": c[T.kind].astype(object).to_numpy(), "d": _code(c, _DOC),
                      "t": c[T.document_date].to_numpy()}).groupby(["c", "k", "d", "t"], sort=False).ngroup()
    g = g.to_numpy(dtype="int64")
    f = _codes(c[T.file])
    per = pd.DataFrame({"g": g, "f": f, "amount": c[T.amount].to_numpy(dtype=float),
                        "ref": c[T.applied_to].notna().to_numpy(dtype=bool), "rid": c[_RID].to_numpy()})
    files = per.groupby(["g", "f"], sort=False).agg(total=("amount", "sum"), refs=("ref", "sum"),
                                                    first=("rid", "min")).reset_index()
    by_g = files.groupby("g")["total"]
    same = (files.groupby("g")["f"].transform("size") > 1) & (
        by_g.transform("max") - by_g.transform("min") <= settings.amount_tolerance)
    files = files[same]
    if files.empty:
        return w
    # the file kept: the most rows applied to an invoice, then the newer export (its latest
    # date is later: an application changed since the older one is the current one), then
    # the first in the canonical order
    name_of = pd.Series(c[T.file].astype(object).to_numpy()).groupby(f).first()  # the file of each code
    files = files.assign(newest=_latest_date_by_file(w).reindex(name_of.reindex(files["f"]).to_numpy()).to_numpy())
    kept = files.sort_values(["g", "refs", "newest", "first"], ascending=[True, False, False, True],
                             kind="mergesort", na_position="last").drop_duplicates("g")
    kept_file = pd.Series(kept["f"].to_numpy(), index=kept["g"].to_numpy())
    kept_rid = pd.Series(kept["first"].to_numpy(), index=kept["g"].to_numpy())
    in_group = np.isin(g, kept["g"].to_numpy())
    merge = in_group & (f != kept_file.reindex(g).fillna(-1).to_numpy(dtype="int64"))
    if not merge.any():
        return w
    source_of = pd.Series(w[T.source].to_numpy(dtype=object), index=w[_RID].to_numpy())
    into = pd.Series(None, index=w.index, dtype=object)
    into[c.index[merge]] = source_of.reindex(kept_rid.reindex(g[merge]).to_numpy()).to_numpy()
    differ = np.isin(g, _applied_differently(per.assign(r=_code(c, _REF)), files, settings.amount_tolerance))
    for rule, rows in (("repeated_payment", merge & ~differ), ("repeated_payment_conflict", merge & differ)):
        if rows.any():
            w = _mark(w, pd.Series(w.index.isin(c.index[rows]), index=w.index), _MERGED, rule=rule, into=into)
    return w


def _latest_date_by_file(w: pd.DataFrame) -> pd.Series:
    """The latest document or snapshot date of each file's rows (index: the file), which
    tells the newer of two exports."""
    dates = pd.to_datetime(w[T.document_date])
    if T.snapshot_date in w.columns:  # (a column of missing values when no file has one)
        dates = pd.concat([dates, pd.to_datetime(w[T.snapshot_date])], axis=1).max(axis=1)
    return dates.groupby(w[T.file].astype(object).to_numpy()).max()


def _applied_differently(per: pd.DataFrame, files: pd.DataFrame, tol: float) -> np.ndarray:
    """The groups (payments found in several files, ``files``: their per-file rows) whose
    files apply them differently: among the files that name invoices, one names an invoice
    another does not, or gives it another amount (60 + 40 against 50 + 50). A file that
    names none (a payments export) agrees with any."""
    ref = per[(per["r"] >= 0).to_numpy() & np.isin(per["g"].to_numpy(), files["g"].to_numpy())]
    if ref.empty:
        return np.zeros(0, dtype="int64")
    by_ref = ref.groupby(["g", "r", "f"], sort=False)["amount"].sum().reset_index()
    n_files = by_ref.groupby("g")["f"].transform("nunique")  # files of the payment naming invoices
    per_ref = by_ref.groupby(["g", "r"])["amount"]
    differ = ((per_ref.transform("size") < n_files)
              | (per_ref.transform("max") - per_ref.transform("min") > tol))
    return np.unique(by_ref.loc[differ.to_numpy(), "g"].to_numpy())


def reject_shared_invoice_numbers(w: pd.DataFrame) -> pd.DataFrame:
    """Rule 4b: an invoice number used for more than one customer is rejected everywhere.

    Invoice numbers are unique across a company's receivables; the usual cause is a
    customer renamed between two exports (the name is used as the customer id).
    """
    live = _live(w) & (w[T.kind] == S.KIND_INVOICE) & w[T.document_id].notna()
    if not live.any():
        return w
    lv = live.to_numpy(dtype=bool)
    sub = w[_repeated(w[T.document_id], lv, _code(w, _DOC))]  # a number used once is fine
    if len(sub) == 0:
        return w
    ncust = sub[T.customer_id].groupby(sub[T.document_id]).transform("nunique")
    bad = ncust > 1
    if not bad.any():
        return w
    b = sub[bad]
    desc = b[T.source] + " (customer " + b[T.customer_id] + ")"
    reason = ("invoice number " + b[T.document_id] + " is used for more than one customer: "
              + _join_by_group(b[T.document_id], desc)
              + "; invoice numbers must be unique - check the customer column (was a customer renamed?)")
    return _mark(w, pd.Series(w.index.isin(b.index), index=w.index), _REJECTED, reason=reason.reindex(w.index))


# ----------------------------------------------------------------------------- step 5

def reject_unusable_rows(w: pd.DataFrame) -> pd.DataFrame:
    """Rule 5 (rejections): rows that cannot become an invoice or a payment.

    Invoices without a number or a date, and zero-amount documents of any kind.
    Payments and credit notes without a date.
    """
    live = _live(w)
    inv = w[T.kind] == S.KIND_INVOICE
    def word(m):  # the document word of the rows in m (reasons are built only for those)
        return w.loc[m, T.kind].map(_DOC_WORD).astype(object).fillna("document")

    out = _mark(w, live & w[T.customer_id].isna(), _REJECTED, reason="row without a customer")
    out = _mark(out, inv & w[T.document_id].isna(), _REJECTED, reason="invoice without an invoice number")
    out = _mark(out, w[T.document_date].isna(), _REJECTED, reason=lambda m: word(m) + " without a date")
    out = _mark(out, w[T.amount].fillna(0) <= 0, _REJECTED, reason=lambda m: "zero-amount " + word(m))
    return _reject_implausible_dates(out, word)


#: document dates before this are not plausible receivables (placeholders such as 01/01/1900)
EARLIEST_PLAUSIBLE_DATE = pd.Timestamp("1990-01-01")
#: a document dated more than this many days after every other one, and more than
#: FUTURE_MEDIAN_DAYS after the median document date, is a typo in the year
FUTURE_GAP_DAYS = 366
FUTURE_MEDIAN_DAYS = 5 * 365


def _reject_implausible_dates(w: pd.DataFrame, word) -> pd.DataFrame:
    """Reject documents dated before 1990, or more than a year after every other document.

    No wall clock is used: "far in the future" means separated from the rest of the ledger
    by a gap of more than :data:`FUTURE_GAP_DAYS` in its later half and more than
    :data:`FUTURE_MEDIAN_DAYS` after the median document date (a typo year such as 2099
    would otherwise become the default report date). Sparse aging snapshots, whose dates
    legitimately jump by a year or two, stay within the second bound.
    """
    date = pd.to_datetime(w[T.document_date])

    def shown(m):
        return _fmt_date(date[m])

    early = _live(w) & (date < EARLIEST_PLAUSIBLE_DATE)
    out = _mark(w, early, _REJECTED, reason=lambda m: (
        word(m) + " date " + shown(m) + f" is before {EARLIEST_PLAUSIBLE_DATE:%Y-%m-%d}: not a plausible date for a "
        "receivable (a placeholder such as 01/01/1900?); correct the date in the export"))
    live = _live(out) & date.notna()
    u = np.unique(date[live].to_numpy(dtype="datetime64[ns]"))
    if len(u) >= 2:
        gaps = np.diff(u) > np.timedelta64(FUTURE_GAP_DAYS, "D")
        gaps[: (len(u) - 1) // 2] = False  # only gaps in the later half of the dates
        if gaps.any():
            k = int(np.argmax(gaps))
            last_ok = pd.Timestamp(u[k])
            median = date[live].median()
            late = live & (date > last_ok) & (date > median + pd.Timedelta(days=FUTURE_MEDIAN_DAYS))
            out = _mark(out, late, _REJECTED, reason=lambda m: (
                word(m) + " date " + shown(m) + f" is more than a year after every other document (the latest "
                f"otherwise is {last_ok:%Y-%m-%d}) and more than five years after most of them: a typo in the year?; "
                "correct the date in the export"))
    return out


# ----------------------------------------------------------------------------- step 6a

def merge_cleared_items(w: pd.DataFrame) -> pd.DataFrame:
    """Rule 6 (cleared items): payment/credit rows that carry a clearing date themselves.

    In a clearing ledger (SAP FBL5N) the invoice's clearing date already says when it was
    settled, so the cleared payment lines are merged as ``"cleared_item"`` rather than
    allocated a second time.

    Examples
    --------
    >>> tx = pd.DataFrame({"file": "s.txt", "row": [2, 3], "source": ["s.txt:2", "s.txt:3"],
    ...     "kind": ["invoice", "payment"], "document_id": ["18", "14"], "customer_id": "100234",
    ...     "amount": [50.0, 50.0], "settled_date": pd.to_datetime(["2025-03-20", "2025-03-20"])})
    >>> merge_cleared_items(prepare_transactions(tx))["_rule"].tolist()
    [None, 'cleared_item']
    """
    mask = (w[T.kind] != S.KIND_INVOICE) & w[T.settled_date].notna()
    return _mark(w, mask, _MERGED, rule="cleared_item")


# ----------------------------------------------------------------------------- step 6c

def propagate_rejections(w: pd.DataFrame) -> pd.DataFrame:
    """Rows merged into a row that was later rejected are rejected with it.

    A copy of a rejected row (say the second export of an invoice whose number conflicts)
    must not stay hidden among the merged rows: it is rejected with the reason
    ``"copy of f.csv:12, which was rejected: <reason>"``. Repeated until no merged row points
    at a rejected one (merges chain at most a few steps deep).

    Examples
    --------
    >>> tx = pd.DataFrame({"file": ["a.csv", "a.csv", "b.csv"], "row": [2, 3, 2],
    ...     "source": ["a.csv:2", "a.csv:3", "b.csv:2"], "kind": "invoice", "document_id": "INV-1",
    ...     "customer_id": "A", "amount": [5.0, 6.0, 5.0],
    ...     "document_date": pd.to_datetime(["2025-01-01"] * 3)})
    >>> w = prepare_transactions(tx).pipe(merge_exact_duplicates).pipe(reject_conflicting_duplicates)
    >>> propagate_rejections(w)["_fate"].tolist()
    ['rejected', 'rejected', 'rejected']
    """
    out = w
    for _ in range(len(MERGE_RULES) + 1):
        fate = out[_FATE]
        is_rejected = (fate == _REJECTED).to_numpy(dtype=bool)
        merged = np.flatnonzero((fate == _MERGED).to_numpy(dtype=bool))
        if not (is_rejected.any() and len(merged)):  # nothing can point at a rejected row
            break
        rejected = out[is_rejected]
        reason_of = pd.Series(rejected[_REASON].to_numpy(), index=rejected[T.source].astype(object).to_numpy())
        reason_of = reason_of[~reason_of.index.duplicated()]
        into = out[_INTO].astype(object)
        hit = np.zeros(len(out), dtype=bool)
        hit[merged] = into.iloc[merged].isin(reason_of.index).to_numpy(dtype=bool)  # the merged rows only
        hit = pd.Series(hit, index=out.index)
        if not hit.any():
            break
        text = ("copy of " + into[hit] + ", which was rejected: " + into[hit].map(reason_of)).reindex(out.index)
        out = _copy(out)
        out.loc[hit, _FATE] = _REJECTED
        out.loc[hit, _RULE] = None
        out.loc[hit, _REASON] = text[hit]
    return out


# ----------------------------------------------------------------------------- step 5b

def _one_text(s: pd.Series) -> bool:
    """Whether ``s`` is Arrow-backed text with no missing value, every value equal to the
    first (one file, one currency: the usual case), found by one comparison, not hashing."""
    if len(s) == 0 or s.dtype == object or not pd.api.types.is_string_dtype(s.dtype):
        return False
    a = _arrow(s)
    if a is None or a.null_count:
        return False
    first = a[0]
    if not first.is_valid:
        return False
    return bool(pc.all(pc.equal(a, first)).as_py())


def _codes(s: pd.Series) -> np.ndarray:
    """Integer codes of the values (equal values, equal codes; missing: -1)."""
    if _one_text(s):
        return np.zeros(len(s), dtype="int64")
    codes = dictionary_codes(s) if s.dtype != object else None  # few distinct values: Arrow hashes fast
    if codes is not None:
        return codes[0]
    codes, _ = pd.factorize(s)
    return np.asarray(codes, dtype="int64")


def _code(w: pd.DataFrame, name: str) -> np.ndarray:
    """The working code column ``name`` of ``w`` (made by :func:`prepare_transactions`), or
    the codes computed now for a frame without it."""
    if name in w.columns:
        return w[name].to_numpy(dtype="int64")
    if name in (_DOC, _REF):
        return _joint_codes(w[T.document_id], w[T.applied_to])[0 if name == _DOC else 1]
    return _codes(w[_CODE_COLUMNS[name]])


def _rank_by_codes(s: pd.Series, codes: np.ndarray, pos: np.ndarray) -> pd.Series:
    """Dense rank (missing last) of ``s`` at positions ``pos``, given the codes of ``s``:
    only one value per distinct code is compared."""
    c = codes[pos]
    size = int(codes.max()) + 1 if len(codes) else 0
    known = c >= 0
    seen = np.zeros(size, dtype=bool)
    seen[c[known]] = True
    present = np.flatnonzero(seen)  # the codes at pos, ascending (no sort of the rows)
    rank_of = np.zeros(len(present) + 1, dtype="int64")
    if len(present):
        first_pos = np.full(size, -1, dtype="int64")
        first_pos[c[known]] = pos[known]  # any row of a code will do: its rows hold one value
        rank_of[: len(present)] = _dense_rank(_take(s, first_pos[present]))
    rank_of[len(present)] = len(present)  # missing last
    slot = np.full(size + 1, len(present), dtype="int64")  # the last slot: missing
    slot[present] = np.arange(len(present))
    return pd.Series(rank_of[slot[np.where(c >= 0, c, size)]])


def _latest_name_rows(w: pd.DataFrame, cust: np.ndarray) -> np.ndarray:
    """Per customer code: the row of its latest non-empty name (by document date, missing
    dates first, then input order), -1 when it has none."""
    ok = (w[T.customer_name].notna() & (w[_FATE] != _REJECTED)).to_numpy(dtype=bool) & (cust >= 0)
    rows = np.flatnonzero(ok)
    date = pd.to_datetime(w[T.document_date]).to_numpy()[rows].view("int64")  # NaT (int64 min) first
    out = np.full(int(cust.max()) + 1 if len(cust) else 0, -1, dtype="int64")
    if len(rows) == 0:
        return out
    rid = w[_RID].to_numpy()[rows]
    c = cust[rows]
    if len(rows) > 1 and (np.diff(rid) > 0).all():
        # rows already in input order: the latest row of a customer is the one with the
        # largest (date rank, position) - one integer per row, its maximum per customer
        codes, uniq = pd.factorize(date)  # few distinct dates: hashing, then rank them
        rank = np.empty(len(uniq), dtype="int64")
        rank[np.argsort(uniq, kind="stable")] = np.arange(len(uniq))
        n = len(rows)
        if len(uniq) * n < 2 ** 62:
            best = np.full(len(out), -1, dtype="int64")
            np.maximum.at(best, c, rank[codes] * n + np.arange(n))
            has = best >= 0
            out[has] = rows[best[has] % n]
            return out
    order = np.lexsort((rid, date, c))
    rows, c = rows[order], c[order]
    # the last row of each customer in that order
    last = np.ones(len(c), dtype=bool)
    last[:-1] = c[1:] != c[:-1]
    out[c[last]] = rows[last]
    return out


def build_invoices(w: pd.DataFrame, settings: IngestSettings | None = None) -> pd.DataFrame:
    """Rule 5: the live invoice rows as canonical invoices (before payments).

    due_date = the given due date, else invoice date + terms_days, else invoice date +
    ``settings.default_terms_days`` (column ``_due_from`` says which). disputed defaults to
    False. customer_name is the latest non-empty name of the customer. Working columns:
    ``_capacity`` (what payments in this ledger can still settle: the amount, or the open
    balance of a part-paid snapshot-only invoice), ``_settled_date``, ``_open_amount``,
    ``_paid_before_snapshot``.

    Returns
    -------
    pd.DataFrame
        Invoices columns (paid_date, settled_by still empty) plus the working columns,
        ordered by customer, invoice date and invoice number.
    """
    settings = settings or IngestSettings()
    pos = np.flatnonzero((_live(w) & (w[T.kind] == S.KIND_INVOICE)).to_numpy(dtype=bool))
    cust = _code(w, _CUST)
    # order by (customer, invoice date, invoice number), stable, missing last; the number
    # is compared only where customer and date tie. Each column is then taken once.
    cust_rank, inv_day = _rank_by_codes(w[T.customer_id], cust, pos), _take(w[T.document_date], pos)
    lead = _combined_key([cust_rank.to_numpy(), inv_day.to_numpy()])  # customer and date as one integer
    lead = [pd.Series(lead)] if lead is not None else [cust_rank, inv_day]
    order = _stable_order(lead + [lambda t: _take(w[T.document_id], pos[t])])
    pos = pos[order]
    release_memory()  # the sort's working memory, before the columns are taken (memory)
    col = {c: _take(w[c], pos) for c in (T.document_date, T.due_date, T.terms_days, T.amount, T.open_amount,
                                         T.snapshot_date, T.settled_date)}
    inv_date = col[T.document_date]
    terms = pd.to_timedelta(col[T.terms_days], unit="D")
    default = pd.Timedelta(days=settings.default_terms_days)
    given = col[T.due_date]
    due = given.where(given.notna(), inv_date + terms)
    due = due.where(due.notna(), inv_date + default)
    # the labels taken by code from a three-value array (much faster than text per row)
    due_from = _labels(("given", "terms", "default"),
                       np.select([given.notna(), col[T.terms_days].notna()], [0, 1], 2))
    name_rows = _latest_name_rows(w, cust)
    cp = cust[pos]
    names = _take(w[T.customer_name], name_rows)  # the name of each customer code
    name_at = np.where(cp >= 0, cp, -1) if len(name_rows) else np.full(len(cp), -1, dtype="int64")
    amount = col[T.amount].astype(float)
    open_given = col[T.open_amount].astype(float).abs()
    snap = col[T.snapshot_date].notna() & open_given.notna()
    part = snap & (open_given < amount - settings.amount_tolerance)
    capacity = amount.where(~part, open_given.clip(lower=0))
    disputed = w[T.disputed]
    if disputed.isna().all():
        disputed = pd.Series(np.zeros(len(pos), dtype=bool))
    else:
        disputed = _take(disputed, pos).astype("boolean").fillna(False).astype(bool)
    return pd.DataFrame({
        Invoices.invoice_id: _strings(_take(w[T.document_id], pos)),
        Invoices.customer_id: _strings(_take_coded(w[T.customer_id], cust, pos)),
        Invoices.customer_name: _strings(_take(names, name_at)),
        Invoices.invoice_date: inv_date,
        Invoices.due_date: due,
        Invoices.amount: amount,
        Invoices.currency: _strings(_take_coded(w[T.currency], _code(w, _CUR), pos)),
        Invoices.disputed: disputed,
        Invoices.paid_date: pd.Series(pd.NaT, index=inv_date.index, dtype=inv_date.dtype),
        Invoices.settled_by: _labels((S.SETTLED_PAYMENT,), np.full(len(pos), -1, dtype="int64")),
        Invoices.source: _strings(_take(w[T.source], pos)),
        _CAP: capacity,
        _DUE_FROM: due_from,
        _SETTLED: col[T.settled_date],
        _OPEN_GIVEN: open_given,
        _BEFORE_SNAP: (amount - capacity).where(part, 0.0),
        _SNAPSHOT: col[T.snapshot_date],
        _DOC: _code(w, _DOC)[pos],
        _CUST: cp,
        _CUR: _code(w, _CUR)[pos],
    }, copy=False)  # fresh columns: no copy into blocks


# ----------------------------------------------------------------------------- step 6b

def _payments_frame(**cols) -> pd.DataFrame:
    out = pd.DataFrame(cols)
    for c in (Payments.payment_id, Payments.customer_id, Payments.invoice_id, Payments.kind,
              Payments.currency, Payments.source):
        out[c] = _strings(out[c])
    out[Payments.amount] = out[Payments.amount].astype(float)
    cols = list(_PAY_COLUMNS)
    for extra in (_INV, _CPOS):
        if extra in out.columns:
            out[extra] = out[extra].astype("int64")
            cols.append(extra)
    return out[cols]


def settlement_payments(invoices: pd.DataFrame) -> pd.DataFrame:
    """Rule 6: a payment for each invoice that carries a settlement (clearing) date.

    Returns
    -------
    pd.DataFrame
        Payments columns: payment_id ``"settled:<invoice_id>"``, customer_id, payment_date
        (the settlement date), amount (the invoice amount), invoice_id, kind "payment",
        currency, source (the invoice's source).
    """
    s = invoices[invoices[_SETTLED].notna()]
    return _payments_frame(**{
        Payments.payment_id: "settled:" + s[Invoices.invoice_id].astype(str),
        Payments.customer_id: s[Invoices.customer_id],
        Payments.payment_date: s[_SETTLED],
        Payments.amount: s[Invoices.amount],
        Payments.invoice_id: s[Invoices.invoice_id],
        Payments.kind: pd.Series(S.KIND_PAYMENT, index=s.index),
        Payments.currency: s[Invoices.currency],
        Payments.source: s[Invoices.source],
        _INV: s.index.to_numpy(),
        _CPOS: np.full(len(s), -1, dtype="int64"),
    })


#: payment_id prefix of the part of a snapshot-only invoice paid before the snapshot
BEFORE_SNAPSHOT = S.BEFORE_SNAPSHOT


def _paid_before_snapshot(invoices: pd.DataFrame, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the snapshot-only invoices paid before their snapshot date: (part-paid, still
    open on that date; paid in full, nothing open and no settlement date)."""
    if _BEFORE_SNAP not in invoices.columns:
        none = np.zeros(len(invoices), dtype=bool)
        return none, none
    before = (invoices[_BEFORE_SNAP] > tol).to_numpy(dtype=bool)
    still_open = (invoices[_CAP] > tol).to_numpy(dtype=bool)
    return before & still_open, before & ~still_open & invoices[_SETTLED].isna().to_numpy(dtype=bool)


def credit_ledger_payments_before_snapshot(invoices: pd.DataFrame, cash: pd.DataFrame,
                                           settings: IngestSettings | None = None) -> pd.DataFrame:
    """Rule 6b: what a snapshot-only invoice's own payments in this ledger paid before the
    snapshot is not also a payment "before the snapshot".

    An aging snapshot of 25 July shows INV-7 (1,000) with 800 open, and the payments export
    holds a payment of 200 on 1 March that names INV-7. The 200 paid before the snapshot is
    that payment, not another payment of unknown date: counting both would leave 600 open
    where the snapshot says 800. So the payments in the ledger that name the invoice (same
    customer and currency) and are dated on or before its snapshot date reduce its
    ``_paid_before_snapshot`` (never below 0) and raise its ``_capacity`` by as much; the
    allocation then applies them to it, on their own dates. A payment that names no invoice
    cannot be told apart from one for another invoice, so it is not counted here.

    Returns
    -------
    pd.DataFrame
        ``invoices``, with those two working columns changed where such payments exist (the
        same object when there are none).
    """
    settings = settings or IngestSettings()
    tol = settings.amount_tolerance
    if _BEFORE_SNAP not in invoices.columns or not len(cash):
        return invoices
    before = invoices[_BEFORE_SNAP].to_numpy(dtype=float)
    if not (before > tol).any():
        return invoices
    ikey, ckey = _customer_currency_codes(invoices, cash)
    pos = _referenced_positions(invoices, cash, ikey, ckey)
    hold = cash["hold"].to_numpy(dtype=bool) if "hold" in cash.columns else np.zeros(len(cash), dtype=bool)
    named = np.flatnonzero(~np.isnan(pos) & ~hold)
    at = pos[named].astype("int64")
    snap = invoices[_SNAPSHOT].to_numpy(dtype="datetime64[ns]")[at]
    on_or_before = cash[Payments.payment_date].to_numpy(dtype="datetime64[ns]")[named] <= snap  # NaT: False
    paid = np.bincount(at[on_or_before], weights=cash["available"].to_numpy(dtype=float)[named][on_or_before],
                       minlength=len(invoices))
    shift = np.minimum(before, paid)
    shift[before <= tol] = 0.0
    if not (shift > 0).any():
        return invoices
    out = invoices.copy(deep=False)
    out[_BEFORE_SNAP] = np.where(before - shift > tol, before - shift, 0.0)
    out[_CAP] = invoices[_CAP].to_numpy(dtype=float) + (before - out[_BEFORE_SNAP].to_numpy(dtype=float))
    return out


def _snapshot_balance_mismatch(invoices: pd.DataFrame, payments: pd.DataFrame, tol: float) -> tuple[np.ndarray, str | None]:
    """The snapshot-only invoices whose open balance on their snapshot date, as this ledger
    has it, is not the balance the snapshot shows, and an example ("SI-1: 600.00 in this
    ledger, 800.00 in the snapshot"). The ledger's balance on that date is the amount less
    the allocations dated on or before it (``payments`` with invoice positions ``_INV``)
    and less the part paid before the snapshot; it differs when payments dated before the
    snapshot were applied to the invoice beyond what the snapshot shows paid (payments that
    name no invoice, applied oldest-first, or a named payment larger than that part)."""
    none = np.zeros(len(invoices), dtype=bool)
    if _SNAPSHOT not in invoices.columns or _OPEN_GIVEN not in invoices.columns or _INV not in payments.columns:
        return none, None
    snap = invoices[_SNAPSHOT].to_numpy(dtype="datetime64[ns]")
    given = invoices[_OPEN_GIVEN].to_numpy(dtype=float)
    only = ~np.isnat(snap) & ~np.isnan(given)
    if not only.any():
        return none, None
    at = payments[_INV].to_numpy(dtype="int64")
    use = at >= 0
    use[use] = only[at[use]]
    use[use] = payments[Payments.payment_date].to_numpy(dtype="datetime64[ns]")[use] <= snap[at[use]]
    before = np.bincount(at[use], weights=payments[Payments.amount].to_numpy(dtype=float)[use],
                         minlength=len(invoices))
    amount = invoices[Invoices.amount].to_numpy(dtype=float)
    ledger_open = np.clip(amount - before - invoices[_BEFORE_SNAP].to_numpy(dtype=float), 0.0, None)
    bad = only & (np.abs(ledger_open - np.abs(given)) > tol)
    if not bad.any():
        return bad, None
    i = int(np.flatnonzero(bad)[0])
    return bad, (f"{invoices[Invoices.invoice_id].iloc[i]} of customer {invoices[Invoices.customer_id].iloc[i]}: "
                 f"{ledger_open[i]:,.2f} in this ledger, {abs(given[i]):,.2f} in the snapshot")


def snapshot_payments(invoices: pd.DataFrame, settings: IngestSettings | None = None) -> pd.DataFrame:
    """The part of each snapshot-only invoice that was paid before the snapshot, as a payment.

    An aging snapshot shows INV-7 (1,000) with 800 open: 200 was paid before the snapshot
    date, on a date the export does not give. Without a payment for it, every balance
    computed from the ledger (aging, total AR, DSO) would count the whole 1,000 as open.
    So it becomes a payment ``"before-snapshot:INV-7"`` of 200 dated the snapshot date: the
    latest day it can have been paid and the first day the ledger knows it as paid, so the
    balances from the snapshot date on are the snapshot's own. Its real date is unknown, so
    it never decides when an invoice was paid: the rest of a part-paid invoice is paid by
    later payments, which set the paid date, and the allocation and paid dates are worked
    out without it. An invoice the snapshot shows fully paid (nothing open) gets one for its
    whole amount; :func:`paid_dates` marks it paid on the snapshot date, settled_by
    ``"before snapshot"``, which the analysis reads as no observation of how its customer
    pays. (An invoice with a settlement date is paid by that date instead, rule 6.)

    Returns
    -------
    pd.DataFrame
        Payments columns, one row per such invoice (kind "payment", source: the invoice's).
    """
    settings = settings or IngestSettings()
    tol = settings.amount_tolerance
    part, full = _paid_before_snapshot(invoices, tol)
    s = invoices[part | full]
    return _payments_frame(**{
        Payments.payment_id: BEFORE_SNAPSHOT + s[Invoices.invoice_id].astype(str),
        Payments.customer_id: s[Invoices.customer_id],
        Payments.payment_date: s[_SNAPSHOT],
        Payments.amount: s[_BEFORE_SNAP],
        Payments.invoice_id: s[Invoices.invoice_id],
        Payments.kind: pd.Series(S.KIND_PAYMENT, index=s.index, dtype=object),
        Payments.currency: s[Invoices.currency],
        Payments.source: s[Invoices.source],
    })


# ----------------------------------------------------------------------------- step 7

#: the columns of the working frame that :func:`_cash_rows` reads
_CASH_ROW_COLUMNS = (T.kind, _FATE, T.document_id, T.source, T.document_date, T.amount, T.snapshot_date,
                     T.open_amount, T.customer_id, T.currency, T.applied_to, _DOC, _REF, _CUST, _CUR)


def _cash_rows(w: pd.DataFrame) -> pd.DataFrame:
    """Live payment and credit rows, with the amount available for allocation, ordered by
    (payment_date, payment_id, source)."""
    kind = _codes(w[T.kind])
    pos = np.flatnonzero((_live(w) & (w[T.kind] != S.KIND_INVOICE)).to_numpy(dtype=bool))
    doc = w[T.document_id]

    def payment_id(rows):
        d = _take(doc, rows)  # the source only where the number is missing (memory)
        return d.where(d.notna(), _take(w[T.source], rows)) if d.isna().any() else d

    date = _take(w[T.document_date], pos)
    order = _stable_order([date, lambda t: payment_id(pos[t]), lambda t: _take(w[T.source], pos[t])])
    pos = pos[order]
    release_memory()  # the sort's working memory, before the columns are taken (memory)
    # (payment date, payment number) pairs numbered in this order: equal pairs are next to
    # each other, so a new number starts where the date or the number (its code; a missing
    # number is replaced by the row's own source) changes
    day = date.to_numpy()[order]
    if day.dtype.kind == "M":
        day = day.view("int64")  # missing dates equal each other, as the canonical sort has them
    doc_code = _code(w, _DOC)[pos]
    new = np.ones(len(pos), dtype=bool)
    if len(pos) > 1:
        new[1:] = (day[1:] != day[:-1]) | (doc_code[1:] != doc_code[:-1]) | (doc_code[1:] < 0)
    pid_rank = np.cumsum(new) - 1
    del day, doc_code, new
    amount = _take(w[T.amount], pos).astype(float)
    snapshot = _take(w[T.snapshot_date], pos)
    snap_open = _take(w[T.open_amount], pos).abs().where(snapshot.notna())
    avail = amount.where(snap_open.isna(), np.minimum(amount, snap_open))
    text = {}
    for name, make in ((Payments.payment_id, lambda: payment_id(pos)),
                       (Payments.customer_id, lambda: _take_coded(w[T.customer_id], _code(w, _CUST), pos)),
                       (Payments.kind, lambda: _take_coded(w[T.kind], kind, pos)),
                       (Payments.currency, lambda: _take_coded(w[T.currency], _code(w, _CUR), pos)),
                       (Payments.source, lambda: _take(w[T.source], pos))):
        text[name] = _strings(make())
        release_memory()  # each take's working memory, before the next (memory)
    return pd.DataFrame({
        Payments.payment_id: text[Payments.payment_id],
        Payments.customer_id: text[Payments.customer_id],
        Payments.payment_date: date.take(order).reset_index(drop=True),
        Payments.kind: text[Payments.kind],
        Payments.currency: text[Payments.currency],
        Payments.source: text[Payments.source],
        "applied_to": _take(w[T.applied_to], pos),
        "available": avail,
        "amount_read": amount,
        "hold": snapshot.notna(),
        _REF: _code(w, _REF)[pos],
        _CUST: _code(w, _CUST)[pos],
        _CUR: _code(w, _CUR)[pos],
        _KIND: kind[pos],
        _PID: pid_rank,
    }, copy=False)  # fresh columns: no copy into blocks


_MILLI = 1000.0  # allocation runs on integer thousandths of the currency unit (exact sums)


def _fifo_pairs(inv_group: np.ndarray, inv_amt: np.ndarray, cash_group: np.ndarray, cash_amt: np.ndarray):
    """Oldest-first matching of two sorted queues per group, all groups in one pass.

    Within each group, invoice j owns the interval [C_{j-1}, C_j) of the cumulative
    invoice amounts and cash k owns [P_{k-1}, P_k) of the cumulative cash; the allocation
    of k to j is the overlap of the two intervals. All interval end points of a group are
    merged into one sorted list; each gap between consecutive end points lies in exactly
    one invoice interval and one cash interval (found by a backward fill of the next
    invoice/cash end), and its length is the amount allocated.

    Parameters
    ----------
    inv_group, cash_group : ndarray of int
        Group code per invoice / cash row; rows sorted by group then queue order.
    inv_amt, cash_amt : ndarray of int64
        Amounts in integer thousandths.

    Returns
    -------
    inv_idx, cash_idx, amount : ndarray
        Positions into the invoice and cash arrays and the allocated amount (int64).
    """
    inv_group, cash_group = np.asarray(inv_group, dtype="int64"), np.asarray(cash_group, dtype="int64")
    inv_end = _sorted_group_cumsum(inv_group, np.asarray(inv_amt, dtype="int64"))
    cash_end = _sorted_group_cumsum(cash_group, np.asarray(cash_amt, dtype="int64"))
    ni = len(inv_end)
    g = np.concatenate([inv_group, cash_group])
    end = np.concatenate([inv_end, cash_end])
    order = _lexsort([g, end])  # stable: an invoice end before a cash end at the same point
    g, end = g[order], end[order]
    n = len(order)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = g[1:] != g[:-1]
    prev = np.zeros(n, dtype="int64")
    prev[1:] = end[:-1]
    prev[new_group] = 0
    seg = end - prev

    def next_of(is_kind):  # per event: the next event (itself included) of the kind in its group, -1 if none
        at = np.where(is_kind, np.arange(n), n)
        nxt = np.minimum.accumulate(at[::-1])[::-1]
        ok = nxt < n
        ok[ok] = g[nxt[ok]] == g[ok]
        return np.where(ok, nxt, -1)

    inv_next, cash_next = next_of(order < ni), next_of(order >= ni)
    ok = (seg > 0) & (inv_next >= 0) & (cash_next >= 0)
    return order[inv_next[ok]], order[cash_next[ok]] - ni, seg[ok]


def _sorted_group_cumsum(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` within each group (the rows of a group next to each other,
    as when sorted by group)."""
    total = np.cumsum(values)
    if len(values) == 0:
        return total
    if (group[1:] < group[:-1]).any():  # not sorted by group: let pandas group them
        return pd.Series(values).groupby(group).cumsum().to_numpy()
    start = np.ones(len(group), dtype=bool)
    start[1:] = group[1:] != group[:-1]
    before = (total - values)[start]  # the running total before each group
    return total - before[np.cumsum(start) - 1]


def _ns(values) -> np.ndarray:
    """Dates of any resolution as int64 nanoseconds (NaT -> the int64 minimum)."""
    return np.asarray(pd.to_datetime(pd.Series(values)).astype("datetime64[ns]").to_numpy()).view("int64")


_NEVER = np.iinfo("int64").max


def _dispute_queue_dates(inv_group: np.ndarray, inv_date: np.ndarray, inv_amt: np.ndarray, disputed: np.ndarray,
                         cash_group: np.ndarray, cash_date: np.ndarray, cash_amt: np.ndarray,
                         tol: int) -> np.ndarray:
    """Queue date of each disputed open invoice: the payment that settled it, if any.

    Replay the customer's unreferenced cash against the *undisputed* open invoices only,
    in time: cash on date t_k pays undisputed invoices issued on or before t_k, and what it
    cannot place there is its overflow. In cumulative terms (A_k cash so far, U_k the
    undisputed amount issued by t_k) the cash placed so far is the capped running sum
    X_k = min(X_{k-1} + a_k, U_k) = A_k + min(0, min_{j<=k}(U_j - A_j)), and the overflow of
    payment k is a_k - (X_k - X_{k-1}). A disputed invoice's queue date is the first
    payment on or after its invoice date whose overflow covers its open amount (within
    tolerance): cash that arrived when nothing undisputed was left to pay, enough to settle
    it -- the dispute was resolved and paid. Otherwise it is "never": the invoice queues
    behind every undisputed invoice of the customer and currency.

    Placing the invoice in the oldest-first queue at that date (after the undisputed
    invoices issued by then) keeps cash received for newer undisputed invoices on those
    invoices, while the payment that clearly paid the disputed invoice still settles it.
    Computed for all groups at once (cumulative sums, a grouped running minimum, one
    ``merge_asof`` and one join of the few disputed invoices to the few overflowing
    payments). With several disputed invoices in one group each is placed on its own (an
    approximation: two may take the same payment's overflow).

    Parameters
    ----------
    inv_group, inv_date, inv_amt, disputed : ndarray
        Per open invoice: group code, invoice date (int64 ns), open capacity (int64
        thousandths), dispute flag.
    cash_group, cash_date, cash_amt : ndarray
        Per unreferenced cash row, sorted by group then cash order (date order): group
        code, payment date (int64 ns), amount left (int64 thousandths).
    tol : int
        Amount tolerance in thousandths.

    Returns
    -------
    ndarray of int64
        Queue dates (ns) of the disputed invoices, in the order of ``disputed.nonzero()``;
        int64 max for "never".

    Examples
    --------
    Undisputed 100 on day 1 and 50 on day 20, disputed 80 on day 5; cash 100 on day 10
    pays the day-1 invoice (overflow 0); cash 130 on day 30 pays the 50 of day 20 and
    overflows by 80, which covers the disputed invoice: it queues at day 30.

    >>> day = 86_400 * 10**9
    >>> q = _dispute_queue_dates(np.zeros(3, int), np.array([1, 5, 20]) * day, np.array([100, 80, 50]),
    ...                          np.array([False, True, False]), np.zeros(2, int), np.array([10, 30]) * day,
    ...                          np.array([100, 130]), 0)
    >>> (q // day).tolist()
    [30]

    A day-30 payment of only 60 (overflow 10) does not settle it: it queues last.

    >>> q = _dispute_queue_dates(np.zeros(3, int), np.array([1, 5, 20]) * day, np.array([100, 80, 50]),
    ...                          np.array([False, True, False]), np.zeros(2, int), np.array([10, 30]) * day,
    ...                          np.array([100, 60]), 0)
    >>> bool(q[0] == np.iinfo("int64").max)
    True
    """
    out = np.full(int(disputed.sum()), _NEVER, dtype="int64")
    if len(cash_amt) == 0 or len(out) == 0:
        return out
    und = ~disputed
    u = pd.DataFrame({"g": inv_group[und], "t": inv_date[und], "a": inv_amt[und]}).sort_values(["g", "t"], kind="stable")
    u["U"] = u.groupby("g")["a"].cumsum()
    c = pd.DataFrame({"k": np.arange(len(cash_amt)), "g": cash_group, "t": cash_date, "a": cash_amt,
                      "A": pd.Series(cash_amt).groupby(cash_group).cumsum().to_numpy()})
    c = pd.merge_asof(c.sort_values("t", kind="stable"), u[["g", "t", "U"]].sort_values("t", kind="stable"),
                      on="t", by="g", direction="backward", allow_exact_matches=True).sort_values("k")
    U = c["U"].fillna(0).to_numpy(dtype="int64")
    A = c["A"].to_numpy(dtype="int64")
    g = c["g"].to_numpy()
    X = A + np.minimum(0, pd.Series(U - A).groupby(g).cummin().to_numpy())
    X_prev = pd.Series(X).groupby(g).shift(1).fillna(0).to_numpy(dtype="int64")
    c["over"] = c["a"].to_numpy() - (X - X_prev)
    over = c.loc[c["over"] > tol, ["g", "t", "over"]]
    if len(over) == 0:
        return out
    dd = pd.DataFrame({"g": inv_group[disputed], "d": inv_date[disputed], "amt": inv_amt[disputed],
                       "pos": np.arange(len(out))})
    pairs = dd.merge(over, on="g")
    pairs = pairs[(pairs["t"] >= pairs["d"]) & (pairs["over"] >= pairs["amt"] - tol)]
    first = pairs.groupby("pos")["t"].min()
    out[first.index.to_numpy()] = first.to_numpy(dtype="int64")
    return out


def _customer_currency_codes(inv: pd.DataFrame, cash: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per (customer, currency) of each invoice and cash row: equal codes for
    equal ``"customer\x1fcurrency"`` texts (missing values form their own key)."""
    cols = (Invoices.customer_id, Invoices.currency)
    if all(c in inv.columns and c in cash.columns for c in (_CUST, _CUR)):  # codes from prepare_transactions
        cust = np.concatenate([inv[_CUST].to_numpy(dtype="int64"), cash[_CUST].to_numpy(dtype="int64")])
        cur = np.concatenate([inv[_CUR].to_numpy(dtype="int64"), cash[_CUR].to_numpy(dtype="int64")])
        if not ((cust < 0).any() or (cur < 0).any() or _codes_have_separator(cust, inv, cash, Invoices.customer_id)
                or _codes_have_separator(cur, inv, cash, Invoices.currency)):
            key, _ = pd.factorize(cust * (int(cur.max()) + 1 if len(cur) else 1) + cur)
            key = np.asarray(key, dtype="int64")
            return key[: len(inv)], key[len(inv):]
    parts = [pd.concat([inv[c], cash[c]], ignore_index=True) for c in cols]
    simple = not any(p.isna().any() for p in parts) and not _has_separator(
        pd.DataFrame({c: p for c, p in zip(cols, parts)}), cols)
    if simple:  # the pair of codes identifies the text exactly
        cust, _ = pd.factorize(parts[0])
        cur, cur_u = pd.factorize(parts[1])
        key, _ = pd.factorize(cust.astype("int64") * max(len(cur_u), 1) + cur)
    else:
        text = parts[0].astype(str) + "\x1f" + parts[1].astype(str)
        key, _ = pd.factorize(text, use_na_sentinel=False)
    key = np.asarray(key, dtype="int64")
    return key[: len(inv)], key[len(inv):]


def _codes_have_separator(codes: np.ndarray, inv: pd.DataFrame, cash: pd.DataFrame, col: str) -> bool:
    """Whether a value of ``col`` in the invoice and cash rows (with codes ``codes``, the
    invoice rows first) holds the key separator; one value per code is looked at."""
    if len(codes) == 0:
        return False
    first = np.full(int(codes.max()) + 1, -1, dtype="int64")
    first[codes] = np.arange(len(codes))  # a row of each code (codes here are never missing)
    first = first[first >= 0]
    n = len(inv)
    values = pd.concat([_take(inv[col], first[first < n]), _take(cash[col], first[first >= n] - n)],
                       ignore_index=True)
    return _has_separator(pd.DataFrame({col: values}), [col])


def _referenced_positions(inv: pd.DataFrame, cash: pd.DataFrame, ikey: np.ndarray, ckey: np.ndarray) -> np.ndarray:
    """Position of the invoice each cash row references (same customer and currency), NaN
    when none."""
    j = None
    if _DOC in inv.columns and _REF in cash.columns:  # codes in one vocabulary (prepare_transactions)
        doc = inv[_DOC].to_numpy(dtype="int64")
        ref = cash[_REF].to_numpy(dtype="int64")
        size = int(max(doc.max(initial=-1), ref.max(initial=-1))) + 1
        if (doc >= 0).all() and np.bincount(doc, minlength=size).max(initial=0) <= 1:  # unique numbers
            inv_at = np.full(size + 1, -1, dtype="int64")  # the last slot: no reference
            inv_at[doc] = np.arange(len(doc))
            j = inv_at[np.where(ref >= 0, ref, size)]
    if j is None:
        j = _referenced_by_text(inv, cash)
    if j is None:
        ids = pd.Index(inv[Invoices.invoice_id].to_numpy(dtype=object))
        ref = cash["applied_to"].astype(object).fillna("\x00").to_numpy(dtype=object)
        if not ids.is_unique:  # general path (a repeated invoice number makes the lookup ambiguous)
            inv_pos = pd.Series(np.arange(len(inv)), index=pd.MultiIndex.from_arrays([ikey, ids]))
            return inv_pos.reindex(pd.MultiIndex.from_arrays([ckey, ref])).to_numpy()
        j = ids.get_indexer(ref)
    j = np.where(cash["applied_to"].isna().to_numpy(dtype=bool), -1, np.asarray(j, dtype="int64"))
    hit = j >= 0
    hit[hit] = ikey[j[hit]] == ckey[hit]
    return np.where(hit, j, np.nan)


def _referenced_by_text(inv: pd.DataFrame, cash: pd.DataFrame) -> np.ndarray | None:
    """Position of the invoice whose number each cash row's ``applied_to`` is (-1: none),
    hashing the numbers by Arrow; None when the numbers repeat or do not convert."""
    try:  # text equality is byte equality
        ids_a = pa.array(inv[Invoices.invoice_id], from_pandas=True)
        if pa.types.is_large_string(ids_a.type):
            ids_a = ids_a.cast(pa.string())
        ref_a = _arrow(cash["applied_to"])
        if ref_a is None:
            ref_a = pa.array(cash["applied_to"].astype(object), from_pandas=True, type=pa.string())
        if pa.types.is_string(ids_a.type) and ids_a.null_count == 0 and \
                pc.count_distinct(ids_a).as_py() == len(ids_a):
            return pc.fill_null(pc.index_in(ref_a, value_set=ids_a), -1).to_numpy(zero_copy_only=False)
    except (pa.ArrowException, TypeError, ValueError):
        pass
    return None


def allocate_payments(invoices: pd.DataFrame, cash: pd.DataFrame, settled: pd.DataFrame,
                      settings: IngestSettings | None = None) -> tuple[pd.DataFrame, dict]:
    """Rule 7: allocate payments and credit notes to invoices, all customers at once.

    First explicit references: a payment whose ``applied_to`` is an invoice of the same
    customer and currency gets min(payment, the invoice's open amount); payments
    referencing the same invoice are served in (payment_date, payment_id) order. What is
    left of every payment then goes oldest-open-invoice-first per (customer, currency):
    open invoices ordered by (invoice_date, due_date, invoice_id), except that a disputed
    invoice queues behind the undisputed ones: it takes unreferenced cash only once every
    undisputed invoice of the customer and currency is settled, or from a payment whose
    excess over the undisputed invoices issued by its date covers it
    (:func:`_dispute_queue_dates`) -- and cash by (payment_date, payment_id), allocation = overlap of the cumulative-sum intervals
    (:func:`_fifo_pairs`). Cash that finds no open invoice stays unapplied (invoice_id
    missing), and so does cash known only from an aging snapshot (``hold``: it was
    unapplied on the snapshot date). Settlement-date payments (``settled``) are applied before anything else.

    Parameters
    ----------
    invoices : pd.DataFrame
        Output of :func:`build_invoices`.
    cash : pd.DataFrame
        Payment/credit rows with an ``available`` amount and ``applied_to``.
    settled : pd.DataFrame
        Output of :func:`settlement_payments`.

    Returns
    -------
    payments : pd.DataFrame
        Payments columns: payment_id, customer_id, payment_date, amount, invoice_id, kind,
        currency, source; one row per allocation, unapplied cash with invoice_id missing.
    stats : dict
        ``unreferenced`` (payments whose reference matched no invoice), ``overpayments``
        (payments partly allocated with an unapplied excess), ``unapplied_payments``.
    """
    settings = settings or IngestSettings()
    tol = settings.amount_tolerance
    inv = invoices
    ikey, ckey = _customer_currency_codes(inv, cash)
    pos = _referenced_positions(inv, cash, ikey, ckey)
    has_ref = cash["applied_to"].notna().to_numpy()
    hold = cash["hold"].to_numpy(dtype=bool) if "hold" in cash.columns else np.zeros(len(cash), dtype=bool)
    matched = ~np.isnan(pos) & ~hold
    avail = cash["available"].to_numpy(dtype=float)
    settled, settled_and_paid = _settled_rest(inv, settled, pos, matched, avail, tol)
    # capacity left after settlement-date payments
    already = np.bincount(settled[_INV].to_numpy(dtype="int64"), minlength=len(inv),
                          weights=settled[Payments.amount].to_numpy(dtype=float))
    cap = np.clip(inv[_CAP].to_numpy(dtype=float) - already, 0.0, None)

    # --- explicit references
    explicit_alloc = np.zeros(len(cash))
    e = np.flatnonzero(matched)
    if len(e):
        ep = pos[e].astype("int64")
        # cash is sorted by (payment_date, payment_id); stable sort by invoice keeps that order
        order = stable_argsort(ep)
        e, ep = e[order], ep[order]
        a = avail[e]
        cum = pd.Series(a).groupby(ep).cumsum().to_numpy()
        before = cum - a
        explicit_alloc[e] = np.clip(cap[ep] - before, 0.0, a)
        cap = cap - np.bincount(ep, weights=explicit_alloc[e], minlength=len(inv))
    # output rows are collected as (cash row, invoice position, amount) and materialised once
    parts_cash, parts_inv, parts_amt = [], [], []
    ex = np.flatnonzero(explicit_alloc > 0)
    parts_cash.append(ex)
    parts_inv.append(pos[ex].astype("int64"))
    parts_amt.append(explicit_alloc[ex])

    # --- oldest open invoice first
    left = avail - explicit_alloc
    pool = np.flatnonzero((left > tol) & ~hold)
    open_inv = np.flatnonzero(cap > tol)
    groups = pd.Index(pd.unique(np.concatenate([ikey[open_inv], ckey[pool]])))
    ig = groups.get_indexer(ikey[open_inv])
    cg = groups.get_indexer(ckey[pool])
    # invoices: by group, then queue date (the invoice date; for a disputed invoice the date
    # from which it may take unreferenced cash, see _dispute_queue_dates), undisputed before
    # disputed on the same date, then (invoice_date, due_date, invoice_id); cash: group, then
    # its order
    disputed = (inv[Invoices.disputed].astype("boolean").fillna(False).to_numpy(dtype=bool)
                if Invoices.disputed in inv.columns else np.zeros(len(inv), dtype=bool))
    co = pool[stable_argsort(cg)]
    cg_sorted = groups.get_indexer(ckey[co])
    cash_milli = np.rint(left[co] * _MILLI).astype("int64")
    inv_date = _ns(inv[Invoices.invoice_date].to_numpy()[open_inv])
    queue_date = inv_date.copy()
    d_open = disputed[open_inv]
    if d_open.any():
        queue_date[d_open] = _dispute_queue_dates(
            ig, inv_date, np.rint(cap[open_inv] * _MILLI).astype("int64"), d_open,
            cg_sorted, _ns(cash[Payments.payment_date].to_numpy()[co]), cash_milli, int(np.rint(tol * _MILLI)))
    io = open_inv[_queue_order(ig, queue_date, d_open, inv_date, inv[Invoices.due_date].to_numpy()[open_inv],
                               lambda t: _take(inv[Invoices.invoice_id], open_inv[t]).to_numpy(dtype=object))]
    ig_sorted = groups.get_indexer(ikey[io])
    inv_milli = np.rint(cap[io] * _MILLI).astype("int64")
    pi, pc_, amt = _fifo_pairs(ig_sorted, inv_milli, cg_sorted, cash_milli)
    inv_rows, cash_rows = io[pi], co[pc_]
    parts_cash.append(cash_rows)
    parts_inv.append(inv_rows.astype("int64"))
    parts_amt.append(amt / _MILLI)
    fifo_alloc = np.bincount(cash_rows, weights=amt, minlength=len(cash)) / _MILLI
    rest = left - fifo_alloc
    un = np.flatnonzero(rest > tol)
    parts_cash.append(un)
    parts_inv.append(np.full(len(un), -1, dtype="int64"))
    parts_amt.append(rest[un])
    allocated = explicit_alloc + fifo_alloc
    stats = {
        "unreferenced": int((has_ref & ~matched & ~hold).sum()),
        "snapshot_unapplied": int(hold.sum()),
        "overpayments": int(((rest > tol) & (allocated > tol)).sum()),
        "unapplied_payments": int(((rest > tol) & (allocated <= tol)).sum()),
        "settled_by_date": len(settled),
        "settled_date_and_payments": settled_and_paid,
    }
    return _assemble_payments(inv, cash, settled, parts_cash, parts_inv, parts_amt), stats


def _settled_rest(inv: pd.DataFrame, settled: pd.DataFrame, pos: np.ndarray, matched: np.ndarray,
                  avail: np.ndarray, tol: float) -> tuple[pd.DataFrame, int]:
    """The settlement-date payments, less what the cash rows applied to the same invoices
    pay, and the number of invoices that have both.

    An invoice that carries a settlement date (a "paid on" column) and whose payments are in
    the ledger too was settled by those payments: counting both would settle it twice and
    push the payments onto the customer's next open invoice. Its payments settle it, on
    their own dates (when the cash came, not when it was booked); the settlement date
    covers only what they leave (nothing, usually: then the settlement payment goes)."""
    if not len(settled) or not matched.any():
        return settled, 0
    paid = np.bincount(pos[matched].astype("int64"), weights=avail[matched], minlength=len(inv))
    by_cash = paid[settled[_INV].to_numpy(dtype="int64")]
    both = by_cash > tol
    if not both.any():
        return settled, 0
    amount = settled[Payments.amount].to_numpy(dtype=float)
    rest = np.where(both, amount - by_cash, amount)
    out = settled.assign(**{Payments.amount: rest})[rest > tol].reset_index(drop=True)
    return out, int(both.sum())


def _sort_ranks(k: np.ndarray, room: int = 0) -> tuple[np.ndarray, int] | None:
    """Integers in the sort order of ``k`` (equal values, equal integers; NaN/NaT last, as
    numpy sorts them) in ``range(size)``, and ``size``; None for other dtypes. Booleans, and
    integers whose span is small or at most ``room``, are shifted; other values are ranked
    by hashing (their distinct values, usually few dates, are sorted)."""
    k = np.asarray(k)
    kind = k.dtype.kind
    if kind == "b":
        return k.astype("int64"), 2
    if kind in "iu" and not (kind == "u" and k.dtype.itemsize == 8):
        lo, hi = int(k.min()), int(k.max())
        if hi - lo < max(4 * len(k) + 1024, room):
            return k.astype("int64") - lo, hi - lo + 1
        missing = None
        x = k.astype("int64")
    elif kind in "Mm":
        missing = np.isnat(k)
        x = k.view("int64")
    elif kind == "f":
        missing = np.isnan(k)
        x = k
    else:
        return None
    if missing is not None and missing.any():
        x = np.where(missing, x[~missing][0] if (~missing).any() else 0, x)  # ranked last below
    else:
        missing = None
    codes, uniq = pd.factorize(x)
    rank = np.empty(len(uniq), dtype="int64")
    rank[np.argsort(uniq, kind="stable")] = np.arange(len(uniq))
    r = rank[np.asarray(codes, dtype="int64")]
    if missing is not None:
        return np.where(missing, len(uniq), r), len(uniq) + 1
    return r, len(uniq)


def _combined_key(keys: list) -> np.ndarray | None:
    """One int64 per row whose order is the lexicographic order of the keys (the first key
    primary; equal keys, equal integers), or None when the keys do not fit in one int64 or
    are not numeric, boolean or dates."""
    n = len(keys[0])
    key = np.zeros(n, dtype="int64")
    if n == 0:
        return key
    total = 1
    for i, k in enumerate(keys):  # the last key may use all the room left
        rs = _sort_ranks(k, 2 ** 62 // total if i == len(keys) - 1 else 0)
        if rs is None:
            return None
        r, size = rs
        total *= max(size, 1)
        if total >= 2 ** 62:
            return None
        key = key * size + r
    return key


def _lexsort(keys: list) -> np.ndarray:
    """``np.lexsort(keys[::-1])`` (the first key primary, stable), as one stable argsort of
    :func:`_combined_key` when the keys allow."""
    key = _combined_key(keys)
    if key is None:
        return np.lexsort(keys[::-1])
    return stable_argsort(key)


def _queue_order(ig, queue_date, d_open, inv_date, due, invoice_ids) -> np.ndarray:
    """``np.lexsort((invoice_id.astype(str), due, inv_date, d_open, queue_date, ig))``, with
    the invoice numbers (``invoice_ids(positions)``) compared only where the other keys tie."""
    keys = [ig, queue_date, d_open, inv_date, due]
    n = len(ig)
    if n == 0:
        return np.arange(0)
    key = _combined_key(keys)
    if key is not None:  # one integer per row: one sort, ties where the integers are equal
        order = stable_argsort(key)
        sk = key[order]
        same = sk[1:] == sk[:-1]
        if not same.any():
            return order
        tied = np.zeros(n, dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        at = np.flatnonzero(tied)  # positions in ``order`` of the tied rows
        start = np.ones(len(at), dtype=bool)  # the first row of each run of ties
        start[1:] = ~same[at[1:] - 1]
        run = np.cumsum(start)
        t = order[at]
        text = np.asarray(invoice_ids(t), dtype=object).astype(str)
        _, rank = np.unique(text, return_inverse=True)
        order[at] = t[np.lexsort((rank.reshape(-1), run))]  # within each run, by number; stable
        return order
    order = np.lexsort(keys[::-1])
    sk = [np.asarray(k)[order] for k in keys]
    same = np.ones(n - 1, dtype=bool)
    for k in sk:
        same &= (k[1:] == k[:-1]) | ((k[1:] != k[1:]) & (k[:-1] != k[:-1]))  # NaT/NaN tie with NaT/NaN
    if not same.any():
        return order
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    t = order[tied]
    text = np.asarray(invoice_ids(t), dtype=object).astype(str)
    _, rank = np.unique(text, return_inverse=True)
    id_rank = np.zeros(n, dtype="int64")
    id_rank[t] = rank.reshape(-1)
    return np.lexsort((id_rank,) + tuple(keys[::-1]))


def _assemble_payments(inv: pd.DataFrame, cash: pd.DataFrame, settled: pd.DataFrame,
                       parts_cash: list, parts_inv: list, parts_amt: list) -> pd.DataFrame:
    """The payments table: the settlement-date payments and the allocations of the cash rows
    (cash row, invoice position or -1 for unapplied, amount), in the ledger's canonical
    order (customer, payment date, payment number, invoice number, amount; see
    :mod:`arinsights._order`).

    Ties on all of those keep the allocation order: by payment date, then settlement-date
    payments (by invoice) before cash rows (in their (payment_date, payment_id, source)
    order), then the invoices oldest first, unapplied last. That order is also the working
    column ``_seq`` (paid_dates adds allocations up in it). The order is found on integer
    codes, the numbers compared only where everything before them ties, and each column
    is then taken once."""
    ns = len(settled)
    crow = np.concatenate(parts_cash).astype("int64")
    ipos = np.concatenate(parts_inv).astype("int64")
    s_inv = settled[_INV].to_numpy(dtype="int64")
    inv_all = np.concatenate([s_inv, ipos])
    cpos = np.concatenate([settled[_CPOS].to_numpy(dtype="int64"), crow])
    date = pd.concat([settled[Payments.payment_date], cash[Payments.payment_date]], ignore_index=True)
    src = np.concatenate([np.arange(ns), ns + crow])  # row of settled+cash
    inv_key = np.where(inv_all < 0, len(inv), inv_all)
    if ns == 0 and _dates_ascending(cash[Payments.payment_date]):
        # the cash rows are in payment date order already: the order by (payment date, cash
        # row, invoice) is the order by (cash row, invoice), one integer per row
        order = stable_argsort(cpos * (len(inv) + 1) + inv_key)
    else:
        order = np.lexsort((inv_key, cpos, date.to_numpy()[src]))
    seq = np.empty(len(order), dtype="int64")
    seq[order] = np.arange(len(order))  # the allocation order of each row
    codes = _settled_cash_codes(inv, cash, settled)
    amount = np.concatenate([settled[Payments.amount].to_numpy(dtype=float)]
                            + [np.asarray(a, dtype=float) for a in parts_amt])

    def take(first: pd.Series, second: pd.Series, at: np.ndarray, coded=None) -> pd.Series:
        # without settled rows (the usual case) straight from the second frame: a take from
        # the two concatenated would first join their text into one array (memory)
        if ns == 0:  # positions into the second frame already
            return _take(second, at) if coded is None else _take_coded(second, coded, at)
        both = pd.concat([first, second], ignore_index=True)
        return _take(both, at) if coded is None else _take_coded(both, coded, at)

    def inv_src(rows: np.ndarray) -> np.ndarray:
        # where the invoice number of each row is: the settled row's own, the allocated
        # invoice's, none for unapplied cash
        r = src[rows]
        return np.where(r < ns, r, np.where(inv_all[rows] >= 0, ns + inv_all[rows], -1))

    # the canonical order, refining the allocation order (stable): customer (its text
    # ranked once per code, missing last) and date as one integer, then the numbers where
    # those tie, then the amount
    rows = order
    cust = codes[Payments.customer_id]
    k = cust[src[rows]]
    size = int(cust.max()) + 1 if len(cust) else 0
    first = np.full(size, -1, dtype="int64")
    known = k >= 0
    first[k[known]] = src[rows][known]  # a row of each code: its rows hold one value
    present = np.flatnonzero(first >= 0)
    rank = np.full(size + 1, len(present), dtype="int64")  # missing: after every customer
    if len(present):
        rank[present] = _dense_rank(take(settled[Payments.customer_id], cash[Payments.customer_id], first[present]))
    cust_rank, day = rank[np.where(known, k, size)], date.to_numpy()[src[rows]]
    if ns == 0 and _PID in cash.columns:
        # only cash rows: their (date, number) rank from the cash order replaces comparing
        # the dates and then the numbers as text
        pid = cash[_PID].to_numpy()[src[rows]]
        if bool((pid[1:] >= pid[:-1]).all()):
            # the allocation order follows the cash order, so the rank never decreases along
            # it: sorting by the customer alone (stable) orders by (customer, rank), in one
            # pass over a narrower key; the sort below then finds its lead key in order
            by_customer = stable_argsort(cust_rank)
            rows, cust_rank, pid = rows[by_customer], cust_rank[by_customer], pid[by_customer]
        lead = _combined_key([cust_rank, pid])
    else:
        lead = _combined_key([cust_rank, day])
    if lead is None:  # dates not as datetime64 (mixed types): ranked as pandas compares them
        day_rank = _dense_rank(pd.Series(date.to_numpy()[src[rows]]))
        lead = cust_rank * (int(day_rank.max(initial=0)) + 1) + day_rank
    refine = _stable_order([
        pd.Series(lead),
        lambda t: take(settled[Payments.payment_id], cash[Payments.payment_id], src[rows[t]]),
        lambda t: take(settled[Payments.invoice_id], inv[Invoices.invoice_id], inv_src(rows[t])),
        lambda t: pd.Series(amount[rows[t]])])
    order = rows[refine]
    src, inv_all, seq, amount = src[order], inv_all[order], seq[order], amount[order]
    at_inv = inv_src(np.arange(len(order)))

    def columns(names: tuple) -> dict:
        got = {}
        for c in names:
            if c == Payments.invoice_id:
                got[c] = take(settled[c], inv[Invoices.invoice_id], at_inv)
            else:
                got[c] = take(settled[c], cash[c], src, codes.get(c))  # codes: customer, kind, currency
            release_memory()
        return got

    # the source (the longest text, in a random order) on one core, the rest on the other
    rest, source = together(
        lambda: columns((Payments.payment_id, Payments.customer_id, Payments.payment_date, Payments.invoice_id,
                         Payments.kind, Payments.currency)),
        lambda: columns((Payments.source,)), rows=len(src))
    out = {**rest, Payments.amount: amount, **source}
    pay = pd.DataFrame({c: out[c] for c in (Payments.payment_id, Payments.customer_id, Payments.payment_date,
                                           Payments.amount, Payments.invoice_id, Payments.kind,
                                           Payments.currency, Payments.source)}, copy=False)
    for c in (Payments.payment_id, Payments.customer_id, Payments.invoice_id, Payments.kind,
              Payments.currency, Payments.source):
        pay[c] = _strings(pay[c])
    pay[_INV] = inv_all
    pay[_SEQ] = seq
    return pay[_PAY_COLUMNS + [_INV, _SEQ]]


def _dates_ascending(dates: pd.Series) -> bool:
    """Whether the dates are non-decreasing, none missing."""
    if not pd.api.types.is_datetime64_dtype(dates.dtype):
        return False
    v = np.asarray(dates.to_numpy()).view("int64")  # NaT: the int64 minimum
    return bool((v != np.iinfo("int64").min).all() and (v[1:] >= v[:-1]).all())


def _settled_cash_codes(inv: pd.DataFrame, cash: pd.DataFrame, settled: pd.DataFrame) -> dict:
    """Codes (equal codes, equal values; missing: -1) of customer_id, currency and kind of
    the settled rows followed by the cash rows: the codes made by prepare_transactions when
    the frames carry them (a settled row has its invoice's codes; its kind, "payment", gets
    a code of its own), else computed from the text."""
    out = {}
    s_inv = settled[_INV].to_numpy(dtype="int64")
    for c, name in ((Payments.customer_id, _CUST), (Payments.currency, _CUR)):
        if name in inv.columns and name in cash.columns:
            out[c] = np.concatenate([inv[name].to_numpy(dtype="int64")[s_inv], cash[name].to_numpy(dtype="int64")])
        else:
            out[c] = _codes(pd.concat([settled[c], cash[c]], ignore_index=True))
    if _KIND in cash.columns and (settled[Payments.kind] == S.KIND_PAYMENT).all():
        k = cash[_KIND].to_numpy(dtype="int64")
        out[Payments.kind] = np.concatenate([np.full(len(settled), int(k.max()) + 1 if len(k) else 0, dtype="int64"), k])
    else:
        out[Payments.kind] = _codes(pd.concat([settled[Payments.kind], cash[Payments.kind]], ignore_index=True))
    return out


# ----------------------------------------------------------------------------- step 8

def paid_dates(invoices: pd.DataFrame, payments: pd.DataFrame, settings: IngestSettings | None = None) -> pd.DataFrame:
    """Rule 8: paid_date and settled_by of each invoice.

    An allocation takes effect at max(payment_date, invoice_date): cash received before
    the invoice existed (a prepayment or credit balance) settles it on its invoice date.
    paid_date is the first effective date at which the allocations reach the invoice's
    capacity within ``amount_tolerance``; settled_by is "payment", "credit" or "mixed"
    from the kinds of the allocations up to and including that one. An invoice known only
    from an aging snapshot that shows it fully paid is paid on the snapshot date, settled_by
    "before snapshot" (its real paid date is unknown). Open invoices keep paid_date NaT and
    settled_by missing.

    Returns
    -------
    pd.DataFrame
        ``invoices`` with paid_date and settled_by filled and a working column
        ``_allocated`` (total allocated to the invoice).
    """
    settings = settings or IngestSettings()
    tol = settings.amount_tolerance
    out = _copy(invoices)
    n = len(out)
    if _INV in payments.columns:
        pos_all = payments[_INV].to_numpy()
    else:  # positions from the invoice numbers
        lookup = pd.Series(np.arange(n), index=out[Invoices.invoice_id].astype(object).to_numpy())
        pos_all = lookup.reindex(payments[Payments.invoice_id].astype(object).to_numpy()).fillna(-1).to_numpy()
    pos_all = pos_all.astype("int64")
    sel = np.flatnonzero(pos_all >= 0)
    pos = pos_all[sel]
    pay_date = payments[Payments.payment_date].to_numpy()[sel]
    inv_date = out[Invoices.invoice_date].to_numpy()[pos]
    eff = np.maximum(pay_date.astype(inv_date.dtype), inv_date)
    # allocations in effect-date order; on one date in the allocation order (payments come in
    # the ledger's order, with that order as ``_seq``; without it, in their row order)
    keys = [pos, eff] + ([payments[_SEQ].to_numpy(dtype="int64")[sel]] if _SEQ in payments.columns else [])
    order = _lexsort(keys)
    pos, eff = pos[order], eff[order]
    amt = payments[Payments.amount].to_numpy(dtype=float)[sel][order]
    is_credit = (payments[Payments.kind] == S.KIND_CREDIT).fillna(False).to_numpy(dtype=bool)[sel][order]
    cap = out[_CAP].to_numpy(dtype=float)[pos]
    cum = pd.Series(amt).groupby(pos).cumsum().to_numpy()
    done = cum >= cap - tol
    n_done = pd.Series(done.astype("int64")).groupby(pos).cumsum().to_numpy()
    first = done & (n_done == 1)
    counted = (n_done - done) == 0  # allocations up to and including the settling one
    paid = np.full(n, np.datetime64("NaT"), dtype=inv_date.dtype)
    paid[pos[first]] = eff[first]
    settled = np.zeros(n, dtype=bool)
    settled[pos[first]] = True
    n_credit = np.bincount(pos[counted], weights=is_credit[counted], minlength=n)
    n_count = np.bincount(pos[counted], minlength=n)
    by = np.where(n_credit == 0, 0, np.where(n_credit == n_count, 1, 2))
    # paid in full before the snapshot that is the invoice's only record: paid (as far as the
    # ledger knows) on the snapshot date, the real date unknown (see snapshot_payments)
    full = _paid_before_snapshot(out, tol)[1]
    if full.any():
        paid[full] = out[_SNAPSHOT].to_numpy().astype(paid.dtype)[full]
        settled[full] = True
        by[full] = 3
    out[Invoices.paid_date] = pd.Series(paid, index=out.index)
    by = _labels((S.SETTLED_PAYMENT, S.SETTLED_CREDIT, S.SETTLED_MIXED, S.SETTLED_BEFORE_SNAPSHOT),
                 np.where(settled, by, -1))
    out[Invoices.settled_by] = pd.Series(by.array, index=out.index, name=Invoices.settled_by)
    out["_allocated"] = np.bincount(pos, weights=amt, minlength=n)
    return out


# ----------------------------------------------------------------------------- driver

def _validate(df: pd.DataFrame, model, *, unique_ids: np.ndarray | None = None) -> pd.DataFrame:
    """``model.validate(df, lazy=True)``; a failure is a bug. For the invoices, integer codes
    of the invoice numbers (``unique_ids``, one per row) show that the numbers are unique
    without hashing the text again: the other checks of the schema still run."""
    import pandera.errors as pe

    schema = model
    if model is Invoices and unique_ids is not None and len(unique_ids) == len(df) and len(df):
        if (unique_ids >= 0).all() and np.bincount(unique_ids).max() <= 1:
            schema = Invoices.to_schema().update_column(Invoices.invoice_id, unique=False)
    try:
        return schema.validate(df, lazy=True)
    except pe.SchemaErrors as exc:  # a bug in cleaning, not a user error
        raise AssertionError(f"cleaning produced an invalid {model.__name__} table (a bug):\n"
                             f"{exc.failure_cases.head(20)}") from None


def _typed_empty(model) -> pd.DataFrame:
    cols = {}
    for name, col in model.to_schema().columns.items():
        dt = str(col.dtype)
        if "datetime" in dt.lower() or "timestamp" in dt.lower():
            cols[name] = pd.Series([], dtype="datetime64[ns]")
        elif dt.startswith("float"):
            cols[name] = pd.Series([], dtype=float)
        elif dt.startswith("int"):
            cols[name] = pd.Series([], dtype="int64")
        elif dt == "bool":
            cols[name] = pd.Series([], dtype=bool)
        else:
            cols[name] = pd.Series([], dtype=_STR_DTYPE)
    return pd.DataFrame(cols)


def _foreign_currency_cash(inv: pd.DataFrame, cash: pd.DataFrame) -> np.ndarray:
    """Cash rows in a currency their customer has no invoice in, while it has invoices in
    another one (usually a payments file without a currency column read with the default
    currency)."""
    if all(c in inv.columns and c in cash.columns for c in (_CUST, _CUR)):  # codes from prepare_transactions
        i_cust, c_cust = inv[_CUST].to_numpy(dtype="int64"), cash[_CUST].to_numpy(dtype="int64")
        i_cur, c_cur = inv[_CUR].to_numpy(dtype="int64"), cash[_CUR].to_numpy(dtype="int64")
        if not any((c < 0).any() for c in (i_cust, c_cust, i_cur, c_cur)):
            width = int(max(i_cur.max(initial=0), c_cur.max(initial=0))) + 1
            return ~np.isin(c_cust * width + c_cur, i_cust * width + i_cur) & np.isin(c_cust, i_cust)
    inv_keys = pd.MultiIndex.from_arrays([inv[Invoices.customer_id].astype(object), inv[Invoices.currency].astype(object)])
    cash_keys = pd.MultiIndex.from_arrays([cash[Payments.customer_id].astype(object),
                                           cash[Payments.currency].astype(object)])
    invoiced = pd.Index(inv[Invoices.customer_id].astype(object).unique())
    return ~cash_keys.isin(inv_keys) & (invoiced.get_indexer(cash[Payments.customer_id].astype(object)) >= 0)


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _by_currency(values: pd.Series, currency: pd.Series) -> str:
    s = values.groupby(currency).sum()
    return ", ".join(f"{_money(v)} {k}" for k, v in s.items()) if len(s) else "0.00"


def clean_transactions(tx: pd.DataFrame, settings: IngestSettings | None = None) -> CleanResult:
    """Clean parsed export rows into invoices, payments, rejects and merged rows.

    Parameters
    ----------
    tx : pd.DataFrame
        :class:`~arinsights.schema.Transactions` rows of every file of the load (ids are
        matched across files). Not modified.
    settings : IngestSettings, optional
        ``amount_tolerance``, ``default_terms_days``, ``default_currency``.

    Returns
    -------
    CleanResult
        invoices (:class:`~arinsights.schema.Invoices`), payments
        (:class:`~arinsights.schema.Payments`), rejects (source, file, row, reason, raw,
        amount), merged (file, row, rule, amount, into), kept (file, row, kind, amount),
        notes, and ``quality`` with the keys rows, kept, merged, rejected, merged_by_rule,
        invoices, open_invoices, open_amount_by_currency, due_from_terms, due_from_default,
        due_before_invoice_date,
        settled_by_date, cleared_items, unapplied_by_currency, unapplied_payments,
        overpayments, unreferenced_payments, snapshot_unapplied, currency_mismatch_payments,
        paid_before_snapshot_invoices, paid_in_full_before_snapshot_invoices, paid_before_snapshot_by_currency,
        snapshot_balance_mismatch_invoices,
        export_says_paid_no_payment_found, currencies, first_date, last_date.

    Raises
    ------
    AssertionError
        When an input row is not accounted for exactly once, or an output table breaks its
        schema (both are bugs).
    """
    settings = settings or IngestSettings()
    tol = settings.amount_tolerance
    n_in = len(tx)
    w = prepare_transactions(tx, settings)
    # memory: the working frame shares the caller's columns. When the caller hands over its
    # only reference (load_ledger does), dropping it here lets each column of the reader's
    # frame go as soon as the working frame no longer needs it (see below)
    del tx
    w = (w.pipe(merge_exact_duplicates)
         .pipe(fold_invoice_lines)
         .pipe(merge_known_snapshots, settings)
         .pipe(reject_conflicting_duplicates, settings)
         .pipe(merge_repeated_payments, settings)
         .pipe(reject_shared_invoice_numbers)
         .pipe(reject_unusable_rows)
         .pipe(merge_cleared_items)
         .pipe(propagate_rejections))
    # memory: on large ledgers each step below drops working columns of a few GB, which the
    # allocators keep unless asked (see arinsights._memory)
    release_memory()

    # ---- the three destinations of every input row (the fates are final now). The merged and
    # rejected rows are built first, so that the working frame can shrink to the columns the
    # invoices and cash rows are built from, then go before the allocation (memory)
    fate = w[_FATE]
    is_kept = fate.isna().to_numpy(dtype=bool)
    m = w[(fate == _MERGED).to_numpy(dtype=bool)]
    examples = {"repeated_payment_conflict": _conflict_example(w, m)}
    merged = pd.DataFrame({
        "file": _strings(m[T.file]), "row": m[T.row].astype("int64"), "rule": _strings(m[_RULE]),
        "amount": m[T.amount].astype(float), "into": _strings(m[_INTO])}).reset_index(drop=True)
    r = w[(fate == _REJECTED).to_numpy(dtype=bool)]
    rejects = pd.DataFrame({
        Rejects.source: _strings(r[T.source]), Rejects.file: _strings(r[T.file]),
        Rejects.row: r[T.row].astype("int64"), Rejects.reason: _strings(r[_REASON]),
        Rejects.raw: _strings(raw_text(r)), Rejects.amount: r[T.amount].astype(float)}).reset_index(drop=True)
    del m, r, fate
    # the kept rows (file, row, kind, amount) are built at the end: until then only their
    # numbers and the codes of their file and kind are kept, so the working frame's text of
    # file names can go now (memory)
    kept_pos = np.flatnonzero(is_kept)
    kept_num = {T.row: w[T.row].to_numpy()[kept_pos], T.amount: w[T.amount].to_numpy()[kept_pos]}
    kept_text = {}
    for col in (T.file, T.kind):
        codes = _codes(w[col])
        kept_text[col] = (_values_by_code(w[col], codes), codes[kept_pos])
    del kept_pos, codes
    w = w.drop(columns=[_RULE, _REASON, _INTO, T.file, T.row])
    release_memory()

    # the invoices and the cash rows are built from the same (unchanged) working frame,
    # side by side on two cores (see arinsights._parallel)
    cash_w = w[[c for c in w.columns if c in _CASH_ROW_COLUMNS]]  # what _cash_rows reads
    inv, cash = together(lambda: build_invoices(w, settings), lambda: _cash_rows(cash_w), rows=len(w))
    del w, cash_w  # the working frame is not needed below (memory)
    release_memory()
    settled = settlement_payments(inv)
    inv = credit_ledger_payments_before_snapshot(inv, cash, settings)
    n_kept = int(is_kept.sum())
    assert n_kept + len(merged) + len(rejects) == n_in, (
        f"cleaning lost rows: {n_in} in, {n_kept} kept + {len(merged)} merged + {len(rejects)} rejected")
    assert len(inv) + len(cash) == n_kept, (
        f"kept rows ({n_kept}) are not the invoices ({len(inv)}) plus payments/credits ({len(cash)})")

    payments, stats = allocate_payments(inv, cash, settled, settings)
    # only these columns of the cash rows are used below (drop the other text early: memory)
    cash = cash[[Payments.customer_id, Payments.currency, Payments.payment_date, _CUST, _CUR]]
    release_memory()
    inv = paid_dates(inv, payments, settings)
    mismatch, examples["snapshot_balance_mismatch"] = _snapshot_balance_mismatch(inv, payments, tol)
    release_memory()
    # file and kind as categoricals: one label per file (a text column repeating the file's
    # path on every row of a large ledger would be the biggest table of the load)
    kept = pd.DataFrame({
        T.file: _categories(*kept_text[T.file]), T.row: kept_num[T.row],
        T.kind: _categories(*kept_text[T.kind]), T.amount: kept_num[T.amount]}, copy=False)
    del kept_text, kept_num

    # ---- outputs
    inv_out = inv[_INV_COLUMNS].reset_index(drop=True)
    if len(inv_out) == 0:
        inv_out = _typed_empty(Invoices)
    payments = payments.drop(columns=[_INV, _SEQ])
    before = snapshot_payments(inv, settings)
    if len(before):  # (rare: snapshot-only part-paid invoices) into the canonical order
        payments = _sorted_by(pd.concat([payments, before], ignore_index=True), _PAYMENT_KEYS)
    if len(payments) == 0:
        payments = _typed_empty(Payments)
    if len(rejects) == 0:
        rejects = _typed_empty(Rejects)
    if len(merged) == 0:
        merged = _typed_empty(Merged)
    inv_out = _validate(inv_out, Invoices, unique_ids=inv[_DOC].to_numpy(dtype="int64") if _DOC in inv else None)
    payments = _validate(payments, Payments)
    rejects = _validate(rejects, Rejects)
    merged = _validate(merged, Merged)

    # ---- quality and notes
    rules = merged["rule"].value_counts()
    balance = (inv[_CAP] - inv["_allocated"]).clip(lower=0)
    open_mask = inv[Invoices.paid_date].isna()
    open_amt = (inv[Invoices.amount] - inv[_BEFORE_SNAP] - inv["_allocated"]).clip(lower=0)
    unapplied = payments[payments[Payments.invoice_id].isna()]
    part = inv[_BEFORE_SNAP] > tol
    export_paid = inv[_OPEN_GIVEN].notna() & (balance > inv[_OPEN_GIVEN] + tol)
    foreign = _foreign_currency_cash(inv, cash)
    early = (inv[Invoices.due_date] < inv[Invoices.invoice_date]).to_numpy(dtype=bool)  # only a given one can be
    dates = pd.concat([inv[Invoices.invoice_date], cash[Payments.payment_date], settled[Payments.payment_date]])
    quality = {
        "rows": n_in, "kept": len(kept), "merged": len(merged), "rejected": len(rejects),
        "merged_by_rule": {k: int(v) for k, v in rules.items()},
        "invoices": len(inv), "open_invoices": int(open_mask.sum()),
        "open_amount_by_currency": open_amt[open_mask].groupby(inv[Invoices.currency][open_mask]).sum().to_dict(),
        "due_from_terms": int((inv[_DUE_FROM] == "terms").sum()),
        "due_from_default": int((inv[_DUE_FROM] == "default").sum()),
        "due_before_invoice_date": int(early.sum()),
        "settled_by_date": stats["settled_by_date"],
        "settled_date_and_payments": stats["settled_date_and_payments"],
        "cleared_items": int(rules.get("cleared_item", 0)),
        "unapplied_by_currency": unapplied[Payments.amount].groupby(unapplied[Payments.currency]).sum().to_dict(),
        "unapplied_payments": stats["unapplied_payments"],
        "overpayments": stats["overpayments"],
        "unreferenced_payments": stats["unreferenced"],
        "snapshot_unapplied": stats["snapshot_unapplied"],
        "currency_mismatch_payments": int(foreign.sum()),
        "paid_before_snapshot_invoices": int(part.sum()),
        "paid_in_full_before_snapshot_invoices": int(_paid_before_snapshot(inv, tol)[1].sum()),
        "snapshot_balance_mismatch_invoices": int(mismatch.sum()),
        "paid_before_snapshot_by_currency": inv.loc[part, _BEFORE_SNAP].groupby(
            inv.loc[part, Invoices.currency]).sum().to_dict(),
        "export_says_paid_no_payment_found": int(export_paid.sum()),
        "currencies": sorted(set(inv[Invoices.currency].unique()) | set(cash[Payments.currency].unique())),
        "first_date": dates.min() if len(dates) else pd.NaT,
        "last_date": dates.max() if len(dates) else pd.NaT,
    }
    notes = _notes(quality, inv, unapplied, open_amt, open_mask, settings, examples)
    return CleanResult(invoices=inv_out, payments=payments, rejects=rejects, merged=merged, notes=notes,
                       kept=kept, quality=quality)


def _conflict_example(w: pd.DataFrame, merged: pd.DataFrame) -> str | None:
    """An example of a payment two files apply to different invoices (rule 4c), for its note:
    the first such merged row against the row it was merged into."""
    rows = merged[(merged[_RULE] == "repeated_payment_conflict").to_numpy(dtype=bool)]
    if rows.empty:
        return None
    x = rows.iloc[0]
    into = w[(w[T.source] == x[_INTO]).to_numpy(dtype=bool)].iloc[0]

    def to(ref) -> str:
        return "no invoice" if pd.isna(ref) else str(ref)

    return (f"{x[T.document_id]} of customer {x[T.customer_id]}: {x[T.source]} applies it to "
            f"{to(x[T.applied_to])}, {into[T.source]} to {to(into[T.applied_to])}")


def _notes(q: dict, inv: pd.DataFrame, unapplied: pd.DataFrame, open_amt: pd.Series, open_mask: pd.Series,
           settings: IngestSettings, examples: dict | None = None) -> list[str]:
    n = []
    examples = examples or {}
    r = q["merged_by_rule"]
    if r.get("exact_duplicate"):
        n.append(f"{r['exact_duplicate']} exact duplicate row(s) merged (the same row appeared more than once, "
                 "for example a file exported twice).")
    if r.get("invoice_line"):
        n.append(f"{r['invoice_line']} invoice line row(s) folded into the invoice they belong to.")
    if r.get("snapshot_of_known_invoice"):
        n.append(f"{r['snapshot_of_known_invoice']} aging-snapshot row(s) matched a document already in the "
                 "history and were merged.")
    if r.get("repeated_document"):
        n.append(f"{r['repeated_document']} repeated document row(s) (same number, amount and date) merged into "
                 "the first one.")
    if r.get("repeated_payment"):
        n.append(f"{r['repeated_payment']} payment/credit row(s) were the same payment as one in another file (same "
                 "customer, number, date and total) and were merged, so each payment counts once.")
    if r.get("repeated_payment_conflict"):
        n.append(f"{r['repeated_payment_conflict']} payment/credit row(s) were the same payment as one in another "
                 "file (same customer, number, date and total), but the two files apply it to different "
                 f"invoices, e.g. {examples.get('repeated_payment_conflict')}. The payment counts once, as "
                 "applied by the file that names the most invoices (the row in 'into' of the merged rows); "
                 "check which export is right.")
    if q["due_from_terms"]:
        n.append(f"{q['due_from_terms']} due date(s) derived from the payment terms (invoice date + terms).")
    if q["due_from_default"]:
        n.append(f"{q['due_from_default']} invoice(s) had neither due date nor terms: due date set to invoice date "
                 f"+ {settings.default_terms_days} days (default terms).")
    if q["due_before_invoice_date"]:
        early = inv[(inv[Invoices.due_date] < inv[Invoices.invoice_date]).to_numpy(dtype=bool)].iloc[0]
        n.append(f"{q['due_before_invoice_date']} invoice(s) are due before they were issued, e.g. "
                 f"{early[Invoices.invoice_id]} ({early[Invoices.source]}): issued {early[Invoices.invoice_date]:%Y-%m-%d}, "
                 f"due {early[Invoices.due_date]:%Y-%m-%d}. They are kept as exported and count as overdue from "
                 "their due date; check the due-date column (day and month swapped, or a typing slip).")
    if q["settled_by_date"]:
        n.append(f"{q['settled_by_date']} invoice(s) carry a settlement date and are marked paid on that date.")
    if q["settled_date_and_payments"]:
        n.append(f"{q['settled_date_and_payments']} invoice(s) carry a settlement date and also have payments "
                 "applied to them in the ledger: the payments settle them, on the payments' own dates (the "
                 "settlement date covers only what they leave), so no invoice is settled twice.")
    if q["cleared_items"]:
        n.append(f"{q['cleared_items']} cleared payment/credit row(s) merged: their effect is already carried by "
                 "the invoices' clearing dates.")
    if q["unreferenced_payments"]:
        n.append(f"{q['unreferenced_payments']} payment(s) reference an invoice that is not in the ledger for that "
                 "customer and currency; they were applied oldest-open-invoice-first.")
    if q["snapshot_unapplied"]:
        n.append(f"{q['snapshot_unapplied']} payment/credit row(s) from an aging snapshot were unapplied on the "
                 "snapshot date and are kept as unapplied cash (not allocated to invoices).")
    if q["currency_mismatch_payments"]:
        n.append(f"{q['currency_mismatch_payments']} payment/credit row(s) are in a currency in which their customer "
                 "has no invoice (but it has invoices in another currency), so they could not be applied. If a "
                 "payments file has no currency column, set its currency (mapping file `currency`, or the "
                 "ingest setting `default_currency`).")
    if len(unapplied):
        n.append(f"Unapplied cash: {_by_currency(unapplied[Payments.amount], unapplied[Payments.currency])} "
                 f"({q['unapplied_payments']} payment(s) with nothing open to pay, {q['overpayments']} "
                 "overpayment(s) larger than everything open).")
    part, full = _paid_before_snapshot(inv, settings.amount_tolerance)
    if part.any():
        n.append(f"{int(part.sum())} invoice(s) known only from an aging snapshot were part-paid "
                 f"before the snapshot, date unknown ({_by_currency(inv.loc[part, _BEFORE_SNAP], inv.loc[part, Invoices.currency])}); "
                 "they stay open for the rest. The part paid before is shown as a payment 'before-snapshot:<invoice>' "
                 "on the snapshot date, so balances match the snapshot; it never sets an invoice's paid date.")
    if full.any():
        n.append(f"{int(full.sum())} invoice(s) known only from an aging snapshot had nothing open on the snapshot "
                 f"date ({_by_currency(inv.loc[full, Invoices.amount], inv.loc[full, Invoices.currency])}): they were "
                 "paid before it, date unknown. They count as paid from the snapshot date (a payment "
                 "'before-snapshot:<invoice>' on that date), so they are never chased, and the payment-behaviour "
                 "models do not learn from them. Add the payments export to learn when they were paid.")
    if q.get("snapshot_balance_mismatch_invoices"):
        n.append(f"{q['snapshot_balance_mismatch_invoices']} invoice(s) known only from an aging snapshot have "
                 "another open balance on the snapshot date in this ledger than in the snapshot (e.g. "
                 f"{examples.get('snapshot_balance_mismatch')}): payments dated before the snapshot were applied "
                 "to them beyond what the snapshot shows paid, most often payments that name no invoice "
                 "(applied oldest-first). Check these customers' payments against the snapshot.")
    if q["export_says_paid_no_payment_found"]:
        n.append(f"{q['export_says_paid_no_payment_found']} invoice(s) are shown (part-)paid in the export but no "
                 "matching payment was found; they stay open here. Add the payments export to fix this.")
    if q["open_invoices"]:
        n.append(f"{q['open_invoices']} open invoice(s): "
                 f"{_by_currency(open_amt[open_mask], inv.loc[open_mask, Invoices.currency])}.")
    else:
        n.append("No open invoices.")
    if q["currencies"]:
        n.append("Currencies: " + ", ".join(q["currencies"]) + " (each kept apart; amounts are never converted).")
    if pd.notna(q["first_date"]):
        n.append(f"Dates from {q['first_date']:%Y-%m-%d} to {q['last_date']:%Y-%m-%d}.")
    return n
