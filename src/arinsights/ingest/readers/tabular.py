"""Plain tables with one header row: the generic invoice list, transaction lists, the
two-file form (invoices + payments) and files described by a mapping file.

These readers take the cells either as the object frame of
:func:`~._base.grid_cells` or, for regular text files, as :class:`~._base.ArrowCells`
(the same values as Arrow strings); they touch cells only through the helpers of
:mod:`._base`, which give the same answers for both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..._parallel import together
from ...errors import InputError
from ...schema import KIND_CREDIT, KIND_INVOICE, KIND_PAYMENT
from ...schema import Transactions as T
from ..mapping import Mapping
from ._base import (RULE_TOTAL, ArrowCells, Layout, ReadResult, base_rules, blank_mask, cell_reasons, cell_values, finish,
                    kinds_of_column, norm_header, row_values, rows_frame)
from .detect import GENERIC, INVOICES, PAYMENTS, TRANSACTIONS, HEADER_SCAN_ROWS, Spec, missing_required

#: values of a transaction list's type column (normalised) -> kind
TRANSACTION_TYPES = {
    "invoice": KIND_INVOICE,
    "payment": KIND_PAYMENT, "receivepayment": KIND_PAYMENT, "paymentreceived": KIND_PAYMENT,
    "customerpayment": KIND_PAYMENT,
    "creditmemo": KIND_CREDIT, "creditnote": KIND_CREDIT, "credit": KIND_CREDIT,
}


def headers_of(cells, header_idx: int) -> list[str]:
    return [str(h).strip() for h in row_values(cells, header_idx)]


#: how a total row begins (case-insensitive), in the languages of the exports read:
#: Total/Totals/Subtotal, Summe/Zwischensumme/Gesamt(summe), Somme, Totaal, Totale, Suma
TOTAL_WORDS = ("total", "totaal", "subtota", "summe", "zwischensumme", "gesamt", "somme", "suma")


def total_rows(cells, rules: pd.Series, key_positions: list[int], id_position: int | None = None) -> pd.Series:
    """Mark unclassified rows whose key cells (document id, date) are empty and whose cells
    say "Total ..." (or "Summe", "Somme", ...: :data:`TOTAL_WORDS`) as "total". The
    document id cell (``id_position``, one of the keys) may hold the word itself, without
    digits: a spreadsheet's "Summe" row often writes it in the first column."""
    rules = rules.copy()
    open_rows = rules.isna().to_numpy()
    if not key_positions or not open_rows.any():
        return rules
    others = [p for p in key_positions if p != id_position]
    cand = np.flatnonzero(open_rows & blank_mask(cells, columns=others) if others else open_rows)
    if len(cand):
        sub = rows_frame(cells, cand).fillna("").astype(str)
        low = sub.apply(lambda c: c.str.strip().str.casefold())
        says_total = low.apply(lambda c: c.str.startswith(TOTAL_WORDS)).any(axis=1).to_numpy(dtype=bool, copy=True)
        if id_position is not None and id_position in key_positions:
            doc = low.iloc[:, id_position]
            # a total's label has no digits; a document number ("TOTAL-8") has
            says_total &= ((doc == "") | (doc.str.startswith(TOTAL_WORDS) & ~doc.str.contains(r"\d"))).to_numpy()
        rules.iloc[cand[says_total]] = RULE_TOTAL
    return rules


def _fields(spec: Spec, cells, header_idx: int, file: str) -> dict[str, int]:
    headers = headers_of(cells, header_idx)
    fields = spec.assign(headers)
    missing_required(spec, fields, headers, file)
    return fields


def constant_kind(n: int, kind: str) -> pd.Series:
    return pd.Series(np.full(n, kind, dtype=object), dtype=object)


def unknown_type_reasons(cells, pos: int, column: str, known: str):
    """Reject reasons for type values a layout does not read."""
    return cell_reasons(cells, pos, "unknown transaction type '{}' in '" + column + f"': only {known} rows are read; "
                        "to read other types write a mapping file with layout = \"transactions\" and a [types] "
                        "section (see docs/mapping.md)")


def read_generic(grid, cells, header_idx: int, settings, notes: list[str]) -> ReadResult:
    """The generic invoice list with settlement date (one row per invoice)."""
    fields = _fields(GENERIC, cells, header_idx, str(grid.file))
    rules = total_rows(cells, base_rules(cells, header_idx), [fields[T.document_id], fields[T.document_date]],
                       fields[T.document_id])
    layout = Layout("generic", header_idx, fields, rules, constant_kind(len(cells), KIND_INVOICE),
                    credits_by_sign=True, date_order=settings.date_order)
    if isinstance(cells, ArrowCells):  # compared with the dates after finish: kept
        cells.retain.update(fields[fld] for fld in ("derived_days", "derived_late") if fld in fields)
    headers = headers_of(cells, header_idx)
    result = finish(grid, cells, layout, settings, notes)
    result.notes.extend(_derived_disagreements(grid, cells, fields, headers, result))
    return result


def _derived_disagreements(grid, cells, fields, headers, result) -> list[str]:
    """Notes when derived day counts disagree with the dates (they are ignored either way)."""
    tx = result.transactions
    pos = pd.Index(np.asarray(grid.rows)).get_indexer(tx[T.row].to_numpy())
    out = []
    settled = pd.to_datetime(tx[T.settled_date])
    checks = [("derived_days", T.document_date, "days from invoice date to settled date"),
              ("derived_late", T.due_date, "days from due date to settled date (0 when early)")]
    for fld, start, what in checks:
        if fld not in fields or len(tx) == 0:
            continue
        given = pd.to_numeric(cell_values(cells, pos, fields[fld]), errors="coerce")
        actual = (settled - pd.to_datetime(tx[start])).dt.days.to_numpy(dtype=float)
        if fld == "derived_late":
            actual = np.clip(actual, 0, None)
        comparable = ~np.isnan(given) & ~np.isnan(actual)
        bad = comparable & (given != actual)
        if bad.any():
            name = headers[fields[fld]]
            first = int(np.flatnonzero(bad)[0])
            out.append(f"column '{name}' disagrees with the dates on {int(bad.sum())} of "
                       f"{int(comparable.sum())} rows (e.g. row {int(tx[T.row].iloc[first])}: says "
                       f"{given[first]:g}, the dates give {actual[first]:g}); it is ignored, the dates are used")
    return out


def read_transactions(grid, cells, header_idx: int, settings, notes: list[str]) -> ReadResult:
    """A transaction list with a type column (Invoice / Payment / Credit Memo)."""
    fields = _fields(TRANSACTIONS, cells, header_idx, str(grid.file))
    # the skip rules and the kinds only read the cells: side by side on a large file
    rules, kind = together(
        lambda: total_rows(cells, base_rules(cells, header_idx), [fields[T.document_id], fields[T.document_date]],
                           fields[T.document_id]),
        lambda: kinds_of_column(cells, fields["type"], TRANSACTION_TYPES),
        rows=len(cells) if isinstance(cells, ArrowCells) else 0)
    reason = unknown_type_reasons(cells, fields["type"], headers_of(cells, header_idx)[fields["type"]],
                                  "Invoice, Payment and Credit Memo")
    layout = Layout("transactions", header_idx, fields, rules, kind, reason, date_order=settings.date_order)
    return finish(grid, cells, layout, settings, notes)


def read_invoices(grid, cells, header_idx: int, settings, notes: list[str]) -> ReadResult:
    """The invoices file of the two-file form (terms may stand in for the due date)."""
    fields = _fields(INVOICES, cells, header_idx, str(grid.file))
    rules = total_rows(cells, base_rules(cells, header_idx), [fields[T.document_id], fields[T.document_date]],
                       fields[T.document_id])
    layout = Layout("invoices", header_idx, fields, rules, constant_kind(len(cells), KIND_INVOICE),
                    credits_by_sign=True, date_order=settings.date_order)
    if T.due_date not in fields and "terms" in fields:
        layout.notes.append("no due date column: due dates are left for cleaning to derive from the terms")
    return finish(grid, cells, layout, settings, notes)


def read_payments(grid, cells, header_idx: int, settings, notes: list[str]) -> ReadResult:
    """The payments file of the two-file form."""
    fields = _fields(PAYMENTS, cells, header_idx, str(grid.file))
    rules = total_rows(cells, base_rules(cells, header_idx), [fields[T.document_date]])
    layout = Layout("payments", header_idx, fields, rules, constant_kind(len(cells), KIND_PAYMENT),
                    date_order=settings.date_order)
    return finish(grid, cells, layout, settings, notes)


def find_mapped_header(cells, mapping: Mapping, file: str) -> int:
    """Position of the header row: the mapping's header_row, else the first of the first
    non-blank rows that holds every mapped column."""
    if mapping.header_row is not None:
        idx = mapping.header_row - 1
        if idx >= len(cells):
            raise InputError(f"the mapping's header_row = {mapping.header_row} is beyond the end of the file "
                             f"({len(cells)} rows)", file=file,
                             hint=f"Set header_row in {mapping.path} to the row that holds the column names "
                                  "(1 = the first row), or remove it to let arinsights find that row.")
        return idx
    wanted = {norm_header(c) for c in mapping.used_columns()}
    head = rows_frame(cells, np.arange(min(len(cells), HEADER_SCAN_ROWS * 4)))
    nonblank = np.flatnonzero(~blank_mask(head))[:HEADER_SCAN_ROWS]
    for idx in nonblank:
        keys = {norm_header(c) for c in row_values(cells, idx)}
        if wanted <= keys:
            return int(idx)
    return int(nonblank[0]) if len(nonblank) else 0


def read_mapped(grid, cells, mapping: Mapping, settings, notes: list[str]) -> ReadResult:
    """A file described by a mapping file (layout "mapping")."""
    file = str(grid.file)
    if len(cells) == 0 or blank_mask(cells).all():
        raise InputError("the file is empty", file=file)
    header_idx = find_mapped_header(cells, mapping, file)
    headers = headers_of(cells, header_idx)
    matched = mapping.check_columns(headers, file)
    pos_of = {h: i for i, h in reversed(list(enumerate(headers)))}
    fields = {fld: pos_of[matched[col]] for fld, col in mapping.columns.items()}
    key = [fields[T.document_date]] + ([fields[T.document_id]] if T.document_id in fields else [])
    rules = total_rows(cells, base_rules(cells, header_idx), key, fields.get(T.document_id))
    date_order = mapping.date_order or settings.date_order
    if mapping.layout == "transactions":
        type_pos = pos_of[matched[mapping.type_column]]
        fields["type"] = type_pos
        table = {norm_header(v): kind for kind, values in mapping.types.items() for v in values}
        kind = kinds_of_column(cells, type_pos, table)
        listed = ", ".join(v for values in mapping.types.values() for v in values)
        reason = cell_reasons(cells, type_pos, "transaction type '{}' in '" + headers[type_pos] + "' is not listed "
                              f"in the mapping's [types] ({listed}); add it under invoice, payment or credit "
                              f"in {mapping.path}")
        layout = Layout("mapping", header_idx, fields, rules, kind, reason)
    else:
        k = KIND_INVOICE if mapping.layout == "invoices" else KIND_PAYMENT
        layout = Layout("mapping", header_idx, fields, rules, constant_kind(len(cells), k),
                        credits_by_sign=mapping.layout == "invoices")
    layout.date_order = date_order
    layout.decimal = mapping.decimal
    layout.currency = mapping.currency
    layout.notes.append(f"read with mapping {mapping.path} (layout {mapping.layout!r})")
    if mapping.balances_as_of is not None:
        # the file is a snapshot of that date, as an aging report's "As of" line says
        layout.constants[T.snapshot_date] = pd.Timestamp(mapping.balances_as_of)
        layout.notes.append(f"open balances as of {mapping.balances_as_of:%Y-%m-%d} (balances_as_of in the mapping)")
    return finish(grid, cells, layout, settings, notes)
