"""Shortcuts of the read that must give what the plain code gives: repeated header rows
found from candidates of the first column, the runs of row positions worked out once for
every column, yes/no flags built as a boolean array with its mask. No timing here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from arinsights.ingest.parsing import parse_flags
from arinsights.ingest.readers import _base
from arinsights.ingest.textio import read_grid


def test_repeated_header_rows_agree_with_the_object_cells(tmp_path):
    """Page breaks repeat the header; rows that repeat only its first cells are not headers."""
    header = "Type,Date,Number,Customer,Due Date,Amount,Applied To"
    rows = ["Transaction List by Date,,,,,,", header,
            "Invoice,07/01/2024,1,Acme,07/31/2024,10.00,",
            header,                                                  # a page break
            "Type,Date,Number,Customer,Due Date,Amount,Applied",     # all but the last cell
            "Type,Date,Number,x,Due Date,Amount,Applied To",         # one cell in the middle differs
            "Type,,,,,,",
            "Invoice,07/02/2024,2,Acme,07/31/2024,20.00,",
            header]
    p = tmp_path / "ledger.csv"
    p.write_text("\n".join(rows) + "\n")
    grid = read_grid(p)
    arrow = _base.arrow_cells(grid)
    assert arrow is not None
    frame = _base.grid_cells(grid)
    got = _base.header_rows_like(arrow, 1)
    # reference: every cell of the row equals the header's, rows after the header only
    values = frame.to_numpy(dtype=object)
    expected = (values == values[1]).all(axis=1)
    expected[:2] = False
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, _base.header_rows_like(frame, 1))
    assert np.flatnonzero(got).tolist() == [3, 8]


@pytest.mark.parametrize("positions", [
    np.arange(3, 97),                                   # one run
    np.concatenate([np.arange(0, 10), np.arange(20, 30), [55], np.arange(60, 100)]),  # a few runs
    np.arange(0, 100, 2),                               # more runs than _MAX_RUNS: a filter
    np.array([], dtype=np.int64),
    np.arange(100),                                     # every row
])
def test_pick_with_runs_worked_out_once_agrees_with_a_take(positions):
    values = pa.chunked_array([pa.array([f"v{i}" for i in range(a, a + 25)]) for a in range(0, 100, 25)])
    runs = _base._runs(positions)
    if len(positions) and len(np.flatnonzero(np.diff(positions) != 1)) < _base._MAX_RUNS:
        assert runs is not None
    expected = [f"v{i}" for i in positions]
    assert _base._pick(values, positions).to_pylist() == expected
    assert _base._pick(values, positions, runs).to_pylist() == expected


def _flags_reference(values: list, x_only: bool) -> list:
    """Cell by cell: the documented tokens; blanks False only in an X-or-blank column."""
    true = {"yes", "y", "true", "t", "1", "x", "1.0", "on", "disputed"}
    false = {"no", "n", "false", "f", "0", "0.0", "off"}
    out = []
    for v in values:
        text = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip().lower()
        out.append(True if text in true else False if text in false else (False if x_only else pd.NA))
    return out


@pytest.mark.parametrize("arrow", [False, True])
def test_parse_flags_as_a_boolean_array_agrees_with_the_cell_by_cell_reading(arrow):
    rng = np.random.default_rng(4)
    tokens = ["Yes", "no", "Y", "N", "TRUE", "false", "1", "0", "", " ", None, "t", "F", "on", "off",
              "Disputed", "1.0", "n/a"]
    for trial in range(40):
        values = [tokens[j] for j in rng.integers(0, len(tokens), rng.integers(1, 40))]
        series = pd.Series(values, dtype=object, index=np.arange(len(values)) * 2 + 7, name="Disputed")
        if arrow:
            series = series.astype(pd.StringDtype("pyarrow"))
        got = parse_flags(series, column="Disputed", file="f.csv")
        assert str(got.dtype) == "boolean" and got.name == "Disputed"
        assert got.index.equals(series.index)
        assert got.tolist() == _flags_reference(values, x_only=False)
    # the X-or-blank convention: blanks are False
    x_only = ["X", "", None, "x", " "]
    got = parse_flags(pd.Series(x_only, dtype=object))
    assert got.tolist() == _flags_reference(x_only, x_only=True) == [True, False, False, True, False]
    assert parse_flags(pd.Series([], dtype=object)).tolist() == []
