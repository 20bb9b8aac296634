"""Fast paths of the playbook stages agree with their general versions on tricky inputs.

Each fast path (whole day numbers, one combined sort key, text built once per distinct
value, one pass over the ledger for the KPI tables) sits beside a general version kept in
the code or written out here as the reference; these tests hold them to the same answers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arinsights.playbook import actions as A
from arinsights.playbook import kpis as K
from arinsights.playbook import segments as S

from test_kpis import LEDGER_INV, LEDGER_PAY, make_invoices, make_payments, random_ledger


# ------------------------------------------------------------------ pay-run dates
def _general(dates, pattern, day, roll):
    """The timestamp-arithmetic version, fed exactly as first_run_on_or_after feeds it."""
    d = pd.to_datetime(pd.Series(dates)).dt.normalize()
    pat = pd.Series(pattern, index=d.index) if np.ndim(pattern) == 0 else pd.Series(
        np.asarray(pattern, dtype=object), index=d.index)
    pat = pat.where(pat.notna(), "none")
    dayv = np.broadcast_to(np.asarray(pd.to_numeric(pd.Series(day).to_numpy() if np.ndim(day) else day),
                                      dtype=float), (len(d),))
    return S._first_run_general(d, pat, np.where(np.isnan(dayv), 1.0, dayv), roll)


@pytest.mark.parametrize("unit", ["ns", "us", "s"])
@pytest.mark.parametrize("roll", [True, False])
def test_first_run_day_numbers_match_timestamp_arithmetic(unit, roll):
    rng = np.random.default_rng(11)
    n = 3000
    # month ends, leap days, weekends, times of day and missing dates
    when = (pd.Timestamp("2023-12-25") + pd.to_timedelta(rng.integers(0, 800, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 86_400, n) * (rng.random(n) < 0.3), unit="s"))
    dates = pd.Series(when).where(rng.random(n) > 0.05).astype(f"datetime64[{unit}]")
    patterns = pd.Series(rng.choice(["weekday", "day_of_month", "month_end", "none", None, "other"], n),
                         dtype=object)
    days = pd.Series(rng.choice([0, 1, 4, 6, 15, 28, 29, 30, 31, 35, -2, np.nan], n))
    cases = [(patterns, days), (patterns.astype("string"), days), ("weekday", 4), ("day_of_month", 31),
             ("month_end", np.nan), ("none", 1), (patterns.to_numpy(), 29.0)]
    for pattern, day in cases:
        got = S.first_run_on_or_after(dates, pattern, day, roll_weekends=roll)
        pd.testing.assert_series_equal(got, _general(dates, pattern, day, roll), check_exact=True)


def test_first_run_fractional_days_take_the_general_path():
    dates = pd.Series(pd.to_datetime(["2026-03-10", "2026-03-14"]))
    got = S.first_run_on_or_after(dates, "day_of_month", 15.5)
    pd.testing.assert_series_equal(got, _general(dates, "day_of_month", 15.5, True), check_exact=True)


# ------------------------------------------------------------------ paid-history order
def test_paid_order_one_key_matches_the_mergesort():
    rng = np.random.default_rng(5)
    n = 4000
    code = rng.integers(-1, 40, n)  # -1: a missing customer id
    inv = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D"))
    paid = pd.Series(inv + pd.to_timedelta(rng.integers(0, 30, n), unit="D")).where(rng.random(n) > 0.05)
    inv = inv.where(rng.random(n) > 0.05)
    ids = pd.Series(rng.choice(["A1", "A2", "B", "b", None], n), dtype=object)
    ref = (pd.DataFrame({"c": code, "p": paid, "i": inv, "id": ids})
           .sort_values(["c", "p", "i", "id"], kind="mergesort", na_position="last").index.to_numpy())
    def ns(dates):  # the keys _paid_order sorts on: nanoseconds, missing last
        v = dates.to_numpy(dtype="datetime64[ns]")
        k = v.view(np.int64).copy()
        k[np.isnat(v)] = np.iinfo(np.int64).max
        return k

    assert S._combined_key(code, ns(paid), ns(inv)) is not None  # whole days: the one-key path
    np.testing.assert_array_equal(S._paid_order(code, paid, inv, ids), ref)
    # a time of day: the general lexsort, same order
    inv_t = inv + pd.Timedelta(hours=5)
    ref_t = (pd.DataFrame({"c": code, "p": paid, "i": inv_t, "id": ids})
             .sort_values(["c", "p", "i", "id"], kind="mergesort", na_position="last").index.to_numpy())
    assert S._combined_key(code, ns(paid), ns(inv_t)) is None
    np.testing.assert_array_equal(S._paid_order(code, paid, inv_t, ids), ref_t)


# ------------------------------------------------------------------ reason text helpers
def _int_ref(x):
    v = np.asarray(x, dtype=float)
    ok = np.isfinite(v)
    txt = np.where(ok, np.round(v), 0).astype(np.int64).astype(str).astype(object)
    return np.where(ok, txt, "")


def _money_ref(amount, currency):
    v = pd.Series(np.asarray(amount, dtype=float))
    num = v.map("{:,.2f}".format).to_numpy(dtype=object)
    cur = pd.Series(np.asarray(currency, dtype=object)).where(lambda c: c.notna(), "USD").astype(str)
    sym = cur.map(A._SYMBOLS).to_numpy(dtype=object)
    has_sym = pd.notna(sym)
    out = np.where(has_sym, np.where(has_sym, sym, "").astype(object) + num, num + " " + cur.to_numpy(dtype=object))
    return np.where(v.notna(), out, "")


def test_text_helpers_match_their_element_wise_definitions():
    x = np.array([0.5, 1.5, 2.5, -0.4, -0.5, np.nan, np.inf, 99_999.6, 1e7, -12_345.0, 0.0])
    np.testing.assert_array_equal(A._int(x), _int_ref(x))
    amounts = np.array([1250.0, 0.125, 1.005, -0.0, 0.0, np.nan, 1e9 + 0.5, 1250.0, -3.456])
    cur = np.array(["USD", "EUR", None, "CHF", "GBP", "USD", "JPY", "CHF", np.nan], dtype=object)
    np.testing.assert_array_equal(A._money(amounts, cur), _money_ref(amounts, cur))
    np.testing.assert_array_equal(A._money(amounts, pd.Series(cur, dtype="string")),
                                  _money_ref(amounts, pd.Series(cur, dtype="string")))
    dates = pd.Series(pd.to_datetime(["2026-07-15 13:45", None, "2024-02-29", "2026-07-15", "1999-12-31"],
                                     format="ISO8601"))
    for d in (dates, dates.astype("datetime64[s]"), dates.dt.tz_localize("UTC")):
        np.testing.assert_array_equal(A._date(d), A._date_parts(pd.to_datetime(pd.Series(d))))
    assert A._date(dates).tolist() == ["15 Jul 2026", "", "29 Feb 2024", "15 Jul 2026", "31 Dec 1999"]


def test_join_matches_the_object_version():
    rng = np.random.default_rng(2)
    words = np.array(["", "", "a", "€5", "£1,250.00 open", "x; y", " ", "ünïcode"], dtype=object)
    for n in (0, 1, 50):
        for k in (1, 2, 5):
            parts = [words[rng.integers(0, len(words), n)] for _ in range(k)]
            for sep in ("; ", ", ", " "):
                got = A._join(parts, sep)
                assert got.dtype == object
                np.testing.assert_array_equal(got, A._join_objects(parts, sep))
    parts = [words[rng.integers(0, len(words), 9)], "scalar", ""]
    np.testing.assert_array_equal(A._join(parts), A._join_objects(parts))


# ------------------------------------------------------------------ KPI tables in one pass
def _three_calls(inv, pay, as_of, months=12, buckets=(0, 30, 60, 90)):
    return (K.aging(inv, pay, as_of, buckets=buckets), K.monthly_kpis(inv, pay, as_of, months=months),
            K.kpi_summary(inv, pay, as_of))


def _assert_same(got, ref):
    assert len(got) == 3
    for g, r in zip(got, ref):
        pd.testing.assert_frame_equal(g, r, check_exact=True)


@pytest.mark.parametrize("as_of", ["2026-03-31", "2026-02-15", "2026-01-05", "2025-12-31"])
@pytest.mark.parametrize("months", [1, 2, 3, 12])
def test_kpi_tables_equal_the_three_calls_on_hand_ledgers(as_of, months):
    inv, pay = make_invoices(LEDGER_INV), make_payments(LEDGER_PAY)
    _assert_same(K.kpi_tables(inv, pay, as_of, months=months), _three_calls(inv, pay, as_of, months))
    _assert_same(K.kpi_tables(inv, None, as_of, months=months), _three_calls(inv, None, as_of, months))


def test_kpi_tables_equal_the_three_calls_on_random_and_sample_ledgers():
    a, pa_ = random_ledger(1, currency="USD")
    b, pb = random_ledger(2, currency="EUR")
    inv, pay = pd.concat([a, b], ignore_index=True), pd.concat([pa_, pb], ignore_index=True)
    for as_of in ("2025-03-15", "2025-09-30", "2026-06-30"):
        _assert_same(K.kpi_tables(inv, pay, as_of), _three_calls(inv, pay, as_of))
        _assert_same(K.kpi_tables(inv, pay, as_of, months=3, buckets=(0, 45)),
                     _three_calls(inv, pay, as_of, 3, (0, 45)))
    sample = pytest.importorskip("arinsights.sample")
    led = sample.generate_ledger(n_customers=40, years=1, seed=3)
    _assert_same(K.kpi_tables(led.invoices, led.payments, "2026-06-30"),
                 _three_calls(led.invoices, led.payments, "2026-06-30"))


def test_kpi_tables_on_an_empty_ledger_and_bad_arguments():
    inv = make_invoices([("x", "2026-01-01", "2026-01-31", 1, None)]).iloc[:0]
    pay = make_payments([("2026-01-01", 1, "x")]).iloc[:0]
    _assert_same(K.kpi_tables(inv, pay, "2026-01-31"), _three_calls(inv, pay, "2026-01-31"))
    inv, pay = make_invoices(LEDGER_INV), make_payments(LEDGER_PAY)
    with pytest.raises(K.InputError):
        K.kpi_tables(inv, pay, "2026-03-31", months=0)
    with pytest.raises(K.InputError):
        K.kpi_tables(inv, pay, "2026-03-31", buckets=(30, 0))
    with pytest.raises(K.InputError):
        K.kpi_tables(inv, pay, None)
