"""QuickBooks reports: "A/R Aging Detail", "Open Invoices" and "Invoices and Received Payments".

Shape: title lines (company, report name, "As of Jul 25, 2026"), a header whose first cell
is blank, bucket header rows ("91 or more days past due", "Current"), customer header rows
(a name alone in the first column) in grouped reports, "Total for ..." rows, a "TOTAL" row and
a footer time stamp. The "As of" date of an aging report becomes ``snapshot_date``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ...schema import KIND_CREDIT, KIND_INVOICE, KIND_PAYMENT
from ...schema import Transactions as T
from ..parsing import parse_dates
from ._base import (RULE_BUCKET, RULE_CUSTOMER, RULE_FOOTER, RULE_SUBTOTAL, RULE_TOTAL, Layout, ReadResult,
                    base_rules, finish, kinds_from_values, nonblank_count, squash_spaces)
from .detect import QUICKBOOKS, missing_required
from .tabular import headers_of, unknown_type_reasons

QUICKBOOKS_TYPES = {
    "invoice": KIND_INVOICE,
    "payment": KIND_PAYMENT, "receivepayment": KIND_PAYMENT,
    "creditmemo": KIND_CREDIT, "creditnote": KIND_CREDIT,
}
_BUCKET = re.compile(r"^(current|not due( yet)?|\d+\s*(-|–|to)\s*\d+\s+days?( past due)?|(over|more than)?\s*\d+"
                     r"( or more)?\s+days?( past due)?|older|past due)$", re.IGNORECASE)
_AS_OF = re.compile(r"\bas of\s+(.+)$", re.IGNORECASE)


def read_quickbooks(grid, cells: pd.DataFrame, header_idx: int, settings, notes: list[str]) -> ReadResult:
    """Read a QuickBooks A/R report (see the module notes)."""
    file = str(grid.file)
    headers = headers_of(cells, header_idx)
    fields = QUICKBOOKS.assign(headers)
    missing_required(QUICKBOOKS, fields, headers, file)
    n = len(cells)
    rules = base_rules(cells, header_idx)
    first = cells.iloc[:, 0].str.strip()
    first_low = first.str.casefold()
    types = cells.iloc[:, fields["type"]].str.strip()
    after = np.arange(n) > header_idx
    open_ = rules.isna().to_numpy() & after

    is_data = open_ & (types != "").to_numpy()
    last_data = int(np.flatnonzero(is_data).max()) if is_data.any() else header_idx
    only_first = (nonblank_count(cells) == 1) & (first != "").to_numpy()

    r = rules.to_numpy(dtype=object, copy=True)
    total_for = first_low.str.startswith("total for").to_numpy()
    grand = first_low.isin(["total", "grand total"]).to_numpy()
    bucket = first.str.fullmatch(_BUCKET).fillna(False).to_numpy(dtype=bool)
    nondata = open_ & ~is_data
    r[nondata & total_for] = RULE_SUBTOTAL
    r[nondata & grand] = RULE_TOTAL
    r[nondata & ~total_for & ~grand & bucket & only_first] = RULE_BUCKET
    rest = nondata & pd.isna(r)
    late = np.arange(n) > last_data
    r[rest & late] = RULE_FOOTER
    r[rest & ~late & only_first] = RULE_CUSTOMER
    # anything else without a type before the last data row: an unlabelled subtotal line
    r[rest & ~late & ~only_first] = RULE_SUBTOTAL
    rules = pd.Series(r, index=cells.index, dtype=object)

    # customer header rows group the rows below them (forward fill until the next header)
    cust_header = pd.Series(np.where(r == RULE_CUSTOMER, squash_spaces(first).to_numpy(dtype=object), None),
                            index=cells.index, dtype=object)
    fill = {T.customer_name: cust_header.ffill()}

    kind = kinds_from_values(cells.iloc[:, fields["type"]], QUICKBOOKS_TYPES)
    reason = unknown_type_reasons(cells, fields["type"], headers[fields["type"]], "Invoice, Payment and Credit Memo")

    layout = Layout("quickbooks_aging", header_idx, fields, rules, kind, reason, fill=fill,
                    date_order=settings.date_order)
    snapshot = _snapshot_date(cells, header_idx, file)
    if snapshot is not None:
        layout.constants[T.snapshot_date] = snapshot
        layout.notes.append(f"snapshot of open items as of {snapshot:%Y-%m-%d} (from the report title)")
    if T.customer_id not in fields and T.customer_name not in fields:
        layout.notes.append("customers taken from the customer header rows")
    return finish(grid, cells, layout, settings, notes)


def _snapshot_date(cells: pd.DataFrame, header_idx: int, file: str) -> pd.Timestamp | None:
    """The "As of <date>" in the title lines, if any."""
    titles = cells.iloc[:header_idx, 0].str.strip()
    hits = titles.str.extract(_AS_OF, expand=False).dropna()
    if hits.empty:
        return None
    parsed = parse_dates(hits.iloc[:1].reset_index(drop=True), column="report title", file=file)
    value = parsed.values.iloc[0]
    return None if pd.isna(value) else pd.Timestamp(value)
