"""Tests for arinsights.behaviour.distributions.

Independent references: scipy.stats censored fits (``CensoredData``), scipy.stats survival
functions, hand-computed Kaplan-Meier and DerSimonian-Laird values, and simulate-and-recover
with known parameters (``simulate_days_to_pay``).
"""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from arinsights.behaviour.distributions import (
    DaysToPayModel,
    _dersimonian_laird,
    _squeeze_var,
    fit_censored,
    kaplan_meier,
    simulate_days_to_pay,
)
from arinsights.errors import InputError
from arinsights.schema import CustomerWindows, Durations, OpenInvoiceOutlook

AS_OF = "2026-06-30"


def _tight(func, x0, args=(), disp=0):
    """Nelder-Mead run to convergence, so scipy's answer is the MLE to many digits."""
    return optimize.fmin(func, x0, args=args, disp=0, xtol=1e-12, ftol=1e-14, maxiter=40000, maxfun=80000)


def _scipy_fit(family, t, e):
    dist = stats.lognorm if family == "lognormal" else stats.weibull_min
    c, _, scale = dist.fit(stats.CensoredData(uncensored=t[e], right=t[~e]), floc=0, optimizer=_tight)
    return (np.log(scale), c) if family == "lognormal" else (c, scale)


def _mixed_sample(seed=11, n_groups=6):
    rng = np.random.default_rng(seed)
    t, e, g = [], [], []
    for k in range(n_groups):
        n = 5 + 4 * k
        true = np.exp(rng.normal(3.0 + 0.1 * k, 0.3 + 0.05 * k, n))
        cens = rng.uniform(8, 60, n)
        t.append(np.minimum(true, cens))
        e.append(true <= cens)
        g.append(np.full(n, f"g{k}"))
    return np.concatenate(t), np.concatenate(e), np.concatenate(g)


# ---------------------------------------------------------------- Kaplan-Meier
def test_kaplan_meier_hand_computed_with_ties():
    # times 1,2,2,3,4,4,5 ; events 1,1,0,1,0,1,0 (a censored and an event tie at 2 and at 4)
    km = kaplan_meier([1, 2, 2, 3, 4, 4, 5], [1, 1, 0, 1, 0, 1, 0])
    # by hand: t=1: 7 at risk, 1 event -> 6/7
    #          t=2: 6 at risk (the censored one at 2 still at risk), 1 event -> 6/7*5/6 = 5/7
    #          t=3: 4 at risk, 1 event -> 5/7*3/4 = 15/28
    #          t=4: 3 at risk, 1 event -> 15/28*2/3 = 5/14 ; t=5: censored -> 5/14
    assert km["t"].tolist() == [1, 2, 3, 4, 5]
    assert km["n_at_risk"].tolist() == [7, 6, 4, 3, 1]
    assert km["events"].tolist() == [1, 1, 1, 1, 0]
    np.testing.assert_allclose(km["survival"], [6 / 7, 5 / 7, 15 / 28, 5 / 14, 5 / 14], rtol=1e-12)


def test_kaplan_meier_without_censoring_is_empirical_survival():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    km = kaplan_meier(x, np.ones_like(x, dtype=bool))
    expected = [np.mean(x > t) for t in km["t"]]  # 1 - ECDF
    np.testing.assert_allclose(km["survival"], expected, atol=1e-12)


# ---------------------------------------------------------------- per-group MLE oracle
@pytest.mark.parametrize("family", ["lognormal", "weibull"])
def test_fit_censored_matches_scipy_censoreddata(family):
    t, e, g = _mixed_sample()
    ours = fit_censored(t, e, g, family).set_index("group")
    assert ours["estimable"].all() and ours["converged"].all()
    assert (ours["n_censored"] > 0).sum() >= 4  # the oracle covers mixed censoring
    names = ("mu", "sigma") if family == "lognormal" else ("shape", "scale")
    dist = stats.lognorm if family == "lognormal" else stats.weibull_min
    for grp in np.unique(g):
        m = g == grp
        ref = _scipy_fit(family, t[m], e[m])
        got = ours.loc[grp, list(names)].to_numpy(dtype=float)
        np.testing.assert_allclose(got, ref, rtol=1e-3)
        # log-likelihood equals scipy's at our parameters (same Jacobian convention)
        args = (got[1], 0, np.exp(got[0])) if family == "lognormal" else (got[0], 0, got[1])
        ll = dist.logpdf(t[m & e], *args).sum() + dist.logsf(t[m & ~e], *args).sum()
        assert ours.loc[grp, "loglik"] == pytest.approx(ll, rel=1e-10)


def test_fit_censored_flags_groups_without_finite_mle():
    t = np.array([10.0, 10.0, 5.0, 20.0, 30.0, 7.0, 7.0, 40.0])
    e = np.array([True, True, False, False, False, True, True, False])
    g = np.array(["same_days", "same_days", "same_days", "all_open", "all_open", "longer_open", "longer_open",
                  "longer_open"])
    out = fit_censored(t, e, g).set_index("group")
    # two identical paid durations and an open one younger than them: sigma -> 0, no MLE
    assert not out.loc["same_days", "estimable"] and np.isnan(out.loc["same_days", "mu"])
    # nothing paid: no MLE
    assert not out.loc["all_open", "estimable"]
    # identical paid durations but an invoice open longer: finite MLE, equal to scipy's
    assert out.loc["longer_open", "estimable"]
    ref = _scipy_fit("lognormal", t[5:], e[5:])
    np.testing.assert_allclose(out.loc["longer_open", ["mu", "sigma"]].to_numpy(dtype=float), ref, rtol=1e-3)


def test_fit_censored_rejects_zero_durations():
    with pytest.raises(InputError, match="greater than 0"):
        fit_censored([0.0, 1.0], [True, True])


# ---------------------------------------------------------------- model: raw fit, shift
def _durations_frame(t, e, g):
    return pd.DataFrame({Durations.customer_id: g, Durations.days_to_pay: t, Durations.paid: e})


def test_model_raw_params_match_scipy_with_the_same_shift():
    t, e, g = _mixed_sample(seed=5)
    t = np.floor(t)  # whole days, including same-day payments (0 days)
    t[:3] = 0.0
    e[:3] = True
    model = DaysToPayModel(distribution="lognormal", shift=1.0).fit(_durations_frame(t, e, g))
    params = model.params_.set_index(Durations.customer_id)
    for grp in np.unique(g):
        m = g == grp
        ref_mu, ref_sigma = _scipy_fit("lognormal", t[m] + 1.0, e[m])  # the documented shift
        assert params.loc[grp, "mu_raw"] == pytest.approx(ref_mu, rel=1e-3)
        assert params.loc[grp, "sigma_raw"] == pytest.approx(ref_sigma, rel=1e-3)


def test_survival_and_outlook_match_scipy_distribution():
    d, _ = simulate_days_to_pay([40, 40, 3], random_state=2)
    model = DaysToPayModel(distribution="lognormal").fit(d)
    p = model.params_.set_index(Durations.customer_id)
    cid = p.index[0]
    ref = stats.lognorm(s=p.loc[cid, "sigma"], scale=np.exp(p.loc[cid, "mu"]))
    t = np.array([0.0, 5.0, 30.0, 90.0])
    np.testing.assert_allclose(model.survival(cid, t), ref.sf(t + 1.0), rtol=1e-10)
    # conditional payment probability and conditional median, checked with scipy directly
    a = 45.0
    out = model.outlook(pd.DataFrame({
        Durations.invoice_id: ["X"], Durations.customer_id: [cid],
        Durations.invoice_date: [pd.Timestamp(AS_OF) - pd.Timedelta(days=a)],
        Durations.paid: [False], Durations.age: [a]}), AS_OF)
    for h in (7, 30, 60):
        expected = 1 - ref.sf(a + h + 1) / ref.sf(a + 1)
        assert out[f"p_pay_{h}"].iloc[0] == pytest.approx(expected, rel=1e-9)
    r = optimize.brentq(lambda r: ref.sf(a + r + 1) - ref.sf(a + 1) / 2, 0, 1e4)
    assert out["median_remaining_days"].iloc[0] == pytest.approx(r, rel=1e-6)
    assert out[OpenInvoiceOutlook.expected_pay_date].iloc[0] == pd.Timestamp(AS_OF) + pd.Timedelta(days=round(r))


def test_conditional_probability_hand_case_exponential():
    """Weibull with shape 1 is exponential: memoryless, p_pay_h = 1 - exp(-h/scale) at any age."""
    d, truth = simulate_days_to_pay([4000], family="weibull", mu_mean=np.log(20), mu_sd=0, sigma_mean=1.0,
                                    sigma_sd=0, history_days=2000, random_state=3)
    model = DaysToPayModel(distribution="weibull", shrinkage=False).fit(d)
    shape, scale = model.params_.loc[0, ["shape", "scale"]]
    assert shape == pytest.approx(1.0, abs=0.05) and scale == pytest.approx(20.0, rel=0.05)
    # with the fitted values, the shift cancels only for shape exactly 1; use the formula directly
    ages = np.array([0.0, 10.0, 100.0])
    s = model.survival(np.repeat(model.params_.loc[0, Durations.customer_id], 3), ages)
    s_h = model.survival(np.repeat(model.params_.loc[0, Durations.customer_id], 3), ages + 30)
    hand = np.exp(-((ages + 31) / scale) ** shape) / np.exp(-((ages + 1) / scale) ** shape)
    np.testing.assert_allclose(s_h / s, hand, rtol=1e-10)
    # and near-memorylessness: within 0.02 of exp(-30/20) at every age
    np.testing.assert_allclose(s_h / s, np.exp(-30 / 20), atol=0.03)


# ---------------------------------------------------------------- shrinkage pieces
def test_dersimonian_laird_hand_computed():
    # est 0,1,2 with variance 0.1: w=10, mean 1, Q = 10*(1+0+1) = 20, denominator 30 - 300/30 = 20,
    # A = (20 - 2) / 20 = 0.9 ; equal variances -> plain mean 1
    a, m = _dersimonian_laird(np.array([0.0, 1.0, 2.0]), np.array([0.1, 0.1, 0.1]))
    assert a == pytest.approx(0.9) and m == pytest.approx(1.0)
    # no excess dispersion -> A = 0
    a0, _ = _dersimonian_laird(np.array([0.0, 0.1, 0.2]), np.array([1.0, 1.0, 1.0]))
    assert a0 == 0.0


def test_squeeze_var_recovers_prior():
    # simulate sigma^-2 ~ s0^-2 chi2_d0/d0 and s2 ~ sigma^2 chi2_d/d (limma's model), recover d0, s0^2
    rng = np.random.default_rng(0)
    d0, s0_2, n = 8.0, 0.25, 20000
    sigma2 = s0_2 * d0 / rng.chisquare(d0, n)
    dof = rng.integers(2, 20, n).astype(float)
    s2 = sigma2 * rng.chisquare(dof) / dof
    d0_hat, s0_2_hat = _squeeze_var(s2, dof)
    assert d0_hat == pytest.approx(d0, rel=0.15)
    assert s0_2_hat == pytest.approx(s0_2, rel=0.03)


# ---------------------------------------------------------------- simulate and recover
HISTORY = (1, 2, 3, 5, 10, 30)


@pytest.fixture(scope="module")
def recovered():
    lengths = np.repeat(HISTORY, 250)
    d, truth = simulate_days_to_pay(lengths, history_days=365, random_state=42)
    model = DaysToPayModel(distribution="lognormal").fit(d)
    p = model.params_.merge(truth, on=Durations.customer_id, suffixes=("", "_true"))

    def log_err(mu):
        return np.abs(np.log(np.maximum(np.exp(mu) - 1.0, 0.5)) - np.log(p["median_days"]))

    p["err_shrunk"] = log_err(p["mu"])
    p["err_own"] = log_err(p["mu_own"])
    p["err_raw"] = log_err(p["mu_raw"])
    return d, truth, model, p


def test_simulation_has_censoring(recovered):
    d, *_ = recovered
    assert 0.03 < (~d[Durations.paid]).mean() < 0.3


def test_recovers_median_for_long_histories(recovered):
    *_, p = recovered
    long = p[p["n_invoices"] == 30]
    # ~30 paid invoices, sigma ~0.45: se of mu ~ 0.45/sqrt(28) = 0.085, mean |error| ~ 0.07
    assert long["err_shrunk"].mean() < 0.10
    assert np.corrcoef(long["mu"], long["mu_true"])[0, 1] > 0.9


def test_recovers_portfolio_hyperparameters(recovered):
    _, _, model, _ = recovered
    # truth: mu ~ N(3.3, 0.4^2) -> between-customer variance 0.16
    assert model.portfolio_params_["mu"] == pytest.approx(3.3, abs=0.05)
    assert model.portfolio_params_["between_var"] == pytest.approx(0.16, rel=0.25)


def test_shrinkage_beats_own_fit_for_short_histories(recovered):
    *_, p = recovered
    short = p[(p["n_paid"] >= 1) & (p["n_paid"] <= 3)]
    assert len(short) > 500
    assert short["err_shrunk"].mean() < 0.85 * short["err_own"].mean()
    raw_ok = short["mu_raw"].notna()
    assert short.loc[raw_ok, "err_shrunk"].mean() < short.loc[raw_ok, "err_raw"].mean()
    # the weight grows with history
    w = p.groupby("n_invoices")["shrinkage_weight"].mean()
    assert w.is_monotonic_increasing and w.loc[30] > 0.9


def test_customers_without_paid_invoices_get_the_portfolio(recovered):
    d, _, model, p = recovered
    none_paid = p.loc[p["n_paid"] == 0, Durations.customer_id]
    assert len(none_paid) > 0
    w = model.windows().set_index(Durations.customer_id)
    assert (w.loc[none_paid, CustomerWindows.shrinkage_weight] == 0).all()
    assert (w.loc[none_paid, "basis"] == "portfolio").all()
    # their survival is the portfolio Kaplan-Meier curve where it is well supported
    t = np.array([5.0, 20.0, 40.0])
    km = model.km_
    km_at = km["survival"].to_numpy()[np.searchsorted(km["t"].to_numpy(), t, side="right") - 1]
    np.testing.assert_allclose(model.survival(none_paid.iloc[0], t), km_at, rtol=1e-12)
    np.testing.assert_allclose(model.survival("never-seen", t), km_at, rtol=1e-12)
    # and their median is the KM median
    km_median = km["t"].to_numpy()[np.argmax(km["survival"].to_numpy() <= 0.5)]
    assert w.loc[none_paid.iloc[0], CustomerWindows.median_days] == pytest.approx(km_median)


def test_parametric_portfolio_fallback():
    d, _ = simulate_days_to_pay([1, 2, 5, 10] * 20, random_state=4)
    model = DaysToPayModel(distribution="lognormal", fallback="portfolio").fit(d)
    pp = model.portfolio_params_
    ref = stats.lognorm(s=pp["sigma"], scale=np.exp(pp["mu"]))
    np.testing.assert_allclose(model.survival("never-seen", [0.0, 10.0, 50.0]), ref.sf(np.array([1.0, 11.0, 51.0])))


def test_windows_outlook_schemas_and_consistency(recovered):
    d, _, model, _ = recovered
    w = model.windows()
    CustomerWindows.validate(w)
    assert (w[CustomerWindows.median_days] <= w[CustomerWindows.p80_days]).all()
    assert (w[CustomerWindows.p80_days] <= w[CustomerWindows.p90_days]).all()
    np.testing.assert_allclose(w["window_days"], w[CustomerWindows.p80_days])
    # quantiles invert the survival function: S(p80) = 0.2 for customers with an own fit
    own = w["basis"] == "customer"
    s = model.survival(w.loc[own, Durations.customer_id].to_numpy(), w.loc[own, CustomerWindows.p80_days].to_numpy())
    np.testing.assert_allclose(s, 0.2, rtol=1e-8)
    out = model.outlook(d, AS_OF)
    OpenInvoiceOutlook.validate(out)
    assert len(out) == (~d[Durations.paid]).sum()
    assert (out["p_pay_7"] <= out["p_pay_30"]).all() and (out["p_pay_30"] <= out["p_pay_60"]).all()
    assert (out[OpenInvoiceOutlook.expected_pay_date] >= pd.Timestamp(AS_OF)).all()


def test_aic_picks_the_true_family():
    n = np.full(300, 25)
    for family in ("lognormal", "weibull"):
        d, _ = simulate_days_to_pay(n, family=family, random_state=8)
        model = DaysToPayModel().fit(d)
        assert set(model.aic_) == {"lognormal", "weibull"}
        assert model.distribution_ == family


def test_weibull_recovery():
    d, truth = simulate_days_to_pay(np.full(200, 30), family="weibull", random_state=9)
    model = DaysToPayModel(distribution="weibull").fit(d)
    p = model.params_.merge(truth, on=Durations.customer_id, suffixes=("", "_true"))
    med = p["scale"] * np.log(2) ** (1 / p["shape"]) - 1.0
    assert np.mean(np.abs(np.log(med) - np.log(p["median_days"]))) < 0.10


# ---------------------------------------------------------------- conventions and errors
def test_estimator_conventions():
    model = DaysToPayModel(distribution="weibull", shrinkage=False)
    assert model.get_params()["distribution"] == "weibull"
    assert clone(model).get_params() == model.get_params()
    d, _ = simulate_days_to_pay([3, 4, 5], random_state=1)
    fitted = model.fit(d)
    assert fitted is model
    check_is_fitted(model)


def test_outlook_refuses_durations_from_another_date():
    d, _ = simulate_days_to_pay([10] * 20, random_state=1)
    model = DaysToPayModel().fit(d)
    with pytest.raises(InputError, match="not computed as of"):
        model.outlook(d, "2026-07-31")


def test_fit_errors_are_plain():
    with pytest.raises(InputError, match="no column"):
        DaysToPayModel().fit(pd.DataFrame({Durations.customer_id: ["a"]}))
    bad = _durations_frame(np.array([3.0, -1.0]), np.array([True, True]), np.array(["a", "a"]))
    with pytest.raises(InputError, match=">= 0"):
        DaysToPayModel().fit(bad)
    none_paid = _durations_frame(np.array([3.0, 4.0]), np.array([False, False]), np.array(["a", "b"]))
    with pytest.raises(InputError, match="no invoice"):
        DaysToPayModel().fit(none_paid)
