"""Pay runs: does a customer pay on a fixed weekday, a fixed day of the month, or at month end?

Many payers release payments in batches ("pay runs"): every Tuesday, on the 15th, or on the
last business day of the month. Knowing the run tells a credit controller to wait until the
next run has passed before chasing (design notes, playbook rule 3).

Method (all customers at once, vectorised with ``np.bincount``; no loop over customers)
-------------------------------------------------------------------------------------
The unit is a *pay day*: a distinct (customer, payment date) among the customer's payment
events dated on or before ``as_of``. Several allocations of one payment are one event and two
payments on the same day are one pay day. Credit notes (``kind == "credit"``) are not
payments by the customer and are ignored; unapplied cash counts.

Three families of tests per customer, each one-sided and each with its own correction for
the choice of the run day:

* **weekday** -- for each weekday ``w`` the exact binomial tail ``P(X >= k_w)``,
  ``X ~ Binomial(n, p_w)``, where ``p_w`` is the *portfolio's own* weekday mix (payments made
  on a weekend are posted on Monday, so Monday is naturally heavy). The mix is computed
  leave-one-customer-out (the customer under test does not define its own null) and smoothed
  with a pseudo-count prior of Mon-Fri with a little weekend mass. The family p-value is the
  smallest of the seven tails times 7 (Bonferroni, conservative for the max over days).
* **day_of_month** -- Rayleigh test of the angles ``2*pi*(day-1)/days_in_month`` against the
  uniform circle, p-value by Zar's approximation
  ``p = exp(sqrt(1 + 4n + 4(n^2 - R^2)) - (1 + 2n))`` with ``R = n * Rbar`` (Zar,
  *Biostatistical Analysis*, 5th ed., eq. 27.4). The run day is the modal day of the month
  (ties go to the day nearest the circular mean; the mean itself is pulled late by weekend
  runs paid on the Monday).
* **month_end** -- a pattern of its own: the number of pay days in the last three calendar
  days of their month (the last business day always falls there) against
  ``Binomial(n, p_me)`` with ``p_me`` the portfolio's leave-one-out share.

A customer's p-value is the smallest family p-value times 3 (Bonferroni over the families);
customers with at least ``min_payments`` pay days are then adjusted together with
Benjamini-Hochberg and a run is declared when the adjusted p-value is at most ``fdr`` and
the share of pay days on the run (``strength``) is at least ``min_strength``. When two
families tie the order of preference is month_end, day_of_month, weekday.

``strength`` is the share of pay days on the run day: the weekday itself; for a day of the
month the share within +-2 days of it (weekend runs are paid a day or two early or late);
for month end the share in the last three days of the month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..schema import KIND_CREDIT, Payments, PayRuns

WEEKDAY = "weekday"
DAY_OF_MONTH = "day_of_month"
MONTH_END = "month_end"
NO_RUN = "none"
PATTERNS = (WEEKDAY, DAY_OF_MONTH, MONTH_END, NO_RUN)

#: calendar days at the end of a month that count as "month end".
MONTH_END_DAYS = 3
#: days either side of a day-of-month run that still count as paid on the run.
DOM_HALF_WINDOW = 2
#: pseudo-count weight of the prior in the portfolio mixes (in pay days).
_PRIOR_WEIGHT = 35.0
_WEEKDAY_PRIOR = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1]) / 5.2
_MEAN_MONTH = 365.2425 / 12


def _as_timestamp(as_of) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        raise InputError(f"as_of must be a date, got {as_of!r}", hint="Pass a date such as '2026-06-30'.") from None
    if pd.isna(ts):
        raise InputError("as_of is missing", hint="Pass a date such as '2026-06-30'.")
    return ts.normalize()


def payment_events(payments: pd.DataFrame, as_of) -> tuple[pd.Series, np.ndarray]:
    """Payment dates (normalised) and the mask of rows that are cash received on or before ``as_of``.

    Credit notes are not payment events; rows without a date are dropped.
    """
    as_of = _as_timestamp(as_of)
    for col in (Payments.customer_id, Payments.payment_date):
        if col not in payments.columns:
            raise InputError(f"the payments table has no {col!r} column", column=col,
                             hint="Pass the payments table produced by the cleaning step.")
    dates = pd.to_datetime(payments[Payments.payment_date]).dt.normalize()
    keep = dates.notna() & (dates <= as_of)
    if Payments.kind in payments.columns:
        keep &= (payments[Payments.kind] != KIND_CREDIT).to_numpy()
    return dates, keep.to_numpy(dtype=bool)


def pay_days(payments: pd.DataFrame, as_of) -> pd.DataFrame:
    """Distinct (customer, payment date) pairs of payment events on or before ``as_of``.

    Parameters
    ----------
    payments : pandas.DataFrame
        :class:`~arinsights.schema.Payments` (one row per allocation).
    as_of : date-like
        Nothing dated after it is used.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``payment_date`` (normalised to midnight), sorted by both.
        Credit notes are excluded; unapplied cash is included.
    """
    dates, keep = payment_events(payments, as_of)
    out = pd.DataFrame({
        Payments.customer_id: payments.loc[keep, Payments.customer_id].astype(str).to_numpy(),
        Payments.payment_date: dates[keep].to_numpy(),
    })
    return out.drop_duplicates().sort_values([Payments.customer_id, Payments.payment_date],
                                             ignore_index=True)


def rayleigh_log_pvalue(n: np.ndarray, resultant: np.ndarray) -> np.ndarray:
    """Natural log of the Rayleigh test p-value (Zar's approximation).

    Parameters
    ----------
    n : array_like
        Number of angles per group.
    resultant : array_like
        Resultant length ``R = |sum(exp(i*theta))|`` per group (``0 <= R <= n``).

    Returns
    -------
    numpy.ndarray
        ``log p``, ``p = exp(sqrt(1 + 4n + 4(n^2 - R^2)) - (1 + 2n))`` clipped to ``p <= 1``;
        0 (p = 1) where ``n == 0``.
    """
    n = np.asarray(n, dtype=float)
    r = np.minimum(np.asarray(resultant, dtype=float), n)
    logp = np.sqrt(1.0 + 4.0 * n + 4.0 * (n * n - r * r)) - (1.0 + 2.0 * n)
    return np.minimum(logp, 0.0)


def _bh_adjust(p: np.ndarray) -> np.ndarray:
    if p.size == 0:
        return p
    return stats.false_discovery_control(p, method="bh")


def detect_pay_runs(payments: pd.DataFrame, as_of, *, min_payments: int = 6, fdr: float = 0.05,
                    min_strength: float = 0.5) -> pd.DataFrame:
    """Detect each customer's pay run (weekday, day of month, month end, or none).

    Parameters
    ----------
    payments : pandas.DataFrame
        :class:`~arinsights.schema.Payments`; only payment events dated on or before
        ``as_of`` are used.
    as_of : date-like
        The analysis date (never "today").
    min_payments : int, default 6
        Customers with fewer distinct pay days are not tested (pattern "none", p-value NaN).
    fdr : float, default 0.05
        Benjamini-Hochberg false-discovery rate across the tested customers.
    min_strength : float, default 0.5
        A significant concentration is only called a run when at least this share of the
        customer's pay days fall on it.

    Returns
    -------
    pandas.DataFrame
        :class:`~arinsights.schema.PayRuns`, one row per customer with a payment:
        ``customer_id``, ``n_payments`` (distinct pay days), ``pattern``, ``day``
        (0=Mon..6=Sun for weekday, 1..31 for day_of_month, NaN otherwise), ``strength``
        (share of pay days on the run; NaN when no run), ``p_value`` (BH-adjusted; NaN when
        not tested), ``next_run`` (first run date after ``as_of``; NaT when no run).
    """
    if not 0 < fdr < 1:
        raise InputError(f"fdr must be between 0 and 1, got {fdr!r}")
    as_of = _as_timestamp(as_of)
    days = pay_days(payments, as_of)
    cid = PayRuns.customer_id
    if days.empty:
        out = pd.DataFrame({c: pd.Series(dtype=t) for c, t in [
            (cid, object), (PayRuns.n_payments, "int64"), (PayRuns.pattern, object),
            (PayRuns.day, float), (PayRuns.strength, float), (PayRuns.p_value, float),
            (PayRuns.next_run, "datetime64[ns]")]})
        return out

    codes, customers = pd.factorize(days[cid], sort=True)
    n_cust = len(customers)
    date = pd.DatetimeIndex(days[Payments.payment_date])
    wd = date.day_of_week.to_numpy()
    dom = date.day.to_numpy()
    dim = date.days_in_month.to_numpy()
    n = np.bincount(codes, minlength=n_cust).astype(float)
    n_total = n.sum()

    # --- weekday vs the portfolio's own (leave-one-out) weekday mix
    wd_counts = np.bincount(codes * 7 + wd, minlength=n_cust * 7).reshape(n_cust, 7).astype(float)
    others = wd_counts.sum(axis=0)[None, :] - wd_counts
    p_wd = (others + _PRIOR_WEIGHT * _WEEKDAY_PRIOR) / ((n_total - n) + _PRIOR_WEIGHT)[:, None]
    log_tail = stats.binom.logsf(wd_counts - 1, n[:, None], p_wd)
    wd_day = np.argmin(log_tail, axis=1)
    log_p_wd = np.minimum(log_tail[np.arange(n_cust), wd_day] + np.log(7.0), 0.0)
    wd_strength = wd_counts[np.arange(n_cust), wd_day] / n

    # --- day of month: Rayleigh test of the circular day
    theta = 2.0 * np.pi * (dom - 1) / dim
    c_sum = np.bincount(codes, weights=np.cos(theta), minlength=n_cust)
    s_sum = np.bincount(codes, weights=np.sin(theta), minlength=n_cust)
    log_p_dom = rayleigh_log_pvalue(n, np.hypot(c_sum, s_sum))
    # run day = modal day of the month (weekend runs are paid on the Monday, which biases the
    # circular mean forward); ties go to the day nearest the circular mean.
    mean_angle = np.mod(np.arctan2(s_sum, c_sum), 2.0 * np.pi)
    mean_day = mean_angle * _MEAN_MONTH / (2.0 * np.pi) + 1.0
    dom_counts = np.bincount(codes * 31 + (dom - 1), minlength=n_cust * 31).reshape(n_cust, 31).astype(float)
    off = np.abs(np.arange(1, 32)[None, :] - mean_day[:, None])
    off = np.minimum(off, _MEAN_MONTH - off)
    dom_day = np.argmax(dom_counts - 1e-3 * off, axis=1) + 1
    run = np.minimum(dom_day[codes], dim)
    gap = np.abs(dom - run)
    gap = np.minimum(gap, dim - gap)
    dom_strength = np.bincount(codes, weights=(gap <= DOM_HALF_WINDOW).astype(float), minlength=n_cust) / n

    # --- month end: last MONTH_END_DAYS calendar days vs the portfolio's leave-one-out share
    in_me = (dom > dim - MONTH_END_DAYS).astype(float)
    k_me = np.bincount(codes, weights=in_me, minlength=n_cust)
    prior_me = MONTH_END_DAYS / _MEAN_MONTH
    p_me = ((k_me.sum() - k_me) + _PRIOR_WEIGHT * prior_me) / ((n_total - n) + _PRIOR_WEIGHT)
    log_p_me = stats.binom.logsf(k_me - 1, n, p_me)
    me_strength = k_me / n

    # --- combine families (order = preference on ties), Bonferroni x3, BH across customers
    fam_names = np.array([MONTH_END, DAY_OF_MONTH, WEEKDAY], dtype=object)
    fam_logp = np.column_stack([log_p_me, log_p_dom, log_p_wd])
    fam_strength = np.column_stack([me_strength, dom_strength, wd_strength])
    fam_day = np.column_stack([np.full(n_cust, np.nan), dom_day.astype(float), wd_day.astype(float)])
    best = np.argmin(fam_logp, axis=1)
    rows = np.arange(n_cust)
    raw_p = np.exp(np.minimum(fam_logp[rows, best] + np.log(3.0), 0.0))

    tested = n >= min_payments
    p_adj = np.full(n_cust, np.nan)
    p_adj[tested] = _bh_adjust(raw_p[tested])
    strength = fam_strength[rows, best]
    is_run = tested & (p_adj <= fdr) & (strength >= min_strength)

    out = pd.DataFrame({
        cid: np.asarray(customers, dtype=object),
        PayRuns.n_payments: n.astype("int64"),
        PayRuns.pattern: np.where(is_run, fam_names[best], NO_RUN).astype(object),
        PayRuns.day: np.where(is_run, fam_day[rows, best], np.nan),
        PayRuns.strength: np.where(is_run, strength, np.nan),
        PayRuns.p_value: p_adj,
    })
    out[PayRuns.next_run] = next_pay_run(out, as_of + pd.Timedelta(days=1)).to_numpy()
    return out


def _month_start(d: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return d - pd.to_timedelta(d.day - 1, unit="D")


def _roll_to_weekday(d: pd.DatetimeIndex, forward: bool) -> pd.DatetimeIndex:
    wd = d.day_of_week.to_numpy()
    if forward:  # Sat -> Mon (+2), Sun -> Mon (+1)
        shift = np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
        return d + pd.to_timedelta(shift, unit="D")
    shift = np.maximum(wd - 4, 0)  # Sat -> Fri (-1), Sun -> Fri (-2)
    return d - pd.to_timedelta(shift, unit="D")


def _dom_run(month_start: pd.DatetimeIndex, day: np.ndarray) -> pd.DatetimeIndex:
    target = np.minimum(day, month_start.days_in_month.to_numpy())
    return _roll_to_weekday(month_start + pd.to_timedelta(target - 1, unit="D"), forward=True)


def _month_end_run(month_start: pd.DatetimeIndex) -> pd.DatetimeIndex:
    last = month_start + pd.to_timedelta(month_start.days_in_month.to_numpy() - 1, unit="D")
    return _roll_to_weekday(last, forward=False)


def run_dates_on_or_after(pattern, day, after) -> pd.DatetimeIndex:
    """First pay-run date on or after each date, for aligned arrays of runs and dates.

    Parameters
    ----------
    pattern : array_like of str
        "weekday", "day_of_month", "month_end" or "none".
    day : array_like of float
        Run weekday (0=Mon) or day of month; ignored for month_end/none.
    after : array_like of datetime
        The dates to start from (normalised to midnight).

    Returns
    -------
    pandas.DatetimeIndex
        Weekday: the first such weekday on/after the date. Day of month: that day, clamped to
        the month's length and moved to the following Monday when it falls on a weekend.
        Month end: the last business day (Mon-Fri) of the month. NaT for "none" or missing.
    """
    pattern = np.asarray(pattern, dtype=object)
    day = np.asarray(day, dtype=float)
    after = pd.DatetimeIndex(pd.to_datetime(after)).normalize()
    out = pd.Series(pd.NaT, index=range(len(after)), dtype=after.dtype)
    valid = ~np.isnan(day) & after.notna()

    m = (pattern == WEEKDAY) & valid
    if m.any():
        a = after[m]
        delta = np.mod(day[m].astype(int) - a.day_of_week.to_numpy(), 7)
        out[m] = a + pd.to_timedelta(delta, unit="D")

    m = (pattern == DAY_OF_MONTH) & valid
    if m.any():
        a = after[m]
        d = day[m].astype(int)
        ms = _month_start(a)
        this = _dom_run(ms, d)
        nxt = _dom_run(ms + pd.to_timedelta(ms.days_in_month.to_numpy(), unit="D"), d)
        out[m] = np.where(this >= a, this, nxt)

    m = (pattern == MONTH_END) & after.notna()
    if m.any():
        a = after[m]
        ms = _month_start(a)
        this = _month_end_run(ms)
        nxt = _month_end_run(ms + pd.to_timedelta(ms.days_in_month.to_numpy(), unit="D"))
        out[m] = np.where(this >= a, this, nxt)
    return pd.DatetimeIndex(out)


def next_pay_run(pay_runs: pd.DataFrame, after: pd.Series | pd.Timestamp, customer_ids=None) -> pd.Series:
    """Next pay-run date on or after a date, per customer.

    Parameters
    ----------
    pay_runs : pandas.DataFrame
        Output of :func:`detect_pay_runs` (uses ``customer_id``, ``pattern``, ``day``).
    after : pandas.Series or Timestamp
        A single date for every customer, or one date per row.
    customer_ids : array_like, optional
        The customers to look up. With a scalar ``after`` it defaults to every customer in
        ``pay_runs``; with a Series ``after`` it is aligned with it and defaults to
        ``after.index``.

    Returns
    -------
    pandas.Series
        ``next_run`` dates (NaT for customers without a run or not in ``pay_runs``); indexed
        by customer_id for a scalar ``after``, by ``after.index`` for a Series.
    """
    lookup = pay_runs.set_index(PayRuns.customer_id)
    if isinstance(after, pd.Series):
        ids = after.index if customer_ids is None else pd.Index(np.asarray(customer_ids, dtype=object))
        if len(ids) != len(after):
            raise InputError("customer_ids and after must have the same length")
        dates = pd.to_datetime(after).to_numpy()
        index = after.index
    else:
        ids = lookup.index if customer_ids is None else pd.Index(np.asarray(customer_ids, dtype=object))
        dates = np.repeat(np.datetime64(_as_timestamp(after).to_datetime64()), len(ids))
        index = pd.Index(ids, name=PayRuns.customer_id)
    pattern = lookup[PayRuns.pattern].reindex(ids).fillna(NO_RUN).to_numpy()
    day = lookup[PayRuns.day].reindex(ids).to_numpy(dtype=float)
    res = run_dates_on_or_after(pattern, day, dates)
    return pd.Series(res, index=index, name=PayRuns.next_run)
