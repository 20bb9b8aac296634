"""Invoice durations as of a date: the survival-analysis view of the ledger.

An invoice issued on or before ``as_of`` is *paid* at ``as_of`` when its balance first
reached zero on or before ``as_of``; otherwise it is *open* and its time to payment is
right-censored at ``as_of`` (exactly as ``lifelines.utils.datetimes_to_durations`` does with
``fill_date``). An invoice paid after ``as_of`` is therefore open at ``as_of``: nothing dated
after ``as_of`` (payment dates, allocations) influences anything in the result.

All day counts are floats in days (``(end - start) / 1 day``), so dates of any
``datetime64`` resolution work.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import Durations, Invoices, Payments

_DAY = pd.Timedelta(days=1)

_INVOICE_COLUMNS = (
    Invoices.invoice_id,
    Invoices.customer_id,
    Invoices.invoice_date,
    Invoices.due_date,
    Invoices.amount,
    Invoices.paid_date,
)
_PAYMENT_COLUMNS = (Payments.invoice_id, Payments.payment_date, Payments.amount)

#: column order of the returned frame (the :class:`~arinsights.schema.Durations` model)
DURATION_COLUMNS = list(Durations.to_schema().columns)


def _as_timestamp(as_of) -> pd.Timestamp:
    """Parse ``as_of`` into a time-zone-free :class:`pandas.Timestamp`."""
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        raise InputError(
            f"as_of={as_of!r} is not a date",
            hint="Pass the cut-off date explicitly, e.g. as_of='2026-06-30'.",
        ) from None
    if ts is pd.NaT or pd.isna(ts):
        raise InputError("as_of is missing", hint="Pass the cut-off date explicitly, e.g. as_of='2026-06-30'.")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts


def _require(frame: pd.DataFrame, columns, table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"the {table} table has no column(s) {missing}",
            hint=f"Build the {table} table with arinsights' cleaning step, which produces "
            f"the columns {list(columns)}.",
        )


def _days(end: pd.Series, start) -> pd.Series:
    """``end - start`` in (float) days; NaN where either side is missing."""
    return (end - start) / _DAY


def compute_durations(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of) -> pd.DataFrame:
    """Per-invoice durations as of a date, with open invoices right-censored at ``as_of``.

    Parameters
    ----------
    invoices : pandas.DataFrame
        The canonical invoices table (:class:`~arinsights.schema.Invoices`); uses
        ``invoice_id``, ``customer_id``, ``invoice_date``, ``due_date``, ``amount`` and
        ``paid_date`` (NaT while open).
    payments : pandas.DataFrame or None
        The canonical payments table (:class:`~arinsights.schema.Payments`): allocations of
        cash and credits to invoices. Only allocations with ``payment_date <= as_of`` count
        toward ``open_amount``. ``None``: an open invoice's whole amount is open.
    as_of : str, date or pandas.Timestamp
        The cut-off. Invoices issued after it are left out; payments after it are ignored.

    Returns
    -------
    pandas.DataFrame
        One row per invoice with ``invoice_date <= as_of`` (input order kept), columns of
        :class:`~arinsights.schema.Durations`:

        - ``invoice_id``, ``customer_id``, ``invoice_date``, ``due_date``, ``amount``
        - ``open_amount`` : amount minus allocations dated on or before ``as_of``, clipped to
          ``[0, amount]``; 0 when paid.
        - ``paid`` : bool, the invoice was fully paid on or before ``as_of`` (event flag).
        - ``days_to_pay`` : float >= 0, ``(paid_date if paid else as_of) - invoice_date`` in
          days (the observed or censored duration).
        - ``days_late`` : ``paid_date - due_date`` in days when paid, else NaN.
        - ``age`` : ``as_of - invoice_date`` in days for open invoices, else NaN.
        - ``days_past_due`` : ``as_of - due_date`` in days for open invoices (negative
          while not yet due), else NaN.

    Raises
    ------
    InputError
        When a required column is missing, ``as_of`` is not a date, or an invoice has no
        invoice date.

    Examples
    --------
    >>> inv = pd.DataFrame({
    ...     "invoice_id": ["A", "B", "C"], "customer_id": ["c1", "c1", "c2"],
    ...     "invoice_date": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-02-01"]),
    ...     "due_date": pd.to_datetime(["2024-01-31", "2024-02-09", "2024-03-02"]),
    ...     "amount": [100.0, 50.0, 80.0],
    ...     "paid_date": pd.to_datetime(["2024-01-21", "2024-03-01", None])})
    >>> d = compute_durations(inv, None, "2024-02-15")
    >>> d[["invoice_id", "paid", "days_to_pay", "days_late", "age", "open_amount"]]
      invoice_id   paid  days_to_pay  days_late   age  open_amount
    0          A   True         20.0      -10.0   NaN          0.0
    1          B  False         36.0        NaN  36.0         50.0
    2          C  False         14.0        NaN  14.0         80.0

    Invoice B was paid on 1 March, after the cut-off, so on 15 February it is open at age 36.
    """
    as_of = _as_timestamp(as_of)
    return _DurationsAt(invoices, payments).at(as_of)


class _DurationsAt:
    """:func:`compute_durations` split in two: the date parsing and id matching done once
    (``__init__``), then the table as of any date (:meth:`at`), for callers that need it as
    of several dates (the outlook calibration's past cut-offs).

    Allocations are matched to invoices through integer codes of one factorisation of both
    id columns instead of string-keyed group-bys and maps; the sums per invoice are the same
    pandas group-by sums over the same allocations in the same order, so every number is
    the one :func:`compute_durations` always produced.
    """

    def kept(self, as_of: pd.Timestamp) -> np.ndarray:
        """Boolean mask of the invoices (rows of the table) issued on or before ``as_of``."""
        return (self.invoice_date <= as_of).to_numpy()

    def __init__(self, invoices: pd.DataFrame, payments: pd.DataFrame | None):
        _require(invoices, _INVOICE_COLUMNS, "invoices")
        invoice_date = pd.to_datetime(invoices[Invoices.invoice_date])
        if invoice_date.isna().any():
            row = int(np.flatnonzero(invoice_date.isna().to_numpy())[0])
            raise InputError(
                "an invoice has no invoice date",
                row=row + 1,
                column=Invoices.invoice_date,
                hint="Every invoice needs an invoice date; fix or drop that row during cleaning.",
            )
        self.invoices = invoices
        self.invoice_date = invoice_date
        self.due_date = pd.to_datetime(invoices[Invoices.due_date])
        self.paid_date = pd.to_datetime(invoices[Invoices.paid_date])
        self.amount = invoices[Invoices.amount].astype("float64")
        self.pay = None
        if payments is not None and len(payments):
            _require(payments, _PAYMENT_COLUMNS, "payments")
            pay_inv = payments[Payments.invoice_id]
            has_inv = pay_inv.notna().to_numpy()
            pay_ids = pay_inv[has_inv]
            inv_ids = invoices[Invoices.invoice_id]
            # one code per distinct id over both columns: an allocation and an invoice share
            # a code exactly when Series.map would match them
            codes, _ = pd.factorize(pd.concat([inv_ids.reset_index(drop=True), pay_ids.reset_index(drop=True)],
                                              ignore_index=True))
            self.inv_codes = codes[: len(inv_ids)]
            self.pay = (pd.to_datetime(payments[Payments.payment_date])[has_inv],
                        codes[len(inv_ids):],
                        payments[Payments.amount].astype("float64").to_numpy()[has_inv])

    def at(self, as_of: pd.Timestamp, keep: np.ndarray | None = None) -> pd.DataFrame:
        """The durations table as of ``as_of`` (a parsed :class:`pandas.Timestamp`).

        ``keep`` (optional) is :meth:`kept` of the same date, when the caller has it.
        """
        if keep is None:
            keep = self.kept(as_of)
        inv = self.invoices.loc[keep]
        invoice_date = self.invoice_date.loc[keep]
        due_date = self.due_date.loc[keep]
        paid_date = self.paid_date.loc[keep]
        amount = self.amount.loc[keep]

        paid = (paid_date <= as_of).fillna(False).astype(bool)
        paid_np = paid.to_numpy()

        # observed (paid) or censored (open) duration; a paid date before the invoice date is a
        # data error upstream: count it as paid the same day rather than a negative duration.
        end = paid_date.where(paid, as_of)
        days_to_pay = _days(end, invoice_date).clip(lower=0.0)
        days_late = _days(paid_date, due_date).where(paid)
        age = _days(pd.Series(as_of, index=inv.index), invoice_date).where(~paid)
        days_past_due = (-_days(due_date, as_of)).where(~paid)

        if self.pay is not None:
            pay_date, pay_code, pay_amount = self.pay
            usable = (pay_date <= as_of).to_numpy()
            allocated = pd.Series(pay_amount[usable]).groupby(pay_code[usable]).sum()
            applied = pd.Series(self.inv_codes[keep], index=inv.index).map(allocated).fillna(0.0).astype("float64")
        else:
            applied = pd.Series(0.0, index=inv.index)
        open_amount = (amount - applied).clip(lower=0.0)
        open_amount = open_amount.where(open_amount <= amount, amount)
        open_amount = open_amount.where(~paid, 0.0)

        out = pd.DataFrame(
            {
                Durations.invoice_id: inv[Invoices.invoice_id].reset_index(drop=True),
                Durations.customer_id: inv[Invoices.customer_id].reset_index(drop=True),
                Durations.invoice_date: invoice_date.to_numpy(),
                Durations.due_date: due_date.to_numpy(),
                Durations.amount: amount.to_numpy(),
                Durations.open_amount: open_amount.to_numpy(dtype="float64"),
                Durations.paid: paid_np,
                Durations.days_to_pay: days_to_pay.to_numpy(dtype="float64"),
                Durations.days_late: days_late.to_numpy(dtype="float64"),
                Durations.age: age.to_numpy(dtype="float64"),
                Durations.days_past_due: days_past_due.to_numpy(dtype="float64"),
            }
        )
        return out[DURATION_COLUMNS]
