"""Column names and contracts of every table arinsights passes between stages.

One :class:`pandera.pandas.DataFrameModel` per table. Attribute access on a model gives the
column name (``Invoices.invoice_id == "invoice_id"``), so code never retypes a column name
as a string literal: write ``df[Invoices.amount]``.

Stages and their tables (see the design notes, section 3):

* readers  -> :class:`Transactions` (one row per data row of an export, typed and parsed)
* cleaning -> :class:`Invoices`, :class:`Payments`, :class:`Rejects`, :class:`Skipped`
* behaviour -> :class:`Durations`, :class:`CustomerWindows`, :class:`OpenInvoiceOutlook`,
  :class:`PayRuns`, :class:`InvoiceFeatures`
* playbook -> :class:`Segments`, :class:`Worklist`

Dates are ``datetime64`` (any resolution, no time zone), amounts ``float64`` in the
document currency, identifiers strings (leading zeros kept).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

# Document kinds in Transactions.kind / Payments.kind
KIND_INVOICE = "invoice"
KIND_PAYMENT = "payment"
KIND_CREDIT = "credit"

# Invoices.settled_by
SETTLED_PAYMENT = "payment"
SETTLED_CREDIT = "credit"
SETTLED_MIXED = "mixed"
#: paid in full before the snapshot date of the aging export that is its only record, on a date
#: the export does not give: paid_date is the snapshot date (the first day the ledger knows it
#: paid), so balances are right from then on, but it is no observation of how the customer pays
SETTLED_BEFORE_SNAPSHOT = "before snapshot"

#: payment_id prefix of the part of a snapshot-only invoice paid before the snapshot (dated the
#: snapshot date; the real date is unknown)
BEFORE_SNAPSHOT = "before-snapshot:"


class _Base(pa.DataFrameModel):
    class Config:
        strict = False  # later stages may carry extra columns
        coerce = False


class Transactions(_Base):
    """Parsed export rows, one per data row a reader kept (before cleaning).

    Amounts are positive magnitudes; ``kind`` says whether the row is an invoice, a
    payment (cash received) or a credit (credit note / memo). Readers fill what their
    layout has and leave the rest missing.
    """

    source: Series[str] = pa.Field(description="'file:row' provenance: the file's name and the row "
                                               "(its path when two files of a load share a name)")
    file: Series[str]
    row: Series[int] = pa.Field(ge=1, description="1-based line (text) or sheet row (Excel)")
    kind: Series[str] = pa.Field(isin=[KIND_INVOICE, KIND_PAYMENT, KIND_CREDIT])
    document_id: Series[str] = pa.Field(nullable=True)
    customer_id: Series[str]
    customer_name: Series[str] = pa.Field(nullable=True)
    document_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    due_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    terms_days: Series[float] = pa.Field(nullable=True, ge=0)
    amount: Series[float] = pa.Field(ge=0)
    currency: Series[str] = pa.Field(nullable=True)
    disputed: Series[object] = pa.Field(nullable=True, description="True/False/None")
    settled_date: Series[pd.Timestamp] = pa.Field(nullable=True, description="clearing date given by the export")
    applied_to: Series[str] = pa.Field(nullable=True, description="invoice a payment/credit references")
    open_amount: Series[float] = pa.Field(nullable=True, description="open balance in a snapshot export")
    snapshot_date: Series[pd.Timestamp] = pa.Field(nullable=True, description="as-of date of a snapshot export")
    line_of: Series[str] = pa.Field(nullable=True, description="document id when the row is one line of a multi-line document")


class Invoices(_Base):
    """One row per invoice (credit notes are settlements, not invoices)."""

    invoice_id: Series[str] = pa.Field(unique=True)
    customer_id: Series[str]
    customer_name: Series[str] = pa.Field(nullable=True)
    invoice_date: Series[pd.Timestamp]
    due_date: Series[pd.Timestamp]
    amount: Series[float] = pa.Field(gt=0)
    currency: Series[str]
    disputed: Series[bool]
    paid_date: Series[pd.Timestamp] = pa.Field(nullable=True, description="open balance first reached zero")
    settled_by: Series[str] = pa.Field(nullable=True, isin=[SETTLED_PAYMENT, SETTLED_CREDIT, SETTLED_MIXED,
                                                                           SETTLED_BEFORE_SNAPSHOT])
    source: Series[str]


class Payments(_Base):
    """Cash and credits applied to invoices: one row per (payment, invoice) allocation.

    A payment that covers several invoices has several rows with the same ``payment_id``;
    unapplied cash has a missing ``invoice_id``. ``kind`` is "payment" or "credit".
    """

    payment_id: Series[str]
    customer_id: Series[str]
    payment_date: Series[pd.Timestamp]
    amount: Series[float] = pa.Field(gt=0)
    invoice_id: Series[str] = pa.Field(nullable=True)
    kind: Series[str] = pa.Field(isin=[KIND_PAYMENT, KIND_CREDIT])
    currency: Series[str]
    source: Series[str]


class Rejects(_Base):
    """Input rows that could not be used, with the reason and the raw values."""

    source: Series[str]
    file: Series[str]
    row: Series[int]
    reason: Series[str]
    raw: Series[str] = pa.Field(description="the row as read, 'column=value' pairs")
    amount: Series[float] = pa.Field(nullable=True, description="parsed amount when it could be parsed")


class Skipped(_Base):
    """Rows a reader skipped by a named rule (titles, subtotals, blank lines, footers)."""

    file: Series[str]
    row: Series[int]
    rule: Series[str]
    amount: Series[float] = pa.Field(nullable=True)


class Merged(_Base):
    """Rows cleaning folded into another row (exact duplicates, invoice lines, snapshot rows
    of known invoices, repeated documents, cleared items)."""

    file: Series[str]
    row: Series[int]
    rule: Series[str] = pa.Field(isin=["exact_duplicate", "invoice_line", "snapshot_of_known_invoice",
                                       "repeated_document", "repeated_payment", "repeated_payment_conflict",
                                       "cleared_item"])
    amount: Series[float] = pa.Field(nullable=True)
    into: Series[str] = pa.Field(nullable=True, description="source of the row it was folded into")


class Durations(_Base):
    """Per invoice as of a date; invoices paid after ``as_of`` are open (censored)."""

    invoice_id: Series[str]
    customer_id: Series[str]
    invoice_date: Series[pd.Timestamp]
    due_date: Series[pd.Timestamp]
    amount: Series[float]
    open_amount: Series[float] = pa.Field(description="balance still open at as_of")
    paid: Series[bool] = pa.Field(description="event flag: fully paid on or before as_of")
    days_to_pay: Series[float] = pa.Field(ge=0, description="(paid_date or as_of) - invoice_date")
    days_late: Series[float] = pa.Field(nullable=True, description="paid_date - due_date; NaN when open")
    age: Series[float] = pa.Field(nullable=True, description="as_of - invoice_date for open invoices")
    days_past_due: Series[float] = pa.Field(nullable=True, description="as_of - due_date for open invoices")


class CustomerWindows(_Base):
    """DaysToPayModel output: each customer's days-to-pay distribution (the usual window)."""

    customer_id: Series[str]
    n_paid: Series[int]
    n_open: Series[int]
    median_days: Series[float]
    p80_days: Series[float]
    p90_days: Series[float]
    shrinkage_weight: Series[float] = pa.Field(ge=0, le=1, description="weight on the customer's own fit")


class OpenInvoiceOutlook(_Base):
    """DaysToPayModel output for open invoices: chance of payment given still open at age a."""

    invoice_id: Series[str]
    customer_id: Series[str]
    age: Series[float]
    p_pay_7: Series[float] = pa.Field(ge=0, le=1)
    p_pay_30: Series[float] = pa.Field(ge=0, le=1)
    p_pay_60: Series[float] = pa.Field(ge=0, le=1)
    expected_pay_date: Series[pd.Timestamp] = pa.Field(nullable=True)


class PayRuns(_Base):
    """Detected payment runs per customer."""

    customer_id: Series[str]
    n_payments: Series[int]
    pattern: Series[str] = pa.Field(isin=["weekday", "day_of_month", "month_end", "none"])
    day: Series[float] = pa.Field(nullable=True, description="0=Mon..6=Sun, or 1..31 day of month")
    strength: Series[float] = pa.Field(nullable=True)
    p_value: Series[float] = pa.Field(nullable=True)
    next_run: Series[pd.Timestamp] = pa.Field(nullable=True, description="next expected pay run after as_of")


class InvoiceFeatures(_Base):
    """As-of invoice features (behaviour.features): only what was known on the issue date.

    History features are NaN when the customer had no such history before the invoice.
    ``late`` and ``outcome_known_date`` are the label, kept apart from the features.
    """

    invoice_id: Series[str]
    customer_id: Series[str]
    invoice_date: Series[pd.Timestamp]
    due_date: Series[pd.Timestamp]
    prior_invoice_count: Series[float] = pa.Field(ge=0, description="invoices issued before this one")
    prior_paid_count: Series[float] = pa.Field(ge=0, description="invoices paid before the issue date")
    prior_late_share: Series[float] = pa.Field(nullable=True, ge=0, le=1)
    prior_mean_days_late: Series[float] = pa.Field(nullable=True)
    prior_median_days_late: Series[float] = pa.Field(nullable=True)
    recent_trend_days_late: Series[float] = pa.Field(nullable=True, description="mean of last k minus long-run mean")
    open_count_at_issue: Series[float] = pa.Field(ge=0)
    open_balance_at_issue: Series[float] = pa.Field(ge=0)
    overdue_count_at_issue: Series[float] = pa.Field(ge=0, description="open and > grace days past due at issue")
    overdue_balance_at_issue: Series[float] = pa.Field(ge=0)
    days_since_last_payment: Series[float] = pa.Field(nullable=True)
    amount_to_prior_median: Series[float] = pa.Field(nullable=True)
    amount: Series[float]
    terms_days: Series[float]
    disputed: Series[float] = pa.Field(isin=[0.0, 1.0])
    issue_weekday: Series[float]
    issue_day: Series[float]
    issue_days_to_month_end: Series[float]
    modal_pay_weekday: Series[float] = pa.Field(nullable=True)
    modal_pay_weekday_share: Series[float] = pa.Field(nullable=True)
    days_to_modal_pay_weekday: Series[float] = pa.Field(nullable=True)
    mean_pay_day: Series[float] = pa.Field(nullable=True)
    pay_day_concentration: Series[float] = pa.Field(nullable=True)
    days_to_mean_pay_day: Series[float] = pa.Field(nullable=True)
    dtp_loc_shrunk: Series[float] = pa.Field(nullable=True, description="shrunk mean of log(1 + days_to_pay)")
    dtp_scale_shrunk: Series[float] = pa.Field(nullable=True, description="shrunk sd of log(1 + days_to_pay)")
    late: Series[float] = pa.Field(nullable=True, isin=[0.0, 1.0], description="label; NaN while unknowable")
    outcome_known_date: Series[pd.Timestamp] = pa.Field(nullable=True)


class Segments(_Base):
    """One row per customer as of the report date."""

    customer_id: Series[str]
    customer_name: Series[str] = pa.Field(nullable=True)
    segment: Series[str] = pa.Field(isin=["ghost", "new", "habitual", "drifting", "slipped", "irregular", "reliable"])
    action: Series[str]
    next_action_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    open_amount: Series[float]
    reasons: Series[str]


class CustomerHistory(_Base):
    """Per customer as of the report date: paid history in the look-back and what is open
    (``arinsights.playbook.segments.customer_history``). On time = paid within grace of due,
    or by the customer's first pay run on/after due (plus the pay-run grace)."""

    customer_id: Series[str]
    customer_name: Series[str] = pa.Field(nullable=True)
    currency: Series[str] = pa.Field(nullable=True)
    n_paid: Series[int] = pa.Field(ge=0)
    n_on_time: Series[int] = pa.Field(ge=0)
    on_time_share: Series[float] = pa.Field(nullable=True, ge=0, le=1)
    n_late_by_terms: Series[int] = pa.Field(ge=0, description="paid more than grace_days after due")
    n_run_explained: Series[int] = pa.Field(ge=0, description="late by terms but paid on the first run after due")
    median_days_late: Series[float] = pa.Field(nullable=True, description="vs due, or vs the first pay run on/after due")
    median_days_late_terms: Series[float] = pa.Field(nullable=True, description="paid_date - due_date")
    recent_mean_days_to_pay: Series[float] = pa.Field(nullable=True, description="mean over the last k paid")
    earlier_on_time_share: Series[float] = pa.Field(nullable=True, description="on-time share before the last k paid")
    long_run_p80_days: Series[float] = pa.Field(
        nullable=True, description="p80 days-to-pay of the paid invoices before the last k (the drift baseline)")
    last_payment_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    days_since_payment: Series[float] = pa.Field(nullable=True)
    open_amount: Series[float]
    n_open: Series[int] = pa.Field(ge=0)
    n_disputed_open: Series[int] = pa.Field(ge=0, description="open invoices flagged disputed")
    oldest_open_age: Series[float] = pa.Field(nullable=True, description="non-disputed open invoices")
    max_days_past_due: Series[float] = pa.Field(nullable=True, description="non-disputed open invoices")
    earliest_open_due_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    typical_monthly_payment: Series[float] = pa.Field(nullable=True, description="median cash per month with payments")
    typical_terms_days: Series[float] = pa.Field(nullable=True, description="median due - invoice date")
    pay_run_pattern: Series[str]
    pay_run_day: Series[float] = pa.Field(nullable=True)
    next_run: Series[pd.Timestamp] = pa.Field(nullable=True)


class SegmentEvidence(CustomerHistory):
    """The numbers behind a segment, carried on the Segments frame beside its columns."""

    median_days: Series[float] = pa.Field(nullable=True)
    p80_days: Series[float] = pa.Field(nullable=True)
    p90_days: Series[float] = pa.Field(nullable=True)
    n_out_of_window: Series[int] = pa.Field(ge=0, description="open invoices past window and pay run")
    worst_invoice_id: Series[str] = pa.Field(nullable=True, description="oldest out-of-window (else oldest) open invoice")
    worst_invoice_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    worst_invoice_age: Series[float] = pa.Field(nullable=True)
    worst_invoice_amount: Series[float] = pa.Field(nullable=True, description="its open amount")
    next_check_date: Series[pd.Timestamp] = pa.Field(nullable=True, description="first day an open invoice may be chased")
    p_pay_30: Series[float] = pa.Field(nullable=True, description="open-amount weighted P(paid within 30 days)")
    p_next_late: Series[float] = pa.Field(nullable=True, description="lateness model, when given")
    p_open_late: Series[float] = pa.Field(nullable=True, description="lateness model, when given")


class Actions(_Base):
    """Recommended playbook actions: one row per action (a customer may have several,
    e.g. a reminder and a billing-date change). Same columns as :class:`Segments`."""

    customer_id: Series[str]
    customer_name: Series[str] = pa.Field(nullable=True)
    segment: Series[str]
    action: Series[str]
    next_action_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    open_amount: Series[float]
    reasons: Series[str]


class Worklist(_Base):
    """One row per recommended action, ordered by expected value at risk."""

    customer_id: Series[str]
    customer_name: Series[str] = pa.Field(nullable=True)
    segment: Series[str]
    action: Series[str]
    next_action_date: Series[pd.Timestamp] = pa.Field(nullable=True)
    open_amount: Series[float]
    p_not_paid_30: Series[float] = pa.Field(ge=0, le=1)
    value_at_risk: Series[float]
    reasons: Series[str]


def empty(model: type[_Base]) -> pd.DataFrame:
    """An empty frame with the model's columns (useful for edge cases)."""
    cols = list(model.to_schema().columns)
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
