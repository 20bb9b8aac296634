"""SAP FBL5N customer line items (ALV list exported as text or XLSX), headers in EN/DE/FR/NL.

Shape: title lines, pipe-delimited rows with dashed ruler lines, subtotal rows without a
document number (often marked ``*``), one total row per currency (``**``) after the last
line item, DD.MM.YYYY dates and amounts like ``1.234,56-``.

Document types RV/DR are invoices, DZ payments, DG credit memos; other types are rejected
with a reason. An item's clearing date is its ``settled_date``: cleared invoices are settled
on that date. Payments are linked to the invoices they cleared through the clearing date on
the invoices, not through the clearing document, so ``applied_to`` stays empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ...schema import KIND_CREDIT, KIND_INVOICE, KIND_PAYMENT
from ...schema import Transactions as T
from ._base import (RULE_FOOTER, RULE_HEADER, RULE_RULER, RULE_SUBTOTAL, RULE_TOTAL, Layout, ReadResult, base_rules,
                    blank_mask, cell_reasons, column_array, finish, kinds_of_column, rows_frame)
from .detect import SAP, missing_required
from .tabular import headers_of

SAP_TYPES = {"rv": KIND_INVOICE, "dr": KIND_INVOICE, "dz": KIND_PAYMENT, "dg": KIND_CREDIT}


def read_sap(grid, cells, header_idx: int, settings, notes: list[str]) -> ReadResult:
    """Read an SAP FBL5N line-item export (see the module notes); ``cells``: the cells frame
    or their Arrow form (:class:`~arinsights.ingest.readers._base.ArrowCells`)."""
    file = str(grid.file)
    n = len(cells)
    headers = headers_of(cells, header_idx)
    fields = SAP.assign(headers)
    missing_required(SAP, fields, headers, file)
    if T.document_date not in fields:
        fields[T.document_date] = fields.pop("posting_date")
        notes = notes + ["no document date column: the posting date is used as the document date"]

    rules = base_rules(cells, header_idx)
    r = rules.to_numpy(dtype=object, copy=True)
    no_doc = blank_mask(cells, [fields[T.document_id]])
    # rulers, subtotals and totals have no document number: only those rows are examined
    cand = np.flatnonzero(no_doc)
    sub = rows_frame(cells, cand).to_numpy(dtype=object)
    filled = sub != ""
    ruler_cell = pc.match_substring_regex(pa.array(sub.ravel(), type=pa.string()), r"^[-=_+|]{3,}$") \
        .to_numpy(zero_copy_only=False).reshape(sub.shape)
    ruler = filled.any(axis=1) & (ruler_cell | ~filled).all(axis=1)
    at = cand[ruler]
    r[at[r[at] != RULE_HEADER]] = RULE_RULER

    after = np.arange(n) > header_idx
    open_ = pd.isna(r) & after
    is_data = open_ & ~no_doc
    last_data = int(np.flatnonzero(is_data).max()) if is_data.any() else header_idx
    late = np.arange(n) > last_data
    marker1 = np.zeros(n, dtype=bool)
    marker2 = np.zeros(n, dtype=bool)
    marker1[cand] = (sub == "*").any(axis=1)
    marker2[cand] = (sub == "**").any(axis=1)
    amount_filled = ~blank_mask(cells, [fields[T.amount]])
    structural = open_ & ~is_data
    # "*" marks a subtotal and "**" a total in ALV lists; unmarked rows without a document
    # number are subtotals among the items and totals (one per currency) after them
    r[structural & marker1] = RULE_SUBTOTAL
    r[structural & pd.isna(r) & (marker2 | (late & amount_filled))] = RULE_TOTAL
    r[structural & pd.isna(r) & ~late] = RULE_SUBTOTAL
    r[structural & pd.isna(r) & late] = RULE_FOOTER
    rules = pd.Series(r, index=rules.index, dtype=object)

    kind = kinds_of_column(cells, fields["type"], SAP_TYPES)
    tname = headers[fields["type"]]
    reason = cell_reasons(cells, fields["type"], "document type '{}' in '" + tname + "' is not read: only RV/DR "
                          "(invoices), DZ (payments) and DG (credit memos) are; to read it, write a mapping file with "
                          f"layout = \"transactions\", type_column = \"{tname}\" and list it under invoice, "
                          "payment or credit (see docs/mapping.md)")

    date_order = settings.date_order
    extra = []
    if date_order is None:
        dates = pc.unique(column_array(cells, fields[T.document_date]).filter(pa.array(is_data)))
        date_cells = pd.Series(dates.to_numpy(zero_copy_only=False), dtype=object)
        date_cells = date_cells[date_cells != ""].reset_index(drop=True)
        # DD.MM.YYYY (SAP's usual format) is read day-first; with a two-digit year the
        # parser decides from the data, as two-digit years may also be written first
        # (YY.MM.DD), which it detects rather than reading them day-first
        if len(date_cells) and date_cells.str.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}").all():
            date_order = "dayfirst"
            extra.append("SAP dotted dates (DD.MM.YYYY) read day-first")
    layout = Layout("sap_fbl5n", header_idx, fields, rules, kind, reason, date_order=date_order, notes=extra)
    result = finish(grid, cells, layout, settings, notes)
    tx = result.transactions
    if len(tx):
        cleared = tx[T.settled_date].notna()
        inv = (tx[T.kind] == KIND_INVOICE)
        result.notes.append(
            f"{int((cleared & inv).sum())} of {int(inv.sum())} invoices are cleared (clearing date = settled date); "
            f"{int((cleared & ~inv).sum())} payments/credits carry a clearing date: they are linked to invoices "
            "through the invoices' clearing dates, not through the clearing document")
    return result
