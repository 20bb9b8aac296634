"""The ``arinsights`` command line.

Every command exits non-zero with a one-paragraph message (never a traceback) when the
input is at fault: a file that cannot be read, an unrecognised layout, an ambiguous date
order, an unknown report parameter.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .errors import ArinsightsError

# paths are checked by the readers, whose InputError names the file and the fix (a folder
# given as a file included), so the CLI prints "arinsights: error: ..." for every input mistake
LEDGER_ARG = click.argument("ledger", nargs=-1, required=True, type=click.Path(path_type=Path))
MAPPING_OPT = click.option("--mapping", type=click.Path(path_type=Path),
                           help="TOML mapping file for a layout arinsights does not recognise.")
SHEET_OPT = click.option("--sheet", help="Excel sheet to read when a workbook has several sheets with data.")
SETTINGS_OPT = click.option("--settings", "settings_path", type=click.Path(dir_okay=False, path_type=Path),
                            help="TOML file overriding thresholds (sections ingest, behaviour, playbook, report).")
AS_OF_OPT = click.option("--as-of", "as_of", help="Report date YYYY-MM-DD (default: the last date in the ledger).")


class _Group(click.Group):
    """Turn user-facing errors into a message and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ArinsightsError as exc:
            click.echo(f"arinsights: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="arinsights")
def main() -> None:
    """Accounts-receivable analytics: clean AR exports, learn how customers pay, act on it."""


def _settings(path: Path | None):
    from .settings import Settings

    return Settings.from_toml(path) if path else Settings()


def _load(ledger, mapping, settings, sheet=None):
    from .ingest.ledger import load_ledger

    return load_ledger([str(p) for p in ledger], mapping=str(mapping) if mapping else None, settings=settings,
                       sheet=sheet)


def _load_as_of(ledger, mapping, settings_path, sheet, as_of):
    """Settings, the cleaned ledger and the report date (given, or the ledger's last date)."""
    from .analysis import resolve_as_of

    settings = _settings(settings_path)
    led = _load(ledger, mapping, settings, sheet)
    return settings, led, resolve_as_of(led.invoices, led.payments, as_of)


@main.command()
@LEDGER_ARG
@MAPPING_OPT
@SHEET_OPT
@SETTINGS_OPT
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True)
def clean(ledger, mapping, sheet, settings_path, out):
    """Clean LEDGER file(s) into invoices and payments (Parquet), rejects (CSV) and a reconciliation."""
    ledger_obj = _load(ledger, mapping, _settings(settings_path), sheet)
    written = ledger_obj.write(out)
    click.echo(ledger_obj.summary())
    for label, path in written.items():
        click.echo(f"  {label}: {path}")


@main.command()
@click.option("--customers", default=300, show_default=True, type=click.IntRange(1))
@click.option("--years", default=2.0, show_default=True, type=click.FloatRange(0.25))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--layout", default="transactions", show_default=True,
              type=click.Choice(["generic", "transactions", "two_files", "quickbooks_aging", "xero", "sap"]))
@click.option("--end", default="2026-06-30", show_default=True, help="Last day of the generated history.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def sample(customers, years, seed, layout, end, out):
    """Write a generated ledger in an export layout, with its ground truth."""
    import pandas as pd

    from .errors import ParameterError
    from .sample import write_sample

    try:
        pd.Timestamp(end)
    except ValueError:
        raise ParameterError(f"--end must be a date written YYYY-MM-DD (e.g. 2026-06-30), got {end!r}") from None
    paths = write_sample(out, customers=customers, years=years, seed=seed, layout=layout, end=end)
    for p in paths:
        click.echo(str(p))


@main.command()
@LEDGER_ARG
@MAPPING_OPT
@SETTINGS_OPT
@SHEET_OPT
@AS_OF_OPT
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document instead of a table.")
def backtest(ledger, mapping, settings_path, sheet, as_of, as_json):
    """Rolling-origin backtest of the lateness classifier against its baselines."""
    from .analysis import behaviour_tables
    from .behaviour.lateness import backtest as run_backtest

    settings, led, when = _load_as_of(ledger, mapping, settings_path, sheet, as_of)
    b = settings.behaviour
    invoices, payments, _ = behaviour_tables(led.invoices, led.payments, when)  # known paid dates only
    result = run_backtest(invoices, payments, when, n_cutoffs=b.backtest_cutoffs,
                          grace_days=b.grace_days, random_state=b.random_state, trend_k=b.trend_k,
                          shrink_k=b.features_shrink_k)
    if as_json:
        doc = result.to_dict()
        doc["as_of"] = when.date().isoformat()
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    click.echo(f"Backtest as of {when.date()} (late = paid more than {b.grace_days} days after due)")
    click.echo("\nOverall")
    click.echo(result.overall.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    click.echo("\nPer cut-off")
    click.echo(result.cutoffs.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


@main.command()
@LEDGER_ARG
@MAPPING_OPT
@SETTINGS_OPT
@SHEET_OPT
@AS_OF_OPT
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def segments(ledger, mapping, settings_path, sheet, as_of, out):
    """Segment customers, recommend actions and write segments.csv and the worklist (CSV, XLSX)."""
    from .analysis import analyse
    from .playbook.worklist import write_worklist
    from .schema import Segments

    settings, led, when = _load_as_of(ledger, mapping, settings_path, sheet, as_of)
    result = analyse(led.invoices, led.payments, when, settings=settings, with_backtest=False)
    out.mkdir(parents=True, exist_ok=True)
    cols = list(Segments.to_schema().columns)
    table = result.segments[cols].round({Segments.open_amount: 2})
    table.to_csv(out / "segments.csv", index=False, date_format="%Y-%m-%d")
    written = write_worklist(result.worklist, out)
    counts = result.segments[Segments.segment].value_counts()
    click.echo(f"As of {when.date()}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    click.echo(f"  segments: {out / 'segments.csv'}")
    for label, path in written.items():
        click.echo(f"  {label}: {path}")


@main.command()
@click.option("--ledger", "ledger", multiple=True, required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Ledger export file (repeatable).")
@MAPPING_OPT
@SHEET_OPT
@SETTINGS_OPT
@AS_OF_OPT
@click.option("--period", help="Report period YYYY-MM (default: the as-of month).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True)
@click.option("--customer", "customers", multiple=True, help="Also render a profile for this customer id (repeatable).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def report(ledger, mapping, sheet, settings_path, as_of, period, out, customers, quiet):
    """Render the monthly report, the model validation and customer profiles as HTML."""
    from .reporting.runner import render_all

    paths = render_all(
        ledgers=[str(p) for p in ledger], mapping=str(mapping) if mapping else None, sheet=sheet,
        settings_path=str(settings_path) if settings_path else None, as_of=as_of, period=period,
        out=out, customers=list(customers), progress=not quiet, echo=click.echo,
    )
    for p in paths:
        click.echo(str(p))


if __name__ == "__main__":  # pragma: no cover
    main()
