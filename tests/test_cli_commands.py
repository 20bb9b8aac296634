"""The analysis commands end to end: backtest --json for scripts, segments for credit controllers."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from arinsights.cli import main
from arinsights.schema import Segments, Worklist


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    result = CliRunner().invoke(main, ["sample", "--customers", "40", "--years", "1.5", "--seed", "5",
                                       "--layout", "generic", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return next(p for p in out.iterdir() if p.suffix == ".csv" and p.stem != "ground_truth")


def test_backtest_json_has_overall_and_cutoffs_for_the_model_and_both_baselines(ledger):
    result = CliRunner().invoke(main, ["backtest", str(ledger), "--as-of", "2026-06-30", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["as_of"] == "2026-06-30"
    assert set(doc["overall"]) == {"model", "prior_late_share", "terms_only"}
    for metrics in doc["overall"].values():
        assert set(metrics) >= {"roc_auc", "pr_auc", "brier", "n"}
        assert 0 <= metrics["roc_auc"] <= 1 and 0 <= metrics["brier"] <= 1 and metrics["n"] > 0
    cutoffs = pd.DataFrame(doc["cutoffs"])
    assert cutoffs["cutoff"].nunique() >= 3  # rolling origin over at least three monthly cut-offs
    # the pooled n is the sum of the per-cut-off n, for each model
    per_model = cutoffs.groupby("model")["n"].sum()
    assert all(per_model[m] == doc["overall"][m]["n"] for m in per_model.index)


def test_segments_writes_one_row_per_customer_and_the_worklist(ledger, tmp_path):
    result = CliRunner().invoke(main, ["segments", str(ledger), "--as-of", "2026-06-30", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    seg = pd.read_csv(tmp_path / "segments.csv", dtype={Segments.customer_id: str})
    assert list(seg.columns) == list(Segments.to_schema().columns)
    assert seg[Segments.customer_id].is_unique
    assert (pd.to_datetime(seg[Segments.next_action_date]).dropna() >= "2026-06-30").all()
    work = pd.read_csv(tmp_path / "worklist.csv")
    busy = work[~work[Worklist.action].isin(["wait", "none"])]
    assert busy[Worklist.value_at_risk].is_monotonic_decreasing
    assert (tmp_path / "worklist.xlsx").exists()
    assert "As of 2026-06-30" in result.output
