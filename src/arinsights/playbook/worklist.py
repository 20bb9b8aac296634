"""The collector's worklist: every recommended action, most money at risk first.

:func:`build_worklist` joins the playbook's actions (:class:`arinsights.schema.Actions`)
with the per-invoice payment outlook (:class:`arinsights.schema.OpenInvoiceOutlook`) and
orders the rows by expected value at risk; :func:`write_worklist` saves it as CSV and as a
formatted Excel sheet a credit controller can filter and sort.

Conventions (also in :data:`WORKLIST_CONVENTIONS`)
    * ``p_not_paid_30`` of a customer = open-amount-weighted mean of (1 - P(paid within the
      horizon)) over the customer's open invoices in the outlook. Without an ``open_amount``
      column in the outlook, every open invoice weighs the same. A customer with no open
      invoice in the outlook gets 1.0 (we know nothing, so we assume the money is at risk
      rather than hide it at the bottom).
    * ``value_at_risk`` = the action row's open amount x ``p_not_paid_30``.
    * Rows are ordered by value at risk (largest first), then next action date (earliest
      first, no date last), then customer id, then the playbook's action priority
      (:data:`arinsights.playbook.actions.ACTION_PRIORITY`, so a customer's primary action
      comes first), then action name: the same input always gives the same order. Rows whose action needs no work ("wait", "none") come last whatever their
      value; they are kept so the list accounts for every customer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import Actions, OpenInvoiceOutlook, Worklist
from .actions import ACTION_PRIORITY

__all__ = ["NO_WORK_ACTIONS", "WORKLIST_CONVENTIONS", "build_worklist", "write_worklist"]

#: Actions that need no work from a collector; these rows go to the bottom of the list.
NO_WORK_ACTIONS: tuple[str, ...] = ("wait", "none")

#: Plain-language statement of how the worklist is built (printed by the report).
WORKLIST_CONVENTIONS: dict[str, str] = {
    "p_not_paid": (
        "The chance a customer does not pay within the horizon is the open-amount-weighted average, "
        "over their open invoices, of the model's chance that each invoice stays unpaid; a customer "
        "with no forecast is treated as fully at risk (1.0)."
    ),
    "value_at_risk": "Value at risk = open amount x the chance it is not paid within the horizon.",
    "order": (
        "The list is ordered by value at risk (largest first), then by next action date, customer id "
        "and the most urgent action first, so it is the same every time; actions that need no work "
        "('wait', 'none') come last."
    ),
}

_OPEN = "open_amount"  # optional column of the outlook: open balance of each open invoice

_COLUMNS = [Worklist.customer_id, Worklist.customer_name, Worklist.segment, Worklist.action,
            Worklist.next_action_date, Worklist.open_amount, Worklist.p_not_paid_30,
            Worklist.value_at_risk, Worklist.reasons]


def _require(df: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"the {table} table has no column(s) {missing}; it needs {list(columns)}")


def _p_not_paid(outlook: pd.DataFrame, horizon_days: int) -> pd.Series:
    """Per customer: open-amount-weighted mean of 1 - p_pay_<horizon> over open invoices."""
    col = f"p_pay_{int(horizon_days)}"
    if col not in outlook.columns:
        have = sorted(c for c in outlook.columns if str(c).startswith("p_pay_"))
        raise InputError(
            f"the outlook has no {col!r} column for a {horizon_days}-day horizon",
            hint=f"use one of the horizons the outlook provides: {have}",
        )
    _require(outlook, [OpenInvoiceOutlook.customer_id, col], "outlook")
    p = outlook[col].to_numpy(dtype=float)
    if _OPEN in outlook.columns:
        w = outlook[_OPEN].to_numpy(dtype=float)
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    else:
        w = np.ones(len(outlook))
    known = np.isfinite(p)
    cust = outlook[OpenInvoiceOutlook.customer_id].astype(str).to_numpy(dtype=object)
    f = pd.DataFrame({"c": cust[known], "w": w[known], "wq": (w * (1.0 - p))[known], "q": 1.0 - p[known]})
    g = f.groupby("c", sort=False).agg(w=("w", "sum"), wq=("wq", "sum"), q=("q", "mean"))
    # weighted mean; when all of a customer's open amounts are zero/missing, the plain mean
    out = pd.Series(np.where(g["w"] > 0, g["wq"] / g["w"].where(g["w"] > 0, 1.0), g["q"]), index=g.index)
    return out.clip(0.0, 1.0)


def build_worklist(actions: pd.DataFrame, outlook: pd.DataFrame, *, horizon_days: int = 30,
                   no_work_actions: Sequence[str] = NO_WORK_ACTIONS) -> pd.DataFrame:
    """Order the playbook's actions by expected value at risk.

    Parameters
    ----------
    actions : pandas.DataFrame
        :class:`~arinsights.schema.Actions`: customer_id, customer_name, segment, action,
        next_action_date, open_amount, reasons. One row per action; all rows are kept.
    outlook : pandas.DataFrame
        :class:`~arinsights.schema.OpenInvoiceOutlook` (customer_id, p_pay_7/30/60, ...),
        one row per open invoice, optionally with an ``open_amount`` column (the invoice's
        open balance) used as the weight.
    horizon_days : int, default 30
        Horizon of the risk: the outlook must have a ``p_pay_<horizon_days>`` column
        (7, 30 or 60 for the standard outlook). The output column keeps the schema name
        ``p_not_paid_30`` whatever the horizon.
    no_work_actions : sequence of str, default ("wait", "none")
        Actions that need no work; matched case-insensitively, their rows go last.

    Returns
    -------
    pandas.DataFrame
        :class:`~arinsights.schema.Worklist`, one row per action, in worklist order, with a
        fresh 0..n-1 index:

        - ``customer_id``, ``customer_name``, ``segment``, ``action``, ``next_action_date``,
          ``open_amount``, ``reasons`` : as in ``actions``.
        - ``p_not_paid_30`` : float in [0, 1], the customer's chance of not paying within the
          horizon (1.0 when the outlook has none of their invoices).
        - ``value_at_risk`` : float, open_amount x p_not_paid_30.

    Notes
    -----
    Order: rows needing work first, then no-work rows; within each, value_at_risk
    descending, next_action_date ascending (missing last), customer_id, the playbook's
    action priority, action. See
    :data:`WORKLIST_CONVENTIONS`.
    """
    _require(actions, [Actions.customer_id, Actions.segment, Actions.action, Actions.next_action_date,
                       Actions.open_amount, Actions.reasons], "actions")
    p = _p_not_paid(outlook, horizon_days)
    out = pd.DataFrame({
        Worklist.customer_id: actions[Actions.customer_id].astype(str).to_numpy(dtype=object),
        Worklist.customer_name: (actions[Actions.customer_name].to_numpy(dtype=object)
                                 if Actions.customer_name in actions.columns else None),
        Worklist.segment: actions[Actions.segment].to_numpy(dtype=object),
        Worklist.action: actions[Actions.action].to_numpy(dtype=object),
        Worklist.next_action_date: pd.to_datetime(actions[Actions.next_action_date]).to_numpy(),
        Worklist.open_amount: actions[Actions.open_amount].to_numpy(dtype=float),
        Worklist.reasons: actions[Actions.reasons].to_numpy(dtype=object),
    })
    pn = p.reindex(pd.Index(out[Worklist.customer_id], dtype=object)).to_numpy(dtype=float)
    out[Worklist.p_not_paid_30] = np.where(np.isfinite(pn), pn, 1.0)
    out[Worklist.value_at_risk] = out[Worklist.open_amount] * out[Worklist.p_not_paid_30]
    no_work = {str(a).strip().lower() for a in no_work_actions}
    out["_rest"] = out[Worklist.action].astype(str).str.strip().str.lower().isin(no_work)
    out["_neg_var"] = -out[Worklist.value_at_risk].fillna(0.0)
    prio = {a: i for i, a in enumerate(ACTION_PRIORITY)}
    out["_prio"] = out[Worklist.action].astype(str).str.strip().str.lower().map(prio).fillna(len(prio))
    out = out.sort_values(["_rest", "_neg_var", Worklist.next_action_date, Worklist.customer_id, "_prio",
                           Worklist.action], kind="mergesort", na_position="last")
    return out[_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- writing
#: Column headings in the Excel file (the CSV keeps the schema names for machines).
HEADINGS: dict[str, str] = {
    Worklist.customer_id: "Customer ID",
    Worklist.customer_name: "Customer",
    Worklist.segment: "Segment",
    Worklist.action: "Action",
    Worklist.next_action_date: "Next action date",
    Worklist.open_amount: "Open amount",
    Worklist.p_not_paid_30: "Chance not paid in 30 days",
    Worklist.value_at_risk: "Value at risk",
    Worklist.reasons: "Reasons",
    "currency": "Currency",
}
_WIDTHS = {Worklist.customer_id: 14, Worklist.customer_name: 28, Worklist.segment: 11, Worklist.action: 18,
           Worklist.next_action_date: 16, Worklist.open_amount: 16, Worklist.p_not_paid_30: 14,
           Worklist.value_at_risk: 16, Worklist.reasons: 80, "currency": 10}
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0%"


def _money_format(currency: str | None) -> str:
    """Excel number format for an amount, with the ISO code when known: ``#,##0.00 "EUR"``."""
    if currency is None or (isinstance(currency, float) and np.isnan(currency)) or str(currency) == "":
        return "#,##0.00"
    code = str(currency).replace('"', "")
    return f'#,##0.00 "{code}"'


def write_worklist(worklist: pd.DataFrame, out_dir: str | Path, *,
                   currency_by_customer: Mapping[str, str] | pd.Series | None = None) -> dict[str, Path]:
    """Save the worklist as ``worklist.csv`` and a formatted ``worklist.xlsx``.

    Parameters
    ----------
    worklist : pandas.DataFrame
        The output of :func:`build_worklist` (:class:`~arinsights.schema.Worklist`).
    out_dir : str or Path
        Folder to write to (created when missing). Existing files are overwritten.
    currency_by_customer : mapping or Series, optional
        customer_id -> ISO currency code. When given, a ``currency`` column is added after
        ``customer_name`` and amounts in the Excel file show the code (``#,##0.00 "EUR"``).

    Returns
    -------
    dict of str to Path
        ``{"csv": path, "xlsx": path}``.

    Notes
    -----
    The CSV keeps the schema column names and writes dates as yyyy-mm-dd. The Excel sheet
    "Worklist" has plain headings in row 1 (no title above it, so filters work), the header
    frozen, an autofilter over the whole table, real date cells formatted yyyy-mm-dd,
    amounts with thousands separators (and the currency code), the chance as a percent,
    fixed column widths and wrapped reasons.
    """
    _require(worklist, _COLUMNS, "worklist")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = worklist[_COLUMNS].copy()
    if currency_by_customer is not None:
        cmap = pd.Series(currency_by_customer, dtype=object)
        cmap.index = cmap.index.astype(str)
        cur = df[Worklist.customer_id].astype(str).map(cmap)
        df.insert(df.columns.get_loc(Worklist.customer_name) + 1, "currency", cur.to_numpy(dtype=object))
    dates = pd.to_datetime(df[Worklist.next_action_date])

    csv_path = out_dir / "worklist.csv"
    csv_df = df.copy()
    csv_df[Worklist.next_action_date] = dates.dt.strftime("%Y-%m-%d")
    # money to the cent, probabilities to four places: what a spreadsheet user expects
    csv_df = csv_df.round({Worklist.open_amount: 2, Worklist.value_at_risk: 2, Worklist.p_not_paid_30: 4})
    csv_df.to_csv(csv_path, index=False)

    xlsx_path = out_dir / "worklist.xlsx"
    if not _write_xlsx_fast(df, dates, xlsx_path):
        _write_xlsx_cells(df, dates, xlsx_path)
    return {"csv": csv_path, "xlsx": xlsx_path}


def _styled_header(ws, cols) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    ws.append([HEADINGS.get(c, c) for c in cols])
    bold = Font(bold=True)
    fill = PatternFill("solid", start_color="DDE4EE")
    for cell in ws[1]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(vertical="top", wrap_text=True)


def _finish_sheet(ws, cols, n_rows: int) -> None:
    from openpyxl.utils import get_column_letter

    for j, c in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(j)].width = _WIDTHS.get(c, 14)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{n_rows + 1}"


def _write_xlsx_cells(df: pd.DataFrame, dates: pd.Series, xlsx_path: Path) -> None:
    """The general writer: every cell through openpyxl (slow: about 1 ms per row)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    ws = wb.active
    ws.title = "Worklist"
    cols = list(df.columns)
    _styled_header(ws, cols)
    # plain Python values per cell (openpyxl writes cell by cell: about 10 s per 50k rows)
    py_dates = [None if pd.isna(d) else d.to_pydatetime() for d in dates]
    values = {c: df[c].astype(object).where(df[c].notna(), None).tolist() for c in cols}
    values[Worklist.next_action_date] = py_dates
    for i in range(len(df)):  # writing rows is inherently per row in openpyxl
        ws.append([values[c][i] for c in cols])
    money_cols = {cols.index(c) + 1 for c in (Worklist.open_amount, Worklist.value_at_risk)}
    date_col = cols.index(Worklist.next_action_date) + 1
    pct_col = cols.index(Worklist.p_not_paid_30) + 1
    reasons_col = cols.index(Worklist.reasons) + 1
    currencies = (df["currency"].tolist() if "currency" in df.columns else [None] * len(df))
    wrap = Alignment(wrap_text=True, vertical="top")
    money_idx = sorted(c - 1 for c in money_cols)
    # style only the cells that need it (openpyxl styling costs per cell)
    for r, row in enumerate(ws.iter_rows(min_row=2, max_row=len(df) + 1)):
        fmt = _money_format(currencies[r])
        for k in money_idx:
            row[k].number_format = fmt
        row[date_col - 1].number_format = DATE_FORMAT
        row[pct_col - 1].number_format = PERCENT_FORMAT
        row[reasons_col - 1].alignment = wrap
    _finish_sheet(ws, cols, len(df))
    wb.save(xlsx_path)


_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _write_xlsx_fast(df: pd.DataFrame, dates: pd.Series, xlsx_path: Path) -> bool:
    """Write the same workbook as :func:`_write_xlsx_cells`, with the rows' XML built here.

    openpyxl writes the header, the styles, widths, panes and filter (a workbook with the
    header row only); the data rows are then put into its sheet as the same XML openpyxl
    would write for them (inline strings, numbers as ``%.16g``, dates as Excel serial
    numbers, no element for an empty unstyled cell). Returns False, writing nothing, when a
    value is anything openpyxl would treat specially (text that is a formula, an error code
    or has characters Excel forbids; a number that is not finite; another type): the caller
    then uses the general writer.
    """
    import io
    import zipfile

    from openpyxl import Workbook
    from openpyxl.cell import Cell
    from openpyxl.cell.cell import ERROR_CODES
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.datetime import to_excel

    cols = list(df.columns)
    n = len(df)
    wb = Workbook()
    ws = wb.active
    ws.title = "Worklist"
    _styled_header(ws, cols)
    _finish_sheet(ws, cols, n)

    def style_id(**style) -> str:
        cell = Cell(ws, row=1, column=1)
        for key, val in style.items():
            setattr(cell, key, val)
        return str(cell.style_id)  # registers the style with the workbook

    rownum = np.arange(2, n + 2).astype(str).astype(object)
    currencies = df["currency"].tolist() if "currency" in df.columns else [None] * n
    money_ids = {}
    money_style = np.empty(n, dtype=object)
    for i, cur in enumerate(currencies):  # a dict look-up per row; few distinct formats
        fmt = _money_format(cur)
        sid = money_ids.get(fmt)
        if sid is None:
            sid = money_ids[fmt] = style_id(number_format=fmt)
        money_style[i] = sid
    fixed = {Worklist.next_action_date: style_id(number_format=DATE_FORMAT),
             Worklist.p_not_paid_30: style_id(number_format=PERCENT_FORMAT),
             Worklist.reasons: style_id(alignment=Alignment(wrap_text=True, vertical="top"))}
    money = (Worklist.open_amount, Worklist.value_at_risk)

    serial: dict = {}
    rows = np.full(n, "", dtype=object)
    for j, c in enumerate(cols, start=1):
        if c == Worklist.next_action_date:
            values = []
            for d in dates:
                if pd.isna(d):
                    values.append(None)
                    continue
                if d.tzinfo is not None:
                    return False
                v = serial.get(d)
                if v is None:
                    v = serial[d] = to_excel(d.to_pydatetime(), wb.epoch)
                values.append(v)
        else:
            values = df[c].astype(object).where(df[c].notna(), None).tolist()
        sid = money_style if c in money else fixed.get(c)
        text = np.empty(n, dtype=object)
        kind = np.empty(n, dtype=object)
        for i, v in enumerate(values):  # one value at a time, as openpyxl does
            if v is None:
                kind[i], text[i] = "none", ""
            elif isinstance(v, str) and v == "":  # openpyxl: an empty element, still a text cell
                kind[i], text[i] = "empty", ""
            elif isinstance(v, str):
                if (len(v) > 1 and v.startswith("=")) or v in ERROR_CODES or len(v) > 32767 \
                        or ILLEGAL_CHARACTERS_RE.search(v):
                    return False
                esc = v.translate(_XML_ESCAPES)
                stripped = v.strip()
                kind[i] = "s"
                text[i] = ('<is><t xml:space="preserve">' if stripped and stripped != v else "<is><t>") + esc + "</t></is>"
            elif isinstance(v, (float, int)) and not isinstance(v, bool):
                if not np.isfinite(v):
                    return False
                kind[i], text[i] = "n", "<v>" + ("%.16g" % v) + "</v>"
            else:
                return False
        letter = get_column_letter(j)
        s_attr = "" if sid is None else ' s="' + sid + '"'  # sid: text, or text per row
        head = '<c r="' + letter + rownum + '"' + s_attr
        cell = np.select([kind == "s", kind == "n", kind == "empty"],
                         [head + ' t="inlineStr">' + text + "</c>", head + ' t="n">' + text + "</c>",
                          head + ' t="inlineStr" />'],
                         head + ' t="n" />' if sid is not None else "")  # missing: only a styled cell
        rows = rows + cell
    sheet_rows = "".join(('<row r="' + rownum + '">' + rows + "</row>").tolist()) if n else ""

    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(buf) as zin:
        names = zin.namelist()
        if sheet not in names:
            return False
        xml = zin.read(sheet).decode("utf-8")
        dim_old = f'<dimension ref="A1:{get_column_letter(len(cols))}1" />'
        if n and dim_old not in xml or xml.count("</sheetData>") != 1:
            return False
        if n:
            xml = xml.replace(dim_old, f'<dimension ref="A1:{get_column_letter(len(cols))}{n + 1}" />')
        xml = xml.replace("</sheetData>", sheet_rows + "</sheetData>")
        with zipfile.ZipFile(xlsx_path, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                zout.writestr(info, xml.encode("utf-8") if info.filename == sheet else zin.read(info.filename))
    return True
