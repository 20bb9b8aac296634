"""Layout readers: recognise an AR export and read it into typed transactions.

:func:`read_export` reads one file (CSV/text, XLSX, Parquet) of any supported layout:

========================  ===================================================================
layout                    recognised by
========================  ===================================================================
``generic``               customerID, invoiceNumber, InvoiceDate, ..., SettledDate
``transactions``          Type, Date, Number, Customer, Amount (+ Due Date, Applied To, ...)
``invoices``              Invoice Number, Customer, Invoice Date, Amount (+ Due Date / Terms)
``payments``              Payment ID / Reference, Customer, Payment Date, Amount
``quickbooks_aging``      QuickBooks A/R Aging Detail / Open Invoices / Invoices and Received
                          Payments (title lines, bucket and customer header rows, totals)
``xero_invoices``         ContactName, InvoiceNumber, Total, InvoiceAmountDue, Type, Status
``xero_aged_receivables`` Xero Aged Receivables Detail (contact header rows, age buckets, Total)
``sap_fbl5n``             Document Number, Document Type, Amount in local currency (EN/DE/FR/NL)
``mapping``               any other layout, described by a mapping file (docs/mapping.md)
========================  ===================================================================

Every physical row of the file ends up in exactly one of ``transactions``, ``skipped`` (by a
named rule) or ``rejects`` (with a reason in plain words).
"""

from __future__ import annotations

from pathlib import Path

from ...settings import IngestSettings
from ..mapping import Mapping, load_mapping
from ..textio import read_grid
import numpy as np

from ...errors import InputError
from ._base import ReadResult, arrow_cells, grid_cells, norm_header
from .detect import HEADER_SCAN_ROWS, detect_layout, unknown_layout_error
from .quickbooks import read_quickbooks
from .sap import read_sap
from .tabular import read_generic, read_invoices, read_mapped, read_payments, read_transactions
from .xero import read_xero, read_xero_aged

__all__ = ["ReadResult", "read_export", "detect_layout", "read_grid_result", "LAYOUTS", "norm_header",
           "unknown_layout_error"]

_READERS = {
    "generic": read_generic,
    "transactions": read_transactions,
    "invoices": read_invoices,
    "payments": read_payments,
    "quickbooks_aging": read_quickbooks,
    "xero_invoices": read_xero,
    "xero_aged_receivables": read_xero_aged,
    "sap_fbl5n": read_sap,
}
#: layouts whose readers also take the cells as Arrow arrays (regular text files)
_ARROW_READY = ("generic", "transactions", "invoices", "payments", "sap_fbl5n", "xero_invoices")
#: every layout name a ReadResult may carry
LAYOUTS = tuple(_READERS) + ("mapping",)


def read_export(path, *, mapping: Mapping | str | Path | None = None, settings: IngestSettings | None = None,
                sheet: str | None = None) -> ReadResult:
    """Read one AR export file, recognising its layout.

    Parameters
    ----------
    path : str or Path
        CSV/TXT (any of , ; tab | separators), XLSX or Parquet file.
    mapping : Mapping or path, optional
        A mapping file for a layout arinsights does not know (see docs/mapping.md). When
        given, the file is read as the mapping says and not recognised.
    settings : IngestSettings, optional
        Date order and default currency (defaults: ``IngestSettings()``).
    sheet : str, optional
        Excel sheet to read (default: the mapping's sheet, else the only non-empty sheet).

    Returns
    -------
    ReadResult
        ``transactions`` (schema.Transactions), ``skipped`` (schema.Skipped: file, row, rule,
        amount), ``rejects`` (schema.Rejects: source, file, row, reason, raw, amount),
        ``rows_read`` and ``notes``.

    Raises
    ------
    InputError
        Empty or unreadable file; unknown layout (the message carries a ready-to-edit mapping
        file); a recognised layout missing a required column; ambiguous dates or decimal
        separators; a mapping that names columns the file does not have.
    """
    settings = settings or IngestSettings()
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    sheet = sheet or (mapping.sheet if mapping is not None else None)
    grid = read_grid(path, sheet=sheet)
    # the grid is this call's own: the reader may drop its cells once parsed (peak memory)
    return _read_grid(grid, mapping=mapping, settings=settings, owned=True)


def read_grid_result(grid, *, mapping: Mapping | None = None, settings: IngestSettings | None = None) -> ReadResult:
    """:func:`read_export` on a grid already read (see there)."""
    return _read_grid(grid, mapping=mapping, settings=settings, owned=False)


def _read_grid(grid, *, mapping: Mapping | None, settings: IngestSettings | None, owned: bool) -> ReadResult:
    """:func:`read_grid_result`; ``owned``: the grid is used by this read alone, so the
    Arrow lane may drop its cells once they are parsed (the grid is of no use afterwards)."""
    settings = settings or IngestSettings()
    notes = []
    if getattr(grid, "encoding", None) not in (None, "utf-8"):
        notes.append(f"encoding {grid.encoding}")
    if getattr(grid, "delimiter", None) not in (None, ","):
        notes.append(f"separator {grid.delimiter!r}")
    fast = arrow_cells(grid)
    if fast is not None:
        fast.owned = owned
        # a regular text file: plain tables are read from the Arrow columns (no Python
        # string per cell); the layout is recognised on the first rows, exactly as on the
        # whole grid (it only looks there). Anything else takes the general path below.
        if mapping is not None:
            return read_mapped(grid, fast, mapping, settings, notes)
        try:
            name, header_idx = detect_layout(grid, cells=fast.frame(np.arange(min(len(fast), HEADER_SCAN_ROWS * 4))))
        except InputError:
            name = None  # the general path raises the same error, from the whole grid
        if name in _ARROW_READY:
            return _READERS[name](grid, fast, header_idx, settings, notes)
    cells = grid_cells(grid)
    if mapping is not None:
        return read_mapped(grid, cells, mapping, settings, notes)
    name, header_idx = detect_layout(grid, cells=cells)
    return _READERS[name](grid, cells, header_idx, settings, notes)
