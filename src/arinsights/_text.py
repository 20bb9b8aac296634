"""Text columns read from their Arrow buffers, without a Python string per value.

Large ledgers carry millions of document numbers. Hashing or sorting them as strings is
the slow part of cleaning and of the feature build; most document numbers are short
("INV-004211", "0000611365"), so each can instead be read as one or two 64-bit integers of
its bytes (:func:`byte_words`), which numpy and pandas hash and sort many times faster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

#: the longest text (in UTF-8 bytes) :func:`text_codes` reads as integers; longer texts are
#: hashed by Arrow
MAX_WORD_BYTES = 32


def text_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """The offsets (int64, ``len(chunk) + 1`` of them: the chunk's own window) and the data
    bytes (uint8, the whole buffer; empty when no cell has any) of a string or large_string
    Arrow chunk, read from its buffers without building a Python string; None for any other
    type. Cell ``i`` is ``data[offsets[i]:offsets[i + 1]]`` (missing cells included)."""
    if chunk.type == pa.string():
        width = np.int32
    elif chunk.type == pa.large_string():
        width = np.int64
    else:
        return None
    buffers = chunk.buffers()
    if len(chunk) == 0 or buffers[1] is None:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(buffers[1], dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1].astype(np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def chunk_buffers(values) -> list[tuple[pa.Array, np.ndarray, np.ndarray]] | None:
    """:func:`text_buffers` of each non-empty chunk of a string array (chunked or not), as
    (chunk, offsets, data); None when a chunk is not plain string / large_string."""
    out = []
    for chunk in (values.chunks if isinstance(values, pa.ChunkedArray) else [values]):
        if len(chunk) == 0:
            continue
        buffers = text_buffers(chunk)
        if buffers is None:
            return None
        out.append((chunk, *buffers))
    return out


def _valid(chunk: pa.Array) -> np.ndarray:
    if chunk.null_count == 0:
        return np.ones(len(chunk), dtype=bool)
    return np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


#: MASKS[k]: the first k bytes of a big-endian 64-bit word
_MASKS = np.array([0] + [((1 << 64) - 1) ^ ((1 << (8 * (8 - k))) - 1) for k in range(1, 9)], dtype=np.uint64)


def _words(offsets: np.ndarray, data: np.ndarray, lens: np.ndarray, count: int,
           keep: np.ndarray | None = None) -> list[np.ndarray]:
    """``count`` big-endian words of each cell (its bytes zero-padded), or of the cells where
    ``keep`` only, read as 8-byte windows at the cells' starts (a strided view over the
    bytes: no index matrix, no scatter) and masked to the cell's length."""
    lo, hi = int(offsets[0]), int(offsets[-1])
    body = np.zeros(hi - lo + 8 * count + 8, dtype=np.uint8)  # zero tail: windows past the end
    body[:hi - lo] = data[lo:hi]
    windows = np.lib.stride_tricks.as_strided(body, shape=(len(body) - 7, 8), strides=(1, 1), writeable=False)
    starts = offsets[:-1] - lo if keep is None else offsets[:-1][keep] - lo
    small = np.int8 if 8 * count < 128 else np.int64  # short texts: small integers are faster
    lens = (lens if keep is None else lens[keep]).astype(small)
    out = []
    for j in range(count):
        word = windows[starts + 8 * j].view(">u8").reshape(-1).astype(np.uint64)
        word &= _MASKS[np.clip(lens - small(8 * j), 0, 8)]
        out.append(word)
    return out


def byte_words(values, max_bytes: int = 16, *, valid_only: bool = False) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Each text as big-endian unsigned 64-bit words of its UTF-8 bytes, zero-padded.

    Parameters
    ----------
    values : pyarrow string array (chunked or not)
    max_bytes : int
        The longest text read this way.
    valid_only : bool
        Give words for the texts that are not missing only (``words[j][k]`` is then the
        k-th such text's): less to read when many are missing.

    Returns
    -------
    (words, valid) or None
        ``words``: ``ceil(longest / 8)`` uint64 arrays (at least one), one value per text;
        ``valid``: False where the text is missing (its words are 0). Comparing the words
        in turn compares the texts by code point, as Arrow and pandas do: UTF-8 byte order
        is code point order, and zero padding puts a text before any longer text it begins.
        Equal words, equal texts. None when a text is longer than ``max_bytes``, holds a NUL
        byte (padding could then tie two different texts) or the values are not text.
    """
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = []
    for chunk in chunks:
        buffers = text_buffers(chunk)
        if buffers is None:
            return None
        offsets, data = buffers
        valid = _valid(chunk)
        lens = np.diff(offsets)
        if chunk.null_count:
            lens = np.where(valid, lens, 0)  # a missing cell may own bytes; they are not read
        parts.append((offsets, data, lens, valid))
    longest = max((int(p[2].max()) for p in parts if len(p[2])), default=0)
    if longest > max_bytes:
        return None
    count = max(1, -(-longest // 8))
    parts_words, valid_all = [], []
    for offsets, data, lens, valid in parts:
        if len(lens) == 0:
            continue
        body = data[int(offsets[0]):int(offsets[-1])]
        if (body == 0).any():  # (bytes of missing cells too: on the safe side)
            return None
        parts_words.append(_words(offsets, data, lens, count, valid if valid_only and not valid.all() else None))
        valid_all.append(valid)
    if not parts_words:
        return [np.zeros(0, dtype=np.uint64) for _ in range(count)], np.zeros(0, dtype=bool)
    if len(parts_words) == 1:
        return parts_words[0], valid_all[0]
    return [np.concatenate([p[j] for p in parts_words]) for j in range(count)], np.concatenate(valid_all)


def _factorize_words(words: list[np.ndarray]) -> np.ndarray:
    """Codes of the word tuples (equal tuples, equal codes; numbered 0, 1, ... in a
    deterministic order). Each word is hashed on its own (a word alone has few distinct
    values: fast), then the pairs of codes are numbered by their rank among the pairs
    present (:func:`_dense_rank_small`) when the pairs span few enough values, else hashed."""
    codes, uniq = pd.factorize(words[0])
    codes, size = np.asarray(codes, dtype=np.int64), len(uniq)
    for w in words[1:]:
        c, u = pd.factorize(w)
        key = codes * len(u) + c  # < rows ** 2: no overflow
        span = size * len(u)
        if span <= _DENSE_SPAN_PER_ROW * len(key) + (1 << 16):
            codes, size = _dense_rank_small(key, span)
        else:
            codes, uniq = pd.factorize(key)
            codes, size = np.asarray(codes, dtype=np.int64), len(uniq)
    return codes


#: :func:`_dense_rank_small` is used for keys spanning up to this many values per key: its
#: table takes one byte per value of the span for a moment (a hash table of many distinct
#: keys is slow once it outgrows the processor's caches: 5 s for 14M keys against 0.4 s)
_DENSE_SPAN_PER_ROW = 16


def _dense_rank_small(key: np.ndarray, span: int) -> tuple[np.ndarray, int]:
    """``(rank, count)``: the rank of each key among the distinct keys (0, 1, ... in key
    order) and their number, for non-negative integer keys below ``span``. The keys present
    are marked in a table of bits; a key's rank is the number of marks before it: the marks
    of the 64-bit words before its word (a running sum) plus those below it in its word."""
    present = np.zeros(-(-max(span, 1) // 64) * 64, dtype=bool)
    present[key] = True
    bits = np.packbits(present, bitorder="little").view(np.uint64)
    del present
    marks = _popcount(bits)
    before = np.zeros(len(bits), dtype=np.int64)
    np.cumsum(marks[:-1], out=before[1:])
    word = key >> 6
    below = bits[word] & ((np.uint64(1) << (key & 63).astype(np.uint64)) - np.uint64(1))
    return before[word] + _popcount(below), int(before[-1] + marks[-1]) if len(bits) else 0


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def _popcount(x: np.ndarray) -> np.ndarray:
    """The number of set bits of each uint64 (numpy >= 2 has it built in)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    return _BYTE_BITS[np.ascontiguousarray(x).view(np.uint8)].reshape(-1, 8).sum(axis=1)


def _arrow_columns(columns) -> list | None:
    """The columns as Arrow string arrays (zero-copy for Arrow-backed text), or None."""
    arrays = []
    for c in columns:
        a = c.array if isinstance(c, pd.Series) else c
        if hasattr(a, "_pa_array"):  # pandas' Arrow-backed arrays
            a = a._pa_array
        if not isinstance(a, (pa.Array, pa.ChunkedArray)):
            return None
        if pa.types.is_null(a.type):
            a = a.cast(pa.string())
        if not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
            return None
        arrays.append(a)
    return arrays


def _joined(arrays) -> pa.ChunkedArray:
    chunks = [ch for a in arrays for ch in (a.chunks if isinstance(a, pa.ChunkedArray) else [a])]
    if len({ch.type for ch in chunks}) > 1:
        chunks = [ch.cast(pa.large_string()) for ch in chunks]
    return pa.chunked_array(chunks, type=chunks[0].type if chunks else pa.string())


def _split(codes: np.ndarray, arrays) -> list[np.ndarray]:
    return np.split(codes, np.cumsum([len(a) for a in arrays])[:-1]) if len(arrays) > 1 else [codes]


def dictionary_codes(*columns) -> list[np.ndarray] | None:
    """Integer codes of the texts of one or more columns in one vocabulary, by Arrow's
    ``dictionary_encode`` (fast when there are few distinct texts: customers, currencies):
    equal texts, equal codes across the columns; missing: -1; numbered in order of first
    appearance. None when a column is not an Arrow string array."""
    arrays = _arrow_columns(columns)
    if arrays is None:
        return None
    enc = _joined(arrays).dictionary_encode()  # one dictionary for all chunks
    codes = np.full(sum(len(a) for a in arrays), -1, dtype=np.int64)
    at = 0
    for ch in enc.chunks:
        codes[at:at + len(ch)] = np.asarray(ch.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        at += len(ch)
    return _split(codes, arrays)


def text_codes(*columns) -> list[np.ndarray] | None:
    """Integer codes of the texts of one or more columns in one vocabulary, made for many
    distinct texts (document numbers): equal texts, equal codes across the columns;
    missing: -1. The numbering (0, 1, ...) is deterministic but otherwise arbitrary: codes
    say which texts are equal, not how they sort.

    Texts of up to :data:`MAX_WORD_BYTES` bytes are read as integers (:func:`byte_words`),
    several times faster to hash than the strings; otherwise :func:`dictionary_codes`.
    None when a column is not an Arrow string array.
    """
    arrays = _arrow_columns(columns)
    if arrays is None:
        return None
    spread = byte_words(_joined(arrays), max_bytes=MAX_WORD_BYTES, valid_only=True)
    if spread is None:
        return dictionary_codes(*arrays)
    words, valid = spread
    if valid.all():
        codes = _factorize_words(words)
    else:
        codes = np.full(len(valid), -1, dtype=np.int64)
        if valid.any():
            codes[valid] = _factorize_words(words)
    return _split(codes, arrays)
