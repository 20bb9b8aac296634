"""Segment recovery against the generator's ground truth, through the user's path.

The reference is the ground truth written by :mod:`arinsights.sample` (each customer's
archetype): the export is read with :func:`~arinsights.ingest.ledger.load_ledger` exactly
as a user's file would be, analysed with :func:`~arinsights.analysis.analyse` as of the
sample's end date, and the "slipped" and "habitual" segments must match the archetypes
with precision and recall of at least 0.9. In the transactions layout customers appear
by name, so the join is on the ground truth's ``customer_name``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from arinsights.schema import Segments as S
from arinsights.analysis import analyse
from arinsights.ingest.ledger import load_ledger
from arinsights.sample import generate_ledger, write_export

from conftest import SAMPLE

AS_OF = "2026-06-30"
THRESHOLD = 0.9


def recovery(ledger_path, truth: pd.DataFrame, as_of) -> tuple[pd.DataFrame, dict]:
    """(confusion matrix archetype x segment, {segment: (precision, recall)})."""
    led = load_ledger(ledger_path)
    seg = analyse(led.invoices, led.payments, as_of, with_backtest=False).segments
    t = truth.set_index("customer_name")["archetype"]  # ground truth column (sample.py), not a schema table
    got = seg.set_index(S.customer_id)[S.segment].reindex(t.index).fillna("(not judged)")
    cm = pd.crosstab(t.rename("archetype"), got.rename("segment"))
    scores = {}
    for name in ("slipped", "habitual"):
        tp = int(((t == name) & (got == name)).sum())
        scores[name] = (tp / max(int((got == name).sum()), 1), tp / max(int((t == name).sum()), 1))
    return cm, scores


def check(cm: pd.DataFrame, scores: dict, label: str) -> None:
    print(f"\n{label}\n{cm.to_string()}\n{scores}")
    for name, (precision, recall) in scores.items():
        msg = f"{label}: {name} precision {precision:.3f} recall {recall:.3f}\n{cm.to_string()}"
        assert precision >= THRESHOLD, msg
        assert recall >= THRESHOLD, msg


def test_committed_sample_recovers_slipped_and_habitual():
    truth = pd.read_csv(SAMPLE / "ground_truth.csv", dtype={"customer_id": str})
    cm, scores = recovery(SAMPLE / "ledger.csv", truth, AS_OF)
    check(cm, scores, "committed sample (seed 7, 300 customers)")


@pytest.mark.parametrize("seed,customers", [(11, 300), (23, 600)])
def test_generated_transaction_lists_recover_slipped_and_habitual(tmp_path, seed, customers):
    ledger = generate_ledger(customers, 2.0, seed=seed, end=AS_OF)
    paths = write_export(ledger, "transactions", tmp_path, seed=seed, messy=True)
    cm, scores = recovery(paths[0], ledger.customers, ledger.end)
    check(cm, scores, f"seed {seed}, {customers} customers, transactions export loaded back")
