"""Render the set of reports for one period: what ``arinsights report`` and ``make report`` run."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from ..errors import InputError
from .report import MONTHLY, PROFILE, VALIDATION, render_notebook, safe_filename


def _period(period: str | None, as_of: pd.Timestamp) -> str:
    if period is None:
        return as_of.strftime("%Y-%m")
    try:
        pd.Period(period, freq="M")
    except (ValueError, TypeError):
        raise InputError(f"--period must look like 2026-06, got {period!r}") from None
    if len(period) != 7:
        raise InputError(f"--period must look like 2026-06, got {period!r}")
    return period


def render_all(
    *,
    ledgers: list[str],
    mapping: str | None = None,
    sheet: str | None = None,
    settings_path: str | None = None,
    as_of: str | None = None,
    period: str | None = None,
    out: str | Path = "reports",
    customers: list[str] = (),
    progress: bool = True,
    echo: Callable[[str], None] = print,
    notebook_dir: str | Path | None = None,
) -> list[Path]:
    """Load the ledger once to settle the as-of date, then render every report notebook.

    ``sheet`` is the Excel sheet to read in workbooks with several sheets of data (as in
    :func:`~arinsights.ingest.ledger.load_ledger`); it reaches every notebook as its
    ``sheet`` parameter (``None`` when not given: each workbook's only data sheet).

    Returns the HTML paths written under ``out/<period>/``.
    """
    from ..analysis import resolve_as_of
    from ..ingest.ledger import load_ledger
    from ..settings import Settings

    ledgers = [str(Path(p).resolve()) for p in ledgers]
    mapping = str(Path(mapping).resolve()) if mapping else None
    settings_path = str(Path(settings_path).resolve()) if settings_path else None
    settings = Settings.from_toml(settings_path) if settings_path else Settings()
    # Fail fast on unreadable input, before any notebook starts.
    ledger = load_ledger(ledgers, mapping=mapping, settings=settings, sheet=sheet)
    when = resolve_as_of(ledger.invoices, ledger.payments, as_of)
    per = _period(period, when)
    target = Path(out) / per
    subtitle = f"As of {when.strftime('%d %B %Y').lstrip('0')}  ·  period {per}"
    common = {"ledger": ledgers, "mapping": mapping, "sheet": sheet, "settings_path": settings_path,
              "as_of": when.date().isoformat()}
    written = []
    for name in (MONTHLY, VALIDATION):
        echo(f"rendering {name} ...")
        params = dict(common, period=per) if name == MONTHLY else dict(common)
        r = render_notebook(name, params, target, notebook_dir=notebook_dir, subtitle=subtitle, progress=progress)
        written.append(r.html)
    for cid in customers:
        echo(f"rendering customer profile {cid} ...")
        r = render_notebook(PROFILE, dict(common, customer_id=str(cid)), target / "customers",
                            notebook_dir=notebook_dir, output_stem=f"customer_{safe_filename(cid)}",
                            subtitle=f"Customer {cid}  ·  {subtitle}", progress=progress)
        written.append(r.html)
    return written
