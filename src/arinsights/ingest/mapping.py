"""Mapping files: tell arinsights which column of an unfamiliar export holds what.

A mapping file is a small TOML file (see ``docs/mapping.md``)::

    # arinsights mapping file
    layout = "invoices"          # or "transactions" (with a type column) or "payments"
    header_row = 1               # optional: 1-based row of the header (default: detected)
    sheet = "Sheet1"             # optional, Excel
    date_order = "dayfirst"      # optional: "dayfirst" | "monthfirst" | "yearfirst" (yy-mm-dd)
    decimal = ","                # optional
    currency = "EUR"             # optional default currency
    balances_as_of = 2026-06-30  # optional: the date of the open balances (open_amount)
    [columns]                    # canonical field = column name in your file
    document_id = "Inv No"
    customer_id = "Cust"
    document_date = "Inv Date"
    amount = "Gross"
    [types]                      # only for layout = "transactions"
    type_column = "Kind"
    invoice = ["INV", "Invoice"]
    payment = ["PMT"]
    credit = ["CN"]

:func:`load_mapping` checks the file itself (unknown keys, missing required fields, bad
values); :meth:`Mapping.check_columns` checks it against the header of the export it is
applied to. :func:`mapping_skeleton` writes a ready-to-edit mapping with best guesses, which
is what the "could not recognise the layout" error shows.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from ..schema import KIND_CREDIT, KIND_INVOICE, KIND_PAYMENT

#: layouts a mapping file may describe
MAPPING_LAYOUTS = ("invoices", "transactions", "payments")

#: canonical fields a mapping's [columns] table may name, with what each holds
FIELDS = {
    "document_id": "invoice / payment / credit note number",
    "customer_id": "customer account number or name",
    "customer_name": "customer name (optional when customer_id is a number)",
    "document_date": "invoice / payment date",
    "due_date": "due date",
    "terms": "payment terms such as 'Net 30' or '30' (used when there is no due date)",
    "amount": "document amount",
    "currency": "currency code",
    "disputed": "disputed flag (Yes/No)",
    "settled_date": "date the invoice was paid / cleared",
    "applied_to": "invoice number a payment or credit note pays",
    "open_amount": "open balance",
}

#: fields every mapping of a layout must name
REQUIRED = {
    "invoices": ("customer_id", "document_id", "document_date", "amount"),
    "transactions": ("customer_id", "document_id", "document_date", "amount"),
    "payments": ("customer_id", "document_date", "amount"),
}

_TOP_KEYS = {"layout", "header_row", "sheet", "date_order", "decimal", "currency", "balances_as_of", "columns",
             "types"}
_TYPE_KINDS = (KIND_INVOICE, KIND_PAYMENT, KIND_CREDIT)


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file.

    Attributes
    ----------
    path : str
        The mapping file (for messages).
    layout : str
        "invoices", "transactions" or "payments".
    columns : dict
        Canonical field -> column name in the export.
    header_row : int or None
        1-based physical row of the header; None = detect it.
    sheet, date_order, decimal, currency : str or None
        Optional reading hints.
    balances_as_of : datetime.date or None
        The date on which the ``open_amount`` column's balances were taken (the export is
        a snapshot of that date), when the file does not say it.
    type_column : str or None
        Column holding the transaction type (layout "transactions").
    types : dict
        Kind ("invoice"/"payment"/"credit") -> tuple of values of the type column.
    """

    path: str
    layout: str
    columns: dict[str, str]
    header_row: int | None = None
    sheet: str | None = None
    date_order: str | None = None
    decimal: str | None = None
    currency: str | None = None
    balances_as_of: dt.date | None = None
    type_column: str | None = None
    types: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def used_columns(self) -> list[str]:
        """Every column of the export the mapping refers to."""
        cols = list(self.columns.values())
        if self.type_column:
            cols.append(self.type_column)
        return cols

    def check_columns(self, headers: Iterable[str], file: str) -> dict[str, str]:
        """Match the mapping's column names to an export's header.

        Names match exactly first, then ignoring case and surrounding spaces.

        Parameters
        ----------
        headers : iterable of str
            The export's header cells.
        file : str
            The export (for messages).

        Returns
        -------
        dict
            Mapping column name -> the header cell it matched.

        Raises
        ------
        InputError
            When a mapped column is not in the file; the message lists the file's columns.
        """
        headers = [str(h) for h in headers]
        loose = {_loose(h): h for h in reversed(headers) if h.strip()}
        found, missing = {}, []
        for col in self.used_columns():
            if col in headers:
                found[col] = col
            elif _loose(col) in loose:
                found[col] = loose[_loose(col)]
            else:
                missing.append(col)
        if missing:
            listed = ", ".join(repr(h) for h in headers if h.strip())
            raise InputError(
                f"the mapping {self.path} names column(s) {', '.join(repr(m) for m in missing)} "
                f"that are not in the file; the file's columns are: {listed}",
                file=file,
                hint="Fix the names in the mapping's [columns] section (copy them from the list above)"
                + (", or set header_row to the row that holds the column names." if self.header_row is None
                   else f", or check header_row (now {self.header_row})."),
            )
        return found


def _loose(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file.

    Parameters
    ----------
    path : str or Path
        A TOML mapping file.

    Returns
    -------
    Mapping

    Raises
    ------
    InputError
        File missing or not TOML; unknown keys; unknown layout; a required field missing for
        the layout; bad ``header_row``/``date_order``/``decimal``/``currency``; a
        ``[types]`` section missing (transactions) or misplaced.
    """
    path = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError("mapping file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("the mapping path is a folder, not a file", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"the mapping file is not valid TOML ({exc})", file=path,
                         hint="Text values need double quotes, e.g. amount = \"Gross\".") from None
    return mapping_from_dict(data, path=path)


def mapping_from_dict(data: dict, *, path: str = "<mapping>") -> Mapping:
    """Validate a mapping given as a dict (the parsed TOML). See :func:`load_mapping`."""

    def fail(problem: str, hint: str | None = None):
        raise InputError(problem, file=path, hint=hint)

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        fail(f"unknown key(s) {unknown} in the mapping; allowed keys are {sorted(_TOP_KEYS)}",
             "Column names go in the [columns] section, e.g. amount = \"Gross\".")
    layout = data.get("layout")
    if layout is None:
        fail(f"the mapping has no layout; add a line layout = \"invoices\" (one of {list(MAPPING_LAYOUTS)})")
    if layout not in MAPPING_LAYOUTS:
        fail(f"unknown layout {layout!r} in the mapping; use one of {list(MAPPING_LAYOUTS)}")

    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        fail("the mapping has no [columns] section naming the columns of your file",
             "Add e.g.\n[columns]\ncustomer_id = \"Customer\"\ndocument_date = \"Date\"\namount = \"Amount\"")
    bad_fields = sorted(set(columns) - set(FIELDS))
    if bad_fields:
        fail(f"unknown field(s) {bad_fields} in [columns]; the fields are: "
             + "; ".join(f"{k} ({v})" for k, v in FIELDS.items()))
    not_text = sorted(k for k, v in columns.items() if not isinstance(v, str) or not v.strip())
    if not_text:
        fail(f"[columns] {', '.join(not_text)} must be the name of a column in quotes, e.g. amount = \"Gross\"")
    missing = [f for f in REQUIRED[layout] if f not in columns]
    if missing:
        fail(f"[columns] is missing the required field(s) {missing} for layout {layout!r} "
             f"(required: {list(REQUIRED[layout])})",
             "Add a line per field with the name of the column in your file, e.g. "
             f"{missing[0]} = \"...\".")

    header_row = data.get("header_row")
    if header_row is not None and (isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1):
        fail(f"header_row must be a whole number from 1 (the first row of the file), not {header_row!r}")
    date_order = data.get("date_order")
    if date_order is not None and date_order not in ("dayfirst", "monthfirst", "yearfirst"):
        fail(f"date_order must be \"dayfirst\", \"monthfirst\" or \"yearfirst\" (yy-mm-dd), not {date_order!r}")
    decimal = data.get("decimal")
    if decimal is not None and decimal not in (".", ","):
        fail(f"decimal must be \".\" or \",\", not {decimal!r}")
    currency = data.get("currency")
    if currency is not None and (not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency)):
        fail(f"currency must be a three-letter code such as \"EUR\", not {currency!r}")
    sheet = data.get("sheet")
    if sheet is not None and not isinstance(sheet, str):
        fail(f"sheet must be a sheet name in quotes, not {sheet!r}")
    balances_as_of = data.get("balances_as_of")
    if balances_as_of is not None:
        if isinstance(balances_as_of, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", balances_as_of.strip()):
            try:
                balances_as_of = dt.date.fromisoformat(balances_as_of.strip())
            except ValueError:
                pass
        if isinstance(balances_as_of, dt.datetime):
            balances_as_of = balances_as_of.date()
        if not isinstance(balances_as_of, dt.date):
            fail(f"balances_as_of must be a date written year-month-day, e.g. balances_as_of = 2026-06-30, "
                 f"not {balances_as_of!r}")
        if "open_amount" not in columns:
            fail("balances_as_of is the date of the open balances, but [columns] names no open_amount column",
                 "Add open_amount = \"<the column with the open balance>\" to [columns], or remove balances_as_of.")

    types = data.get("types")
    type_column, kinds = None, {}
    if layout == "transactions":
        if not isinstance(types, dict):
            fail("layout \"transactions\" needs a [types] section: the column that holds the type and its values",
                 "[types]\ntype_column = \"Type\"\ninvoice = [\"Invoice\"]\npayment = [\"Payment\"]\n"
                 "credit = [\"Credit Note\"]")
        bad = sorted(set(types) - {"type_column", *_TYPE_KINDS})
        if bad:
            fail(f"unknown key(s) {bad} in [types]; allowed: type_column, invoice, payment, credit")
        type_column = types.get("type_column")
        if not isinstance(type_column, str) or not type_column.strip():
            fail("[types] needs type_column = \"<name of the column that holds the type>\"")
        for kind in _TYPE_KINDS:
            values = types.get(kind, [])
            if isinstance(values, str):
                values = [values]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                fail(f"[types] {kind} must be a list of values in quotes, e.g. {kind} = [\"...\"]")
            if values:
                kinds[kind] = tuple(values)
        if KIND_INVOICE not in kinds and KIND_PAYMENT not in kinds and KIND_CREDIT not in kinds:
            fail("[types] lists no values; add e.g. invoice = [\"Invoice\"]")
        seen: dict[str, str] = {}
        for kind, values in kinds.items():
            for v in values:
                key = _loose(v)
                if key in seen and seen[key] != kind:
                    fail(f"[types] value {v!r} is listed under both {seen[key]} and {kind}")
                seen[key] = kind
    elif types is not None:
        fail(f"a [types] section is only used with layout = \"transactions\" (this mapping is {layout!r}); "
             "remove it or change the layout")

    return Mapping(path=path, layout=layout, columns={k: v for k, v in columns.items()},
                   header_row=header_row, sheet=sheet, date_order=date_order, decimal=decimal,
                   currency=currency.upper() if currency else None, balances_as_of=balances_as_of,
                   type_column=type_column, types=kinds)


# --- skeleton -----------------------------------------------------------------------------

# Fuzzy guesses: for each field, patterns over the normalised header (lower case, single
# spaces), best first. Fields are filled in this order so "due date" is taken by due_date
# before document_date looks for a "date".
_GUESSES = [
    ("due_date", [r"\bdue\b", r"f[aä]llig", r"[ée]ch[ée]ance", r"verval", r"vencim", r"scadenz"]),
    ("settled_date", [r"settle", r"\bpaid\b.*date|date.*\bpaid\b|paid on", r"clear", r"ausgleich", r"compensation"]),
    ("document_date", [r"inv.*date|doc.*date|date.*inv", r"\bdate\b|datum|\bdt\b|\bfecha\b|\bdata\b", r"date"]),
    ("document_id", [r"inv.*(no|num|#|id)\b|^inv", r"rechnung|factu|fattur|fatura",
                     r"doc.*(no|num)|^doc(ument)?$|beleg|pi[eè]ce",
                     r"\bnumber\b|\bno\b|\bnum\b|#", r"\bref", r"\bid\b"]),
    ("customer_id", [r"cust.*(id|no|num|code|account)", r"cust|client|debtor|debitor|kunde", r"account|konto|compte",
                     r"\bname\b|contact"]),
    ("terms", [r"terms|zahlungsbed"]),
    ("amount", [r"amount|\bamt\b|betrag|montant|bedrag|importe|importo|\bvalor\b", r"gross|total|value|sum|balance"]),
    ("currency", [r"curr|ccy|w[aä]hrung|devise|valuta|moneda|moeda"]),
    ("disputed", [r"disput"]),
    ("applied_to", [r"applied|apply"]),
]


def guess_columns(headers: Iterable[str]) -> dict[str, str]:
    """Best-guess canonical field for an export's headers (each header used at most once).

    Parameters
    ----------
    headers : iterable of str
        Header cells.

    Returns
    -------
    dict
        Canonical field -> header, for the fields a header was found for.
    """
    headers = [h for h in (str(x) for x in headers) if h.strip()]
    norm = {h: _loose(h).replace("_", " ") for h in headers}
    taken: set[str] = set()
    out: dict[str, str] = {}
    for fld, patterns in _GUESSES:
        for pat in patterns:
            hit = next((h for h in headers if h not in taken and re.search(pat, norm[h])), None)
            if hit is not None:
                out[fld] = hit
                taken.add(hit)
                break
    return out


#: header of a transaction-type column (normalised as by :func:`_loose`)
_TYPE_COLUMN = r"((transaction|txn|document|doc|entry) ?)?type|kind|belegart|type de pi[eè]ce|documentsoort"


def mapping_skeleton(headers: Iterable[str], *, layout: str = "invoices") -> str:
    """A ready-to-edit mapping file for an export with these headers.

    Parameters
    ----------
    headers : iterable of str
        The header cells found in the export.
    layout : str
        Layout to propose ("invoices", "transactions" or "payments").

    Returns
    -------
    str
        TOML text whose ``[columns]`` are pre-filled with best guesses; fields with no guess
        are written as ``"?"`` placeholders (required ones) or commented out (optional ones).
    """
    headers = [h for h in (str(x) for x in headers) if h.strip()]
    guesses = guess_columns(headers)
    lines = [
        "# arinsights mapping file",
        f"# the columns of your file: {', '.join(headers)}",
        f"layout = \"{layout}\"          # what one row is: \"invoices\", \"payments\" or \"transactions\" (with a type column)",
        "# header_row = 1             # 1-based row that holds the column names (default: detected)",
        "# date_order = \"dayfirst\"    # or \"monthfirst\"/\"yearfirst\" when dates like 03/04/25 are ambiguous",
        "# decimal = \",\"              # when amounts use a decimal comma",
        "# currency = \"EUR\"           # when the file carries no currency",
        "[columns]                    # canonical field = column name in your file",
    ]
    order = ["document_id", "customer_id", "customer_name", "document_date", "due_date", "terms", "amount",
             "currency", "disputed", "settled_date", "applied_to", "open_amount"]
    for fld in order:
        if fld in guesses:
            lines.append(f"{fld} = {_toml_str(guesses[fld])}")
        elif fld in REQUIRED[layout]:
            lines.append(f"{fld} = \"?\"   # required: {FIELDS[fld]}")
        else:
            lines.append(f"# {fld} = \"\"   # optional: {FIELDS[fld]}")
    if layout == "transactions":
        type_col = next((h for h in headers if re.fullmatch(_TYPE_COLUMN, _loose(h))), None)
        lines += ["[types]", f"type_column = {_toml_str(type_col)}" if type_col else "type_column = \"?\"",
                  "invoice = [\"Invoice\"]", "payment = [\"Payment\"]", "credit = [\"Credit Note\"]"]
    return "\n".join(lines) + "\n"


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
