"""The fast Excel writer of the worklist gives the same workbook as the general openpyxl path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from arinsights.playbook import worklist as W
from arinsights.schema import Worklist


def tricky_worklist() -> pd.DataFrame:
    """Missing names, dates and amounts, XML specials, surrounding spaces, odd currencies."""
    n = 7
    return pd.DataFrame({
        Worklist.customer_id: ["A", "B&C", "<D>", " E", "F ", "G", "H"],
        Worklist.customer_name: ["Ann & Co", None, "x < y > z", "  spaced  ", "", "Ünïcode €", "plain"],
        Worklist.segment: ["slipped", "habitual", "ghost", "new", "reliable", "drifting", "irregular"],
        Worklist.action: ["reminder", "firm dunning", "collection agency", "none", "wait", "phone call", "none"],
        Worklist.next_action_date: pd.to_datetime(["2026-07-01 00:00", None, "2026-12-31 00:00", None, "2027-01-15 00:00",
                                                   "2026-07-01 13:45", "1999-03-01 00:00"]),
        Worklist.open_amount: [1250.5, 0.1 + 0.2, np.nan, 0.0, 1e12 / 3, 7.0, -3.25],
        Worklist.p_not_paid_30: [0.5, 1.0, 0.123456789012345678, 0.0, 1 / 3, np.nan, 0.9],
        Worklist.value_at_risk: [625.25, 0.3, np.nan, 0.0, 1e12 / 9, np.nan, -2.925],
        Worklist.reasons: ["a | b", "line\nbreak", "", "x" * 300, "tab\there", "é", "end "],
    }).iloc[:n]


def read_back(path):
    ws = load_workbook(path)["Worklist"]
    cells = [[(c.coordinate, c.value, type(c.value).__name__, c.number_format, c.font.b,
               c.fill.fgColor.rgb if c.fill is not None else None, c.alignment.wrap_text, c.alignment.vertical)
              for c in row] for row in ws.iter_rows()]
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    return cells, widths, ws.freeze_panes, ws.auto_filter.ref, ws.max_row, ws.max_column


@pytest.mark.parametrize("currency", [None, {"A": "EUR", "B&C": "USD", "<D>": 'C"HF', "G": "GBP"}])
def test_fast_and_general_xlsx_agree(tmp_path, currency):
    wl = tricky_worklist()
    fast = W.write_worklist(wl, tmp_path / "fast", currency_by_customer=currency)
    df = pd.read_csv(fast["csv"])
    assert len(df) == len(wl)
    # the same frame the public function hands to the writers
    frame = wl[W._COLUMNS].copy()
    if currency is not None:
        cmap = pd.Series(currency, dtype=object)
        frame.insert(frame.columns.get_loc(Worklist.customer_name) + 1, "currency",
                     frame[Worklist.customer_id].map(cmap).to_numpy(dtype=object))
    dates = pd.to_datetime(frame[Worklist.next_action_date])
    general = tmp_path / "general.xlsx"
    W._write_xlsx_cells(frame, dates, general)
    assert read_back(fast["xlsx"]) == read_back(general)


def test_fast_xlsx_declines_formulas(tmp_path):
    wl = tricky_worklist()
    wl.loc[0, Worklist.customer_name] = "=SUM(A1:A2)"
    frame = wl[W._COLUMNS].copy()
    assert not W._write_xlsx_fast(frame, pd.to_datetime(frame[Worklist.next_action_date]), tmp_path / "x.xlsx")
    paths = W.write_worklist(wl, tmp_path)  # falls back to the general writer
    ws = load_workbook(paths["xlsx"])["Worklist"]
    assert ws.cell(row=2, column=2).value == "=SUM(A1:A2)"


def test_fast_xlsx_empty_worklist(tmp_path):
    wl = tricky_worklist().iloc[:0]
    paths = W.write_worklist(wl, tmp_path / "fast")
    frame = wl[W._COLUMNS].copy()
    W._write_xlsx_cells(frame, pd.to_datetime(frame[Worklist.next_action_date]), tmp_path / "general.xlsx")
    assert read_back(paths["xlsx"]) == read_back(tmp_path / "general.xlsx")
