"""The integer-code fast paths of cleaning agree with the plain pandas/numpy operations they
replace, on inputs with ties, missing values and non-ASCII text."""

import numpy as np
import pandas as pd
import pytest

from arinsights.ingest import cleaning as C

_STR = pd.Series(["a"]).dtype


def _frame(rng, n=400):
    text = np.array(["b", "a", "A", "é", "ä", "a ", "", "Z9", "z", "10", "9", "\u00df", "ab"], dtype=object)
    ids = rng.choice(text, n).astype(object)
    ids[rng.random(n) < 0.1] = None
    dates = pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 5, n), unit="D")
    dates = pd.Series(dates).where(rng.random(n) > 0.1)
    return pd.DataFrame({"c": pd.Series(rng.choice(text[:4], n), dtype=_STR), "d": dates,
                         "i": pd.Series(ids, dtype=_STR), "o": pd.Series(ids, dtype=object)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stable_order_matches_sort_values(seed):
    df = _frame(np.random.default_rng(seed))
    for by in (["c", "d", "i"], ["d", "i"], ["i"], ["d", "o", "c"]):
        expected = df.sort_values(by, kind="mergesort", na_position="last").index.to_numpy()
        got = C._stable_order([df[b] for b in by])
        np.testing.assert_array_equal(got, expected)
        lazy = C._stable_order([df[by[0]]] + [(lambda t, b=b: df[b].iloc[t]) for b in by[1:]])
        np.testing.assert_array_equal(lazy, expected)


@pytest.mark.parametrize("seed", [0, 3])
def test_queue_order_matches_lexsort(seed):
    rng = np.random.default_rng(seed)
    n = 300
    ig = rng.integers(0, 4, n)
    q = rng.integers(0, 3, n).astype("int64")
    d = rng.random(n) < 0.2
    inv_date = rng.integers(0, 3, n).astype("int64")
    due = (np.datetime64("2025-01-01") + rng.integers(0, 3, n).astype("timedelta64[D]")).astype("datetime64[ns]")
    due[rng.random(n) < 0.2] = np.datetime64("NaT")
    ids = rng.choice(np.array(["INV-2", "INV-10", "inv-1", "É-1", "A"], dtype=object), n)
    expected = np.lexsort((ids.astype(str), due, inv_date, d, q, ig))
    got = C._queue_order(ig, q, d, inv_date, due, lambda t: ids[t])
    np.testing.assert_array_equal(got, expected)


def test_repeated_matches_duplicated():
    s = pd.Series(["x", "y", "x", None, "z", "y", None, "w"], dtype=_STR)
    mask = np.array([True, True, True, True, True, False, True, True])
    expected = np.zeros(len(s), dtype=bool)
    sub = s[mask & s.notna().to_numpy()]
    expected[sub.index[sub.duplicated(keep=False)]] = True
    np.testing.assert_array_equal(C._repeated(s, mask), expected)
