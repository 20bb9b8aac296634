"""Shared machinery of the layout readers: header matching, row rules, parsing data rows
into :class:`~arinsights.schema.Transactions`, and the three output frames.

A layout reader decides three things about a :class:`~arinsights.ingest.textio.Grid`:

* which grid column holds which canonical field (``fields``: field -> column position),
* a skip rule for every structural row (title, blank, subtotal, ...), and
* the kind (invoice / payment / credit) of every data row, or why it has none.

:func:`finish` does the rest for every layout alike: parse dates (jointly, one decision of
day/month order per file), amounts and ids; reject rows with problems (reasons in plain
words); and build the :class:`ReadResult` in which every physical row of the file appears
exactly once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..._memory import release_memory
from ..._parallel import together
from ...errors import InputError
from ...schema import KIND_CREDIT, KIND_INVOICE, Rejects, Skipped, Transactions
from ...settings import IngestSettings
from ..._text import chunk_buffers
from ..._text import text_buffers as _text_buffers
from ..parsing import (SPREADSHEET_ERRORS, _may_need_trim, _parse_amounts, normalise_ids, parse_amounts,
                       parse_date_columns, parse_flags)
from ..textio import _to_objects

T = Transactions

#: larger amounts are rejected: no receivable is this large (it is an id or a reference
#: read as an amount), and cleaning allocates in integer thousandths (int64), whose sums
#: must not overflow
MAX_AMOUNT = 1e12

# skip rules (Skipped.rule)
RULE_TITLE = "title"
RULE_BLANK = "blank"
RULE_HEADER = "header"
RULE_BUCKET = "bucket_header"
RULE_SUBTOTAL = "subtotal"
RULE_TOTAL = "total"
RULE_FOOTER = "footer"
RULE_RULER = "ruler"
RULE_CUSTOMER = "customer_header"
RULE_VOIDED = "status_voided"
RULE_DRAFT = "status_draft"

#: canonical string fields a layout may map (besides the Transactions date/amount fields)
DATE_FIELDS = (T.document_date, T.due_date, T.settled_date)
ID_FIELDS = (T.document_id, T.customer_id, T.applied_to, T.line_of)


@dataclass
class ReadResult:
    """What a reader made of one export file.

    Attributes
    ----------
    file : str
        The file as given.
    layout : str
        "generic", "transactions", "invoices", "payments", "quickbooks_aging", "xero_invoices",
        "xero_aged_receivables", "sap_fbl5n" or "mapping".
    transactions : pandas.DataFrame
        :class:`~arinsights.schema.Transactions`, one row per data row kept.
    skipped : pandas.DataFrame
        :class:`~arinsights.schema.Skipped`, rows skipped by a named rule.
    rejects : pandas.DataFrame
        :class:`~arinsights.schema.Rejects`, rows that could not be used, with the reason.
    rows_read : int
        Every physical row of the file (``len(transactions) + len(skipped) + len(rejects)``).
    notes : list of str
        Decisions taken while reading (date order, encoding, ...), in plain words.

    Notes
    -----
    ``amount`` is a positive magnitude in all three frames (``kind`` carries the sign of a
    kept row), so the amounts of a file reconcile: total parsed magnitude of all rows =
    kept + skipped + rejected, with rows whose amount could not be parsed counted as NaN.
    """

    file: str
    layout: str
    transactions: pd.DataFrame
    skipped: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    notes: list[str] = field(default_factory=list)


def norm_header(text: object) -> str:
    """Header key: lower case, accents and everything but letters and digits removed.

    >>> norm_header(" *Date d'échéance nette ")
    'datedecheancenette'
    >>> norm_header("N° pièce")
    'npiece'
    """
    text = unicodedata.normalize("NFKD", str(text)).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", "", text)


def squash_spaces(values: pd.Series) -> pd.Series:
    """Collapse runs of white space and strip (customer names keep their case)."""
    return values.str.replace(r"\s+", " ", regex=True).str.strip()


class ArrowCells:
    """The grid's cells as trimmed Arrow string arrays, one per column: the same values as
    :func:`grid_cells` gives, without one Python string per cell.

    The tabular readers and :func:`finish` accept this in place of the ``cells`` frame (see
    :func:`arrow_cells`); the helpers of this module (:func:`blank_mask`,
    :func:`row_values`, :func:`cell_values`, ...) take either.
    """

    def __init__(self, columns: list[pa.Array | pa.ChunkedArray], n: int):
        self.columns = list(columns)
        self.n = n
        #: the cells belong to this read alone (:func:`read_export` made the grid): :func:`finish`
        #: may drop them once it no longer needs them, except the columns in ``retain``
        self.owned = False
        self.retain: set[int] = set()

    def release(self, grid) -> None:
        """Drop the cells (and the grid's Arrow columns) when they belong to this read alone,
        keeping the columns in ``retain``: their memory is handed back before the output is
        built."""
        if not self.owned:
            return
        self.columns = [col if pos in self.retain else None for pos, col in enumerate(self.columns)]
        grid._trimmed = None
        grid.arrow = None

    def __len__(self) -> int:
        return self.n

    @property
    def shape(self) -> tuple[int, int]:
        return self.n, len(self.columns)

    def frame(self, idx) -> pd.DataFrame:
        """The cells of the rows at positions ``idx`` as an object frame (for a few rows)."""
        idx = np.asarray(idx, dtype=np.int64)
        steps = np.diff(idx)
        if (steps > 0).all() and np.count_nonzero(steps != 1) < _MAX_RUNS:
            # a few runs of rows (the head of the file): zero-copy slices, where a take on
            # the chunked columns would first concatenate their chunks
            picked = [_pick(col, idx) for col in self.columns]
        else:
            take = pa.array(idx)
            picked = [col.take(take) for col in self.columns]
        return pd.DataFrame({i: col.to_numpy(zero_copy_only=False).astype(object, copy=False)
                             for i, col in enumerate(picked)}, index=pd.Index(idx), dtype=object)


def arrow_cells(grid) -> ArrowCells | None:
    """The grid's cells as :class:`ArrowCells` when the grid carries Arrow columns (regular
    text files), else None. Trimmed once and kept on the grid."""
    columns = getattr(grid, "arrow", None)
    if columns is None:
        return None
    cached = getattr(grid, "_trimmed", None)
    if cached is None or cached[0] is not columns:
        cached = (columns, ArrowCells([_trimmed(col) for col in columns], len(grid.rows)))
        grid._trimmed = cached
    return cached[1]


def _trimmed(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``utf8_trim_whitespace`` of a column, keeping the chunks that it leaves unchanged (most
    files have no white space to trim): no second copy of the cells."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    out, changed = [], False
    for chunk in chunks:
        if not _may_need_trim(chunk):
            out.append(chunk)
            continue
        trimmed = pc.utf8_trim_whitespace(chunk)
        if pc.any(pc.not_equal(pc.binary_length(chunk), pc.binary_length(trimmed))).as_py():
            out.append(trimmed)
            changed = True
        else:
            out.append(chunk)
    if not changed:
        return col
    return pa.chunked_array(out, type=col.type) if isinstance(col, pa.ChunkedArray) else out[0]


def _empty(col: pa.Array) -> np.ndarray:
    """True where a string array's cell is "" (from the offsets when there is no null)."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    if chunks and all(c.type == pa.string() and not c.null_count for c in chunks):
        parts = []
        for c in chunks:
            offsets, _ = _text_buffers(c)
            parts.append(offsets[1:] == offsets[:-1])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]
    return pc.equal(pc.binary_length(col), 0).to_numpy(zero_copy_only=False)


def column_array(cells, pos: int) -> pa.Array:
    """One column of the cells as an Arrow string array ("" for empty)."""
    if isinstance(cells, ArrowCells):
        return cells.columns[pos]
    values = cells.iloc[:, pos].to_numpy(dtype=object)
    return pc.fill_null(pa.array(values, type=pa.string(), from_pandas=True), "")


def row_values(cells, idx: int) -> list:
    """The cells of one row as a list."""
    if isinstance(cells, ArrowCells):
        return [col[int(idx)].as_py() for col in cells.columns]
    return cells.iloc[idx].tolist()


def cell_values(cells, idx: np.ndarray, pos: int) -> np.ndarray:
    """The cells of column ``pos`` at row positions ``idx`` (object array)."""
    if isinstance(cells, ArrowCells):
        return _take_objects(cells.columns[pos], idx)
    return cells.iloc[idx, pos].to_numpy(dtype=object)


def rows_frame(cells, idx: np.ndarray) -> pd.DataFrame:
    """The cells of the rows at positions ``idx`` as an object frame."""
    if isinstance(cells, ArrowCells):
        return cells.frame(idx)
    return cells.iloc[idx]


_ERROR_VALUES = pa.array(SPREADSHEET_ERRORS, type=pa.string())

#: the text columns checked for spreadsheet error values, with what their values are
#: (dates, amounts, terms and currencies are checked by their parsers, which fail on them)
_ERROR_CHECKED = {T.document_id: "a document number", T.customer_id: "a customer", T.customer_name: "a customer",
                  T.line_of: "a document number", T.applied_to: "an invoice number", T.disputed: "a yes/no flag"}
#: of those, the columns whose error values are read as empty (and noted) rather than
#: rejecting the row: a reference of a payment (then allocated as an unreferenced one), a
#: dispute flag, and a customer's name next to its id
_ERROR_BLANKED = (T.applied_to, T.disputed, T.customer_name)


def _error_reason(noun: str) -> str:
    return (f"is a spreadsheet error, not {noun} (a formula failed in the sheet the file was made from: "
            "correct it there and export again)")


def spreadsheet_errors(col: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """True where a cell of a string array is a spreadsheet error value such as "#N/A" or
    "#REF!" (:data:`~arinsights.ingest.parsing.SPREADSHEET_ERRORS`, case and surrounding
    spaces ignored); None when no cell is.

    Only the cells that could be one are compared: short cells whose first byte is "#", a
    space or control byte, or not ASCII (a space of another script), read from the buffers
    without a Python string (most columns have none).
    """
    parts = chunk_buffers(col)
    if parts is None:
        candidates = np.ones(len(col), dtype=bool)
    else:
        masks = []
        for _, offsets, data in parts:
            start = offsets[:-1]
            length = offsets[1:] - start
            short = (length > 0) & (length <= 64)
            first = np.zeros(len(start), dtype=np.uint8)
            first[short] = data[start[short]]
            masks.append(short & ((first == 0x23) | (first <= 0x20) | (first >= 0x80)))
        candidates = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
    if not candidates.any():
        return None
    at = np.flatnonzero(candidates)
    sub = col.take(pa.array(at)) if len(at) < len(col) else col
    hit = pc.is_in(pc.utf8_upper(pc.utf8_trim_whitespace(sub)), value_set=_ERROR_VALUES)
    hit = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    if not hit.any():
        return None
    out = np.zeros(len(col), dtype=bool)
    out[at[hit]] = True
    return out


def _is_error_text(values: np.ndarray) -> np.ndarray:
    """:func:`spreadsheet_errors` for a few Python strings (the rows a reason is written for)."""
    return pd.Series(values, dtype=object).astype(str).str.strip().str.upper().isin(SPREADSHEET_ERRORS).to_numpy(
        dtype=bool)


def _take_objects(arr: pa.Array, idx) -> np.ndarray:
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) == 0:
        return np.array([], dtype=object)
    return arr.take(pa.array(idx)).to_numpy(zero_copy_only=False).astype(object, copy=False)


def blank_mask(cells, columns: list[int] | None = None) -> np.ndarray:
    """True for rows whose every cell is empty (cells as :func:`grid_cells` gives them),
    looking only at ``columns`` (positions) when given."""
    if isinstance(cells, ArrowCells):
        out = np.ones(len(cells), dtype=bool)
        for pos in range(cells.shape[1]) if columns is None else columns:
            out &= _empty(cells.columns[pos])
        return out
    if columns is not None:
        cells = cells.iloc[:, columns]
    if cells.shape[1] == 0:
        return np.ones(len(cells), dtype=bool)
    return (cells.to_numpy(dtype=object) == "").all(axis=1)


def nonblank_count(cells) -> np.ndarray:
    """Number of non-empty cells in each row."""
    if isinstance(cells, ArrowCells):
        out = np.zeros(len(cells), dtype=np.int64)
        for col in cells.columns:
            out += ~_empty(col)
        return out
    return (cells.to_numpy(dtype=object) != "").sum(axis=1)


def grid_cells(grid) -> pd.DataFrame:
    """The grid's cells as stripped Python strings ("" for empty), object dtype, positional
    index 0..n-1.

    Every reader works on this one copy (or on its Arrow form, :func:`arrow_cells`).
    Columns are object dtype on purpose: pandas 3 would otherwise convert back and forth
    between Arrow strings and Python objects at every step, which dominates the time on
    large files. White space is trimmed by Arrow, and only the cells that had any are
    replaced.
    """
    fast = arrow_cells(grid)
    if fast is not None:
        out = {i: _to_objects(col) for i, col in enumerate(fast.columns)}
        return pd.DataFrame(out, index=pd.RangeIndex(len(fast)), dtype=object) if out \
            else pd.DataFrame(index=pd.RangeIndex(len(fast)))
    cells = grid.cells
    out = {}
    for i, name in enumerate(cells.columns):
        values = cells[name].to_numpy(dtype=object)
        try:  # missing cells (None, NaN) become Arrow nulls: found without a pass in Python
            arrow = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            arrow = None
        if arrow is None:
            missing = pd.isna(values)
            if missing.any():
                values = np.where(missing, "", values)
            arrow = pa.array(values, type=pa.string())
        elif arrow.null_count:
            values = np.where(arrow.is_null().to_numpy(zero_copy_only=False), "", values)
            arrow = pc.fill_null(arrow, "")
        trimmed = pc.utf8_trim_whitespace(arrow)
        changed = pc.not_equal(pc.binary_length(arrow), pc.binary_length(trimmed))
        if pc.any(changed).as_py():
            values = values.copy()
            at = np.flatnonzero(changed.to_numpy(zero_copy_only=False))
            values[at] = trimmed.take(pa.array(at)).to_numpy(zero_copy_only=False)
        out[i] = pd.Series(values, dtype=object)
    return pd.DataFrame(out, index=pd.RangeIndex(len(cells))) if out else pd.DataFrame(index=pd.RangeIndex(len(cells)))


def header_rows_like(cells, header_idx: int) -> np.ndarray:
    """True for rows (after the header) that repeat the header (page breaks in text exports)."""
    if isinstance(cells, ArrowCells):
        # the first column picks the candidates, the others are compared on those only
        same = np.ones(len(cells), dtype=bool)
        cand = None
        for col, value in zip(cells.columns, row_values(cells, header_idx)):
            if cand is None:
                cand = np.flatnonzero(pc.fill_null(pc.equal(col, value), False).to_numpy(zero_copy_only=False))
            elif len(cand):
                hit = pc.fill_null(pc.equal(col.take(pa.array(cand)), value), False)
                cand = cand[hit.to_numpy(zero_copy_only=False)]
        if cand is not None:
            same[:] = False
            same[cand] = True
    else:
        values = cells.to_numpy(dtype=object)
        same = (values == values[header_idx]).all(axis=1)
    same[: header_idx + 1] = False
    return same


def base_rules(cells, header_idx: int) -> pd.Series:
    """Skip rules every layout shares: rows before the header are "title" (or "blank"),
    the header row and its repeats are "header", empty rows are "blank".

    Returns
    -------
    pandas.Series
        Object series aligned to the grid rows; ``None`` for rows still to be classified.
    """
    n = len(cells)
    rules = np.full(n, None, dtype=object)
    blank = blank_mask(cells)
    before = np.arange(n) < header_idx
    rules[before] = RULE_TITLE
    rules[header_rows_like(cells, header_idx)] = RULE_HEADER
    rules[header_idx] = RULE_HEADER
    rules[blank] = RULE_BLANK
    return pd.Series(rules, index=cells.index if isinstance(cells, pd.DataFrame) else pd.RangeIndex(n),
                     dtype=object)


@dataclass
class Layout:
    """What a layout reader decided, handed to :func:`finish`.

    Attributes
    ----------
    name : str
        Layout name for :attr:`ReadResult.layout`.
    header_idx : int
        Position of the header row in the grid.
    fields : dict
        Canonical field -> grid column position. Fields: the Transactions fields plus
        ``terms`` (terms text) and ``type`` (the raw type column, for messages).
    rules : pandas.Series
        Skip rule per grid row, ``None`` for data rows.
    kind : pandas.Series
        Kind per grid row (used on data rows); ``None`` where the row has no usable kind,
        then ``kind_reason`` says why.
    kind_reason : callable or None
        Reject reasons for data rows without a kind: called with the grid positions of
        those rows, returns an array of reasons (built only for the rows that need one).
    credits_by_sign : bool
        A negative amount on an invoice row means a credit note (layouts with no type
        column); otherwise a negative invoice is rejected.
    fill : dict
        Field -> Series over grid rows that replaces missing values (e.g. the customer from
        a customer header row).
    constants : dict
        Field -> one value for every row (e.g. the snapshot date of an aging report).
    date_order, decimal, currency : str or None
        Reading hints (mapping / settings / layout convention).
    notes : list of str
        Layout-specific notes.
    """

    name: str
    header_idx: int
    fields: dict[str, int]
    rules: pd.Series
    kind: pd.Series
    kind_reason: Callable[[np.ndarray], np.ndarray] | None = None
    credits_by_sign: bool = False
    fill: dict[str, pd.Series] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    date_order: str | None = None
    decimal: str | None = None
    currency: str | None = None
    notes: list[str] = field(default_factory=list)


_TRANSACTION_COLUMNS = list(T.to_schema().columns)


def parse_terms(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Payment terms text -> days.

    ``Net 30``, ``30``, ``NET30``, ``30 days``, ``N30`` -> 30; ``Due on receipt``,
    ``Immediate``, ``COD`` -> 0.

    Returns
    -------
    (days, failed) : (Series of float, Series of bool)
        NaN where blank or not understood; ``failed`` marks non-blank text not understood.
    """
    text = values.fillna("").astype(str).str.strip().str.casefold()
    num = text.str.extract(r"^(?:net|n)?\s*(\d{1,3})\s*(?:days?|d)?(?:\s*net)?$", expand=False)
    days = pd.to_numeric(num, errors="coerce").astype(float)
    receipt = text.str.fullmatch(r"(?:due (?:on|upon) receipt|on receipt|immediate(?:ly)?|cod|cash)")
    days = days.where(~receipt.fillna(False), 0.0)
    failed = (text != "") & days.isna()
    return days, failed


def _raw(cells, headers: list[str], idx: np.ndarray) -> pd.Series:
    """'column=value; column=value' text of the given rows (non-empty cells only)."""
    values = rows_frame(cells, idx).to_numpy(dtype=object)
    out = np.full(len(idx), "", dtype=object)
    for pos, name in enumerate(headers):
        vals = values[:, pos]
        label = name if name else f"column {pos + 1}"
        filled = vals != ""
        piece = np.where(filled, label + "=" + vals, "")
        out = np.where(filled & (out != ""), out + "; " + piece, np.where(filled, piece, out))
    return pd.Series(out, index=idx, dtype=object)


def finish(grid, cells, layout: Layout, settings: IngestSettings,
           extra_notes: list[str] | None = None) -> ReadResult:
    """Parse the data rows of a grid as the layout says and build the :class:`ReadResult`.

    Parameters
    ----------
    grid : Grid
        The file (from :func:`~arinsights.ingest.textio.read_grid`).
    cells : pandas.DataFrame or ArrowCells
        The grid's cells as :func:`grid_cells` (or :func:`arrow_cells`) gives them.
    layout : Layout
        The reader's decisions.
    settings : IngestSettings
        Default currency and date order.
    extra_notes : list of str, optional
        Notes to put first (e.g. the encoding).

    Returns
    -------
    ReadResult

    Notes
    -----
    The data rows' cells are handled as Arrow string arrays (one per column used); Python
    strings are made only for the output columns and for the rows that need a message.
    """
    file = str(grid.file)
    label = source_label(file)  # of the rows' source, "ledger.csv:17"
    rows = np.asarray(grid.rows, dtype=np.int64)
    n = len(cells)
    headers = [str(h).strip() for h in row_values(cells, layout.header_idx)] if n else []
    notes = list(extra_notes or []) + list(layout.notes)
    f = layout.fields

    rules = layout.rules.to_numpy(dtype=object)
    is_rule = ~pd.isna(rules)
    data_idx = np.flatnonzero(~is_rule)
    skip_idx = np.flatnonzero(is_rule)

    full: dict[int, pa.Array] = {}  # object cells only: their columns converted to Arrow once
    picks: dict[int, tuple] = {}  # id(positions) -> (positions, their runs): Arrow cells only
    arrow_in = isinstance(cells, ArrowCells)

    def rows_of(pos: int, idx: np.ndarray) -> pa.Array:
        """The cells of column ``pos`` in the rows at (sorted) positions ``idx`` (Arrow
        strings): zero-copy slices of the grid's column when the rows are a few runs."""
        if arrow_in:
            key = id(idx)
            if key not in picks:  # the runs of these positions, once for every column
                picks[key] = (idx, _runs(idx) if len(idx) and len(idx) != n else False)
            return _pick(cells.columns[pos], idx, picks[key][1])
        if pos not in full:
            full[pos] = column_array(cells, pos)
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
        return full[pos].filter(pa.array(mask))

    amount_pos = f.get(T.amount)

    def amount_column() -> tuple[np.ndarray, np.ndarray, np.ndarray, list, str | None]:
        """Amounts, parsed for every row after the header that is data or a structural row
        that may carry one (subtotals, totals, voided documents), so skipped amounts
        reconcile: ``(amounts, failed, currency codes, currencies, note)`` over the grid rows;
        the currency found in the amount cell is a code into the currencies (-1: none)."""
        amount_all = np.full(n, np.nan)
        amount_failed = np.zeros(n, dtype=bool)
        currency_cell = np.full(n, -1, dtype=np.int32)
        currency_names: list = []
        if amount_pos is None:
            return amount_all, amount_failed, currency_cell, currency_names, None
        carry = np.zeros(n, dtype=bool)
        carry[layout.header_idx + 1:] = True
        # (only the rows that have a rule can be one of these: no object compare on every row)
        structural = np.zeros(n, dtype=bool)
        structural[skip_idx] = np.isin(rules[skip_idx], [RULE_HEADER, RULE_RULER, RULE_BLANK, RULE_TITLE])
        carry &= ~structural
        carry_idx = np.flatnonzero(carry)
        is_data = ~is_rule[carry_idx]
        # the decimal separator is decided on data rows; structural rows reuse the decision
        on = carry_idx[is_data]
        ap, cur_codes, cur_names = _parse_amounts(_text(rows_of(amount_pos, on)), decimal=layout.decimal,
                                                  column=headers[amount_pos], file=file, rows=rows[on])
        amount_all[on] = ap.values.to_numpy(dtype=float)
        amount_failed[on] = ap.failed.to_numpy(dtype=bool)
        if cur_codes is not None:
            currency_cell[on] = cur_codes
            currency_names = list(cur_names)
        cur_codes = cur_names = None
        off = carry_idx[~is_data]
        if len(off):
            decided = ap.decimal if len(on) else layout.decimal
            try:
                sp = parse_amounts(_obj(cell_values(cells, off, amount_pos)), decimal=decided,
                                   column=headers[amount_pos], file=file)
                amount_all[off] = sp.values.to_numpy(dtype=float)
            except InputError:
                pass  # a total row whose amount is unreadable: its amount stays unknown
        return amount_all, amount_failed, currency_cell, currency_names, ap.note if len(on) else None

    # --- data rows: arrays aligned with d (positions of the data rows in the grid) ---
    d = data_idx
    nd = len(d)
    blank = pa.array([""] * nd, type=pa.string()) if nd < 2 else pa.repeat(pa.scalar("", pa.string()), nd)

    data_columns: dict[int, pa.Array] = {}

    def column(pos: int | None) -> pa.Array:
        """The data rows' cells of a grid column (Arrow strings, "" for empty)."""
        if pos is None:
            return blank
        if pos not in data_columns:
            data_columns[pos] = rows_of(pos, d)
        return data_columns[pos]

    reasons = np.full(nd, "", dtype=object)

    def add(mask, msg):
        """Append a reason to the rows in mask; msg is text or a function of the positions."""
        pos = np.flatnonzero(mask)
        if not len(pos):
            return
        text = msg(pos) if callable(msg) else msg
        cur = reasons[pos]
        reasons[pos] = np.where(cur == "", text, cur + "; " + text)

    def quoted(label: str, values: pa.Array, what: str, noun: str | None = None):
        """The reasons of the rows at ``pos``: "<label> '<value>' <what>"; with ``noun``, a
        value that is a spreadsheet error says so instead ("Amount '#N/A' is a spreadsheet
        error, not an amount (...)")."""
        def reason(pos):
            v = _take_objects(values, pos)
            text = f"{label} '" + v + f"' {what}"
            if noun is None:
                return text
            err = _is_error_text(v)
            return np.where(err, f"{label} '" + v + f"' {_error_reason(noun)}", text) if err.any() else text
        return reason

    def data_rows() -> dict:
        """Everything about the data rows that does not need their amounts: the checks whose
        reasons come before the amount's (added here, in their order), and the parsing of the
        other columns (customers, terms, flags, open amounts), whose reasons are added after
        the amount's by the caller. Notes go to ``row_notes`` (they follow the amount's)."""
        get = {name: column(f.get(name)) for name in
               [T.document_id, T.customer_id, T.customer_name, T.currency, T.disputed, T.applied_to, T.line_of,
                "terms"]}
        typed = getattr(grid, "typed", None)
        if typed is not None and nd:
            # Excel/Parquet: ids stored as numbers come back as 611365.0 in the text cells;
            # normalise the native values instead (611365.0 -> "611365", text ids unchanged)
            for name in ID_FIELDS:
                if f.get(name) is not None:
                    native = normalise_ids(typed.iloc[d, f[name]].reset_index(drop=True)).to_numpy(dtype=object)
                    # an empty typed value with text: an error cell of the workbook ("#N/A")
                    text = get[name].to_numpy(zero_copy_only=False)
                    get[name] = _arrow_text(np.where(pd.isna(native), text, native))
        for name, series in layout.fill.items():
            filler = series.iloc[d].to_numpy(dtype=object)
            filler = _arrow_text(np.where(pd.isna(filler), "", filler))
            get[name] = pc.if_else(pc.equal(get[name], ""), filler, get[name])
        row_notes: list[str] = []

        # spreadsheet error values ("#N/A", "#REF!"): a formula that failed is not a value.
        # A row whose number or customer is one is rejected; a reference, a dispute flag or
        # a name beside the customer's id that is one is read as empty, with a note
        for name, noun in _ERROR_CHECKED.items():
            pos = f.get(name)
            if pos is None or get[name] is blank or not nd:
                continue
            bad = spreadsheet_errors(get[name])
            if bad is None:
                continue
            if name in _ERROR_BLANKED and not (name == T.customer_name and f.get(T.customer_id) is None):
                first = int(np.argmax(bad))
                row_notes.append(
                    f"{int(bad.sum())} cell(s) of '{headers[pos]}' hold a spreadsheet error, e.g. "
                    f"'{_take_objects(get[name], [first])[0]}' (row {rows[d[first]]}); read as empty")
                get[name] = pc.if_else(pa.array(bad), "", get[name])
            else:
                add(bad, lambda at, label=headers[pos], values=get[name], noun=noun:
                    f"{label} '" + _take_objects(values, at) + f"' {_error_reason(noun)}")

        # text files: a data row with values beyond the last column name was split by an
        # unquoted delimiter ("1,250.00", "Acme, Inc"), so its columns are shifted. When most
        # rows have such values, the file has a column without a name instead: noted, ignored.
        width = max((i + 1 for i, h in enumerate(headers) if h), default=0)
        if getattr(grid, "delimiter", None) is not None and nd and 0 < width < cells.shape[1]:
            tail = np.column_stack([~_empty(column(pos)) for pos in range(width, cells.shape[1])])
            ragged = tail.any(axis=1)
            if ragged.sum() * 2 > nd:
                row_notes.append(f"{int(ragged.sum())} of {nd} rows have values after the last named column "
                                 f"('{headers[width - 1]}'); columns without a name are not read")
            elif ragged.any():
                n_values = width + tail.shape[1] - np.argmax(tail[:, ::-1], axis=1)

                def too_many(pos):
                    extra = rows_frame(cells, d[pos]).iloc[:, width:].to_numpy(dtype=object)
                    shown = ["'" + "', '".join(v for v in row if v != "") + "'" for row in extra]
                    return np.array([f"the row has {k} values but the header has {width} columns (extra: {x}); "
                                     "an unquoted comma in a value such as 1,250.00 or 'Acme, Inc' shifts the "
                                     "columns: quote such values or re-export the file"
                                     for k, x in zip(n_values[pos], shown)], dtype=object)

                add(ragged, too_many)

        # kinds as codes into a small table (the last entry None: no kind), so that the checks
        # and the output column look at the table, not at one Python object per row
        kind, kind_table = _kind_codes(layout.kind, d)
        no_kind = pd.isna(kind_table)[kind]
        if layout.kind_reason is not None:
            add(no_kind, lambda pos: layout.kind_reason(d[pos]))
        else:
            add(no_kind, "unknown transaction type")

        # dates: one joint decision of the day/month order for the file
        date_pos = {fld: f[fld] for fld in DATE_FIELDS if f.get(fld) is not None}
        dates = {fld: np.full(nd, np.datetime64("NaT"), dtype="datetime64[ns]") for fld in DATE_FIELDS}
        if date_pos and nd:
            # column names as in the file (for the notes), made unique if the file repeats one
            label = {pos: headers[pos] if headers.count(headers[pos]) == 1 else f"{headers[pos]} (column {pos + 1})"
                     for pos in date_pos.values()}
            frame = pd.DataFrame({label[pos]: _text(column(pos)) for pos in date_pos.values()})
            parsed = parse_date_columns(frame, list(frame.columns), order=layout.date_order, file=file, rows=rows[d])
            date_notes: list[str] = []
            for fld, pos in date_pos.items():
                dp = parsed[label[pos]]
                dates[fld] = dp.values.to_numpy()
                add(dp.failed.to_numpy(dtype=bool), quoted(headers[pos], column(pos), "is not a date", "a date"))
                note = dp.note
                if note and not note.startswith("no day/month ambiguity") and \
                        not any(note in known or known in note for known in date_notes):
                    date_notes.append(note)
            row_notes.extend(date_notes)
        if f.get(T.document_date) is not None:
            label = headers[f[T.document_date]]
            add(_empty(column(f[T.document_date])), f"missing date in '{label}'")

        # customer: the id column, else the name (whitespace normalised, case kept)
        name = _squash_unique(get[T.customer_name])
        if get[T.customer_id] is blank:  # no id column: the customer is the name (no copy)
            cust = name if nd else blank
        else:
            cust = pc.if_else(pc.equal(get[T.customer_id], ""), name, get[T.customer_id]) if nd else get[T.customer_id]

        terms = None
        if f.get("terms") is not None and nd:
            terms = _per_distinct(get["terms"], lambda u: parse_terms(_obj(u)))

        disputed = np.full(nd, None, dtype=object)
        if f.get(T.disputed) is not None and nd:
            flags = parse_flags(_text(get[T.disputed]), column=headers[f[T.disputed]], file=file)
            disputed = flags.to_numpy(dtype=object, na_value=None)

        op = None
        if f.get(T.open_amount) is not None and f[T.open_amount] != amount_pos and nd:
            pos = f[T.open_amount]
            op = parse_amounts(_text(column(pos)), decimal=layout.decimal, column=headers[pos], file=file,
                               rows=rows[d])
        return {"get": get, "notes": row_notes, "kind": kind, "kind_table": kind_table, "dates": dates,
                "name": name, "cust": cust, "cust_empty": _empty(cust),
                "doc_empty": _empty(get[T.document_id]), "terms": terms, "disputed": disputed, "op": op}

    # the amounts and the rest of the data rows are independent: side by side on large files
    # (the amount's error, if any, wins as it would sequentially; reasons and notes keep their
    # order: the data rows' reasons added meanwhile are those that come before the amount's)
    (amount_all, amount_failed, currency_cell, currency_names, amount_note), rest = together(
        amount_column, data_rows, rows=nd if arrow_in else 0)
    if amount_note:
        notes.append(amount_note)
    notes.extend(rest["notes"])
    get, kind, kind_table, dates = rest["get"], rest["kind"], rest["kind_table"], rest["dates"]
    name, cust = rest["name"], rest["cust"]

    amount = amount_all[d]
    if amount_pos is not None:
        raw_amt = column(amount_pos)
        raw_empty = _empty(raw_amt)
        add(amount_failed[d], quoted(headers[amount_pos], raw_amt, "is not an amount", "an amount"))
        add(raw_empty, f"missing amount in '{headers[amount_pos]}'")
        # a text that means "no value" ("nan", "n/a", "null") parses as missing, not as failed
        add(np.isnan(amount) & ~amount_failed[d] & ~raw_empty,
            quoted(headers[amount_pos], raw_amt, "is not an amount (it means no value)"))
        add(np.abs(np.nan_to_num(amount)) > MAX_AMOUNT,
            quoted(headers[amount_pos], raw_amt, f"is too large to be a receivable (more than {MAX_AMOUNT:,.0f}): "
                                                 "an id or a reference in the amount column?"))
        raw_amt = raw_empty = None
    else:
        add(np.ones(nd, dtype=bool), "no amount column")

    has_customer = any(f.get(x) is not None or x in layout.fill for x in (T.customer_id, T.customer_name))
    if not has_customer:
        add(np.ones(nd, dtype=bool), "no customer column")
    cust_label = headers[f[T.customer_id]] if f.get(T.customer_id) is not None else (
        headers[f[T.customer_name]] if f.get(T.customer_name) is not None else "customer")
    add(rest.pop("cust_empty"), f"missing customer in '{cust_label}'")

    # document id: required on invoices
    doc_label = headers[f[T.document_id]] if f.get(T.document_id) is not None else "invoice number"
    is_invoice = (kind_table == KIND_INVOICE)[kind]
    add(is_invoice & rest.pop("doc_empty"), f"missing invoice number in '{doc_label}'")

    # signs: magnitudes are stored; the kind carries the sign
    neg = amount < 0
    if layout.credits_by_sign:
        flip = neg & is_invoice
        if flip.any():
            if KIND_CREDIT not in kind_table[:-1]:
                kind_table = np.concatenate([np.array([KIND_CREDIT], dtype=object), kind_table])
                kind = kind + 1
            kind[flip] = int(np.flatnonzero(kind_table[:-1] == KIND_CREDIT)[0])
            notes.append(f"{int(flip.sum())} row(s) with a negative amount read as credit notes")
    else:
        add(neg & is_invoice, "negative invoice amount: credit notes must be typed as credits")
    neg = is_invoice = None

    terms_days = np.full(nd, np.nan)
    if rest["terms"] is not None:
        days, tfail = rest.pop("terms")
        terms_days = days.astype(float)
        add(tfail.astype(bool), quoted(headers[f["terms"]], get["terms"], "is not a payment term (e.g. 'Net 30')",
                                        "a payment term"))

    disputed = rest.pop("disputed")

    open_amount = np.full(nd, np.nan)
    if f.get(T.open_amount) is not None and f[T.open_amount] == amount_pos:
        open_amount = np.abs(amount)  # the layout's amount is the open balance (aged reports)
    elif rest["op"] is not None:
        pos = f[T.open_amount]
        op = rest.pop("op")
        open_amount = np.abs(op.values.to_numpy(dtype=float))
        add(op.failed.to_numpy(dtype=bool), quoted(headers[pos], column(pos), "is not an amount", "an amount"))
        op = None
    rest = None

    # currency: column, else symbol/code in the amount cell, else mapping/layout, else settings
    if f.get(T.currency) is not None and nd:
        def codes(u):
            upper = _obj(u).str.upper()
            return (upper.to_numpy(dtype=object),
                    (upper != "").to_numpy(dtype=bool) & ~upper.str.fullmatch("[A-Z]{3}").to_numpy(
                        dtype=bool, na_value=False))
        currency, not_code = _per_distinct(get[T.currency], codes)
        add(not_code, quoted(headers[f[T.currency]], get[T.currency],
                             "is not a three-letter currency code such as EUR, USD or GBP", "a currency code"))
        found = np.array(currency_names + [None], dtype=object).take(currency_cell[d])
        currency = np.where(currency == "", found, currency)
        found = None
        currency[pd.isna(currency)] = layout.currency or settings.default_currency
        currency_table = None
    else:
        # codes into a small table whose last entry (code -1) is the default: no Python
        # object per row
        currency = currency_cell[d]
        currency[currency < 0] = len(currency_names)
        currency_table = np.array(currency_names + [layout.currency or settings.default_currency], dtype=object)

    rejected = reasons != ""
    keep_mask = ~rejected
    keep = d[keep_mask]
    rej = d[rejected]
    kept_at = np.flatnonzero(keep_mask)
    all_kept = len(keep) == nd

    handed: set[int] = set()

    def kept(values: np.ndarray) -> np.ndarray:
        """The kept rows of a data-row array: the array itself when every row is kept and it
        is a writable array of its own, not handed out already (no copy), else a copy."""
        if all_kept and values.flags.writeable and values.base is None and id(values) not in handed:
            handed.add(id(values))
            return values
        return values[keep_mask]

    # the small frames first (the rejected rows' cells are taken now): then every column of
    # the grid that the output does not carry, and the parsing's working data, are dropped
    # before the output is built, and each output column replaces its working array
    rejects = _frame({
        Rejects.source: _out_text(_sources(label, rows[rej])),
        Rejects.file: _out_repeat(file, len(rej)),
        Rejects.row: rows[rej],
        Rejects.reason: _out_text(reasons[rejected]),
        Rejects.raw: _out_text(_raw(cells, headers, rej).to_numpy(dtype=object)),
        Rejects.amount: np.abs(amount[rejected]),
    })
    skipped = _frame({
        Skipped.file: _out_repeat(file, len(skip_idx)),
        Skipped.row: rows[skip_idx],
        Skipped.rule: _out_text(rules[skip_idx].astype(object)),
        Skipped.amount: np.abs(amount_all[skip_idx]),
    })
    rejects = _as_text(rejects, [Rejects.source, Rejects.file, Rejects.reason, Rejects.raw])
    skipped = _as_text(skipped, [Skipped.file, Skipped.rule])

    ids = {fld: get[fld] for fld in (T.document_id, T.applied_to, T.line_of)}
    same_customer = cust is name
    get.clear()
    data_columns.clear()
    full.clear()
    picks.clear()
    reasons = rejected = amount_all = amount_failed = currency_cell = rules = is_rule = None  # noqa: F841 (memory)
    d = data_idx = skip_idx = None  # noqa: F841
    if arrow_in:
        cells.release(grid)
    release_memory()  # the parsing's working columns are gone: hand their memory back before the output

    kept_runs = _runs(kept_at) if not all_kept and len(kept_at) else False

    def kept_ids(values: pa.Array) -> np.ndarray:
        return _ids(values if all_kept else _pick(values, kept_at, kept_runs))

    src_rows = rows[keep]
    # each output column replaces its working array (popped from ``work`` as it is built)
    work = {"kind": kind, "cust": cust, "name": name, "terms_days": terms_days, "amount": amount,
            "currency": currency, "disputed": disputed, "open_amount": open_amount}
    del kind, cust, name, terms_days, amount, currency, disputed, open_amount

    def file_columns() -> tuple:
        """The source ("ledger.csv:17") and file columns."""
        return _out_text(_sources(label, src_rows)), _out_repeat(file, len(keep))

    def data_columns_out() -> dict:
        """The other output columns, in their order (after source, file and row)."""
        o: dict[str, object] = {}
        o[T.kind] = _kinds_text(kind_table, kept(work.pop("kind")))
        o[T.document_id] = kept_ids(ids.pop(T.document_id))
        o[T.customer_id] = kept_ids(work.pop("cust"))
        name = work.pop("name")
        if same_customer and _text_dtype() is not None:  # immutable Arrow data: both columns share it
            o[T.customer_name] = o[T.customer_id].copy(deep=False)
        else:
            o[T.customer_name] = kept_ids(name)
        name = None
        o[T.document_date] = kept(dates.pop(T.document_date))
        o[T.due_date] = kept(dates.pop(T.due_date))
        o[T.terms_days] = kept(work.pop("terms_days"))
        o[T.amount] = np.abs(kept(work.pop("amount")))
        currency = work.pop("currency")
        o[T.currency] = _out_text(kept(currency)) if currency_table is None else _kinds_text(currency_table,
                                                                                            kept(currency))
        currency = None
        o[T.disputed] = kept(work.pop("disputed"))
        o[T.settled_date] = kept(dates.pop(T.settled_date))
        o[T.applied_to] = kept_ids(ids.pop(T.applied_to))
        o[T.open_amount] = kept(work.pop("open_amount"))
        o[T.snapshot_date] = np.full(len(keep), np.datetime64("NaT"), dtype="datetime64[ns]")
        o[T.line_of] = kept_ids(ids.pop(T.line_of))
        return o

    # two independent sets of columns: side by side on large files
    (source, file_column), others = together(file_columns, data_columns_out, rows=len(keep))
    out: dict[str, object] = {T.source: source, T.file: file_column, T.row: src_rows}
    source = file_column = None
    out.update(others)
    others = None
    tx = _frame(out)
    del out
    tx = _as_text(tx, [T.source, T.file, T.kind, T.document_id, T.customer_id, T.customer_name, T.currency,
                       T.applied_to, T.line_of])
    for fld, value in layout.constants.items():
        if fld == T.snapshot_date:
            tx[fld] = pd.Series(pd.Timestamp(value) if value is not None else pd.NaT, index=tx.index,
                                dtype="datetime64[ns]")
        else:
            tx[fld] = value
    if list(tx.columns) != _TRANSACTION_COLUMNS:
        tx = tx[_TRANSACTION_COLUMNS]

    if len(rej):
        notes.append(f"{len(rej)} row(s) rejected (see rejects for the reasons)")
    return ReadResult(file=file, layout=layout.name, transactions=tx, skipped=skipped, rejects=rejects,
                      rows_read=n, notes=notes)


def _kind_codes(kinds: pd.Series, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kinds of the rows at positions ``d`` as (codes, table): ``table[codes]`` are
    the kinds, the table's last entry None (no kind). Categorical kinds (see
    :func:`kinds_of_column`) give their codes as they are; others are factorised."""
    if isinstance(kinds.dtype, pd.CategoricalDtype):
        codes = np.asarray(kinds.cat.codes.to_numpy()[d], dtype=np.int64)
        table = list(kinds.cat.categories.astype(object))
    else:
        codes, uniq = pd.factorize(kinds.iloc[d].to_numpy(dtype=object), use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int64)
        table = list(np.asarray(uniq, dtype=object))
    codes[codes < 0] = len(table)
    return codes.astype(_code_type(len(table) + 2)), np.array(table + [None], dtype=object)


def _code_type(size: int) -> type:
    """The smallest integer type for codes into a table of ``size`` entries (memory: one
    code per row)."""
    return np.int8 if size < 2 ** 7 else np.int16 if size < 2 ** 15 else np.int32 if size < 2 ** 31 else np.int64


def _kinds_text(table: np.ndarray, codes: np.ndarray) -> pd.Series | np.ndarray:
    """The output text column ``table[codes]`` (kinds, currencies: :func:`_out_text`), built from
    the small table without a Python object per row when the text dtype is Arrow-backed."""
    if _text_dtype() is None:
        return table.take(codes)
    indices = pa.array(codes.astype(_code_type(len(table)), copy=False))
    words = pa.array(table, type=pa.large_string(), from_pandas=True)
    # decoding a dictionary array is a little faster than a take of the table
    return _out_text(pa.DictionaryArray.from_arrays(indices, words).cast(pa.large_string()))


def source_label(file: str) -> str:
    """The file's part of a row's ``source``: its name (``ledger.csv`` of
    ``exports/2026-11/ledger.csv``). The rows' ``file`` column keeps the path as given; a
    load of two files with one name labels their sources with the paths instead (see
    :func:`arinsights.ingest.ledger.load_ledger`)."""
    return Path(file).name or file


def _sources(file: str, rows: np.ndarray) -> pa.Array:
    """``"file:row"`` for each row number, as an Arrow string array (built by Arrow:
    formatting a million row numbers in Python dominates otherwise). The numbers' texts
    get the prefix ``"file:"`` inserted (one pass, faster than joining two arrays), as a
    large_string array: the storage of pandas' Arrow-backed text, so no conversion after."""
    text = pc.cast(pa.array(np.asarray(rows, dtype=np.int64)), pa.large_string())
    return pc.binary_replace_slice(text, 0, 0, file + ":")


def _text_dtype() -> pd.StringDtype | None:
    """pandas' default dtype for text when it is Arrow-backed (pandas >= 3, or
    ``future.infer_string`` on pandas 2), else None (the default is object)."""
    dtype = pd.Series(["a"]).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return dtype
    return None


def _out_text(values: pa.Array | pa.ChunkedArray | np.ndarray) -> pd.Series | np.ndarray:
    """An output text column in pandas' default text dtype: built zero-copy from the Arrow
    array when that dtype is Arrow-backed, else an object array of Python strings. Missing
    values (Arrow nulls, None) stay missing."""
    dtype = _text_dtype()
    if isinstance(values, np.ndarray):
        if dtype is None:
            return values.astype(object, copy=False)
        values = pa.array(values.astype(object, copy=False), type=pa.string(), from_pandas=True)
    if dtype is None:
        return _to_objects(values)
    return pd.Series(pd.arrays.ArrowStringArray(values, dtype=dtype))


def _out_repeat(text: str, n: int) -> pd.Series | np.ndarray:
    """One text value repeated ``n`` times, as :func:`_out_text` would give it."""
    if _text_dtype() is None:
        return np.full(n, text, dtype=object)
    return _out_text(pa.repeat(pa.scalar(text, pa.large_string()), n) if n else pa.array([], pa.string()))


_STR = pd.StringDtype("pyarrow")


def _text(values: pa.Array) -> pd.Series:
    """An Arrow string array as an Arrow-backed string Series (no copy, no Python strings):
    the parsers factorise it with Arrow and convert only the distinct values."""
    return pd.Series(pd.arrays.ArrowStringArray(values), dtype=_STR)


def _arrow_text(values: np.ndarray) -> pa.Array:
    """An object array of strings as an Arrow string array."""
    return pa.array(np.asarray(values, dtype=object), type=pa.string())


def _per_distinct(values: pa.Array, fn) -> tuple[np.ndarray, ...]:
    """Apply ``fn`` (object strings -> tuple of arrays) to the distinct values only and map
    the results back to the rows (ledgers repeat a lot)."""
    enc = pc.dictionary_encode(values)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()  # one dictionary for all chunks
    uniq = enc.dictionary.to_numpy(zero_copy_only=False).astype(object, copy=False)
    codes = enc.indices.to_numpy(zero_copy_only=False)
    return tuple(np.asarray(r).take(codes) for r in fn(uniq))


def _obj(values) -> pd.Series:
    """An object-dtype Series (pandas 3 would turn an array of strings into Arrow strings)."""
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def _frame(columns: dict) -> pd.DataFrame:
    """A DataFrame whose object arrays stay object dtype (Series are taken as they are).

    No column is copied: numpy arrays are handed to pandas as they are (wrapping them in a
    Series first makes the constructor copy them), object arrays as ``NumpyExtensionArray``
    (which keeps them object dtype, without a copy either)."""
    n = len(next(iter(columns.values()))) if columns else 0
    index = pd.RangeIndex(n)

    def column(v):
        if isinstance(v, pd.Series):
            return v.set_axis(index)
        if isinstance(v, np.ndarray) and v.ndim == 1:
            return pd.arrays.NumpyExtensionArray(v) if v.dtype == object else v
        return pd.Series(v, index=index)

    return pd.DataFrame({k: column(v) for k, v in columns.items()}, copy=False)


def _as_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Empty frames: string columns get the string dtype (an empty object column does not
    pass the schema's ``str`` check). Non-empty frames keep their object columns."""
    if len(frame):
        return frame
    return frame.assign(**{c: pd.Series([], index=frame.index, dtype=str) for c in columns})


def _ids(values: pa.Array) -> pd.Series | np.ndarray:
    """Identifiers: cells are already stripped text (numbers from Excel/Parquet were
    normalised from their native values), so only blanks become missing. An output text
    column (:func:`_out_text`); the cells themselves (no copy) when none is blank, else
    the cells under a validity bitmap that hides the blanks (:func:`_blanks_missing`)."""
    if len(values):
        chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
        if any(c.null_count for c in chunks) or not all(c.type == pa.string() for c in chunks):
            empty = pc.equal(values, "")
            if pc.any(empty).as_py():
                values = pc.if_else(empty, pa.scalar(None, pa.string()), values)
        else:
            empty = _empty(values)
            if empty.any():
                values = _blanks_missing(chunks, empty)
    return _out_text(values)


def _blanks_missing(chunks: list[pa.Array], empty: np.ndarray) -> pa.ChunkedArray:
    """The string chunks (no missing cell in them) with the cells where ``empty`` made
    missing: the same offsets and bytes under a new validity bitmap, no copy of the texts."""
    out, at = [], 0
    for chunk in chunks:
        m = len(chunk)
        bits = np.ones(chunk.offset + m, dtype=bool)
        bits[chunk.offset:] = ~empty[at:at + m]
        at += m
        buffers = chunk.buffers()
        out.append(pa.Array.from_buffers(chunk.type, m, [pa.py_buffer(np.packbits(bits, bitorder="little")),
                                                         buffers[1], buffers[2]],
                                         null_count=int(m - np.count_nonzero(bits[chunk.offset:])),
                                         offset=chunk.offset))
    return pa.chunked_array(out, type=pa.string())


#: at most this many runs of rows are taken as zero-copy slices (else one filter copy)
_MAX_RUNS = 64


def _runs(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(starts, stops)`` of the runs of consecutive positions in the sorted positions
    ``idx`` when there are fewer than :data:`_MAX_RUNS`, else None (see :func:`_pick`)."""
    idx = np.asarray(idx, dtype=np.int64)
    if not len(idx):
        return None
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    if len(breaks) >= _MAX_RUNS:
        return None
    starts = idx[np.concatenate(([0], breaks))]
    stops = idx[np.concatenate((breaks - 1, [len(idx) - 1]))] + 1
    return starts, stops


def _pick(values: pa.Array | pa.ChunkedArray, idx: np.ndarray, runs=False) -> pa.Array | pa.ChunkedArray:
    """The cells at sorted positions ``idx``: zero-copy slices of ``values`` when ``idx`` is
    a few runs of consecutive positions (a file's data rows, the kept rows), else a filter.
    ``runs``: :func:`_runs` of ``idx`` when the caller has it already (several columns
    picked at the same positions)."""
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) == len(values):
        return values  # every row (positions are sorted and distinct)
    if len(idx):
        if runs is False:
            runs = _runs(idx)
        if runs is not None:
            chunks = []
            for start, stop in zip(runs[0].tolist(), runs[1].tolist()):
                part = values.slice(start, stop - start)
                chunks.extend(part.chunks if isinstance(part, pa.ChunkedArray) else [part])
            return pa.chunked_array(chunks, type=values.type)
    mask = np.zeros(len(values), dtype=bool)
    mask[idx] = True
    return values.filter(pa.array(mask))


#: bytes of text checked at a time by :func:`_plain_spaces` (the checks stay in cache)
_SPACE_BLOCK = 1 << 20


def _plain_spaces(values: pa.Array | pa.ChunkedArray) -> bool:
    """True when no cell can have white space to collapse: the bytes of the cells are all
    ASCII and every byte up to 0x20 is a single space (no tab, line break, no-break space or
    two white space characters in a row). Read from the Arrow buffers (one cheap pass, where
    hashing the names costs more); False (look closer) for anything else."""
    chunks = chunk_buffers(values)
    if chunks is None:
        return False
    for _, offsets, data in chunks:
        body = data[int(offsets[0]):int(offsets[-1])]
        for a in range(0, len(body), _SPACE_BLOCK):
            block = body[a:a + _SPACE_BLOCK + 1]  # one byte more: a pair across the blocks
            if (block >= 0x80).any():
                return False
            low = block <= 0x20
            if (low & (block != 0x20)).any() or (low[:-1] & low[1:]).any():
                return False
    return True


def _squash_unique(values: pa.Array) -> pa.Array:
    """Collapse inner runs of white space (Arrow regex, only on the cells that have any)."""
    if len(values) == 0 or _plain_spaces(values):
        return values
    pattern = r"\s\s|[\t\r\n\xa0]"
    if not pc.any(pc.match_substring_regex(pc.unique(values), pattern)).as_py():
        return values  # names repeat: hashing them is cheaper than a regex over every cell
    odd = pc.match_substring_regex(values, pattern)
    if not pc.any(odd).as_py():
        return values
    at = np.flatnonzero(odd.to_numpy(zero_copy_only=False))
    fixed = squash_spaces(pd.Series(_take_objects(values, at), dtype=object)).to_numpy(dtype=object)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
        odd = odd.combine_chunks() if isinstance(odd, pa.ChunkedArray) else odd
    return pc.replace_with_mask(values, odd, pa.array(fixed, type=values.type))


def kinds_from_values(values: pd.Series, table: dict[str, str]) -> pd.Series:
    """Map type cells to kinds through a {normalised value: kind} table (None when unknown)."""
    codes, uniq = pd.factorize(values.to_numpy(dtype=object))
    kinds = np.array([table.get(norm_header(u)) for u in uniq] + [None], dtype=object)
    return pd.Series(kinds[codes], index=values.index, dtype=object)


def kinds_of_column(cells, pos: int, table: dict[str, str]) -> pd.Series:
    """:func:`kinds_from_values` of the grid column at ``pos`` (cells frame or ArrowCells)."""
    if not isinstance(cells, ArrowCells):
        return kinds_from_values(cells.iloc[:, pos], table)
    # per distinct cell: the code of its kind among the kinds found (-1: none); the rows
    # take the codes (a categorical: no Python object per row)
    found: list[str] = []

    def codes_of(uniq):
        kinds = [table.get(norm_header(u)) for u in uniq]
        for k in kinds:
            if k is not None and k not in found:
                found.append(k)
        return (np.array([found.index(k) if k is not None else -1 for k in kinds], dtype=np.int64),)

    (codes,) = _per_distinct(cells.columns[pos], codes_of)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(found, dtype=object)),
                     index=pd.RangeIndex(len(cells)))


def cell_reasons(cells, pos: int, template: str) -> Callable[[np.ndarray], np.ndarray]:
    """Reasons built from a template with ``{}`` for the cell value, for rows at grid positions."""
    before, after = template.split("{}", 1)
    return lambda idx: before + cell_values(cells, idx, pos) + after
