"""Tests of the lateness classifier, its backtest and scoring (behaviour.lateness)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from arinsights.behaviour.features import FEATURE_COLUMNS, build_features
from arinsights.behaviour.lateness import (
    MODEL, MODELS, PRIOR_LATE_SHARE, TERMS_ONLY, Backtest, LatenessModel, backtest, backtest_cutoffs,
    backtest_split, customer_lateness, model_card, reliability_table, score_metrics, score_open_invoices,
)
from arinsights.schema import InvoiceFeatures as F
from arinsights.schema import Invoices

FAST = {"max_iter": 60}
TINY = {"max_iter": 30}  # for tests of plumbing, not of accuracy


def simulate_features(n=3000, seed=0) -> tuple[pd.DataFrame, np.ndarray]:
    """Own simulator: a features frame whose late label follows a known logistic model.

    P(late) = expit(-2 + 4 * prior_late_share + 0.04 * (terms_days - 30)), plus three noise
    features; returns the frame and the true probabilities (the oracle).
    """
    rng = np.random.default_rng(seed)
    # two informative features, three pure-noise ones, the rest constant
    f = pd.DataFrame({c: np.zeros(n) for c in FEATURE_COLUMNS})
    for c in (F.amount, F.issue_day, F.days_since_last_payment):
        f[c] = rng.normal(size=n)
    f[F.prior_late_share] = rng.beta(1, 2, n)
    f[F.terms_days] = rng.choice([14.0, 30.0, 60.0], n)
    logit = -2 + 4 * f[F.prior_late_share] + 0.04 * (f[F.terms_days] - 30)
    p_true = 1 / (1 + np.exp(-logit.to_numpy()))
    f[F.late] = (rng.random(n) < p_true).astype(float)
    f[F.invoice_id] = [f"I{i:05d}" for i in range(n)]
    f[F.customer_id] = "C"
    f[F.invoice_date] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 700, n)), unit="D")
    return f, p_true


# ----------------------------------------------------------------------------- metrics
def test_score_metrics_hand_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    m = score_metrics(y, p)
    # hand: pairs (pos > neg): 0.35>0.1, 0.8>0.1, 0.8>0.4 = 3 of 4 -> 0.75
    assert m["roc_auc"] == pytest.approx(0.75)
    # AP: ranking 0.8(+) 0.4(-) 0.35(+) 0.1(-): precision at recalls 0.5, 1.0 = 1, 2/3 -> 0.5*1 + 0.5*2/3
    assert m["pr_auc"] == pytest.approx(0.5 + 1 / 3)
    # Brier: (0.01 + 0.16 + 0.4225 + 0.04) / 4
    assert m["brier"] == pytest.approx(0.158125)
    assert m["n"] == 4 and m["base_rate"] == 0.5
    one_class = score_metrics(np.array([1, 1]), np.array([0.2, 0.9]))
    assert np.isnan(one_class["roc_auc"]) and one_class["brier"] == pytest.approx((0.64 + 0.01) / 2)


def test_reliability_table_hand_case_and_counts():
    y = np.array([0, 1, 0, 1, 1, 0])
    p = np.array([0.05, 0.08, 0.55, 0.58, 0.95, 1.0])
    t = reliability_table(y, p, "m", n_bins=10)
    assert t["n"].sum() == len(y)
    assert t["bin"].tolist() == [0, 5, 9]  # p = 1.0 falls in the top bin
    np.testing.assert_allclose(t["mean_predicted"], [0.065, 0.565, 0.975])
    np.testing.assert_allclose(t["observed_rate"], [0.5, 0.5, 0.5])
    assert ((t["mean_predicted"] >= t["bin_lower"]) & (t["mean_predicted"] <= t["bin_upper"])).all()


# ----------------------------------------------------------------------------- model
def test_model_follows_sklearn_conventions():
    m = LatenessModel(random_state=3, max_iter=50)
    assert m.get_params()["random_state"] == 3 and m.get_params()["max_iter"] == 50
    assert clone(m).get_params() == m.get_params()
    with pytest.raises(NotFittedError):
        m.predict_proba(simulate_features(10)[0])
    f, _ = simulate_features(600)
    assert m.fit(f) is m
    assert m.n_train_ == 600 and 0 < m.base_rate_ < 1


def test_simulate_and_recover_discrimination_and_calibration():
    f, p_true = simulate_features(3000, seed=1)
    train, test = f.iloc[:2000], f.iloc[2000:]
    model = LatenessModel(**FAST).fit(train)
    p = model.predict_proba(test)
    y = test[F.late].to_numpy()
    oracle_auc = roc_auc_score(y, p_true[2000:])
    # discrimination close to the true model's
    assert roc_auc_score(y, p) > oracle_auc - 0.04
    # calibrated: mean prediction matches the observed rate; Brier close to the oracle's
    assert p.mean() == pytest.approx(y.mean(), abs=0.03)
    assert brier_score_loss(y, p) < brier_score_loss(y, p_true[2000:]) + 0.01
    # unlabeled rows are ignored in fit
    g = train.copy()
    g.loc[g.index[:100], F.late] = np.nan
    assert LatenessModel(**FAST).fit(g).n_train_ == 1900


def test_fit_is_deterministic_and_max_train_keeps_most_recent():
    f, _ = simulate_features(1500, seed=2)
    p1 = LatenessModel(**TINY).fit(f).predict_proba(f)
    p2 = LatenessModel(**TINY).fit(f.sample(frac=1.0, random_state=0)).predict_proba(f)  # row order irrelevant
    np.testing.assert_array_equal(p1, p2)
    small = LatenessModel(max_train=1000, **TINY).fit(f)
    assert small.n_train_ == 1000


def test_single_class_training_falls_back_to_base_rate():
    f, _ = simulate_features(200, seed=3)
    f[F.late] = 0.0
    m = LatenessModel().fit(f)
    np.testing.assert_array_equal(m.predict_proba(f), np.zeros(len(f)))


# ----------------------------------------------------------------------------- backtest on the sample
@pytest.fixture(scope="module")
def sample():
    mod = pytest.importorskip("arinsights.sample")
    return mod.generate_ledger(150, 2.0, seed=7)


@pytest.fixture(scope="module")
def bt(sample) -> Backtest:
    return backtest(sample.invoices, sample.payments, sample.end, n_cutoffs=4, model_params=FAST)


def test_cutoffs_are_month_ends_with_knowable_test_months(sample):
    cuts = backtest_cutoffs(sample.invoices, sample.end, n_cutoffs=4)
    assert len(cuts) == 4 and all(c.is_month_end for c in cuts)
    assert all(b - a < pd.Timedelta(days=32) for a, b in zip(cuts, cuts[1:]))
    terms = (sample.invoices[Invoices.due_date] - sample.invoices[Invoices.invoice_date]).dt.days
    # the test month after the last cut-off + 95% of terms + grace is over by as_of
    assert cuts[-1] + pd.offsets.MonthEnd(1) + pd.Timedelta(days=terms.quantile(0.95) + 5) < sample.end


def test_training_rows_only_use_what_was_known_at_the_cutoff(sample):
    c = backtest_cutoffs(sample.invoices, sample.end, n_cutoffs=4)[0]
    train, test = backtest_split(sample.invoices, sample.payments, c, sample.end)
    assert len(train) > 500 and len(test) > 100
    assert (train[F.outcome_known_date] <= c).all()
    assert (train[F.invoice_date] <= c).all()
    # training features are the features as of the cut-off (built from data up to c only)
    at_c = build_features(sample.invoices, sample.payments, c).set_index(F.invoice_id)
    tr = train.set_index(F.invoice_id)
    cols = list(FEATURE_COLUMNS)
    pd.testing.assert_frame_equal(tr[cols], at_c.loc[tr.index, cols], check_exact=True)
    np.testing.assert_array_equal(tr[F.late], at_c.loc[tr.index, F.late])
    # test rows: issued in the month after c, outcome knowable by as_of
    assert (test[F.invoice_date] > c).all() and (test[F.invoice_date] <= c + pd.offsets.MonthEnd(1)).all()
    assert test[F.late].notna().all() and (test[F.outcome_known_date] <= sample.end).all()


def test_backtest_metrics_are_sklearns_and_model_beats_baseline(bt):
    pred = bt.predictions
    for name in MODELS:
        row = bt.overall.set_index("model").loc[name]
        assert row["roc_auc"] == pytest.approx(roc_auc_score(pred[F.late], pred[name]))
        assert row["pr_auc"] == pytest.approx(average_precision_score(pred[F.late], pred[name]))
        assert row["brier"] == pytest.approx(brier_score_loss(pred[F.late], pred[name]))
        assert row["n"] == len(pred)
    per = bt.cutoffs
    assert set(per["model"]) == set(MODELS) and per["cutoff"].nunique() == 4
    first = per[(per["model"] == MODEL) & (per["cutoff"] == per["cutoff"].min())].iloc[0]
    sub = pred[pred["cutoff"] == first["cutoff"]]
    assert first["roc_auc"] == pytest.approx(roc_auc_score(sub[F.late], sub[MODEL]))
    ov = bt.overall.set_index("model")["roc_auc"]
    # measured (150 customers, seed 7, max_iter 60): model 0.927 vs prior late share 0.902 vs terms 0.611
    assert ov[MODEL] > ov[PRIOR_LATE_SHARE] > ov[TERMS_ONLY]


def test_reliability_and_dict_and_card(bt):
    rel = bt.reliability
    assert (rel.groupby("model")["n"].sum() == len(bt.predictions)).all()
    d = bt.to_dict()
    assert set(d["overall"]) == set(MODELS)
    assert set(d["overall"][MODEL]) == {"roc_auc", "pr_auc", "brier", "n"}
    assert len(d["cutoffs"]) == 12 and isinstance(d["cutoffs"][0]["cutoff"], str)
    card = model_card(bt)
    assert set(card) == {"overall", "cutoffs", "reliability", "verdict"}
    assert "ROC-AUC" in card["verdict"] and "better than" in card["verdict"]


def test_scores_for_open_invoices_and_customers(sample):
    as_of = sample.end
    feats = build_features(sample.invoices, sample.payments, as_of)
    model = LatenessModel(**TINY).fit(feats)
    s1 = score_open_invoices(model, sample.invoices, sample.payments, as_of)
    s2 = score_open_invoices(model, sample.invoices, sample.payments, as_of)
    pd.testing.assert_frame_equal(s1, s2)  # deterministic
    open_ids = sample.invoices.loc[sample.invoices[Invoices.paid_date].isna(), Invoices.invoice_id]
    assert set(s1[F.invoice_id]) == set(open_ids)
    assert s1["p_late"].between(0, 1).all()

    cl = customer_lateness(model, sample.invoices, sample.payments, as_of)
    assert cl[F.customer_id].is_unique
    assert set(cl[F.customer_id]) == set(sample.invoices[Invoices.customer_id])
    assert cl["p_next_late"].between(0, 1).all()
    # p_open_late = amount-weighted mean of the open invoices' P(late) (reference by hand)
    one = s1[F.customer_id].value_counts().index[0]
    mine = s1[s1[F.customer_id] == one]
    row = cl.set_index(F.customer_id).loc[one]
    assert row["n_open"] == len(mine)
    assert row["p_open_late"] == pytest.approx(np.average(mine["p_late"], weights=mine[F.amount]))
    assert cl.loc[cl["n_open"] == 0, "p_open_late"].isna().all()
    # habitual-late customers get a higher P(next late) than the others
    arche = sample.customers.set_index(F.customer_id)["archetype"]
    cl["archetype"] = cl[F.customer_id].map(arche)
    means = cl.groupby("archetype")["p_next_late"].mean()
    assert means["habitual"] > means["reliable"] + 0.3
