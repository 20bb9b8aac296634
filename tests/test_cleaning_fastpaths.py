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


def test_bytes_hold_matches_match_substring():
    """The byte scan for the key separator agrees with a search per value, on slices, chunks,
    missing values, large strings and non-ASCII text (whose UTF-8 bytes never hold 0x1f)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    a = pa.array(["ab", None, "c\x1fd", "é\u1f1f", "", "\x1f", "x"])
    cases = [a.slice(i, j) for i in range(len(a)) for j in range(len(a) - i + 1)]
    cases += [pa.chunked_array([a.slice(0, 2), a.slice(3)]), pa.chunked_array([], type=pa.string()),
              a.cast(pa.large_string()).slice(3, 1), pa.array([None, None], type=pa.string())]
    for arr in cases:
        expected = bool(pc.any(pc.fill_null(pc.match_substring(arr, "\x1f"), False)).as_py())
        assert C._bytes_hold(arr, 0x1F) == expected, arr
    for values in (["a", "b\x1f"], ["a", None], ["x\u1f1f"], [None]):
        for dtype in (_STR, object):
            assert C._has_separator(pd.DataFrame({"c": pd.Series(values, dtype=dtype)}), ["c"]) == \
                any(isinstance(v, str) and "\x1f" in v for v in values)


@pytest.mark.parametrize("seed", [0, 1])
def test_mark_fast_path_matches_general(seed):
    """_mark with a plain boolean mask (fate looked at on the masked rows only) agrees with the
    general path (a nullable mask: the fate of every row)."""
    rng = np.random.default_rng(seed)
    w = C.prepare_transactions(_ledger_rows(rng))
    w = C._mark(w, pd.Series(rng.random(len(w)) < 0.3, index=w.index), C._REJECTED, reason="first")
    mask = pd.Series(rng.random(len(w)) < 0.5, index=w.index)
    reason = lambda m: "r" + w.loc[m, "source"]  # noqa: E731
    fast = C._mark(w, mask, C._MERGED, rule="x", reason=reason, into=w["source"])
    general = C._mark(w, mask.astype("boolean"), C._MERGED, rule="x", reason=reason, into=w["source"])
    pd.testing.assert_frame_equal(fast, general)
    assert (fast[C._FATE] == C._MERGED).sum() == (mask & w[C._FATE].isna()).sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_payments_order_fast_path_matches_lexsort(seed, monkeypatch):
    """The payments table ordered by (cash row, invoice) when the cash rows are in date order
    equals the general (payment date, cash row, invoice) sort."""
    tx = _ledger_rows(np.random.default_rng(seed))
    w = C.prepare_transactions(tx).pipe(C.reject_unusable_rows)
    inv = C.build_invoices(w).drop_duplicates("invoice_id").reset_index(drop=True)
    cash = C._cash_rows(w)
    settled = C.settlement_payments(inv.assign(**{C._SETTLED: pd.NaT}))
    assert len(settled) == 0 and C._dates_ascending(cash["payment_date"])
    pay, stats = C.allocate_payments(inv, cash, settled)
    monkeypatch.setattr(C, "_dates_ascending", lambda dates: False)
    pay0, stats0 = C.allocate_payments(inv, cash, settled)
    pd.testing.assert_frame_equal(pay, pay0)
    assert stats == stats0


def test_labels_and_rank_by_codes():
    """Labels taken by code equal the text built per row; ranks by code equal dense ranks."""
    codes = np.array([0, 2, -1, 1, 0, -1])
    got = C._labels(("given", "terms", "default"), codes)
    expected = C._strings(pd.Series(np.array(["given", "default", None, "terms", "given", None], dtype=object)))
    pd.testing.assert_series_equal(got, expected)
    s = pd.Series(["b", None, "a", "é", "b", "A", None], dtype=_STR)
    s_codes = C._codes(s)
    for pos in (np.arange(len(s)), np.array([3, 0, 1]), np.array([1, 6]), np.array([], dtype="int64")):
        got = C._rank_by_codes(s, s_codes, pos).to_numpy()
        np.testing.assert_array_equal(got, C._dense_rank(s.iloc[pos].reset_index(drop=True)) if len(pos) else got)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_queue_order_matches_lexsort_real_dates(seed):
    """The same with nanosecond dates, the 'never' queue date and NaT (keys ranked by hashing)."""
    rng = np.random.default_rng(seed)
    n = 400
    day = 86_400 * 10**9
    ig = rng.integers(0, 5, n)
    q = (np.int64(1_735_689_600) * 10**9 + rng.integers(0, 4, n) * day).astype("int64")
    q[rng.random(n) < 0.2] = np.iinfo("int64").max
    d = rng.random(n) < 0.2
    inv_date = (np.int64(1_735_689_600) * 10**9 + rng.integers(0, 4, n) * day).astype("int64")
    inv_date[rng.random(n) < 0.1] = np.iinfo("int64").min  # NaT as int64
    due = (np.datetime64("2025-01-01") + rng.integers(0, 3, n).astype("timedelta64[D]")).astype("datetime64[ns]")
    due[rng.random(n) < 0.2] = np.datetime64("NaT")
    ids = rng.choice(np.array(["INV-2", "INV-10", "inv-1", "É-1", "A"], dtype=object), n)
    expected = np.lexsort((ids.astype(str), due, inv_date, d, q, ig))
    got = C._queue_order(ig, q, d, inv_date, due, lambda t: ids[t])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_lexsort_matches_numpy(seed):
    """One combined integer key sorts as np.lexsort, with NaN/NaT last and ties stable; keys
    that do not fit fall back to np.lexsort."""
    rng = np.random.default_rng(seed)
    n = 500
    pos = rng.integers(0, 50, n)
    eff = (np.datetime64("2025-01-01") + rng.integers(0, 9, n).astype("timedelta64[D]")).astype("datetime64[ns]")
    eff[rng.random(n) < 0.1] = np.datetime64("NaT")
    f = rng.choice([0.5, -1.0, np.nan, 0.0, -0.0, 3.25], n)
    big = rng.choice(np.array([np.iinfo("int64").min, -5, 0, 7, np.iinfo("int64").max]), n)
    wide = rng.integers(0, 10**12, n)  # cumulative amounts: shifted when last, else ranked
    wide[:50] = wide[50:100]
    for keys in ([pos, eff], [eff, pos], [f, pos], [big, eff, f], [big, big, big, pos], [rng.random(n) < 0.5, pos],
                 [pos[:0], eff[:0]], [pos, wide], [wide, pos], [wide, wide, pos]):
        np.testing.assert_array_equal(C._lexsort(keys), np.lexsort(keys[::-1]))


@pytest.mark.parametrize("seed", [0, 1])
def test_stable_order_integer_keys(seed):
    """Integer keys (shifted, not ranked) and nullable integers sort as sort_values."""
    rng = np.random.default_rng(seed)
    df = _frame(rng)
    df["k"] = rng.integers(0, 5, len(df))
    df["w"] = rng.choice(np.array([np.iinfo("int64").min, 0, 3, np.iinfo("int64").max]), len(df))
    df["n"] = pd.array(rng.integers(0, 3, len(df)), dtype="Int64")
    df.loc[rng.random(len(df)) < 0.2, "n"] = pd.NA
    for by in (["k", "d", "i"], ["w", "k", "i"], ["n", "k", "i"], ["d", "k", "w"]):
        expected = df.sort_values(by, kind="mergesort", na_position="last").index.to_numpy()
        np.testing.assert_array_equal(C._stable_order([df[b] for b in by]), expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_prepare_order_matches_sort_values(seed):
    """The canonical (file, row) order: in order already (no sort), shuffled, with negative
    rows, and with a (file, row) pair twice (then the content decides)."""
    rng = np.random.default_rng(seed)
    tx = _ledger_rows(rng)
    tx["file"] = rng.choice(np.array(["b.csv", "a.csv", "é.csv"], dtype=object), len(tx))
    tx["row"] = rng.permutation(len(tx)) - 20
    for frame in (tx.sort_values(["file", "row"]), tx.sample(frac=1, random_state=seed)):
        w = C.prepare_transactions(frame.reset_index(drop=True))
        expected = frame.sort_values(["file", "row"], kind="mergesort")
        np.testing.assert_array_equal(w["source"].to_numpy(dtype=object), expected["source"].to_numpy(dtype=object))
    twice = pd.concat([tx, tx.iloc[:5].assign(amount=99.0)], ignore_index=True).sample(frac=1, random_state=seed)
    w = C.prepare_transactions(twice.reset_index(drop=True))
    w2 = C.prepare_transactions(twice.iloc[::-1].reset_index(drop=True))
    pd.testing.assert_frame_equal(w, w2)
    assert (w[["file", "row"]].apply(tuple, axis=1).tolist()
            == sorted(w[["file", "row"]].apply(tuple, axis=1).tolist()))


def test_plain_ends_matches_strip():
    """The two-byte look says "nothing to strip" only when stripping changes nothing and no
    text is empty, on slices, chunks and large strings."""
    import pyarrow as pa

    a = pa.array(["ab", " c", None, "d", "", "e\u00a0", "f", "\x1fg", "h~", "!"])
    cases = [a.slice(i, j) for i in range(len(a)) for j in range(len(a) - i + 1)]
    cases += [pa.chunked_array([a.slice(0, 1), a.slice(3, 1)]).cast(pa.large_string()),
              pa.chunked_array([a.slice(0, 1), a.slice(4, 1)])]
    for arr in cases:
        values = arr.to_pylist()
        changes = any(v is not None and (v.strip() != v or v == "") for v in values)
        if C._plain_ends(arr):
            assert not changes, values
    assert C._plain_ends(pa.array(["ab", None, "c~"])) and not C._plain_ends(pa.array(["a", ""]))


def test_codes_one_value_matches_factorize():
    """Codes of a column holding one text (no hashing) equal pd.factorize's."""
    import pyarrow as pa

    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(
        [pa.array([], pa.large_string()), pa.array(["x", "x"], pa.large_string())])))
    for s in [pd.Series(v, dtype=d) for v in (["a", "a"], ["a", "b"], ["a", None], [None, None], [], ["é"] * 3)
              for d in (_STR, object)] + [chunked]:
        np.testing.assert_array_equal(C._codes(s), pd.factorize(s)[0])
    codes, rank = C._file_keys(pd.Series(["f.csv"] * 3, dtype=_STR))
    assert codes.tolist() == [0, 0, 0] and rank.tolist() == [0, 0, 0]


@pytest.mark.parametrize("dtype", [object, _STR, "int64"])
def test_take_coded_subset_keeps_dtype(dtype):
    """Taking only some codes (the others unused) gives the plain take, dtype included."""
    s = pd.Series([3, 1, 3, 2, 1], dtype=dtype) if dtype == "int64" else pd.Series(["b", "a", "b", "c", None], dtype=dtype)
    codes = C._codes(s)
    for pos in (np.array([2, 0]), np.array([1]), np.array([4, 4, 3]), np.arange(5)):
        pos = pos[pos < len(s)]
        pd.testing.assert_series_equal(C._take_coded(s, codes, pos), C._take(s, pos))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_payments_come_in_the_canonical_order(seed):
    """allocate_payments gives the payments in the ledger's canonical order (the stable pandas
    sort by customer, payment date, number, invoice number, amount; missing last), with the
    allocation order as ``_seq``; paid_dates adds allocations up in that order, so its
    result is the one from the payments in allocation order."""
    from arinsights._order import _PAYMENT_KEYS

    tx = _ledger_rows(np.random.default_rng(seed))
    w = C.prepare_transactions(tx).pipe(C.reject_unusable_rows)
    inv = C.build_invoices(w).drop_duplicates("invoice_id").reset_index(drop=True)
    inv[C._SETTLED] = inv[C._SETTLED].where(inv.index % 5 != 2, inv["invoice_date"])  # some settled by date
    cash = C._cash_rows(w)
    settled = C.settlement_payments(inv)
    assert len(settled) > 0
    pay, _ = C.allocate_payments(inv, cash, settled)
    assert pay[["customer_id", "payment_id"]].duplicated().any()  # ties for the later keys
    canonical = pay.sort_values(_PAYMENT_KEYS, kind="mergesort", na_position="last", ignore_index=True)
    pd.testing.assert_frame_equal(pay, canonical)
    by_allocation = pay.sort_values(C._SEQ, ignore_index=True)
    np.testing.assert_array_equal(by_allocation[C._SEQ].to_numpy(), np.arange(len(pay)))
    assert by_allocation["payment_date"].is_monotonic_increasing
    got = C.paid_dates(inv, pay)
    want = C.paid_dates(inv, by_allocation.drop(columns=[C._SEQ]))
    pd.testing.assert_frame_equal(got, want)
    assert got["paid_date"].notna().any() and got["settled_by"].notna().any()


@pytest.mark.parametrize("seed", [4, 5])
def test_clean_outputs_are_in_the_canonical_order(seed):
    """clean_transactions (and so load_ledger, which no longer sorts) gives invoices and
    payments in the canonical order the analysis checks for."""
    from arinsights._order import _INVOICE_KEYS, _PAYMENT_KEYS

    tx = _ledger_rows(np.random.default_rng(seed)).sample(frac=1, random_state=seed)
    res = C.clean_transactions(tx)
    for frame, keys in ((res.invoices, _INVOICE_KEYS), (res.payments, _PAYMENT_KEYS)):
        assert len(frame) > 0
        pd.testing.assert_frame_equal(
            frame, frame.sort_values(keys, kind="mergesort", na_position="last", ignore_index=True))


def test_one_chunk_keeps_values_and_dtype():
    """Text in several Arrow chunks (as the reader gives it) becomes one chunk with the same
    values, missing values and dtype; other columns are left alone."""
    if not isinstance(_STR, pd.StringDtype):
        pytest.skip("text is not Arrow-backed on this pandas")
    import pyarrow as pa

    parts = pa.chunked_array([pa.array(x, type=pa.large_string()) for x in (["a", None, "é"], [], ["b"])])
    s = pd.Series(pd.array(["a", None, "é", "b"], dtype=_STR))
    s = pd.Series(s.array._from_pyarrow_array(parts) if hasattr(s.array, "_from_pyarrow_array") else type(s.array)(parts))
    assert s.array._pa_array.num_chunks == 3
    got = C._one_chunk(s)
    assert got.array._pa_array.num_chunks == 1 and got.dtype == s.dtype
    pd.testing.assert_series_equal(got, s)
    nums = pd.Series([1.0, 2.0])
    assert C._one_chunk(nums) is nums


def test_payments_without_a_date_still_come_in_the_canonical_order():
    """Undated payments are rejected by the pipeline, but allocate_payments called on such
    rows still orders them canonically (missing dates tie with each other, last)."""
    from arinsights._order import _PAYMENT_KEYS

    tx = _ledger_rows(np.random.default_rng(8))
    cash_rows = tx["kind"] != "invoice"
    tx["document_date"] = tx["document_date"].where(~cash_rows | (np.arange(len(tx)) % 4 != 0))
    tx.loc[cash_rows & (np.arange(len(tx)) % 4 == 0), "document_id"] = "P-SAME"
    tx.loc[cash_rows & (np.arange(len(tx)) % 4 == 0), "customer_id"] = "A"
    w = C.prepare_transactions(tx)
    inv = C.build_invoices(w).drop_duplicates("invoice_id").reset_index(drop=True)
    cash = C._cash_rows(w)
    assert cash["payment_date"].isna().sum() > 1
    settled = C.settlement_payments(inv.assign(**{C._SETTLED: pd.NaT}))
    pay, _ = C.allocate_payments(inv, cash, settled)
    undated = pay[pay["payment_date"].isna()]
    assert len(undated) > 1 and undated["invoice_id"].nunique() > 1
    canonical = pay.sort_values(_PAYMENT_KEYS, kind="mergesort", na_position="last", ignore_index=True)
    pd.testing.assert_frame_equal(pay, canonical)


@pytest.mark.parametrize("seed", [6, 7])
def test_outputs_of_an_export_in_date_order_are_in_the_canonical_order(seed):
    """An export listed by date (the usual case) takes the shortcuts that sort invoices and
    payments by customer alone (the date, or the payment's (date, number) rank, never
    decreases along the rows): the tables must still be in the full canonical order."""
    from arinsights._order import _INVOICE_KEYS, _PAYMENT_KEYS

    tx = _ledger_rows(np.random.default_rng(seed), n=600).sort_values("document_date", kind="mergesort")
    tx = tx.assign(row=np.arange(len(tx)), source=[f"f.csv:{i}" for i in range(len(tx))])
    res = C.clean_transactions(tx)
    assert res.invoices["customer_id"].nunique() > 2 and res.invoices["invoice_date"].duplicated().any()
    for frame, keys in ((res.invoices, _INVOICE_KEYS), (res.payments, _PAYMENT_KEYS)):
        pd.testing.assert_frame_equal(
            frame, frame.sort_values(keys, kind="mergesort", na_position="last", ignore_index=True))
