"""Write a :class:`SampleLedger` as the (messy) export files real users hand over.

Each layout builder returns :class:`_Doc` objects: the file's lines with a *kind* per line
(``title``, ``header``, ``data``, ``bucket``, ``subtotal``, ``total``, ``footer``,
``ruler``, ``blank``) and, for the data lines, their cells so that a corrupted copy can be
formatted exactly like the genuine rows. ``messy=True`` then injects, deterministically
from ``seed``:

* 3 exact duplicate data rows (``duplicate``), each a copy of a genuine row placed right
  after a random data row;
* 2 or 3 copies of genuine rows with an unparseable date (30 February in the layout's date
  style) or amount (``#VALUE!``) (``bad``), which a correct reader must reject;
* one blank line among the data (``blank``), and for "transactions" a title line
  (``title``) above the header.

The injected rows are *extra* rows: every genuine row is still present once, so a reader
that rejects the bad rows and merges the duplicates recovers the truth. ``manifest.json``
lists, per file, every line's kind by number (1-based physical lines) and what was
injected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema as S
from ..errors import InputError
from ._generate import SampleLedger

LAYOUTS = ("generic", "transactions", "two_files", "quickbooks_aging", "xero", "sap")

I, P = S.Invoices, S.Payments
_MON = np.array(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
_MONTH = np.array(["January", "February", "March", "April", "May", "June", "July", "August",
                   "September", "October", "November", "December"])
_WEEKDAY = np.array(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])
BAD_AMOUNT = "#VALUE!"
N_DUPLICATES = 3


# ----------------------------------------------------------------------------- formatting
def _str(values) -> pd.Series:
    return pd.Series(np.asarray(values)).astype(str).astype(object)


def fmt_date(values, style: str) -> pd.Series:
    """Format datetimes in one of the export date styles; missing dates give ``""``.

    Styles: ``mdy`` (1/2/2026), ``mm/dd/yyyy`` (01/02/2026), ``iso`` (2026-01-02),
    ``dd/mm/yyyy`` (02/01/2026), ``d mon yyyy`` (2 Jan 2026), ``dd.mm.yyyy`` (02.01.2026).
    Formatting runs in Arrow kernels (C locale), not a Python loop.

    >>> fmt_date(pd.to_datetime(["2026-01-02", None]), "mdy").tolist()
    ['1/2/2026', '']
    >>> fmt_date(pd.to_datetime(["2026-07-05"]), "d mon yyyy").tolist()
    ['5 Jul 2026']
    """
    ts = np.asarray(pd.to_datetime(pd.Series(values)).to_numpy(), dtype="datetime64[s]")
    arr = pa.array(ts, from_pandas=True)
    txt = lambda a: pc.cast(a, pa.string())  # noqa: E731
    if style == "mdy":
        out = pc.binary_join_element_wise(txt(pc.month(arr)), txt(pc.day(arr)), txt(pc.year(arr)), "/")
    elif style == "d mon yyyy":
        out = pc.binary_join_element_wise(txt(pc.day(arr)), pc.strftime(arr, format="%b %Y", locale="C"), " ")
    else:
        fmt = {"mm/dd/yyyy": "%m/%d/%Y", "iso": "%Y-%m-%d", "dd/mm/yyyy": "%d/%m/%Y", "dd.mm.yyyy": "%d.%m.%Y"}[style]
        out = pc.strftime(arr, format=fmt, locale="C")
    return pd.Series(pc.fill_null(out, "").to_pandas())


_BAD_DATE = {"mdy": "2/30/{y}", "mm/dd/yyyy": "02/30/{y}", "iso": "{y}-02-30", "dd/mm/yyyy": "30/02/{y}",
             "d mon yyyy": "30 Feb {y}", "dd.mm.yyyy": "30.02.{y}"}


def fmt_amount(values, style: str) -> pd.Series:
    """Format amounts: ``plain`` (-1250.00), ``us`` (1,250.00 / -1,250.00), ``dollar``
    ($1,250.00 / ($1,250.00)) or ``de`` (1.250,00 / 1.250,00-)."""
    x = pd.Series(np.asarray(values, dtype=float))
    neg = (x < 0).to_numpy()
    a = x.abs()
    if style == "plain":
        return x.map("{:.2f}".format).astype(object)
    us = a.map("{:,.2f}".format).astype(object)
    if style == "us":
        return us.where(~neg, "-" + us)
    if style == "dollar":
        return ("$" + us).where(~neg, "($" + us + ")")
    if style == "de":
        de = us.str.replace(",", "_").str.replace(".", ",").str.replace("_", ".")
        return de.where(~neg, de + "-")
    raise ValueError(style)  # pragma: no cover


def _csv_lines(cells: pd.DataFrame) -> np.ndarray:
    text = cells.to_csv(header=False, index=False, lineterminator="\n")
    return np.array(text.split("\n")[:-1], dtype=object)


def _csv_row(values: list[str]) -> str:
    return _csv_lines(pd.DataFrame([values]))[0]


# ----------------------------------------------------------------------------- documents
@dataclass
class _Doc:
    """One output file before messiness: lines, their kinds, and the data rows' cells."""

    name: str
    text: np.ndarray
    kind: np.ndarray
    cells: pd.DataFrame  # one row per data line, in line order
    fmt: Callable[[pd.DataFrame], np.ndarray]
    date_col: str
    date_style: str
    amount_col: str
    amount_style: str
    extra: dict = field(default_factory=dict)

    @staticmethod
    def plain(name, header, cells, fmt, **kw) -> "_Doc":
        body = fmt(cells)
        text = np.concatenate([np.array([header], dtype=object), body])
        kind = np.array(["header"] + ["data"] * len(body), dtype=object)
        return _Doc(name, text, kind, cells, fmt, **kw)


def _parse_amount(text: str, style: str) -> float:
    t = text.strip().replace("$", "")
    neg = t.startswith("(") or t.startswith("-") or t.endswith("-")
    t = t.strip("()-")
    if style == "de":
        t = t.replace(".", "").replace(",", ".")
    else:
        t = t.replace(",", "")
    return -float(t) if neg else float(t)


def _messy(doc: _Doc, rng: np.random.Generator, *, title: str | None) -> dict:
    """Inject duplicates, bad rows, a blank line (and a title); return the file's manifest."""
    data_pos = np.flatnonzero(doc.kind == "data")
    n_dup = min(N_DUPLICATES, data_pos.size)
    n_bad = min(int(rng.integers(2, 4)), data_pos.size)
    dup_src = np.sort(rng.choice(data_pos.size, size=n_dup, replace=False))
    bad_src = np.sort(rng.choice(data_pos.size, size=n_bad, replace=False))
    keys = list(2 * np.arange(doc.text.size, dtype=float))
    texts, kinds = list(doc.text), list(doc.kind)
    info: dict[str, list] = {"duplicate": [], "bad": []}
    for j in dup_src:
        after = data_pos[rng.integers(0, data_pos.size)]
        keys.append(2 * after + 1 + rng.uniform(0, 0.5))
        texts.append(doc.text[data_pos[j]])
        kinds.append("duplicate")
        amount = _parse_amount(doc.cells.iloc[j][doc.amount_col], doc.amount_style)
        info["duplicate"].append({"of_text": doc.text[data_pos[j]], "amount": amount})
    for n, j in enumerate(bad_src):
        row = doc.cells.iloc[[j]].copy()
        amount = _parse_amount(row.iloc[0][doc.amount_col], doc.amount_style)
        # the corrupted value replaces the date (or amount) in every column holding the same
        # text, e.g. SAP's posting date or QuickBooks' open balance
        if n % 2 == 0:
            value = str(row.iloc[0][doc.date_col])
            year = value[:4] if doc.date_style == "iso" else value[-4:]
            year = year if year.isdigit() else "2026"
            row = row.mask(row == value, _BAD_DATE[doc.date_style].format(y=year))
            reason, parsed = f"unparseable date in {doc.date_col!r}", amount
        else:
            row = row.mask(row == row.iloc[0][doc.amount_col], BAD_AMOUNT)
            reason, parsed = f"unparseable amount in {doc.amount_col!r}", None
        after = data_pos[rng.integers(0, data_pos.size)]
        keys.append(2 * after + 1 + rng.uniform(0.5, 0.9))
        texts.append(doc.fmt(row)[0])
        kinds.append("bad")
        info["bad"].append({"reason": reason, "amount": parsed})
    after = data_pos[rng.integers(0, data_pos.size)] if data_pos.size else doc.text.size - 1
    keys.append(2 * after + 1.95)
    texts.append("")
    kinds.append("blank_injected")
    if title is not None:
        keys.append(-1.0)
        texts.append(title)
        kinds.append("title_injected")
    order = np.argsort(np.asarray(keys), kind="stable")
    doc.text = np.asarray(texts, dtype=object)[order]
    kind = np.asarray(kinds, dtype=object)[order]
    lines = np.arange(1, kind.size + 1)
    # attach line numbers to the injected rows, in the order they were injected
    inj_order = order >= len(doc.kind)
    injected_idx = order[inj_order] - len(doc.kind)
    line_of = dict(zip(injected_idx.tolist(), lines[inj_order].tolist()))
    for i, rec in enumerate(info["duplicate"]):
        rec["line"] = line_of[i]
    for i, rec in enumerate(info["bad"]):
        rec["line"] = line_of[n_dup + i]
    doc.kind = np.where(kind == "blank_injected", "blank", np.where(kind == "title_injected", "title", kind))
    return {
        "duplicates": sorted(info["duplicate"], key=lambda r: r["line"]),
        "bad_rows": sorted(info["bad"], key=lambda r: r["line"]),
        "blank_lines": [int(line_of[n_dup + n_bad])],
        "title_lines": [int(line_of[n_dup + n_bad + 1])] if title is not None else [],
    }


def _file_manifest(doc: _Doc, injected: dict | None) -> dict:
    kinds = pd.Series(doc.kind)
    lines = np.arange(1, kinds.size + 1)
    text = doc.cells[doc.amount_col].astype(str).str.replace(r"[$()\s-]", "", regex=True)
    if doc.amount_style == "de":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    genuine = pd.to_numeric(text).abs()
    out = {
        "file": doc.name,
        "lines": int(kinds.size),
        "line_kinds": {k: int(v) for k, v in kinds.value_counts().sort_index().items()},
        "header_lines": lines[kinds.to_numpy() == "header"].tolist(),
        "genuine_data_rows": int(len(doc.cells)),
        "genuine_amount_total": round(float(genuine.sum()), 2),
        "amount_column": doc.amount_col,
        "date_column": doc.date_col,
        "date_style": doc.date_style,
        "skipped_lines": {k: lines[kinds.to_numpy() == k].tolist()
                          for k in ("title", "blank", "bucket", "subtotal", "total", "footer", "ruler")
                          if (kinds == k).any()},
        "injected": {
            "duplicates": len(injected["duplicates"]) if injected else 0,
            "bad_rows": len(injected["bad_rows"]) if injected else 0,
            "blank_lines": len(injected["blank_lines"]) if injected else 0,
            "title_lines": len(injected["title_lines"]) if injected else 0,
        },
        "duplicates": injected["duplicates"] if injected else [],
        "bad_rows": injected["bad_rows"] if injected else [],
    }
    out.update(doc.extra)
    return out


# ----------------------------------------------------------------------------- layouts
def _generic(ledger: SampleLedger, rng) -> list[_Doc]:
    inv = ledger.invoices
    cells = pd.DataFrame({
        "customerID": inv[I.customer_id].to_numpy(dtype=object),
        "invoiceNumber": inv[I.invoice_id].to_numpy(dtype=object),
        "InvoiceDate": fmt_date(inv[I.invoice_date], "mdy").to_numpy(),
        "DueDate": fmt_date(inv[I.due_date], "mdy").to_numpy(),
        "InvoiceAmount": fmt_amount(inv[I.amount], "plain").to_numpy(),
        "Disputed": np.where(inv[I.disputed].to_numpy(dtype=bool), "Yes", "No"),
        "SettledDate": fmt_date(inv[I.paid_date], "mdy").to_numpy(),
    })
    return [_Doc.plain("ledger.csv", ",".join(cells.columns), cells, _csv_lines,
                       date_col="InvoiceDate", date_style="mdy", amount_col="InvoiceAmount", amount_style="plain")]


def _payment_docs(ledger: SampleLedger) -> pd.DataFrame:
    """One row per payment document (cash: summed over its allocations; credit notes)."""
    pay = ledger.payments
    g = pay.groupby(P.payment_id, sort=False)
    docs = pd.DataFrame({
        P.customer_id: g[P.customer_id].first(),
        P.payment_date: g[P.payment_date].first(),
        P.kind: g[P.kind].first(),
        P.amount: g[P.amount].sum().round(2),
        "n_alloc": g.size(),
        "first_invoice": g[P.invoice_id].first(),
        "n_invoice": g[P.invoice_id].count(),
    }).reset_index()
    docs["single_invoice"] = np.where((docs["n_alloc"] == 1) & (docs["n_invoice"] == 1), docs["first_invoice"], None)
    return docs


def _transactions(ledger: SampleLedger, rng) -> list[_Doc]:
    inv, cust = ledger.invoices, ledger.customers
    name = pd.Series(cust[I.customer_name].to_numpy(), index=cust[I.customer_id].to_numpy())
    docs = _payment_docs(ledger)
    cash = docs[P.kind].to_numpy() == S.KIND_PAYMENT
    # Applied To: only when a payment covers exactly one invoice, and then 92% of the time
    # (so ~85% of all payments carry it); credit memos always name their invoice.
    give = (rng.uniform(size=len(docs)) < 0.92) | ~cash
    applied = np.where(give, docs["single_invoice"].to_numpy(dtype=object), None)
    applied = pd.Series(applied, dtype=object).fillna("").to_numpy()
    rows = pd.concat([
        pd.DataFrame({"_d": inv[I.invoice_date].to_numpy(), "_t": 0, "Type": "Invoice",
                      "Number": inv[I.invoice_id].to_numpy(dtype=object),
                      "_c": inv[I.customer_id].to_numpy(dtype=object), "_due": inv[I.due_date].to_numpy(),
                      "_a": inv[I.amount].to_numpy(), "Applied To": "",
                      "Disputed": np.where(inv[I.disputed].to_numpy(dtype=bool), "Yes", "")}),
        pd.DataFrame({"_d": docs[P.payment_date].to_numpy(), "_t": np.where(cash, 1, 2),
                      "Type": np.where(cash, "Payment", "Credit Memo"),
                      "Number": docs[P.payment_id].to_numpy(dtype=object),
                      "_c": docs[P.customer_id].to_numpy(dtype=object), "_due": pd.NaT,
                      "_a": np.where(cash, 1.0, -1.0) * docs[P.amount].to_numpy(), "Applied To": applied,
                      "Disputed": ""}),
    ], ignore_index=True).sort_values(["_d", "_t", "Number"], kind="stable")
    cells = pd.DataFrame({
        "Type": rows["Type"].to_numpy(dtype=object),
        "Date": fmt_date(rows["_d"], "mm/dd/yyyy").to_numpy(),
        "Number": rows["Number"].to_numpy(dtype=object),
        "Customer": name.reindex(rows["_c"].to_numpy()).to_numpy(dtype=object),
        "Due Date": fmt_date(rows["_due"], "mm/dd/yyyy").to_numpy(),
        "Amount": fmt_amount(rows["_a"], "dollar").to_numpy(),
        "Applied To": rows["Applied To"].to_numpy(dtype=object),
        "Disputed": rows["Disputed"].to_numpy(dtype=object),
    })
    n_pay = int(cash.sum())
    extra = {"payments": n_pay, "payments_with_applied_to": int((applied[cash] != "").sum()),
             "payments_covering_several_invoices": int((docs["n_alloc"].to_numpy()[cash] > 1).sum()),
             "invoices_disputed": int(inv[I.disputed].to_numpy(dtype=bool).sum())}
    return [_Doc.plain("ledger.csv", ",".join(cells.columns), cells, _csv_lines, date_col="Date",
                       date_style="mm/dd/yyyy", amount_col="Amount", amount_style="dollar", extra=extra)]


def _two_files(ledger: SampleLedger, rng) -> list[_Doc]:
    inv, pay = ledger.invoices, ledger.payments
    ic = pd.DataFrame({
        "Invoice Number": inv[I.invoice_id].to_numpy(dtype=object),
        "Customer": inv[I.customer_id].to_numpy(dtype=object),
        "Invoice Date": fmt_date(inv[I.invoice_date], "iso").to_numpy(),
        "Due Date": fmt_date(inv[I.due_date], "iso").to_numpy(),
        "Amount": fmt_amount(inv[I.amount], "plain").to_numpy(),
        "Currency": inv[I.currency].to_numpy(dtype=object),
    })
    pc = pd.DataFrame({
        "Payment ID": pay[P.payment_id].to_numpy(dtype=object),
        "Customer": pay[P.customer_id].to_numpy(dtype=object),
        "Payment Date": fmt_date(pay[P.payment_date], "iso").to_numpy(),
        "Amount": fmt_amount(pay[P.amount], "plain").to_numpy(),
        "Invoice Number": pay[P.invoice_id].fillna("").to_numpy(dtype=object),
    })
    return [
        _Doc.plain("invoices.csv", ",".join(ic.columns), ic, _csv_lines, date_col="Invoice Date",
                   date_style="iso", amount_col="Amount", amount_style="plain"),
        _Doc.plain("payments.csv", ",".join(pc.columns), pc, _csv_lines, date_col="Payment Date",
                   date_style="iso", amount_col="Amount", amount_style="plain"),
    ]


_BUCKETS = [("Current", -10**9, 0), ("1 - 30 days past due", 1, 30), ("31 - 60 days past due", 31, 60),
            ("61 - 90 days past due", 61, 90), ("91 or more days past due", 91, 10**9)]


def _title_date(ts: pd.Timestamp) -> str:
    return f"{_MON[ts.month - 1]} {ts.day}, {ts.year}"


def _quickbooks_aging(ledger: SampleLedger, rng) -> list[_Doc]:
    inv, cust, end = ledger.invoices, ledger.customers, ledger.end
    name = pd.Series(cust[I.customer_name].to_numpy(), index=cust[I.customer_id].to_numpy())
    op = inv[inv["open_amount"] > 0.005].copy()
    op["_dpd"] = (end - op[I.due_date]).dt.days.to_numpy()
    op = op.sort_values([I.invoice_date, I.invoice_id], kind="stable")
    ncol = 8
    pad = lambda first, last="": _csv_row([first] + [""] * (ncol - 2) + [last])  # noqa: E731
    fmt = lambda c: _csv_lines(c)  # noqa: E731
    text, kind, cell_parts = [], [], []
    for t in (_csv_row(["Sample Company, Inc"] + [""] * 7), pad("A/R Aging Detail Report"),
              pad(f"As of {_title_date(end)}")):
        text.append(t)
        kind.append("title")
    text += [""]
    kind += ["blank"]
    text.append(",Date,Transaction type,Num,Customer full name,Due date,Amount,Open balance")
    kind.append("header")
    grand = 0.0
    for label, lo, hi in _BUCKETS:  # loop over the five aging buckets
        b = op[(op["_dpd"] >= lo) & (op["_dpd"] <= hi)]
        if b.empty:
            continue
        cells = pd.DataFrame({
            "_blank": "",
            "Date": fmt_date(b[I.invoice_date], "mm/dd/yyyy").to_numpy(),
            "Transaction type": "Invoice",
            "Num": b[I.invoice_id].to_numpy(dtype=object),
            "Customer full name": name.reindex(b[I.customer_id].to_numpy()).to_numpy(dtype=object),
            "Due date": fmt_date(b[I.due_date], "mm/dd/yyyy").to_numpy(),
            "Amount": fmt_amount(b[I.amount], "us").to_numpy(),
            "Open balance": fmt_amount(b["open_amount"], "us").to_numpy(),
        })
        total = round(float(b["open_amount"].sum()), 2)
        grand += total
        text.append(pad(label))
        kind.append("bucket")
        text += list(fmt(cells))
        kind += ["data"] * len(cells)
        cell_parts.append(cells)
        text.append(pad(f"Total for {label}", fmt_amount([total], "us")[0]))
        kind.append("subtotal")
    text += ["", pad("TOTAL", fmt_amount([round(grand, 2)], "us")[0]), ""]
    kind += ["blank", "total", "blank"]
    stamp = end + pd.Timedelta(days=1)
    text.append(pad(f" {_WEEKDAY[stamp.day_of_week]}, {_MONTH[stamp.month - 1]} {stamp.day}, {stamp.year} "
                    "09:12 AM GMT-06:00"))
    kind.append("footer")
    cells = pd.concat(cell_parts, ignore_index=True) if cell_parts else pd.DataFrame(
        columns=["_blank", "Date", "Transaction type", "Num", "Customer full name", "Due date", "Amount", "Open balance"])
    return [_Doc("aging.csv", np.array(text, dtype=object), np.array(kind, dtype=object), cells, fmt,
                 date_col="Date", date_style="mm/dd/yyyy", amount_col="Open balance", amount_style="us",
                 extra={"as_of": end.strftime("%Y-%m-%d"), "open_balance_total": round(grand, 2)})]


_DESCRIPTIONS = np.array(["Consulting services", "Software licence", "Support plan", "Hardware",
                          "Freight", "Installation", "Training", "Maintenance"])


def _xero(ledger: SampleLedger, rng) -> list[_Doc]:
    inv, cust = ledger.invoices, ledger.customers
    name = pd.Series(cust[I.customer_name].to_numpy(), index=cust[I.customer_id].to_numpy())
    date_style = "d mon yyyy" if rng.uniform() < 0.5 else "dd/mm/yyyy"
    n = len(inv)
    total_c = np.round(inv[I.amount].to_numpy() * 100).astype(np.int64)
    tax_c = np.round(total_c / 6).astype(np.int64)  # 20% VAT included in the total
    net_c = total_c - tax_c
    n_lines = rng.choice([1, 2, 3], size=n, p=[0.7, 0.2, 0.1])
    idx = np.repeat(np.arange(n), n_lines)
    k = np.arange(idx.size) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    w = rng.uniform(0.2, 1.0, size=idx.size)
    share = w / np.bincount(idx, weights=w)[idx]
    line_c = np.floor(net_c[idx] * share).astype(np.int64)
    line_c[k == n_lines[idx] - 1] += (net_c - np.bincount(idx, weights=line_c).astype(np.int64))[idx][k == n_lines[idx] - 1]
    paid = (inv[I.amount] - inv["open_amount"]).round(2).to_numpy()
    ref = pd.Series(rng.integers(10_000, 99_999, size=n)).astype(str).radd("PO ").to_numpy(dtype=object)
    line_amount = pd.Series(line_c[:] / 100.0)
    cells = pd.DataFrame({
        "ContactName": name.reindex(inv[I.customer_id].to_numpy()).to_numpy(dtype=object)[idx],
        "InvoiceNumber": inv[I.invoice_id].to_numpy(dtype=object)[idx],
        "Reference": ref[idx],
        "InvoiceDate": fmt_date(inv[I.invoice_date], date_style).to_numpy()[idx],
        "DueDate": fmt_date(inv[I.due_date], date_style).to_numpy()[idx],
        "Total": fmt_amount(total_c / 100.0, "plain").to_numpy()[idx],
        "TaxTotal": fmt_amount(tax_c / 100.0, "plain").to_numpy()[idx],
        "InvoiceAmountPaid": fmt_amount(paid, "plain").to_numpy()[idx],
        "InvoiceAmountDue": fmt_amount(inv["open_amount"], "plain").to_numpy()[idx],
        "Description": (pd.Series(_DESCRIPTIONS[rng.integers(0, _DESCRIPTIONS.size, size=idx.size)], dtype=object)
                        + " (line " + _str(k + 1) + ")").to_numpy(),
        "Quantity": "1",
        "UnitAmount": fmt_amount(line_amount, "plain").to_numpy(),
        "LineAmount": fmt_amount(line_amount, "plain").to_numpy(),
        "Currency": "GBP",
        "Type": "ACCREC",
        "Status": np.where(inv[I.paid_date].notna().to_numpy(), "PAID", "AUTHORISED")[idx],
        "FullyPaidOnDate": fmt_date(inv[I.paid_date], date_style).to_numpy()[idx],
    })
    return [_Doc.plain("invoices.csv", ",".join(cells.columns), cells, _csv_lines, date_col="InvoiceDate",
                       date_style=date_style, amount_col="Total", amount_style="plain",
                       extra={"invoices": n, "invoice_lines": int(idx.size)})]


_SAP_COLS = ["Account", "Assignment", "Document Number", "Document Type", "Document Date", "Posting Date",
             "Net due date", "Arrears after net due date", "Amount in local currency", "Local Currency",
             "Clearing date", "Clearing Document", "Text", "Terms of Payment"]
# column widths: at least the header name and the longest value
_SAP_WIDTH = [max(len(c), w) for c, w in zip(_SAP_COLS, [14, 12, 15, 4, 10, 10, 10, 6, 18, 5, 10, 15, 16, 5])]


def _pipe(cells: pd.DataFrame) -> np.ndarray:
    out = pd.Series("|", index=cells.index, dtype=object)
    for col, w in zip(cells.columns, _SAP_WIDTH):  # loop over the 14 columns
        v = cells[col].astype(str)
        v = v.str.rjust(w) if col in ("Amount in local currency", "Arrears after net due date") else v.str.ljust(w)
        out = out + v + "|"
    return out.to_numpy(dtype=object)


def _arrears(days: np.ndarray) -> pd.Series:
    s = pd.Series(days)
    ok = s.notna()
    a = s.fillna(0).astype(int)
    txt = a.abs().astype(str).astype(object)
    return txt.where(a >= 0, txt + "-").where(ok, "")


def _sap(ledger: SampleLedger, rng) -> list[_Doc]:
    inv, pay, end = ledger.invoices, ledger.payments, ledger.end
    # clearing document of an invoice: its last settlement
    last = pay.dropna(subset=[P.invoice_id]).sort_values(P.payment_date, kind="stable").groupby(P.invoice_id).last()
    inv_clear_doc = last[P.payment_id].reindex(inv[I.invoice_id].to_numpy()).to_numpy(dtype=object)
    settled = inv[I.paid_date].notna().to_numpy()
    paid_on = pd.Series(inv[I.paid_date].to_numpy(), index=inv[I.invoice_id].to_numpy())
    docs = _payment_docs(ledger)
    # a payment / credit is cleared when every invoice it pays is settled (then on the last date)
    alloc = pay.dropna(subset=[P.invoice_id])
    alloc_paid = paid_on.reindex(alloc[P.invoice_id].to_numpy()).to_numpy()
    g = pd.DataFrame({"id": alloc[P.payment_id].to_numpy(), "d": alloc_paid,
                      "open": pd.isna(alloc_paid)}).groupby("id")
    clear = g["d"].max().where(~g["open"].any())
    doc_clear = clear.reindex(docs[P.payment_id].to_numpy()).to_numpy()
    cash = docs[P.kind].to_numpy() == S.KIND_PAYMENT
    terms = "Z" + inv["terms_days"].astype(str).str.zfill(3)
    rows = pd.concat([
        pd.DataFrame({
            "Account": inv[I.customer_id].to_numpy(dtype=object), "Assignment": inv[I.invoice_id].to_numpy(dtype=object),
            "Document Number": inv[I.invoice_id].to_numpy(dtype=object), "Document Type": "RV",
            "_d": inv[I.invoice_date].to_numpy(), "_due": inv[I.due_date].to_numpy(),
            "_arrears": ((inv[I.paid_date].where(settled, end) - inv[I.due_date]).dt.days).to_numpy(dtype=float),
            "_a": inv[I.amount].to_numpy(), "_clear": inv[I.paid_date].to_numpy(),
            "Clearing Document": np.where(settled, inv_clear_doc, ""), "Text": "Invoice",
            "Terms of Payment": terms.to_numpy(dtype=object)}),
        pd.DataFrame({
            "Account": docs[P.customer_id].to_numpy(dtype=object),
            "Assignment": pd.Series(docs["single_invoice"].to_numpy(dtype=object)).fillna("").to_numpy(),
            "Document Number": docs[P.payment_id].to_numpy(dtype=object),
            "Document Type": np.where(cash, "DZ", "DG"), "_d": docs[P.payment_date].to_numpy(), "_due": pd.NaT,
            "_arrears": np.nan, "_a": -docs[P.amount].to_numpy(), "_clear": doc_clear,
            "Clearing Document": np.where(pd.notna(doc_clear), docs[P.payment_id].to_numpy(dtype=object), ""),
            "Text": np.where(cash, "Incoming payment", "Credit memo"), "Terms of Payment": ""}),
    ], ignore_index=True).sort_values(["Account", "_d", "Document Number"], kind="stable").reset_index(drop=True)
    cells = pd.DataFrame({
        "Account": rows["Account"], "Assignment": rows["Assignment"], "Document Number": rows["Document Number"],
        "Document Type": rows["Document Type"], "Document Date": fmt_date(rows["_d"], "dd.mm.yyyy").to_numpy(),
        "Posting Date": fmt_date(rows["_d"], "dd.mm.yyyy").to_numpy(),
        "Net due date": fmt_date(rows["_due"], "dd.mm.yyyy").to_numpy(),
        "Arrears after net due date": _arrears(rows["_arrears"].to_numpy()).to_numpy(),
        "Amount in local currency": fmt_amount(rows["_a"], "de").to_numpy(), "Local Currency": "EUR",
        "Clearing date": fmt_date(rows["_clear"], "dd.mm.yyyy").to_numpy(),
        "Clearing Document": rows["Clearing Document"], "Text": rows["Text"],
        "Terms of Payment": rows["Terms of Payment"],
    })
    # per-account subtotal rows ("*") after each account's items, one total ("**") per currency
    body = _pipe(cells)
    acct = rows["Account"].to_numpy()
    sub = rows.groupby("Account", sort=False)["_a"].sum().round(2)
    blank = {c: "" for c in _SAP_COLS}
    sub_cells = pd.DataFrame([blank] * len(sub))
    sub_cells["Account"] = ("* " + pd.Series(sub.index, dtype=object)).to_numpy()
    sub_cells["Amount in local currency"] = fmt_amount(sub.to_numpy(), "de").to_numpy()
    sub_cells["Local Currency"] = "EUR"
    sub_lines = _pipe(sub_cells[_SAP_COLS])
    last_of_acct = np.flatnonzero(np.r_[acct[1:] != acct[:-1], True])
    keys = np.concatenate([2.0 * np.arange(body.size), 2.0 * last_of_acct + 1])
    order = np.argsort(keys, kind="stable")
    mid = np.concatenate([body, sub_lines])[order]
    mid_kind = np.concatenate([np.full(body.size, "data", dtype=object), np.full(sub_lines.size, "subtotal", dtype=object)])[order]
    total = round(float(rows["_a"].sum()), 2)
    tot_cells = pd.DataFrame([blank])
    tot_cells["Account"] = "**"
    tot_cells["Amount in local currency"] = fmt_amount([total], "de")[0]
    tot_cells["Local Currency"] = "EUR"
    header = pd.DataFrame([dict(zip(_SAP_COLS, _SAP_COLS))])
    width = len(_pipe(header)[0])
    ruler = "-" * width
    stamp = (end + pd.Timedelta(days=1)).strftime("%d.%m.%Y")
    head_text = [f"{stamp}{'Customer Line Item Display':^60}{'1':>10}", "", ruler,
                 "|" + "|".join(c.ljust(w) for c, w in zip(_SAP_COLS, _SAP_WIDTH)) + "|",
                 "|" + "|".join("-" * w for w in _SAP_WIDTH) + "|"]
    head_kind = ["title", "blank", "ruler", "header", "ruler"]
    tail_text = ["|" + "|".join("-" * w for w in _SAP_WIDTH) + "|", _pipe(tot_cells[_SAP_COLS])[0], ruler]
    tail_kind = ["ruler", "total", "ruler"]
    text = np.concatenate([np.array(head_text, dtype=object), mid, np.array(tail_text, dtype=object)])
    kind = np.concatenate([np.array(head_kind, dtype=object), mid_kind, np.array(tail_kind, dtype=object)])
    return [_Doc("fbl5n.txt", text, kind, cells, _pipe, date_col="Document Date", date_style="dd.mm.yyyy",
                 amount_col="Amount in local currency", amount_style="de",
                 extra={"balance_total": total, "currencies": ["EUR"]})]


_BUILDERS = {"generic": _generic, "transactions": _transactions, "two_files": _two_files,
             "quickbooks_aging": _quickbooks_aging, "xero": _xero, "sap": _sap}


def write_export(sample: SampleLedger, layout: str, out_dir, *, seed: int = 0, messy: bool = True) -> list[Path]:
    """Write ``sample`` as the export file(s) of one layout, plus ``manifest.json``.

    Parameters
    ----------
    sample : SampleLedger
        The generated ledger (truth).
    layout : str
        One of :data:`LAYOUTS`:

        ``generic``
            ``ledger.csv``: one row per invoice, ``customerID, invoiceNumber, InvoiceDate,
            DueDate, InvoiceAmount, Disputed, SettledDate`` (M/D/YYYY, settled date empty
            while open at ``end``).
        ``transactions``
            ``ledger.csv``: ``Type, Date, Number, Customer, Due Date, Amount, Applied To,
            Disputed``; Invoice / Payment / Credit Memo rows, MM/DD/YYYY, ``"$1,250.00"``,
            credits ``($40.00)``; ``Disputed`` is ``Yes`` on disputed invoices, else empty. One row per payment (its total); ``Applied To`` only when the
            payment covers exactly one invoice (and then 92% of the time) -- otherwise the
            reader allocates oldest-first. Customers are identified by name.
        ``two_files``
            ``invoices.csv`` and ``payments.csv`` (ISO dates, one payments row per
            allocation; credit notes are the ``CM-`` payment ids; unapplied cash has no
            invoice number).
        ``quickbooks_aging``
            ``aging.csv``: A/R Aging Detail of the invoices open at ``end``.
        ``xero``
            ``invoices.csv``: Xero Invoices export, one row per line (1-3), Total repeated,
            GBP, ``5 Jul 2026`` or DD/MM/YYYY dates, plus ``FullyPaidOnDate``.
        ``sap``
            ``fbl5n.txt``: FBL5N pipe list, RV / DZ / DG items, ``1.234,56-``, EUR,
            per-account subtotals and one total.
    out_dir : str or Path
        Directory to write into (created if needed).
    seed : int
        Seed for the writer's own choices (which rows get messy, Applied To, Xero lines).
    messy : bool
        Inject duplicates, bad rows, a blank line (and a title line for transactions).

    Returns
    -------
    list of Path
        The export file(s) followed by ``manifest.json``.
    """
    if layout not in _BUILDERS:
        raise InputError(f"unknown export layout {layout!r}", hint=f"Choose one of {', '.join(LAYOUTS)}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files, paths = [], []
    for doc in _BUILDERS[layout](sample, rng):
        title = _csv_row(["Transaction List by Date"] + [""] * 7) if layout == "transactions" else None
        injected = _messy(doc, rng, title=title) if messy else None
        path = out / doc.name
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(doc.text) + "\n")
        files.append(_file_manifest(doc, injected))
        paths.append(path)
    inv = sample.invoices
    manifest = {
        "layout": layout, "messy": messy, "writer_seed": seed, "generator_seed": sample.seed,
        "start": sample.start.strftime("%Y-%m-%d"), "end": sample.end.strftime("%Y-%m-%d"),
        "truth": {"customers": int(len(sample.customers)), "invoices": int(len(inv)),
                  "invoices_open_at_end": int(inv[I.paid_date].isna().sum()),
                  "invoice_amount_total": round(float(inv[I.amount].sum()), 2),
                  "open_amount_total": round(float(inv["open_amount"].sum()), 2),
                  "payment_allocations": int(len(sample.payments)),
                  "payments": int(sample.payments.loc[sample.payments[P.kind] == S.KIND_PAYMENT, P.payment_id].nunique()),
                  "credit_notes": int((sample.payments[P.kind] == S.KIND_CREDIT).sum()),
                  "unapplied_cash": int(sample.payments[P.invoice_id].isna().sum())},
        "files": files,
    }
    mpath = out / "manifest.json"
    mpath.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return paths + [mpath]


def write_sample(out_dir, *, customers: int = 300, years: float = 2.0, seed: int = 7,
                 layout: str = "transactions", end: str = "2026-06-30") -> list[Path]:
    """Generate a ledger and write it as a messy export with its ground truth.

    This is what ``arinsights sample`` (and ``make sample``) runs.

    Parameters
    ----------
    out_dir : str or Path
        Directory to write into (created if needed).
    customers, years, seed, end
        Passed to :func:`generate_ledger` (``seed`` also seeds the writer's messiness).
    layout : str
        One of :data:`LAYOUTS`.

    Returns
    -------
    list of Path
        The export file(s), ``ground_truth.csv`` (one row per customer, the columns of
        ``SampleLedger.customers``, ISO dates), ``ground_truth_invoices.csv.gz`` (the truth
        invoices as of ``end``) and ``manifest.json`` (what was injected, and how to
        regenerate).
    """
    from ._generate import generate_ledger

    if layout not in _BUILDERS:
        raise InputError(f"unknown export layout {layout!r}", hint=f"Choose one of {', '.join(LAYOUTS)}.")
    ledger = generate_ledger(customers, years, seed=seed, end=end)
    out = Path(out_dir)
    paths = write_export(ledger, layout, out, seed=seed, messy=True)
    exports, manifest_path = paths[:-1], paths[-1]
    truth = out / "ground_truth.csv"
    ledger.customers.to_csv(truth, index=False, date_format="%Y-%m-%d", lineterminator="\n")
    inv_truth = out / "ground_truth_invoices.csv.gz"
    ledger.invoices.drop(columns=[I.source]).to_csv(
        inv_truth, index=False, date_format="%Y-%m-%d", lineterminator="\n",
        compression={"method": "gzip", "mtime": 0})
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["generator"] = {"customers": customers, "years": years, "seed": seed, "end": end, "layout": layout}
    manifest["ground_truth"] = [truth.name, inv_truth.name]
    manifest["regenerate"] = (f"arinsights sample --customers {customers} --years {years:g} --seed {seed} "
                              f"--layout {layout} --out {out_dir}")
    manifest_path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return exports + [truth, inv_truth, manifest_path]
