"""Tests for arinsights.playbook.movement (hand examples)."""

from __future__ import annotations

import pandas as pd
import pytest

from arinsights.errors import InputError
from arinsights.playbook.movement import (
    CHANGE_ORDER,
    GONE,
    NOT_PRESENT,
    SEGMENT_ORDER,
    movement_summary,
    segment_movement,
)
from arinsights.schema import Segments


def make_segments(rows):
    """rows: (customer_id, segment, open_amount)."""
    return pd.DataFrame({
        Segments.customer_id: [r[0] for r in rows],
        Segments.customer_name: [f"Name {r[0]}" for r in rows],
        Segments.segment: [r[1] for r in rows],
        Segments.action: "none",
        Segments.next_action_date: pd.NaT,
        Segments.open_amount: [float(r[2]) for r in rows],
        Segments.reasons: "",
    })


PREV = make_segments([
    ("a", "reliable", 100), ("b", "reliable", 200), ("c", "slipped", 300), ("d", "irregular", 50),
    ("e", "new", 10), ("f", "reliable", 0), ("g", "drifting", 70), ("h", "habitual", 80),
    ("i", "irregular", 90), ("x", "reliable", 5),
])
CUR = make_segments([
    ("a", "slipped", 1000),    # newly slipped
    ("b", "reliable", 150),    # unchanged
    ("c", "reliable", 0),      # recovered
    ("d", "habitual", 400),    # became habitual
    ("e", "reliable", 20),     # history established
    ("f", "ghost", 60),        # went silent
    ("g", "irregular", 40),    # worsened (drifting -> irregular)
    ("h", "irregular", 30),    # improved (habitual -> irregular)
    ("i", "drifting", 25),     # started drifting
    ("n", "new", 500),         # appeared
])                             # x: gone


def test_transition_matrix_hand_example():
    m = segment_movement(PREV, CUR)
    assert list(m.index) == [*SEGMENT_ORDER, NOT_PRESENT]
    assert list(m.columns) == [*SEGMENT_ORDER, GONE]
    # hand count: reliable -> slipped (a), reliable (b), ghost (f), gone (x);
    # slipped -> reliable (c); irregular -> habitual (d), drifting (i); new -> reliable (e);
    # drifting -> irregular (g); habitual -> irregular (h); not present -> new (n)
    expected = {("reliable", "slipped"): 1, ("reliable", "reliable"): 1, ("reliable", "ghost"): 1,
                ("reliable", GONE): 1, ("slipped", "reliable"): 1, ("irregular", "habitual"): 1,
                ("irregular", "drifting"): 1, ("new", "reliable"): 1, ("drifting", "irregular"): 1,
                ("habitual", "irregular"): 1, (NOT_PRESENT, "new"): 1}
    for r in m.index:
        for c in m.columns:
            assert m.loc[r, c] == expected.get((r, c), 0), (r, c)
    assert m.to_numpy().sum() == 11  # every customer in either frame once


def test_movement_summary_labels_hand_example():
    s = movement_summary(PREV, CUR).set_index("customer_id")
    expected = {"a": "newly slipped", "b": "unchanged", "c": "recovered", "d": "became habitual",
                "e": "history established", "f": "went silent", "g": "worsened", "h": "improved",
                "i": "started drifting", "n": "appeared", "x": "gone"}
    assert s["change"].to_dict() == expected
    assert s.loc["x", "current_segment"] == GONE and s.loc["x", "open_amount"] == 0.0
    assert s.loc["x", "previous_open_amount"] == 5.0 and s.loc["x", "customer_name"] == "Name x"
    assert s.loc["n", "previous_segment"] == NOT_PRESENT
    assert s.loc["a", "open_amount"] == 1000.0 and s.loc["a", "previous_open_amount"] == 100.0
    assert set(s["change"]) <= set(CHANGE_ORDER)


def test_movement_summary_order():
    s = movement_summary(PREV, CUR)
    # most urgent change first; the list follows CHANGE_ORDER
    assert list(s["customer_id"]) == ["a", "d", "f", "i", "g", "n", "x", "c", "h", "e", "b"]
    two_slipped = movement_summary(make_segments([("p", "reliable", 1), ("q", "reliable", 1)]),
                                   make_segments([("p", "slipped", 10), ("q", "slipped", 90)]))
    assert list(two_slipped["customer_id"]) == ["q", "p"]  # larger open amount first


def test_new_again_and_duplicates_rejected():
    s = movement_summary(make_segments([("a", "irregular", 1)]), make_segments([("a", "new", 1)]))
    assert s.loc[0, "change"] == "too little recent history"
    with pytest.raises(InputError, match="more than once"):
        segment_movement(make_segments([("a", "new", 1), ("a", "ghost", 1)]), CUR)
    with pytest.raises(InputError, match="unknown segment"):
        movement_summary(PREV, make_segments([("a", "vip", 1)]))


def test_matrix_agrees_with_summary_crosstab():
    # Independent reference: pandas.crosstab of the per-customer summary
    m = segment_movement(PREV, CUR)
    s = movement_summary(PREV, CUR)
    ref = pd.crosstab(s["previous_segment"], s["current_segment"]).reindex(
        index=m.index, columns=m.columns, fill_value=0)
    assert (m.to_numpy() == ref.to_numpy()).all()
