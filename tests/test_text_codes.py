"""The byte-level text helpers of ``arinsights._text`` agree with the string operations they
replace (pandas' factorize and sort), on missing values, empty and non-ASCII text, chunked
and sliced Arrow arrays and missing cells that still own bytes."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from arinsights._text import byte_words, dictionary_codes, text_codes

_STEMS = ["", "A", "A1", "A10", "a", "Ä", "Éa", "日本", "Z9", "INV-0001", "\U0001F600x", "0000611365",
          "PMT-000001", "Quarry Optics & Sons 2", "x" * 29, "y" * 30]


def _texts(rng, n, stems=_STEMS, missing=0.1):
    out = np.array([stems[i] + (f"{j}" if j < 12 else "") for i, j in
                    zip(rng.integers(0, len(stems), n), rng.integers(0, 24, n))], dtype=object)
    out[rng.random(n) < missing] = None
    return out


def _same_partition(codes, values):
    """Codes equal exactly where the values are equal; -1 exactly where missing."""
    values = pd.Series(values, dtype=object)
    np.testing.assert_array_equal(codes < 0, values.isna().to_numpy())
    known = codes >= 0
    pairs = pd.DataFrame({"t": values[known].to_numpy(), "c": codes[known]}).drop_duplicates()
    assert pairs["t"].is_unique and pairs["c"].is_unique


def _owning_nulls(texts):
    """An Arrow string array whose missing cells still own bytes (allowed by the format)."""
    filled = ["junk" if t is None else t for t in texts]
    full = pa.array(filled, type=pa.string())
    valid = pa.array([t is not None for t in texts])
    bitmap = valid.buffers()[1]
    return pa.Array.from_buffers(pa.string(), len(texts), [bitmap, *full.buffers()[1:]], null_count=sum(t is None for t in texts))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_byte_words_sort_like_the_texts(seed):
    rng = np.random.default_rng(seed)
    texts = _texts(rng, 600, missing=0)
    words, valid = byte_words(pa.array(texts, type=pa.string()), max_bytes=32)
    assert valid.all() and len(words) == 4  # 32 bytes: four words
    order = np.lexsort(tuple(words[::-1]))
    got = texts[order]
    want = np.array(sorted(texts), dtype=object)  # Python compares by code point
    np.testing.assert_array_equal(got, want)


def test_byte_words_refuses_long_text_and_nul():
    assert byte_words(pa.array(["a" * 17]), max_bytes=16) is None
    assert byte_words(pa.array(["A\x00", "A"])) is None
    assert byte_words(pa.array([1, 2])) is None
    words, valid = byte_words(pa.array(["ab", None, "", "abc"]))
    assert len(words) == 1 and valid.tolist() == [True, False, True, True]
    assert words[0][1] == words[0][2] == 0 and words[0][0] < words[0][3]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_text_codes_partition_like_factorize(seed):
    rng = np.random.default_rng(seed)
    a, b = _texts(rng, 700), _texts(rng, 300)
    for make in (lambda v: pd.Series(v, dtype="str"),
                 lambda v: pa.array(v, type=pa.large_string()),
                 lambda v: pa.chunked_array([pa.array(v[:100], type=pa.string()), pa.array(v[100:], type=pa.string())]),
                 lambda v: pa.array(np.concatenate([v, v]), type=pa.string()).slice(len(v)),  # a window of a buffer
                 _owning_nulls):
        for fn in (text_codes, dictionary_codes):
            ca, cb = fn(make(a), make(b))
            assert len(ca) == len(a) and len(cb) == len(b)
            _same_partition(np.concatenate([ca, cb]), np.concatenate([a, b]))
    # mixed string / large_string columns share one vocabulary
    ca, cb = text_codes(pa.array(a, type=pa.string()), pa.array(b, type=pa.large_string()))
    _same_partition(np.concatenate([ca, cb]), np.concatenate([a, b]))


def test_text_codes_on_many_distinct_numbers_and_long_text():
    """Both ways of numbering pairs of words (a table indexed by the pair, and hashing when
    the pairs are too spread out), and texts too long for words (Arrow hashes them)."""
    rng = np.random.default_rng(5)
    dense = np.array([f"{i:010d}" for i in rng.integers(0, 5000, 20000)], dtype=object)  # few first words
    spread = np.array([f"{i:016x}" for i in rng.integers(0, 2 ** 60, 3000)], dtype=object)
    spread = np.concatenate([spread, spread[:500]])  # repeats among values with distinct first words
    long = np.array(["customer number " + s for s in spread], dtype=object)
    for values in (dense, spread, long):
        (codes,) = text_codes(pd.Series(values, dtype="str"))
        _same_partition(codes, values)
    assert dictionary_codes(pd.Series([1, 2])) is None and text_codes(np.array(["a"], dtype=object)) is None


def test_dictionary_codes_number_in_order_of_first_appearance():
    values = pd.Series(["b", None, "a", "b", "é", "a"], dtype="str")
    (codes,) = dictionary_codes(values)
    np.testing.assert_array_equal(codes, pd.factorize(values.astype(object))[0])


def test_byte_words_of_the_valid_texts_only():
    values = pa.chunked_array([pa.array(["b", None, "abc"]), pa.array([None, "zz", ""])])
    words, valid = byte_words(values)
    few, same = byte_words(values, valid_only=True)
    np.testing.assert_array_equal(valid, same)
    np.testing.assert_array_equal(few[0], words[0][valid])
    assert len(few[0]) == 4


def test_byte_words_of_long_texts_when_asked():
    """Texts longer than 127 bytes read as words when max_bytes allows (lengths beyond a
    small integer type)."""
    texts = ["a" * 130, "a" * 129, "b", "a" * 130 + "b"]
    words, valid = byte_words(pa.array(texts), max_bytes=200)
    order = np.lexsort(tuple(words[::-1]))
    assert [texts[i] for i in order] == sorted(texts)
    assert len(words) == 17 and valid.all()


@pytest.mark.parametrize("span", [1, 63, 64, 65, 1000, 70_000])
def test_dense_rank_small_is_the_rank_among_the_distinct_keys(span):
    from arinsights._text import _dense_rank_small
    rng = np.random.default_rng(span)
    for n in (0, 1, 50, 5000):
        key = rng.integers(0, span, n)
        rank, count = _dense_rank_small(key, span)
        uniq, inverse = np.unique(key, return_inverse=True)  # reference: sort-based
        np.testing.assert_array_equal(rank, inverse)
        assert count == len(uniq)


def test_pairs_of_words_spread_beyond_twice_the_rows_are_ranked_not_hashed(monkeypatch):
    """Ten-digit numbers whose first eight bytes take many values and whose last two take
    ~100: the pairs span more than twice the rows (the old table's limit) but less than the
    rank table's, the case of a 5M-invoice ledger. The codes must still partition like
    factorize, also without numpy's bit count (numpy < 2)."""
    import arinsights._text as text_mod
    rng = np.random.default_rng(11)
    values = np.array([f"{i:010d}" for i in rng.integers(0, 4 * 10 ** 5, 40_000)], dtype=object)
    values[rng.random(len(values)) < 0.05] = None
    words, valid = byte_words(pa.array(values, type=pa.string()), valid_only=True)
    span = len(np.unique(words[0])) * len(np.unique(words[1]))
    assert 2 * valid.sum() + 1024 < span <= text_mod._DENSE_SPAN_PER_ROW * valid.sum()
    calls = []
    real = text_mod._dense_rank_small
    monkeypatch.setattr(text_mod, "_dense_rank_small", lambda *a: calls.append(1) or real(*a))
    (codes,) = text_codes(pd.Series(values, dtype="str"))
    _same_partition(codes, values)
    assert calls, "the rank table was not used"
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    (codes,) = text_codes(pd.Series(values, dtype="str"))
    _same_partition(codes, values)
