"""The whole analysis of a ledger as of one date, in one call.

:func:`analyse` runs the stages in the order of the design's data flow — durations,
days-to-pay model, pay runs, lateness classifier, segments and actions, worklist, KPIs — and
returns every table in one :class:`Analysis`. The command line and the report notebooks call
it; nothing here computes numbers of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ._memory import release_memory
from ._order import _INVOICE_KEYS, _PAYMENT_KEYS, _sorted_by, canonical_order  # noqa: F401 (public here)
from .errors import InputError
from .schema import (BEFORE_SNAPSHOT, SETTLED_BEFORE_SNAPSHOT, Durations, InvoiceFeatures as F, Invoices,
                     OpenInvoiceOutlook, Payments)
from .settings import Settings

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resolve_as_of(invoices: pd.DataFrame, payments: pd.DataFrame, as_of: Any = None) -> pd.Timestamp:
    """The report date: ``as_of`` (YYYY-MM-DD) when given, else the last date in the ledger.

    The default is the latest invoice or payment date of the data — never the clock — so a
    rerun on the same files always gives the same report.
    """
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        dates = [pd.to_datetime(invoices[Invoices.invoice_date]).max()]
        if payments is not None and len(payments):
            dates.append(pd.to_datetime(payments[Payments.payment_date]).max())
        dates = [d for d in dates if pd.notna(d)]
        if not dates:
            raise InputError("the ledger has no dated invoices or payments, so there is no report date; pass --as-of")
        return pd.Timestamp(max(dates)).normalize()
    if isinstance(as_of, pd.Timestamp):
        return as_of.normalize()
    text = str(as_of).strip()
    if not _ISO.match(text):
        raise InputError(f"--as-of must be a date written YYYY-MM-DD (e.g. 2026-06-30), got {as_of!r}")
    try:
        return pd.Timestamp(text)
    except ValueError:
        raise InputError(f"--as-of {as_of!r} is not a calendar date") from None


@dataclass
class Analysis:
    """Every table of one analysis as of ``as_of`` (see :func:`analyse`)."""

    as_of: pd.Timestamp
    settings: Settings
    invoices: pd.DataFrame
    payments: pd.DataFrame
    durations: pd.DataFrame
    days_to_pay: Any                 # fitted DaysToPayModel
    windows: pd.DataFrame            # schema.CustomerWindows
    outlook: pd.DataFrame            # schema.OpenInvoiceOutlook (+ open_amount)
    pay_runs: pd.DataFrame           # schema.PayRuns
    lateness_model: Any              # fitted LatenessModel or None
    lateness: pd.DataFrame | None    # customer_id, p_next_late, p_open_late, n_open
    segments: pd.DataFrame           # schema.Segments + evidence columns
    actions: pd.DataFrame            # schema.Actions
    worklist: pd.DataFrame           # schema.Worklist
    aging: pd.DataFrame
    monthly: pd.DataFrame
    kpi_summary: pd.DataFrame
    backtest: Any = None             # Backtest or None
    previous: "Analysis | None" = None
    notes: list[str] = field(default_factory=list)

    @property
    def currency(self) -> str:
        """The ledger's main currency (by invoiced amount)."""
        inv = self.invoices
        if inv.empty:
            return self.settings.ingest.default_currency
        return str(inv.groupby(Invoices.currency)[Invoices.amount].sum().idxmax())


def behaviour_tables(invoices: pd.DataFrame, payments: pd.DataFrame,
                     as_of=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The tables the payment-behaviour stages learn from, and the payments with known dates.

    An invoice known only from an aging snapshot that showed it fully paid (settled_by
    ``"before snapshot"``) was paid on a date the export does not give; its paid date, the
    snapshot date, is only the latest it can have been. Its days to pay are no observation
    of how the customer pays, so it and its payments are left out of the durations, models,
    features and segments (the balances and KPIs count it as paid from the snapshot date).
    The pay runs also leave out every ``"before-snapshot:"`` payment, whose date is made up.

    With ``as_of`` before the snapshot date, nothing dated by ``as_of`` says the invoice was
    paid (the snapshot comes later): it stays in, an open invoice as of that date, as the
    balances and KPIs count it.

    Returns
    -------
    invoices, payments : DataFrame
        Without those invoices and their payments (the inputs themselves when there are none).
    dated_payments : DataFrame
        ``payments`` without any ``"before-snapshot:"`` payment (for the pay runs).

    Examples
    --------
    >>> inv = pd.DataFrame({"invoice_id": ["A", "B"], "settled_by": ["payment", "before snapshot"]})
    >>> pay = pd.DataFrame({"payment_id": ["P1", "before-snapshot:B"], "invoice_id": ["A", "B"]})
    >>> i, p, dated = behaviour_tables(inv, pay)
    >>> i["invoice_id"].tolist(), p["payment_id"].tolist(), dated["payment_id"].tolist()
    (['A'], ['P1'], ['P1'])
    """
    if Invoices.settled_by in invoices.columns:
        unknown = (invoices[Invoices.settled_by] == SETTLED_BEFORE_SNAPSHOT).fillna(False).to_numpy(dtype=bool)
        if as_of is not None and unknown.any():
            unknown = unknown & (invoices[Invoices.paid_date] <= pd.Timestamp(as_of)).fillna(False).to_numpy(dtype=bool)
    else:
        unknown = None
    if unknown is not None and unknown.any():
        gone = invoices.loc[unknown, Invoices.invoice_id]
        invoices = invoices.loc[~unknown].reset_index(drop=True)
        if payments is not None and len(payments):
            payments = payments.loc[~payments[Payments.invoice_id].isin(gone).to_numpy(dtype=bool)].reset_index(drop=True)
    dated = payments
    if payments is not None and len(payments):
        made_up = payments[Payments.payment_id].str.startswith(BEFORE_SNAPSHOT).fillna(False).to_numpy(dtype=bool)
        if made_up.any():
            dated = payments.loc[~made_up].reset_index(drop=True)
    return invoices, payments, dated


def _min_rows_for_classifier(labels: pd.Series) -> bool:
    """At least 50 known labels, both outcomes among them."""
    return len(labels) >= 50 and labels.nunique() == 2


def analyse(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    as_of,
    *,
    settings: Settings | None = None,
    with_backtest: bool = True,
    with_previous: bool = False,
) -> Analysis:
    """Run every stage as of ``as_of``.

    Parameters
    ----------
    invoices, payments : DataFrame
        Canonical tables (:class:`~arinsights.schema.Invoices`, :class:`~arinsights.schema.Payments`),
        e.g. ``load_ledger(...).invoices``.
    as_of : date-like
        The report date; nothing dated after it is used.
    settings : Settings, optional
    with_backtest : bool
        Also run the rolling-origin backtest of the lateness classifier (slower).
    with_previous : bool
        Also analyse as of the previous month end, for month-over-month movement.

    Returns
    -------
    Analysis
    """
    from .behaviour.distributions import DaysToPayModel
    from .behaviour.durations import compute_durations
    from .behaviour.lateness import (LatenessModel, backtest, customer_lateness, features_as_of, known_as_of,
                                     next_invoice_features)
    from .behaviour.outlook import calibrated_outlook
    from .behaviour.paycycle import detect_pay_runs
    from .playbook.actions import recommend_actions
    from .playbook.kpis import kpi_tables
    from .playbook.segments import segment_customers
    from .playbook.worklist import build_worklist

    s = settings or Settings()
    as_of = pd.Timestamp(as_of).normalize()
    b, p = s.behaviour, s.playbook
    invoices, payments = canonical_order(invoices, payments)
    notes: list[str] = []
    # the behaviour stages learn from invoices with known paid dates only; the KPIs (below)
    # count every invoice (see behaviour_tables)
    all_invoices, all_payments = invoices, payments
    invoices, payments, dated_payments = behaviour_tables(all_invoices, all_payments, as_of)
    if len(invoices) < len(all_invoices):
        notes.append(f"{len(all_invoices) - len(invoices)} invoice(s) known only from an aging snapshot were paid "
                     "before it, on dates the export does not give: the balances count them as paid from the "
                     "snapshot date, the payment-behaviour models and the worklist leave them out.")
    if Invoices.settled_by in invoices.columns:
        later = ((invoices[Invoices.settled_by] == SETTLED_BEFORE_SNAPSHOT).fillna(False)
                 & (invoices[Invoices.paid_date] > as_of).fillna(False))
        if later.any():
            notes.append(f"{int(later.sum())} invoice(s) known only from an aging snapshot dated after "
                         f"{as_of:%d %b %Y} count as open here: the snapshot shows them paid, on dates before it "
                         "that the export does not give.")

    # release_memory() between the stages: each drops working tables that the allocators
    # would otherwise keep (peak memory on large ledgers; see arinsights._memory)
    durations = compute_durations(invoices, payments, as_of)
    release_memory()
    model = DaysToPayModel(window_quantile=b.window_quantile).fit(durations)
    windows = model.windows()
    outlook, outlook_calibrator = calibrated_outlook(
        invoices, payments, as_of, durations=durations, model=model, n_cutoffs=b.outlook_cutoffs,
        cutoff_step_days=b.outlook_cutoff_step_days, min_open=b.outlook_min_open, min_train=b.outlook_min_train,
        C=b.outlook_regularisation, window_quantile=b.window_quantile, max_expected_days=b.outlook_max_expected_days,
        max_customers=b.outlook_max_customers, random_state=b.random_state)
    notes.extend(outlook_calibrator.notes_)
    open_amounts = durations.loc[~durations[Durations.paid], [Durations.invoice_id, Durations.open_amount]]
    outlook = outlook.merge(open_amounts, on=OpenInvoiceOutlook.invoice_id, how="left")
    release_memory()
    pay_runs = detect_pay_runs(dated_payments, as_of, min_payments=b.paycycle_min_payments, fdr=b.paycycle_fdr)

    lateness_model = None
    lateness = None
    # one feature build: today's invoices (the classifier's training rows) and each
    # customer's hypothetical next invoice (scored by customer_lateness)
    next_features = next_invoice_features(invoices, payments, as_of, grace_days=b.grace_days, trend_k=b.trend_k,
                                          shrink_k=b.features_shrink_k)
    if _min_rows_for_classifier(next_features[F.late][known_as_of(next_features, as_of)]):
        # only the rows the model trains on are copied out of the feature table (memory)
        features = features_as_of(next_features, as_of, last_known=b.max_train_invoices)
        lateness_model = LatenessModel(grace_days=b.grace_days, max_train=b.max_train_invoices,
                                       random_state=b.random_state, trend_k=b.trend_k,
                                       shrink_k=b.features_shrink_k,
                                       single_holdout_rows=b.lateness_single_holdout_rows).fit(features)
        del features
        lateness = customer_lateness(lateness_model, invoices, payments, as_of, features=next_features)
    else:
        notes.append("Too few invoices with a known outcome to train the lateness classifier; "
                     "customers are judged on their payment history alone.")
    del next_features  # the largest table of the analysis: not kept (memory)
    release_memory()

    segments = segment_customers(invoices, payments, durations, windows, pay_runs, outlook, as_of,
                                 settings=s, lateness=lateness)
    release_memory()
    actions = recommend_actions(segments, as_of, settings=s)
    worklist = build_worklist(actions, outlook, horizon_days=p.risk_horizon_days)

    bt = None
    if with_backtest and lateness_model is not None:
        try:
            bt = backtest(invoices, payments, as_of, n_cutoffs=b.backtest_cutoffs, grace_days=b.grace_days,
                          random_state=b.random_state, trend_k=b.trend_k, shrink_k=b.features_shrink_k,
                          model_params={"single_holdout_rows": b.lateness_single_holdout_rows})
        except InputError as exc:  # e.g. too little history for the cut-offs
            notes.append(f"Backtest not run: {exc}")

    previous = None
    if with_previous:
        prev_as_of = (as_of.to_period("M") - 1).to_timestamp(how="end").normalize()
        if prev_as_of >= pd.to_datetime(all_invoices[Invoices.invoice_date]).min():
            previous = analyse(all_invoices, all_payments, prev_as_of, settings=s, with_backtest=False)

    aging, monthly, summary = kpi_tables(all_invoices, all_payments, as_of, months=s.report.trend_months)
    return Analysis(
        as_of=as_of, settings=s, invoices=all_invoices, payments=all_payments, durations=durations,
        days_to_pay=model, windows=windows, outlook=outlook, pay_runs=pay_runs,
        lateness_model=lateness_model, lateness=lateness, segments=segments, actions=actions,
        worklist=worklist, aging=aging, monthly=monthly, kpi_summary=summary, backtest=bt, previous=previous,
        notes=notes,
    )
