"""Layout recognition: which export is this, and which row holds its column names.

Each layout is recognised by its headers, compared case-, space-, accent- and
punctuation-insensitively (:func:`~._base.norm_header`). A layout has *signature* groups
(every group needs one matching header) and aliases per canonical field; the header row is
the row among the first non-blank rows that matches a layout's signature with the most
recognised headers. Ties go to the more specific layout (the order of :data:`SPECS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...errors import InputError
from ...schema import Transactions as T
from ..mapping import FIELDS, REQUIRED, guess_columns, mapping_skeleton
from ._base import blank_mask, grid_cells, nonblank_count, norm_header

#: non-blank rows scanned for the header row
HEADER_SCAN_ROWS = 30

_CUSTOMER_IDS = ["customerid", "customerno", "customernumber", "customercode", "customeraccount", "accountno",
                 "accountnumber", "custid", "customer_id"]
_CUSTOMER_NAMES = ["customer", "customername", "customerfullname", "name", "client", "clientname"]


@dataclass(frozen=True)
class Spec:
    """How to recognise one layout.

    Attributes
    ----------
    name : str
        Layout name.
    fields : dict
        Canonical field -> normalised header aliases, best first. Besides the Transactions
        fields: ``type`` (document type), ``terms``, ``status``, ``derived_days`` /
        ``derived_late`` (derived columns of the generic list), ``clearing_document``.
    signature : tuple of frozenset
        Every group must be matched by one header for the layout to be a candidate.
    required : tuple of tuple
        Field groups; each group needs one of its fields mapped, else the file is missing a
        required column.
    labels : dict
        Field -> the column name shown in messages.
    """

    name: str
    fields: dict[str, list[str]]
    signature: tuple[frozenset, ...]
    required: tuple[tuple[str, ...], ...]
    labels: dict[str, str] = field(default_factory=dict)

    def known(self) -> set[str]:
        return {a for aliases in self.fields.values() for a in aliases}

    def assign(self, headers: list[str]) -> dict[str, int]:
        """Field -> column position for a header row (each column used once)."""
        keys = [norm_header(h) for h in headers]
        taken: set[int] = set()
        out: dict[str, int] = {}
        for fld, aliases in self.fields.items():
            for alias in aliases:
                pos = next((i for i, k in enumerate(keys) if k == alias and i not in taken), None)
                if pos is not None:
                    out[fld] = pos
                    taken.add(pos)
                    break
        return out


def _sig(*groups: list[str]) -> tuple[frozenset, ...]:
    return tuple(frozenset(g) for g in groups)


GENERIC = Spec(
    "generic",
    {T.customer_id: ["customerid"], T.document_id: ["invoicenumber"], T.document_date: ["invoicedate"],
     T.due_date: ["duedate"], T.amount: ["invoiceamount"], T.disputed: ["disputed"],
     T.settled_date: ["settleddate"], "derived_days": ["daystosettle"], "derived_late": ["dayslate"],
     T.customer_name: ["customername"], T.currency: ["currency"]},
    _sig(["customerid"], ["invoicenumber"], ["settleddate"]),
    ((T.customer_id,), (T.document_id,), (T.document_date,), (T.amount,)),
    {T.customer_id: "customerID", T.document_id: "invoiceNumber", T.document_date: "InvoiceDate",
     T.amount: "InvoiceAmount"},
)

_TX_FIELDS = {
    "type": ["type", "transactiontype", "txntype"],
    T.document_date: ["date", "transactiondate", "txndate"],
    T.document_id: ["number", "num", "no", "docnumber", "documentnumber", "refno"],
    T.customer_id: _CUSTOMER_IDS,
    T.customer_name: _CUSTOMER_NAMES,
    T.due_date: ["duedate"],
    T.amount: ["amount"],
    T.applied_to: ["appliedto", "appliedtoinvoice"],
    T.open_amount: ["openbalance"],
    T.currency: ["currency"],
    # optional dispute flag of invoice rows (Yes / No / X / blank, read by parse_flags)
    T.disputed: ["disputed", "dispute", "indispute", "disputestatus", "disputeflag"],
    "memo": ["memo", "memodescription", "description"],
}
TRANSACTIONS = Spec(
    "transactions", _TX_FIELDS,
    _sig(["type", "transactiontype", "txntype"], ["date", "transactiondate", "txndate"], ["amount"],
         _CUSTOMER_IDS + _CUSTOMER_NAMES),
    (("type",), (T.document_date,), (T.amount,), (T.document_id,), (T.customer_id, T.customer_name)),
    {"type": "Type", T.document_date: "Date", T.amount: "Amount", T.document_id: "Number",
     T.customer_id: "Customer"},
)
QUICKBOOKS = Spec(
    "quickbooks_aging", _TX_FIELDS,
    # an aging / open-invoices report always has its "Open balance" column; a plain
    # transaction list (even one exported from QuickBooks) does not
    _sig(["type", "transactiontype", "txntype"], ["date", "transactiondate", "txndate"], ["amount"], ["openbalance"]),
    (("type",), (T.document_date,), (T.amount,)),
    {"type": "Transaction type", T.document_date: "Date", T.amount: "Amount"},
)
# Invoice and payment lists kept in a spreadsheet by a company working in German, French,
# Dutch, Spanish, Italian or Portuguese name their columns in that language (normalised as by
# norm_header: "N° facture" -> "nfacture", "Nº factura" -> "nofactura"). The English names
# come first in each field's aliases; SAP's own names (Beleg...) stay with the SAP layout.
_LOCAL_INVOICE_IDS = (["rechnungsnummer", "rechnungsnr", "rechnungnr", "renr", "rgnr", "rechnung"]
                      + ["numerodefacture", "numerofacture", "nfacture", "nofacture", "numfacture", "facture"]
                      + ["factuurnummer", "factuurnr", "factuur"]
                      + ["numerodefactura", "numerofactura", "nfactura", "nofactura", "numfactura", "factura"]
                      + ["numerofattura", "nfattura", "nofattura", "fattura"]
                      + ["numerodafatura", "numerofatura", "nfatura", "nofatura", "fatura"])
_INVOICE_IDS = ["invoicenumber", "invoiceno", "invoicenum", "invoiceid", "invoice", "invoiceref"] + _LOCAL_INVOICE_IDS
_LOCAL_CUSTOMER_IDS = ["kundennummer", "kundennr", "debitorennummer", "debitorennr", "codeclient", "numeroclient",
                       "numerodeclient", "klantnummer", "klantnr", "debiteurnummer", "debiteurnr", "codigocliente",
                       "codigodecliente", "numerodecliente", "codicecliente", "codigodocliente"]
_LOCAL_CUSTOMER_NAMES = ["kunde", "kundenname", "debitor", "client", "nomclient", "nomduclient", "klant", "klantnaam",
                         "debiteur", "cliente", "nombrecliente", "nombredelcliente", "ragionesociale",
                         "nomedocliente"]
_INVOICE_DATES = (["invoicedate", "date", "issuedate"]
                  + ["rechnungsdatum", "datum", "datefacture", "datedefacture", "factuurdatum", "fechafactura",
                     "fechadefactura", "fecha", "datafattura", "datadafatura", "data"])
_INVOICE_AMOUNTS = (["amount", "total", "invoicetotal", "invoiceamount", "grossamount"]
                    + ["betrag", "bruttobetrag", "gesamtbetrag", "rechnungsbetrag", "montant", "montantttc",
                       "montanttotal", "totalttc", "bedrag", "totaalbedrag", "factuurbedrag", "importe",
                       "importetotal", "importo", "importototale", "totale", "valor", "valortotal"])
_CUSTOMERS = _CUSTOMER_IDS + _CUSTOMER_NAMES + _LOCAL_CUSTOMER_IDS + _LOCAL_CUSTOMER_NAMES
_CURRENCIES = ["currency", "curr", "ccy", "wahrung", "devise", "monnaie", "valuta", "moneda", "divisa", "moeda"]
INVOICES = Spec(
    "invoices",
    {T.document_id: _INVOICE_IDS,
     T.customer_id: _CUSTOMER_IDS + _LOCAL_CUSTOMER_IDS, T.customer_name: _CUSTOMER_NAMES + _LOCAL_CUSTOMER_NAMES,
     T.document_date: _INVOICE_DATES,
     T.due_date: ["duedate", "falligkeitsdatum", "falligam", "fallig", "falligkeit", "dateecheance",
                  "datedecheance", "echeance", "vervaldatum", "fechavencimiento", "fechadevencimiento",
                  "vencimiento", "datascadenza", "scadenza", "datadevencimento", "vencimento"],
     "terms": ["terms", "paymentterms", "zahlungsbedingungen", "zahlungsziel", "conditionsdepaiement",
               "conditionsdereglement", "betalingsvoorwaarden", "betalingstermijn", "condicionesdepago",
               "plazodepago", "condizionidipagamento", "terminidipagamento", "condicoesdepagamento"],
     T.amount: _INVOICE_AMOUNTS,
     T.currency: _CURRENCIES, T.disputed: ["disputed"],
     T.settled_date: ["settleddate", "paiddate", "datepaid", "bezahltam", "ausgeglichenam", "betaaldop"],
     T.open_amount: ["openbalance", "amountdue", "offen", "offenerbetrag", "restbetrag", "resteapayer",
                     "montantrestant", "montantdu", "openstaand", "openstaandbedrag", "pendiente",
                     "importependiente", "residuo", "importoresiduo", "valoremaberto"]},
    _sig(_INVOICE_IDS, _INVOICE_DATES, _INVOICE_AMOUNTS, _CUSTOMERS),
    ((T.document_id,), (T.customer_id, T.customer_name), (T.document_date,), (T.amount,)),
    {T.document_id: "Invoice Number", T.customer_id: "Customer", T.document_date: "Invoice Date",
     T.amount: "Amount"},
)
_PAYMENT_IDS = (["paymentid", "reference", "paymentreference", "paymentref", "paymentno", "paymentnumber",
                 "receiptno", "receiptnumber"]
                + ["zahlungsnummer", "zahlungsnr", "referenz", "numerodepaiement", "numeropaiement", "betalingsnummer",
                   "referentie", "numerodepago", "numeropago", "referencia", "numeropagamento", "riferimento",
                   "numerodopagamento"])
_PAYMENT_DATES = (["paymentdate", "receiptdate"]
                  + ["zahlungsdatum", "zahlungseingang", "eingangsdatum", "datedepaiement", "datepaiement",
                     "datedereglement", "datereglement", "betaaldatum", "fechadepago", "fechapago", "fechadecobro",
                     "fechacobro", "datapagamento", "datadipagamento", "datadepagamento", "datadopagamento"])
_PAYMENT_DAYS = _PAYMENT_DATES + ["date", "datum", "fecha", "data"]  # the column of the payment's date
_PAYMENT_AMOUNTS = ["amount", "paymentamount", "zahlungsbetrag", "betrag", "montant", "bedrag", "importe", "importo",
                    "valor"]
PAYMENTS = Spec(
    "payments",
    {T.document_id: _PAYMENT_IDS, T.customer_id: _CUSTOMER_IDS + _LOCAL_CUSTOMER_IDS,
     T.customer_name: _CUSTOMER_NAMES + _LOCAL_CUSTOMER_NAMES,
     T.document_date: _PAYMENT_DAYS,
     T.amount: _PAYMENT_AMOUNTS,
     T.applied_to: ["invoicenumber", "invoiceno", "appliedto", "invoice", "invoiceid"] + _LOCAL_INVOICE_IDS,
     T.currency: _CURRENCIES},
    _sig(_PAYMENT_IDS + _PAYMENT_DATES, _PAYMENT_DAYS, _PAYMENT_AMOUNTS,
         _CUSTOMERS),
    ((T.customer_id, T.customer_name), (T.document_date,), (T.amount,)),
    {T.customer_id: "Customer", T.document_date: "Payment Date", T.amount: "Amount"},
)
XERO = Spec(
    "xero_invoices",
    {T.customer_name: ["contactname"], T.document_id: ["invoicenumber"], "reference": ["reference"],
     T.document_date: ["invoicedate"], T.due_date: ["duedate"], T.amount: ["total"],
     "amount_paid": ["invoiceamountpaid"], T.open_amount: ["invoiceamountdue"],
     T.currency: ["currency"], "type": ["type"], "status": ["status"],
     T.settled_date: ["fullypaidondate", "paiddate"]},
    _sig(["contactname"], ["invoicenumber"], ["total"], ["invoiceamountdue", "invoiceamountpaid", "type"]),
    ((T.customer_name,), (T.document_id,), (T.document_date,), (T.amount,), ("type",)),
    {T.customer_name: "ContactName", T.document_id: "InvoiceNumber", T.document_date: "InvoiceDate",
     T.amount: "Total", "type": "Type"},
)
XERO_AGED = Spec(
    "xero_aged_receivables",
    {T.document_date: ["invoicedate", "date"], T.document_id: ["invoicenumber", "number"],
     "reference": ["invoicereference", "reference"], T.due_date: ["duedate"], T.amount: ["total"],
     "current": ["current"], "older": ["older"], "m1": ["1month"], "m2": ["2months"], "m3": ["3months"]},
    _sig(["invoicenumber", "number"], ["total"], ["current", "older", "1month", "2months", "3months"],
         ["duedate"]),
    ((T.document_id,), (T.document_date,), (T.amount,)),
    {T.document_id: "Invoice Number", T.document_date: "Invoice Date", T.amount: "Total"},
)
_SAP_DOC = ["documentnumber", "documentno", "belegnummer", "belegnr", "npiece", "nopiece", "numerodepiece",
            "documentnummer"]
_SAP_TYPE = ["documenttype", "belegart", "typedepiece", "documentsoort"]
_SAP_AMOUNT = ["amountinlocalcurrency", "amountinlc", "betraginhauswahrung", "betraginhw", "montantendeviseinterne",
               "bedraginlokalevaluta"]
SAP = Spec(
    "sap_fbl5n",
    {T.customer_id: ["account", "customer", "konto", "debitor", "compte", "rekening", "klant"],
     "assignment": ["assignment", "zuordnung", "affectation", "toewijzing"],
     T.document_id: _SAP_DOC, "type": _SAP_TYPE,
     T.document_date: ["documentdate", "belegdatum", "datedepiece", "documentdatum"],
     "posting_date": ["postingdate", "buchungsdatum", "datecomptable", "boekingsdatum"],
     T.due_date: ["netduedate", "nettofalligkeit", "nettofalligkeitsdatum", "datedecheancenette",
                  "nettovervaldatum"],
     "arrears": ["arrearsafternetduedate", "verzugnachnettofalligkeit", "retardapresecheancenette",
                 "achterstandnanettovervaldatum"],
     T.amount: _SAP_AMOUNT,
     T.currency: ["localcurrency", "hauswahrung", "deviseinterne", "lokalevaluta", "currency"],
     T.settled_date: ["clearingdate", "ausgleichsdatum", "datedecompensation", "vereffeningsdatum"],
     "clearing_document": ["clearingdocument", "ausgleichsbeleg", "piecedecompensation", "vereffeningsdocument"],
     "text": ["text", "texte", "tekst"],
     # SAP terms are keys (ZB30, 0001), not day counts: kept out of terms_days
     "terms_key": ["termsofpayment", "zahlungsbedingung", "conditionsdepaiement", "betalingsconditie"]},
    _sig(_SAP_DOC, _SAP_TYPE, _SAP_AMOUNT),
    ((T.customer_id,), (T.document_id,), ("type",), (T.document_date, "posting_date"), (T.amount,)),
    {T.customer_id: "Account", T.document_id: "Document Number", "type": "Document Type",
     T.document_date: "Document Date", T.amount: "Amount in local currency"},
)

#: layouts in tie-break order (most specific first)
SPECS = (SAP, XERO, XERO_AGED, QUICKBOOKS, TRANSACTIONS, GENERIC, PAYMENTS, INVOICES)
SPEC_BY_NAME = {s.name: s for s in SPECS}


def _candidate_rows(cells: pd.DataFrame) -> np.ndarray:
    nonblank = np.flatnonzero(~blank_mask(cells.iloc[: HEADER_SCAN_ROWS * 4]))
    return nonblank[:HEADER_SCAN_ROWS]


def _quickbooks_evidence(cells: pd.DataFrame, header_idx: int) -> bool:
    """A QuickBooks report: title lines above the header or a blank first header cell."""
    above = cells.iloc[:header_idx]
    titled = len(above) > 0 and bool((nonblank_count(above) == 1).any())
    return titled or cells.iat[header_idx, 0] == ""


def score_rows(cells: pd.DataFrame) -> list[tuple[int, str, int]]:
    """Every (score, layout, header row position) candidate among the first non-blank rows."""
    out = []
    seen: set[tuple] = set()
    for idx in _candidate_rows(cells):
        row = tuple(cells.iloc[idx].tolist())
        if row in seen:  # a repeated header (page break) is not a new candidate
            continue
        seen.add(row)
        keys = {norm_header(c) for c in row if c}
        for rank, spec in enumerate(SPECS):
            if not all(keys & g for g in spec.signature):
                continue
            if spec is QUICKBOOKS and not _quickbooks_evidence(cells, idx):
                continue
            out.append((len(keys & spec.known()), -rank, -int(idx), spec.name))
    return [(s, name, -idx) for s, _, idx, name in sorted(out, reverse=True)]


def detect_layout(grid, *, cells: pd.DataFrame | None = None) -> tuple[str, int]:
    """Recognise an export's layout from its headers.

    Parameters
    ----------
    grid : Grid
        The file's cells (:func:`~arinsights.ingest.textio.read_grid`).
    cells : pandas.DataFrame, optional
        ``grid_cells(grid)`` when the caller has it already.

    Returns
    -------
    (layout, header_idx) : (str, int)
        Layout name and the position of the header row in ``grid.cells``.

    Raises
    ------
    InputError
        Empty file, or no known layout: the message lists the columns found and a
        ready-to-edit mapping file with best guesses.
    """
    cells = grid_cells(grid) if cells is None else cells
    if len(cells) == 0 or (len(_candidate_rows(cells)) == 0 and blank_mask(cells).all()):
        raise InputError("the file is empty", file=str(grid.file),
                         hint="Export the ledger again; the file has no rows.")
    scored = score_rows(cells)
    if scored:
        _, name, idx = scored[0]
        return name, idx
    raise unknown_layout_error(grid, cells)


def likely_header(cells: pd.DataFrame) -> int:
    """Position of the row that looks most like a header (most non-numeric text cells)."""
    best, best_n = 0, -1
    for idx in _candidate_rows(cells):
        vals = [str(v).strip() for v in cells.iloc[idx].tolist()]
        n = sum(1 for v in vals if v and not any(ch.isdigit() for ch in v))
        if n > best_n:
            best, best_n = int(idx), n
    return best


def unknown_layout_error(grid, cells: pd.DataFrame | None = None) -> InputError:
    """The error for an unrecognised file, with a mapping skeleton built from its headers."""
    cells = grid_cells(grid) if cells is None else cells
    idx = likely_header(cells)
    headers = [str(v).strip() for v in cells.iloc[idx].tolist() if str(v).strip()]
    if sum(1 for h in headers if not any(ch.isdigit() for ch in h)) < 2:
        # no line has two column names: a title/total-only report (or one value per line)
        first = [v for v in (str(x).strip() for x in cells.iloc[:20].to_numpy(dtype=object).ravel()) if v][:4]
        return InputError(
            f"no line of column names was found: no line has two names in it (the file starts with {first}); "
            "it looks like a summary holding only titles and totals",
            file=str(grid.file),
            hint="Export the detailed report (one line per invoice or payment, with a line of column names).")
    keys = {norm_header(h) for h in headers}
    layout = "transactions" if keys & {"type", "transactiontype", "kind"} else (
        "payments" if any("payment" in k for k in keys) and not any("invoicedate" in k for k in keys) else "invoices")
    guessed = guess_columns(headers)
    missing = [f"{FIELDS[f]} ({f})" for f in REQUIRED[layout] if f not in guessed]
    return InputError(
        f"could not recognise the layout of {grid.file}: columns found: {headers}. "
        + (f"No column looks like the {'; nor the '.join(missing)}: add it to the export, or name it in the "
           "mapping where it says \"?\". " if missing else "")
        + "Write a mapping file like this and pass it with --mapping:",
        file=str(grid.file),
        hint=mapping_skeleton(headers, layout=layout),
    )


def missing_required(spec: Spec, fields: dict[str, int], headers: list[str], file: str) -> None:
    """Raise an InputError naming the first required column the recognised layout lacks."""
    for group in spec.required:
        if not any(g in fields for g in group):
            fld = group[0]
            names = spec.fields.get(fld, [])
            label = spec.labels.get(fld, fld)
            found = [h for h in headers if h.strip()]
            raise InputError(
                f"this looks like a {spec.name} export but the column {label!r} is missing "
                f"(accepted names: {', '.join(names)}); columns found: {found}",
                file=file, column=label,
                hint="Export the report again with that column, or describe the file in a mapping file "
                     "(see docs/mapping.md) and pass it with --mapping.",
            )
