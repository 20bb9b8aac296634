"""As-of invoice features: each invoice sees only what was known on its issue date.

For every invoice issued on or before ``as_of`` the features describe the customer's history
*strictly before* the invoice's issue date ``t``: a prior invoice counts as paid only if its
paid date is before ``t``, a payment counts only if dated before ``t``. The invoice's own
paid date, later invoices and later payments never enter its features, so the features of an
invoice do not depend on ``as_of`` (only its label does).

How (vectorised; no loop over invoices or customers)
----------------------------------------------------
Each history is an *event stream* (invoices paid, invoices issued and closed, pay days)
sorted by customer and time and accumulated per customer with ``groupby().cumsum()``; the
running totals are attached to invoices as ``pandas.merge_asof(by=customer_id,
allow_exact_matches=False)`` would, i.e. the last state strictly before the issue date, done
with ``np.searchsorted`` on integer (customer code, day) keys. Medians (days late, invoice
amount) are exact expanding medians per customer (pandas' rolling median over windows that
restart at each customer, one Cython pass).

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
from pandas.api.indexers import BaseIndexer

from .._order import stable_argsort
from .._text import byte_words
from ..errors import InputError
from ..schema import Invoices, InvoiceFeatures as F, Payments
from .paycycle import _MEAN_MONTH, payment_events

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


def _str_values(col: pd.Series, keep: np.ndarray):
    """``col.astype(str)`` at the ``keep`` rows, as the values a DataFrame column is built from.

    The same column as ``pd.DataFrame({...: col.astype(str).to_numpy()[keep]})`` builds, without
    the round trip through Python string objects when the strings are Arrow-backed.
    """
    as_str = col.astype(str)
    if isinstance(as_str.dtype, pd.StringDtype):
        return as_str[keep].reset_index(drop=True)
    return as_str.to_numpy()[keep]


def _visible_invoices(invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invoices issued on/before as_of with dates normalised and paid dates after as_of hidden."""
    _check_columns(invoices, [Invoices.invoice_id, Invoices.customer_id, Invoices.invoice_date,
                              Invoices.due_date, Invoices.amount], "invoices")
    inv_date = _dates(invoices[Invoices.invoice_date])
    keep = (inv_date <= as_of).to_numpy()
    out = pd.DataFrame({
        F.invoice_id: _str_values(invoices[Invoices.invoice_id], keep),
        F.customer_id: _str_values(invoices[Invoices.customer_id], keep),
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


def _sort_by_date_and_id(inv: pd.DataFrame) -> pd.DataFrame:
    """``inv.sort_values([invoice_date, invoice_id], kind="mergesort", ignore_index=True)``.

    Text ids of at most 16 bytes (most invoice numbers) are compared as two integers made
    of their bytes (:func:`arinsights._text.byte_words`) in one stable ``np.lexsort`` with the day; other
    text ids are ranked by Arrow (dense ranks: strings compared by code point, as pandas
    does; missing ids last) and sorted stably on (day, rank). Both are several times faster
    than pandas' sort on millions of string ids, and give its order.
    """
    order = None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pa = None
    if pa is not None:
        try:
            ids = pa.array(inv[F.invoice_id], from_pandas=True)
            if (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)) and len(ids):
                day = _day_numbers(inv[F.invoice_date])  # midnight-normalised, never NaT here
                spread = byte_words(ids, max_bytes=16)
                if spread is not None and spread[1].all():
                    order = np.lexsort((*spread[0][::-1], day))  # stable: ties keep their order
                else:
                    # missing ids rank last (Arrow's default null placement)
                    rank = pc.rank(ids, sort_keys="ascending", tiebreaker="dense").to_numpy().astype(np.int64)
                    key = (day - day.min()) * (int(rank.max()) + 1) + rank
                    order = stable_argsort(key)
        except (TypeError, ValueError, pa.ArrowException):
            order = None
    if order is None:
        return inv.sort_values([F.invoice_date, F.invoice_id], kind="mergesort", ignore_index=True)
    return inv.take(order).reset_index(drop=True)


def _codes_in(values: pd.Series, cats) -> np.ndarray:
    """``pd.Index(cats).get_indexer(values)`` (-1 where absent): Arrow's hash lookup when both
    are strings (``cats`` distinct and not missing, as ``pd.factorize`` gives), else pandas'."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return pd.Index(cats).get_indexer(values)
    try:
        arr = pa.array(values, from_pandas=True)
        ref = pa.array(np.asarray(cats, dtype=object), from_pandas=True)
        if (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) and pa.types.is_string(ref.type) \
                and ref.null_count == 0 and len(pc.unique(ref)) == len(ref):
            ref = ref.cast(arr.type)
            return pc.index_in(arr, value_set=ref).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
    except (TypeError, ValueError, pa.ArrowException):
        pass
    return pd.Index(cats).get_indexer(values)


def _pay_day_codes(payments: pd.DataFrame, as_of: pd.Timestamp, cats) -> tuple[np.ndarray, np.ndarray] | None:
    """The pay days of :func:`~arinsights.behaviour.paycycle.pay_days` as (customer code, day).

    Customer codes index ``cats`` (customers without invoices are dropped); sorted by code
    and day. The same distinct (customer, date) pairs as ``pay_days``, without sorting the
    customer strings.
    """
    dates, keep = payment_events(payments, as_of)
    code = _codes_in(payments[Payments.customer_id].astype(str)[keep], cats)
    day = _day_numbers(dates[keep].astype(_NS))
    ok = code >= 0
    key = np.sort(_key(code[ok], day[ok]))
    if len(key):
        key = key[np.r_[True, key[1:] != key[:-1]]]
    return key >> _DAY_BITS, (key & ((1 << _DAY_BITS) - 1)) - (1 << (_DAY_BITS - 1))


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


def _label_arrays(inv: pd.DataFrame, as_of: pd.Timestamp, grace_days: int) -> tuple[np.ndarray, np.ndarray]:
    """``late`` and ``outcome_known_date`` of the rows of a visible-invoices frame."""
    due_g = inv[F.due_date] + pd.Timedelta(days=grace_days)
    paid = inv["_paid"]
    late = np.where(paid.notna(), (paid > due_g).astype(float),
                    np.where(as_of > due_g, 1.0, np.nan))
    known_at = due_g + pd.Timedelta(days=1)
    known = paid.where(paid.notna() & (paid < known_at), known_at)
    known = known.where(~np.isnan(late))
    return late, known.to_numpy()


def _labels(inv: pd.DataFrame, as_of: pd.Timestamp, grace_days: int) -> pd.DataFrame:
    late, known = _label_arrays(inv, as_of, grace_days)
    return pd.DataFrame({F.invoice_id: inv[F.invoice_id].to_numpy(), F.late: late, F.outcome_known_date: known})


def _day_numbers(values) -> np.ndarray:
    """Whole days since the epoch of midnight-normalised datetime64[ns] values (NaT -> min int)."""
    v = np.asarray(values, dtype=_NS).view(np.int64)
    day = v // 86_400_000_000_000
    return np.where(v == np.iinfo(np.int64).min, np.iinfo(np.int64).min, day)


class _AsOf:
    """``merge_asof(by=customer, allow_exact_matches=False, direction="backward")`` on arrays.

    Queries are (customer code, day); an event stream sorted by (customer code, day) answers
    with the row of its last event strictly before the query day (the last of several events
    on that day, as ``merge_asof`` picks), or -1 when the customer has none.
    """

    def __init__(self, q_code: np.ndarray, q_day: np.ndarray):
        self.q_code = q_code
        q_key = _key(q_code, q_day)
        # searching the queries in sorted order is much faster (numpy narrows each search
        # from the previous one); the answers are put back in query order
        self.q_order = _by_code_and_day(q_code, q_day)
        self.q_sorted = q_key[self.q_order]

    def rows(self, ev_code: np.ndarray, ev_day: np.ndarray) -> np.ndarray:
        """Row (in the sorted stream) of the last event before each query; -1 if none."""
        pos = np.empty(len(self.q_order), dtype=np.int64)
        pos[self.q_order] = np.searchsorted(_key(ev_code, ev_day), self.q_sorted, side="left") - 1
        ok = pos >= 0
        ok[ok] = ev_code[pos[ok]] == self.q_code[ok]
        return np.where(ok, pos, -1)


#: (customer code, day) -> one sortable int64: days are within +-2**21 of the epoch for any
#: datetime64[ns] value, customer codes far below 2**40
_DAY_BITS = 22


def _key(code: np.ndarray, day: np.ndarray) -> np.ndarray:
    return np.asarray(code, dtype=np.int64) * (1 << _DAY_BITS) + (day + (1 << (_DAY_BITS - 1)))


def _by_code_and_day(code: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Stable order by (code, day): the permutation of ``np.lexsort((day, code))``, as the
    stable sort of one combined key (16-bit radix passes when it spans < 2**32 values)."""
    code, day = np.asarray(code, dtype=np.int64), np.asarray(day)
    if len(day) == 0:
        return np.zeros(0, dtype=np.intp)
    cmin, dmin = int(code.min()), int(day.min())
    cspan, dspan = int(code.max()) - cmin + 1, int(day.max()) - dmin + 1  # Python ints: no overflow
    if cspan * dspan >= 1 << 62:
        return np.argsort(_key(code, day), kind="stable")
    return stable_argsort((code - cmin) * dspan + (day.astype(np.int64) - dmin))


def _by_day(day: np.ndarray) -> np.ndarray:
    """Stable order by day: the permutation of ``np.argsort(day, kind="stable")``."""
    return stable_argsort(np.asarray(day))


class _GroupStart(BaseIndexer):
    """Expanding windows within groups of consecutive rows: row i sees its group's rows up to i.

    ``Series.rolling(_GroupStart(codes)).median()`` on rows sorted by group runs pandas'
    rolling median (the one ``groupby().expanding().median()`` runs per group) over all
    groups in one call; the window restarts at each group's first row, so every median is
    computed from the same values.
    """

    def __init__(self, codes: np.ndarray):
        n = len(codes)
        first = np.ones(n, dtype=bool)
        first[1:] = codes[1:] != codes[:-1]
        idx = np.arange(n, dtype=np.int64)
        super().__init__(window_size=0)
        self._start = np.maximum.accumulate(np.where(first, idx, 0)) if n else idx
        self._end = idx + 1

    def get_window_bounds(self, num_values=0, min_periods=None, center=None, closed=None, step=None):
        return self._start, self._end


def _expanding_median(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``groupby(codes).expanding().median()`` of rows sorted by code, in row order."""
    if len(values) == 0:
        return np.zeros(0)
    return pd.Series(values, dtype=float).rolling(_GroupStart(codes), min_periods=1).median().to_numpy()


def _take(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """values[rows] with NaN (float) or NaT (datetime) where rows is -1."""
    values = np.asarray(values)
    fill = np.datetime64("NaT") if values.dtype.kind == "M" else np.nan
    if len(values) == 0:
        return np.full(len(rows), fill, dtype=values.dtype if values.dtype.kind == "M" else float)
    missing = rows < 0
    out = values.take(rows)  # -1 takes the last value; replaced below
    if values.dtype.kind != "M":
        out = out.astype(float, copy=False)
    out[missing] = fill
    return out


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
    inv = _sort_by_date_and_id(_visible_invoices(invoices, as_of))
    cid = F.customer_id
    # integer customer codes and whole-day numbers inside: the event streams are sorted by
    # (customer, day) with np.lexsort (stable, as the former mergesort of the columns) and
    # joined as of each issue date with np.searchsorted (see _AsOf); the running sums and
    # medians are the same pandas group-by computations over the same rows in the same order
    customers = inv[cid]
    codes, cats = pd.factorize(inv[cid])
    codes = codes.astype(np.int64)
    inv_date = inv[F.invoice_date]
    t_day = _day_numbers(inv_date)
    asof = _AsOf(codes, t_day)
    out: dict[str, np.ndarray] = {}

    # ---- paid-invoice stream: counts, lateness, days late, log days-to-pay
    pm = inv["_paid"].notna().to_numpy()
    paid = inv[pm]
    p_code = codes[pm]
    p_day = _day_numbers(paid["_paid"])
    o = _by_code_and_day(p_code, p_day)
    ev = pd.DataFrame({cid: p_code[o]})
    ev["_n"] = 1.0
    ev["_dl"] = _days(paid["_paid"] - paid[F.due_date])[o]
    ev["_late"] = (ev["_dl"] > grace_days).astype(float)
    ev["_ldtp"] = np.log1p(np.maximum(_days(paid["_paid"] - paid[F.invoice_date]), 0.0))[o]
    ev["_ldtp2"] = ev["_ldtp"] ** 2
    ev_code, ev_day = p_code[o], p_day[o]
    g = ev.groupby(cid, sort=False)
    cum = g[["_n", "_late", "_dl", "_ldtp", "_ldtp2"]].cumsum()
    ev[["c_n", "c_late", "c_dl", "c_ldtp", "c_ldtp2"]] = cum.to_numpy()
    prev_k = ev.groupby(cid, sort=False)["c_dl"].shift(trend_k).fillna(0.0)
    ev["c_last_k"] = (ev["c_dl"] - prev_k) / np.minimum(ev["c_n"], trend_k)
    ev["c_med_dl"] = _expanding_median(ev["_dl"].to_numpy(), ev_code)
    rows = asof.rows(ev_code, ev_day)
    for c in ("c_n", "c_late", "c_dl", "c_last_k", "c_med_dl", "c_ldtp", "c_ldtp2"):
        out[c] = _take(ev[c].to_numpy(), rows)
    # portfolio log days-to-pay as of each paid date (no customer grouping)
    po = _by_day(ev_day)
    pf_day = ev_day[po]
    pf = ev[["_n", "_ldtp", "_ldtp2"]].iloc[po]
    pf_rows = np.searchsorted(pf_day, t_day, side="left") - 1
    out["p_n"] = _take(pf["_n"].cumsum().to_numpy(), pf_rows)
    out["p_s"] = _take(pf["_ldtp"].cumsum().to_numpy(), pf_rows)
    out["p_s2"] = _take(pf["_ldtp2"].cumsum().to_numpy(), pf_rows)
    del ev, g, cum, prev_k, pf, pf_rows, po, pf_day, rows  # memory: each stream is freed once attached

    # ---- open invoices at issue: +1/+amount at issue, -1/-amount when fully paid
    close_t = paid["_paid"].where(paid["_paid"] > paid[F.invoice_date], paid[F.invoice_date])
    oe_code = np.concatenate([codes, p_code])
    oe_day = np.concatenate([t_day, _day_numbers(close_t)])
    o = _by_code_and_day(oe_code, oe_day)
    oe = pd.DataFrame({
        cid: oe_code[o],
        "_dn": np.concatenate([np.ones(len(inv)), -np.ones(len(paid))])[o],
        "_da": np.concatenate([inv[F.amount].to_numpy(), -paid[F.amount].to_numpy()])[o],
    })
    oe["_one"] = (oe["_dn"] > 0).astype(float)
    cum = oe.groupby(cid, sort=False)[["_dn", "_da", "_one"]].cumsum().to_numpy()
    rows = asof.rows(oe_code[o], oe_day[o])
    for j, c in enumerate(("o_n", "o_amt", "i_n")):
        out[c] = _take(cum[:, j], rows)
    del oe, cum, rows, oe_code, oe_day, close_t, paid

    # ---- open and already past due + grace at issue: enters at due + grace + 1 day if still
    # unpaid then (known on that day), leaves when paid
    due_g1 = inv[F.due_date] + pd.Timedelta(days=grace_days + 1)
    overdue = (inv["_paid"].isna() | (inv["_paid"] >= due_g1)).to_numpy()
    ov_paid = overdue & pm
    pe_code = np.concatenate([codes[overdue], codes[ov_paid]])
    pe_day = np.concatenate([_day_numbers(due_g1)[overdue], _day_numbers(inv["_paid"])[ov_paid]])
    o = _by_code_and_day(pe_code, pe_day)
    pe_ = pd.DataFrame({
        cid: pe_code[o],
        "_dn": np.concatenate([np.ones(overdue.sum()), -np.ones(ov_paid.sum())])[o],
        "_da": np.concatenate([inv[F.amount].to_numpy()[overdue], -inv[F.amount].to_numpy()[ov_paid]])[o],
    })
    cum = pe_.groupby(cid, sort=False)[["_dn", "_da"]].cumsum().to_numpy()
    rows = asof.rows(pe_code[o], pe_day[o])
    out["od_n"], out["od_amt"] = _take(cum[:, 0], rows), _take(cum[:, 1], rows)
    del pe_, cum, rows, pe_code, pe_day, overdue, ov_paid, due_g1

    # ---- prior invoice amounts: exact expanding median per customer
    o = _by_code_and_day(codes, t_day)
    a_med = _expanding_median(inv[F.amount].to_numpy(dtype=float)[o], codes[o])
    out["a_med"] = _take(a_med, asof.rows(codes[o], t_day[o]))

    # ---- pay days: last payment, modal weekday, circular mean day of month
    pay_cols = ["last_pay", "pd_n", "pd_c", "pd_s"] + [f"wd{i}" for i in range(7)]
    pdays = _pay_day_codes(payments, as_of, cats) if payments is not None and len(payments) else None
    if pdays is not None:
        pe_code, pe_day = pdays
        di = pd.DatetimeIndex((pe_day * 86_400_000_000_000).view(_NS))
        theta = 2 * np.pi * (di.day.to_numpy() - 1) / di.days_in_month.to_numpy()
        wd = di.day_of_week.to_numpy()
        parts = pd.DataFrame({"pd_n": 1.0, "pd_c": np.cos(theta), "pd_s": np.sin(theta)})
        for i in range(7):
            parts[f"wd{i}"] = (wd == i).astype(float)
        cum = parts.groupby(pe_code, sort=False).cumsum()
        rows = asof.rows(pe_code, pe_day)
        for c in pay_cols[1:]:
            out[c] = _take(cum[c].to_numpy(), rows)
        out["last_pay"] = _take(di.to_numpy(), rows)
        del parts, cum, rows, di, theta, wd
    else:
        for c in pay_cols:
            out[c] = np.full(len(inv), np.nan)
        out["last_pay"] = np.full(len(inv), np.datetime64("NaT"), dtype=_NS)

    # ---- assemble (out is aligned with inv: same sort order). Each intermediate leaves
    # ``out`` as its column is made, and the frame is built once from the columns without
    # copying them (memory: one copy of the features, not three)
    t = inv[F.invoice_date]
    amount = inv[F.amount].to_numpy()
    n = np.nan_to_num(out.pop("c_n"), nan=0.0)
    cols: dict = {F.invoice_id: inv[F.invoice_id], cid: customers, F.invoice_date: t, F.due_date: inv[F.due_date]}
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_dl = out.pop("c_dl") / n
        cols[F.prior_invoice_count] = np.nan_to_num(out.pop("i_n"), nan=0.0)
        cols[F.prior_paid_count] = n
        cols[F.prior_late_share] = out.pop("c_late") / n
        cols[F.prior_mean_days_late] = mean_dl
        cols[F.prior_median_days_late] = out.pop("c_med_dl")
        cols[F.recent_trend_days_late] = out.pop("c_last_k") - mean_dl
        cols[F.open_count_at_issue] = np.nan_to_num(out.pop("o_n"), nan=0.0)
        cols[F.open_balance_at_issue] = np.maximum(np.nan_to_num(out.pop("o_amt"), nan=0.0), 0.0)
        cols[F.overdue_count_at_issue] = np.nan_to_num(out.pop("od_n"), nan=0.0)
        cols[F.overdue_balance_at_issue] = np.maximum(np.nan_to_num(out.pop("od_amt"), nan=0.0), 0.0)
        cols[F.days_since_last_payment] = _days(t - out.pop("last_pay"))
        cols[F.amount_to_prior_median] = amount / out.pop("a_med")
        cols[F.amount] = amount
        cols[F.terms_days] = _days(inv[F.due_date] - t)
        cols[F.disputed] = inv[F.disputed].to_numpy()
    di = pd.DatetimeIndex(t)
    issue_wd = di.day_of_week.to_numpy()
    issue_day = di.day.to_numpy()
    dim = di.days_in_month.to_numpy()
    del di
    cols[F.issue_weekday] = issue_wd.astype(float)
    cols[F.issue_day] = issue_day.astype(float)
    cols[F.issue_days_to_month_end] = (dim - issue_day).astype(float)

    wd_counts = np.nan_to_num(np.column_stack([out.pop(f"wd{i}") for i in range(7)]).astype(float))
    pd_n = out.pop("pd_n").astype(float)
    has_pay = pd_n > 0
    modal = np.where(has_pay, np.argmax(wd_counts, axis=1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        cols[F.modal_pay_weekday] = modal
        cols[F.modal_pay_weekday_share] = np.where(has_pay, np.nanmax(wd_counts, axis=1) / pd_n, np.nan)
        del wd_counts
        cols[F.days_to_modal_pay_weekday] = np.mod(modal - issue_wd, 7)
        c, s = out.pop("pd_c").astype(float), out.pop("pd_s").astype(float)
        angle = np.mod(np.arctan2(s, c), 2 * np.pi)
        mean_day = np.rint(angle * _MEAN_MONTH / (2 * np.pi)) + 1
        mean_day = np.where(mean_day > 31, 1, mean_day)
        cols[F.mean_pay_day] = np.where(has_pay, mean_day, np.nan)
        cols[F.pay_day_concentration] = np.where(has_pay, np.hypot(c, s) / pd_n, np.nan)
        del c, s, angle, mean_day
        target = np.minimum(cols[F.mean_pay_day], dim)
        cols[F.days_to_mean_pay_day] = np.mod(target - issue_day, dim)
        del target

        # shrunk log days-to-pay location/scale
        m_c = out.pop("c_ldtp") / n
        v_c = np.maximum(out.pop("c_ldtp2") - n * m_c ** 2, 0.0) / (n - 1)
        p_n = np.nan_to_num(out.pop("p_n"), nan=0.0)
        m_p = out.pop("p_s") / p_n
        v_p = np.maximum(out.pop("p_s2") - p_n * m_p ** 2, 0.0) / (p_n - 1)
        w_loc = n / (n + shrink_k)
        cols[F.dtp_loc_shrunk] = np.where(n > 0, w_loc * m_c + (1 - w_loc) * m_p, m_p)
        del m_c, m_p, w_loc
        w_var = np.where(n >= 2, (n - 1) / (n - 1 + shrink_k), 0.0)
        var = np.where(n >= 2, w_var * v_c + (1 - w_var) * v_p, v_p)
        del v_c, v_p, w_var
    cols[F.dtp_scale_shrunk] = np.sqrt(var)
    del var

    cols[F.late], cols[F.outcome_known_date] = _label_arrays(inv, as_of, grace_days)
    return pd.DataFrame(cols, copy=False)
