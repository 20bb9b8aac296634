"""The memory-saving paths of the readers give the same results as the plain ones:
zero-copy row slices (``_pick``) equal a filter, trimming keeps untouched columns as they
are, a grid read by ``read_export`` (whose cells are dropped once parsed) reads exactly as
a grid handed to ``read_grid_result`` (left intact), and output columns taken without a
copy are independent, writable arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from arinsights.ingest.readers import read_export, read_grid_result
from arinsights.ingest.readers._base import _pick, _trimmed
from arinsights.ingest.textio import read_grid


def _chunked(values: list[str], size: int) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values[i:i + size], pa.string()) for i in range(0, len(values), size)],
                            type=pa.string())


@pytest.mark.parametrize("make", [lambda v: pa.array(v, pa.string()), lambda v: _chunked(v, 7)])
@pytest.mark.parametrize("positions", [
    [], [0], list(range(50)), [0, 1, 2, 10, 11, 30, 49], list(range(0, 50, 3)),  # few runs
    list(range(0, 200, 2)),  # many runs: a filter
])
def test_pick_equals_filter(make, positions):
    values = [f"v{i}" for i in range(200 if len(positions) > 60 else 50)]
    arr = make(values)
    idx = np.asarray(positions, dtype=np.int64)
    mask = np.zeros(len(values), dtype=bool)
    mask[idx] = True
    got = _pick(arr, idx)
    assert got.type == pa.string()
    assert got.to_pylist() == arr.filter(pa.array(mask)).to_pylist()


def test_trimmed_keeps_untouched_chunks_and_trims_the_others():
    clean = _chunked(["a", "b c", "", "d"], 2)
    assert _trimmed(clean) is clean  # nothing to trim: the column itself, no copy
    padded = _chunked(["a", "b", " c ", "d\t", "e", "f"], 2)
    got = _trimmed(padded)
    assert got.to_pylist() == pc.utf8_trim_whitespace(padded).to_pylist()
    assert got.chunk(0) is padded.chunk(0) or got.chunk(0).equals(padded.chunk(0))
    plain = pa.array(["x ", "\u00a0y"], pa.string())
    assert _trimmed(plain).to_pylist() == ["x", "y"]


def _frames_equal(a, b):
    for name in ("transactions", "skipped", "rejects"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.notes == b.notes and a.rows_read == b.rows_read and a.layout == b.layout


def _write(tmp_path, lines, name="ledger.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


TRANSACTIONS = ["Transaction List by Date,,,,,,", "",
                "Type,Date,Number,Customer,Due Date,Amount,Applied To"]


def _rows(k, bad_every=0):
    out = []
    for i in range(k):
        if bad_every and i % bad_every == 5:
            out.append(f"Invoice,07/02/2024,{i:06d},Cust {i % 7},08/01/2024,#VALUE!,")  # rejected
        elif i % 3 == 0:
            out.append(f"Payment,07/03/2024,P{i:06d},Cust {i % 7},,\"$1,{i % 1000:03d}.50\",{i - 1:06d}")
        else:
            out.append(f"Invoice,07/01/2024,{i:06d},Cust {i % 7},07/31/2024,\"$2,{i % 1000:03d}.25\",")
    return out


@pytest.mark.parametrize("bad_every", [0, 40, 3])  # no reject, a few, many (filter instead of slices)
def test_read_export_equals_read_grid_result_and_leaves_given_grids_intact(tmp_path, bad_every):
    path = _write(tmp_path, TRANSACTIONS + _rows(400, bad_every))
    owned = read_export(path)
    grid = read_grid(path)
    assert grid.arrow is not None
    given = read_grid_result(grid)
    _frames_equal(owned, given)
    assert grid.arrow is not None  # a grid handed in is not consumed: it reads again the same
    _frames_equal(read_grid_result(grid), given)
    assert len(owned.transactions) + len(owned.rejects) + len(owned.skipped) == owned.rows_read


def test_columns_taken_without_a_copy_are_independent_and_writable(tmp_path):
    path = _write(tmp_path, TRANSACTIONS + _rows(300))
    tx = read_export(path).transactions
    assert len(read_export(path).rejects) == 0
    numeric = [c for c in tx.columns if tx[c].dtype.kind in "fiM"]
    arrays = {c: tx[c].to_numpy() for c in numeric}
    for i, a in enumerate(numeric):
        for b in numeric[i + 1:]:
            assert not np.shares_memory(arrays[a], arrays[b]), (a, b)
    tx.loc[0, "amount"] = -1.0
    tx.loc[0, "document_date"] = pd.Timestamp("2000-01-01")
    assert tx.loc[0, "amount"] == -1.0 and tx.loc[1, "amount"] != -1.0
    assert tx.loc[0, "due_date"] != pd.Timestamp("2000-01-01")
    # no id column: the customer id is the name (one Arrow array for both columns on pandas 3)
    assert tx["customer_id"].tolist() == tx["customer_name"].tolist()
    tx.loc[0, "customer_id"] = "changed"
    assert tx.loc[0, "customer_name"] != "changed" and tx.loc[1, "customer_id"] != "changed"


def test_generic_derived_columns_are_compared_after_the_cells_are_dropped(tmp_path):
    header = "customerID,invoiceNumber,InvoiceDate,DueDate,InvoiceAmount,SettledDate,DaysToSettle,DaysLate"
    rows = [f"C{i % 5},{1000 + i},2024-01-{1 + i % 28:02d},2024-02-{1 + i % 28:02d},{100 + i}.00,"
            f"2024-03-{1 + i % 28:02d},{61 if i == 3 else 60},0" for i in range(200)]  # one wrong day count
    path = _write(tmp_path, [header] + rows)
    grid = read_grid(path)
    assert grid.arrow is not None  # the Arrow lane, whose cells read_export drops
    owned = read_export(path)
    given = read_grid_result(grid)
    assert owned.layout == "generic"
    _frames_equal(owned, given)
    assert any("disagrees with the dates" in note for note in owned.notes)
