"""How long each customer takes to pay: censored days-to-pay distributions.

The model
---------
For each customer, the time an invoice takes to be paid is a random variable ``T`` (days
from invoice date to the date its balance reached zero). Open invoices are right-censored
at their age. Invoices paid on their invoice date (``T = 0``) are common, so every
distribution here describes the **shifted** time ``T + shift`` (``shift = 1`` day by
default, :data:`DEFAULT_SHIFT`): ``days_to_pay = 0`` is modelled as 1, ``days_to_pay = 29``
as 30. Quantiles are shifted back (and clipped at 0). Anyone re-fitting our numbers with
another library must apply the same shift (the tests do so for scipy).

Two families, both *location-scale on the log of the shifted time* ``y = log(T + shift)``:

- log-normal: ``y = mu + sigma * Z``, ``Z`` standard normal (scipy ``lognorm(s=sigma,
  scale=exp(mu))``);
- Weibull: ``y = log(scale) + (1/shape) * W``, ``W`` standard minimum-Gumbel (scipy
  ``weibull_min(c=shape, scale=scale)``).

Per-customer censored maximum likelihood, all customers at once
---------------------------------------------------------------
With ``z = gamma * y - beta`` (Olsen's parametrisation: ``gamma = 1/sigma``, ``beta =
mu/sigma``) the log-likelihood of an event (``log gamma + log f(z)``) and of a censored
observation (``log S(z)``) are both concave in ``(beta, gamma)`` for the normal and the
Gumbel, so Newton's method with step halving converges to the unique maximum. Each
iteration computes per-observation derivatives once and sums them per customer with
``np.bincount``; each customer's 2x2 Newton system is solved in closed form. No Python
loop runs over customers.

A finite maximum exists only when a customer has at least one paid invoice, and either two
different paid durations or an open invoice older than its paid one(s). Otherwise the
per-customer ("raw") estimate is reported as NaN.

Empirical-Bayes shrinkage toward the portfolio
----------------------------------------------
A customer with two invoices should get a sensible answer, so the parameters used for
predictions are shrunk toward the portfolio in two steps.

1. **Spread** (``sigma``, or ``1/shape`` for the Weibull), as limma's ``squeezeVar``
   (Smyth 2004): a customer's squared spread ``s2 = b_raw**2 * n/(n-1)`` on ``d = n - 1``
   degrees of freedom (``n`` paid invoices) is pooled with the portfolio's ``s0**2`` on
   ``d0`` degrees of freedom, ``b**2 = (d0 * s0**2 + d * s2) / (d0 + d)``; ``d0`` and
   ``s0`` are estimated by the method of moments on ``log s2`` across customers.
   ``sigma_weight = d / (d0 + d)``; customers with one paid invoice or no finite raw fit
   get ``s0`` (weight 0).
2. **Location** (``mu``, or ``log(scale)``): with the spread fixed at step 1, the
   customer's own location ``u_own`` is the censored MLE (a 1-D Newton problem, defined
   whenever the customer has a paid invoice), with sampling variance ``v = b**2 / n_eff``
   where ``n_eff`` is the Fisher information in units of one uncensored observation (each
   paid invoice counts about 1, an open one between 0 and 1). Normal-normal empirical Bayes
   with the between-customer variance ``A`` by the DerSimonian-Laird method of moments:

   ``u = m + w * (u_own - m)``,  ``w = A / (A + v) = n_eff / (n_eff + b**2 / A)``

   i.e. the familiar ``n / (n + k)`` with ``k = b**2 / A``. ``w`` is ``shrinkage_weight``.

Customers without a paid invoice get the portfolio (``shrinkage_weight = 0``): the
portfolio parametric distribution ``(m, s0)`` or, with ``fallback="km"`` (default), the
portfolio Kaplan-Meier curve, continued beyond its well-supported range by the parametric
portfolio tail.

The family is chosen by AIC at portfolio level: the sum over customers of the
log-likelihood (on the days-to-pay scale, censoring included) at the shrunk parameters,
with ``k = 2 * (customers with an own fit) + 2``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special
from sklearn.base import BaseEstimator

from ..errors import InputError, ParameterError
from ..schema import CustomerWindows, Durations, OpenInvoiceOutlook
from .durations import _as_timestamp

#: days added to days-to-pay before fitting (a same-day payment is modelled as 1 day)
DEFAULT_SHIFT = 1.0
FAMILIES = ("lognormal", "weibull")
_EULER = 0.5772156649015329
_LOG_2PI = float(np.log(2.0 * np.pi))
_DAY = pd.Timedelta(days=1)


# --------------------------------------------------------------------------------------
# standard distributions of z (location-scale on the log scale)
# --------------------------------------------------------------------------------------
def _logpdf_std(family: str, z: np.ndarray) -> np.ndarray:
    if family == "lognormal":
        return -0.5 * z * z - 0.5 * _LOG_2PI
    with np.errstate(over="ignore"):
        return z - np.exp(z)


def _logsf_std(family: str, z: np.ndarray) -> np.ndarray:
    if family == "lognormal":
        return special.log_ndtr(-z)
    with np.errstate(over="ignore"):
        return -np.exp(z)


def _isf_std_log(family: str, log_s: np.ndarray) -> np.ndarray:
    """z such that log S(z) = log_s."""
    if family == "lognormal":
        return -special.ndtri_exp(log_s)
    return np.log(-log_s)


def _derivs(family: str, z: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivative in z of log f(z) (events) or log S(z) (censored)."""
    if family == "lognormal":
        hazard = np.exp(-0.5 * z * z - 0.5 * _LOG_2PI - special.log_ndtr(-z))  # inverse Mills
        d1 = np.where(event, -z, -hazard)
        d2 = np.where(event, -1.0, -hazard * (hazard - z))
        return d1, d2
    with np.errstate(over="ignore"):
        ez = np.exp(z)
    d1 = np.where(event, 1.0 - ez, -ez)
    return d1, -ez


def _obs_loglik(family, z, gamma_obs, event, y):
    """Per-observation log-likelihood on the (shifted) time scale: Jacobian included."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ev = np.log(gamma_obs) + _logpdf_std(family, z) - y
    return np.where(event, ev, _logsf_std(family, z))


def _derivs_split(family: str, z: np.ndarray, cens: np.ndarray, cache=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_derivs` with the censored positions given as indices (``cens``).

    Element by element the same numbers as :func:`_derivs`; the inverse Mills ratio of the
    log-normal (the costly part) is computed for the censored observations only. ``cache``
    is what :func:`_loglik_split` computed at the same ``z`` (``log S`` of the censored
    observations for the log-normal, ``exp(z)`` for the Weibull): the same values, not
    computed again.
    """
    if family == "lognormal":
        d1 = np.negative(z)
        d2 = np.full(len(z), -1.0)
        if len(cens):
            zc = z[cens]
            log_sf = special.log_ndtr(-zc) if cache is None else cache
            hazard = np.exp(-0.5 * zc * zc - 0.5 * _LOG_2PI - log_sf)
            d1[cens] = -hazard
            d2[cens] = -hazard * (hazard - zc)
        return d1, d2
    if cache is None:
        with np.errstate(over="ignore"):
            ez = np.exp(z)
    else:
        ez = cache
    d1 = np.subtract(1.0, ez)
    if len(cens):
        d1[cens] = -ez[cens]
    return d1, np.negative(ez)


def _obs_loglik_split(family, z, log_gamma_obs, y, cens):
    """:func:`_obs_loglik` with the censored positions given as indices and ``log(gamma)``.

    Same numbers element by element (``log_gamma_obs`` is ``log(gamma)`` per group, gathered
    per observation); the survival term is computed for the censored observations only.
    """
    return _loglik_split(family, z, log_gamma_obs, y, cens)[0]


def _loglik_split(family, z, log_gamma_obs, y, cens):
    """:func:`_obs_loglik_split` and the cache :func:`_derivs_split` can reuse at this ``z``.

    The operations of ``log_gamma_obs + _logpdf_std(family, z) - y`` done in place, in the
    same order (the same numbers); the Weibull's ``exp(z)`` is computed once for the density
    and survival terms.
    """
    if family == "lognormal":
        out = np.multiply(z, -0.5)
        out *= z
        out -= 0.5 * _LOG_2PI
        cache = special.log_ndtr(-z[cens]) if len(cens) else None
    else:
        with np.errstate(over="ignore"):
            cache = np.exp(z)
        out = np.subtract(z, cache)
    out += log_gamma_obs
    out -= y
    if len(cens):
        out[cens] = cache if family == "lognormal" else -cache[cens]
    return out, cache


class _Rows:
    """The observations of a subset of groups, in their original order (compacted arrays)."""

    __slots__ = ("y", "event", "grp", "cens")

    def __init__(self, y, event, grp):
        self.y, self.event, self.grp = y, event, grp
        self.cens = np.flatnonzero(~event)

    def subset(self, keep_groups: np.ndarray) -> "_Rows":
        keep = keep_groups[self.grp]
        return _Rows(self.y[keep], self.event[keep], self.grp[keep])

    def z(self, beta, gamma):
        """``gamma[grp] * y - beta[grp]`` per observation."""
        z = gamma[self.grp]
        z *= self.y
        z -= beta[self.grp]
        return z

    def loglik(self, family, beta, gamma):
        return self.loglik_z(family, beta, gamma)[0]

    def loglik_z(self, family, beta, gamma):
        """Per-observation log-likelihood, ``z`` and the :func:`_loglik_split` cache."""
        z = self.z(beta, gamma)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_g = np.log(gamma)
        out, cache = _loglik_split(family, z, log_g[self.grp], self.y, self.cens)
        return out, z, cache


# --------------------------------------------------------------------------------------
# vectorised Newton on all groups at once
# --------------------------------------------------------------------------------------
def _newton(family, y, event, grp, n_groups, beta, gamma, active, fix_gamma=False,
            max_iter=200, tol=1e-13, gamma_max=1e4):
    """Maximise each group's censored log-likelihood in Olsen's (beta, gamma).

    Returns beta, gamma, loglik per group, and a converged flag. Groups not ``active`` are
    left untouched. ``fix_gamma`` optimises beta only.

    Speed: the observations of the groups still being optimised are kept in compacted
    arrays (original order, so every per-group ``np.bincount`` sum adds the same numbers in
    the same order as over the full arrays), re-compacted whenever groups drop out; a few
    groups that need many iterations then cost only their own observations.
    """
    beta = beta.astype(float).copy()
    gamma = gamma.astype(float).copy()
    active = active.copy()
    converged = np.zeros(n_groups, dtype=bool)
    n_ev = np.bincount(grp, weights=event.astype(float), minlength=n_groups)
    ll = np.full(n_groups, np.nan)
    rows = _Rows(y, event, grp).subset(active)
    obs_ll, z_at, cache_at = rows.loglik_z(family, beta, gamma)
    ll[active] = np.bincount(rows.grp, weights=obs_ll, minlength=n_groups)[active]
    n_active = int(active.sum())
    for _ in range(max_iter):
        if not n_active:
            break
        yo, go = rows.y, rows.grp
        # z (and the costly part of the derivatives) at the current point were computed by
        # the log-likelihood evaluation that accepted it, on these same rows, whenever
        # possible: the same numbers, not computed again
        if z_at is None:
            z, cache = rows.z(beta, gamma), None
        else:
            z, cache = z_at, cache_at
        d1, d2 = _derivs_split(family, z, rows.cens, cache)
        z = z_at = cache = cache_at = None
        g_b = -np.bincount(go, weights=d1, minlength=n_groups)
        h_bb = np.bincount(go, weights=d2, minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            if fix_gamma:
                s_b = -g_b / h_bb
                s_g = np.zeros(n_groups)
                decrement = g_b * s_b
            else:
                g_g = np.bincount(go, weights=np.multiply(d1, yo, out=d1), minlength=n_groups) + n_ev / gamma
                d2y = np.multiply(d2, yo, out=d2)
                h_bg = -np.bincount(go, weights=d2y, minlength=n_groups)
                h_gg = np.bincount(go, weights=np.multiply(d2y, yo, out=d2y), minlength=n_groups) - n_ev / gamma**2
                det = h_bb * h_gg - h_bg * h_bg
                s_b = -(h_gg * g_b - h_bg * g_g) / det
                s_g = -(h_bb * g_g - h_bg * g_b) / det
                decrement = g_b * s_b + g_g * s_g
        bad = ~np.isfinite(s_b) | ~np.isfinite(s_g)
        s_b[bad | ~active] = 0.0
        s_g[bad | ~active] = 0.0
        done = active & ((decrement < tol) | bad)
        converged |= done & ~bad
        # step halving: accept the first step length that does not lower the log-likelihood
        step = np.where(active & ~done, 1.0, 0.0)
        pending = step > 0
        n_pending = int(pending.sum())
        prow = rows.subset(pending) if n_pending < n_active else rows
        prow0, n_pending0 = prow, n_pending
        first = True
        for _ in range(60):
            if not n_pending:
                break
            b_try = np.where(pending, beta + step * s_b, beta)
            g_try = np.where(pending, gamma + step * s_g, gamma)
            ok_g = g_try > 0
            ll_try = np.full(n_groups, -np.inf)
            obs_ll, z_try, cache_try = prow.loglik_z(family, b_try, g_try)
            part = np.bincount(prow.grp, weights=obs_ll, minlength=n_groups)
            ll_try[pending] = part[pending]
            accept = pending & ok_g & np.isfinite(ll_try) & (ll_try >= ll - 1e-12 * (1 + np.abs(ll)))
            if first:
                # a full Newton step whose predicted gain is within the rounding of a sum
                # over the group's observations is rejected by noise, not by the curve:
                # the group is at its optimum. (The portfolio curve sums millions of
                # terms; halving such a step 60 times each iteration stalled the fit.)
                noise = pending & ~accept & (decrement < 2e-10 * (1 + np.abs(ll)))
                if noise.any():
                    converged |= noise
                    done |= noise
                    pending &= ~noise
            if first and np.array_equal(accept, pending):
                # every pending group took the full step: z on prow0's rows is the new point's
                z_at, cache_at = z_try, cache_try
            first = False
            z_try = cache_try = obs_ll = None
            beta = np.where(accept, b_try, beta)
            gamma = np.where(accept, g_try, gamma)
            ll = np.where(accept, ll_try, ll)
            pending &= ~accept
            step = np.where(pending, step / 2, step)
            left = int(pending.sum())
            if left and left < n_pending:
                prow = prow.subset(pending)
            n_pending = left
        # groups whose step could not be taken are as good as we can get
        converged |= pending
        active &= ~done & ~pending & (gamma < gamma_max)
        left = int(active.sum())
        if left and left < n_active:
            # usually the groups that took a step: their rows are compacted already
            rows = prow0 if left == n_pending0 else rows.subset(active)
        if z_at is not None and not (left == n_pending0 and rows is prow0):
            z_at = cache_at = None  # computed on other rows than the next iteration's
        n_active = left
    return beta, gamma, ll, converged


def _group_summaries(y, event, grp, n_groups):
    n_ev = np.bincount(grp, weights=event.astype(float), minlength=n_groups)
    n_obs = np.bincount(grp, minlength=n_groups).astype(float)
    ev_max = np.full(n_groups, -np.inf)
    ev_min = np.full(n_groups, np.inf)
    ce_max = np.full(n_groups, -np.inf)
    np.maximum.at(ev_max, grp[event], y[event])
    np.minimum.at(ev_min, grp[event], y[event])
    np.maximum.at(ce_max, grp[~event], y[~event])
    estimable = (n_ev >= 1) & ((ev_max > ev_min) | (ce_max > ev_max))
    return n_ev, n_obs - n_ev, estimable


def _initial(family, y, event, grp, n_groups, n_ev):
    """Starting (beta, gamma): per-group mean of log paid durations, pooled spread."""
    sum_y = np.bincount(grp, weights=np.where(event, y, 0.0), minlength=n_groups)
    all_mean = np.bincount(grp, weights=y, minlength=n_groups) / np.maximum(np.bincount(grp, minlength=n_groups), 1)
    mean = np.where(n_ev > 0, sum_y / np.maximum(n_ev, 1), all_mean)
    resid = (y - mean[grp])[event]
    dof = event.sum() - (n_ev > 0).sum()
    sd = float(np.sqrt(np.sum(resid**2) / dof)) if dof > 0 else 0.0
    if not np.isfinite(sd) or sd <= 1e-3:
        sd = float(np.std(y)) if np.std(y) > 1e-3 else 0.5
    if family == "lognormal":
        b0, u0 = sd, mean
    else:
        b0 = sd * np.sqrt(6.0) / np.pi
        u0 = mean + _EULER * b0
    gamma0 = np.full(n_groups, 1.0 / b0)
    return u0 * gamma0, gamma0


def _check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ParameterError(f"unknown distribution family {family!r}; expected one of {list(FAMILIES)}")
    return family


def _to_family_params(family, u, b):
    """(location, scale) on the log scale -> named parameters."""
    if family == "lognormal":
        return {"mu": u, "sigma": b}
    return {"shape": 1.0 / b, "scale": np.exp(u)}


def fit_censored(durations, event, groups=None, family="lognormal") -> pd.DataFrame:
    """Censored maximum-likelihood fit of a log-normal or Weibull per group, vectorised.

    Equivalent to ``scipy.stats.lognorm.fit(CensoredData(...), floc=0)`` (or
    ``weibull_min``) run separately on each group, but fitted for all groups at once by
    Newton's method on arrays (see the module notes). The durations are used as given:
    they must be > 0 (the :class:`DaysToPayModel` adds its ``shift`` first).

    Parameters
    ----------
    durations : array-like of float
        Observed (event) or censored times, > 0.
    event : array-like of bool
        True when the time is an observed event, False when right-censored.
    groups : array-like, optional
        Group label of each observation; one group when omitted.
    family : {"lognormal", "weibull"}

    Returns
    -------
    pandas.DataFrame
        One row per group (in order of first appearance) with columns

        - ``group`` : the label
        - ``n_events``, ``n_censored`` : int
        - ``mu``, ``sigma`` (log-normal) or ``shape``, ``scale`` (Weibull): the MLE; NaN
          when the group has no finite MLE (``estimable`` False)
        - ``loglik`` : maximised log-likelihood (density terms for events, survival terms
          for censored observations; same value as ``-dist.nnlf`` in scipy)
        - ``estimable`` : bool, a finite MLE exists
        - ``converged`` : bool, Newton's method met its tolerance
    """
    family = _check_family(family)
    t = np.asarray(durations, dtype=float)
    ev = np.asarray(event, dtype=bool)
    if t.shape != ev.shape:
        raise InputError("durations and event must have the same length")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise InputError(
            "durations must be finite and greater than 0",
            hint="Add a shift (e.g. days_to_pay + 1) to same-day payments before fitting.",
        )
    if groups is None:
        codes, labels = np.zeros(len(t), dtype=np.int64), pd.Index([0])
    else:
        codes, labels = pd.factorize(pd.Series(groups).reset_index(drop=True), sort=False)
        codes = codes.astype(np.int64)
    n_groups = len(labels)
    y = np.log(t)
    n_ev, n_ce, estimable = _group_summaries(y, ev, codes, n_groups)
    beta0, gamma0 = _initial(family, y, ev, codes, n_groups, n_ev)
    beta, gamma, ll, conv = _newton(family, y, ev, codes, n_groups, beta0, gamma0, estimable)
    u = np.where(estimable, beta / gamma, np.nan)
    b = np.where(estimable, 1.0 / gamma, np.nan)
    out = pd.DataFrame({"group": labels, "n_events": n_ev.astype(np.int64), "n_censored": n_ce.astype(np.int64)})
    for name, val in _to_family_params(family, u, b).items():
        out[name] = val
    out["loglik"] = np.where(estimable, ll, np.nan)
    out["estimable"] = estimable
    out["converged"] = conv & estimable
    return out


# --------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------
def kaplan_meier(durations, event) -> pd.DataFrame:
    """Product-limit (Kaplan-Meier) survival curve.

    Ties: at a time with both events and censorings, the censored subjects count as at
    risk for the events (the usual convention, as in lifelines and R's ``survival``).

    Parameters
    ----------
    durations : array-like of float
        Observed or censored times (>= 0).
    event : array-like of bool
        True for an observed event.

    Returns
    -------
    pandas.DataFrame
        One row per distinct time, ascending, with columns ``t``, ``n_at_risk`` (subjects
        with duration >= t), ``events``, ``censored`` and ``survival`` (S just after t).

    Examples
    --------
    >>> kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
         t  n_at_risk  events  censored  survival
    0  1.0          5       1         0       0.8
    1  2.0          4       1         1       0.6
    2  3.0          2       1         0       0.3
    3  4.0          1       0         1       0.3
    """
    t = np.asarray(durations, dtype=float)
    ev = np.asarray(event, dtype=bool)
    if t.shape != ev.shape:
        raise InputError("durations and event must have the same length")
    times, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=ev.astype(float), minlength=len(times)).astype(np.int64)
    total = np.bincount(inverse, minlength=len(times)).astype(np.int64)
    at_risk = total[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - events / at_risk, 1.0)
    return pd.DataFrame(
        {
            "t": times,
            "n_at_risk": at_risk,
            "events": events,
            "censored": total - events,
            "survival": np.cumprod(factor),
        }
    )


# --------------------------------------------------------------------------------------
# shrinkage helpers
# --------------------------------------------------------------------------------------
def _trigamma_inverse(x: float) -> float:
    """Solve trigamma(y) = x for y > 0 (Newton, as limma's trigammaInverse)."""
    if x > 1e7:
        return 1.0 / np.sqrt(x)
    if x < 1e-6:
        return 1.0 / x
    y = 0.5 + 1.0 / x
    for _ in range(50):
        tri = special.polygamma(1, y)
        dif = tri * (1.0 - tri / x) / special.polygamma(2, y)
        y += dif
        if -dif / y < 1e-8:
            break
    return float(y)


def _squeeze_var(s2: np.ndarray, dof: np.ndarray) -> tuple[float, float]:
    """Method-of-moments prior (d0, s0^2) for variances s2 on dof degrees of freedom (Smyth 2004)."""
    ok = (dof > 0) & np.isfinite(s2) & (s2 > 0)
    if ok.sum() < 3:
        return np.inf, np.nan
    d = dof[ok]
    e = np.log(s2[ok]) - special.digamma(d / 2) + np.log(d / 2)
    e_mean = float(e.mean())
    excess = float(np.var(e, ddof=1) - np.mean(special.polygamma(1, d / 2)))
    if excess <= 0:
        return np.inf, float(np.exp(e_mean))
    d0 = 2.0 * _trigamma_inverse(excess)
    s0_2 = float(np.exp(e_mean + special.digamma(d0 / 2) - np.log(d0 / 2)))
    return d0, s0_2


def _dersimonian_laird(est: np.ndarray, var: np.ndarray) -> tuple[float, float]:
    """Between-group variance A (DerSimonian-Laird) and the precision-weighted mean."""
    w = 1.0 / var
    if len(est) < 2:
        return 0.0, float(np.sum(w * est) / np.sum(w)) if len(est) else np.nan
    m_w = np.sum(w * est) / np.sum(w)
    q = np.sum(w * (est - m_w) ** 2)
    denom = np.sum(w) - np.sum(w**2) / np.sum(w)
    a = max(0.0, (q - (len(est) - 1)) / denom) if denom > 0 else 0.0
    wa = 1.0 / (a + var)
    return float(a), float(np.sum(wa * est) / np.sum(wa))


# --------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------
class DaysToPayModel(BaseEstimator):
    """Per-customer days-to-pay distributions with censoring and shrinkage.

    Parameters
    ----------
    distribution : {"auto", "lognormal", "weibull"}, default "auto"
        Family; "auto" fits both and keeps the lower portfolio AIC.
    shrinkage : bool, default True
        Shrink each customer toward the portfolio (empirical Bayes, see the module notes).
        False uses each customer's own fit (raw MLE; the portfolio where none exists).
    window_quantile : float, default 0.8
        Quantile that defines a customer's usual window (``window_days`` in
        :meth:`windows`); the default matches ``Settings().behaviour.window_quantile``.
    min_paid_for_own_fit : int, default 1
        Customers with fewer paid invoices get the portfolio (shrinkage weight 0).
    shift : float, default 1.0
        Days added to days-to-pay before fitting (same-day payments are 0 days).
    fallback : {"km", "portfolio"}, default "km"
        Distribution of customers without usable history (and of unknown customers): the
        portfolio Kaplan-Meier curve (with the parametric portfolio tail beyond the last
        time at which ``km_min_at_risk`` invoices are still at risk), or the parametric
        portfolio distribution.
    km_min_at_risk : int, default 20
        See ``fallback``.

    Attributes
    ----------
    distribution_ : str
        "lognormal" or "weibull".
    aic_ : dict
        Portfolio AIC per fitted family.
    params_ : pandas.DataFrame
        One row per customer: ``customer_id``, ``n_paid``, ``n_open``, raw MLE
        (``mu_raw``/``sigma_raw`` or ``shape_raw``/``scale_raw``; NaN when no finite MLE),
        ``mu_own``/``scale_own`` (own location given the shrunk spread), shrunk parameters
        (``mu``/``sigma`` or ``shape``/``scale``), ``sigma_weight``, ``shrinkage_weight``,
        ``basis`` ("customer" or "portfolio").
    portfolio_params_ : dict
        Family parameters of the portfolio (the prior mean customer), plus
        ``between_var`` (A) and ``spread_dof`` (d0).
    km_ : pandas.DataFrame
        Portfolio Kaplan-Meier table of days-to-pay (see :func:`kaplan_meier`).
    """

    def __init__(self, distribution="auto", shrinkage=True, window_quantile=0.8, min_paid_for_own_fit=1,
                 shift=DEFAULT_SHIFT, fallback="km", km_min_at_risk=20):
        self.distribution = distribution
        self.shrinkage = shrinkage
        self.window_quantile = window_quantile
        self.min_paid_for_own_fit = min_paid_for_own_fit
        self.shift = shift
        self.fallback = fallback
        self.km_min_at_risk = km_min_at_risk

    # ---------------------------------------------------------------- fitting
    def _validate_params(self):
        if self.distribution not in ("auto",) + FAMILIES:
            raise ParameterError(
                f"distribution={self.distribution!r} is not known; use 'auto', 'lognormal' or 'weibull'"
            )
        if self.fallback not in ("km", "portfolio"):
            raise ParameterError(f"fallback={self.fallback!r} is not known; use 'km' or 'portfolio'")
        if not 0 < self.window_quantile < 1:
            raise ParameterError(f"window_quantile={self.window_quantile!r} must be between 0 and 1")
        if not self.shift > 0:
            raise ParameterError(f"shift={self.shift!r} must be greater than 0 days")

    @staticmethod
    def _read(durations: pd.DataFrame):
        needed = [Durations.customer_id, Durations.days_to_pay, Durations.paid]
        missing = [c for c in needed if c not in durations.columns]
        if missing:
            raise InputError(
                f"the durations table has no column(s) {missing}",
                hint="Build it with arinsights.behaviour.durations.compute_durations(invoices, payments, as_of).",
            )
        days = durations[Durations.days_to_pay].to_numpy(dtype=float)
        bad = ~np.isfinite(days) | (days < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"days_to_pay must be a number of days >= 0, found {days[row]!r}",
                row=row + 1, column=Durations.days_to_pay,
                hint="Recompute durations with compute_durations(); it never produces negative or missing values.",
            )
        paid = durations[Durations.paid]
        if paid.isna().any():
            row = int(np.flatnonzero(paid.isna().to_numpy())[0])
            raise InputError("paid flag is missing", row=row + 1, column=Durations.paid,
                             hint="paid must be True or False for every invoice.")
        cust = durations[Durations.customer_id]
        if cust.isna().any():
            row = int(np.flatnonzero(cust.isna().to_numpy())[0])
            raise InputError("customer_id is missing", row=row + 1, column=Durations.customer_id)
        codes, labels = pd.factorize(cust.reset_index(drop=True), sort=False)
        return days, paid.to_numpy(dtype=bool), codes.astype(np.int64), labels

    def _fit_family(self, family, y, event, grp, n_groups):
        """Raw MLE, two-step shrinkage and the portfolio, for one family."""
        n_ev, n_ce, estimable = _group_summaries(y, event, grp, n_groups)
        beta0, gamma0 = _initial(family, y, event, grp, n_groups, n_ev)
        beta, gamma, ll_raw, _ = _newton(family, y, event, grp, n_groups, beta0, gamma0, estimable)
        u_raw = np.where(estimable, beta / gamma, np.nan)
        b_raw = np.where(estimable, 1.0 / gamma, np.nan)

        # portfolio fit (all invoices pooled): the fallback spread when too few customers
        zero = np.zeros(len(y), dtype=np.int64)
        pb0, pg0 = _initial(family, y, event, zero, 1, np.array([event.sum()], dtype=float))
        pb, pg, _, _ = _newton(family, y, event, zero, 1, pb0, pg0, np.array([event.any()]))
        pooled_u, pooled_b = float(pb[0] / pg[0]), float(1.0 / pg[0])

        own = n_ev >= max(1, self.min_paid_for_own_fit)
        # step 1: spread
        dof = np.where(estimable & own, n_ev - 1.0, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = b_raw**2 * n_ev / (n_ev - 1.0)
        if self.shrinkage:
            d0, s0_2 = _squeeze_var(s2, dof)
            if not np.isfinite(s0_2):
                d0, s0_2 = np.inf, pooled_b**2
            if np.isinf(d0):
                b2 = np.full(n_groups, s0_2)
                w_b = np.zeros(n_groups)
            else:
                s2_use = np.where(dof > 0, s2, 0.0)
                b2 = (d0 * s0_2 + dof * s2_use) / (d0 + dof)
                w_b = dof / (d0 + dof)
        else:
            d0, s0_2 = np.inf, pooled_b**2
            use_raw = estimable & own
            b2 = np.where(use_raw, b_raw**2, s0_2)
            w_b = use_raw.astype(float)
        b = np.sqrt(b2)
        s0 = float(np.sqrt(s0_2))

        # step 2: own location given the spread
        gamma_fix = 1.0 / b
        start_u = np.where(np.isfinite(u_raw), u_raw, beta0 / gamma0)
        beta_own, _, _, _ = _newton(family, y, event, grp, n_groups, start_u * gamma_fix, gamma_fix, own,
                                    fix_gamma=True)
        u_own = np.where(own, beta_own / gamma_fix, np.nan)
        z = gamma_fix[grp] * y - beta_own[grp]
        _, d2 = _derivs(family, z, event)
        n_eff = np.bincount(grp, weights=-d2, minlength=n_groups)
        with np.errstate(divide="ignore"):
            v = np.where(own, b2 / n_eff, np.inf)
        if own.sum() == 0:
            a, m = 0.0, pooled_u
        else:
            a, m = _dersimonian_laird(u_own[own], v[own])
        if self.shrinkage:
            w_u = np.where(own, a / (a + v), 0.0) if a > 0 else np.zeros(n_groups)
            u = np.where(own, m + w_u * (np.nan_to_num(u_own) - m), m)
        else:
            w_u = own.astype(float)
            u = np.where(own, np.where(estimable, u_raw, u_own), pooled_u)
            m, s0 = pooled_u, pooled_b
            b = np.where(own & estimable, b, pooled_b)

        # portfolio log-likelihood at the parameters used, on the days scale
        g_use = 1.0 / b
        ll = np.bincount(grp, weights=_obs_loglik(family, g_use[grp] * y - u[grp] * g_use[grp], g_use[grp],
                                                  event, y), minlength=n_groups)
        k = 2 * int(own.sum()) + 2
        aic = float(2 * k - 2 * ll.sum())
        return {
            "family": family, "n_paid": n_ev.astype(np.int64), "n_open": n_ce.astype(np.int64),
            "u_raw": u_raw, "b_raw": b_raw, "u_own": u_own, "u": u, "b": b, "w_b": w_b, "w_u": w_u,
            "own": own, "m": float(m), "s0": s0, "a": float(a), "d0": float(d0), "aic": aic,
            "loglik": float(ll.sum()),
        }

    def fit(self, durations: pd.DataFrame) -> "DaysToPayModel":
        """Fit every customer's days-to-pay distribution at once.

        Parameters
        ----------
        durations : pandas.DataFrame
            A durations table (:func:`~arinsights.behaviour.durations.compute_durations`);
            uses ``customer_id``, ``days_to_pay`` and ``paid``.

        Returns
        -------
        DaysToPayModel
            self, fitted.
        """
        self._validate_params()
        days, event, grp, labels = self._read(durations)
        if len(days) == 0:
            raise InputError("the durations table is empty: there is nothing to learn payment habits from")
        if not event.any():
            raise InputError(
                "no invoice in the durations table has been paid yet, so payment habits cannot be learned",
                hint="Use an as_of date later than the first payments, or a longer history.",
            )
        y = np.log(days + self.shift)
        n_groups = len(labels)
        families = FAMILIES if self.distribution == "auto" else (self.distribution,)
        fits = {fam: self._fit_family(fam, y, event, grp, n_groups) for fam in families}
        self.aic_ = {fam: f["aic"] for fam, f in fits.items()}
        self.distribution_ = min(self.aic_, key=self.aic_.get)
        fit = fits[self.distribution_]
        self._fit = fit
        self.customers_ = pd.Index(labels)
        self.km_ = kaplan_meier(days, event)

        fam = self.distribution_
        raw = _to_family_params(fam, fit["u_raw"], fit["b_raw"])
        shrunk = _to_family_params(fam, fit["u"], fit["b"])
        params = pd.DataFrame({
            Durations.customer_id: pd.Series(labels),
            CustomerWindows.n_paid: fit["n_paid"],
            CustomerWindows.n_open: fit["n_open"],
        })
        for name, val in raw.items():
            params[f"{name}_raw"] = val
        params["mu_own" if fam == "lognormal" else "scale_own"] = (
            fit["u_own"] if fam == "lognormal" else np.exp(fit["u_own"]))
        for name, val in shrunk.items():
            params[name] = val
        params["sigma_weight"] = fit["w_b"]
        params[CustomerWindows.shrinkage_weight] = fit["w_u"]
        params["basis"] = np.where(fit["own"], "customer", "portfolio")
        self.params_ = params
        portfolio = _to_family_params(fam, np.array(fit["m"]), np.array(fit["s0"]))
        self.portfolio_params_ = {k: float(v) for k, v in portfolio.items()}
        self.portfolio_params_.update(between_var=fit["a"], spread_dof=fit["d0"])
        self._prepare_fallback()
        return self

    # ---------------------------------------------------------------- evaluation
    def _check_fitted(self):
        if not hasattr(self, "params_"):
            raise ParameterError("this DaysToPayModel is not fitted yet; call fit(durations) first")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "params_")

    def _prepare_fallback(self):
        km = self.km_
        ok = (km["n_at_risk"].to_numpy() >= self.km_min_at_risk) & (km["survival"].to_numpy() > 0)
        if self.fallback == "km" and ok.any():
            j = int(np.flatnonzero(ok)[-1])
            self._km_splice = (float(km["t"].iloc[j]), float(km["survival"].iloc[j]))
        else:
            self._km_splice = None

    def _param_logsf(self, u, b, t):
        """log S(t) of the parametric days-to-pay distribution (t in days, shift applied)."""
        z = (np.log(np.asarray(t, dtype=float) + self.shift) - u) / b
        return _logsf_std(self.distribution_, z)

    def _param_isf(self, u, b, log_s):
        """days t with log S(t) = log_s (clipped at 0)."""
        z = _isf_std_log(self.distribution_, log_s)
        return np.maximum(np.exp(u + b * z) - self.shift, 0.0)

    def _fallback_logsf(self, t):
        t = np.asarray(t, dtype=float)
        m, s0 = self._fit["m"], self._fit["s0"]
        if self._km_splice is None:
            return self._param_logsf(m, s0, t)
        t_s, s_s = self._km_splice
        km_t = self.km_["t"].to_numpy()
        km_s = self.km_["survival"].to_numpy()
        idx = np.searchsorted(km_t, t, side="right") - 1
        with np.errstate(divide="ignore"):
            step = np.where(idx < 0, 0.0, np.log(km_s[np.clip(idx, 0, None)]))
        tail = np.log(s_s) + self._param_logsf(m, s0, t) - self._param_logsf(m, s0, t_s)
        return np.where(t <= t_s, step, tail)

    def _fallback_isf(self, log_s):
        log_s = np.asarray(log_s, dtype=float)
        m, s0 = self._fit["m"], self._fit["s0"]
        if self._km_splice is None:
            return self._param_isf(m, s0, log_s)
        t_s, s_s = self._km_splice
        km_t = self.km_["t"].to_numpy()
        with np.errstate(divide="ignore"):
            km_ls = np.log(self.km_["survival"].to_numpy())
        # smallest KM time whose survival is <= target (KM survival is non-increasing)
        j = np.searchsorted(-km_ls, -log_s, side="left")
        in_km = log_s >= np.log(s_s)
        t_km = km_t[np.clip(j, 0, len(km_t) - 1)]
        tail_target = log_s - np.log(s_s) + self._param_logsf(m, s0, t_s)
        t_tail = self._param_isf(m, s0, np.minimum(tail_target, 0.0))
        return np.where(in_km, t_km, t_tail)

    def _lookup(self, customer_ids):
        """Per-id (u, b, uses_fallback) arrays."""
        ids = pd.Index(np.atleast_1d(np.asarray(customer_ids, dtype=object)))
        pos = self.customers_.get_indexer(ids)
        known = pos >= 0
        p = np.clip(pos, 0, None)
        fit = self._fit
        own = known & fit["own"][p]
        u = np.where(own, fit["u"][p], fit["m"])
        b = np.where(own, fit["b"][p], fit["s0"])
        return u, b, ~own

    def _logsf(self, customer_ids, t):
        u, b, fb = self._lookup(customer_ids)
        shape = np.broadcast_shapes(np.shape(np.atleast_1d(customer_ids)), np.shape(t))
        u, b, fb, t = (np.broadcast_to(x, shape) for x in (u, b, fb, np.asarray(t, dtype=float)))
        out = self._param_logsf(u, b, t)
        if fb.any():
            out = np.where(fb, self._fallback_logsf(t), out)
        return out

    def _isf(self, customer_ids, log_s):
        u, b, fb = self._lookup(customer_ids)
        shape = np.broadcast_shapes(np.shape(np.atleast_1d(customer_ids)), np.shape(log_s))
        u, b, fb, log_s = (np.broadcast_to(x, shape) for x in (u, b, fb, np.asarray(log_s, dtype=float)))
        out = self._param_isf(u, b, log_s)
        if fb.any():
            out = np.where(fb, self._fallback_isf(log_s), out)
        return out

    def survival(self, customer_ids, t) -> np.ndarray:
        """Probability that an invoice of each customer is still unpaid ``t`` days after issue.

        Parameters
        ----------
        customer_ids : scalar or array-like
            Customer ids; unknown customers (and customers without usable history) get the
            portfolio curve.
        t : float or array-like
            Days since the invoice date; broadcast against ``customer_ids``.

        Returns
        -------
        numpy.ndarray
            S(t) per element of the broadcast shape.
        """
        self._check_fitted()
        return np.exp(self._logsf(customer_ids, t))

    def windows(self) -> pd.DataFrame:
        """Each customer's usual payment window.

        Returns
        -------
        pandas.DataFrame
            One row per customer (:class:`~arinsights.schema.CustomerWindows`):
            ``customer_id``, ``n_paid``, ``n_open``, ``median_days``, ``p80_days``,
            ``p90_days``, ``window_days`` (quantile ``window_quantile``),
            ``shrinkage_weight``, ``basis`` ("customer": own history shrunk to the
            portfolio; "portfolio": no usable history), and the family parameters
            (``mu``, ``sigma`` or ``shape``, ``scale``).
        """
        self._check_fitted()
        ids = self.customers_.to_numpy()
        out = self.params_[[Durations.customer_id, CustomerWindows.n_paid, CustomerWindows.n_open]].copy()
        for col, q in ((CustomerWindows.median_days, 0.5), (CustomerWindows.p80_days, 0.8),
                       (CustomerWindows.p90_days, 0.9), ("window_days", self.window_quantile)):
            out[col] = self._isf(ids, np.full(len(ids), np.log1p(-q)))
        out[CustomerWindows.shrinkage_weight] = self.params_[CustomerWindows.shrinkage_weight].to_numpy()
        out["basis"] = self.params_["basis"].to_numpy()
        names = ("mu", "sigma") if self.distribution_ == "lognormal" else ("shape", "scale")
        for name in names:
            out[name] = self.params_[name].to_numpy()
        return out

    def outlook(self, durations: pd.DataFrame, as_of, horizons=(7, 30, 60)) -> pd.DataFrame:
        """Chance that each open invoice is paid within the next few days.

        For an invoice open at age ``a`` (days since issue), the probability of payment within
        the next ``h`` days is ``1 - S(a + h) / S(a)`` under the customer's distribution, and
        the expected pay date is ``as_of`` plus the conditional median remaining time
        (the ``r`` with ``S(a + r) = S(a) / 2``), rounded to whole days.

        Parameters
        ----------
        durations : pandas.DataFrame
            Durations table computed as of ``as_of``; only open invoices (``paid`` False)
            are scored.
        as_of : str, date or pandas.Timestamp
            The date the durations were computed as of.
        horizons : sequence of int, default (7, 30, 60)
            Days ahead; one ``p_pay_{h}`` column each.

        Returns
        -------
        pandas.DataFrame
            One row per open invoice (:class:`~arinsights.schema.OpenInvoiceOutlook`):
            ``invoice_id``, ``customer_id``, ``age``, ``p_pay_{h}`` for each horizon,
            ``median_remaining_days``, ``expected_pay_date``.
        """
        self._check_fitted()
        as_of = _as_timestamp(as_of)
        needed = [Durations.invoice_id, Durations.customer_id, Durations.invoice_date, Durations.paid,
                  Durations.age]
        missing = [c for c in needed if c not in durations.columns]
        if missing:
            raise InputError(f"the durations table has no column(s) {missing}",
                             hint="Build it with compute_durations(invoices, payments, as_of).")
        open_ = durations.loc[~durations[Durations.paid].to_numpy(dtype=bool)]
        age = open_[Durations.age].to_numpy(dtype=float)
        implied = (as_of - pd.to_datetime(open_[Durations.invoice_date])) / _DAY
        if len(open_) and np.nanmax(np.abs(implied.to_numpy(dtype=float) - age)) > 0.5:
            raise InputError(
                f"these durations were not computed as of {as_of.date()}: invoice ages do not match",
                column=Durations.age,
                hint="Call compute_durations(invoices, payments, as_of) with the same as_of as outlook().",
            )
        ids = open_[Durations.customer_id].to_numpy(dtype=object)
        ls_a = self._logsf(ids, age) if len(ids) else np.zeros(0)
        out = pd.DataFrame({
            OpenInvoiceOutlook.invoice_id: open_[Durations.invoice_id].reset_index(drop=True),
            OpenInvoiceOutlook.customer_id: open_[Durations.customer_id].reset_index(drop=True),
            OpenInvoiceOutlook.age: age,
        })
        for h in horizons:
            ls_h = self._logsf(ids, age + float(h)) if len(ids) else np.zeros(0)
            out[f"p_pay_{h}"] = np.clip(-np.expm1(np.minimum(ls_h - ls_a, 0.0)), 0.0, 1.0)
        t_half = self._isf(ids, ls_a - np.log(2.0)) if len(ids) else np.zeros(0)
        remaining = np.maximum(t_half - age, 0.0)
        out["median_remaining_days"] = remaining
        out[OpenInvoiceOutlook.expected_pay_date] = as_of + pd.to_timedelta(np.round(remaining), unit="D")
        return out


# --------------------------------------------------------------------------------------
# simulator
# --------------------------------------------------------------------------------------
def simulate_days_to_pay(n_invoices, *, family="lognormal", mu_mean=3.3, mu_sd=0.4, sigma_mean=0.45,
                         sigma_sd=0.2, shift=DEFAULT_SHIFT, history_days=365.0, as_of="2026-06-30",
                         terms_days=30, random_state=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate a durations table with known per-customer days-to-pay distributions.

    Customer ``g`` has log-scale location ``u_g ~ Normal(mu_mean, mu_sd)`` and spread
    ``b_g = sigma_mean * exp(sigma_sd * Normal(0, 1))``. For the log-normal,
    ``log(days_to_pay + shift) = u_g + b_g * Z``; for the Weibull, ``days_to_pay + shift ~
    Weibull(shape=1/b_g, scale=exp(u_g))``. Invoice dates are uniform over the
    ``history_days`` before ``as_of``; an invoice whose payment would fall after ``as_of`` is
    open (censored at its age), exactly as :func:`compute_durations` would report it.

    Parameters
    ----------
    n_invoices : array-like of int
        Number of invoices of each customer.
    family : {"lognormal", "weibull"}
    mu_mean, mu_sd, sigma_mean, sigma_sd : float
        Portfolio distribution of the customers' parameters (see above).
    shift : float
        The model's shift (days).
    history_days : float
        Invoices are issued uniformly in ``(as_of - history_days, as_of]``.
    as_of : date-like
    terms_days : int
        Due date = invoice date + terms.
    random_state : int or numpy.random.Generator, optional

    Returns
    -------
    durations : pandas.DataFrame
        Columns of :class:`~arinsights.schema.Durations` (amounts 100, open amount 100 when
        open), plus ``true_days_to_pay``.
    truth : pandas.DataFrame
        One row per customer: ``customer_id``, ``n_invoices``, ``mu`` and ``sigma`` (log
        location and spread; for the Weibull ``shape = 1/sigma``, ``scale = exp(mu)``),
        ``median_days`` (true median days-to-pay).
    """
    family = _check_family(family)
    rng = np.random.default_rng(random_state)
    n_inv = np.asarray(n_invoices, dtype=np.int64)
    n_cust = len(n_inv)
    width = max(5, len(str(n_cust)))
    cust_ids = np.array([f"C{i:0{width}d}" for i in range(n_cust)], dtype=object)
    u = rng.normal(mu_mean, mu_sd, n_cust)
    b = sigma_mean * np.exp(sigma_sd * rng.standard_normal(n_cust))
    grp = np.repeat(np.arange(n_cust), n_inv)
    n = len(grp)
    if family == "lognormal":
        w = rng.standard_normal(n)
        med_z = 0.0
    else:
        w = np.log(rng.standard_exponential(n))
        med_z = np.log(np.log(2.0))
    true_days = np.maximum(np.exp(u[grp] + b[grp] * w) - shift, 0.0)
    as_of_ts = pd.Timestamp(as_of)
    age = np.floor(rng.uniform(0.0, history_days, n))
    paid = true_days <= age
    invoice_date = as_of_ts - pd.to_timedelta(age, unit="D")
    days_to_pay = np.where(paid, true_days, age)
    durations = pd.DataFrame({
        Durations.invoice_id: [f"INV{i:08d}" for i in range(n)],
        Durations.customer_id: cust_ids[grp],
        Durations.invoice_date: invoice_date,
        Durations.due_date: invoice_date + pd.Timedelta(days=terms_days),
        Durations.amount: np.full(n, 100.0),
        Durations.open_amount: np.where(paid, 0.0, 100.0),
        Durations.paid: paid,
        Durations.days_to_pay: days_to_pay,
        Durations.days_late: np.where(paid, true_days - terms_days, np.nan),
        Durations.age: np.where(paid, np.nan, age),
        Durations.days_past_due: np.where(paid, np.nan, age - terms_days),
        "true_days_to_pay": true_days,
    })
    truth = pd.DataFrame({
        Durations.customer_id: cust_ids,
        "n_invoices": n_inv,
        "mu": u,
        "sigma": b,
        "median_days": np.maximum(np.exp(u + b * med_z) - shift, 0.0),
    })
    return durations, truth
