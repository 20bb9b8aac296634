"""The command line: user mistakes end in one message and exit status 2, never a traceback;
the happy paths write what they say.

The error cases are the bad-input corpus (``tests/fixtures/bad/corpus.py``) run through
``arinsights clean``. The happy paths clean the committed sample (whose manifest says
exactly which lines were made messy) and a freshly generated one.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from arinsights.cli import main

_spec = importlib.util.spec_from_file_location("bad_corpus", Path(__file__).parent / "fixtures" / "bad" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bad_corpus", corpus)  # dataclasses look their module up here
_spec.loader.exec_module(corpus)

SAMPLE = Path(__file__).parent.parent / "data" / "sample"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


@pytest.mark.parametrize("name", sorted(corpus.CASES))
def test_clean_on_a_bad_input_exits_2_with_one_message(name, tmp_path):
    case = corpus.CASES[name]
    paths, mapping = corpus.materialise(case, tmp_path / "in")
    args = ["clean", *paths, "--out", tmp_path / "out"]
    if mapping is not None:
        args += ["--mapping", mapping]
    result = run(*args)
    out = result.output
    assert result.exit_code == 2, out
    assert out.startswith("arinsights: error:"), out
    assert "Traceback" not in out
    assert result.exception is None or isinstance(result.exception, SystemExit)  # not a crash
    assert str(corpus.named_file(case, paths, mapping)) in out
    assert case.expect[0] in out
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_segments_and_backtest_on_a_bad_input_exit_2(tmp_path):
    paths, _ = corpus.materialise(corpus.CASES["ambiguous_date_order"], tmp_path)
    for cmd in (["segments", *paths, "--out", tmp_path / "seg"], ["backtest", *paths]):
        result = run(*cmd)
        assert result.exit_code == 2 and result.output.startswith("arinsights: error:"), result.output
        assert "ambiguous date order" in result.output


def test_excel_with_several_sheets_loads_with_the_sheet_option_the_message_names(tmp_path):
    # the several-sheets message says: pass --sheet "Invoices" on the command line
    paths, _ = corpus.materialise(corpus.CASES["excel_several_sheets"], tmp_path)
    result = run("clean", *paths, "--sheet", "Invoices", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    inv = pd.read_parquet(tmp_path / "out" / "invoices.parquet")
    assert inv["invoice_id"].tolist() == ["I-1"]


def _check_manifest(out: Path, ledger_file: str, manifest: dict, stdout: str):
    """Rejects are exactly the injected bad lines; merged rows exactly the injected copies."""
    f = manifest["files"][0]
    rejects = pd.read_csv(out / "rejects.csv")
    assert sorted(rejects["row"]) == sorted(b["line"] for b in f["bad_rows"])
    by_line = {b["line"]: b for b in f["bad_rows"]}
    for row, reason in zip(rejects["row"], rejects["reason"]):
        expected = by_line[row]["reason"]  # e.g. "unparseable date in 'Date'"
        # (the sample's bad amount is "#VALUE!": "... is a spreadsheet error, not an amount")
        word = "is not a date" if "date" in expected else "not an amount"
        assert word in reason and expected.split("'")[1] in reason
    merged = pd.read_csv(out / "merged.csv")
    assert len(merged) == f["injected"]["duplicates"] and set(merged["rule"]) == {"exact_duplicate"}
    # each injected copy is merged into its twin: one of the pair is the manifest's line
    lines = Path(ledger_file).read_text(encoding="utf-8").splitlines()
    for row, into in zip(merged["row"], merged["into"]):
        twin = int(str(into).rsplit(":", 1)[1])
        assert lines[row - 1] == lines[twin - 1]
        assert {row, twin} & {d["line"] for d in f["duplicates"]}
    rec = pd.read_csv(out / "reconciliation.csv")
    t = rec[rec["file"] == "TOTAL"].iloc[0]
    assert bool(t["balanced"]) and bool(t["amount_balanced"])
    assert t["rows_read"] == f["lines"]
    assert t["rejected"] == f["injected"]["bad_rows"] and t["merged"] == f["injected"]["duplicates"]
    assert t["skipped"] == len(f["header_lines"]) + sum(len(v) for v in f["skipped_lines"].values())
    # bad rows and copies are injected extra lines: what is kept is exactly the genuine data
    assert t["kept"] == f["genuine_data_rows"]
    assert t["amount_kept"] == pytest.approx(f["genuine_amount_total"], abs=0.01)
    # the printed reconciliation: the same counts, and the balance statement
    assert "Every row and every amount is accounted for." in stdout
    for label, key in (("rows read", "rows_read"), ("kept", "kept"), ("merged", "merged"), ("skipped", "skipped"),
                       ("rejected", "rejected")):
        assert f"  {label:<24}{int(t[key]):>10,}" in stdout, label


def test_clean_on_the_committed_sample_writes_files_and_prints_the_reconciliation(tmp_path):
    out = tmp_path / "out"
    result = run("clean", SAMPLE / "ledger.csv", "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("invoices.parquet", "payments.parquet", "rejects.csv", "merged.csv", "reconciliation.csv",
                 "quality.txt"):
        assert (out / name).exists() and str(out / name) in result.output
    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    _check_manifest(out, SAMPLE / "ledger.csv", manifest, result.output)
    # the bad rows are injected extra lines, so every true invoice is there
    inv = pd.read_parquet(out / "invoices.parquet")
    assert len(inv) == manifest["truth"]["invoices"]


def test_sample_then_clean_has_no_rejects_but_the_injected_ones(tmp_path):
    gen = tmp_path / "gen"
    result = run("sample", "--customers", "20", "--years", "1", "--out", gen)
    assert result.exit_code == 0, result.output
    manifest = json.loads((gen / "manifest.json").read_text())
    ledger = gen / manifest["files"][0]["file"]
    assert ledger.exists() and str(ledger) in result.output
    out = tmp_path / "out"
    result = run("clean", ledger, "--out", out)
    assert result.exit_code == 0, result.output
    _check_manifest(out, ledger, manifest, result.output)
    inv = pd.read_parquet(out / "invoices.parquet")
    assert len(inv) == manifest["truth"]["invoices"] and manifest["truth"]["customers"] == 20


@pytest.mark.parametrize("args, words", [
    (["sample", "--customers", "5", "--years", "1", "--end", "notadate"], "--end must be a date written YYYY-MM-DD"),
    (["sample", "--customers", "5", "--years", "1", "--end", "2025-02-30"], "got '2025-02-30'"),
])
def test_bad_parameters_exit_2_with_one_message(args, words, tmp_path):
    result = run(*args, "--out", tmp_path / "gen")
    assert result.exit_code == 2 and result.output.startswith("arinsights: error:"), result.output
    assert words in result.output and "Traceback" not in result.output


def test_bad_settings_file_exits_2_naming_it(tmp_path):
    paths, _ = corpus.materialise(corpus.CASES["same_file_twice"], tmp_path)  # a good one-invoice file
    bad = tmp_path / "settings.toml"
    bad.write_text("grace_days = \n")
    result = run("clean", paths[0], "--settings", bad, "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.output.startswith("arinsights: error:"), result.output
    assert str(bad) in result.output and "not valid TOML" in result.output


def test_mapping_path_that_is_a_folder_exits_2(tmp_path):
    paths, _ = corpus.materialise(corpus.CASES["same_file_twice"], tmp_path)
    result = run("clean", paths[0], "--mapping", tmp_path, "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.output.startswith("arinsights: error:"), result.output
    assert "the mapping path is a folder, not a file" in result.output


def test_settings_file_with_wrong_values_exits_2_listing_every_problem(tmp_path):
    paths, _ = corpus.materialise(corpus.CASES["same_file_twice"], tmp_path)  # a good one-invoice file
    bad = tmp_path / "settings.toml"
    bad.write_text('[ingest]\namount_tolerance = "abc"\n[playbook]\ngrace_days = 2.5\n')
    result = run("clean", paths[0], "--settings", bad, "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.output.startswith("arinsights: error:"), result.output
    assert "Traceback" not in result.output and str(bad) in result.output
    assert '[ingest] amount_tolerance = "abc": expected a number' in result.output
    assert "[playbook] grace_days = 2.5: expected a whole number" in result.output
    assert "(for example: grace_days = 5)" in result.output
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- report --sheet
def test_report_passes_the_sheet_to_the_loader_and_every_notebook(tmp_path, monkeypatch, two_sheet_workbook):
    # rendering a notebook takes ~20 s, so the notebooks are not executed here: each call is
    # checked against the real notebook's parameters cell and recorded (the notebooks read
    # the ledger with the sheet: tests/test_report.py)
    from arinsights.reporting import runner
    from arinsights.reporting.report import RenderedReport, check_parameters, default_notebook_dir

    calls = []

    def fake_render(name, parameters, out_dir, **kwargs):
        check_parameters(default_notebook_dir() / f"{name}.ipynb", parameters)
        calls.append((name, parameters))
        stem = kwargs.get("output_stem") or name
        return RenderedReport(name=name, notebook=Path(out_dir) / f"{stem}.ipynb", html=Path(out_dir) / f"{stem}.html")

    monkeypatch.setattr(runner, "render_notebook", fake_render)
    book = two_sheet_workbook
    # the runner loads the ledger first: without the sheet the workbook is ambiguous
    result = run("report", "--ledger", book, "--out", tmp_path / "reports", "--quiet")
    assert result.exit_code == 2 and "several sheets with data: 'Ledger', 'Archive'" in result.output, result.output
    assert not calls
    result = run("report", "--ledger", book, "--sheet", "Archive", "--customer", "Gamma",
                 "--out", tmp_path / "reports", "--quiet")
    assert result.exit_code == 0, result.output
    assert [name for name, _ in calls] == ["monthly_ar_report", "model_validation", "customer_profile"]
    assert all(params["sheet"] == "Archive" for _, params in calls)
    # the as-of date came from the Archive sheet: the date of its only invoice (the Ledger
    # sheet's last invoice is of 2 April 2025)
    assert {params["as_of"] for _, params in calls} == {"2024-01-05"}
    assert str(tmp_path / "reports" / "2024-01" / "monthly_ar_report.html") in result.output


def test_report_without_sheet_passes_none(tmp_path, monkeypatch):
    from arinsights.reporting import runner
    from arinsights.reporting.report import RenderedReport

    calls = []
    monkeypatch.setattr(runner, "render_notebook", lambda name, parameters, out_dir, **kw: calls.append(parameters)
                        or RenderedReport(name, Path(out_dir) / "x.ipynb", Path(out_dir) / "x.html"))
    paths, _ = corpus.materialise(corpus.CASES["same_file_twice"], tmp_path)  # a good one-invoice CSV
    result = run("report", "--ledger", paths[0], "--out", tmp_path / "reports", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(calls) == 2 and all(p["sheet"] is None for p in calls)
