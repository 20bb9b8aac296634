"""How customers moved between segments from one report date to the next.

Inputs are two :class:`arinsights.schema.Segments` frames (previous and current report
date). :func:`segment_movement` counts the transitions; :func:`movement_summary` lists
every customer with a plain-language label of what changed.

Change labels (first match wins, see :data:`CHANGE_ORDER` for the listing order):

* "appeared": not in the previous segments (a new account, or newly inside the look-back).
* "gone": not in the current segments (no history left in the look-back window).
* "unchanged": same segment.
* "went silent": now ghost (open balance, no payment for a long time).
* "became habitual": now habitual.
* "newly slipped": now slipped (a good customer with something out of character open).
* "started drifting": now drifting (recent payments trending later).
* "recovered": now reliable after slipped, drifting, irregular, habitual or ghost.
* "history established": was new, now has enough paid invoices to be judged.
* "too little recent history": now new again (fewer paid invoices in the look-back).
* "improved" / "worsened": any other move, by the health ranking reliable > slipped >
  drifting > irregular > habitual > ghost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import Segments

__all__ = ["SEGMENT_ORDER", "NOT_PRESENT", "GONE", "CHANGE_ORDER", "segment_movement", "movement_summary"]

#: Segments in the playbook's first-match order.
SEGMENT_ORDER: tuple[str, ...] = ("ghost", "new", "habitual", "drifting", "slipped", "irregular", "reliable")
#: Row label for customers absent from the previous segments.
NOT_PRESENT = "not present"
#: Column label for customers absent from the current segments.
GONE = "gone"

#: Change labels, most urgent first (the order of :func:`movement_summary`).
CHANGE_ORDER: tuple[str, ...] = (
    "newly slipped", "became habitual", "went silent", "started drifting", "worsened",
    "too little recent history", "appeared", "gone", "recovered", "improved", "history established",
    "unchanged",
)

# health ranking for the generic improved / worsened label (lower is healthier)
_HEALTH = {"reliable": 0, "slipped": 1, "drifting": 2, "irregular": 3, "habitual": 4, "ghost": 5}


def _check(df: pd.DataFrame, name: str) -> pd.DataFrame:
    need = [Segments.customer_id, Segments.segment]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"the {name} segments have no column(s) {missing}; they need {need}")
    ids = df[Segments.customer_id].astype(str)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(
            f"the {name} segments list customer {dup.iloc[0]!r} more than once; "
            "a customer has exactly one segment per report date",
            column=Segments.customer_id,
        )
    unknown = sorted(set(df[Segments.segment].astype(str)) - set(SEGMENT_ORDER))
    if unknown:
        raise InputError(f"the {name} segments contain unknown segment(s) {unknown}; "
                         f"expected {list(SEGMENT_ORDER)}", column=Segments.segment)
    return df


def _joined(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    prev = _check(previous, "previous")
    cur = _check(current, "current")

    def part(df: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame({
            "customer_id": df[Segments.customer_id].astype(str).to_numpy(dtype=object),
            "segment": df[Segments.segment].astype(str).to_numpy(dtype=object),
            "customer_name": (df[Segments.customer_name].to_numpy(dtype=object)
                              if Segments.customer_name in df.columns else None),
            "open_amount": (df[Segments.open_amount].to_numpy(dtype=float)
                            if Segments.open_amount in df.columns else np.nan),
        })
        return out

    j = pd.merge(part(prev), part(cur), on="customer_id", how="outer", suffixes=("_prev", "_cur"),
                 sort=True).set_index("customer_id")
    j["previous_segment"] = j["segment_prev"].where(j["segment_prev"].notna(), NOT_PRESENT)
    j["current_segment"] = j["segment_cur"].where(j["segment_cur"].notna(), GONE)
    return j


def segment_movement(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Transition counts between two report dates.

    Parameters
    ----------
    previous, current : pandas.DataFrame
        :class:`~arinsights.schema.Segments` for the earlier and the later report date
        (customer_id, segment; one row per customer).

    Returns
    -------
    pandas.DataFrame
        A square-ish count matrix of int: index ``previous_segment`` = the seven segments in
        playbook order plus "not present" (customers new to the list); columns
        ``current_segment`` = the seven segments plus "gone" (customers no longer listed).
        Every row and column is present even when all zeros. Cell (r, c) counts customers
        who were in r and are now in c; the diagonal is customers who stayed.
    """
    j = _joined(previous, current)
    rows = pd.CategoricalIndex(j["previous_segment"], categories=[*SEGMENT_ORDER, NOT_PRESENT])
    cols = pd.CategoricalIndex(j["current_segment"], categories=[*SEGMENT_ORDER, GONE])
    nr, nc = len(rows.categories), len(cols.categories)
    counts = np.bincount(rows.codes.astype(np.int64) * nc + cols.codes, minlength=nr * nc).reshape(nr, nc)
    return pd.DataFrame(counts.astype(np.int64),
                        index=pd.Index([*SEGMENT_ORDER, NOT_PRESENT], name="previous_segment"),
                        columns=pd.Index([*SEGMENT_ORDER, GONE], name="current_segment"))


def movement_summary(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Every customer's move between two report dates, with a plain-language label.

    Parameters
    ----------
    previous, current : pandas.DataFrame
        :class:`~arinsights.schema.Segments` for the earlier and the later report date.

    Returns
    -------
    pandas.DataFrame
        One row per customer in either frame, ordered by change (:data:`CHANGE_ORDER`,
        most urgent first), then current open amount (largest first), then customer_id:

        - ``customer_id`` : str.
        - ``customer_name`` : str or None, the current name (the previous one for "gone").
        - ``previous_segment`` : str, a segment or "not present".
        - ``current_segment`` : str, a segment or "gone".
        - ``change`` : str, one of :data:`CHANGE_ORDER` (rules in the module docstring).
        - ``open_amount`` : float, open amount on the current date (0.0 for "gone").
        - ``previous_open_amount`` : float, open amount on the previous date (0.0 for "appeared").
    """
    j = _joined(previous, current)
    p, c = j["previous_segment"], j["current_segment"]
    hp = p.map(_HEALTH).astype(float)
    hc = c.map(_HEALTH).astype(float)
    recovering = p.isin(["slipped", "drifting", "irregular", "habitual", "ghost"])
    conditions = [
        p == NOT_PRESENT,
        c == GONE,
        p == c,
        c == "ghost",
        c == "habitual",
        c == "slipped",
        c == "drifting",
        (c == "reliable") & recovering,
        p == "new",
        c == "new",
        hc < hp,
    ]
    labels = ["appeared", "gone", "unchanged", "went silent", "became habitual", "newly slipped",
              "started drifting", "recovered", "history established", "too little recent history", "improved"]
    change = np.select([cond.to_numpy() for cond in conditions], labels, default="worsened")
    out = pd.DataFrame({
        "customer_id": j.index.to_numpy(dtype=object),
        "customer_name": j["customer_name_cur"].where(j["customer_name_cur"].notna(),
                                                      j["customer_name_prev"]).to_numpy(dtype=object),
        "previous_segment": p.to_numpy(dtype=object),
        "current_segment": c.to_numpy(dtype=object),
        "change": change.astype(object),
        "open_amount": j["open_amount_cur"].fillna(0.0).to_numpy(dtype=float),
        "previous_open_amount": j["open_amount_prev"].fillna(0.0).to_numpy(dtype=float),
    })
    out["_o"] = out["change"].map({k: i for i, k in enumerate(CHANGE_ORDER)})
    out["_a"] = -out["open_amount"]
    out = out.sort_values(["_o", "_a", "customer_id"], kind="mergesort")
    return out.drop(columns=["_o", "_a"]).reset_index(drop=True)
