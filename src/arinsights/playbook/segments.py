"""Customer segments: good customers who slipped versus habitual delinquents.

Every customer is judged against their own habit (design notes, sections 1 and 5). The
rules are small named masks over one evidence frame (one row per customer) and are applied
in a fixed order, first match wins:

====================  =====================================================================
segment               rule (``settings.playbook`` field names)
====================  =====================================================================
ghost                 owes money and paid nothing for ``ghost_days``: no payment for that
                      long (or never) and the oldest open invoice at least that old
new                   fewer than ``new_min_paid`` paid invoices in the look-back
habitual              on-time share < ``habitual_on_time_share`` or median days late >
                      ``habitual_median_days_late``
drifting              sound history before the last ``drift_recent_k`` paid invoices (on-time
                      share >= ``drift_history_on_time_share``), and their mean days-to-pay
                      > long-run p80 + ``drift_margin_days`` (p80 of the paid
                      invoices before those k)
slipped               on-time share >= ``reliable_on_time_share`` and at least one open
                      invoice out of character (older than p80, past due, and past the first
                      pay run on/after due plus ``pay_run_grace_days``)
irregular             on-time share < ``reliable_on_time_share``
reliable              everything else (on-time history, nothing open beyond its window)
====================  =====================================================================

A paid invoice is *on time* when it was paid within ``grace_days`` of its due date, or on or
before the customer's first pay-run day on/after its due date (plus ``pay_run_grace_days``);
a pay-run day falling on a weekend moves to the next Monday. Disputed invoices are set aside
(``disputes_count_as_late``): they count neither for nor against the on-time history and
never make a customer "slipped". Everything is a group-by over customers; nothing loops
over customers or rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._order import stable_argsort
from ..errors import InputError
from ..schema import (
    KIND_PAYMENT,
    CustomerHistory,
    CustomerWindows,
    Durations,
    Invoices,
    OpenInvoiceOutlook,
    Payments,
    PayRuns,
    SegmentEvidence,
    Segments,
)
from ..settings import PlaybookSettings, Settings
from .actions import evidence_text, primary_actions, segment_reason

__all__ = [
    "SEGMENT_ORDER",
    "first_run_on_or_after",
    "customer_history",
    "open_invoice_status",
    "segment_evidence",
    "assign_segments",
    "segment_customers",
    "is_ghost",
    "is_new",
    "is_habitual",
    "is_drifting",
    "is_slipped",
    "is_irregular",
]

#: first match wins, in this order.
SEGMENT_ORDER = ("ghost", "new", "habitual", "drifting", "slipped", "irregular", "reliable")

_PATTERN_NONE = "none"
_DAY = pd.Timedelta(days=1)
_OPEN_TOLERANCE = 0.005  # an open balance below half a cent is nothing open


# ----------------------------------------------------------------------------- helpers
def _playbook(settings: Settings | PlaybookSettings | None) -> PlaybookSettings:
    if settings is None:
        return PlaybookSettings()
    if isinstance(settings, PlaybookSettings):
        return settings
    return settings.playbook


def _days(n) -> pd.TimedeltaIndex | pd.Series:
    """Whole or fractional days as timedeltas (vectorised)."""
    return pd.to_timedelta(np.asarray(n, dtype=float), unit="D")


def _roll_weekend(dates: pd.Series) -> pd.Series:
    """Move Saturdays and Sundays to the next Monday (runs are paid on business days)."""
    wd = dates.dt.day_of_week.to_numpy(dtype=float)
    shift = np.where(wd == 5, 2.0, np.where(wd == 6, 1.0, 0.0))
    return dates + _days(shift)


def _day_in_month(month_start: pd.Series, day: np.ndarray) -> pd.Series:
    """Day ``day`` of the month starting at ``month_start`` (clamped to its length)."""
    dim = month_start.dt.days_in_month.to_numpy(dtype=float)
    return month_start + _days(np.fmin(day, dim) - 1)


def _last_business_day(month_start: pd.Series) -> pd.Series:
    dim = month_start.dt.days_in_month.to_numpy(dtype=float)
    last = month_start + _days(dim - 1)
    wd = last.dt.day_of_week.to_numpy(dtype=float)
    back = np.where(wd == 5, 1.0, np.where(wd == 6, 2.0, 0.0))
    return last - _days(back)


def first_run_on_or_after(dates, pattern, day, *, roll_weekends: bool = True) -> pd.Series:
    """First pay-run date on or after each date.

    Parameters
    ----------
    dates : Series of datetime64
        Reference dates (e.g. due dates); any resolution, NaT allowed.
    pattern : Series or str
        ``"weekday"``, ``"day_of_month"``, ``"month_end"`` or ``"none"`` (missing = none).
    day : Series or float
        0=Mon..6=Sun for ``weekday``, 1..31 for ``day_of_month``; ignored otherwise.
    roll_weekends : bool, default True
        Move a run day that falls on a Saturday or Sunday to the next Monday (when the
        money actually moves). False gives the nominal run day.

    Returns
    -------
    Series of datetime64
        Same index as ``dates``. ``weekday``: the first such weekday on/after the date;
        ``day_of_month``: the first such day (clamped to the month's length) on/after the
        date; ``month_end``: the first last-business-day-of-month on/after the date. A run day
        on a weekend moves to the next Monday. NaT where there is no pay run.

    Examples
    --------
    >>> d = pd.Series(pd.to_datetime(["2026-03-10", "2026-03-17"]))
    >>> first_run_on_or_after(d, "day_of_month", 15).dt.strftime("%Y-%m-%d").tolist()
    ['2026-03-16', '2026-04-15']

    (15 March 2026 is a Sunday, so that run is on Monday the 16th.)
    """
    dates = pd.Series(dates)
    dates = pd.to_datetime(dates).dt.normalize()
    idx = dates.index
    dayv = np.broadcast_to(np.asarray(pd.to_numeric(pd.Series(day).to_numpy() if np.ndim(day) else day), dtype=float), (len(idx),))
    dayv = np.where(np.isnan(dayv), 1.0, dayv)
    if (isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M" and np.isfinite(dayv).all()
            and (dayv == np.round(dayv)).all() and (np.abs(dayv) < 2**31).all()):
        return _first_run_days(dates, _pattern_codes(pattern, len(idx)), dayv.astype(np.int64), roll_weekends)
    pat = pd.Series(pattern, index=idx) if np.ndim(pattern) == 0 else pd.Series(np.asarray(pattern, dtype=object), index=idx)
    pat = pat.where(pat.notna(), _PATTERN_NONE)
    return _first_run_general(dates, pat, dayv, roll_weekends)


_RUN_PATTERNS = ("weekday", "day_of_month", "month_end")  # codes 1, 2, 3; anything else 0 (none)


def _pattern_codes(pattern, n: int) -> np.ndarray:
    """Pay-run pattern per row as a small integer (see :data:`_RUN_PATTERNS`; missing -> 0)."""
    if np.ndim(pattern) == 0:
        code = _RUN_PATTERNS.index(pattern) + 1 if isinstance(pattern, str) and pattern in _RUN_PATTERNS else 0
        return np.full(n, code, dtype=np.int8)
    values = pattern if isinstance(pattern, pd.Series) else np.asarray(pattern, dtype=object)
    codes, uniques = pd.factorize(values)  # a few distinct patterns: compare those only
    lut = np.array([_RUN_PATTERNS.index(u) + 1 if isinstance(u, str) and u in _RUN_PATTERNS else 0
                    for u in np.asarray(uniques, dtype=object)] + [0], dtype=np.int8)
    return lut[np.asarray(codes)]  # code -1 (missing) reads the trailing 0


def _first_run_general(dates: pd.Series, pat: pd.Series, dayv: np.ndarray, roll_weekends: bool) -> pd.Series:
    """:func:`first_run_on_or_after` with timestamp arithmetic (any day value, any dtype)."""
    idx = dates.index
    wd = dates.dt.day_of_week.to_numpy(dtype=float)
    roll = _roll_weekend if roll_weekends else (lambda x: x)
    weekly = roll(dates + _days(np.mod(dayv - np.nan_to_num(wd), 7)))

    month_start = dates - _days(dates.dt.day.to_numpy(dtype=float) - 1)
    next_start = month_start + _days(month_start.dt.days_in_month.to_numpy(dtype=float))
    dom_this = roll(_day_in_month(month_start, dayv))
    dom_next = roll(_day_in_month(next_start, dayv))
    monthly = dom_this.where(dom_this >= dates, dom_next)
    me_this = _last_business_day(month_start)
    me_next = _last_business_day(next_start)
    month_end = me_this.where(me_this >= dates, me_next)

    out = pd.Series(pd.NaT, index=idx, dtype=dates.dtype)
    out = out.mask((pat == "weekday").to_numpy(), weekly)
    out = out.mask((pat == "day_of_month").to_numpy(), monthly)
    out = out.mask((pat == "month_end").to_numpy(), month_end)
    return out


def _month_starts(days: np.ndarray, ahead: int) -> list[np.ndarray]:
    """First day (day number) of the month of each day and of the ``ahead`` months after it.

    The calendar is consulted once per distinct month spanned (a small table), then looked up.
    """
    if len(days) == 0:
        return [days.copy() for _ in range(ahead + 1)]
    lo, hi = int(days.min()), int(days.max())
    if hi - lo >= max(len(days), 4096):  # a sparse spread of days: convert directly
        m = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    else:
        table = np.arange(lo, hi + 1, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        m = table[days - lo]
    m0 = int(m.min())
    starts = np.arange(m0, int(m.max()) + ahead + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return [starts[m - m0 + k] for k in range(ahead + 1)]


def _first_run_days(dates: pd.Series, pat: np.ndarray, dayv: np.ndarray, roll_weekends: bool) -> pd.Series:
    """:func:`first_run_on_or_after` on whole day numbers (int64), for whole-number run days.

    Day numbers count from 1970-01-01, a Thursday, so the weekday (Monday = 0) of day ``n`` is
    ``(n + 3) % 7``. The same dates as the timestamp arithmetic of :func:`_first_run_general`.
    """
    v = dates.to_numpy()
    nat = np.isnat(v)
    d = v.astype("datetime64[D]").astype(np.int64)
    d[nat] = 0

    def weekday(x):
        return (x + 3) % 7

    def roll(x):
        if not roll_weekends:
            return x
        wd = weekday(x)
        return x + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))

    def last_business_day(next_month_start):
        last = next_month_start - 1
        wd = weekday(last)
        return last - np.where(wd == 5, 1, np.where(wd == 6, 2, 0))

    is_week, is_dom, is_me = pat == 1, pat == 2, pat == 3  # codes of _pattern_codes
    out = np.zeros(len(d), dtype=np.int64)
    if is_week.any():
        out = np.where(is_week, roll(d + np.mod(dayv - weekday(d), 7)), out)
    if is_dom.any() or is_me.any():
        this_start, next_start, after_start = _month_starts(d, 2)
        if is_dom.any():
            dom_this = roll(this_start + np.minimum(dayv, next_start - this_start) - 1)
            dom_next = roll(next_start + np.minimum(dayv, after_start - next_start) - 1)
            out = np.where(is_dom, np.where(dom_this >= d, dom_this, dom_next), out)
        if is_me.any():
            me_this, me_next = last_business_day(next_start), last_business_day(after_start)
            out = np.where(is_me, np.where(me_this >= d, me_this, me_next), out)
    res = out.astype("datetime64[D]").astype(dates.dtype)
    res[nat | ~(is_week | is_dom | is_me)] = np.datetime64("NaT")
    return pd.Series(res, index=dates.index, dtype=dates.dtype)


def _disputed(durations: pd.DataFrame, invoices: pd.DataFrame | None, s: PlaybookSettings) -> np.ndarray:
    """Per durations row: True when the invoice is disputed and disputes are set aside."""
    if s.disputes_count_as_late or invoices is None or Invoices.disputed not in invoices.columns:
        return np.zeros(len(durations), dtype=bool)
    flagged = invoices.loc[invoices[Invoices.disputed].astype("boolean").fillna(False).to_numpy(dtype=bool),
                           Invoices.invoice_id]
    if len(flagged) == 0:
        return np.zeros(len(durations), dtype=bool)
    return durations[Durations.invoice_id].isin(flagged).to_numpy(dtype=bool)


def _check_columns(df: pd.DataFrame, cols, table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(
            f"the {table} table is missing column(s) {missing}",
            hint=f"build it with the arinsights function that produces {table} (see arinsights.schema).",
        )


def _runs_frame(pay_runs: pd.DataFrame | None) -> pd.DataFrame:
    """customer_id, pattern, day, next_run (one row per customer)."""
    cols = [PayRuns.customer_id, PayRuns.pattern, PayRuns.day, PayRuns.next_run]
    if pay_runs is None or len(pay_runs) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype(
            {PayRuns.day: float, PayRuns.next_run: "datetime64[ns]"})
    _check_columns(pay_runs, cols, "pay_runs")
    runs = pay_runs[cols].drop_duplicates(PayRuns.customer_id, keep="first")
    return runs


_CODE = "_c"  # integer customer code column (internal)


def _codes_in(values: pd.Series, uniques: np.ndarray) -> np.ndarray:
    """Position of each value in ``uniques`` (distinct text ids), -1 when absent or missing.

    A pyarrow hash lookup on the text (no Python objects); the same answer as
    ``pd.Index(uniques).get_indexer(values)``.
    """
    keys = pa.array(np.asarray(uniques, dtype=object), type=pa.large_string(), from_pandas=True)
    vals = pa.array(values.astype(str), from_pandas=True)
    if isinstance(vals, pa.ChunkedArray):
        vals = vals.combine_chunks()
    vals = vals.cast(pa.large_string())
    pos = pc.index_in(vals, value_set=keys, skip_nulls=True)
    return pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _runs_by_code(runs: pd.DataFrame, cust_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pay-run pattern (object, NaN without a run) and day (float) per customer code."""
    pattern = np.full(len(cust_ids), np.nan, dtype=object)
    day = np.full(len(cust_ids), np.nan)
    at = pd.Index(cust_ids, dtype=object).get_indexer(runs[PayRuns.customer_id].astype(object).to_numpy())
    ok = at >= 0
    pattern[at[ok]] = runs[PayRuns.pattern].astype(object).to_numpy()[ok]
    day[at[ok]] = pd.to_numeric(runs[PayRuns.day]).to_numpy(dtype=float)[ok]
    return pattern, day


_DAY_NS = 86_400_000_000_000


def _combined_key(code: np.ndarray, *date_keys: np.ndarray) -> np.ndarray | None:
    """One int64 key ordered as (code, *date_keys), or None when it would not fit.

    ``date_keys`` are nanosecond keys (missing = int64 max, sorting last); when every date is
    a whole day they become day offsets (missing = one past the latest) and are packed into
    one integer with the code: the key compares exactly as the tuple does.
    """
    if len(code) == 0:
        return None
    big = np.iinfo(np.int64).max
    parts, span = [code - int(code.min())], int(code.max()) - int(code.min()) + 1
    for k in date_keys:
        has = k != big
        v = k[has]
        if len(v) and (v % _DAY_NS).any():
            return None  # a time of day: keep the general lexsort
        days = np.full(len(k), 0, dtype=np.int64)
        lo = int(v.min()) // _DAY_NS if len(v) else 0
        days[has] = v // _DAY_NS - lo
        n = int(days[has].max()) + 2 if len(v) else 1
        days[~has] = n - 1
        if span * n >= 2**62:
            return None
        parts.append(days)
        span *= n
    out = parts[0]
    for k, days in zip(date_keys, parts[1:]):
        n = int(days.max()) + 1
        out = out * n + days
    return out


def _paid_order(code: np.ndarray, paid_date: pd.Series, invoice_date: pd.Series, invoice_id: pd.Series) -> np.ndarray:
    """Positions that sort rows by (customer code, paid date, invoice date, invoice id).

    The same order as ``sort_values([...], kind="mergesort")`` (stable; missing dates and ids
    last): a numeric lexsort, then the invoice id only inside the rare runs of rows tied on
    the first three keys.
    """
    big = np.iinfo(np.int64).max

    def key(dates: pd.Series) -> np.ndarray:
        v = dates.to_numpy(dtype="datetime64[ns]")
        k = v.view(np.int64).copy()
        k[np.isnat(v)] = big
        return k

    pk, ik = key(paid_date), key(invoice_date)
    combined = _combined_key(np.asarray(code, dtype=np.int64), pk, ik)
    if combined is not None:  # one integer key: one stable sort (the same order as the lexsort)
        order = stable_argsort(combined)
        k = combined[order]
        tie = np.r_[False, k[1:] == k[:-1]]
    else:
        order = np.lexsort((ik, pk, code))
        c, p, i = code[order], pk[order], ik[order]
        tie = np.r_[False, (c[1:] == c[:-1]) & (p[1:] == p[:-1]) & (i[1:] == i[:-1])]
    if tie.any():
        pos = np.flatnonzero(tie | np.r_[tie[1:], False])
        grp = np.cumsum(~tie)[pos]
        sub = order[pos]
        rank = np.asarray(pd.factorize(invoice_id.iloc[sub], sort=True)[0], dtype=np.int64)
        rank[rank < 0] = big
        order[pos] = sub[np.lexsort((rank, grp))]
    return order


# ---------------------------------------------------------------------- customer history
def customer_history(invoices: pd.DataFrame, payments: pd.DataFrame | None, durations: pd.DataFrame,
                     pay_runs: pd.DataFrame | None, as_of, settings: Settings | PlaybookSettings | None = None
                     ) -> pd.DataFrame:
    """Each customer's paid history in the look-back and what is open, as of ``as_of``.

    Parameters
    ----------
    invoices : DataFrame
        :class:`arinsights.schema.Invoices` (for names and currency).
    payments : DataFrame or None
        :class:`arinsights.schema.Payments` (cash: last payment, typical monthly payment).
    durations : DataFrame
        :class:`arinsights.schema.Durations` as of ``as_of``.
    pay_runs : DataFrame or None
        :class:`arinsights.schema.PayRuns` detected from the customers' own payments.
    as_of : date-like
        Report date; nothing after it is used.
    settings : Settings or PlaybookSettings, optional

    Returns
    -------
    DataFrame
        :class:`arinsights.schema.CustomerHistory`, one row per customer with an invoice
        issued or paid in the look-back or something open at ``as_of``: customer_id,
        customer_name, currency, n_paid, n_on_time, on_time_share, n_late_by_terms,
        n_run_explained, median_days_late (vs due, or vs the first pay run on/after due for
        pay-run customers), median_days_late_terms, recent_mean_days_to_pay (mean over the
        last ``drift_recent_k`` paid), earlier_on_time_share and long_run_p80_days (of the paid
        invoices before those; p80 NaN with fewer than ``drift_min_history``),
        last_payment_date, days_since_payment, open_amount, n_open, n_disputed_open,
        oldest_open_age, max_days_past_due and earliest_open_due_date (non-disputed open
        invoices), typical_monthly_payment (median cash received per month, over the look-back
        months in which the customer paid), typical_terms_days, pay_run_pattern, pay_run_day,
        next_run (first run on/after ``as_of``). Sorted by customer_id. Disputed invoices are
        left out of the paid history unless ``disputes_count_as_late``.
    """
    s = _playbook(settings)
    as_of = pd.Timestamp(as_of).normalize()
    start = as_of - pd.Timedelta(days=s.lookback_days)
    D, H = Durations, CustomerHistory
    _check_columns(durations, [D.invoice_id, D.customer_id, D.invoice_date, D.due_date, D.open_amount,
                               D.paid, D.days_to_pay, D.days_late, D.age, D.days_past_due], "durations")

    d = durations.loc[(durations[D.invoice_date] <= as_of).to_numpy()]
    paid_flag = d[D.paid].fillna(False).astype(bool).to_numpy()
    disputed = _disputed(d, invoices, s)
    runs = _runs_frame(pay_runs)
    # customer ids -> integer codes once (sorted: code order is customer_id order); every
    # group-by below is on these codes, never on the text ids
    code, cust_ids = pd.factorize(d[D.customer_id], sort=True)
    cust_ids = np.asarray(cust_ids, dtype=object)
    d = d.assign(**{_CODE: np.asarray(code, dtype=np.int64)})

    # --- paid history in the look-back (disputed invoices are not lateness) -------------
    paid = d.loc[paid_flag & ~disputed, [_CODE, D.invoice_id, D.invoice_date, D.due_date, D.days_to_pay, D.days_late]]
    paid = paid.assign(_paid_date=paid[D.invoice_date].dt.normalize() + _days(paid[D.days_to_pay].round()))
    paid = paid.loc[paid["_paid_date"] > start]
    run_pattern, run_day = _runs_by_code(runs, cust_ids)
    pcode = paid[_CODE].to_numpy()
    run_date = first_run_on_or_after(paid[D.due_date], run_pattern[pcode], run_day[pcode])
    has_run = run_date.notna()
    late_by_terms = (paid[D.days_late] > s.grace_days).to_numpy()
    on_run = (has_run & (paid["_paid_date"] <= run_date + pd.Timedelta(days=s.pay_run_grace_days))).to_numpy()
    on_time = ~late_by_terms | on_run
    base = run_date.where(has_run, paid[D.due_date].dt.normalize())
    late_eff = (paid["_paid_date"] - base) / _DAY
    # sorted by (customer, paid date, invoice date, invoice id); only the numbers travel
    order = _paid_order(pcode, paid["_paid_date"], paid[D.invoice_date], paid[D.invoice_id])
    pcode = pcode[order]
    dtp = paid[D.days_to_pay].to_numpy(dtype=float)[order]
    on_time = on_time[order]
    # place from the end of each customer's run of rows (codes are sorted: runs are contiguous)
    at = np.arange(len(pcode))
    last = np.r_[pcode[1:] != pcode[:-1], True] if len(pcode) else np.zeros(0, bool)
    run_end = np.flatnonzero(last)
    from_end = run_end[np.searchsorted(run_end, at)] - at
    recent = from_end < s.drift_recent_k
    paid = pd.DataFrame({
        _CODE: pcode,
        "_paid_date": paid["_paid_date"].to_numpy()[order],
        D.days_to_pay: dtp,
        D.days_late: paid[D.days_late].to_numpy(dtype=float)[order],
        "_on_time": on_time,
        "_late_terms": late_by_terms[order],
        "_run_expl": (late_by_terms & on_run)[order],
        "_late_eff": late_eff.to_numpy(dtype=float)[order],
        "_recent_dtp": np.where(recent, dtp, np.nan),
        "_earlier_dtp": np.where(recent, np.nan, dtp),
        "_earlier": ~recent,
        "_earlier_on_time": (~recent) & on_time,
    })
    g = paid.groupby(_CODE, sort=True)
    hist_paid = pd.DataFrame({
        H.n_paid: g.size(),
        H.n_on_time: g["_on_time"].sum(),
        H.n_late_by_terms: g["_late_terms"].sum(),
        H.n_run_explained: g["_run_expl"].sum(),
        H.median_days_late: g["_late_eff"].median(),
        H.median_days_late_terms: g[D.days_late].median(),
        H.recent_mean_days_to_pay: g["_recent_dtp"].mean(),
        H.long_run_p80_days: g["_earlier_dtp"].quantile(0.8),
        "_n_earlier": g["_earlier"].sum(),
        "_n_earlier_on_time": g["_earlier_on_time"].sum(),
    })

    # --- open at as_of -------------------------------------------------------------------
    is_open = ~paid_flag & (d[D.open_amount] > _OPEN_TOLERANCE).to_numpy()
    op = d.loc[is_open, [_CODE, D.open_amount]]
    go = op.groupby(_CODE, sort=True)
    judged = d.loc[is_open & ~disputed, [_CODE, D.age, D.days_past_due, D.due_date]]  # disputed set aside
    gj = judged.groupby(_CODE, sort=True)
    hist_open = pd.DataFrame({
        H.open_amount: go[D.open_amount].sum(),
        H.n_open: go.size(),
        H.n_disputed_open: d.loc[is_open & disputed, _CODE].to_frame().groupby(_CODE).size(),
        H.oldest_open_age: gj[D.age].max(),
        H.max_days_past_due: gj[D.days_past_due].max(),
        H.earliest_open_due_date: gj[D.due_date].min(),
    })
    terms = ((d[D.due_date] - d[D.invoice_date]) / _DAY).groupby(d[_CODE]).median().rename(H.typical_terms_days)

    # --- cash received -------------------------------------------------------------------
    if payments is not None and len(payments):
        P = Payments
        _check_columns(payments, [P.customer_id, P.payment_date, P.amount], "payments")
        use = (payments[P.payment_date] <= as_of).to_numpy().copy()
        if P.kind in payments.columns:
            use = use & (payments[P.kind] == KIND_PAYMENT).fillna(False).to_numpy(dtype=bool)
        # customers outside the judged set drop out here (as they would in the final join)
        ccode = _codes_in(payments[P.customer_id], cust_ids)
        use = use & (ccode >= 0)
        cash = pd.DataFrame({_CODE: ccode[use], P.payment_date: payments[P.payment_date].to_numpy()[use],
                             P.amount: payments[P.amount].to_numpy()[use]})
        last_pay = cash.groupby(_CODE)[P.payment_date].max().rename(H.last_payment_date)
        recent_cash = cash.loc[(cash[P.payment_date] > start).to_numpy()]
        month = recent_cash[P.payment_date].dt.year * 12 + recent_cash[P.payment_date].dt.month
        monthly = recent_cash.groupby([recent_cash[_CODE], month.rename("_month")])[P.amount].sum()
        typical = monthly.groupby(level=0).median().rename(H.typical_monthly_payment)
    else:  # no payments table: the last settlement date stands in for the last payment
        last_pay = paid.groupby(_CODE)["_paid_date"].max().rename(H.last_payment_date)
        typical = pd.Series(dtype=float, name=H.typical_monthly_payment)

    # --- names -----------------------------------------------------------------------------
    name_cols = {}
    if invoices is not None and (Invoices.customer_name in invoices.columns or Invoices.currency in invoices.columns):
        icode = _codes_in(invoices[Invoices.customer_id], cust_ids)
        iuse = (invoices[Invoices.invoice_date] <= as_of).to_numpy() & (icode >= 0)
        for src, col in ((Invoices.customer_name, H.customer_name), (Invoices.currency, H.currency)):
            if src in invoices.columns:
                name_cols[col] = invoices[src].loc[iuse].groupby(icode[iuse]).first()

    # --- the customers judged --------------------------------------------------------------
    active = d.loc[(d[D.invoice_date] > start).to_numpy() | ~paid_flag, _CODE].to_numpy()
    codes = np.unique(np.concatenate([active, paid[_CODE].to_numpy()]))
    codes = codes[codes >= 0]
    ids = pd.Index(cust_ids[codes], name=D.customer_id)

    out = pd.DataFrame(index=pd.Index(codes, name=_CODE))
    for col, ser in name_cols.items():
        out[col] = ser.reindex(codes)
    for col in (H.customer_name, H.currency):
        if col not in out.columns:
            out[col] = pd.Series(np.nan, index=out.index, dtype=object)
    out = out.join(hist_paid).join(hist_open).join(last_pay).join(typical).join(terms)
    out.index = ids
    for col in (H.n_paid, H.n_on_time, H.n_late_by_terms, H.n_run_explained, H.n_open, H.n_disputed_open):
        out[col] = out[col].fillna(0).astype(np.int64)
    out[H.open_amount] = out[H.open_amount].fillna(0.0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[H.on_time_share] = (out[H.n_on_time] / out[H.n_paid].where(out[H.n_paid] > 0)).astype(float)
        out[H.earlier_on_time_share] = (out["_n_earlier_on_time"] / out["_n_earlier"].where(out["_n_earlier"] > 0)).astype(float)
    out[H.days_since_payment] = ((as_of - out[H.last_payment_date]) / _DAY).astype(float)
    out[H.long_run_p80_days] = out[H.long_run_p80_days].where(out["_n_earlier"] >= s.drift_min_history)
    out = out.drop(columns=["_n_earlier", "_n_earlier_on_time"])
    out = out.reset_index()

    rr = runs.rename(columns={PayRuns.pattern: H.pay_run_pattern, PayRuns.day: H.pay_run_day})
    out = out.merge(rr, on=D.customer_id, how="left")
    out[H.pay_run_pattern] = out[H.pay_run_pattern].where(out[H.pay_run_pattern].notna(), _PATTERN_NONE)
    out[H.pay_run_day] = pd.to_numeric(out[H.pay_run_day]).astype(float)
    # the next run on/after as_of, recomputed so it is never in the past
    out[H.next_run] = first_run_on_or_after(pd.Series(as_of, index=out.index), out[H.pay_run_pattern], out[H.pay_run_day])
    cols = list(CustomerHistory.to_schema().columns)
    return out[cols]


# ----------------------------------------------------------------- open invoice status
def open_invoice_status(durations: pd.DataFrame, windows: pd.DataFrame | None, pay_runs: pd.DataFrame | None,
                        as_of, settings: Settings | PlaybookSettings | None = None, *,
                        invoices: pd.DataFrame | None = None) -> pd.DataFrame:
    """Whether each open invoice is still within the customer's habit, and until when.

    An open invoice is *out of character* on ``as_of`` when all three hold: it is older
    than the customer's usual window (age > p80 days-to-pay), it is past due, and — for a
    customer with a pay run — the first run day on/after its due date plus
    ``pay_run_grace_days`` has passed without payment. A disputed invoice (``invoices``
    given, ``disputes_count_as_late`` False) is never out of character: it waits for the
    dispute, not for the customer's habit.

    Returns
    -------
    DataFrame
        One row per open invoice: invoice_id, customer_id, invoice_date, due_date,
        open_amount, age, days_past_due, p80_days, run_date (first pay run on/after due, NaT
        without a run), chase_from (first day the invoice may be chased: the day after the
        latest of invoice_date + p80, the due date and run_date + pay_run_grace_days),
        out_of_window (bool: ``as_of >= chase_from`` and not disputed), disputed (bool).
    """
    s = _playbook(settings)
    as_of = pd.Timestamp(as_of).normalize()
    D, W = Durations, CustomerWindows
    d = durations.loc[(durations[D.invoice_date] <= as_of).to_numpy()]
    keep = ~d[D.paid].fillna(False).astype(bool).to_numpy() & (d[D.open_amount] > _OPEN_TOLERANCE).to_numpy()
    disputed = _disputed(d, invoices, s)[keep]
    op = d.loc[keep, [D.invoice_id, D.customer_id, D.invoice_date, D.due_date, D.open_amount, D.age, D.days_past_due]]
    op = op.assign(disputed=disputed)
    if windows is not None and len(windows):
        _check_columns(windows, [W.customer_id, W.p80_days], "windows")
        op = op.merge(windows[[W.customer_id, W.p80_days]].drop_duplicates(W.customer_id), on=D.customer_id, how="left")
    else:
        op = op.assign(**{W.p80_days: np.nan})
    op = op.merge(_runs_frame(pay_runs), on=D.customer_id, how="left")
    run_date = first_run_on_or_after(op[D.due_date], op[PayRuns.pattern], op[PayRuns.day])
    window_end = (op[D.invoice_date].dt.normalize() + _days(op[W.p80_days])).dt.floor("D")
    limits = [window_end, op[D.due_date].dt.normalize(), run_date + pd.Timedelta(days=s.pay_run_grace_days)]
    limits = pd.concat([x.astype("datetime64[ns]") for x in limits], axis=1)  # one resolution for max()
    chase_from = limits.max(axis=1) + _DAY
    op = op.assign(run_date=run_date, chase_from=chase_from,
                   out_of_window=(chase_from <= as_of).to_numpy() & ~op["disputed"].to_numpy(dtype=bool))
    return op.drop(columns=[PayRuns.pattern, PayRuns.day, PayRuns.next_run]).reset_index(drop=True)


# ------------------------------------------------------------------------------ rules
def is_ghost(ev: pd.DataFrame, s: PlaybookSettings) -> pd.Series:
    """Owes money and has paid nothing for ``ghost_days``: no payment for ``ghost_days``
    (or never paid) while the oldest open invoice is at least ``ghost_days`` old.

    The second condition keeps out customers who simply had nothing to pay for a while (their
    last payment is old, but so is nothing they owe)."""
    E = SegmentEvidence
    has_open = ev[E.open_amount] > _OPEN_TOLERANCE
    silent = (ev[E.days_since_payment] >= s.ghost_days) | ev[E.last_payment_date].isna()
    owed_long = ev[E.oldest_open_age] >= s.ghost_days
    return has_open & silent & owed_long


def is_new(ev: pd.DataFrame, s: PlaybookSettings) -> pd.Series:
    """Fewer than ``new_min_paid`` paid invoices in the look-back."""
    return ev[SegmentEvidence.n_paid] < s.new_min_paid


def is_habitual(ev: pd.DataFrame, s: PlaybookSettings) -> pd.Series:
    """On-time share below ``habitual_on_time_share`` or median days late above
    ``habitual_median_days_late`` (late counted from the first pay run for run payers)."""
    E = SegmentEvidence
    return (ev[E.on_time_share] < s.habitual_on_time_share) | (ev[E.median_days_late] > s.habitual_median_days_late)


def is_drifting(ev: pd.DataFrame, s: PlaybookSettings) -> pd.Series:
    """A sound history before the last k paid invoices (on-time share there at least
    ``drift_history_on_time_share``), and those k took on average more than the long-run
    p80 + ``drift_margin_days`` to pay. The long-run p80 is that of the paid invoices before
    the last k (at least ``drift_min_history`` of them; else the DaysToPayModel p80)."""
    E = SegmentEvidence
    reliable_before = ev[E.earlier_on_time_share] >= s.drift_history_on_time_share
    trending_later = ev[E.recent_mean_days_to_pay] > ev[E.long_run_p80_days] + s.drift_margin_days
    return reliable_before & trending_later


def is_slipped(ev: pd.DataFrame, s: PlaybookSettings) -> pd.Series:
    """Reliable history and at least one open invoice out of character (beyond p80, past due
    and past the first pay run on/after due)."""
    E = SegmentEvidence
    return (ev[E.on_time_share] >= s.reliable_on_time_share) & (ev[E.n_out_of_window] > 0)


def is_irregular(ev: pd.DataFrame, s: PlaybookSettings) -> pd.Series:
    """History between reliable and habitual: on-time share below ``reliable_on_time_share``."""
    return ev[SegmentEvidence.on_time_share] < s.reliable_on_time_share


_RULES = (is_ghost, is_new, is_habitual, is_drifting, is_slipped, is_irregular)


def assign_segments(ev: pd.DataFrame, settings: Settings | PlaybookSettings | None = None) -> pd.Series:
    """The first matching segment per customer (order :data:`SEGMENT_ORDER`).

    Returns
    -------
    Series of str
        Segment name per row of ``ev``; a customer matching no rule is "reliable".
    """
    s = _playbook(settings)
    conds = [rule(ev, s).fillna(False).to_numpy(dtype=bool) for rule in _RULES]
    seg = np.select(conds, list(SEGMENT_ORDER[:-1]), default=SEGMENT_ORDER[-1])
    return pd.Series(seg, index=ev.index, name=Segments.segment, dtype=object)


# ------------------------------------------------------------------------ evidence
def segment_evidence(invoices, payments, durations, windows, pay_runs, outlook, as_of, *,
                     settings: Settings | PlaybookSettings | None = None,
                     lateness: pd.DataFrame | None = None) -> pd.DataFrame:
    """All the numbers the segment rules and actions read, one row per customer.

    Returns
    -------
    DataFrame
        :class:`arinsights.schema.SegmentEvidence` columns (the :func:`customer_history`
        columns plus median_days, p80_days, p90_days, n_out_of_window, worst_invoice_id,
        worst_invoice_date, worst_invoice_age, worst_invoice_amount, next_check_date,
        p_pay_30, p_next_late, p_open_late).
    """
    s = _playbook(settings)
    as_of = pd.Timestamp(as_of).normalize()
    E, W, O = SegmentEvidence, CustomerWindows, OpenInvoiceOutlook
    ev = customer_history(invoices, payments, durations, pay_runs, as_of, s)
    if windows is not None and len(windows):
        _check_columns(windows, [W.customer_id, W.median_days, W.p80_days, W.p90_days], "windows")
        ev = ev.merge(windows[[W.customer_id, W.median_days, W.p80_days, W.p90_days]]
                      .drop_duplicates(W.customer_id), on=E.customer_id, how="left")
    else:
        ev = ev.assign(**{E.median_days: np.nan, E.p80_days: np.nan, E.p90_days: np.nan})
    # drift baseline: own earlier paid history when long enough, else the model's p80
    ev[E.long_run_p80_days] = ev[E.long_run_p80_days].fillna(ev[E.p80_days])

    st = open_invoice_status(durations, windows, pay_runs, as_of, s, invoices=invoices)
    # worst open invoice: out of window first, then oldest, then largest
    st = st.sort_values(["out_of_window", Durations.age, Durations.open_amount, Durations.invoice_id],
                        ascending=[False, False, False, True], kind="mergesort")
    worst = st.drop_duplicates(Durations.customer_id, keep="first").set_index(Durations.customer_id)
    gs = st.groupby(Durations.customer_id)
    waiting = st.loc[~st["out_of_window"].to_numpy() & ~st["disputed"].to_numpy(dtype=bool)]
    agg = pd.DataFrame({
        E.n_out_of_window: gs["out_of_window"].sum(),
        E.worst_invoice_id: worst[Durations.invoice_id],
        E.worst_invoice_date: worst[Durations.invoice_date],
        E.worst_invoice_age: worst[Durations.age],
        E.worst_invoice_amount: worst[Durations.open_amount],
        E.next_check_date: waiting.groupby(Durations.customer_id)["chase_from"].min(),
    })
    agg.index.name = E.customer_id
    ev = ev.merge(agg.reset_index(), on=E.customer_id, how="left")
    ev[E.n_out_of_window] = ev[E.n_out_of_window].fillna(0).astype(np.int64)

    # chance of payment within 30 days, weighted by open amount
    if outlook is not None and len(outlook):
        _check_columns(outlook, [O.invoice_id, O.p_pay_30], "outlook")
        o = st[[Durations.invoice_id, Durations.customer_id, Durations.open_amount]].merge(
            outlook[[O.invoice_id, O.p_pay_30]].drop_duplicates(O.invoice_id), on=Durations.invoice_id, how="inner")
        w = o[Durations.open_amount]
        num = (o[O.p_pay_30] * w).groupby(o[Durations.customer_id]).sum()
        den = w.groupby(o[Durations.customer_id]).sum()
        ev = ev.merge((num / den).rename(E.p_pay_30), left_on=E.customer_id, right_index=True, how="left")
    else:
        ev[E.p_pay_30] = np.nan
    if lateness is not None and len(lateness):
        keep = [c for c in (E.customer_id, E.p_next_late, E.p_open_late) if c in lateness.columns]
        ev = ev.merge(lateness[keep].drop_duplicates(E.customer_id), on=E.customer_id, how="left")
    for col in (E.p_next_late, E.p_open_late):
        if col not in ev.columns:
            ev[col] = np.nan
    return ev[list(SegmentEvidence.to_schema().columns)]


# -------------------------------------------------------------------------- main entry
def segment_customers(invoices, payments, durations, windows, pay_runs, outlook, as_of, *,
                      settings: Settings | PlaybookSettings | None = None,
                      lateness: pd.DataFrame | None = None) -> pd.DataFrame:
    """One segment, a primary action and the reasons behind it, per customer.

    Parameters
    ----------
    invoices, payments : DataFrame
        :class:`~arinsights.schema.Invoices`, :class:`~arinsights.schema.Payments`.
    durations : DataFrame
        :class:`~arinsights.schema.Durations` as of ``as_of``.
    windows : DataFrame
        :class:`~arinsights.schema.CustomerWindows` (each customer's p80/p90 days-to-pay).
    pay_runs : DataFrame or None
        :class:`~arinsights.schema.PayRuns`.
    outlook : DataFrame or None
        :class:`~arinsights.schema.OpenInvoiceOutlook` (P(pay within 30 days) per open invoice).
    as_of : date-like
        Report date.
    settings : Settings or PlaybookSettings, optional
        Thresholds (``settings.playbook``).
    lateness : DataFrame, optional
        customer_id, p_next_late, p_open_late from the lateness classifier (shown in reasons).

    Returns
    -------
    DataFrame
        :class:`~arinsights.schema.Segments` columns — customer_id, customer_name, segment,
        action (the most urgent of the customer's actions), next_action_date (never before
        ``as_of``; NaT when there is nothing to do), open_amount, reasons (plain words with
        the numbers) — followed by the :class:`~arinsights.schema.SegmentEvidence` columns.
        One row per customer, sorted by customer_id. Pass it to
        :func:`arinsights.playbook.actions.recommend_actions` for every action.
    """
    s = _playbook(settings)
    as_of = pd.Timestamp(as_of).normalize()
    ev = segment_evidence(invoices, payments, durations, windows, pay_runs, outlook, as_of,
                          settings=s, lateness=lateness)
    ev[Segments.segment] = assign_segments(ev, s)
    prim = primary_actions(ev, as_of, settings=s)
    out = ev.merge(prim, on=Segments.customer_id, how="left")
    out[Segments.reasons] = (segment_reason(out, s).to_numpy(dtype=object) + " | "
                             + out["actions_text"].astype(object).fillna("").to_numpy(dtype=object) + " | "
                             + evidence_text(out, s).to_numpy(dtype=object))
    seg_cols = list(Segments.to_schema().columns)
    extra = [c for c in SegmentEvidence.to_schema().columns if c not in seg_cols]
    return out[seg_cols + extra].sort_values(Segments.customer_id, kind="mergesort").reset_index(drop=True)
