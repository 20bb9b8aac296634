"""Xero exports: the "Invoices" CSV (one row per invoice line) and the "Aged Receivables
Detail" report (XLSX).

Invoices CSV:

Every line is emitted as a transaction with ``line_of`` = the invoice number and ``amount`` =
the document Total (which repeats on each line); cleaning folds the lines of one document.
Type ACCREC is an invoice, ACCRECCREDIT a credit note. Voided/deleted documents and drafts
are skipped by the named rules "status_voided" and "status_draft".

Aged Receivables Detail: title lines (report name, organisation, "As at 31 July 2026"),
contact header rows, one row per open document with its outstanding amount spread over age
buckets and a Total, "Total <contact>" subtotals and a grand "Total". It is a snapshot of
what is open: ``amount`` and ``open_amount`` are both the outstanding Total (the report does
not show the original document amount), ``snapshot_date`` is the "As at" date, and a
negative Total is a credit note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...schema import KIND_CREDIT, KIND_INVOICE
from ...schema import Transactions as T
from ..parsing import parse_dates
from ._base import (RULE_CUSTOMER, RULE_DRAFT, RULE_FOOTER, RULE_SUBTOTAL, RULE_TOTAL, RULE_VOIDED, Layout,
                    ReadResult, _obj, _per_distinct, base_rules, cell_values, column_array, finish, kinds_of_column,
                    nonblank_count, squash_spaces)
from .detect import XERO, XERO_AGED, missing_required
from .tabular import constant_kind, headers_of, total_rows

XERO_TYPES = {"accrec": KIND_INVOICE, "accreccredit": KIND_CREDIT}
_VOIDED = ["VOIDED", "DELETED"]
_DRAFT = ["DRAFT", "SUBMITTED"]


def read_xero(grid, cells, header_idx: int, settings, notes: list[str]) -> ReadResult:
    """Read a Xero invoices export (see the module notes); ``cells``: the cells frame or
    their Arrow form (:class:`~arinsights.ingest.readers._base.ArrowCells`)."""
    file = str(grid.file)
    headers = headers_of(cells, header_idx)
    fields = XERO.assign(headers)
    missing_required(XERO, fields, headers, file)
    fields[T.line_of] = fields[T.document_id]
    rules = total_rows(cells, base_rules(cells, header_idx), [fields[T.document_id], fields[T.customer_name]])
    status = None
    if "status" in fields:
        # stripped and upper-cased once per distinct status (a few), not per row
        (status,) = _per_distinct(column_array(cells, fields["status"]),
                                  lambda u: (_obj(u).str.strip().str.upper().to_numpy(dtype=object),))
        open_ = rules.isna().to_numpy()
        rules[open_ & np.isin(status, _VOIDED)] = RULE_VOIDED
        rules[open_ & np.isin(status, _DRAFT)] = RULE_DRAFT

    kind = kinds_of_column(cells, fields["type"], XERO_TYPES)
    tname = headers[fields["type"]]

    def reason(idx: np.ndarray) -> np.ndarray:
        values = cell_values(cells, idx, fields["type"])
        payable = pd.Series(values, dtype=object).str.upper().str.startswith("ACCPAY").to_numpy(dtype=bool)
        return np.where(payable, "type '" + values + "' is a supplier bill (accounts payable), not a receivable",
                        "unknown Xero type '" + values + f"' in '{tname}': only ACCREC (invoices) and "
                        "ACCRECCREDIT (credit notes) are read")

    layout = Layout("xero_invoices", header_idx, fields, rules, kind, reason, date_order=settings.date_order)
    result = finish(grid, cells, layout, settings, notes)

    tx = result.transactions
    if status is not None and len(tx):
        pos = pd.Index(np.asarray(grid.rows)).get_indexer(tx[T.row].to_numpy())
        paid = status[pos] == "PAID"
        no_date = tx[T.settled_date].isna().to_numpy()
        docs = tx.loc[paid & no_date, T.document_id].nunique()
        if docs:
            result.notes.append(
                f"{docs} document(s) are paid in full (status PAID, amount due 0) but the export has no "
                "payment date: their settled date is left unknown; add a payments export to date them")
    multi = tx[T.line_of].duplicated(keep=False).sum() if len(tx) else 0
    if multi:
        result.notes.append(f"{int(multi)} rows are lines of multi-line documents (line_of = invoice number; "
                            "cleaning folds them into one document)")
    return result


def read_xero_aged(grid, cells: pd.DataFrame, header_idx: int, settings, notes: list[str]) -> ReadResult:
    """Read a Xero Aged Receivables Detail report (see the module notes)."""
    file = str(grid.file)
    headers = headers_of(cells, header_idx)
    fields = XERO_AGED.assign(headers)
    missing_required(XERO_AGED, fields, headers, file)
    n = len(cells)
    fields[T.open_amount] = fields[T.amount]
    rules = base_rules(cells, header_idx)
    r = rules.to_numpy(dtype=object, copy=True)
    first = cells[0].to_numpy(dtype=object)
    doc = cells[fields[T.document_id]].to_numpy(dtype=object)
    after = np.arange(n) > header_idx
    open_ = pd.isna(r) & after
    is_data = open_ & (doc != "")
    last_data = int(np.flatnonzero(is_data).max()) if is_data.any() else header_idx
    late = np.arange(n) > last_data
    low = pd.Series(first, dtype=object).str.casefold().to_numpy(dtype=object)
    grand = low == "total"
    sub = pd.Series(low, dtype=object).str.startswith("total ").to_numpy(dtype=bool)
    only_first = (nonblank_count(cells) == 1) & (first != "")
    rest = open_ & ~is_data
    r[rest & grand] = RULE_TOTAL
    r[rest & sub] = RULE_SUBTOTAL
    left = rest & pd.isna(r)
    r[left & late] = RULE_FOOTER
    r[left & ~late & only_first] = RULE_CUSTOMER
    r[left & ~late & ~only_first] = RULE_SUBTOTAL
    rules = pd.Series(r, index=cells.index, dtype=object)
    contact = pd.Series(np.where(r == RULE_CUSTOMER, squash_spaces(pd.Series(first, dtype=object)).to_numpy(
        dtype=object), None), index=cells.index, dtype=object).ffill()

    layout = Layout("xero_aged_receivables", header_idx, fields, rules, constant_kind(n, KIND_INVOICE),
                    credits_by_sign=True, fill={T.customer_name: contact}, date_order=settings.date_order)
    layout.notes.append("aged receivables snapshot: amount and open_amount are the outstanding totals "
                        "(the report does not show the original document amounts)")
    titles = pd.Series(cells[0].to_numpy(dtype=object)[:header_idx], dtype=object)
    as_at = titles.str.extract(r"(?i)\bas (?:at|of)\s+(.+)$", expand=False).dropna()
    if not as_at.empty:
        value = parse_dates(as_at.iloc[:1].reset_index(drop=True), column="report title", file=file).values.iloc[0]
        if not pd.isna(value):
            layout.constants[T.snapshot_date] = pd.Timestamp(value)
            layout.notes.append(f"snapshot of open items as at {pd.Timestamp(value):%Y-%m-%d} (from the report title)")
    return finish(grid, cells, layout, settings, notes)
