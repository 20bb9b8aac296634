"""Load one or more exports into a :class:`Ledger`, with a reconciliation of every row.

:func:`load_ledger` reads each file with :func:`arinsights.ingest.readers.read_export`,
cleans the union of their rows with :func:`arinsights.ingest.cleaning.clean_transactions`
(so invoice and payment numbers are matched across files) and checks that nothing was
lost: for every file and overall,

    rows read = kept + merged + skipped + rejected

and the parsed amounts add up the same way. A violation is a bug and raises
``AssertionError`` with the reconciliation table. Rows whose amount could not be parsed
(rejected by the reader) are counted apart as "amount unknown".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .._memory import release_memory
from ..errors import InputError
from ..schema import Invoices, Rejects, Skipped, Transactions
from ..settings import IngestSettings, Settings
from .cleaning import CleanResult, clean_transactions
from .readers._base import source_label

__all__ = ["Ledger", "load_ledger", "RECONCILIATION_COLUMNS"]

#: columns of :meth:`Ledger.reconciliation`
RECONCILIATION_COLUMNS = [
    "file", "layout", "rows_read", "kept", "merged", "skipped", "rejected", "balanced",
    "rows_amount_unknown", "amount_read", "amount_kept", "amount_merged", "amount_skipped",
    "amount_rejected", "amount_balanced",
]

_TOTAL = "TOTAL"


def _count_by_file(df: pd.DataFrame | None, files: pd.Index) -> tuple[pd.Series, pd.Series]:
    if df is None or len(df) == 0:
        z = pd.Series(0, index=files)
        return z, z.astype(float)
    f = df["file"]
    if isinstance(f.dtype, pd.CategoricalDtype):  # the kept rows: per category, without text per row
        f = f.cat.remove_unused_categories()
        labels = pd.Index(f.cat.categories.astype(object))
        codes = f.cat.codes.to_numpy()
        ok = codes >= 0
        n = pd.Series(np.bincount(codes[ok], minlength=len(labels)), index=labels)
        a = pd.Series(np.bincount(codes[ok], weights=df["amount"].to_numpy(dtype=float)[ok], minlength=len(labels)),
                      index=labels)
        return n.reindex(files, fill_value=0).astype("int64"), a.reindex(files, fill_value=0.0).astype(float)
    f = f.astype(object)
    n = f.value_counts().reindex(files, fill_value=0)
    a = df["amount"].astype(float).groupby(f).sum(min_count=0).reindex(files, fill_value=0.0)
    return n.astype("int64"), a.astype(float)


@dataclass
class Ledger:
    """The cleaned ledger of one load, with everything needed to account for each row.

    Attributes
    ----------
    invoices : pd.DataFrame
        :class:`~arinsights.schema.Invoices`, ordered by customer, invoice date and invoice
        number.
    payments : pd.DataFrame
        :class:`~arinsights.schema.Payments` (one row per allocation; unapplied cash has a
        missing invoice_id), ordered by customer, payment date, payment number, invoice
        number and amount.
    rejects : pd.DataFrame
        :class:`~arinsights.schema.Rejects` from the readers and from cleaning.
    skipped : pd.DataFrame
        :class:`~arinsights.schema.Skipped` rows (titles, subtotals, blank lines, ...).
    merged : pd.DataFrame
        :class:`~arinsights.schema.Merged` rows folded into another row.
    files : pd.DataFrame
        One row per file: file, layout, rows_read, amount_read (sum of the parsed amounts of
        all its rows), rows_amount_unknown (rows whose amount could not be parsed), notes.
    notes : list of str
        Plain-language notes from the readers (prefixed with the file) and from cleaning.
    kept : pd.DataFrame, optional
        file, row, kind, amount of the input rows kept by cleaning (file and kind as
        categoricals).
    quality : dict
        Quality counts from :func:`~arinsights.ingest.cleaning.clean_transactions`.
    """

    invoices: pd.DataFrame
    payments: pd.DataFrame
    rejects: pd.DataFrame
    skipped: pd.DataFrame
    merged: pd.DataFrame
    files: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    kept: pd.DataFrame | None = None
    quality: dict = field(default_factory=dict)

    def reconciliation(self) -> pd.DataFrame:
        """Where every row and every amount of each file went.

        Returns
        -------
        pd.DataFrame
            One row per file plus a ``TOTAL`` row: file, layout, rows_read, kept, merged,
            skipped, rejected, balanced (rows_read == kept + merged + skipped + rejected),
            rows_amount_unknown (rejected rows whose amount could not be parsed; they count
            as rows but not as amounts), amount_read, amount_kept, amount_merged,
            amount_skipped, amount_rejected, amount_balanced (amount_read equals the sum of
            the four within a cent). Amounts are sums of parsed magnitudes in each row's own
            currency: a conservation check, not a money total.
        """
        files = pd.Index(self.files["file"].astype(object), name="file")
        out = pd.DataFrame(index=files)
        out["layout"] = self.files["layout"].astype(object).to_numpy()
        out["rows_read"] = self.files["rows_read"].astype("int64").to_numpy()
        for name, df in (("kept", self.kept), ("merged", self.merged), ("skipped", self.skipped),
                         ("rejected", self.rejects)):
            n, a = _count_by_file(df, files)
            out[name] = n
            out["amount_" + name] = a
        if len(self.rejects):
            unknown = self.rejects[self.rejects["amount"].isna()]["file"].astype(object).value_counts()
            out["rows_amount_unknown"] = unknown.reindex(files, fill_value=0).astype("int64")
        else:
            out["rows_amount_unknown"] = 0
        out["amount_read"] = self.files["amount_read"].astype(float).to_numpy()
        out = out.reset_index()
        total = {c: out[c].sum() for c in out.columns if c not in ("file", "layout")}
        total.update(file=_TOTAL, layout="")
        out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
        parts = out[["kept", "merged", "skipped", "rejected"]].sum(axis=1)
        out["balanced"] = out["rows_read"].to_numpy() == parts.to_numpy()
        amt_parts = out[["amount_kept", "amount_merged", "amount_skipped", "amount_rejected"]].sum(axis=1)
        out["amount_balanced"] = np.isclose(out["amount_read"], amt_parts, rtol=1e-12, atol=0.005)
        for c in ("rows_read", "kept", "merged", "skipped", "rejected", "rows_amount_unknown"):
            out[c] = out[c].astype("int64")
        return out[RECONCILIATION_COLUMNS]

    def summary(self) -> str:
        """A short plain-language paragraph and the counts (printed by ``arinsights clean``)."""
        rec = self.reconciliation()
        t = rec[rec["file"] == _TOTAL].iloc[0]
        q = self.quality
        ok = bool(rec["balanced"].all() and rec["amount_balanced"].all())
        merged_rules = self.merged["rule"].value_counts() if len(self.merged) else pd.Series(dtype=int)
        skip_rules = self.skipped["rule"].value_counts() if len(self.skipped) else pd.Series(dtype=int)
        n_files = len(rec) - 1
        paragraph = (
            f"Read {n_files} file(s) with {t['rows_read']:,} rows: {t['kept']:,} kept, {t['merged']:,} merged into "
            f"other rows, {t['skipped']:,} skipped (titles, subtotals, blank lines) and {t['rejected']:,} rejected "
            "(see rejects.csv for each row and the reason). "
            + ("Every row and every amount is accounted for. " if ok else
               "WARNING: the rows or amounts do not add up; see reconciliation.csv. ")
            + f"The ledger has {len(self.invoices):,} invoices from "
            f"{self.invoices[Invoices.customer_id].nunique():,} customer(s), "
            f"of which {q.get('open_invoices', 0):,} are open"
            + (f" ({_money_by(q.get('open_amount_by_currency', {}))})" if q.get("open_amount_by_currency") else "")
            + "."
        )
        if t["rows_amount_unknown"]:
            paragraph += (f" {t['rows_amount_unknown']:,} rejected row(s) had an amount that could not be read "
                          "(amount unknown); they count as rows but not in the amount totals.")
        lines = [paragraph, "", "Counts:"]
        lines.append(f"  files read              {n_files:>10,}")
        for label, key in (("rows read", "rows_read"), ("kept", "kept"), ("merged", "merged"),
                           ("skipped", "skipped"), ("rejected", "rejected")):
            lines.append(f"  {label:<24}{t[key]:>10,}")
        for rule, n in merged_rules.items():
            lines.append(f"    merged: {rule:<22}{n:>8,}")
        for rule, n in skip_rules.items():
            lines.append(f"    skipped: {rule:<21}{n:>8,}")
        lines.append(f"  invoices                {len(self.invoices):>10,}")
        lines.append(f"  payment allocations     {len(self.payments):>10,}")
        lines.append(f"  open invoices           {q.get('open_invoices', 0):>10,}")
        lines.append(f"  due dates derived       {q.get('due_from_terms', 0) + q.get('due_from_default', 0):>10,}")
        lines.append(f"  unapplied payments      {q.get('unapplied_payments', 0):>10,}")
        lines.append(f"  overpayments            {q.get('overpayments', 0):>10,}")
        if q.get("unapplied_by_currency"):
            lines.append(f"  unapplied cash          {_money_by(q['unapplied_by_currency'])}")
        if q.get("currencies"):
            lines.append(f"  currencies              {', '.join(q['currencies'])}")
        if pd.notna(q.get("first_date", pd.NaT)):
            lines.append(f"  dates                   {q['first_date']:%Y-%m-%d} to {q['last_date']:%Y-%m-%d}")
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write the cleaned tables and the quality report.

        Parameters
        ----------
        out_dir : str or Path
            Created if missing.

        Returns
        -------
        dict of str to Path
            ``invoices`` (invoices.parquet), ``payments`` (payments.parquet), ``rejects``
            (rejects.csv), ``merged`` (merged.csv), ``reconciliation`` (reconciliation.csv),
            ``quality`` (quality.txt: the summary and the notes).
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "invoices": out / "invoices.parquet", "payments": out / "payments.parquet",
            "rejects": out / "rejects.csv", "merged": out / "merged.csv",
            "reconciliation": out / "reconciliation.csv", "quality": out / "quality.txt",
        }
        self.invoices.to_parquet(paths["invoices"], index=False)
        self.payments.to_parquet(paths["payments"], index=False)
        self.rejects.to_csv(paths["rejects"], index=False)
        self.merged.to_csv(paths["merged"], index=False)
        self.reconciliation().to_csv(paths["reconciliation"], index=False)
        text = self.summary() + "\n\nNotes:\n" + "\n".join("  - " + n for n in self.notes) + "\n"
        paths["quality"].write_text(text, encoding="utf-8")
        return paths


def _money_by(d: dict) -> str:
    return ", ".join(f"{v:,.2f} {k}" for k, v in sorted(d.items()))


def _read_export(path, *, mapping=None, settings=None, **kw):
    """Indirection so the reader can be swapped in tests."""
    from .readers import read_export

    return read_export(path, mapping=mapping, settings=settings, **kw)


def _resolve_mapping(mapping):
    if mapping is None or not isinstance(mapping, (str, Path)):
        return mapping
    from .mapping import load_mapping

    return load_mapping(mapping)


def _relabel(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """``frame`` with ``label`` as its file and in its rows' sources."""
    out = frame.copy()
    if "file" in out.columns:
        out["file"] = label
    return _with_sources(out, label)


def _with_sources(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """``frame`` with its rows' source ``label:row``."""
    if "source" not in frame.columns or "row" not in frame.columns or not len(frame):
        return frame
    out = frame.copy()
    out["source"] = (label + ":" + out["row"].astype("int64").astype(str)).astype(frame["source"].dtype)
    return out


_STRUCTURE_RULES = {"title", "blank", "header", "bucket_header", "subtotal", "total", "footer", "ruler",
                    "customer_header"}


def _no_data_what(skipped: pd.DataFrame) -> str:
    """Plain words for what a file without data rows holds (from its skipped rows)."""
    counts = skipped["rule"].astype(object).value_counts() if len(skipped) else pd.Series(dtype=int)
    rules = set(counts.index)
    if rules <= {"header", "blank"}:
        return "only the column names"
    detail = ", ".join(f"{n} {rule.replace('_', ' ')}" for rule, n in counts.items())
    if rules <= _STRUCTURE_RULES:
        return f"only titles, totals, headers and blank lines ({detail})"
    return f"only rows that are skipped ({detail})"


def _nan_sum(*series) -> float:
    return float(sum(s.astype(float).sum() for s in series if s is not None and len(s)))


def load_ledger(paths: str | Path | Iterable[str | Path], *, mapping=None,
                settings: Settings | IngestSettings | None = None, sheet: str | None = None) -> Ledger:
    """Read, clean and reconcile one or more export files.

    Parameters
    ----------
    paths : path or list of paths
        Export files (CSV, XLSX, Parquet, text). Several files load together - an invoices
        file and a payments file, or a history export and an aging snapshot - and their
        document numbers are matched across files.
    mapping : path or Mapping, optional
        A mapping file (or loaded :class:`~arinsights.ingest.mapping.Mapping`) applied to
        the files given with it.
    settings : Settings or IngestSettings, optional
        Only the ingest section is used.
    sheet : str, optional
        The sheet to read in Excel workbooks that have several sheets with data (default:
        the mapping's sheet, else the only non-empty sheet).

    Returns
    -------
    Ledger

    Raises
    ------
    InputError
        A file that cannot be read, the same file given twice, or files that hold no data
        rows at all (only column names, titles or totals).
    AssertionError
        If rows or amounts do not reconcile (a bug).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no files given: pass at least one export file")
    ingest = settings.ingest if isinstance(settings, Settings) else (settings or IngestSettings())
    resolved = [p.resolve() for p in paths]
    seen = {}
    for p, rp in zip(paths, resolved):
        if rp in seen:
            raise InputError("the same file was given twice; give each file once", file=str(p))
        seen[rp] = p
    mp = _resolve_mapping(mapping)

    txs, skips, rejs, file_rows, notes = [], [], [], [], []
    empty_files: list[tuple[str, str]] = []
    # a row's source names its file ("ledger.csv:17"); files of one name in different
    # folders name their paths instead, so that every source stays one row's
    names = Counter(source_label(str(p)) for p in paths)
    labels: set[str] = set()
    for p in paths:
        res = _read_export(p, mapping=mp, settings=ingest, **({"sheet": sheet} if sheet else {}))
        label = str(res.file)
        tx, sk, rj = res.transactions, res.skipped, res.rejects
        if label in labels:  # a reader that labels files by name: the path tells them apart
            label = str(p)
            tx, sk, rj = _relabel(tx, label), _relabel(sk, label), _relabel(rj, label)
        elif names[source_label(label)] > 1:
            tx, rj = _with_sources(tx, label), _with_sources(rj, label)
        labels.add(label)
        unknown = int(rj["amount"].isna().sum()) if len(rj) else 0
        file_rows.append({
            "file": label, "layout": res.layout, "rows_read": int(res.rows_read),
            "amount_read": _nan_sum(tx.get(Transactions.amount), sk.get(Skipped.amount), rj.get(Rejects.amount)),
            "rows_amount_unknown": unknown, "notes": "; ".join(res.notes),
        })
        notes.extend(f"{label}: {n}" for n in res.notes)
        if len(tx) == 0 and len(rj) == 0:
            empty_files.append((label, _no_data_what(sk)))
            notes.append(f"{label}: no data rows ({empty_files[-1][1]}); nothing was read from it")
        txs.append(tx)
        skips.append(sk)
        rejs.append(rj)
        del res, tx
        release_memory()  # the reader's working memory, before the next file or the cleaning

    if len(empty_files) == len(paths):  # nothing at all to clean: say so rather than load an empty ledger
        label, what = empty_files[0]
        others = f" (nor do the other {len(paths) - 1} file(s))" if len(paths) > 1 else ""
        raise InputError(f"the file has no data rows{others}: it holds {what}", file=label,
                         hint="Export the report again with the transactions (check its date range and filters).")
    nonempty = [t for t in txs if len(t)]
    if len(nonempty) > 1:
        tx_all = pd.concat(nonempty, ignore_index=True)
    else:  # one file with rows (the usual case): its frame as it is, no copy
        tx_all = nonempty[0].reset_index(drop=True) if nonempty else txs[0]
    del txs, nonempty  # only tx_all is cleaned: the readers' frames need not stay alive (memory)
    # hand the frame over to the cleaning without keeping a reference here: cleaning then frees
    # the reader's columns as soon as it no longer needs them (memory)
    handover = [tx_all]
    del tx_all
    clean: CleanResult = clean_transactions(handover.pop(), ingest)
    release_memory()
    reader_rejects = [r for r in rejs if len(r)]
    rejects = pd.concat(reader_rejects + [clean.rejects], ignore_index=True) if reader_rejects else clean.rejects
    rejects = rejects[list(Rejects.to_schema().columns)]
    rejects = rejects.sort_values(["file", "row"], kind="mergesort").reset_index(drop=True)
    skipped_nonempty = [s for s in skips if len(s)]
    skipped = pd.concat(skipped_nonempty, ignore_index=True) if skipped_nonempty else skips[0]
    files = pd.DataFrame(file_rows)
    # cleaning gives both tables in the canonical row order (the analysis' own: it then only
    # checks it, and keeps no sorted copy beside them)
    invoices, payments = clean.invoices, clean.payments
    clean.invoices = clean.payments = None
    ledger = Ledger(invoices=invoices, payments=payments, rejects=rejects, skipped=skipped,
                    merged=clean.merged, files=files, notes=notes + clean.notes, kept=clean.kept,
                    quality=clean.quality)
    rec = ledger.reconciliation()
    bad = rec[~(rec["balanced"] & rec["amount_balanced"])]
    assert bad.empty, "rows or amounts do not reconcile (a bug):\n" + bad.to_string(index=False)
    amount_unknown = int(files["rows_amount_unknown"].sum())
    if amount_unknown:
        ledger.notes.append(f"{amount_unknown} rejected row(s) had an amount that could not be read (amount "
                            "unknown); they are counted as rows but not in the amount totals.")
    return ledger
