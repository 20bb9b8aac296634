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


def _ledger_rows(rng, n=300):
    """Transactions with repeated numbers, references (some to other customers or
    currencies, some missing), several currencies and a key separator in one customer."""
    cust = rng.choice(np.array(["A", "B", "C\x1fEUR", "C", "é"], dtype=object), n)
    kind = rng.choice(np.array(["invoice", "payment", "credit"], dtype=object), n, p=[0.5, 0.4, 0.1])
    doc = np.array([f"D{i}" for i in rng.integers(0, n // 2, n)], dtype=object)
    ref = np.array([f"D{i}" for i in rng.integers(0, n // 2, n)], dtype=object)
    ref[(kind == "invoice") & (rng.random(n) < 0.9)] = None
    ref[rng.random(n) < 0.2] = None
    cur = rng.choice(np.array(["EUR", "usd", None, " GBP "], dtype=object), n)
    dates = pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    return pd.DataFrame({
        "source": [f"f.csv:{i}" for i in range(n)], "file": "f.csv", "row": np.arange(n), "kind": kind,
        "document_id": doc, "customer_id": cust, "customer_name": cust, "document_date": dates,
        "amount": rng.choice([10.0, 20.0, 35.5], n), "currency": cur, "applied_to": ref,
        "due_date": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")})


def _without_codes(df):
    return df.drop(columns=[c for c in (C._DOC, C._REF, C._CUST, C._CUR, C._KIND) if c in df.columns])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_code_columns_match_text(seed):
    """The working code columns stay equal-iff-equal to their text through the rules (rule 4
    fills missing references from repeats), and the allocation keys, reference lookups and
    currency check made from them agree with the text paths."""
    tx = _ledger_rows(np.random.default_rng(seed))
    w = (C.prepare_transactions(tx).pipe(C.merge_exact_duplicates).pipe(C.reject_conflicting_duplicates)
         .pipe(C.reject_shared_invoice_numbers).pipe(C.reject_unusable_rows))
    text = pd.concat([w["document_id"], w["applied_to"]], ignore_index=True).astype(object)
    codes = np.concatenate([w[C._DOC].to_numpy(), w[C._REF].to_numpy()])
    np.testing.assert_array_equal(codes < 0, text.isna().to_numpy())
    pairs = pd.DataFrame({"t": text, "c": codes})[codes >= 0].drop_duplicates()
    assert pairs["t"].is_unique and pairs["c"].is_unique
    for code_col, col in ((C._CUST, "customer_id"), (C._CUR, "currency")):
        pairs = pd.DataFrame({"t": w[col].astype(object), "c": w[code_col]}).drop_duplicates()
        assert pairs["t"].is_unique and pairs["c"].is_unique

    inv = C.build_invoices(w)
    inv = inv.drop_duplicates("invoice_id").reset_index(drop=True)  # the code path needs unique numbers
    cash = C._cash_rows(w)
    ik, ck = C._customer_currency_codes(inv, cash)
    ik0, ck0 = C._customer_currency_codes(_without_codes(inv), _without_codes(cash))
    key, key0 = np.concatenate([ik, ck]), np.concatenate([ik0, ck0])
    assert len(pd.DataFrame({"a": key, "b": key0}).drop_duplicates()) == len(np.unique(key)) == len(np.unique(key0))
    np.testing.assert_array_equal(C._referenced_positions(inv, cash, ik, ck),
                                  C._referenced_positions(_without_codes(inv), _without_codes(cash), ik0, ck0))
    np.testing.assert_array_equal(C._foreign_currency_cash(inv, cash),
                                  C._foreign_currency_cash(_without_codes(inv), _without_codes(cash)))
    inv[C._SETTLED] = inv[C._SETTLED].where(inv.index % 7 != 3, inv["invoice_date"])  # some settled by date
    settled = C.settlement_payments(inv)
    assert len(settled) > 0
    pay, stats = C.allocate_payments(inv, cash, settled)
    pay0, stats0 = C.allocate_payments(_without_codes(inv), _without_codes(cash), settled)
    pd.testing.assert_frame_equal(pay, pay0)
    assert stats == stats0


def test_clean_tricky_rows_runs_through():
    """The whole cleaning on such rows accounts for every row with valid outputs."""
    tx = _ledger_rows(np.random.default_rng(4))
    res = C.clean_transactions(tx)
    assert res.quality["rows"] == len(tx)
    assert res.quality["currency_mismatch_payments"] > 0


@pytest.mark.parametrize("dtype", [object, _STR])
def test_stripped_matches_strip(dtype):
    for vals in (["a", " b", "", None, np.nan, "\u00a0x", "y\t"], ["a", "b", None], ["a", "b"], [None, None],
                 ["é ", " "]):
        s = pd.Series(vals, dtype=dtype)
        t = C._strings(s).str.strip()
        expected = C._strings(t.where(t.ne(""), None))
        pd.testing.assert_series_equal(C._stripped(s), expected)


@pytest.mark.parametrize("dtype", [object, _STR])
def test_take_coded_matches_take(dtype):
    s = pd.Series(["x", None, "y", "x", "é", None, "y"], dtype=dtype)
    codes = C._codes(s)
    pos = np.array([6, 0, -1, 1, 4, 4, 2, -1, 5])
    got = C._strings(C._take_coded(s, codes, pos))
    pd.testing.assert_series_equal(got, C._strings(C._take(s, pos)))
    assert got.isna().tolist() == [False, False, True, True, False, False, False, True, True]


def test_validate_invoices_with_codes_still_checks():
    """Validating the invoices with the number codes keeps every check: a repeated number is
    caught by the codes, any other broken rule by the schema."""
    res = C.clean_transactions(_ledger_rows(np.random.default_rng(4)))
    inv = res.invoices
    codes = C._codes(inv["invoice_id"])
    pd.testing.assert_frame_equal(C._validate(inv, C.Invoices, unique_ids=codes), inv)
    twice = pd.concat([inv, inv.iloc[:1]], ignore_index=True)
    with pytest.raises(AssertionError, match="invalid Invoices"):
        C._validate(twice, C.Invoices, unique_ids=C._codes(twice["invoice_id"]))
    bad = inv.assign(amount=-1.0)
    with pytest.raises(AssertionError, match="invalid Invoices"):
        C._validate(bad, C.Invoices, unique_ids=codes)


def _fifo_pairs_pandas(inv_group, inv_amt, cash_group, cash_amt):
    """The pandas formulation of C._fifo_pairs (grouped cumsum, sort, grouped bfill/shift)."""
    inv_end = pd.Series(inv_amt).groupby(inv_group).cumsum().to_numpy()
    cash_end = pd.Series(cash_amt).groupby(cash_group).cumsum().to_numpy()
    ni, nc = len(inv_end), len(cash_end)
    ev = pd.DataFrame({
        "g": np.concatenate([inv_group, cash_group]), "end": np.concatenate([inv_end, cash_end]),
        "inv": np.concatenate([np.arange(ni, dtype=float), np.full(nc, np.nan)]),
        "cash": np.concatenate([np.full(ni, np.nan), np.arange(nc, dtype=float)])})
    ev = ev.sort_values(["g", "end"], kind="mergesort").reset_index(drop=True)
    filled = ev.groupby("g")[["inv", "cash"]].bfill()
    prev = ev.groupby("g")["end"].shift(1).fillna(0).astype("int64")
    seg = ev["end"].to_numpy() - prev.to_numpy()
    ok = (seg > 0) & filled["inv"].notna().to_numpy() & filled["cash"].notna().to_numpy()
    return (filled["inv"].to_numpy()[ok].astype("int64"), filled["cash"].to_numpy()[ok].astype("int64"),
            seg[ok].astype("int64"))


@pytest.mark.parametrize("seed", range(6))
def test_fifo_pairs_matches_pandas(seed):
    rng = np.random.default_rng(seed)
    ni, nc = int(rng.integers(0, 40)), int(rng.integers(0, 40))
    ig = np.sort(rng.integers(0, 6, ni))
    cg = np.sort(rng.integers(0, 6, nc))
    ia = rng.choice([0, 500, 1000, 2500], ni).astype("int64")  # equal cumulative ends happen often
    ca = rng.choice([0, 500, 1000, 3000], nc).astype("int64")
    got = C._fifo_pairs(ig, ia, cg, ca)
    for a, b in zip(got, _fifo_pairs_pandas(ig, ia, cg, ca)):
        np.testing.assert_array_equal(a, b)
    if ni:  # rows not sorted by group give the same running sums
        perm = rng.permutation(ni)
        np.testing.assert_array_equal(C._sorted_group_cumsum(ig[perm], ia[perm]),
                                      pd.Series(ia[perm]).groupby(ig[perm]).cumsum().to_numpy())


def _latest_name_rows_lexsort(w, cust):
    ok = (w["customer_name"].notna() & (w[C._FATE] != C._REJECTED)).to_numpy(dtype=bool) & (cust >= 0)
    rows = np.flatnonzero(ok)
    date = pd.to_datetime(w["document_date"]).to_numpy()[rows].view("int64")
    rows = rows[np.lexsort((w[C._RID].to_numpy()[rows], date, cust[rows]))]
    out = np.full(int(cust.max()) + 1 if len(cust) else 0, -1, dtype="int64")
    for r in rows:  # the last row of each customer in that order
        out[cust[r]] = r
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rising", [True, False])
def test_latest_name_rows_matches_lexsort(seed, rising):
    """The latest name of each customer (max of date rank and position) agrees with the
    sort it replaces, with missing dates, names and customers, rejected rows and ties; with
    row ids not rising the sort itself is used."""
    rng = np.random.default_rng(seed)
    n = 500
    dates = pd.Series(pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 4, n), unit="D"))
    names = pd.Series(rng.choice(np.array(["x", "y", "z"], dtype=object), n), dtype=_STR)
    w = pd.DataFrame({"customer_name": names.where(rng.random(n) > 0.2),
                      "document_date": dates.where(rng.random(n) > 0.15),
                      C._FATE: pd.Series(np.where(rng.random(n) < 0.1, C._REJECTED, None), dtype=object),
                      C._RID: np.arange(n) if rising else rng.permutation(n)})
    cust = rng.integers(-1, 12, n)
    np.testing.assert_array_equal(C._latest_name_rows(w, cust), _latest_name_rows_lexsort(w, cust))
