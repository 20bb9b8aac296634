"""A calibrated payment outlook: the chance an open invoice is paid within 7/30/60 days.

Why a calibration layer
-----------------------
:meth:`DaysToPayModel.outlook <arinsights.behaviour.distributions.DaysToPayModel.outlook>`
answers "paid within ``h`` days" with the customer's own curve, ``1 - S(a + h) / S(a)``.
Far in the tail of a log-normal or Weibull that ratio says "pays any minute", while in
a real ledger an invoice well beyond the customer's usual window means something is wrong
(a dispute, a cash crunch, a lost invoice, a customer going quiet). This module learns
from the ledger's own history how the curve's answer translates into what actually
happened, and applies that to today's open invoices.

The method
----------
1. **Past cut-offs.** One grid of dates ``g_j = as_of - min(h) - step * j``. Horizon ``h``
   trains on the first ``n_cutoffs`` grid dates with ``g_j + h <= as_of`` (so its outcome
   is knowable on ``as_of``) that have at least ``min_open`` open invoices. Sharing one
   grid across horizons means ``n_cutoffs + ceil((max h - min h) / step)`` model fits in
   all instead of ``n_cutoffs * len(horizons)``; the most recent cut-off of a horizon is
   then up to ``step`` days older than ``as_of - h``, which costs a little recency.
2. **As each cut-off ``c``.** ``compute_durations(invoices, payments, c)``, a
   :class:`DaysToPayModel` fitted on it, the raw ``p_pay_h`` of the invoices open at
   ``c``, and a few explainable features (:data:`FEATURES`), all computed from facts dated
   on or before ``c``.
3. **Labels.** "Paid by ``c + h``", read from ``compute_durations(invoices, payments,
   as_of)``: paid on ``as_of`` and ``invoice_date + days_to_pay <= c + h``. Nothing dated
   after ``as_of`` is read.
4. **Model.** Per horizon a scikit-learn ``Pipeline(StandardScaler, LogisticRegression)``
   (L2, ``lbfgs``: deterministic) on the features. Applied to today's open invoices.
5. **Consistency.** Probabilities are made non-decreasing across horizons (running
   maximum, ``p7 <= p30 <= p60``). The expected pay date is re-derived from the calibrated
   numbers: the day the calibrated chance of payment reaches one half, interpolating
   linearly between ``(0, 0)`` and the ``(h, p_h)`` points and, past the last horizon,
   with the constant daily hazard of the last interval; NaT ("not expected") when that
   day is more than ``max_expected_days`` away or the hazard is zero.
6. **Fallback.** A horizon with fewer than ``min_train`` training invoices, or whose
   labels are all one class, keeps the raw outlook (a note says so).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..errors import InputError, ParameterError
from ..schema import CustomerWindows, Durations, Invoices, OpenInvoiceOutlook, Payments
from .distributions import DaysToPayModel
from .durations import _as_timestamp, _DurationsAt, compute_durations

_DAY = pd.Timedelta(days=1)
_EPS = 1e-4

#: the explanatory features of the calibration model, in plain words
FEATURES = {
    "logit_raw": "the customer's own days-to-pay curve's chance (log-odds)",
    "log_age_over_window": "invoice age relative to the customer's p90 days-to-pay (log ratio)",
    "log_days_past_due": "days past due, log(1 + days), 0 while not yet due",
    "disputed": "the invoice is disputed",
    "log_days_since_payment": "days since the customer last paid anything, log(1 + days)",
    "share_beyond_window": "share of the customer's open invoices older than their p90",
}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def outlook_features(durations: pd.DataFrame, raw_outlook: pd.DataFrame, windows: pd.DataFrame, as_of,
                     *, invoices: pd.DataFrame | None = None, payments: pd.DataFrame | None = None,
                     horizons=(7, 30, 60)) -> pd.DataFrame:
    """Features of each open invoice for the calibration model, from facts known on ``as_of``.

    Parameters
    ----------
    durations : pandas.DataFrame
        :class:`~arinsights.schema.Durations` computed as of ``as_of``.
    raw_outlook : pandas.DataFrame
        ``DaysToPayModel.outlook(durations, as_of, horizons)`` of a model fitted on
        ``durations``.
    windows : pandas.DataFrame
        ``DaysToPayModel.windows()`` of the same model (:class:`~arinsights.schema.CustomerWindows`).
    as_of : date-like
    invoices : pandas.DataFrame, optional
        Canonical invoices; only its ``disputed`` flag is read (0 when absent).
    payments : pandas.DataFrame, optional
        Canonical payments; allocations dated on or before ``as_of`` count as the
        customer's last payment (besides the settlement dates in ``durations``).
    horizons : sequence of int

    Returns
    -------
    pandas.DataFrame
        One row per row of ``raw_outlook`` (same order): ``invoice_id``, ``customer_id``,
        ``age``, ``p_pay_{h}`` (raw) for each horizon, ``logit_raw_{h}``, and the common
        features ``log_age_over_window``, ``log_days_past_due``, ``disputed``,
        ``log_days_since_payment``, ``share_beyond_window`` (see :data:`FEATURES`).
    """
    as_of = _as_timestamp(as_of)
    O = OpenInvoiceOutlook
    out = raw_outlook[[O.invoice_id, O.customer_id, O.age] + [f"p_pay_{h}" for h in horizons]].reset_index(drop=True)
    for h in horizons:
        out[f"logit_raw_{h}"] = _logit(out[f"p_pay_{h}"].to_numpy(dtype=float))

    # invoice facts: days past due, disputed
    inv_facts = durations[[Durations.invoice_id, Durations.days_past_due]].drop_duplicates(Durations.invoice_id)
    if invoices is not None and Invoices.disputed in invoices.columns:
        disp = invoices[[Invoices.invoice_id, Invoices.disputed]].drop_duplicates(Invoices.invoice_id)
        disp = disp.assign(**{Invoices.disputed: disp[Invoices.disputed].astype("boolean").fillna(False).astype(float)})
        inv_facts = inv_facts.merge(disp, on=Durations.invoice_id, how="left")
    else:
        inv_facts = inv_facts.assign(**{Invoices.disputed: 0.0})
    m = out[[O.invoice_id]].merge(inv_facts, on=O.invoice_id, how="left")
    dpd = m[Durations.days_past_due].to_numpy(dtype=float)
    out["log_days_past_due"] = np.log1p(np.clip(np.nan_to_num(dpd, nan=0.0), 0.0, None))
    out["disputed"] = m[Invoices.disputed].fillna(0.0).to_numpy(dtype=float)

    # age relative to the customer's own p90
    p90 = out[[O.customer_id]].merge(windows[[CustomerWindows.customer_id, CustomerWindows.p90_days]],
                                     on=O.customer_id, how="left")[CustomerWindows.p90_days].to_numpy(dtype=float)
    age = out[O.age].to_numpy(dtype=float)
    p90 = np.where(np.isfinite(p90), p90, np.nanmedian(p90) if np.isfinite(p90).any() else 30.0)
    out["log_age_over_window"] = np.log1p(age) - np.log1p(np.maximum(p90, 0.0))
    beyond = pd.Series((age > p90).astype(float))
    out["share_beyond_window"] = beyond.groupby(out[O.customer_id].to_numpy()).transform("mean").to_numpy()

    # days since the customer last paid anything (settlement in durations, or a payment)
    inv_d = pd.to_datetime(durations[Durations.invoice_date])
    paid = durations[Durations.paid].to_numpy(dtype=bool)
    settle = (inv_d + pd.to_timedelta(durations[Durations.days_to_pay].to_numpy(dtype=float), unit="D")).where(paid)
    frames = [pd.DataFrame({"c": durations[Durations.customer_id].to_numpy(), "d": settle.to_numpy()})]
    if payments is not None and len(payments):
        pd_ = pd.to_datetime(payments[Payments.payment_date])
        keep = (pd_ <= as_of).to_numpy()
        frames.append(pd.DataFrame({"c": payments.loc[keep, Payments.customer_id].to_numpy(),
                                    "d": pd_[keep].to_numpy()}))
    last = pd.concat(frames, ignore_index=True).groupby("c")["d"].max()
    first = inv_d.groupby(durations[Durations.customer_id].to_numpy()).min()
    ref = last.reindex(first.index).fillna(first)  # never paid: days since their first invoice
    since = ((as_of - ref) / _DAY).clip(lower=0.0)
    out["log_days_since_payment"] = np.log1p(since.reindex(out[O.customer_id].to_numpy()).fillna(0.0).to_numpy())
    return out


class _LedgerCodes:
    """Integer codes of one ledger for :func:`outlook_features` at many past cut-offs.

    :func:`outlook_features` matches open invoices to their facts and customers with
    string-keyed merges and group-bys over the whole ledger. At the calibration's past
    cut-offs every table is a slice of the same invoices (rows issued on or before the
    cut-off, in order), so ids are factorised once here and each cut-off uses integer codes
    and row positions. Every lookup keeps the public function's rules (first row of an
    invoice id, customers by equal id, group means over the same rows in the same order,
    latest/earliest dates), so the features are the same numbers.
    """

    def __init__(self, invoices: pd.DataFrame, payments: pd.DataFrame | None):
        n = len(invoices)
        id_codes, id_uniques = pd.factorize(invoices[Invoices.invoice_id])
        self.id_codes = id_codes
        # first row of each invoice id (rows without an id never match: NaN facts)
        first = np.full(len(id_uniques), n, dtype=np.int64)
        np.minimum.at(first, id_codes[id_codes >= 0], np.flatnonzero(id_codes >= 0))
        self.n_ids = len(id_uniques)
        if Invoices.disputed in invoices.columns:
            disp = invoices[Invoices.disputed].astype("boolean").fillna(False).to_numpy(dtype=float)
            self.disputed_of_id = disp[first]
        else:
            self.disputed_of_id = np.zeros(len(id_uniques))
        pay_cust = None
        if payments is not None and len(payments):
            pay_cust = payments[Payments.customer_id]
        cust = invoices[Invoices.customer_id].reset_index(drop=True)
        both = cust if pay_cust is None else pd.concat([cust, pay_cust.reset_index(drop=True)], ignore_index=True)
        codes, _ = pd.factorize(both)
        self.cust_codes = codes[:n]
        self.pay = None
        if pay_cust is not None:
            self.pay = (pd.to_datetime(payments[Payments.payment_date]), codes[n:])

    def features(self, rows: np.ndarray, durations: pd.DataFrame, raw_outlook: pd.DataFrame,
                 windows: pd.DataFrame, as_of: pd.Timestamp, horizons) -> pd.DataFrame:
        """:func:`outlook_features` of ``raw_outlook`` at a cut-off.

        ``durations`` is the durations table as of ``as_of`` of this ledger's invoices
        ``rows`` (positions, in order), ``raw_outlook`` its open rows' outlook.
        """
        O = OpenInvoiceOutlook
        out = raw_outlook[[O.invoice_id, O.customer_id, O.age] + [f"p_pay_{h}" for h in horizons]].reset_index(drop=True)
        for h in horizons:
            out[f"logit_raw_{h}"] = _logit(out[f"p_pay_{h}"].to_numpy(dtype=float))
        paid = durations[Durations.paid].to_numpy(dtype=bool)
        open_rows = rows[~paid]  # the outlook scores the open rows in order

        # invoice facts of the first row with the invoice's id: days past due, disputed
        id_codes = self.id_codes[rows]
        first = np.full(self.n_ids, -1, dtype=np.int64)
        ok = id_codes >= 0
        first[id_codes[ok][::-1]] = np.flatnonzero(ok)[::-1]
        open_codes = self.id_codes[open_rows]
        pos = np.where(open_codes >= 0, first[np.clip(open_codes, 0, None)], -1)
        dpd_all = durations[Durations.days_past_due].to_numpy(dtype=float)
        dpd = np.where(pos >= 0, dpd_all[np.clip(pos, 0, None)], np.nan)
        out["log_days_past_due"] = np.log1p(np.clip(np.nan_to_num(dpd, nan=0.0), 0.0, None))
        out["disputed"] = np.where(open_codes >= 0, self.disputed_of_id[np.clip(open_codes, 0, None)], 0.0)

        # age relative to the customer's own p90 (windows: one row per customer)
        w_pos = pd.Index(windows[CustomerWindows.customer_id]).get_indexer(out[O.customer_id])
        p90_all = windows[CustomerWindows.p90_days].to_numpy(dtype=float)
        p90 = np.where(w_pos >= 0, p90_all[np.clip(w_pos, 0, None)], np.nan)
        age = out[O.age].to_numpy(dtype=float)
        p90 = np.where(np.isfinite(p90), p90, np.nanmedian(p90) if np.isfinite(p90).any() else 30.0)
        out["log_age_over_window"] = np.log1p(age) - np.log1p(np.maximum(p90, 0.0))
        open_cust = self.cust_codes[open_rows]
        beyond = pd.Series((age > p90).astype(float))
        out["share_beyond_window"] = beyond.groupby(open_cust).transform("mean").to_numpy()

        # days since the customer last paid anything (settlement in durations, or a payment)
        inv_d = pd.to_datetime(durations[Durations.invoice_date])
        settle = (inv_d + pd.to_timedelta(durations[Durations.days_to_pay].to_numpy(dtype=float), unit="D")).where(paid)
        row_cust = self.cust_codes[rows]
        frames = [pd.DataFrame({"c": row_cust, "d": settle.to_numpy()})]
        if self.pay is not None:
            pd_, pay_cust = self.pay
            keep = (pd_ <= as_of).to_numpy() & (pay_cust >= 0)
            frames.append(pd.DataFrame({"c": pay_cust[keep], "d": pd_[keep].to_numpy()}))
        last = pd.concat(frames, ignore_index=True).groupby("c")["d"].max()
        first_d = inv_d.groupby(row_cust).min()
        ref = last.reindex(first_d.index).fillna(first_d)
        since = ((as_of - ref) / _DAY).clip(lower=0.0)
        out["log_days_since_payment"] = np.log1p(since.reindex(open_cust).fillna(0.0).to_numpy())
        return out


def _customer_sample(invoices: pd.DataFrame, payments: pd.DataFrame | None, max_customers, random_state):
    """The invoices and payments of at most ``max_customers`` customers drawn at random.

    The draw is ``max_customers`` positions of the sorted distinct customer ids of the
    invoices from ``numpy.random.default_rng(random_state)``, so it depends on the set of
    ids and the seed only, never on the row order; payments are kept when their customer
    is drawn. Returns the tables unchanged (the same objects) when there are not more
    customers than that, or ``max_customers`` is None; and the number of customers kept.
    """
    inv_codes, inv_uniques = pd.factorize(invoices[Invoices.customer_id])  # missing ids: code -1
    ids = pd.Index(inv_uniques.astype(str)).unique()
    if max_customers is None or len(ids) <= int(max_customers):
        return invoices, payments, len(ids)
    if int(max_customers) < 1:
        raise ParameterError(f"max_customers must be at least 1, got {max_customers!r}")
    ids = np.sort(np.asarray(ids, dtype=object))
    rng = np.random.default_rng(random_state)
    chosen = pd.Index(ids[np.sort(rng.choice(len(ids), size=int(max_customers), replace=False))])

    def drawn(codes, uniques):  # per row: its customer was drawn (lookups on distinct ids only)
        hit = np.append(chosen.get_indexer(pd.Index(uniques).astype(str)) >= 0, False)
        return hit[codes]  # code -1 (missing id) takes the appended False

    inv = invoices.loc[drawn(inv_codes, inv_uniques)]
    pay = payments
    if payments is not None and len(payments):
        pay = payments.loc[drawn(*pd.factorize(payments[Payments.customer_id]))]
    return inv, pay, int(max_customers)


def _feature_columns(h: int) -> list[str]:
    return [f"logit_raw_{h}"] + [f for f in FEATURES if f != "logit_raw"]


def expected_days_from_probabilities(p: np.ndarray, horizons, max_days: float) -> np.ndarray:
    """Days until the chance of payment reaches one half, from P(paid within h) per horizon.

    Linear interpolation between ``(0, 0)`` and the ``(h, p_h)`` points; beyond the last
    horizon the constant daily hazard of the last interval continues the curve.

    Parameters
    ----------
    p : numpy.ndarray, shape (n, len(horizons))
        Non-decreasing along axis 1.
    horizons : sequence of int, increasing
    max_days : float
        Medians further away than this (or never reached) are NaN.

    Returns
    -------
    numpy.ndarray
        Days (float, NaN when not expected within ``max_days``).
    """
    p = np.asarray(p, dtype=float)
    hs = np.concatenate([[0.0], np.asarray(horizons, dtype=float)])
    pp = np.concatenate([np.zeros((len(p), 1)), p], axis=1)
    days = np.full(len(p), np.nan)
    for j in range(1, len(hs)):  # a loop over a handful of horizons
        lo, hi = pp[:, j - 1], pp[:, j]
        hit = np.isnan(days) & (hi >= 0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(hi > lo, (0.5 - lo) / (hi - lo), 0.0)
        days = np.where(hit, hs[j - 1] + np.clip(frac, 0.0, 1.0) * (hs[j] - hs[j - 1]), days)
    # beyond the last horizon: constant hazard of the last interval
    rest = np.isnan(days)
    s_prev, s_last = 1.0 - pp[:, -2], 1.0 - pp[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = (np.log(s_prev) - np.log(s_last)) / (hs[-1] - hs[-2])
        extra = (np.log(s_last) - np.log(0.5)) / hazard
    ext = np.where(hazard > 0, hs[-1] + extra, np.inf)
    days = np.where(rest, ext, days)
    return np.where(days <= max_days, days, np.nan)


class PaymentOutlookCalibrator(BaseEstimator):
    """Learns from past cut-offs how the raw days-to-pay outlook maps to what happened.

    Parameters
    ----------
    horizons : tuple of int, default (7, 30, 60)
        Days ahead.
    n_cutoffs : int, default 6
        Past cut-offs per horizon.
    cutoff_step_days : int, default 30
        Days between cut-offs.
    min_open : int, default 30
        A cut-off counts only with at least this many open invoices.
    min_train : int, default 200
        Fewer training invoices (over all cut-offs) for a horizon: keep its raw outlook.
    C : float, default 1.0
        Inverse L2 regularisation strength of the logistic regression.
    window_quantile : float, default 0.8
        Passed to the :class:`DaysToPayModel` fitted at each cut-off.
    max_expected_days : float, default 365
        Expected pay dates further away than this are left empty ("not expected").
    max_customers : int or None, default None
        With more customers than this, the past cut-offs' models and features are computed
        on a random sample of this many customers only (the calibration needs a
        representative set of past open invoices, not all of them); today's outlook still
        covers every customer. None: always every customer.
    random_state : int, default 0
        Seed of that sample. The sample depends only on the set of customer ids and the
        seed, not on the row order.

    Attributes
    ----------
    cutoffs_ : dict of int to list of pandas.Timestamp
        Cut-offs used per horizon.
    models_ : dict of int to sklearn Pipeline or None
        Fitted calibration model per horizon (None: raw outlook kept).
    training_ : pandas.DataFrame
        The training rows: ``cutoff``, ``horizon``, features, raw probability and ``label``.
    notes_ : list of str
        Plain-words notes (e.g. why a horizon kept the raw outlook).
    as_of_ : pandas.Timestamp
    n_customers_ : int
        Customers the past cut-offs were computed on (all, or the sample).
    """

    def __init__(self, horizons=(7, 30, 60), n_cutoffs=6, cutoff_step_days=30, min_open=30, min_train=200,
                 C=1.0, window_quantile=0.8, max_expected_days=365, max_customers=None, random_state=0):
        self.horizons = horizons
        self.n_cutoffs = n_cutoffs
        self.cutoff_step_days = cutoff_step_days
        self.min_open = min_open
        self.min_train = min_train
        self.C = C
        self.window_quantile = window_quantile
        self.max_expected_days = max_expected_days
        self.max_customers = max_customers
        self.random_state = random_state

    def _horizons(self) -> list[int]:
        hs = sorted({int(h) for h in self.horizons})
        if not hs or hs[0] < 1:
            raise ParameterError(f"horizons must be positive whole days, got {self.horizons!r}")
        return hs

    def fit(self, invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of, *,
            durations: pd.DataFrame | None = None) -> "PaymentOutlookCalibrator":
        """Build the training set from past cut-offs and fit one model per horizon.

        Parameters
        ----------
        invoices, payments : pandas.DataFrame
            Canonical tables; nothing dated after ``as_of`` is read.
        as_of : date-like
            The report date.
        durations : pandas.DataFrame, optional
            ``compute_durations(invoices, payments, as_of)`` when already computed (the
            labels are read from it).

        Returns
        -------
        self
        """
        as_of = _as_timestamp(as_of)
        hs = self._horizons()
        step = int(self.cutoff_step_days)
        if step < 1 or int(self.n_cutoffs) < 1:
            raise ParameterError("cutoff_step_days and n_cutoffs must be at least 1")
        hist_inv, hist_pay, self.n_customers_ = _customer_sample(invoices, payments, self.max_customers,
                                                                 self.random_state)
        prepared = _DurationsAt(hist_inv, hist_pay)  # dates parsed and ids matched once
        if durations is not None:
            now = durations
        else:
            now = prepared.at(as_of) if hist_inv is invoices else compute_durations(invoices, payments, as_of)
        codes = _LedgerCodes(hist_inv, hist_pay)
        # date each invoice was paid, as known on as_of (NaT: still open on as_of)
        paid_on = (pd.to_datetime(now[Durations.invoice_date])
                   + pd.to_timedelta(now[Durations.days_to_pay].to_numpy(dtype=float), unit="D"))
        paid_on = pd.Series(paid_on.where(now[Durations.paid].to_numpy(dtype=bool)).to_numpy(),
                            index=now[Durations.invoice_id].to_numpy())
        paid_on = paid_on[~paid_on.index.duplicated()]
        first_date = pd.to_datetime(now[Durations.invoice_date]).min() if len(now) else as_of

        n_grid = int(self.n_cutoffs) + math.ceil((hs[-1] - hs[0]) / step)
        grid = [as_of - pd.Timedelta(days=hs[0] + step * j) for j in range(n_grid)]
        used: dict[int, list[pd.Timestamp]] = {h: [] for h in hs}
        rows = []
        notes: list[str] = []
        for c in grid:  # a loop over a handful of cut-offs
            wanted = [h for h in hs if c + pd.Timedelta(days=h) <= as_of and len(used[h]) < int(self.n_cutoffs)]
            if not wanted or c <= first_date:
                continue
            feats = self._features_at(prepared, codes, c, wanted)
            if feats is None or len(feats) < int(self.min_open):
                continue
            lab_dates = paid_on.reindex(feats[OpenInvoiceOutlook.invoice_id].to_numpy()).to_numpy()
            for h in wanted:
                end = c + pd.Timedelta(days=h)
                assert end <= as_of, "a training label would need facts dated after as_of"
                used[h].append(c)
                block = feats[[OpenInvoiceOutlook.invoice_id, OpenInvoiceOutlook.customer_id, OpenInvoiceOutlook.age,
                               f"p_pay_{h}"] + _feature_columns(h)].copy()
                block = block.rename(columns={f"p_pay_{h}": "p_raw", f"logit_raw_{h}": "logit_raw"})
                block.insert(0, "horizon", h)
                block.insert(0, "cutoff", c)
                block["label"] = (pd.notna(lab_dates) & (lab_dates <= end.to_datetime64())).astype(float)
                rows.append(block)
        cols = ["cutoff", "horizon", OpenInvoiceOutlook.invoice_id, OpenInvoiceOutlook.customer_id,
                OpenInvoiceOutlook.age, "p_raw", *FEATURES, "label"]
        self.training_ = (pd.concat(rows, ignore_index=True)[cols] if rows
                          else pd.DataFrame({c: pd.Series(dtype=float) for c in cols}))
        self.cutoffs_ = used
        self.models_ = {}
        X_cols = list(FEATURES)
        for h in hs:
            t = self.training_.loc[self.training_["horizon"] == h]
            if len(t) < int(self.min_train) or t["label"].nunique() < 2:
                self.models_[h] = None
                notes.append(f"Too little payment history to calibrate the {h}-day outlook "
                             f"({len(t)} past open invoices, at least {self.min_train} needed); "
                             "it uses each customer's days-to-pay curve as it is.")
                continue
            pipe = Pipeline([("scale", StandardScaler()),
                             ("logit", LogisticRegression(C=float(self.C), max_iter=1000))])
            self.models_[h] = pipe.fit(t[X_cols].to_numpy(dtype=float), t["label"].to_numpy(dtype=int))
        self.notes_ = notes
        self.as_of_ = as_of
        return self

    def _features_at(self, prepared, codes, c, hs):
        keep = prepared.kept(c)
        d = prepared.at(c, keep)
        if not (~d[Durations.paid]).any() or not d[Durations.paid].any():
            return None
        try:
            m = DaysToPayModel(window_quantile=self.window_quantile).fit(d)
        except InputError:
            return None
        raw = m.outlook(d, c, horizons=tuple(hs))
        return codes.features(np.flatnonzero(keep), d, raw, m.windows(), c, hs)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "models_")

    @property
    def fallback_(self) -> bool:
        """True when every horizon kept the raw outlook."""
        if not hasattr(self, "models_"):
            raise ParameterError("this PaymentOutlookCalibrator is not fitted yet; call fit(...) first")
        return all(m is None for m in self.models_.values())

    def transform(self, features: pd.DataFrame, as_of) -> pd.DataFrame:
        """Calibrated outlook from :func:`outlook_features` of today's open invoices.

        Parameters
        ----------
        features : pandas.DataFrame
            :func:`outlook_features` as of ``as_of`` (raw ``p_pay_{h}`` for every horizon).
        as_of : date-like
            Must be the date the calibrator was fitted as of.

        Returns
        -------
        pandas.DataFrame
            One row per open invoice (:class:`~arinsights.schema.OpenInvoiceOutlook`):
            ``invoice_id``, ``customer_id``, ``age``, ``p_pay_{h}`` (calibrated,
            non-decreasing in ``h``), ``median_remaining_days`` (days until the calibrated
            chance of payment reaches one half; NaN when not expected within
            ``max_expected_days``) and ``expected_pay_date`` (``as_of`` plus that, rounded;
            NaT when not expected).
        """
        if not hasattr(self, "models_"):
            raise ParameterError("this PaymentOutlookCalibrator is not fitted yet; call fit(...) first")
        as_of = _as_timestamp(as_of)
        if as_of != self.as_of_:
            raise ParameterError(f"this calibrator was fitted as of {self.as_of_.date()}, not {as_of.date()}")
        hs = self._horizons()
        O = OpenInvoiceOutlook
        out = features[[O.invoice_id, O.customer_id, O.age]].reset_index(drop=True)
        P = np.empty((len(features), len(hs)))
        for j, h in enumerate(hs):
            raw = features[f"p_pay_{h}"].to_numpy(dtype=float)
            model = self.models_.get(h)
            if model is None or not len(features):
                P[:, j] = raw
            else:
                X = features[_feature_columns(h)].to_numpy(dtype=float)
                P[:, j] = model.predict_proba(X)[:, 1]
        P = np.clip(np.maximum.accumulate(P, axis=1), 0.0, 1.0)
        for j, h in enumerate(hs):
            out[f"p_pay_{h}"] = P[:, j]
        remaining = expected_days_from_probabilities(P, hs, float(self.max_expected_days))
        out["median_remaining_days"] = remaining
        out[O.expected_pay_date] = as_of + pd.to_timedelta(np.round(remaining), unit="D")
        return out


def calibrated_outlook(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of, *,
                       durations: pd.DataFrame | None = None, model: DaysToPayModel | None = None,
                       horizons=(7, 30, 60), n_cutoffs=6, cutoff_step_days=30, min_open=30, min_train=200,
                       C=1.0, window_quantile=0.8, max_expected_days=365, max_customers=None, random_state=0):
    """The payment outlook of today's open invoices, calibrated on the ledger's own history.

    Parameters
    ----------
    invoices, payments : pandas.DataFrame
        Canonical tables; nothing dated after ``as_of`` is read.
    as_of : date-like
    durations : pandas.DataFrame, optional
        ``compute_durations(invoices, payments, as_of)`` when already computed.
    model : DaysToPayModel, optional
        Fitted on ``durations`` when already fitted.
    horizons, n_cutoffs, cutoff_step_days, min_open, min_train, C, window_quantile, max_expected_days
    max_customers, random_state
        See :class:`PaymentOutlookCalibrator`.

    Returns
    -------
    outlook : pandas.DataFrame
        :class:`~arinsights.schema.OpenInvoiceOutlook` columns (see
        :meth:`PaymentOutlookCalibrator.transform`).
    calibrator : PaymentOutlookCalibrator
        Fitted; ``notes_`` says when a horizon kept the raw outlook.
    """
    as_of = _as_timestamp(as_of)
    hs = tuple(sorted({int(h) for h in horizons}))
    if durations is None:
        durations = compute_durations(invoices, payments, as_of)
    if model is None:
        model = DaysToPayModel(window_quantile=window_quantile).fit(durations)
    raw = model.outlook(durations, as_of, horizons=hs)
    keep = (pd.to_datetime(invoices[Invoices.invoice_date]) <= as_of).to_numpy()
    if len(durations) == int(keep.sum()):
        # durations are the rows of invoices issued on/before as_of, in order: the integer
        # coded path gives outlook_features' numbers without its string-keyed merges
        feats = _LedgerCodes(invoices, payments).features(np.flatnonzero(keep), durations, raw, model.windows(),
                                                          as_of, hs)
    else:
        feats = outlook_features(durations, raw, model.windows(), as_of, invoices=invoices, payments=payments,
                                 horizons=hs)
    cal = PaymentOutlookCalibrator(horizons=hs, n_cutoffs=n_cutoffs, cutoff_step_days=cutoff_step_days,
                                   min_open=min_open, min_train=min_train, C=C, window_quantile=window_quantile,
                                   max_expected_days=max_expected_days, max_customers=max_customers,
                                   random_state=random_state).fit(invoices, payments, as_of, durations=durations)
    return cal.transform(feats, as_of), cal
