"""Accounts-receivable KPIs: AR balances, aging, countback DSO, CEI and friends.

Every number here is computed from the canonical ``invoices`` and ``payments`` tables
(:class:`arinsights.schema.Invoices`, :class:`arinsights.schema.Payments`) as of an
explicit date; nothing dated after that date is used. The conventions are stated once, in
plain words, in :data:`CONVENTIONS` (the monthly report prints them) and repeated in the
docstrings below.

Open balance
    An invoice's open balance at the end of day ``d`` is its amount minus the allocations
    (payments and credit notes) dated on or before ``d``, kept between 0 and the amount; it
    is 0 once ``paid_date <= d`` and the invoice does not exist before its invoice date.

How it is computed (vectorised, one pass)
    Each invoice contributes a short sequence of balance *changes*: +amount on its invoice
    date, a change on every allocation date, and whatever is left on its paid date. The AR
    on any date is then a cumulative sum over those change events sorted by date, read off
    with :func:`numpy.searchsorted`. The *overdue* part uses the same events with each
    event's date moved to ``max(event date, due date + 1 day)``: an amount counts as overdue
    on day ``d`` exactly when it is already on the books (event date <= d) and the invoice
    is past due (due date < d). No loop over invoices, customers or dates; the only loop is
    over currencies, which are never added together.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._order import stable_argsort
from ..errors import InputError
from ..schema import KIND_CREDIT, KIND_PAYMENT, Invoices, Payments

__all__ = [
    "CONVENTIONS",
    "AGING_BUCKETS",
    "ar_balances",
    "aging",
    "monthly_kpis",
    "dso_countback",
    "kpi_summary",
    "kpi_tables",
]

#: The conventions behind every KPI, as sentences the monthly report prints verbatim.
CONVENTIONS: dict[str, str] = {
    "currency": (
        "Every figure is per currency; amounts in different currencies are never added together."
    ),
    "open_balance": (
        "An invoice's open balance on a date is its amount minus the payments and credit notes "
        "applied to it on or before that date; it is zero once the invoice is fully paid, and an "
        "invoice counts only from its invoice date. Cash not applied to any invoice does not reduce AR."
    ),
    "as_of": "Nothing dated after the report date (as of) is counted.",
    "current_overdue": (
        "An open amount is current until its due date (inclusive) and overdue from the day after."
    ),
    "aging": (
        "Aging buckets are by days past due on the report date: current (not yet past due), "
        "1-30, 31-60, 61-90 and over 90 days past due."
    ),
    "months": (
        "Monthly figures are per calendar month. The report date's own month is included as a "
        "month to date: it ends on the report date and counts only the days elapsed "
        "(the 'complete' column says whether a month is complete)."
    ),
    "credit_sales": "Credit sales are the amounts of invoices dated in the month.",
    "collections": (
        "Collections are the cash payments applied to invoices in the month; credit notes are shown "
        "separately as credits, and cash not applied to an invoice as unapplied cash."
    ),
    "dso": (
        "DSO uses the countback method: starting from the month-end AR, walk back through the months, "
        "subtracting each month's credit sales while the AR left covers the whole month (counting that "
        "month's days), then add the remaining fraction of the next month's days. Real month lengths are used."
    ),
    "best_possible_dso": (
        "Best possible DSO = current (not yet due) AR at month end / that month's credit sales x the "
        "month's days: the DSO if every customer paid exactly on time."
    ),
    "add": "Average days delinquent (ADD) = DSO - best possible DSO.",
    "cei": (
        "Collection effectiveness index (CEI) = (opening AR + credit sales - closing AR) / "
        "(opening AR + credit sales - closing current AR) x 100, for each month; 100 means everything "
        "that could be collected was collected."
    ),
    "weighted_days_to_pay": (
        "Average days to pay is weighted by invoice amount, over the invoices fully paid in the month, "
        "counted from invoice date to paid date."
    ),
    "pct_current": "Percent current = current AR / total AR x 100, at month end.",
}

#: Aging bucket labels for the default thresholds (0, 30, 60, 90).
AGING_BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "90+")

_EPS = 1e-9  # relative size below which a balance is floating-point noise, i.e. zero
_FAR_FUTURE = np.iinfo(np.int64).max // 4  # "never" in day numbers (never paid)


# --------------------------------------------------------------------------- helpers
def _day_numbers(values) -> np.ndarray:
    """Dates (any datetime64 resolution, Series or array-like) -> int64 day numbers since 1970.

    Time of day is dropped; NaT becomes ``_FAR_FUTURE``.
    """
    s = pd.to_datetime(pd.Series(values), errors="raise")
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    arr = s.to_numpy(dtype="datetime64[ns]")
    out = arr.astype("datetime64[D]").astype(np.int64)
    out[np.isnat(arr)] = _FAR_FUTURE
    return out


def _as_day(value, name: str = "as_of") -> int:
    if value is None:
        raise InputError(f"{name} is required: pass the report date explicitly (e.g. '2026-06-30')")
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}={value!r} is not a date; pass a date such as '2026-06-30'") from None
    if pd.isna(ts):
        raise InputError(f"{name} is missing; pass a date such as '2026-06-30'")
    return int(_day_numbers([ts.tz_localize(None) if ts.tzinfo else ts])[0])


def _days_to_timestamps(days: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]"))


def _require(df: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"the {table} table has no column(s) {missing}; it needs {list(columns)}",
            hint=f"pass the {table} table produced by arinsights' cleaning step (schema.{table.capitalize()})",
        )


_INV_COLS = (Invoices.invoice_id, Invoices.invoice_date, Invoices.due_date, Invoices.amount,
             Invoices.currency, Invoices.paid_date)
_PAY_COLS = (Payments.payment_date, Payments.amount, Payments.invoice_id)


def _arrow_text(values: pd.Series) -> pa.Array:
    """A text column as a pyarrow string array (missing -> null), without a Python-object copy."""
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())  # e.g. all missing (null type)
    return arr


def _positions(keys: pd.Series, lookup: pd.Series) -> np.ndarray:
    """Position of each ``lookup`` value in ``keys`` (unique), -1 when absent or missing.

    One pyarrow hash join on the text; the same answer as
    ``pd.Index(keys).get_indexer(lookup)`` for unique, non-missing keys.
    """
    k = _arrow_text(keys)
    v = _arrow_text(lookup).cast(k.type)
    pos = pc.index_in(v, value_set=k, skip_nulls=True)
    return pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _equals(values: pd.Series, text: str) -> np.ndarray:
    """Boolean array: the value (as text) equals ``text`` (missing -> False)."""
    return pd.Series(values.astype(str) == text).fillna(False).to_numpy(dtype=bool)


def _prepare(invoices: pd.DataFrame, payments: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Numpy arrays of the ledger, computed once per public call.

    Invoice arrays: ``inv_day``, ``due_day``, ``paid_day`` (day numbers; never paid ->
    ``_FAR_FUTURE``), ``amount``. Payment arrays: ``p_pos`` (position of the allocated
    invoice, -1 for unapplied cash or an unknown invoice), ``p_day``, ``p_amt``, ``p_cash``
    and ``p_credit`` (kind is "payment" / "credit"), ``p_code`` (currency code of the
    payment's own currency, else its invoice's). Currency codes index ``cur_all`` (the
    ledger's currencies, sorted); ``cur_code`` is the invoices' currency code (-1 when missing).
    Text columns are factorised / hash-joined once (pyarrow), never turned into Python objects.
    """
    _require(invoices, _INV_COLS, "invoices")
    inv_day = _day_numbers(invoices[Invoices.invoice_date])
    # a paid date before the invoice date is a data error; treat it as paid on the invoice date
    paid_day = np.maximum(_day_numbers(invoices[Invoices.paid_date]), inv_day)
    L = {
        "inv_day": inv_day,
        "due_day": _day_numbers(invoices[Invoices.due_date]),
        "paid_day": paid_day,
        "amount": invoices[Invoices.amount].to_numpy(dtype=float),
    }
    # currency codes computed once: index into the sorted list of the ledger's currencies
    codes, uniques = pd.factorize(invoices[Invoices.currency].astype(str), sort=True)
    L["cur_code"] = np.asarray(codes).astype(np.int64)
    L["cur_all"] = np.asarray(uniques, dtype=object)
    if payments is None or len(payments) == 0:
        L.update(p_pos=np.empty(0, np.int64), p_day=np.empty(0, np.int64), p_amt=np.empty(0, float),
                 p_cash=np.empty(0, bool), p_credit=np.empty(0, bool), p_code=np.empty(0, np.int64))
        return L
    _require(payments, _PAY_COLS, "payments")
    pay_inv = payments[Payments.invoice_id]
    if not isinstance(pay_inv.dtype, pd.StringDtype):  # text already: nothing to convert
        pay_inv = pay_inv.where(pay_inv.isna(), pay_inv.astype(str))
    # one hash join of allocation -> invoice position
    pos = _positions(invoices[Invoices.invoice_id].astype(str), pay_inv)
    p_day = _day_numbers(payments[Payments.payment_date])
    pos[p_day >= _FAR_FUTURE] = -1  # an allocation without a date cannot be placed in time
    if Payments.kind in payments.columns:
        p_cash, p_credit = _equals(payments[Payments.kind], KIND_PAYMENT), _equals(payments[Payments.kind], KIND_CREDIT)
    else:
        p_cash, p_credit = np.ones(len(payments), bool), np.zeros(len(payments), bool)
    inv_code = np.where(pos >= 0, L["cur_code"][np.maximum(pos, 0)], -1)
    if Payments.currency in payments.columns:  # the payment's own currency, else its invoice's
        pcodes, puniq = pd.factorize(payments[Payments.currency].astype(str))
        remap = pd.Index(L["cur_all"], dtype=object).get_indexer(pd.Index(np.asarray(puniq, dtype=object), dtype=object))
        pcodes = np.asarray(pcodes)
        own = np.where(pcodes >= 0, np.append(remap, -1)[pcodes], -1)
        p_code = np.where(payments[Payments.currency].isna().to_numpy(), inv_code, own)
    else:
        p_code = inv_code
    L.update(p_pos=pos, p_day=p_day, p_amt=payments[Payments.amount].to_numpy(dtype=float),
             p_cash=p_cash, p_credit=p_credit, p_code=p_code.astype(np.int64))
    return L


def _balance_events(L: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Balance-change events: one per (invoice, day) on which its open balance changes.

    Keys: ``pos`` (invoice position), ``day``, ``delta`` (change in open balance),
    ``overdue_day`` (the day the change starts to count as overdue = max(day, due + 1)).
    """
    n = len(L["amount"])
    ok = L["p_pos"] >= 0  # unapplied cash and unknown invoices do not touch AR
    apos, aamt = L["p_pos"][ok], L["p_amt"][ok]
    # an allocation dated before the invoice exists takes effect on the invoice date
    aday = np.maximum(L["p_day"][ok], L["inv_day"][apos])
    ppos = np.flatnonzero(L["paid_day"] < _FAR_FUTURE)
    pos = np.concatenate([np.arange(n), apos, ppos])
    day = np.concatenate([L["inv_day"], aday, L["paid_day"][ppos]])
    alloc = np.concatenate([np.zeros(n), aamt, np.zeros(len(ppos))])
    if len(pos) == 0:
        empty_i = np.empty(0, np.int64)
        return {"pos": empty_i, "day": empty_i, "delta": np.empty(0, float), "overdue_day": empty_i}
    # end-of-day state per (invoice, day): sort by (pos, day) and sum allocations on the same day
    dmin = int(day.min())
    order = stable_argsort(pos * (int(day.max()) - dmin + 1) + (day - dmin))
    pos, day, alloc = pos[order], day[order], alloc[order]
    new = np.r_[True, (pos[1:] != pos[:-1]) | (day[1:] != day[:-1])]
    starts = np.flatnonzero(new)
    alloc = np.add.reduceat(alloc, starts)
    pos, day = pos[starts], day[starts]
    cum_alloc = pd.Series(alloc).groupby(pos, sort=False).cumsum().to_numpy()  # exact per invoice
    amount = L["amount"][pos]
    balance = np.clip(amount - cum_alloc, 0.0, amount)
    balance[(day >= L["paid_day"][pos]) | (balance <= _EPS * amount)] = 0.0
    first = np.r_[True, pos[1:] != pos[:-1]]
    prev = np.r_[0.0, balance[:-1]]
    prev[first] = 0.0
    delta = balance - prev
    keep = delta != 0.0
    pos, day, delta = pos[keep], day[keep], delta[keep]
    return {"pos": pos, "day": day, "delta": delta,
            "overdue_day": np.maximum(day, L["due_day"][pos] + 1)}


def _cum_at(event_days: np.ndarray, deltas: np.ndarray, query_days: np.ndarray) -> np.ndarray:
    """Sum of ``deltas`` whose day <= each query day (cumulative sum + searchsorted)."""
    if len(event_days) == 0:
        return np.zeros(len(query_days))
    order = stable_argsort(event_days)
    d = event_days[order]
    cs = np.concatenate([[0.0], np.cumsum(deltas[order])])
    return cs[np.searchsorted(d, query_days, side="right")]


def _currencies(L: dict[str, np.ndarray], up_to_day: int) -> list[str]:
    """Currencies with an invoice dated on or before ``up_to_day``, sorted."""
    present = np.zeros(len(L["cur_all"]), bool)
    present[L["cur_code"][L["inv_day"] <= up_to_day]] = True
    return list(L["cur_all"][present])


def _recode(L: dict[str, np.ndarray], codes: np.ndarray, currencies: list[str]) -> np.ndarray:
    """Ledger currency codes -> positions in ``currencies`` (-1 when not among them)."""
    remap = pd.Index(currencies, dtype=object).get_indexer(pd.Index(L["cur_all"], dtype=object))
    remap = np.append(remap, -1).astype(np.int64)  # code -1 (unknown) stays -1
    return remap[codes]


def _balances_by_day(L: dict[str, np.ndarray], events: dict[str, np.ndarray], currencies: list[str],
                     query_days: np.ndarray) -> dict[str, np.ndarray]:
    """total / current / overdue AR, arrays of shape (n_currencies, n_query_days)."""
    cur_of_event = _recode(L, L["cur_code"][events["pos"]], currencies)
    shape = (len(currencies), len(query_days))
    total, overdue = np.zeros(shape), np.zeros(shape)
    for k in range(len(currencies)):  # a handful of currencies; everything inside is vectorised
        m = cur_of_event == k
        total[k] = _cum_at(events["day"][m], events["delta"][m], query_days)
        overdue[k] = _cum_at(events["overdue_day"][m], events["delta"][m], query_days)
    # rounding noise from long cumulative sums: clamp to zero
    total[np.abs(total) < 1e-6] = 0.0
    overdue[np.abs(overdue) < 1e-6] = 0.0
    return {"total_ar": total, "current_ar": total - overdue, "overdue_ar": overdue}


# --------------------------------------------------------------------------- public API
def ar_balances(invoices: pd.DataFrame, payments: pd.DataFrame, dates) -> pd.DataFrame:
    """AR outstanding at the end of each given date, split into current and overdue, per currency.

    Parameters
    ----------
    invoices : pandas.DataFrame
        :class:`~arinsights.schema.Invoices` (uses invoice_id, invoice_date, due_date, amount,
        currency, paid_date).
    payments : pandas.DataFrame
        :class:`~arinsights.schema.Payments` allocations (uses payment_date, amount,
        invoice_id). Rows without an invoice_id (unapplied cash) do not reduce AR.
    dates : array-like of dates
        The dates to evaluate (end of day). Duplicates are dropped; the output is sorted.

    Returns
    -------
    pandas.DataFrame
        One row per (currency, date) for every currency with an invoice dated on or before
        the last date:

        - ``date`` : datetime64, the evaluation date.
        - ``currency`` : str.
        - ``total_ar`` : float, total open balance at the end of ``date``.
        - ``current_ar`` : float, open balance of invoices not yet past due (due_date >= date).
        - ``overdue_ar`` : float, open balance of invoices past due (due_date < date).

    Notes
    -----
    See :data:`CONVENTIONS` (``open_balance``, ``current_overdue``). Vectorised over
    invoices, allocations and dates: one cumulative sum over sorted balance-change events
    per currency, read with :func:`numpy.searchsorted`.
    """
    if isinstance(dates, (str, pd.Timestamp)) or np.ndim(dates) == 0:
        dates = [dates]
    qdays = np.unique(_day_numbers(pd.Series(list(dates))))
    if len(qdays) == 0:
        raise InputError("ar_balances needs at least one date")
    L = _prepare(invoices, payments)
    currencies = _currencies(L, int(qdays.max()))
    bal = _balances_by_day(L, _balance_events(L), currencies, qdays)
    return pd.DataFrame({
        "date": np.tile(_days_to_timestamps(qdays), len(currencies)),
        "currency": np.repeat(np.asarray(currencies, dtype=object), len(qdays)),
        "total_ar": bal["total_ar"].ravel(),
        "current_ar": bal["current_ar"].ravel(),
        "overdue_ar": bal["overdue_ar"].ravel(),
    })


def _open_at(L: dict[str, np.ndarray], as_day: int) -> np.ndarray:
    """Open balance of each invoice at the end of ``as_day`` (0 when not yet issued)."""
    amount = L["amount"]
    m = (L["p_pos"] >= 0) & (L["p_day"] <= as_day)
    applied = np.bincount(L["p_pos"][m], weights=L["p_amt"][m], minlength=len(amount))
    open_ = np.clip(amount - applied, 0.0, amount)
    open_[(L["paid_day"] <= as_day) | (L["inv_day"] > as_day) | (open_ <= _EPS * amount)] = 0.0
    return open_


def aging(invoices: pd.DataFrame, payments: pd.DataFrame, as_of, *,
          buckets: Sequence[int] = (0, 30, 60, 90)) -> pd.DataFrame:
    """Open AR on ``as_of`` by days past due, per currency.

    Parameters
    ----------
    invoices, payments : pandas.DataFrame
        Canonical tables (see :func:`ar_balances`).
    as_of : date-like
        The report date; nothing dated after it counts.
    buckets : sequence of int, default (0, 30, 60, 90)
        Increasing upper bounds (days past due, inclusive) of the buckets. The first bound
        closes the "current" bucket (days past due <= 0, i.e. not yet past due); the default
        gives "current", "1-30", "31-60", "61-90", "90+".

    Returns
    -------
    pandas.DataFrame
        One row per (currency, bucket), every bucket present even when empty, in bucket order:

        - ``currency`` : str.
        - ``bucket`` : str, "current", "1-30", "31-60", "61-90", "90+" for the defaults.
        - ``open_amount`` : float, sum of open balances in the bucket.
        - ``n_invoices`` : int, invoices with an open balance in the bucket.
        - ``share`` : float, open_amount / the currency's total open AR (0..1; NaN when no AR).

    Notes
    -----
    Days past due = as_of - due_date in whole days. See :data:`CONVENTIONS` (``aging``).
    """
    as_day = _as_day(as_of)
    bounds = _aging_bounds(buckets)
    return _aging(_prepare(invoices, payments), as_day, bounds)


def _aging_bounds(buckets: Sequence[int]) -> list[int]:
    bounds = [int(b) for b in buckets]
    if not bounds or any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:])):
        raise InputError(f"aging buckets must be increasing whole days, got {list(buckets)}")
    return bounds


def _aging(a: dict[str, np.ndarray], as_day: int, bounds: list[int]) -> pd.DataFrame:
    """:func:`aging` on the prepared ledger arrays."""
    labels = ["current" if bounds[0] == 0 else f"<={bounds[0]}"]
    labels += [f"{lo + 1}-{hi}" for lo, hi in zip(bounds, bounds[1:])]
    labels.append(f"{bounds[-1]}+")
    open_ = _open_at(a, as_day)
    dpd = as_day - a["due_day"]
    idx = np.searchsorted(np.asarray(bounds), dpd, side="left")  # dpd <= b0 -> 0, ...
    has = open_ > 0
    has &= a["cur_code"] >= 0  # a missing currency has no bucket row (as groupby drops it)
    frame = pd.DataFrame({"currency": a["cur_all"][a["cur_code"][has]], "b": idx[has], "open": open_[has]})
    grid = pd.MultiIndex.from_product([_currencies(a, as_day), range(len(labels))],
                                      names=["currency", "b"])
    g = frame.groupby(["currency", "b"]).agg(open_amount=("open", "sum"), n_invoices=("open", "size"))
    g = g.reindex(grid, fill_value=0).reset_index()
    total = g.groupby("currency")["open_amount"].transform("sum")
    g["share"] = (g["open_amount"] / total.where(total > 0)).astype(float)
    g["bucket"] = np.asarray(labels, dtype=object)[g["b"].to_numpy()]
    g["open_amount"] = g["open_amount"].astype(float)
    g["n_invoices"] = g["n_invoices"].astype(np.int64)
    return g[["currency", "bucket", "open_amount", "n_invoices", "share"]]


def dso_countback(ar: float, monthly_sales: Sequence[float], days_in_months: Sequence[int]) -> float:
    """Days sales outstanding by the countback method.

    Parameters
    ----------
    ar : float
        Total AR at the end of the latest month.
    monthly_sales : sequence of float
        Credit sales per month, **latest month first**.
    days_in_months : sequence of int
        Days in each of those months, same order.

    Returns
    -------
    float
        Starting from ``ar``, each month's sales are subtracted while the AR left covers the
        whole month (adding that month's days); then the remaining fraction of the next
        month's days is added. When the AR exceeds all the sales given, the result is the
        total of the days given (a lower bound). AR <= 0 gives 0.

    Examples
    --------
    AR 212k, sales 100k / 80k / 70k (latest first), 30-day months:
    30 + 30 + (32/70) x 30 = 73.71 days.

    >>> round(dso_countback(212_000, [100_000, 80_000, 70_000], [30, 30, 30]), 2)
    73.71
    """
    sales = [float(s) for s in monthly_sales]
    days = [float(d) for d in days_in_months]
    if len(sales) != len(days):
        raise InputError(f"dso_countback: {len(sales)} months of sales but {len(days)} month lengths")
    if any(s < 0 for s in sales) or any(d <= 0 for d in days):
        raise InputError("dso_countback: sales must be >= 0 and month lengths > 0")
    remaining = float(ar)
    if remaining <= 0:
        return 0.0
    dso = 0.0
    tol = 1e-9 * max(1.0, abs(remaining))  # floating-point noise of the subtractions
    for s, d in zip(sales, days):  # a handful of months; the definition itself
        if remaining <= tol:  # AR fully explained: stop
            return dso
        if remaining >= s - tol:
            remaining -= s
            dso += d
        else:
            return dso + remaining / s * d
    return dso


def _countback_vectorised(ar: np.ndarray, sales: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Countback DSO at the end of every month of one chronological series at once.

    ``sales`` and ``days`` are chronological (oldest first); ``ar[j]`` is the AR at the end
    of month j. Walking back from month j covers months j, j-1, ..., t while the backward
    sum of sales stays <= ar[j]; because that sum only grows, the number of covered months
    is found with one :func:`numpy.searchsorted` on the prefix sums.
    """
    n = len(sales)
    cs = np.concatenate([[0.0], np.cumsum(sales)])          # cs[i] = sales of months < i
    cd = np.concatenate([[0.0], np.cumsum(days)])
    j = np.arange(n)
    ar = np.asarray(ar, dtype=float)
    tol = 1e-9 * np.maximum(1.0, np.abs(cs[j + 1]))
    # first month t whose backward sum cs[j+1]-cs[t] <= ar  <=>  cs[t] >= cs[j+1]-ar
    t_full = np.searchsorted(cs, cs[j + 1] - ar - tol, side="left")
    # the walk stops as soon as the AR is used up: the latest t whose backward sum already
    # reaches ar (when one hits it exactly, older months are not counted)
    t_exact = np.searchsorted(cs, cs[j + 1] - ar + tol, side="right") - 1
    t = np.minimum(np.maximum(t_full, t_exact), j + 1)
    full_days = cd[j + 1] - cd[t]
    remaining = ar - (cs[j + 1] - cs[t])
    prev = t - 1                                             # the partly covered month
    has_prev = prev >= 0
    frac = np.zeros(n)
    s_prev = np.where(has_prev, sales[np.maximum(prev, 0)], 1.0)
    d_prev = np.where(has_prev, days[np.maximum(prev, 0)], 0.0)
    ok = has_prev & (s_prev > 0)
    frac[ok] = np.clip(remaining[ok], 0.0, None) / s_prev[ok] * d_prev[ok]
    frac[np.abs(remaining) <= tol] = 0.0
    out = full_days + frac
    out[ar <= 0] = 0.0
    return out


def _month_index(day_numbers: np.ndarray) -> np.ndarray:
    """Day numbers -> months since 1970-01 (year*12 + month arithmetic).

    The calendar conversion is done once per distinct day of the range spanned (a small
    table), then looked up: the same numbers as converting every element.
    """
    d = np.asarray(day_numbers, dtype=np.int64)
    if len(d) == 0:
        return d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    lo, hi = int(d.min()), int(d.max())
    if hi - lo >= max(len(d), 4096):  # a sparse spread of days: convert directly
        return d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    table = np.arange(lo, hi + 1, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return table[d - lo]


def monthly_kpis(invoices: pd.DataFrame, payments: pd.DataFrame, as_of, *, months: int = 12) -> pd.DataFrame:
    """Monthly AR KPIs for the ``months`` calendar months up to and including ``as_of``'s month.

    Parameters
    ----------
    invoices, payments : pandas.DataFrame
        Canonical tables (see :func:`ar_balances`); payments' ``kind`` ("payment"/"credit")
        and ``currency`` are used when present.
    as_of : date-like
        The report date. Its own month is included *month to date*: the period ends on
        ``as_of`` and has ``as_of.day`` days (``complete`` is False unless as_of is the
        month's last day). Nothing dated after ``as_of`` counts.
    months : int, default 12
        Number of months (rows per currency).

    Returns
    -------
    pandas.DataFrame
        One row per (currency, month), oldest month first within a currency:

        - ``month`` : str, "YYYY-MM".
        - ``currency`` : str.
        - ``period_start``, ``period_end`` : datetime64, first and last day counted.
        - ``days`` : int, days in the period (real month length; elapsed days for the as_of month).
        - ``complete`` : bool, False for a month to date.
        - ``credit_sales`` : float, amounts of invoices dated in the period.
        - ``collections`` : float, cash payments applied to invoices dated in the period.
        - ``credits`` : float, credit notes applied in the period.
        - ``unapplied_cash`` : float, cash received in the period not applied to any invoice
          (in the payment's currency).
        - ``opening_ar`` : float, total AR at the end of the day before period_start.
        - ``closing_ar`` : float, total AR at the end of period_end.
        - ``closing_current_ar`` : float, the part of closing_ar not yet past due.
        - ``dso_countback`` : float, days (countback from closing_ar over the whole sales history).
        - ``best_possible_dso`` : float, closing_current_ar / credit_sales x days (NaN without sales).
        - ``add`` : float, dso_countback - best_possible_dso.
        - ``cei`` : float, (opening_ar + credit_sales - closing_ar) /
          (opening_ar + credit_sales - closing_current_ar) x 100 (NaN when the denominator is 0).
        - ``weighted_days_to_pay`` : float, amount-weighted mean of paid_date - invoice_date over
          invoices whose paid_date falls in the period (NaN when none).
        - ``pct_current`` : float, closing_current_ar / closing_ar x 100 (NaN when no AR).

    Notes
    -----
    See :data:`CONVENTIONS`. Sales are grouped by month with period arithmetic; balances
    come from :func:`ar_balances`' event sums; DSO uses a vectorised countback over the full
    monthly sales history of each currency (one ``searchsorted``). The only loop is over
    currencies.
    """
    as_day = _as_day(as_of)
    months = _check_months(months)
    a = _prepare(invoices, payments)
    return _monthly_frame(_monthly_grid(a, None, as_day, months), months)


_MONTHLY_COLS = ["month", "currency", "period_start", "period_end", "days", "complete", "credit_sales",
                 "collections", "credits", "unapplied_cash", "opening_ar", "closing_ar", "closing_current_ar",
                 "dso_countback", "best_possible_dso", "add", "cei", "weighted_days_to_pay", "pct_current"]


def _check_months(months) -> int:
    months = int(months)
    if months < 1:
        raise InputError(f"months must be at least 1, got {months}")
    return months


def _hist_start(a: dict[str, np.ndarray], as_day: int, months: int) -> int | None:
    """First month (months since 1970-01) of the history :func:`monthly_kpis` walks over
    (None without any currency on ``as_day``)."""
    if not _currencies(a, as_day):
        return None
    cur_months = int(_month_index(np.array([as_day]))[0])
    issued = a["inv_day"] <= as_day
    first_month = int(_month_index(a["inv_day"][issued]).min())
    return min(first_month, cur_months - months + 1)


def _monthly_grid(a: dict[str, np.ndarray], events: dict[str, np.ndarray] | None, as_day: int,
                  months: int) -> dict | None:
    """Every monthly KPI as (currency x month) arrays over the whole history from
    :func:`_hist_start` to ``as_day``'s month (None without any currency)."""
    hist_start = _hist_start(a, as_day, months)
    if hist_start is None:
        return None
    cur_months = int(_month_index(np.array([as_day]))[0])
    currencies = _currencies(a, as_day)
    month_ids = np.arange(hist_start, cur_months + 1)                      # whole history, chronological
    nm, nc = len(month_ids), len(currencies)
    start_day = month_ids.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    end_day = (month_ids + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1
    end_day[-1] = as_day
    n_days = (end_day - start_day + 1).astype(float)
    complete = np.ones(nm, bool)
    complete[-1] = as_day == _month_end_day(cur_months)

    def by_month(day: np.ndarray, use: np.ndarray, cur_code: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Sum ``weights`` of the rows in ``use`` dated up to as_of into a (currency x month) grid."""
        code = _recode(a, cur_code, currencies)
        ok = use & (day <= as_day) & (code >= 0)
        m = _month_index(day[ok]) - hist_start
        inside = m >= 0
        flat = code[ok][inside] * nm + m[inside]
        return np.bincount(flat, weights=weights[ok][inside], minlength=nc * nm).reshape(nc, nm)

    sales = by_month(a["inv_day"], np.ones(len(a["amount"]), bool), a["cur_code"], a["amount"])
    applied = a["p_pos"] >= 0
    is_cash = a["p_cash"]
    p_inv_cur = np.where(applied, a["cur_code"][np.maximum(a["p_pos"], 0)], -1)
    collections = by_month(a["p_day"], applied & is_cash, p_inv_cur, a["p_amt"])
    credits = by_month(a["p_day"], applied & a["p_credit"], p_inv_cur, a["p_amt"])
    unapplied = by_month(a["p_day"], ~applied & is_cash, a["p_code"], a["p_amt"])
    # amount-weighted days to pay over invoices fully paid in the period
    paid = a["paid_day"] < _FAR_FUTURE
    dtp = np.where(paid, a["paid_day"] - a["inv_day"], 0).astype(float)
    paid_day = np.where(paid, a["paid_day"], _FAR_FUTURE)
    w_amt = by_month(paid_day, paid, a["cur_code"], a["amount"])
    w_days = by_month(paid_day, paid, a["cur_code"], a["amount"] * dtp)

    # balances at every month end and every opening (end of the day before the month starts)
    if events is None:
        events = _balance_events(a)
    bal = _balances_by_day(a, events, currencies, np.concatenate([end_day, start_day - 1]))
    closing, opening = bal["total_ar"][:, :nm], bal["total_ar"][:, nm:]
    closing_cur = bal["current_ar"][:, :nm]

    dso = np.vstack([_countback_vectorised(closing[k], sales[k], n_days) for k in range(nc)])  # per currency
    with np.errstate(divide="ignore", invalid="ignore"):
        best = np.where(sales > 0, closing_cur / sales * n_days, np.nan)
        den = opening + sales - closing_cur
        cei = np.where(np.abs(den) > 1e-9, (opening + sales - closing) / den * 100.0, np.nan)
        wdtp = np.where(w_amt > 0, w_days / w_amt, np.nan)
        pct = np.where(closing > 1e-9, closing_cur / closing * 100.0, np.nan)
    return {"month_ids": month_ids, "currencies": currencies, "start_day": start_day, "end_day": end_day,
            "n_days": n_days, "complete": complete, "sales": sales, "collections": collections,
            "credits": credits, "unapplied": unapplied, "opening": opening, "closing": closing,
            "closing_cur": closing_cur, "dso": dso, "best": best, "cei": cei, "wdtp": wdtp, "pct": pct}


def _monthly_frame(g: dict | None, months: int) -> pd.DataFrame:
    """The :func:`monthly_kpis` table of the last ``months`` months of a :func:`_monthly_grid`."""
    cols = _MONTHLY_COLS
    if g is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    nm, nc = len(g["month_ids"]), len(g["currencies"])
    keep = np.arange(nm - months, nm)
    grid = lambda x: np.asarray(x)[:, keep].ravel()  # noqa: E731  currency-major, months ascending
    per_month = lambda x: np.tile(np.asarray(x)[keep], nc)  # noqa: E731
    labels = np.datetime_as_string(g["month_ids"].astype("datetime64[M]"), unit="M").astype(object)  # "YYYY-MM"
    out = pd.DataFrame({
        "month": per_month(labels),
        "currency": np.repeat(np.asarray(g["currencies"], dtype=object), months),
        "period_start": per_month(_days_to_timestamps(g["start_day"])),
        "period_end": per_month(_days_to_timestamps(g["end_day"])),
        "days": per_month(g["n_days"]).astype(np.int64),
        "complete": per_month(g["complete"]),
        "credit_sales": grid(g["sales"]),
        "collections": grid(g["collections"]),
        "credits": grid(g["credits"]),
        "unapplied_cash": grid(g["unapplied"]),
        "opening_ar": grid(g["opening"]),
        "closing_ar": grid(g["closing"]),
        "closing_current_ar": grid(g["closing_cur"]),
        "dso_countback": grid(g["dso"]),
        "best_possible_dso": grid(g["best"]),
        "add": grid(g["dso"] - g["best"]),
        "cei": grid(g["cei"]),
        "weighted_days_to_pay": grid(g["wdtp"]),
        "pct_current": grid(g["pct"]),
    })
    return out[cols]


def _month_end_day(month_id: int) -> int:
    return int((np.int64(month_id) + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1)


#: KPIs shown as tiles: (column, plain label, unit, which direction is better)
_TILES: tuple[tuple[str, str, str, str], ...] = (
    ("closing_ar", "Total AR", "amount", "lower"),
    ("pct_current", "Percent current", "percent", "higher"),
    ("dso_countback", "DSO (countback)", "days", "lower"),
    ("best_possible_dso", "Best possible DSO", "days", "lower"),
    ("add", "Average days delinquent", "days", "lower"),
    ("cei", "Collection effectiveness (CEI)", "percent", "higher"),
    ("weighted_days_to_pay", "Average days to pay", "days", "lower"),
    ("credit_sales", "Credit sales", "amount", "higher"),
    ("collections", "Collections", "amount", "higher"),
)


def kpi_summary(invoices: pd.DataFrame, payments: pd.DataFrame, as_of) -> pd.DataFrame:
    """The latest KPI values and their change against the previous month (for KPI tiles).

    Parameters
    ----------
    invoices, payments : pandas.DataFrame
        Canonical tables (see :func:`ar_balances`).
    as_of : date-like
        The report date. "Latest" is ``as_of``'s month (month to date, see
        :func:`monthly_kpis`); "previous" is the calendar month before it.

    Returns
    -------
    pandas.DataFrame
        One row per (currency, kpi), in tile order:

        - ``currency`` : str.
        - ``kpi`` : str, the :func:`monthly_kpis` column name.
        - ``label`` : str, plain-language name.
        - ``unit`` : str, "amount", "days" or "percent".
        - ``value`` : float, latest value.
        - ``previous`` : float, previous month's value.
        - ``change`` : float, value - previous (percentage points for percents).
        - ``better`` : str, "higher" or "lower": which direction is good.
        - ``improved`` : bool or NA, whether the change went the good way (NA when unknown
          or unchanged).
        - ``month``, ``previous_month`` : str, "YYYY-MM".
    """
    return _summary(monthly_kpis(invoices, payments, as_of, months=_SUMMARY_MONTHS))


_SUMMARY_MONTHS = 2  # the latest month and the one before it


def _summary(m: pd.DataFrame) -> pd.DataFrame:
    """:func:`kpi_summary` from the two-month :func:`monthly_kpis` table."""
    cols = ["currency", "kpi", "label", "unit", "value", "previous", "change", "better", "improved",
            "month", "previous_month"]
    if m.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    latest = m.groupby("currency", sort=True).nth(-1).set_index("currency")
    prev = m.groupby("currency", sort=True).nth(0).set_index("currency")
    frames = []
    for col, label, unit, better in _TILES:  # nine KPI columns, vectorised over currencies
        v = latest[col].astype(float)
        p = prev[col].astype(float)
        ch = v - p
        good = ch > 0 if better == "higher" else ch < 0
        improved = pd.Series(good, dtype="boolean").where(ch.notna() & (ch != 0))
        frames.append(pd.DataFrame({
            "currency": latest.index, "kpi": col, "label": label, "unit": unit,
            "value": v.to_numpy(), "previous": p.to_numpy(), "change": ch.to_numpy(),
            "better": better, "improved": improved.to_numpy(),
            "month": latest["month"].to_numpy(), "previous_month": prev["month"].to_numpy(),
        }))
    out = pd.concat(frames, ignore_index=True)
    order = {c: i for i, (c, *_rest) in enumerate(_TILES)}
    out["_o"] = out["kpi"].map(order)
    return out.sort_values(["currency", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)[cols]


def kpi_tables(invoices: pd.DataFrame, payments: pd.DataFrame, as_of, *, months: int = 12,
               buckets: Sequence[int] = (0, 30, 60, 90)) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`aging`, :func:`monthly_kpis` and :func:`kpi_summary` in one pass over the ledger.

    The same three tables as the three separate calls, for a fraction of the cost: the
    ledger is prepared once (text ids matched, dates turned into day numbers) and the
    balance-change events are built once.

    Parameters
    ----------
    invoices, payments : pandas.DataFrame
        Canonical tables (see :func:`ar_balances`).
    as_of : date-like
        The report date.
    months : int, default 12
        Months of :func:`monthly_kpis`.
    buckets : sequence of int, default (0, 30, 60, 90)
        Bucket bounds of :func:`aging`.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(aging(invoices, payments, as_of, buckets=buckets),
        monthly_kpis(invoices, payments, as_of, months=months),
        kpi_summary(invoices, payments, as_of))``.
    """
    as_day = _as_day(as_of)
    months = _check_months(months)
    bounds = _aging_bounds(buckets)
    a = _prepare(invoices, payments)
    ag = _aging(a, as_day, bounds)
    if _hist_start(a, as_day, months) is None:  # nothing issued by as_of: empty tables
        return ag, _monthly_frame(None, months), _summary(_monthly_frame(None, _SUMMARY_MONTHS))
    events = _balance_events(a)
    grid = _monthly_grid(a, events, as_day, months)
    if _hist_start(a, as_day, _SUMMARY_MONTHS) == _hist_start(a, as_day, months):
        # the same history (the ledger is older than both windows): the summary's two months
        # are the last two of the same grid
        grid2 = grid
    else:
        grid2 = _monthly_grid(a, events, as_day, _SUMMARY_MONTHS)
    return ag, _monthly_frame(grid, months), _summary(_monthly_frame(grid2, _SUMMARY_MONTHS))
