"""The benchmark harness times the real pipeline: every stage it reports is measured.

``benchmarks/run.py`` times the stages of ``analyse`` by wrapping the functions it calls. If
``analyse`` stopped calling one of them (a rename, a new module), that stage would silently
drop out of the table; these tests fail instead.
"""

import importlib.util
from pathlib import Path

import pytest

from arinsights.sample import generate_ledger, write_export

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    """A benchmark script, imported as a module."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _script("run")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    sample = generate_ledger(120, 2.0, seed=3, end="2026-06-30")
    return write_export(sample, "transactions", out, seed=3)[0]


def test_every_stage_is_timed_inside_the_real_calls(bench, export):
    originals = [getattr(owner, attr) for _, owner, attr in bench._stage_hooks()]
    res = bench.run_pipeline(export, "2026-06-30")
    stages = res["stages"]
    expected = {"pyarrow_read", "read_grid", "analyse", "analyse_other", *bench.INGEST_STAGES, *bench.ANALYSIS_STAGES}
    assert expected <= set(stages)
    assert all(stages[s][0] > 0 and stages[s][1] > 0 for s in expected - {"analyse_other"})
    # stages inside a call add up to no more than the call (only the outermost wrapped call counts)
    assert stages["read"][0] + stages["clean"][0] <= stages["ingest"][0]
    inner = sum(stages[s][0] for s in bench.ANALYSIS_STAGES)
    assert inner <= stages["analyse"][0]
    assert stages["analyse_other"][0] == pytest.approx(stages["analyse"][0] - inner)
    assert res["invoices"] > 0 and res["customers"] == 120
    # the package is left as it was
    assert [getattr(owner, attr) for _, owner, attr in bench._stage_hooks()] == originals


@pytest.fixture(scope="module")
def layouts_bench():
    return _script("bench_layouts")


def test_layouts_benchmark_times_the_real_load_of_every_layout(layouts_bench, tmp_path):
    from arinsights.ingest.ledger import load_ledger
    from arinsights.sample import LAYOUTS

    data = layouts_bench.ensure_layouts(300, list(LAYOUTS), tmp_path)
    assert set(data) == set(LAYOUTS)
    assert [f.name for f in data["two_files"]] == ["invoices.csv", "payments.csv"]
    # written once: a second call reuses the files
    stamp = {lay: [f.stat().st_mtime_ns for f in files] for lay, files in data.items()}
    again = layouts_bench.ensure_layouts(300, list(LAYOUTS), tmp_path)
    assert {lay: [f.stat().st_mtime_ns for f in files] for lay, files in again.items()} == stamp
    for layout in ("sap", "two_files"):
        files = data[layout]
        # as main() runs them: the baseline and the load in processes of their own
        res = {**layouts_bench._child("baseline", files), **layouts_bench._child("ingest", files)}
        assert all(res[s] > 0 for s in layouts_bench.STAGES)
        assert res["read"] + res["clean"] <= res["ingest"]
        led = load_ledger([str(f) for f in files])
        assert (res["invoices"], res["payments"]) == (len(led.invoices), len(led.payments))
        assert res["pyarrow_rows"] > 0 and res["peak_rss_mb"] > 0
