"""Fast paths of the feature build agree with the general computations they replace."""
import numpy as np
import pandas as pd

from arinsights.behaviour import features as fm


def _general_order(code, day):
    return np.argsort(fm._key(code, day), kind="stable")


def test_radix_order_matches_stable_key_sort_on_ties_and_negative_codes():
    rng = np.random.default_rng(3)
    code = rng.integers(-1, 40, 5_000)          # -1: a missing customer code
    day = rng.integers(19_000, 19_030, 5_000)   # many (code, day) ties: stability matters
    got = fm._by_code_and_day(code, day)
    np.testing.assert_array_equal(got, _general_order(code, day))
    np.testing.assert_array_equal(got, np.lexsort((day, code)))
    np.testing.assert_array_equal(fm._by_day(day), np.argsort(day, kind="stable"))


def test_wide_ranges_fall_back_to_the_key_sort():
    rng = np.random.default_rng(4)
    code = rng.integers(0, 70_000, 3_000)       # more than 65,536 codes
    day = rng.integers(-30_000, 50_000, 3_000)  # day span over 65,536
    nat = np.iinfo(np.int64).min
    day_nat = np.where(rng.random(3_000) < 0.1, nat, rng.integers(0, 10, 3_000))
    for c, d in ((code, day), (code % 100, day), (code % 100, day_nat)):
        np.testing.assert_array_equal(fm._by_code_and_day(c, d), _general_order(c, d))
    np.testing.assert_array_equal(fm._by_day(day), np.argsort(day, kind="stable"))
    empty = np.array([], dtype=np.int64)
    assert len(fm._by_code_and_day(empty, empty)) == 0
    assert len(fm._by_day(empty)) == 0


def test_codes_in_matches_get_indexer():
    cats = pd.Index(["C1", "c1", "Ä-ß", "C10", "", "x y"])
    for dtype in (object, "string", pd.StringDtype("pyarrow")):
        values = pd.Series(["C10", None, "C1", "zz", "", "Ä-ß", "C1 ", "x y"], dtype=dtype)
        expect = pd.Index(cats).get_indexer(values)
        np.testing.assert_array_equal(fm._codes_in(values, cats), expect)
    # non-string values and categories use pandas' lookup
    np.testing.assert_array_equal(fm._codes_in(pd.Series([3, 1, 9]), pd.Index([1, 2, 3])), [2, 0, -1])
