"""As-of invoice features: each invoice sees only what was known on its issue date.

For every invoice issued on or before ``as_of`` the features describe the customer's history
*strictly before* the invoice's issue date ``t``: a prior invoice counts as paid only if its
paid date is before ``t``, a payment counts only if dated before ``t``. The invoice's own
paid date, later invoices and later payments never enter its features, so the features of an
invoice do not depend on ``as_of`` (only its label does).

How (vectorised; no loop over invoices or customers)
----------------------------------------------------
Each history is an *event stream* (invoices paid, invoices issued and closed, pay days)
sorted by time and accumulated per customer with ``groupby().cumsum()``; the running totals
are attached to invoices with ``pandas.merge_asof(by=customer_id,
allow_exact_matches=False)``, i.e. the last state strictly before the issue date. Medians
(days late, invoice amount) are exact expanding medians (``groupby().expanding().median()``,
one Cython pass).

Definitions
-----------
* ``late``: paid more than ``grace_days`` after the due date. As of ``as_of`` it is known
  when the invoice was paid by ``as_of`` (late or not), or when it is still open and
  ``as_of`` is already past due + grace (late); otherwise it is NaN (not yet knowable).
  ``outcome_known_date = min(paid_date, due_date + grace_days + 1 day)``; NaT while unknown.
* days-to-pay location/scale: mean and standard deviation of ``log(1 + days_to_pay)`` over
  the customer's invoices paid before ``t``, shrunk toward the portfolio's values as of
  ``t`` (all invoices paid before ``t``): ``loc = (n*m_c + k*m_p)/(n + k)`` and
  ``var = w*v_c + (1-w)*v_p`` with ``w = (n-1)/(n-1+k)`` (0 when ``n < 2``), ``k =
  shrink_k``. Customers without history get the portfolio values.
* open balance at issue: gross amount of the customer's invoices issued before ``t`` and not
  fully paid before ``t`` (partial payments are not netted). The overdue count/balance are
  the part of it already more than ``grace_days`` past due on ``t`` (an invoice joins on
  ``due + grace + 1 day`` if unpaid then, which is known on that day).
* pay day as known at issue: the modal weekday of the customer's prior pay days (and its
  share) and the circular mean day of the month (with its concentration ``Rbar``), with the
  days from the issue date to the next such weekday / day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import Invoices, InvoiceFeatures as F, Payments
from .paycycle import _MEAN_MONTH, pay_days

#: feature columns the lateness model uses (labels and identifiers excluded).
FEATURE_COLUMNS = (
    F.prior_invoice_count, F.prior_paid_count, F.prior_late_share, F.prior_mean_days_late,
    F.prior_median_days_late, F.recent_trend_days_late, F.open_count_at_issue,
    F.open_balance_at_issue, F.overdue_count_at_issue, F.overdue_balance_at_issue, F.days_since_last_payment, F.amount_to_prior_median, F.amount,
    F.terms_days, F.disputed, F.issue_weekday, F.issue_day, F.issue_days_to_month_end,
    F.modal_pay_weekday, F.modal_pay_weekday_share, F.days_to_modal_pay_weekday,
    F.mean_pay_day, F.pay_day_concentration, F.days_to_mean_pay_day,
    F.dtp_loc_shrunk, F.dtp_scale_shrunk,
)

_T = "_t"  # internal event-time column
_NS = "datetime64[ns]"


def _ts(value, name="as_of") -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a date, got {value!r}", hint="Pass a date such as '2026-06-30'.") from None
    if pd.isna(ts):
        raise InputError(f"{name} is missing", hint="Pass a date such as '2026-06-30'.")
    return ts.normalize()


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.normalize().astype(_NS)


def _days(td: pd.Series) -> np.ndarray:
    return (td / pd.Timedelta(days=1)).to_numpy(dtype=float)


def _check_columns(df: pd.DataFrame, cols, table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"the {table} table has no column(s) {missing}",
                         hint=f"Pass the {table} table produced by the cleaning step.")


def _visible_invoices(invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invoices issued on/before as_of with dates normalised and paid dates after as_of hidden."""
    _check_columns(invoices, [Invoices.invoice_id, Invoices.customer_id, Invoices.invoice_date,
                              Invoices.due_date, Invoices.amount], "invoices")
    inv_date = _dates(invoices[Invoices.invoice_date])
    keep = (inv_date <= as_of).to_numpy()
    out = pd.DataFrame({
        F.invoice_id: invoices[Invoices.invoice_id].astype(str).to_numpy()[keep],
        F.customer_id: invoices[Invoices.customer_id].astype(str).to_numpy()[keep],
        F.invoice_date: inv_date.to_numpy()[keep],
        F.due_date: _dates(invoices[Invoices.due_date]).to_numpy()[keep],
        F.amount: invoices[Invoices.amount].to_numpy(dtype=float)[keep],
    })
    if Invoices.paid_date in invoices.columns:
        paid = _dates(invoices[Invoices.paid_date]).to_numpy()[keep]
    else:
        paid = np.full(keep.sum(), np.datetime64("NaT"), dtype=_NS)
    paid = pd.Series(paid, dtype=_NS)
    out["_paid"] = paid.where(paid <= as_of).to_numpy()
    if Invoices.disputed in invoices.columns:
        disputed = invoices[Invoices.disputed].astype("boolean").fillna(False).to_numpy(dtype=bool)
        out[F.disputed] = disputed[keep].astype(float)
    else:
        out[F.disputed] = 0.0
    return out


def lateness_labels(invoices: pd.DataFrame, as_of, *, grace_days: int = 5) -> pd.DataFrame:
    """The lateness label of each invoice as knowable on ``as_of``.

    Parameters
    ----------
    invoices : pandas.DataFrame
        :class:`~arinsights.schema.Invoices`.
    as_of : date-like
        Paid dates after it are treated as unknown (the invoice is open).
    grace_days : int, default 5
        Paid more than this many days after the due date is late.

    Returns
    -------
    pandas.DataFrame
        One row per invoice issued on/before ``as_of``: ``invoice_id``, ``late`` (1.0, 0.0,
        or NaN while not yet knowable), ``outcome_known_date`` (``min(paid_date, due_date +
        grace_days + 1 day)``; NaT while unknown).
    """
    as_of = _ts(as_of)
    inv = _visible_invoices(invoices, as_of)
    return _labels(inv, as_of, grace_days)


def _labels(inv: pd.DataFrame, as_of: pd.Timestamp, grace_days: int) -> pd.DataFrame:
    due_g = inv[F.due_date] + pd.Timedelta(days=grace_days)
    paid = inv["_paid"]
    late = np.where(paid.notna(), (paid > due_g).astype(float),
                    np.where(as_of > due_g, 1.0, np.nan))
    known_at = due_g + pd.Timedelta(days=1)
    known = paid.where(paid.notna() & (paid < known_at), known_at)
    known = known.where(~np.isnan(late))
    return pd.DataFrame({F.invoice_id: inv[F.invoice_id].to_numpy(), F.late: late,
                         F.outcome_known_date: known.to_numpy()})


def _asof(left: pd.DataFrame, right: pd.DataFrame, cols, by: bool = True) -> pd.DataFrame:
    """Attach the last state of `right` strictly before each left row's time (left sorted)."""
    right = right.sort_values(_T, kind="mergesort")[([F.customer_id] if by else []) + [_T] + list(cols)]
    kw = {"by": F.customer_id} if by else {}
    return pd.merge_asof(left, right, on=_T, allow_exact_matches=False, direction="backward", **kw)


def build_features(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of, *, grace_days: int = 5,
                   trend_k: int = 5, shrink_k: float = 5.0) -> pd.DataFrame:
    """Features of each invoice from what was known on its issue date, with the label apart.

    Parameters
    ----------
    invoices : pandas.DataFrame
        :class:`~arinsights.schema.Invoices`.
    payments : pandas.DataFrame or None
        :class:`~arinsights.schema.Payments` (for days since last payment and pay days);
        None leaves those features missing.
    as_of : date-like
        Invoices issued after it are dropped; paid dates after it are unknown.
    grace_days : int, default 5
        Paid more than this many days after the due date is late.
    trend_k : int, default 5
        Number of most recent paid invoices in the recent trend.
    shrink_k : float, default 5.0
        Pseudo-count weight of the portfolio in the shrunk days-to-pay location/scale.

    Returns
    -------
    pandas.DataFrame
        :class:`~arinsights.schema.InvoiceFeatures`, one row per invoice issued on/before
        ``as_of``, sorted by invoice date and id: ``invoice_id``, ``customer_id``,
        ``invoice_date``, ``due_date``, the feature columns in :data:`FEATURE_COLUMNS`
        (``prior_invoice_count``, ``prior_paid_count``, ``prior_late_share``,
        ``prior_mean_days_late``, ``prior_median_days_late``, ``recent_trend_days_late`` (mean
        days late of the last ``trend_k`` paid minus the long-run mean), ``open_count_at_issue``,
        ``open_balance_at_issue``, ``overdue_count_at_issue``, ``overdue_balance_at_issue``, ``days_since_last_payment``, ``amount_to_prior_median``,
        ``amount``, ``terms_days``, ``disputed`` (0/1), ``issue_weekday`` (0=Mon),
        ``issue_day``, ``issue_days_to_month_end``, ``modal_pay_weekday``,
        ``modal_pay_weekday_share``, ``days_to_modal_pay_weekday``, ``mean_pay_day``,
        ``pay_day_concentration``, ``days_to_mean_pay_day``, ``dtp_loc_shrunk``,
        ``dtp_scale_shrunk``), and the labels ``late`` (1/0/NaN) and ``outcome_known_date``.
        History features are NaN when there is no history.
    """
    as_of = _ts(as_of)
    if trend_k < 1:
        raise InputError(f"trend_k must be at least 1, got {trend_k!r}")
    inv = _visible_invoices(invoices, as_of)
    inv = inv.sort_values([F.invoice_date, F.invoice_id], kind="mergesort", ignore_index=True)
    cid = F.customer_id
    # integer customer codes inside (faster sorts, groupbys and as-of joins than strings)
    customers = inv[cid].to_numpy()
    codes, cats = pd.factorize(inv[cid])
    inv[cid] = codes
    left = pd.DataFrame({F.invoice_id: inv[F.invoice_id], cid: inv[cid], _T: inv[F.invoice_date]})

    # ---- paid-invoice stream: counts, lateness, days late, log days-to-pay
    paid = inv[inv["_paid"].notna()]
    ev = pd.DataFrame({cid: paid[cid].to_numpy(), _T: paid["_paid"].to_numpy()})
    ev["_n"] = 1.0
    ev["_dl"] = _days(paid["_paid"] - paid[F.due_date])
    ev["_late"] = (ev["_dl"] > grace_days).astype(float)
    ev["_ldtp"] = np.log1p(np.maximum(_days(paid["_paid"] - paid[F.invoice_date]), 0.0))
    ev["_ldtp2"] = ev["_ldtp"] ** 2
    ev = ev.sort_values([cid, _T], kind="mergesort", ignore_index=True)
    g = ev.groupby(cid, sort=False)
    cum = g[["_n", "_late", "_dl", "_ldtp", "_ldtp2"]].cumsum()
    ev[["c_n", "c_late", "c_dl", "c_ldtp", "c_ldtp2"]] = cum.to_numpy()
    prev_k = ev.groupby(cid, sort=False)["c_dl"].shift(trend_k).fillna(0.0)
    ev["c_last_k"] = (ev["c_dl"] - prev_k) / np.minimum(ev["c_n"], trend_k)
    ev["c_med_dl"] = g["_dl"].expanding().median().reset_index(level=0, drop=True).sort_index().to_numpy()
    # portfolio log days-to-pay as of each paid date (no customer grouping)
    pf = ev[[_T, "_n", "_ldtp", "_ldtp2"]].sort_values(_T, kind="mergesort")
    pf = pd.DataFrame({_T: pf[_T].to_numpy(), "p_n": pf["_n"].cumsum().to_numpy(),
                       "p_s": pf["_ldtp"].cumsum().to_numpy(), "p_s2": pf["_ldtp2"].cumsum().to_numpy()})

    out = _asof(left, ev, ["c_n", "c_late", "c_dl", "c_last_k", "c_med_dl", "c_ldtp", "c_ldtp2"])
    out = pd.merge_asof(out, pf, on=_T, allow_exact_matches=False, direction="backward")

    # ---- open invoices at issue: +1/+amount at issue, -1/-amount when fully paid
    close_t = paid["_paid"].where(paid["_paid"] > paid[F.invoice_date], paid[F.invoice_date])
    oe = pd.DataFrame({
        cid: np.concatenate([inv[cid].to_numpy(), paid[cid].to_numpy()]),
        _T: np.concatenate([inv[F.invoice_date].to_numpy(), close_t.to_numpy()]),
        "_dn": np.concatenate([np.ones(len(inv)), -np.ones(len(paid))]),
        "_da": np.concatenate([inv[F.amount].to_numpy(), -paid[F.amount].to_numpy()]),
    }).sort_values([cid, _T], kind="mergesort", ignore_index=True)
    oe[["o_n", "o_amt", "i_n"]] = oe.assign(_one=(oe["_dn"] > 0).astype(float)).groupby(
        cid, sort=False)[["_dn", "_da", "_one"]].cumsum().to_numpy()
    out = _asof(out, oe, ["o_n", "o_amt", "i_n"])

    # ---- open and already past due + grace at issue: enters at due + grace + 1 day if still
    # unpaid then (known on that day), leaves when paid
    due_g1 = inv[F.due_date] + pd.Timedelta(days=grace_days + 1)
    overdue = (inv["_paid"].isna() | (inv["_paid"] >= due_g1)).to_numpy()
    ov_paid = overdue & inv["_paid"].notna().to_numpy()
    pe_ = pd.DataFrame({
        cid: np.concatenate([inv[cid].to_numpy()[overdue], inv[cid].to_numpy()[ov_paid]]),
        _T: np.concatenate([due_g1.to_numpy()[overdue], inv["_paid"].to_numpy()[ov_paid]]),
        "_dn": np.concatenate([np.ones(overdue.sum()), -np.ones(ov_paid.sum())]),
        "_da": np.concatenate([inv[F.amount].to_numpy()[overdue], -inv[F.amount].to_numpy()[ov_paid]]),
    }).sort_values([cid, _T], kind="mergesort", ignore_index=True)
    pe_[["od_n", "od_amt"]] = pe_.groupby(cid, sort=False)[["_dn", "_da"]].cumsum().to_numpy()
    out = _asof(out, pe_, ["od_n", "od_amt"])

    # ---- prior invoice amounts: exact expanding median per customer
    am = inv[[cid, F.invoice_date, F.amount]].rename(columns={F.invoice_date: _T})
    am = am.sort_values([cid, _T], kind="mergesort", ignore_index=True)
    am["a_med"] = am.groupby(cid, sort=False)[F.amount].expanding().median().reset_index(
        level=0, drop=True).sort_index().to_numpy()
    out = _asof(out, am, ["a_med"])

    # ---- pay days: last payment, modal weekday, circular mean day of month
    pay_cols = ["last_pay", "pd_n", "pd_c", "pd_s"] + [f"wd{i}" for i in range(7)]
    if payments is not None and len(payments):
        pdays = pay_days(payments, as_of)
        pe = pd.DataFrame({cid: pd.Index(cats).get_indexer(pdays[Payments.customer_id].astype(str)),
                           _T: pdays[Payments.payment_date].astype(_NS).to_numpy()})
        pe = pe[pe[cid] >= 0].reset_index(drop=True)  # customers without invoices
        di = pd.DatetimeIndex(pe[_T])
        theta = 2 * np.pi * (di.day.to_numpy() - 1) / di.days_in_month.to_numpy()
        wd = di.day_of_week.to_numpy()
        parts = pd.DataFrame({"pd_n": 1.0, "pd_c": np.cos(theta), "pd_s": np.sin(theta)}, index=pe.index)
        for i in range(7):
            parts[f"wd{i}"] = (wd == i).astype(float)
        pe = pe.join(parts.groupby(pe[cid], sort=False).cumsum())
        pe["last_pay"] = pe[_T]
        out = _asof(out, pe, pay_cols)
    else:
        for c in pay_cols:
            out[c] = np.nan
        out["last_pay"] = pd.Series(pd.NaT, index=out.index, dtype=_NS)

    # ---- assemble (out is aligned with inv: same sort order)
    t = inv[F.invoice_date]
    n = out["c_n"].fillna(0.0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_dl = out["c_dl"].to_numpy() / n
        res = pd.DataFrame({
            F.invoice_id: inv[F.invoice_id], cid: customers, F.invoice_date: t, F.due_date: inv[F.due_date],
            F.prior_invoice_count: out["i_n"].fillna(0.0).to_numpy(),
            F.prior_paid_count: n,
            F.prior_late_share: out["c_late"].to_numpy() / n,
            F.prior_mean_days_late: mean_dl,
            F.prior_median_days_late: out["c_med_dl"].to_numpy(),
            F.recent_trend_days_late: out["c_last_k"].to_numpy() - mean_dl,
            F.open_count_at_issue: out["o_n"].fillna(0.0).to_numpy(),
            F.open_balance_at_issue: np.maximum(out["o_amt"].fillna(0.0).to_numpy(), 0.0),
            F.overdue_count_at_issue: out["od_n"].fillna(0.0).to_numpy(),
            F.overdue_balance_at_issue: np.maximum(out["od_amt"].fillna(0.0).to_numpy(), 0.0),
            F.days_since_last_payment: _days(t - pd.to_datetime(out["last_pay"]).to_numpy()),
            F.amount_to_prior_median: inv[F.amount].to_numpy() / out["a_med"].to_numpy(),
            F.amount: inv[F.amount].to_numpy(),
            F.terms_days: _days(inv[F.due_date] - t),
            F.disputed: inv[F.disputed].to_numpy(),
        })
    di = pd.DatetimeIndex(t)
    issue_wd = di.day_of_week.to_numpy()
    issue_day = di.day.to_numpy()
    dim = di.days_in_month.to_numpy()
    res[F.issue_weekday] = issue_wd.astype(float)
    res[F.issue_day] = issue_day.astype(float)
    res[F.issue_days_to_month_end] = (dim - issue_day).astype(float)

    wd_counts = out[[f"wd{i}" for i in range(7)]].to_numpy(dtype=float)
    pd_n = out["pd_n"].to_numpy(dtype=float)
    has_pay = pd_n > 0
    modal = np.where(has_pay, np.argmax(np.nan_to_num(wd_counts), axis=1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        res[F.modal_pay_weekday] = modal
        res[F.modal_pay_weekday_share] = np.where(has_pay, np.nanmax(np.nan_to_num(wd_counts), axis=1) / pd_n, np.nan)
        res[F.days_to_modal_pay_weekday] = np.mod(modal - issue_wd, 7)
        c, s = out["pd_c"].to_numpy(dtype=float), out["pd_s"].to_numpy(dtype=float)
        angle = np.mod(np.arctan2(s, c), 2 * np.pi)
        mean_day = np.rint(angle * _MEAN_MONTH / (2 * np.pi)) + 1
        mean_day = np.where(mean_day > 31, 1, mean_day)
        res[F.mean_pay_day] = np.where(has_pay, mean_day, np.nan)
        res[F.pay_day_concentration] = np.where(has_pay, np.hypot(c, s) / pd_n, np.nan)
        target = np.minimum(res[F.mean_pay_day].to_numpy(), dim)
        res[F.days_to_mean_pay_day] = np.mod(target - issue_day, dim)

        # shrunk log days-to-pay location/scale
        m_c = out["c_ldtp"].to_numpy() / n
        v_c = np.maximum(out["c_ldtp2"].to_numpy() - n * m_c ** 2, 0.0) / (n - 1)
        p_n = out["p_n"].fillna(0.0).to_numpy()
        m_p = out["p_s"].to_numpy() / p_n
        v_p = np.maximum(out["p_s2"].to_numpy() - p_n * m_p ** 2, 0.0) / (p_n - 1)
        w_loc = n / (n + shrink_k)
        loc = np.where(n > 0, w_loc * m_c + (1 - w_loc) * m_p, m_p)
        w_var = np.where(n >= 2, (n - 1) / (n - 1 + shrink_k), 0.0)
        var = np.where(n >= 2, w_var * v_c + (1 - w_var) * v_p, v_p)
    res[F.dtp_loc_shrunk] = loc
    res[F.dtp_scale_shrunk] = np.sqrt(var)

    labels = _labels(inv, as_of, grace_days)
    res[F.late] = labels[F.late].to_numpy()
    res[F.outcome_known_date] = labels[F.outcome_known_date].to_numpy()
    return res
