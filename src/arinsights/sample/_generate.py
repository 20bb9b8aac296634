"""Synthetic AR ledgers with exact ground truth (the generator behind :func:`generate_ledger`).

How a customer pays
-------------------
Each invoice gets an *intended* number of days to pay ``d = round(exp(mu + sigma * z))``
(at least 1), ``z ~ N(0, 1)``; the customer intends to pay on ``invoice_date + d``.
The cash then lands on

* the first pay-run day on or after that date for pay-run customers (a weekday, a day of
  the month moved to the next Monday when it falls on a weekend, or the last business day
  of the month), otherwise
* that date, moved to the next Monday when it is a Saturday or Sunday (bank posting).

Archetypes change ``mu``/``sigma`` or cut payments off (see ``ARCHETYPES`` and the README
in ``data/sample``). Everything dated after ``end`` is invisible: invoices are issued up to
``end`` and settlements dated after ``end`` are dropped, so those invoices are open at
``end``. All randomness comes from one ``np.random.default_rng(seed)``; nothing loops over
customers or invoices (only over the handful of archetypes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema as S
from ..errors import InputError
from . import _calendar as cal

#: Archetypes in the generated ledgers (ground truth column ``archetype``).
ARCHETYPES = (
    "reliable",
    "slipped",
    "habitual",
    "drifting",
    "monthly_pay_run",
    "weekly_pay_run",
    "ghost",
    "new",
)

#: Default share of each archetype (exact counts by largest remainder).
DEFAULT_MIX = {
    "reliable": 0.43,
    "slipped": 0.08,
    "habitual": 0.12,
    "drifting": 0.07,
    "monthly_pay_run": 0.10,
    "weekly_pay_run": 0.08,
    "ghost": 0.06,
    "new": 0.06,
}

CURRENCY = "USD"
TERMS = np.array([14, 30, 45, 60])
TERMS_P = np.array([0.15, 0.55, 0.15, 0.15])
MONTH_DAYS = np.array([1, 5, 10, 15, 20, 25, 28])
Z80 = 0.8416212335729143  # scipy.stats.norm.ppf(0.8)

#: Shares of invoices with cross-cutting events.
DISPUTE_SHARE = 0.02
CREDIT_SHARE = 0.02
CREDIT_FULL_SHARE = 0.4
PARTIAL_SHARE = 0.05
COMBINE_SHARE = 0.5  # non-pay-run invoices paid the same day that share one payment
UNAPPLIED_SHARE = 0.003  # unapplied cash receipts per invoice
DRIFT_FULL_DAYS = 60  # drifting customers reach their full drift this many days before end

_NEVER = np.iinfo(np.int64).min // 2  # "no date" sentinel for integer day numbers

# customer-name parts (12,800 unique combinations before a number is appended)
_NAME_A = np.array(
    "Acme Apex Atlas Beacon Birch Blue Bright Cedar Coastal Copper Crest Delta Eagle Emerald "
    "Falcon Granite Harbor Highland Iron Juniper Keystone Lakeside Maple Meridian Northwind "
    "Oak Orchid Pioneer Quarry Redwood Ridge Silver Summit Sterling Tidal Union Valley Vertex "
    "Willow Zenith".split()
)
_NAME_B = np.array(
    "Analytics Bakery Builders Cargo Chemicals Clinics Consulting Dental Designs Electric "
    "Engineering Farms Foods Freight Furniture Glass Health Hotels Imports Labs Lighting "
    "Logistics Machinery Marine Media Metals Motors Optics Packaging Paper Pharma Plastics "
    "Printing Retail Robotics Software Steel Textiles Tools Travel".split()
)
_NAME_S = np.array(["Ltd", "Inc", "LLC", "& Sons", "Group", "Co.", "GmbH", "Partners"])
_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@dataclass
class SampleLedger:
    """A generated ledger and its ground truth.

    Attributes
    ----------
    invoices : pandas.DataFrame
        :class:`arinsights.schema.Invoices`, the truth as of ``end``: ``paid_date`` is the
        date the invoice was fully settled (NaT if open at ``end``). Extra truth columns:
        ``terms_days``, ``intended_days`` (the drawn days to pay, NaN when the customer
        never pays it), ``eventual_paid_date`` (settlement date ignoring the ``end``
        cut-off; NaT when it is never settled) and ``open_amount`` (balance open at end).
    payments : pandas.DataFrame
        :class:`arinsights.schema.Payments`: one row per allocation; a payment covering
        several invoices has several rows with the same ``payment_id``; credit notes have
        ``kind == "credit"``; unapplied cash has a missing ``invoice_id``.
    customers : pandas.DataFrame
        Ground truth, one row per customer (see :func:`generate_ledger`).
    start, end : pandas.Timestamp
        History window; ``end`` is the natural ``as_of``.
    seed : int
        The seed the ledger was generated from.
    """

    invoices: pd.DataFrame
    payments: pd.DataFrame
    customers: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    seed: int = 0


def _ids(prefix: str, nums: np.ndarray, width: int) -> pa.Array:
    """Strings ``prefix + zero-padded number`` built with Arrow kernels (no Python loop)."""
    a = pc.cast(pa.array(np.asarray(nums, dtype=np.int64)), pa.string())
    if width:
        a = pc.utf8_lpad(a, width=width, padding="0")
    if prefix:
        a = pc.binary_join_element_wise(pa.scalar(prefix), a, "")
    return a


def _take(values: pa.Array, idx: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """``values[idx]`` as an Arrow array; positions where ``null`` is true are missing."""
    return values.take(pa.array(np.asarray(idx, dtype=np.int64), mask=null))


def _pd(a: pa.Array) -> pd.Series:
    """An Arrow string array as a pandas Series of the default string dtype (any pandas)."""
    return a.to_pandas()


def _counts(n: int, mix: dict[str, float]) -> np.ndarray:
    """Exact archetype counts by largest remainder."""
    share = np.array([mix.get(a, 0.0) for a in ARCHETYPES], dtype=float)
    share = share / share.sum()
    raw = share * n
    counts = np.floor(raw).astype(int)
    rest = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def _check_mix(mix: dict[str, float] | None) -> dict[str, float]:
    if mix is None:
        return dict(DEFAULT_MIX)
    unknown = set(mix) - set(ARCHETYPES)
    if unknown:
        raise InputError(
            f"unknown archetype(s) {sorted(unknown)} in the sample mix",
            hint=f"Use some of {list(ARCHETYPES)}.",
        )
    if any((not np.isfinite(v)) or v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
        raise InputError("the sample mix needs non-negative shares that add up to more than zero")
    return dict(mix)


def _customer_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique ids like ``0379-NEVHP`` (4 digits, a dash, 5 letters)."""
    space = 10_000 * 26**5
    keys = rng.integers(0, space, size=n)
    while True:  # redraw the (rare) duplicates until every key is unique
        _, first = np.unique(keys, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        if dup.size == 0:
            break
        keys[dup] = rng.integers(0, space, size=dup.size)
    digits = pd.Series(keys % 10_000).astype(str).str.zfill(4).to_numpy()
    rest = keys // 10_000
    idx = np.stack([(rest // 26**k) % 26 for k in range(5)], axis=1)
    letters = np.ascontiguousarray(_LETTERS[idx]).view("<U5").ravel()
    return (pd.Series(digits, dtype=object) + "-" + pd.Series(letters, dtype=object)).to_numpy()


def _customer_names(rng: np.random.Generator, n: int) -> np.ndarray:
    combos = len(_NAME_A) * len(_NAME_B) * len(_NAME_S)
    idx = rng.permutation(max(n, combos))[:n]
    a = _NAME_A[idx % len(_NAME_A)]
    b = _NAME_B[(idx // len(_NAME_A)) % len(_NAME_B)]
    s = _NAME_S[(idx // (len(_NAME_A) * len(_NAME_B))) % len(_NAME_S)]
    names = pd.Series(a, dtype=object) + " " + pd.Series(b, dtype=object) + " " + pd.Series(s, dtype=object)
    extra = idx // combos
    names = names.where(extra == 0, names + " " + pd.Series(extra + 1).astype(str))
    return names.to_numpy()


def _customers(rng, n, start_d, end_d, mix):
    counts = _counts(n, mix)
    arch = rng.permutation(np.repeat(np.arange(len(ARCHETYPES)), counts))
    A = {a: arch == i for i, a in enumerate(ARCHETYPES)}
    span = end_d - start_d

    terms = rng.choice(TERMS, size=n, p=TERMS_P)
    size = np.exp(rng.normal(np.log(1500.0), 1.1, size=n))  # median invoice amount
    ipm = np.exp(rng.normal(np.log(2.0), 0.6, size=n)) * (size / 1500.0) ** 0.25
    ipm = np.clip(ipm, 1.0, 40.0)
    for a, floor in (("drifting", 2.0), ("monthly_pay_run", 2.0), ("weekly_pay_run", 2.0), ("slipped", 1.5)):
        ipm[A[a]] = np.maximum(ipm[A[a]], floor)

    # normal behaviour: median days to pay and log-sd
    u = rng.uniform(size=n)
    median = terms * (0.55 + 0.35 * u)  # reliable / slipped / drifting: within terms
    sigma = rng.uniform(0.08, 0.2, size=n)
    h = A["habitual"]
    median[h] = terms[h] + 25 + 30 * u[h]
    sigma[h] = rng.uniform(0.2, 0.35, size=h.sum())
    pr = A["monthly_pay_run"] | A["weekly_pay_run"]
    median[pr] = terms[pr] * (0.5 + 0.35 * u[pr])
    sigma[pr] = rng.uniform(0.1, 0.2, size=pr.sum())
    g = A["ghost"]
    median[g] = terms[g] * (0.7 + 0.4 * u[g])
    sigma[g] = rng.uniform(0.15, 0.3, size=g.sum())
    nw = A["new"]
    median[nw] = terms[nw] * (0.6 + 0.4 * u[nw])
    sigma[nw] = rng.uniform(0.1, 0.25, size=nw.sum())
    mu = np.log(median)

    # history window per customer
    first = start_d + np.floor(rng.uniform(size=n) ** 2 * 0.2 * span).astype(np.int64)
    first[nw] = end_d - rng.integers(20, 91, size=nw.sum())
    first = cal.business_forward(first)
    first = np.where(first > end_d, cal.business_back(end_d), first)
    last = np.full(n, end_d, dtype=np.int64)

    shock = np.full(n, _NEVER, dtype=np.int64)
    s = A["slipped"]
    shock[s] = end_d - rng.integers(30, 76, size=s.sum())
    ghost = np.full(n, _NEVER, dtype=np.int64)
    ghost[g] = end_d - rng.integers(150, max(151, min(int(0.45 * span), 330)) + 1, size=g.sum())
    last[g] = np.minimum(ghost[g] + rng.integers(30, 61, size=g.sum()), end_d)

    drift_start = np.full(n, _NEVER, dtype=np.int64)
    drift_days = np.full(n, np.nan)
    dr = A["drifting"]
    drift_start[dr] = end_d - rng.integers(170, 231, size=dr.sum())
    drift_days[dr] = rng.uniform(30.0, 50.0, size=dr.sum())

    pattern = np.full(n, "none", dtype=object)
    run_day = np.full(n, np.nan)
    w = A["weekly_pay_run"]
    pattern[w] = "weekday"
    run_day[w] = rng.integers(0, 5, size=w.sum())
    m = A["monthly_pay_run"]
    me = m & (rng.uniform(size=n) < 0.3)
    dm = m & ~me
    pattern[me] = "month_end"
    pattern[dm] = "day_of_month"
    run_day[dm] = rng.choice(MONTH_DAYS, size=dm.sum())

    return dict(
        arch=arch, terms=terms, size=size, ipm=ipm, mu=mu, sigma=sigma, first=first, last=last,
        shock=shock, ghost=ghost, drift_start=drift_start, drift_days=drift_days,
        pattern=pattern, run_day=run_day, ids=_customer_ids(rng, n), names=_customer_names(rng, n),
    )


def _post(rng, days, not_before, pattern, run_day):
    """Date the cash lands for an intended pay date (pay run or weekday of payment).

    Pay-run customers pay on their first run on or after ``days``. Others pay on
    ``days`` when it is a weekday; a weekend intention is paid at the weekend and posted on
    the next Monday one time in four, otherwise on a nearby weekday (the Thursday or Friday
    before, or the Tuesday or Wednesday after), never before ``not_before``.
    """
    wd = cal.weekday(days)
    weekend = wd >= 5
    sat = days - (wd - 5)  # the Saturday of that weekend (only used where weekend)
    nearby = sat + np.array([-2, -1, 3, 4])[rng.integers(0, 4, size=days.size)]
    posted = np.where(rng.uniform(size=days.size) < 0.25, sat + 2, np.maximum(nearby, not_before))
    out = np.where(weekend, cal.business_forward(posted), days)
    wk = pattern == "weekday"
    out[wk] = cal.next_weekday(days[wk], run_day[wk].astype(np.int64))
    dm = pattern == "day_of_month"
    out[dm] = cal.day_of_month_run(days[dm], run_day[dm].astype(np.int64))
    me = pattern == "month_end"
    out[me] = cal.month_end_run(days[me])
    return out


def generate_ledger(
    n_customers: int = 300,
    years: float = 2.0,
    *,
    seed: int = 7,
    end: str = "2026-06-30",
    mix: dict[str, float] | None = None,
) -> SampleLedger:
    """Generate a synthetic AR ledger whose ground truth is known exactly.

    Parameters
    ----------
    n_customers : int
        Number of customers; archetype counts are ``mix`` shares of it (largest remainder).
    years : float
        Length of the history window ending at ``end`` (at least 1).
    seed : int
        Seed of the only random generator used; the same seed gives identical frames.
    end : str
        Last day of the history (the natural ``as_of``). Nothing is dated after it.
    mix : dict of str to float, optional
        Archetype shares (keys from :data:`ARCHETYPES`); defaults to :data:`DEFAULT_MIX`.

    Returns
    -------
    SampleLedger
        ``customers`` (ground truth) has the columns

        customer_id, customer_name, archetype, terms_days
            identity, one of :data:`ARCHETYPES`, payment terms in days.
        mu, sigma
            log-normal parameters of the customer's *normal* days to pay: days from the
            invoice date to the date they intend to pay, before pay-run or weekend delays
            (for drifting customers: before the drift starts).
        median_days_to_pay
            ``exp(mu)``, the median intended days to pay (normal behaviour).
        p80_days_to_pay
            ``exp(mu + 0.8416 * sigma)``, the 80th percentile of the same distribution.
        observed_median_days_to_pay
            median of ``paid_date - invoice_date`` over the invoices fully settled by
            ``end`` (includes pay-run and weekend delays, disputes, drift); NaN if none.
        shock_date
            slipped: first day they stop paying (NaT otherwise). No settlement is dated
            on or after it.
        ghost_date
            ghost: last day anything may be settled (NaT otherwise).
        drift_start, drift_days
            drifting: invoices issued after ``drift_start`` (170-230 days before
            ``end``) take extra days to pay, rising linearly from 0 to ``drift_days``
            (30-50) for invoices issued 60 days before ``end`` and later (NaT / NaN
            otherwise).
        first_invoice_date, last_invoice_date
            first and last invoice issued (ghosts stop 30-60 days after ``ghost_date``).
        pay_run_pattern, pay_run_day
            "weekday" (day 0=Mon..4=Fri), "day_of_month" (day 1..28, paid the next Monday
            when it is a weekend), "month_end" (last business day; day NaN) or "none".
        invoices_per_month
            the customer's invoicing rate (Poisson) while active.
        n_invoices, n_paid
            invoices issued, and fully settled by ``end``.
    """
    if n_customers < 1:
        raise InputError(f"the sample needs at least one customer (got {n_customers})")
    if not years >= 1:
        raise InputError(f"the sample needs at least one year of history (got {years})")
    mix = _check_mix(mix)
    rng = np.random.default_rng(seed)
    end_ts = pd.Timestamp(end).normalize()
    end_d = int(cal.to_days(end_ts))
    start_d = end_d - int(round(years * 365.25))
    c = _customers(rng, n_customers, start_d, end_d, mix)
    arch = c["arch"]
    is_ = {a: arch == i for i, a in enumerate(ARCHETYPES)}

    # ---- invoices: a Poisson number per customer, the first on first_invoice_date
    active = (c["last"] - c["first"] + 1).astype(float)
    n_inv = rng.poisson(c["ipm"] * active / 30.4375)
    n_inv = np.where(is_["new"], np.clip(n_inv, 1, 3), np.maximum(n_inv, 8))
    cust = np.repeat(np.arange(n_customers), n_inv)
    starts = np.cumsum(n_inv) - n_inv
    pos = np.arange(cust.size) - starts[cust]
    inv_d = c["first"][cust] + np.floor(rng.uniform(size=cust.size) * active[cust]).astype(np.int64)
    inv_d = np.where(pos == 0, c["first"][cust], cal.business_back(inv_d))
    inv_d = np.maximum(inv_d, c["first"][cust])

    # slipped: one invoice guaranteed open beyond the customer's usual window at `end`
    sl = np.flatnonzero(is_["slipped"])
    p80 = np.exp(c["mu"] + Z80 * c["sigma"])
    g_d = np.minimum(c["shock"][sl] - 1, end_d - np.ceil(p80[sl]).astype(np.int64) - rng.integers(5, 21, size=sl.size))
    g_d = np.maximum(cal.business_back(g_d), c["first"][sl])
    # ghosts: at least one invoice after the ghost date (invoices keep coming for a while)
    gh = np.flatnonzero(is_["ghost"])
    gap = np.maximum(c["last"][gh] - c["ghost"][gh], 6)
    gh_d = cal.business_back(c["ghost"][gh] + 5 + np.floor(rng.uniform(size=gh.size) * (gap - 5)).astype(np.int64))
    n_plain = inv_d.size
    cust = np.concatenate([cust, sl, gh])
    inv_d = np.concatenate([inv_d, g_d, gh_d])
    forced = np.zeros(inv_d.size, bool)
    forced[n_plain:n_plain + sl.size] = True
    order = np.lexsort((cust, inv_d))  # by date, then customer: invoice numbers increase with date
    cust, inv_d, forced = cust[order], inv_d[order], forced[order]
    n = cust.size

    terms = c["terms"][cust]
    cents = np.maximum(np.round(c["size"][cust] * np.exp(rng.normal(0.0, 0.6, size=n)) * 100), 100).astype(np.int64)
    disputed = rng.uniform(size=n) < DISPUTE_SHARE

    # ---- intended days to pay
    z = rng.normal(size=n)
    days = np.exp(c["mu"][cust] + c["sigma"][cust] * z)
    dr = is_["drifting"][cust]
    ds = c["drift_start"][cust[dr]]
    frac = np.clip((inv_d[dr] - ds) / (end_d - DRIFT_FULL_DAYS - ds), 0.0, 1.0)
    days[dr] += c["drift_days"][cust[dr]] * frac
    days[disputed] = np.maximum(days[disputed], terms[disputed]) + rng.uniform(15, 60, size=disputed.sum())
    days = np.maximum(np.round(days), 1).astype(np.int64)
    shock_c = c["shock"][cust]
    days[forced] = np.maximum(days[forced], shock_c[forced] - inv_d[forced] + 1)
    intend = inv_d + days
    pattern = c["pattern"][cust]
    run_day = c["run_day"][cust]

    # ---- settlement events: credit (part 0), partial payment (1), final payment (2)
    credit = (rng.uniform(size=n) < CREDIT_SHARE) & ~forced
    full_credit = credit & (rng.uniform(size=n) < CREDIT_FULL_SHARE)
    credit_cents = np.where(full_credit, cents, np.round(cents * rng.uniform(0.1, 0.5, size=n)).astype(np.int64))
    credit_cents = np.where(credit, credit_cents, 0)
    credit_d = cal.business_forward(inv_d + rng.integers(2, 21, size=n))
    partial = (rng.uniform(size=n) < PARTIAL_SHARE) & ~full_credit
    rest = cents - credit_cents
    part_cents = np.where(partial, np.round(rest * rng.uniform(0.3, 0.7, size=n)).astype(np.int64), 0)
    part_intend = np.maximum(intend - rng.integers(7, 31, size=n), inv_d + 1)
    part_d = _post(rng, part_intend, inv_d + 1, pattern, run_day)
    final_d = _post(rng, intend, inv_d + 1, pattern, run_day)
    final_cents = rest - part_cents
    has_final = ~full_credit

    ev_inv = np.concatenate([np.flatnonzero(credit), np.flatnonzero(partial), np.flatnonzero(has_final)])
    ev_part = np.concatenate([np.zeros(credit.sum(), int), np.ones(partial.sum(), int), np.full(has_final.sum(), 2)])
    ev_d = np.concatenate([credit_d[credit], part_d[partial], final_d[has_final]])
    ev_cents = np.concatenate([credit_cents[credit], part_cents[partial], final_cents[has_final]])
    ev_cust = cust[ev_inv]
    # the customer's cut-off: slipped pay nothing on/after shock_date, ghosts nothing after ghost_date
    cutoff = np.full(n_customers, np.iinfo(np.int64).max)
    cutoff[is_["slipped"]] = c["shock"][is_["slipped"]] - 1
    cutoff[is_["ghost"]] = c["ghost"][is_["ghost"]]
    allowed = ev_d <= cutoff[ev_cust]
    visible = allowed & (ev_d <= end_d)

    # invoice-level truth
    total_allowed = np.bincount(ev_inv[allowed], weights=ev_cents[allowed], minlength=n)
    total_visible = np.bincount(ev_inv[visible], weights=ev_cents[visible], minlength=n)
    last_allowed = np.full(n, _NEVER, dtype=np.int64)
    np.maximum.at(last_allowed, ev_inv[allowed], ev_d[allowed])
    settled_eventually = np.isclose(total_allowed, cents)
    settled = np.isclose(total_visible, cents)
    paid_d = np.where(settled, last_allowed, _NEVER)
    eventual_d = np.where(settled_eventually, last_allowed, _NEVER)
    open_cents = cents - total_visible
    has_credit_vis = np.bincount(ev_inv[visible & (ev_part == 0)], minlength=n) > 0
    has_cash_vis = np.bincount(ev_inv[visible & (ev_part > 0)], minlength=n) > 0
    intended_days = np.where(settled_eventually | (paid_d != _NEVER), days, np.nan).astype(float)

    invoice_ids = _ids("", 611_365 + np.arange(n), 10)
    ids_pa, names_pa = pa.array(c["ids"], type=pa.string()), pa.array(c["names"], type=pa.string())
    settled_by_pa = _take(pa.array([S.SETTLED_PAYMENT, S.SETTLED_CREDIT, S.SETTLED_MIXED]),
                          np.where(has_credit_vis & has_cash_vis, 2, np.where(has_credit_vis, 1, 0)), ~settled)
    invoices = pd.DataFrame({
        S.Invoices.invoice_id: _pd(invoice_ids),
        S.Invoices.customer_id: _pd(_take(ids_pa, cust)),
        S.Invoices.customer_name: _pd(_take(names_pa, cust)),
        S.Invoices.invoice_date: cal.to_datetime(inv_d),
        S.Invoices.due_date: cal.to_datetime(inv_d + terms),
        S.Invoices.amount: cents / 100.0,
        S.Invoices.currency: CURRENCY,
        S.Invoices.disputed: disputed,
        S.Invoices.paid_date: cal.to_datetime(paid_d),
        S.Invoices.settled_by: _pd(settled_by_pa),
        S.Invoices.source: _pd(_ids("generated:", np.arange(1, n + 1), 0)),
        "terms_days": terms,
        "intended_days": intended_days,
        "eventual_paid_date": cal.to_datetime(eventual_d),
        "open_amount": open_cents / 100.0,
    })

    # ---- payments: visible events, cash grouped into payments
    v_inv, v_part, v_d, v_cents = ev_inv[visible], ev_part[visible], ev_d[visible], ev_cents[visible]
    v_cust = cust[v_inv]
    is_cash = v_part > 0
    is_run = np.isin(c["pattern"][v_cust], ["weekday", "day_of_month", "month_end"])
    combine = is_cash & (v_part == 2) & (is_run | (rng.uniform(size=v_inv.size) < COMBINE_SHARE))
    solo = np.where(combine, 0, np.arange(1, v_inv.size + 1))

    # unapplied cash: small extra receipts on the same day as an existing payment of an
    # ordinary customer (so pay-run and cut-off rules still hold)
    eligible = np.flatnonzero(is_cash & (is_["reliable"] | is_["habitual"] | is_["drifting"])[v_cust])
    n_un = min(eligible.size, max(1, int(round(UNAPPLIED_SHARE * n)))) if eligible.size else 0
    pick = np.sort(rng.choice(eligible, size=n_un, replace=False)) if n_un else np.array([], int)
    e_inv = np.concatenate([v_inv, np.full(n_un, -1)])
    e_cust = np.concatenate([v_cust, v_cust[pick]])
    e_d = np.concatenate([v_d, v_d[pick]])
    e_cents = np.concatenate([v_cents, rng.integers(5, 201, size=n_un) * 100])
    e_cash = np.concatenate([is_cash, np.ones(n_un, bool)])
    e_solo = np.concatenate([solo, v_inv.size + 1 + np.arange(n_un)])

    # payment ids: cash events sharing (date, customer, solo) form one payment, numbered in
    # date order; credit notes are numbered in date order on their own
    order = np.lexsort((e_inv, e_solo, e_cust, ~e_cash, e_d))
    e_inv, e_cust, e_d, e_cents, e_cash, e_solo = (a[order] for a in (e_inv, e_cust, e_d, e_cents, e_cash, e_solo))
    new_doc = np.ones(e_d.size, bool)
    new_doc[1:] = ~((e_d[1:] == e_d[:-1]) & (e_cust[1:] == e_cust[:-1]) & (e_solo[1:] == e_solo[:-1])
                    & e_cash[1:] & e_cash[:-1])
    new_doc[~e_cash] = True
    pay_no = np.cumsum(new_doc & e_cash)
    cm_no = np.cumsum(~e_cash)
    pay_ids = _ids("PMT-", pay_no, 6)
    cm_ids = _ids("CM-", cm_no, 5)
    payment_id = pc.if_else(pa.array(e_cash), pay_ids, cm_ids)
    payments = pd.DataFrame({
        S.Payments.payment_id: _pd(payment_id),
        S.Payments.customer_id: _pd(_take(ids_pa, e_cust)),
        S.Payments.payment_date: cal.to_datetime(e_d),
        S.Payments.amount: e_cents / 100.0,
        S.Payments.invoice_id: _pd(_take(invoice_ids, np.maximum(e_inv, 0), e_inv < 0)),
        S.Payments.kind: _pd(_take(pa.array([S.KIND_CREDIT, S.KIND_PAYMENT]), e_cash.astype(np.int64))),
        S.Payments.currency: CURRENCY,
        S.Payments.source: _pd(_ids("generated:", np.arange(1, e_d.size + 1), 0)),
    })

    # ---- customers (ground truth)
    paid_mask = paid_d != _NEVER
    obs = pd.Series((paid_d - inv_d)[paid_mask]).groupby(cust[paid_mask]).median()
    observed = np.full(n_customers, np.nan)
    observed[obs.index.to_numpy()] = obs.to_numpy()
    first_inv = np.full(n_customers, np.iinfo(np.int64).max)
    np.minimum.at(first_inv, cust, inv_d)
    last_inv = np.full(n_customers, _NEVER, dtype=np.int64)
    np.maximum.at(last_inv, cust, inv_d)
    customers = pd.DataFrame({
        S.Invoices.customer_id: c["ids"],
        S.Invoices.customer_name: c["names"],
        "archetype": np.asarray(ARCHETYPES, dtype=object)[arch],
        "terms_days": c["terms"],
        "mu": c["mu"],
        "sigma": c["sigma"],
        "median_days_to_pay": np.exp(c["mu"]),
        "p80_days_to_pay": p80,
        "observed_median_days_to_pay": observed,
        "shock_date": cal.to_datetime(c["shock"]),
        "ghost_date": cal.to_datetime(c["ghost"]),
        "drift_start": cal.to_datetime(c["drift_start"]),
        "drift_days": c["drift_days"],
        "first_invoice_date": cal.to_datetime(first_inv),
        "last_invoice_date": cal.to_datetime(last_inv),
        "pay_run_pattern": c["pattern"],
        "pay_run_day": c["run_day"],
        "invoices_per_month": c["ipm"],
        "n_invoices": np.bincount(cust, minlength=n_customers),
        "n_paid": np.bincount(cust[paid_mask], minlength=n_customers),
    })
    start_ts = pd.Timestamp(cal.to_datetime(np.array([start_d]))[0])
    return SampleLedger(invoices=invoices, payments=payments, customers=customers,
                        start=start_ts, end=end_ts, seed=seed)
