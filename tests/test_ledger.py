"""Tests of ingest.ledger: loading several files, the reconciliation and the outputs.

The first tests replace the reader with hand-built ReadResults so every count and amount of
the reconciliation can be computed by hand (comments beside the asserts); the last ones run
the real readers on the layout fixtures and check that every fixture reconciles.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from arinsights import schema as S
from arinsights.errors import InputError
from arinsights.ingest import ledger as ledger_mod
from arinsights.ingest.cleaning import clean_transactions
from arinsights.ingest.ledger import RECONCILIATION_COLUMNS, Ledger, load_ledger
from arinsights.settings import Settings

TX_COLS = list(S.Transactions.to_schema().columns)
LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"


def tx(file: str, *rows: dict) -> pd.DataFrame:
    out = []
    for r in rows:
        d = {c: None for c in TX_COLS}
        d.update(file=file)
        d.update(r)
        d["source"] = f"{file}:{d['row']}"
        out.append(d)
    df = pd.DataFrame(out, columns=TX_COLS)
    for c in ("document_date", "due_date", "settled_date", "snapshot_date"):
        df[c] = pd.to_datetime(df[c])
    for c in ("amount", "open_amount", "terms_days"):
        df[c] = df[c].astype(float)
    df["row"] = df["row"].astype("int64")
    return df


def skipped(file: str, *rows: tuple) -> pd.DataFrame:
    return pd.DataFrame({"file": file, "row": [r[0] for r in rows], "rule": [r[1] for r in rows],
                         "amount": [float(r[2]) for r in rows]})


def rejects(file: str, *rows: tuple) -> pd.DataFrame:
    return pd.DataFrame({"source": [f"{file}:{r[0]}" for r in rows], "file": file, "row": [r[0] for r in rows],
                         "reason": [r[1] for r in rows], "raw": [r[2] for r in rows],
                         "amount": [float(r[3]) for r in rows]})


def fake_results() -> dict[str, SimpleNamespace]:
    inv = SimpleNamespace(
        file="inv.csv", layout="invoices", rows_read=6, notes=["dates month-first"],
        transactions=tx("inv.csv",
                        dict(row=2, kind="invoice", document_id="INV-1", customer_id="A", document_date="2025-01-01",
                             amount=100.0),
                        dict(row=3, kind="invoice", document_id="INV-2", customer_id="A", document_date="2025-01-15",
                             amount=50.0, terms_days=10.0),
                        dict(row=4, kind="invoice", document_id="INV-1", customer_id="A", document_date="2025-01-01",
                             amount=100.0)),  # exact duplicate of row 2
        skipped=skipped("inv.csv", (1, "header", "nan"), (6, "subtotal", 250.0)),
        rejects=rejects("inv.csv", (5, "Amount 'abc' is not an amount", "Amount=abc", "nan")),
    )
    pay = SimpleNamespace(
        file="pay.csv", layout="payments", rows_read=4, notes=[],
        transactions=tx("pay.csv",
                        dict(row=2, kind="payment", document_id="P1", customer_id="A", document_date="2025-01-20",
                             amount=120.0),
                        dict(row=3, kind="payment", document_id="P2", customer_id="A", document_date="2025-02-01",
                             amount=40.0)),
        skipped=skipped("pay.csv", (1, "header", "nan")),
        rejects=rejects("pay.csv", (4, "missing customer in 'Customer'", "Customer=; Amount=7", 7.0)),
    )
    return {"inv.csv": inv, "pay.csv": pay}


@pytest.fixture
def fake_reader(monkeypatch):
    calls = []
    results = fake_results()

    def read(path, *, mapping=None, settings=None):
        calls.append((Path(path).name, mapping, settings))
        return results[Path(path).name]

    monkeypatch.setattr(ledger_mod, "_read_export", read)
    return calls


def test_reconciliation_of_two_files_by_hand(fake_reader, tmp_path):
    led = load_ledger([tmp_path / "inv.csv", tmp_path / "pay.csv"])
    rec = led.reconciliation().set_index("file")
    assert list(led.reconciliation().columns) == RECONCILIATION_COLUMNS
    # inv.csv: 6 rows = kept 2 (INV-1, INV-2) + merged 1 (row 4) + skipped 2 (header, subtotal) + rejected 1 (row 5)
    #          amounts 100+50+100+250 = 500 = kept 150 + merged 100 + skipped 250 + rejected 0 (row 5 amount unknown)
    assert rec.loc["inv.csv", ["rows_read", "kept", "merged", "skipped", "rejected", "rows_amount_unknown"]].tolist() \
        == [6, 2, 1, 2, 1, 1]
    assert rec.loc["inv.csv", ["amount_read", "amount_kept", "amount_merged", "amount_skipped",
                               "amount_rejected"]].tolist() == [500.0, 150.0, 100.0, 250.0, 0.0]
    # pay.csv: 4 rows = kept 2 + skipped 1 + rejected 1; amounts 120+40+7 = 167 = 160 + 0 + 7
    assert rec.loc["pay.csv", ["rows_read", "kept", "merged", "skipped", "rejected"]].tolist() == [4, 2, 0, 1, 1]
    assert rec.loc["pay.csv", ["amount_read", "amount_kept", "amount_rejected"]].tolist() == [167.0, 160.0, 7.0]
    assert rec.loc["TOTAL", ["rows_read", "kept", "merged", "skipped", "rejected"]].tolist() == [10, 4, 1, 3, 2]
    assert rec.loc["TOTAL", "amount_read"] == 667.0
    assert rec["balanced"].all() and rec["amount_balanced"].all()
    # ids matched across files: P1 120 -> INV-1 100 + INV-2 20; P2 40 -> INV-2 30, 10 unapplied
    paid = led.invoices.set_index(S.Invoices.invoice_id)[S.Invoices.paid_date]
    assert paid["INV-1"] == pd.Timestamp("2025-01-20") and paid["INV-2"] == pd.Timestamp("2025-02-01")
    assert led.quality["unapplied_by_currency"] == {"USD": 10.0}
    # rejects from the reader and cleaning together, with raw text
    assert led.rejects[["file", "row"]].values.tolist() == [["inv.csv", 5], ["pay.csv", 4]]
    assert led.rejects["raw"].tolist() == ["Amount=abc", "Customer=; Amount=7"]
    assert "inv.csv: dates month-first" in led.notes
    assert any("amount unknown" in n for n in led.notes)


def test_kept_rows_are_categorical_and_reconcile_as_text(fake_reader, tmp_path):
    # the kept rows carry file and kind as categoricals (memory on large ledgers); the
    # reconciliation counts them per file exactly as from text
    import dataclasses
    led = load_ledger([tmp_path / "inv.csv", tmp_path / "pay.csv"])
    assert isinstance(led.kept["file"].dtype, pd.CategoricalDtype)
    assert isinstance(led.kept["kind"].dtype, pd.CategoricalDtype)
    as_text = dataclasses.replace(led, kept=led.kept.astype({"file": object, "kind": object}))
    pd.testing.assert_frame_equal(led.reconciliation(), as_text.reconciliation())
    assert led.kept["file"].astype(object).tolist() == ["inv.csv", "inv.csv", "pay.csv", "pay.csv"]


def test_summary_states_the_counts(fake_reader, tmp_path):
    text = load_ledger([tmp_path / "inv.csv", tmp_path / "pay.csv"]).summary()
    assert text.startswith("Read 2 file(s) with 10 rows: 4 kept, 1 merged into other rows, 3 skipped")
    assert "Every row and every amount is accounted for." in text
    assert "2 invoices from 1 customer(s), of which 0 are open" in text
    assert "1 rejected row(s) had an amount that could not be read" in text
    assert "unapplied cash          10.00 USD" in text
    assert "merged: exact_duplicate" in text


def test_write_outputs(fake_reader, tmp_path):
    led = load_ledger([tmp_path / "inv.csv", tmp_path / "pay.csv"])
    paths = led.write(tmp_path / "out")
    assert {p.name for p in paths.values()} == {"invoices.parquet", "payments.parquet", "rejects.csv", "merged.csv",
                                                "reconciliation.csv", "quality.txt"}
    back = pd.read_parquet(paths["invoices"])
    assert back[S.Invoices.invoice_id].tolist() == ["INV-1", "INV-2"]
    assert back[S.Invoices.amount].tolist() == [100.0, 50.0]
    assert len(pd.read_parquet(paths["payments"])) == len(led.payments)
    rec = pd.read_csv(paths["reconciliation"])
    assert rec["file"].tolist() == ["inv.csv", "pay.csv", "TOTAL"]
    assert "Notes:" in paths["quality"].read_text()


def test_settings_object_and_mapping_are_passed_through(fake_reader, tmp_path):
    s = Settings().replace(ingest={"default_terms_days": 10})
    marker = object()
    led = load_ledger([tmp_path / "inv.csv"], mapping=marker, settings=s)
    assert [c[1] for c in fake_reader] == [marker]
    assert fake_reader[0][2] is s.ingest
    # INV-1 has no due date and no terms: 1 Jan + 10 days (the setting); INV-2 has terms 10 -> 25 Jan
    due = led.invoices.set_index(S.Invoices.invoice_id)[S.Invoices.due_date]
    assert due["INV-1"] == pd.Timestamp("2025-01-11") and due["INV-2"] == pd.Timestamp("2025-01-25")


def test_same_file_twice_is_an_input_error(fake_reader, tmp_path):
    with pytest.raises(InputError, match="given twice"):
        load_ledger([tmp_path / "inv.csv", tmp_path / "inv.csv"])


def test_two_files_with_the_same_name_are_told_apart(monkeypatch, tmp_path):
    res = fake_results()["pay.csv"]
    monkeypatch.setattr(ledger_mod, "_read_export", lambda path, **kw: res)
    led = load_ledger([tmp_path / "a" / "pay.csv", tmp_path / "b" / "pay.csv"])
    rec = led.reconciliation()
    assert rec["file"].tolist() == ["pay.csv", str(tmp_path / "b" / "pay.csv"), "TOTAL"]
    assert rec["balanced"].all()
    # the second copy's payments are exact duplicates of the first file's
    assert led.merged["rule"].tolist() == ["exact_duplicate", "exact_duplicate"]


def test_lost_row_is_caught_by_the_invariant(fake_reader, monkeypatch, tmp_path):
    def lossy(t, settings=None):
        res = clean_transactions(t, settings)
        res.kept = res.kept.iloc[1:]
        return res

    monkeypatch.setattr(ledger_mod, "clean_transactions", lossy)
    with pytest.raises(AssertionError, match="do not reconcile"):
        load_ledger([tmp_path / "inv.csv", tmp_path / "pay.csv"])


def test_hand_built_ledger_reconciliation():
    # one file of 3 rows: 1 kept (10.0), 1 skipped title, 1 rejected (5.0)
    led = Ledger(invoices=pd.DataFrame({S.Invoices.customer_id: ["A"]}), payments=pd.DataFrame(),
                 rejects=pd.DataFrame({"file": ["x.csv"], "row": [3], "amount": [5.0]}),
                 skipped=pd.DataFrame({"file": ["x.csv"], "row": [1], "rule": ["title"], "amount": [float("nan")]}),
                 merged=pd.DataFrame({"file": [], "row": [], "rule": [], "amount": []}),
                 files=pd.DataFrame({"file": ["x.csv"], "layout": ["generic"], "rows_read": [3], "amount_read": [15.0]}),
                 kept=pd.DataFrame({"file": ["x.csv"], "row": [2], "kind": ["invoice"], "amount": [10.0]}))
    rec = led.reconciliation()
    assert rec[["kept", "skipped", "rejected", "balanced", "amount_balanced"]].iloc[0].tolist() == [1, 1, 1, True, True]
    bad = Ledger(**{**led.__dict__, "files": led.files.assign(rows_read=4, amount_read=16.0)})
    assert not bad.reconciliation()["balanced"].iloc[0]
    assert not bad.reconciliation()["amount_balanced"].iloc[0]


# ----------------------------------------------------------------------------- real readers

# one set per layout family (the readers' own tests cover every fixture file)
FIXTURE_SETS = [["generic.csv"], ["invoices.csv", "payments.csv"], ["qb_invoices_payments.csv"], ["sap_en.txt"],
                ["sap_nl.xlsx"], ["xero_invoices.csv"], ["transactions.csv", "qb_aging.csv"]]


@pytest.mark.parametrize("names", FIXTURE_SETS, ids=lambda n: "+".join(n))
def test_every_layout_fixture_reconciles(names):
    paths = [LAYOUTS / n for n in names]
    if not all(p.exists() for p in paths):
        pytest.skip("layout fixture not present")
    led = load_ledger(paths)  # asserts the invariant itself
    rec = led.reconciliation()
    assert rec["balanced"].all() and rec["amount_balanced"].all()
    total = rec.iloc[-1]
    assert total["rows_read"] == total["kept"] + total["merged"] + total["skipped"] + total["rejected"]
    S.Invoices.validate(led.invoices)
    S.Payments.validate(led.payments)


def test_invoices_and_payments_files_are_matched_across_files():
    paths = [LAYOUTS / "invoices.csv", LAYOUTS / "payments.csv"]
    if not all(p.exists() for p in paths):
        pytest.skip("layout fixture not present")
    led = load_ledger(paths)
    applied = led.payments[led.payments[S.Payments.invoice_id].notna()]
    assert len(applied) > 0
    assert set(applied[S.Payments.invoice_id]) <= set(led.invoices[S.Invoices.invoice_id])


def test_mapping_file_path_is_loaded():
    data, mapping = LAYOUTS / "mapped_tx.csv", LAYOUTS / "mapping_tx.toml"
    if not (data.exists() and mapping.exists()):
        pytest.skip("mapping fixture not present")
    led = load_ledger([data], mapping=mapping)
    assert led.files["layout"].tolist() == ["mapping"]
    assert led.reconciliation()["balanced"].all()


# ----------------------------------------------------------------------------- simulate and recover

# Reference: the sample generator's ground truth (arinsights.sample) - invoices with their true
# amount, due date and paid date. Exports that carry the settlement (settlement dates, payments
# with invoice numbers, an aging snapshot of what is open, Xero paid status) must give the
# truth back exactly; a transaction list whose multi-invoice payments carry no invoice number
# is allocated oldest-first, which differs from the simulated customers' own choice on a few
# invoices; in SAP, open (uncleared) cash is allocated oldest-first too.
RECOVERY = {"generic": 1.0, "two_files": 1.0, "xero": 1.0, "quickbooks_aging": 1.0, "transactions": 0.9,
            "sap": 0.98}


@pytest.fixture(scope="module")
def sample_truth():
    sample = pytest.importorskip("arinsights.sample")
    return sample, sample.generate_ledger(n_customers=15, years=1, seed=3)


@pytest.mark.parametrize("layout", list(RECOVERY))
def test_simulated_ledger_is_recovered(layout, sample_truth, tmp_path):
    sample, led = sample_truth
    files = [p for p in sample.write_export(led, layout, tmp_path, seed=1, messy=True) if p.suffix != ".json"]
    got = load_ledger(files).invoices.set_index(S.Invoices.invoice_id)
    truth = led.invoices.set_index(S.Invoices.invoice_id)
    if layout == "quickbooks_aging":  # a snapshot of what is open at the end
        truth = truth[truth[S.Invoices.paid_date].isna()]
    assert set(got.index) == set(truth.index)
    got = got.loc[truth.index]
    assert (got[S.Invoices.amount] - truth[S.Invoices.amount]).abs().max() < 0.005
    assert (got[S.Invoices.due_date] == truth[S.Invoices.due_date]).all()
    tp, gp = truth[S.Invoices.paid_date], got[S.Invoices.paid_date]
    match = ((tp == gp) | (tp.isna() & gp.isna())).mean()
    assert match >= RECOVERY[layout]


def test_aging_export_listing_a_paid_invoice_does_not_show_it_open(tmp_path):
    # some aging/invoice-list exports also list invoices with nothing open: SI-2 was paid
    # before the report date. It must count as paid (from the report date), not as 500 open
    p = tmp_path / "aging.csv"
    p.write_text('"Company, Inc",,,,,,,\nA/R Aging Detail Report,,,,,,,\n"As of Jul 25, 2026",,,,,,,\n\n'
                 ",Date,Transaction type,Num,Customer full name,Due date,Amount,Open balance\n"
                 'Current,,,,,,,\n,07/11/2026,Invoice,SI-1,TACTICS,08/10/2026,"1,000.00",800.00\n'
                 ",07/01/2026,Invoice,SI-2,TACTICS,07/31/2026,500.00,0.00\n"
                 "Total for Current,,,,,,,800.00\nTOTAL,,,,,,,800.00\n")
    led = load_ledger(p)
    inv = led.invoices.set_index(S.Invoices.invoice_id)
    assert inv.loc["SI-2", S.Invoices.paid_date] == pd.Timestamp("2026-07-25")
    assert inv.loc["SI-2", S.Invoices.settled_by] == S.SETTLED_BEFORE_SNAPSHOT
    assert pd.isna(inv.loc["SI-1", S.Invoices.paid_date])
    assert led.quality["open_invoices"] == 1
    assert any("1 open invoice(s): 800.00 USD" in n for n in led.notes)
