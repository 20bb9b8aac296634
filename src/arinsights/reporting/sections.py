"""Every section of the report notebooks, as one package function returning something displayable.

The notebooks under ``notebooks/`` hold no logic: each cell is one call of a function here
plus one ``display``. A function returns one of

* :class:`IPython.display.Markdown` — prose whose numbers come from the tables (every
  customer name or other piece of data in it is escaped with :func:`~.format.md_esc`);
* :class:`IPython.display.HTML` — the KPI tiles (escaped);
* a pandas ``Styler`` from :func:`~.format.table` — formatted, escaped, no index;
* :class:`IPython.display.Image` — a chart rendered to PNG (the figure is closed, so the
  notebook shows it exactly once and the HTML embeds it).

Functions of the monthly report and the profile take an :class:`~arinsights.analysis.Analysis`
(``a``); the data-quality and first-look functions take a
:class:`~arinsights.ingest.ledger.Ledger` (``led``). Amounts in different currencies are never
added: sums are given per currency, and the KPI tiles and trend charts show the ledger's main
currency (:attr:`Analysis.currency`), saying so when there are others.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, Image, Markdown

from ..analysis import behaviour_tables
from ..errors import InputError
from ..schema import (CustomerWindows, Durations, Invoices, OpenInvoiceOutlook, Payments, PayRuns, SegmentEvidence,
                      Segments, Worklist, KIND_PAYMENT)
from ..playbook.actions import _money as action_money  # the amounts as the action texts write them
from . import plots
from .format import day, esc, md_esc, money, plural, table

__all__ = [
    "SEGMENT_LABELS", "SEGMENT_MEANING", "SEGMENT_DEFAULT_ACTION",
    # monthly report
    "summary_facts", "executive_summary", "kpi_tiles", "kpi_conventions", "aging_chart", "aging_table",
    "kpi_trend_chart", "segment_chart", "segment_table", "slipped_table", "habitual_table", "drifting_table",
    "pay_run_insights", "billing_date_table", "movement_matrix", "notable_moves", "worklist_table",
    "model_quality_note", "reconciliation_note", "reconciliation_table", "rejects_by_reason", "reject_examples",
    "ledger_notes",
    # customer profile
    "pick_customer", "customer_header", "customer_timeline", "customer_curve", "customer_pay_pattern",
    "customer_open_invoices", "customer_actions",
    # model validation
    "validation_verdict", "backtest_overall_table", "backtest_cutoff_table", "reliability_chart",
    "distribution_fit_table", "portfolio_fit_chart", "shrinkage_chart", "pay_run_summary", "pay_run_table",
    # first look
    "ledger_overview", "files_table", "amount_chart", "days_to_pay_chart", "terms_chart", "customer_size_chart",
    "top_customers_table",
]

#: Segment names for the reader.
SEGMENT_LABELS = {
    "reliable": "Reliable",
    "slipped": "Good customer who slipped",
    "drifting": "Drifting (paying later lately)",
    "irregular": "Irregular",
    "new": "New (too little history)",
    "habitual": "Habitual late payer",
    "ghost": "Gone quiet",
}
#: What each segment means, in plain words.
SEGMENT_MEANING = {
    "reliable": "Pays on time (or like clockwork on their own pay-run day); nothing open is out of character.",
    "slipped": "Normally pays on time, but something open now is older than they usually take.",
    "drifting": "Still a decent record, but their recent invoices were paid clearly later than before.",
    "irregular": "Neither reliable nor habitually late.",
    "new": "Fewer than the minimum number of paid invoices to judge.",
    "habitual": "Late most of the time, or by more than two weeks on a typical invoice.",
    "ghost": "Owes money and has paid nothing for a long time (or ever).",
}
#: The playbook's default action per segment.
SEGMENT_DEFAULT_ACTION = {
    "reliable": "None; wait for invoices still within their usual time.",
    "slipped": "Reminder, then a phone call; payment plan and credit limit if the balance is large.",
    "drifting": "Phone call; watch the credit limit.",
    "irregular": "Standard reminders.",
    "new": "Standard reminders.",
    "habitual": "Firm dunning and credit hold; agency when far overdue.",
    "ghost": "Final notice, then a collection agency (last resort).",
}
_ACTION_VERB = {
    "phone call": "Call", "reminder": "Send a reminder to", "payment plan": "Offer a payment plan to",
    "limit new credit": "Limit new credit for", "move billing date": "Move the billing date for",
    "firm dunning": "Send a firm dunning letter to", "credit hold": "Put on credit hold",
    "collection agency": "Final notice / agency for", "standard reminders": "Send standard reminders to",
    "wait": "Wait for", "none": "No action for",
}
_SEGMENT_PHRASE = {  # (one, several)
    "reliable": ("is reliable", "are reliable"),
    "slipped": ("is a good customer who slipped", "are good customers who slipped"),
    "drifting": ("is drifting (paying later lately)", "are drifting (paying later lately)"),
    "irregular": ("is irregular", "are irregular"),
    "new": ("is too new to judge", "are too new to judge"),
    "habitual": ("is a habitual late payer", "are habitual late payers"),
    "ghost": ("has gone quiet (owes money, pays nothing)", "have gone quiet (owe money, pay nothing)"),
}
_KPI_TILES = ("closing_ar", "pct_current", "dso_countback", "best_possible_dso", "add", "cei",
              "weighted_days_to_pay")
_KPI_CONVENTION_KEYS = ("currency", "as_of", "open_balance", "current_overdue", "aging", "months", "dso",
                        "best_possible_dso", "add", "cei", "weighted_days_to_pay", "pct_current")
_MODEL_LABELS = {"model": "Lateness model", "prior_late_share": "Customer's past late share",
                 "terms_only": "Payment terms only"}
_WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_E = SegmentEvidence


# --------------------------------------------------------------------------- helpers
def _image(fig) -> Image:
    """Render a figure to PNG (deterministic bytes) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return Image(data=buf.getvalue(), format="png")


def _md(text: str) -> Markdown:
    """Markdown output with every dollar sign written as an entity: Jupyter and nbconvert read
    ``$...$`` as LaTeX maths, which would swallow text between two amounts."""
    return Markdown(text.replace("$", "&#36;"))


def _amount2(v) -> str:
    """An amount without a currency symbol (sums over several currencies, conservation checks only)."""
    return "-" if v is None or pd.isna(v) else f"{float(v):,.2f}"


def _main_currency(a) -> str:
    return str(a.currency)


def _customer_label(df: pd.DataFrame) -> pd.Series:
    """Customer name where known, else the id."""
    ids = df[Segments.customer_id].astype(object)
    if Segments.customer_name in df:
        names = df[Segments.customer_name].astype(object)
        return names.where(names.notna() & (names.astype(str).str.strip() != ""), ids)
    return ids


def _detail(reasons: pd.Series) -> pd.Series:
    """The action detail of a reasons text ('what to do | the customer's numbers')."""
    return reasons.astype(str).str.split(" | ", n=1, regex=False).str[0]


def _week_detail(detail: str, action: str, open_amount: float, currency: str) -> str:
    """An action's detail for a "This week" bullet, which already names the action and the
    open amount: without a leading "<action>: " and without "<amount> open" (the same
    amount, in the worklist's words)."""
    prefix = f"{action}: "
    if detail.startswith(prefix):
        detail = detail[len(prefix):]
    amount = str(action_money(np.array([open_amount]), np.array([currency], dtype=object))[0])
    if amount:
        for said in (f"{amount} open, ", f"{amount} open; "):
            detail = detail.replace(said, "")
        detail = detail.removesuffix(f": {amount} open").removesuffix(f"{amount} open")
    return detail


def _evidence(reasons: pd.Series) -> pd.Series:
    """The customer's numbers: the last part of a reasons text."""
    return reasons.astype(str).str.rsplit(" | ", n=1).str[-1]


def _ordinal(n) -> str:
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def pay_run_text(pattern: pd.Series, run_day: pd.Series) -> pd.Series:
    """Plain words for a pay run: 'Tuesdays', 'the 15th', 'month end', 'no fixed run'."""
    pattern = pattern.astype(object).to_numpy()
    d = pd.to_numeric(run_day, errors="coerce").to_numpy(dtype=float)
    out = np.full(len(pattern), "no fixed run", dtype=object)
    ok = np.isfinite(d)
    wk = (pattern == "weekday") & ok
    out[wk] = [_WEEKDAYS[int(x) % 7] for x in d[wk]]
    dom = (pattern == "day_of_month") & ok
    out[dom] = ["the " + _ordinal(round(x)) for x in d[dom]]
    out[pattern == "month_end"] = "month end"
    return pd.Series(out, index=run_day.index if isinstance(run_day, pd.Series) else None)


def _sum_by_currency(df: pd.DataFrame, amount: str, currency: str | None = None) -> pd.Series:
    """Amount per currency (one entry when the frame has no currency column)."""
    if df.empty:
        return pd.Series(dtype=float)
    if currency and currency in df:
        return df.groupby(df[currency].astype(str), sort=True)[amount].sum()
    return pd.Series({"": float(df[amount].sum())})


def money_text(amounts: pd.Series, default_currency: str = "USD", *, compact: bool = True) -> str:
    """'$412k' or '$412k and €3k' for per-currency sums (never added together)."""
    amounts = amounts[amounts.abs() > 0.005] if len(amounts) else amounts
    if not len(amounts):
        return money(0.0, default_currency, compact=compact)
    parts = [money(v, c or default_currency, compact=compact) for c, v in amounts.sort_values(ascending=False).items()]
    return " and ".join(parts)


def _segments_currency(a) -> str | None:
    return _E.currency if _E.currency in a.segments else None


def _with_currency(a, frame: pd.DataFrame) -> pd.Series:
    """Currency of each row of a customer-level frame (from the segments), else the main one."""
    cur = _main_currency(a)
    seg = a.segments
    if _E.currency in seg:
        lookup = seg.drop_duplicates(Segments.customer_id).set_index(Segments.customer_id)[_E.currency]
        return frame[Segments.customer_id].map(lookup).fillna(cur).reset_index(drop=True)
    return pd.Series(cur, index=range(len(frame)))


def _kpis(a) -> pd.DataFrame:
    k = a.kpi_summary
    if "currency" in k:
        k = k[k["currency"] == _main_currency(a)]
    return k.set_index("kpi")


def _month_name(period: str | None) -> str:
    if period is None or (isinstance(period, float) and np.isnan(period)):
        return "last month"
    return pd.Period(str(period), freq="M").strftime("%B %Y")


def _other_currencies(a) -> list[str]:
    inv = a.invoices
    if Invoices.currency not in inv:
        return []
    return sorted(set(inv[Invoices.currency].astype(str)) - {_main_currency(a)})


# --------------------------------------------------------------------------- monthly report
def summary_facts(a) -> dict[str, Any]:
    """The numbers behind the executive summary, straight from the analysis tables.

    Returns
    -------
    dict
        ``currency``, ``as_of``; KPI values ``total_ar``, ``total_ar_change``, ``pct_current``,
        ``pct_current_prev``, ``dso``, ``dso_change``, ``best_dso``, ``previous_month``;
        ``segment_counts`` (Series: customers per segment), ``action_counts`` (customers per
        primary recommended action), ``slipped_n``, ``slipped_amount`` (Series per
        currency), ``slipped_billing_n`` (slipped customers with a billing-date
        recommendation), ``habitual_n``, ``habitual_amount`` (per currency),
        ``biggest`` (dict: customer, customer_id, amount, currency, segment; None when
        nothing is open) and ``this_week`` (DataFrame: the worklist's first action of each of
        the five customers with the largest value at risk among actions due within seven days
        of ``as_of``; "wait" and "none" are not actions).
    """
    seg = a.segments
    cur = _main_currency(a)
    curcol = _segments_currency(a)
    k = _kpis(a)

    def kv(name, col="value"):
        return float(k.loc[name, col]) if name in k.index else float("nan")

    slipped = seg[seg[Segments.segment] == "slipped"]
    habitual = seg[seg[Segments.segment] == "habitual"]
    billing = a.actions[a.actions[Worklist.action] == "move billing date"][Segments.customer_id]
    owing = seg[seg[Segments.open_amount] > 0.005]
    biggest = None
    if len(owing):
        top = owing.sort_values([Segments.open_amount, Segments.customer_id], ascending=[False, True]).iloc[0]
        biggest = {"customer": _customer_label(owing.loc[[top.name]]).iloc[0], "customer_id": top[Segments.customer_id],
                   "amount": float(top[Segments.open_amount]),
                   "currency": str(top[curcol]) if curcol else cur, "segment": str(top[Segments.segment])}
    wl = a.worklist
    soon = wl[wl[Worklist.next_action_date].notna()
              & (pd.to_datetime(wl[Worklist.next_action_date]) <= a.as_of + pd.Timedelta(days=7))
              & ~wl[Worklist.action].isin(["wait", "none"])]
    this_week = (soon.sort_values(Worklist.value_at_risk, ascending=False, kind="mergesort")
                 .drop_duplicates(Worklist.customer_id, keep="first").head(5))
    return {
        "currency": cur,
        "as_of": pd.Timestamp(a.as_of),
        "total_ar": kv("closing_ar"), "total_ar_change": kv("closing_ar", "change"),
        "pct_current": kv("pct_current"), "pct_current_prev": kv("pct_current", "previous"),
        "dso": kv("dso_countback"), "dso_change": kv("dso_countback", "change"),
        "best_dso": kv("best_possible_dso"),
        "previous_month": k["previous_month"].iloc[0] if "previous_month" in k and len(k) else None,
        "segment_counts": seg[Segments.segment].value_counts(),
        "action_counts": seg[Segments.action].value_counts(),
        "slipped_n": len(slipped),
        "slipped_amount": _sum_by_currency(slipped, Segments.open_amount, curcol),
        "slipped_billing_n": int(slipped[Segments.customer_id].isin(billing).sum()),
        "habitual_n": len(habitual),
        "habitual_amount": _sum_by_currency(habitual, Segments.open_amount, curcol),
        "biggest": biggest,
        "this_week": this_week,
    }


def _change_words(change: float, unit: str, fmt) -> str:
    if not np.isfinite(change) or abs(change) < 1e-9:
        return "unchanged"
    return f"{'up' if change > 0 else 'down'} {fmt(abs(change))}{unit}"


def executive_summary(a) -> Markdown:
    """Plain sentences from the numbers: AR and its change, % current, DSO, the customer groups,
    the biggest exposure, the habitual late payers and what to do this week."""
    f = summary_facts(a)
    cur = f["currency"]
    prev = _month_name(f["previous_month"])
    lines = []
    if np.isfinite(f["total_ar"]):
        lines.append(
            f"As of **{day(f['as_of'])}** customers owe **{money(f['total_ar'], cur, compact=True)}** "
            f"({_change_words(f['total_ar_change'], '', lambda v: money(v, cur, compact=True))} from the end of {prev}). "
            f"**{f['pct_current']:.0f}%** of it is not yet due ({f['pct_current_prev']:.0f}% at the end of {prev}). "
            f"Days sales outstanding (DSO) is **{f['dso']:.1f} days** "
            f"({_change_words(f['dso_change'], ' days', lambda v: f'{v:.1f}')}); if every customer paid exactly "
            f"on time it would be {f['best_dso']:.1f} days.")
    others = _other_currencies(a)
    if others:
        lines.append(f"Figures above are in {esc(cur)}; the ledger also has {esc(', '.join(others))}, "
                     "which are never added in.")
    counts = f["segment_counts"]
    if len(counts):
        parts = [f"{int(counts[s]):,} {_SEGMENT_PHRASE[s][int(counts[s]) != 1]}"
                 for s in plots.SEGMENT_ORDER if s in counts.index and counts[s] > 0]
        groups = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
        lines.append(f"Of {plural(int(counts.sum()), 'customer')}, {groups}.")
    ac = f["action_counts"]
    if len(ac):
        lines.append("Recommended next step per customer: "
                     + ", ".join(f"{esc('no action' if act == 'none' else act)} {n:,}" for act, n in ac.items())
                     + ".")
    if f["slipped_n"]:
        text = (f"**{plural(f['slipped_n'], 'good customer')} slipped**, holding "
                f"**{money_text(f['slipped_amount'], cur)}**")
        if f["slipped_billing_n"]:
            one = f["slipped_billing_n"] == 1
            text += (f"; {f['slipped_billing_n']} of them {'pays' if one else 'pay'} on a fixed run day and "
                     f"{'its' if one else 'their'} invoices tend to fall due just after it (moving the billing date "
                     "would help)")
        lines.append(text + ". They get patience and a phone call, not a collector.")
    else:
        lines.append("No good customer has slipped.")
    b = f["biggest"]
    if b is not None:
        lines.append(f"The biggest single exposure is **{md_esc(b['customer'])}** with "
                     f"{money(b['amount'], b['currency'], compact=True)} open "
                     f"({SEGMENT_LABELS.get(b['segment'], b['segment']).lower()}).")
    if f["habitual_n"]:
        lines.append(f"{plural(f['habitual_n'], 'habitual late payer')} owe "
                     f"{money_text(f['habitual_amount'], cur)}.")
    text = "\n\n".join(lines)
    week = f["this_week"]
    if len(week):
        text += "\n\n**This week** (largest value at risk first):\n\n"
        names = _customer_label(week)
        curs = _with_currency(a, week)
        for name, act, when, amt, c, det in zip(names, week[Worklist.action], week[Worklist.next_action_date],
                                               week[Worklist.open_amount], curs, _detail(week[Worklist.reasons])):
            verb = _ACTION_VERB.get(str(act), str(act).capitalize() + ":")
            det = _week_detail(det, str(act), amt, c)
            text += (f"- {esc(verb)} **{md_esc(name)}** by {day(when)} ({money(amt, c, compact=True)} open)"
                     + (f": {md_esc(det)}.\n" if det else ".\n"))
    else:
        text += "\n\nNothing needs chasing in the next seven days."
    return _md(text)


def _tile_value(unit: str, v: float, cur: str) -> str:
    if not np.isfinite(v):
        return "-"
    if unit == "amount":
        return money(v, cur, compact=True)
    if unit == "percent":
        return f"{v:.0f}%"
    return f"{v:.1f} days"


def kpi_tiles(a) -> HTML:
    """Tiles for total AR, % current, DSO, best possible DSO, ADD, CEI and average days to pay,
    each with its change against the previous month (green when better, red when worse)."""
    cur = _main_currency(a)
    k = _kpis(a)
    tiles = []
    for name in _KPI_TILES:
        if name not in k.index:
            continue
        r = k.loc[name]
        unit = str(r["unit"])
        change = float(r["change"])
        if np.isfinite(change) and abs(change) > 1e-9:
            arrow = "▲" if change > 0 else "▼"
            colour = "#2e7d32" if bool(r["improved"]) else "#c62828"
            mag = (money(abs(change), cur, compact=True) if unit == "amount"
                   else f"{abs(change):.1f} pts" if unit == "percent" else f"{abs(change):.1f} days")
            delta = f"{arrow} {mag}"
        else:
            colour, delta = "#666", "no change"
        tiles.append(
            '<div style="flex:1 1 130px;border:1px solid #ddd;border-radius:6px;padding:8px 10px;min-width:130px">'
            f'<div style="font-size:12px;color:#555">{esc(r["label"])}</div>'
            f'<div style="font-size:22px;font-weight:bold">{esc(_tile_value(unit, float(r["value"]), cur))}</div>'
            f'<div style="font-size:12px;color:{colour}">{esc(delta)} vs {esc(_month_name(r["previous_month"]))}</div>'
            "</div>")
    return HTML('<div style="display:flex;flex-wrap:wrap;gap:8px;margin:8px 0">' + "".join(tiles) + "</div>")


def kpi_conventions(keys=_KPI_CONVENTION_KEYS) -> Markdown:
    """How each KPI is computed, in the words of :data:`arinsights.playbook.kpis.CONVENTIONS`."""
    from ..playbook.kpis import CONVENTIONS

    return _md("\n".join(f"- {esc(CONVENTIONS[k])}" for k in keys if k in CONVENTIONS))


def aging_chart(a, *, ax=None) -> Image:
    """Bar chart of open AR by days past due (main currency)."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    plots.plot_aging(a.aging, currency=_main_currency(a), ax=ax)
    return _image(fig)


def aging_table(a):
    """Open amount, invoices and share per aging bucket, with a total row (every currency).

    Columns: Currency, Days past due, Open amount, Invoices, Share.
    """
    ag = a.aging.copy()
    if "currency" not in ag:
        ag["currency"] = _main_currency(a)
    order = {b: i for i, b in enumerate(plots.BUCKET_ORDER)}
    ag = ag.assign(_o=ag["bucket"].map(order)).sort_values(["currency", "_o"])
    tot = ag.groupby("currency", as_index=False).agg(open_amount=("open_amount", "sum"), n_invoices=("n_invoices", "sum"))
    tot["bucket"], tot["share"], tot["_o"] = "total", 1.0, 99
    ag = pd.concat([ag, tot], ignore_index=True).sort_values(["currency", "_o"], kind="mergesort")
    ag["bucket"] = ag["bucket"].replace({"current": "not yet due"})
    show = ag[["currency", "bucket", "open_amount", "n_invoices", "share"]].reset_index(drop=True)
    return table(show, money_columns=["open_amount"], currency=show["currency"], int_columns=["n_invoices"],
                 percent_columns=["share"],
                 rename={"currency": "Currency", "bucket": "Days past due", "open_amount": "Open amount",
                         "n_invoices": "Invoices", "share": "Share"})


def kpi_trend_chart(a) -> Image:
    """Twelve-month DSO / best possible DSO / ADD (left) and CEI (right), main currency."""
    m = a.monthly
    if "currency" in m:
        m = m[m["currency"] == _main_currency(a)]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4))
    plots.plot_kpi_trend(m, {"dso_countback": "DSO", "best_possible_dso": "Best possible DSO",
                             "add": "Average days delinquent"}, ylabel="days", title="Days sales outstanding", ax=ax1)
    plots.plot_kpi_trend(m, {"cei": "CEI"}, ylabel="% collected of what could be", title="Collection effectiveness",
                         ax=ax2)
    ax2.set_ylim(0, max(105.0, float(np.nanmax(m["cei"])) + 5) if len(m) and m["cei"].notna().any() else 105.0)
    ax1.set_ylim(bottom=0)
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    return _image(fig)


def segment_chart(a) -> Image:
    """Open balance and customer count by segment."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    plots.plot_segments(a.segments, currency=_main_currency(a), labels=SEGMENT_LABELS, ax=ax)
    return _image(fig)


def segment_table(a):
    """Per segment: customers, open amount (per currency), what it means, default action.

    Columns: Group, Customers, Open amount, What it means, Default action.
    """
    seg = a.segments
    curcol = _segments_currency(a)
    cur = _main_currency(a)
    rows = []
    for s in plots.SEGMENT_ORDER:
        part = seg[seg[Segments.segment] == s]
        if part.empty:
            continue
        rows.append({"group": SEGMENT_LABELS[s], "customers": len(part),
                     "open": money_text(_sum_by_currency(part, Segments.open_amount, curcol), cur, compact=False),
                     "meaning": SEGMENT_MEANING[s], "action": SEGMENT_DEFAULT_ACTION[s]})
    df = pd.DataFrame(rows, columns=["group", "customers", "open", "meaning", "action"])
    return table(df, int_columns=["customers"],
                 rename={"group": "Group", "customers": "Customers", "open": "Open amount",
                         "meaning": "What it means", "action": "Default action"})


def _segment_rows(a, segment: str) -> pd.DataFrame:
    seg = a.segments
    part = seg[seg[Segments.segment] == segment]
    return part.sort_values([Segments.open_amount, Segments.customer_id], ascending=[False, True],
                            kind="mergesort").reset_index(drop=True)


def _segment_reason_text(reasons: pd.Series) -> pd.Series:
    """'why in this group | what to do | numbers' -> 'why; numbers' (the action has its own column)."""
    parts = reasons.astype(str).str.split(" | ", regex=False)
    return parts.str[0].str.split(": ", n=1).str[-1] + "; " + parts.str[-1]


def slipped_table(a, *, max_rows: int | None = None):
    """Good customers who slipped, largest open amount first.

    Columns: Customer, Open amount, Oldest open invoice (days), Usually pays within (p80, days),
    Pay run, Recommended action, Next action, Reasons.
    """
    p = _segment_rows(a, "slipped")
    df = pd.DataFrame({
        "customer": _customer_label(p), "open": p[Segments.open_amount],
        "oldest": p[_E.oldest_open_age], "p80": p[_E.p80_days],
        "run": pay_run_text(p[_E.pay_run_pattern], p[_E.pay_run_day]),
        "action": p[Segments.action], "next": p[Segments.next_action_date],
        "reasons": _segment_reason_text(p[Segments.reasons]),
    })
    return table(df, money_columns=["open"], currency=_with_currency(a, p), int_columns=["oldest", "p80"],
                 date_columns=["next"], max_rows=max_rows or a.settings.report.max_table_rows,
                 rename={"customer": "Customer", "open": "Open amount", "oldest": "Oldest open invoice (days)",
                         "p80": "Usually pays within (days, p80)", "run": "Pay run", "action": "Recommended action",
                         "next": "Next action", "reasons": "Reasons"})


def habitual_table(a, *, max_rows: int | None = None):
    """Habitual late payers, largest open amount first.

    Columns: Customer, Open amount, Paid on time, Typical days late, Most days past due,
    Recommended action, Next action, Reasons.
    """
    p = _segment_rows(a, "habitual")
    df = pd.DataFrame({
        "customer": _customer_label(p), "open": p[Segments.open_amount], "on_time": p[_E.on_time_share],
        "late": p[_E.median_days_late], "dpd": p[_E.max_days_past_due], "action": p[Segments.action],
        "next": p[Segments.next_action_date], "reasons": _segment_reason_text(p[Segments.reasons]),
    })
    return table(df, money_columns=["open"], currency=_with_currency(a, p), percent_columns=["on_time"],
                 int_columns=["late", "dpd"], date_columns=["next"],
                 max_rows=max_rows or a.settings.report.max_table_rows,
                 rename={"customer": "Customer", "open": "Open amount", "on_time": "Paid on time",
                         "late": "Typical days late", "dpd": "Most days past due", "action": "Recommended action",
                         "next": "Next action", "reasons": "Reasons"})


def drifting_table(a, *, max_rows: int | None = None):
    """Customers whose recent invoices were paid clearly later than before.

    Columns: Customer, Open amount, Recent days to pay, Used to pay within (p80), Recommended
    action, Next action, Reasons.
    """
    p = _segment_rows(a, "drifting")
    df = pd.DataFrame({
        "customer": _customer_label(p), "open": p[Segments.open_amount], "recent": p[_E.recent_mean_days_to_pay],
        "before": p[_E.long_run_p80_days], "action": p[Segments.action], "next": p[Segments.next_action_date],
        "reasons": _segment_reason_text(p[Segments.reasons]),
    })
    return table(df, money_columns=["open"], currency=_with_currency(a, p), int_columns=["recent", "before"],
                 date_columns=["next"], max_rows=max_rows or a.settings.report.max_table_rows,
                 rename={"customer": "Customer", "open": "Open amount", "recent": "Recent days to pay (average)",
                         "before": "Used to pay within (days, p80)", "action": "Recommended action",
                         "next": "Next action", "reasons": "Reasons"})


def pay_run_insights(a) -> Markdown:
    """How many customers pay on a fixed run, and how many would gain from a new billing date."""
    pr = a.pay_runs
    counts = pr[PayRuns.pattern].value_counts()
    n_week, n_dom, n_end = (int(counts.get(k, 0)) for k in ("weekday", "day_of_month", "month_end"))
    n_runs = n_week + n_dom + n_end
    billing = a.actions[a.actions[Worklist.action] == "move billing date"]
    text = (f"{plural(n_runs, 'customer')} of {len(pr):,} pay on a regular run: {n_week:,} on a fixed weekday, "
            f"{n_dom:,} on a fixed day of the month and {n_end:,} at month end. "
            f"Chasing such a customer before their next run has passed only annoys them; "
            "the recommendations wait for it. ")
    if len(billing):
        text += (f"For **{plural(billing[Segments.customer_id].nunique(), 'customer')}** the run explains "
                 "most of their lateness: invoices fall due just after their run and wait for the next one. "
                 "Moving their billing date (table below) gets the money a run earlier.")
    else:
        text += "No customer's lateness is explained by their pay run, so no billing date needs to move."
    return _md(text)


def billing_date_table(a, *, max_rows: int | None = None):
    """Billing-date recommendations: customer, pay run, open amount, recommendation.

    Columns: Customer, Group, Pay run, Open amount, Recommendation.
    """
    act = a.actions[a.actions[Worklist.action] == "move billing date"]
    act = act.sort_values([Segments.open_amount, Segments.customer_id], ascending=[False, True], kind="mergesort")
    seg = a.segments.drop_duplicates(Segments.customer_id).set_index(Segments.customer_id)
    ids = act[Segments.customer_id]
    run = pay_run_text(ids.map(seg[_E.pay_run_pattern]) if _E.pay_run_pattern in seg else pd.Series("none", index=ids.index),
                       ids.map(seg[_E.pay_run_day]) if _E.pay_run_day in seg else pd.Series(np.nan, index=ids.index))
    df = pd.DataFrame({"customer": _customer_label(act).to_numpy(),
                       "group": act[Segments.segment].map(SEGMENT_LABELS).to_numpy(),
                       "run": run.to_numpy(), "open": act[Segments.open_amount].to_numpy(),
                       "what": _detail(act[Segments.reasons]).to_numpy()})
    return table(df, money_columns=["open"], currency=_with_currency(a, act.reset_index(drop=True)),
                 max_rows=max_rows or a.settings.report.max_table_rows,
                 rename={"customer": "Customer", "group": "Group", "run": "Pay run", "open": "Open amount",
                         "what": "Recommendation"})


def movement_matrix(a):
    """Customers per (last month's group, this month's group); blank without a previous month.

    Columns: Last month, then one column per current group (and "gone").
    """
    from ..playbook.movement import segment_movement

    if a.previous is None:
        return _md("There is no earlier month in the ledger to compare with.")
    m = segment_movement(a.previous.segments, a.segments)
    m = m.loc[(m.sum(axis=1) > 0), (m.sum(axis=0) > 0)]
    labels = {**SEGMENT_LABELS, "not present": "not listed", "gone": "no longer listed"}
    df = m.rename(index=labels, columns=labels).reset_index()
    df = df.rename(columns={"previous_segment": "Last month \u2192 now"})
    df.columns.name = None
    return table(df)


def notable_moves(a, *, max_rows: int = 15):
    """Customers who changed group since last month, most urgent change first.

    Columns: Customer, Change, Last month, Now, Open amount.
    """
    from ..playbook.movement import movement_summary

    if a.previous is None:
        return _md("There is no earlier month in the ledger to compare with.")
    ms = movement_summary(a.previous.segments, a.segments)
    ms = ms[ms["change"] != "unchanged"].reset_index(drop=True)
    if ms.empty:
        return _md("No customer changed group since last month.")
    labels = {**SEGMENT_LABELS, "not present": "not listed", "gone": "no longer listed"}
    df = pd.DataFrame({"customer": _customer_label(ms), "change": ms["change"],
                       "prev": ms["previous_segment"].map(labels), "now": ms["current_segment"].map(labels),
                       "open": ms["open_amount"]})
    return table(df, money_columns=["open"], currency=_with_currency(a, ms), max_rows=max_rows,
                 rename={"customer": "Customer", "change": "Change", "prev": "Last month", "now": "Now",
                         "open": "Open amount"})


def worklist_table(a, *, max_rows: int = 25):
    """The top of the worklist, ordered by value at risk.

    Columns: Customer, Group, Action, When, Open amount, Chance not paid in 30 days, Value at
    risk, What to do.
    """
    wl = a.worklist.head(max_rows).reset_index(drop=True)
    df = pd.DataFrame({
        "customer": _customer_label(wl), "group": wl[Worklist.segment].map(SEGMENT_LABELS),
        "action": wl[Worklist.action], "when": wl[Worklist.next_action_date], "open": wl[Worklist.open_amount],
        "p": wl[Worklist.p_not_paid_30], "var": wl[Worklist.value_at_risk], "what": _detail(wl[Worklist.reasons]),
    })
    return table(df, money_columns=["open", "var"], currency=_with_currency(a, wl), percent_columns=["p"],
                 date_columns=["when"],
                 rename={"customer": "Customer", "group": "Group", "action": "Action", "when": "When",
                         "open": "Open amount", "p": "Chance not paid in 30 days", "var": "Value at risk",
                         "what": "What to do"})


def model_quality_note(a) -> Markdown:
    """The lateness model's back-test in words a CFO understands, beside the simple baselines."""
    bt = a.backtest
    if bt is None or bt.overall is None or bt.overall.empty:
        why = " ".join(n for n in a.notes if "acktest" in n or "classifier" in n)
        return _md("The lateness model was not back-tested for this report. " + esc(why))
    ov = bt.overall.set_index("model")
    m = ov.loc["model"]
    n_cut = int(bt.cutoffs["cutoff"].nunique())
    auc = float(m["roc_auc"])
    text = (f"We re-ran the lateness model as if it were each of the last "
            f"{n_cut} month ends and checked it against what then happened to {int(m['n']):,} invoices. "
            f"Given one invoice that was paid late and one that was not, it picked the late one "
            f"**{round(auc * 10):.0f} times in 10** (ROC-AUC {auc:.2f}; 0.5 is a coin toss, 1.0 perfect)")
    if "prior_late_share" in ov.index:
        base = float(ov.loc["prior_late_share", "roc_auc"])
        if auc > base + 0.01:
            verdict = "better than"
        elif auc < base - 0.01:
            verdict = "worse than"
        else:
            verdict = "about as good as"
        text += (f", {verdict} judging each customer by their past lateness alone ({base:.2f})")
    if "terms_only" in ov.index:
        text += f" and far better than by payment terms alone ({float(ov.loc['terms_only', 'roc_auc']):.2f})" \
            if auc > float(ov.loc["terms_only", "roc_auc"]) + 0.05 else \
            f"; payment terms alone score {float(ov.loc['terms_only', 'roc_auc']):.2f}"
    text += (". The payment-timing estimates (\"usually pays within\", the chance of payment in the next 30 days) "
             "come from each customer's own history, blended with the whole book when the history is short.")
    return _md(text)


def _rejects_reason_pattern(reason: pd.Series) -> pd.Series:
    """Reasons without the quoted values: "Date '02/30/2025' is not a date" -> "Date ... is not a date"."""
    return reason.astype(str).str.replace(r"'[^']*'", "…", regex=True)


def reconciliation_note(led) -> Markdown:
    """One paragraph: rows read = kept + merged + skipped + rejected, and whether amounts agree."""
    rec = led.reconciliation()
    t = rec.iloc[-1]
    ok_rows = bool(rec["balanced"].all())
    ok_amt = bool(rec["amount_balanced"].all())
    text = (f"{plural(len(rec) - 1, 'file')} read with {int(t['rows_read']):,} rows: "
            f"{int(t['kept']):,} kept + {int(t['merged']):,} merged into other rows (duplicates, invoice lines) + "
            f"{int(t['skipped']):,} skipped (titles, totals, blank lines) + {int(t['rejected']):,} rejected "
            f"= {int(t['kept'] + t['merged'] + t['skipped'] + t['rejected']):,}. ")
    text += ("Every row is accounted for" if ok_rows else "**The row counts do not add up**")
    text += (", and so is every amount." if ok_amt else "; **the amounts do not add up**.")
    if int(t["rows_amount_unknown"]):
        n_bad = int(t["rows_amount_unknown"])
        text += (f" {plural(n_bad, 'rejected row')} had an unreadable amount, so "
                 + ("it counts as a row" if n_bad == 1 else "they count as rows") + " but not in the amounts.")
    return _md(text)


def reconciliation_table(led):
    """Where every row and amount of each file went (amounts are conservation checks, all currencies).

    Columns: File, Layout, Rows read, Kept, Merged, Skipped, Rejected, Amount read, Amount kept,
    Amount merged, Amount rejected, Adds up.
    """
    rec = led.reconciliation().copy()
    rec["file"] = rec["file"].astype(str).map(lambda p: p.rsplit("/", 1)[-1])
    rec["ok"] = np.where(rec["balanced"] & rec["amount_balanced"], "yes", "NO")
    cols = ["file", "layout", "rows_read", "kept", "merged", "skipped", "rejected", "amount_read", "amount_kept",
            "amount_merged", "amount_rejected", "ok"]
    rec = rec[cols].copy()
    for c in ("amount_read", "amount_kept", "amount_merged", "amount_rejected"):
        rec[c] = rec[c].map(_amount2)
    return table(rec, int_columns=["rows_read", "kept", "merged", "skipped", "rejected"],
                 rename={"file": "File", "layout": "Layout", "rows_read": "Rows read", "kept": "Kept",
                         "merged": "Merged", "skipped": "Skipped", "rejected": "Rejected",
                         "amount_read": "Amount read", "amount_kept": "Amount kept",
                         "amount_merged": "Amount merged", "amount_rejected": "Amount rejected",
                         "ok": "Adds up"})


def rejects_by_reason(led, *, max_rows: int = 10):
    """Rejected rows grouped by reason (quoted values removed), most frequent first.

    Columns: Reason, Rows, Amount (where readable), Example row.
    """
    rj = led.rejects
    if rj is None or rj.empty:
        return _md("No row was rejected.")
    grouped = rj.assign(_r=_rejects_reason_pattern(rj["reason"])).groupby("_r", sort=False)
    g = grouped.agg(rows=("reason", "size"), example=("source", "first"))
    g["amount"] = grouped["amount"].sum(min_count=1)  # unreadable amounts stay unknown, not 0
    g = g.reset_index()
    g = g.sort_values(["rows", "_r"], ascending=[False, True], kind="mergesort")
    g["amount"] = g["amount"].map(_amount2)
    return table(g, int_columns=["rows"], max_rows=max_rows,
                 rename={"_r": "Reason", "rows": "Rows", "amount": "Amount (where readable)",
                         "example": "Example row"})


def reject_examples(led, *, n: int = 5):
    """A few rejected rows as read, with the reason.

    Columns: Row, Reason, As read.
    """
    rj = led.rejects
    if rj is None or rj.empty:
        return _md("No row was rejected.")
    ex = rj.head(n)
    df = pd.DataFrame({"row": ex["source"], "reason": ex["reason"], "raw": ex["raw"]})
    return table(df, rename={"row": "Row", "reason": "Reason", "raw": "As read"})


def ledger_notes(led) -> Markdown:
    """The readers' and cleaning's notes as a bullet list (escaped; file names without their folders)."""
    if not led.notes:
        return _md("No notes.")
    notes = pd.Series(list(led.notes), dtype=object).astype(str)
    files = getattr(led, "files", None)
    if files is not None and "file" in files:
        for path in sorted(set(files["file"].astype(str)), key=len, reverse=True):  # folders are not for the reader
            notes = notes.str.replace(path, path.replace("\\", "/").rsplit("/", 1)[-1], regex=False)
    return _md("\n".join(f"- {md_esc(n)}" for n in notes))


# --------------------------------------------------------------------------- customer profile
def pick_customer(a, customer_id: str | None) -> str:
    """The customer a profile is about.

    An empty ``customer_id`` picks the customer at the top of the worklist (largest value at
    risk). A customer name is accepted when it names exactly one customer. Anything else raises
    :class:`~arinsights.errors.InputError` listing a few valid ids.
    """
    seg = a.segments
    ids = seg[Segments.customer_id].astype(str)
    if customer_id is None or not str(customer_id).strip():
        if len(a.worklist):
            return str(a.worklist[Worklist.customer_id].iloc[0])
        if len(seg):
            return str(seg.sort_values(Segments.open_amount, ascending=False)[Segments.customer_id].iloc[0])
        raise InputError("the ledger has no customers to profile")
    cid = str(customer_id).strip()
    if (ids == cid).any():
        return cid
    if Segments.customer_name in seg:
        by_name = seg[seg[Segments.customer_name].astype(str) == cid]
        if len(by_name) == 1:
            return str(by_name[Segments.customer_id].iloc[0])
    top = seg.sort_values([Segments.open_amount, Segments.customer_id], ascending=[False, True])
    examples = ", ".join(repr(x) for x in top[Segments.customer_id].astype(str).head(5))
    raise InputError(
        f"customer {cid!r} is not in the ledger as of {day(a.as_of)}",
        column=Segments.customer_id,
        hint=f"Pass a customer id exactly as in the ledger, e.g. {examples} ({len(seg):,} customers in all).")


def _one(a, cid: str) -> pd.Series:
    seg = a.segments
    row = seg[seg[Segments.customer_id].astype(str) == str(cid)]
    if row.empty:
        pick_customer(a, cid)  # raises the helpful error
    return row.iloc[0]


def customer_header(a, customer_id: str) -> Markdown:
    """Header facts: name, group, what is open, usual window, pay run, history, next step."""
    r = _one(a, customer_id)
    cur = str(r[_E.currency]) if _E.currency in r.index and pd.notna(r[_E.currency]) else _main_currency(a)
    name = r[Segments.customer_name] if pd.notna(r.get(Segments.customer_name)) else r[Segments.customer_id]
    seg = str(r[Segments.segment])
    ident = "" if str(name) == str(r[Segments.customer_id]) else f"Customer id {md_esc(r[Segments.customer_id])} · "
    lines = [f"## {md_esc(name)}",
             f"{ident}Group **{esc(SEGMENT_LABELS.get(seg, seg))}** "
             f"({esc(SEGMENT_MEANING.get(seg, '')).rstrip('.').lower()}).", ""]
    facts = [f"- **Open:** {money(r[Segments.open_amount], cur)} in {plural(int(r.get(_E.n_open, 0) or 0), 'invoice')}"]
    if pd.notna(r.get(_E.oldest_open_age)):
        facts[-1] += f"; the oldest is {int(r[_E.oldest_open_age])} days old"
    if pd.notna(r.get(_E.p80_days)):
        facts.append(f"- **Usually pays in** {r[_E.median_days]:.0f} days; 8 in 10 invoices within "
                     f"{r[_E.p80_days]:.0f} days, 9 in 10 within {r[_E.p90_days]:.0f} days.")
    if pd.notna(r.get(_E.on_time_share)):
        facts.append(f"- **Track record:** {int(r[_E.n_on_time])} of {int(r[_E.n_paid])} paid invoices on time "
                     f"({r[_E.on_time_share]:.0%}).")
    run = pay_run_text(pd.Series([r.get(_E.pay_run_pattern, "none")]), pd.Series([r.get(_E.pay_run_day)])).iloc[0]
    facts.append(f"- **Pay run:** {esc(run)}" + (f" (next expected {day(r[_E.next_run])})"
                                                 if pd.notna(r.get(_E.next_run)) else "") + ".")
    if pd.notna(r.get(_E.last_payment_date)):
        facts.append(f"- **Last payment:** {day(r[_E.last_payment_date])}.")
    facts.append(f"- **In numbers:** {md_esc(_evidence(pd.Series([r[Segments.reasons]])).iloc[0])}.")
    facts.append(f"- **Next step:** {esc(r[Segments.action])}"
                 + (f" on {day(r[Segments.next_action_date])}" if pd.notna(r[Segments.next_action_date]) else "") + ".")
    return _md("\n".join(lines + facts))


def _customer_durations(a, cid: str) -> pd.DataFrame:
    d = a.durations
    return d[d[Durations.customer_id].astype(str) == str(cid)]


def _window(a, cid: str) -> pd.Series | None:
    w = a.windows
    row = w[w[CustomerWindows.customer_id].astype(str) == str(cid)]
    return row.iloc[0] if len(row) else None


def customer_timeline(a, customer_id: str) -> Image:
    """Every invoice: issue date against days to pay (open ones at their age so far)."""
    cid = str(customer_id)
    w = _window(a, cid)
    fig, ax = plt.subplots(figsize=(8, 3.4))
    plots.plot_timeline(_customer_durations(a, cid), window=None if w is None else float(w[CustomerWindows.p80_days]),
                        ax=ax)
    return _image(fig)


def customer_curve(a, customer_id: str) -> Image:
    """Fitted days-to-pay curve (share still unpaid) over the observed (Kaplan–Meier) one."""
    cid = str(customer_id)
    w = _window(a, cid)
    window = None if w is None else (float(w[CustomerWindows.p80_days]), float(w[CustomerWindows.p90_days]))
    fig, ax = plt.subplots(figsize=(8, 3.4))
    plots.plot_days_to_pay(_customer_durations(a, cid), lambda t: a.days_to_pay.survival(cid, t), window=window, ax=ax)
    return _image(fig)


def customer_pay_pattern(a, customer_id: str) -> Image:
    """On which weekdays and days of the month the customer's payments arrived."""
    p = behaviour_tables(a.invoices, a.payments)[2]  # payments with known dates
    mine = p[(p[Payments.customer_id].astype(str) == str(customer_id))
             & (pd.to_datetime(p[Payments.payment_date]) <= a.as_of)]
    if Payments.kind in mine:
        mine = mine[mine[Payments.kind] == KIND_PAYMENT]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1, 2.2]})
    plots.plot_pay_pattern(mine, by="weekday", ax=ax1)
    plots.plot_pay_pattern(mine, by="day", ax=ax2)
    ax1.set_title("Weekday")
    ax2.set_title("Day of the month")
    fig.tight_layout()
    return _image(fig)


def customer_open_invoices(a, customer_id: str):
    """Open invoices with the chance of payment within 7/30/60 days and the expected pay date.

    Columns: Invoice, Invoice date, Due date, Open amount, Age (days), Days past due, Paid within
    7 days, within 30, within 60, Expected payment.
    """
    cid = str(customer_id)
    d = _customer_durations(a, cid)
    d = d[~d[Durations.paid].astype(bool)]
    o = a.outlook
    o = o[o[OpenInvoiceOutlook.customer_id].astype(str) == cid]
    cols = [OpenInvoiceOutlook.invoice_id, OpenInvoiceOutlook.p_pay_7, OpenInvoiceOutlook.p_pay_30,
            OpenInvoiceOutlook.p_pay_60, OpenInvoiceOutlook.expected_pay_date]
    m = d.merge(o[cols], on=Durations.invoice_id, how="left").sort_values(
        [Durations.invoice_date, Durations.invoice_id], kind="mergesort").reset_index(drop=True)
    if m.empty:
        return _md("Nothing is open.")
    r = _one(a, cid)
    cur = str(r[_E.currency]) if _E.currency in r.index and pd.notna(r[_E.currency]) else _main_currency(a)
    df = pd.DataFrame({"inv": m[Durations.invoice_id], "date": m[Durations.invoice_date], "due": m[Durations.due_date],
                       "open": m[Durations.open_amount], "age": m[Durations.age], "dpd": m[Durations.days_past_due].clip(lower=0),
                       "p7": m[OpenInvoiceOutlook.p_pay_7], "p30": m[OpenInvoiceOutlook.p_pay_30],
                       "p60": m[OpenInvoiceOutlook.p_pay_60], "exp": m[OpenInvoiceOutlook.expected_pay_date]})
    return table(df, money_columns=["open"], currency=cur, date_columns=["date", "due", "exp"],
                 int_columns=["age", "dpd"], percent_columns=["p7", "p30", "p60"],
                 rename={"inv": "Invoice", "date": "Invoice date", "due": "Due date", "open": "Open amount",
                         "age": "Age (days)", "dpd": "Days past due", "p7": "Paid within 7 days",
                         "p30": "within 30", "p60": "within 60", "exp": "Expected payment"})


def customer_actions(a, customer_id: str):
    """Recommended actions with dates and reasons (the customer's numbers are in :func:`customer_header`).

    Columns: Action, When, What to do and why.
    """
    act = a.actions[a.actions[Segments.customer_id].astype(str) == str(customer_id)]
    if act.empty:
        return _md("No action recommended.")
    df = pd.DataFrame({"action": act[Segments.action], "when": act[Segments.next_action_date],
                       "what": _detail(act[Segments.reasons])})
    return table(df, date_columns=["when"], rename={"action": "Action", "when": "When", "what": "What to do and why"})


# --------------------------------------------------------------------------- model validation
def validation_verdict(a) -> Markdown:
    """The back-test's verdict (from :func:`arinsights.behaviour.lateness.model_card`) and its setup."""
    from ..behaviour.lateness import model_card

    if a.backtest is None:
        return _md("The back-test was not run. " + " ".join(esc(n) for n in a.notes))
    card = model_card(a.backtest)
    b = a.settings.behaviour
    return _md(
        f"{esc(card['verdict'])}\n\nSet-up: for each of the last {b.backtest_cutoffs} month ends, the model is "
        "trained only on invoices whose outcome was known by then and scored on the invoices issued in the "
        f"following month (\"late\" = paid more than {b.grace_days} days after the due date). "
        "Baselines: each customer's past share of late invoices, and the late rate of the invoice's payment terms.")


def backtest_overall_table(a):
    """Pooled back-test metrics per model.

    Columns: Model, ROC-AUC, PR-AUC, Brier score, Invoices.
    """
    ov = a.backtest.overall
    df = pd.DataFrame({"model": ov["model"].map(_MODEL_LABELS).fillna(ov["model"]), "auc": ov["roc_auc"],
                       "pr": ov["pr_auc"], "brier": ov["brier"], "n": ov["n"]})
    return table(df, int_columns=["n"], precision=3, rename={"model": "Model", "auc": "ROC-AUC (higher is better)",
                                                "pr": "PR-AUC (higher is better)",
                                                "brier": "Brier score (lower is better)", "n": "Invoices"})


def backtest_cutoff_table(a):
    """ROC-AUC and Brier per cut-off and model.

    Columns: Cut-off, Invoices, Late share, then ROC-AUC and Brier per model.
    """
    c = a.backtest.cutoffs
    wide = c.pivot_table(index="cutoff", columns="model", values=["roc_auc", "brier"], aggfunc="first")
    base = c.groupby("cutoff").agg(n=("n", "first"), rate=("base_rate", "first"))
    out = base.copy()
    for metric, label in (("roc_auc", "ROC-AUC"), ("brier", "Brier")):
        for mdl in ("model", "prior_late_share", "terms_only"):
            if (metric, mdl) in wide.columns:
                out[f"{label}: {_MODEL_LABELS[mdl]}"] = wide[(metric, mdl)]
    out = out.reset_index()
    return table(out, date_columns=["cutoff"], int_columns=["n"], percent_columns=["rate"], precision=3,
                 rename={"cutoff": "Cut-off", "n": "Invoices", "rate": "Late share"})


def reliability_chart(a) -> Image:
    """Predicted probability of lateness against the observed share, per model."""
    rel = a.backtest.reliability.copy()
    rel["model"] = rel["model"].map(_MODEL_LABELS).fillna(rel["model"])
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    plots.plot_reliability(rel, ax=ax)
    return _image(fig)


def distribution_fit_table(a):
    """Portfolio AIC of each days-to-pay family; the lowest is used.

    Columns: Family, AIC, Difference to best, Used.
    """
    aic = pd.Series(a.days_to_pay.aic_, dtype=float).sort_values()
    df = pd.DataFrame({"family": aic.index, "aic": aic.to_numpy(), "delta": aic.to_numpy() - aic.min(),
                       "used": np.where(aic.index == a.days_to_pay.distribution_, "yes", "")})
    return table(df, float_columns=["aic", "delta"],
                 rename={"family": "Family", "aic": "AIC", "delta": "Difference to best", "used": "Used"})


def portfolio_fit_curves(a, t=None) -> pd.DataFrame:
    """Portfolio Kaplan–Meier curve against the fitted customers' curves averaged over invoices.

    The fitted portfolio curve is ``mean over invoices i of S_{customer(i)}(t)``: the same
    population the Kaplan–Meier curve describes, so the two should lie close together.

    Returns
    -------
    pandas.DataFrame
        t (days), observed (Kaplan–Meier share still unpaid), fitted.
    """
    from ..behaviour.distributions import kaplan_meier

    d = a.durations
    days = d[Durations.days_to_pay].to_numpy(float)
    km = kaplan_meier(days, d[Durations.paid].to_numpy(bool))
    if t is None:
        t = np.linspace(0, float(np.nanpercentile(days, 99)), 120)
    t = np.asarray(t, dtype=float)
    counts = d[Durations.customer_id].astype(str).value_counts()
    ids = counts.index.to_numpy(dtype=object)
    surv = a.days_to_pay.survival(np.repeat(ids, len(t)), np.tile(t, len(ids))).reshape(len(ids), len(t))
    fitted = (counts.to_numpy(float)[:, None] * surv).sum(axis=0) / counts.sum()
    idx = np.searchsorted(km["t"].to_numpy(), t, side="right") - 1
    observed = np.where(idx < 0, 1.0, km["survival"].to_numpy()[np.clip(idx, 0, None)])
    return pd.DataFrame({"t": t, "observed": observed, "fitted": fitted})


def portfolio_fit_chart(a) -> Image:
    """Share of invoices still unpaid after t days: observed (Kaplan–Meier) vs fitted."""
    c = portfolio_fit_curves(a)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.step(c["t"], c["observed"], where="post", color="#333", label="observed (Kaplan–Meier)")
    ax.plot(c["t"], c["fitted"], color="#1f77b4", label=f"fitted ({a.days_to_pay.distribution_}, per customer)")
    ax.set_xlabel("days since invoice")
    ax.set_ylabel("share still unpaid")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=9, frameon=False)
    ax.set_title("Whole book: observed vs fitted days to pay")
    return _image(fig)


def shrinkage_chart(a) -> Image:
    """Weight on each customer's own history against the number of paid invoices."""
    w = a.windows
    fig, ax = plt.subplots(figsize=(7, 3.6))
    n = w[CustomerWindows.n_paid].to_numpy(float)
    ax.scatter(np.maximum(n, 0.8), w[CustomerWindows.shrinkage_weight], s=14, alpha=0.6, color="#1f77b4")
    ax.set_xscale("log")
    ax.set_xlabel("paid invoices in history (log scale)")
    ax.set_ylabel("weight on own history")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Short histories lean on the whole book")
    return _image(fig)


def pay_run_summary(a):
    """Customers per detected pay-run pattern with the median strength and p-value.

    Columns: Pattern, Customers, Median strength, Median p-value, Median payments.
    """
    pr = a.pay_runs
    g = pr.groupby(PayRuns.pattern, sort=False).agg(
        customers=(PayRuns.customer_id, "size"), strength=(PayRuns.strength, "median"),
        p=(PayRuns.p_value, "median"), n=(PayRuns.n_payments, "median")).reset_index()
    order = {"weekday": 0, "day_of_month": 1, "month_end": 2, "none": 3}
    g = g.assign(_o=g[PayRuns.pattern].map(order)).sort_values("_o").drop(columns="_o")
    g[PayRuns.pattern] = g[PayRuns.pattern].replace({"weekday": "fixed weekday", "day_of_month": "fixed day of month",
                                                     "month_end": "month end", "none": "no run detected"})
    g["p"] = g["p"].map(lambda v: "-" if pd.isna(v) else f"{v:.1e}")
    return table(g, int_columns=["customers", "n"],
                 rename={PayRuns.pattern: "Pattern", "customers": "Customers", "strength": "Median strength",
                         "p": "Median p-value", "n": "Median payments"})


def pay_run_table(a, *, max_rows: int = 25):
    """Detected pay runs, strongest first.

    Columns: Customer, Pay run, Payments, Strength, p-value, Next run.
    """
    pr = a.pay_runs[a.pay_runs[PayRuns.pattern] != "none"]
    pr = pr.sort_values([PayRuns.strength, PayRuns.customer_id], ascending=[False, True], kind="mergesort")
    pr = pr.reset_index(drop=True)
    df = pd.DataFrame({"customer": pr[PayRuns.customer_id], "run": pay_run_text(pr[PayRuns.pattern], pr[PayRuns.day]),
                       "n": pr[PayRuns.n_payments], "strength": pr[PayRuns.strength],
                       "p": pr[PayRuns.p_value].map(lambda v: "-" if pd.isna(v) else f"{v:.1e}"),
                       "next": pr[PayRuns.next_run]})
    return table(df, int_columns=["n"], date_columns=["next"], max_rows=max_rows,
                 rename={"customer": "Customer", "run": "Pay run", "n": "Payments", "strength": "Strength",
                         "p": "p-value", "next": "Next run"})


# --------------------------------------------------------------------------- first look (ledger only)
def ledger_overview(led) -> Markdown:
    """What the ledger holds: invoices, customers, payments, dates, currencies, open amount."""
    inv, pay = led.invoices, led.payments
    dates = pd.to_datetime(inv[Invoices.invoice_date])
    open_ = inv[inv[Invoices.paid_date].isna()]
    by_cur = _sum_by_currency(inv, Invoices.amount, Invoices.currency)
    return _md(
        f"{plural(len(inv), 'invoice')} from {plural(inv[Invoices.customer_id].nunique(), 'customer')}, "
        f"dated {day(dates.min())} to {day(dates.max())}, invoiced {money_text(by_cur, compact=False)}; "
        f"{plural(len(pay), 'payment allocation')} "
        f"({plural(int((pay[Payments.kind] == KIND_PAYMENT).sum()), 'cash payment row')}, the rest credit notes). "
        f"{plural(len(open_), 'invoice')} not fully paid by the last date in the file. "
        f"Currencies: {esc(', '.join(sorted(by_cur.index.astype(str))))}.")


def files_table(led):
    """Each file read: layout detected, rows and amount read.

    Columns: File, Layout, Rows read, Rows with unreadable amount, Amount read.
    """
    f = led.files.copy()
    df = pd.DataFrame({"file": f["file"].astype(str), "layout": f["layout"], "rows": f["rows_read"],
                       "bad": f["rows_amount_unknown"], "amount": f["amount_read"].map(_amount2)})
    return table(df, int_columns=["rows", "bad"],
                 rename={"file": "File", "layout": "Layout detected", "rows": "Rows read",
                         "bad": "Rows with unreadable amount", "amount": "Amount read (all currencies)"})


def amount_chart(led) -> Image:
    """Histogram of invoice amounts (log scale)."""
    amt = led.invoices[Invoices.amount].to_numpy(float)
    amt = amt[amt > 0]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if len(amt):
        bins = np.logspace(np.log10(amt.min()), np.log10(amt.max()) + 1e-9, 40)
        ax.hist(amt, bins=bins, color="#1f77b4")
        ax.set_xscale("log")
    ax.set_xlabel("invoice amount (log scale)")
    ax.set_ylabel("invoices")
    ax.set_title("Invoice amounts")
    return _image(fig)


def days_to_pay_chart(led) -> Image:
    """Histogram of days from invoice to payment (paid invoices) and days late against the due date."""
    inv = led.invoices
    paid = inv[inv[Invoices.paid_date].notna()]
    dtp = (pd.to_datetime(paid[Invoices.paid_date]) - pd.to_datetime(paid[Invoices.invoice_date])).dt.days
    late = (pd.to_datetime(paid[Invoices.paid_date]) - pd.to_datetime(paid[Invoices.due_date])).dt.days
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.2))
    hi = float(np.nanpercentile(dtp, 99)) if len(dtp) else 1.0
    ax1.hist(dtp.clip(upper=hi), bins=40, color="#1f77b4")
    ax1.set_xlabel("days from invoice to payment")
    ax1.set_ylabel("invoices")
    ax1.set_title("Days to pay (paid invoices)")
    lo, hi2 = (float(np.nanpercentile(late, 1)), float(np.nanpercentile(late, 99))) if len(late) else (0.0, 1.0)
    ax2.hist(late.clip(lo, hi2), bins=40, color="#e0601a")
    ax2.axvline(0, color="#333", lw=1, ls=":")
    ax2.set_xlabel("days after due date (negative = early)")
    ax2.set_title("Paid relative to the due date")
    fig.tight_layout()
    return _image(fig)


def terms_chart(led) -> Image:
    """Invoices by payment terms (due date minus invoice date, days)."""
    inv = led.invoices
    terms = (pd.to_datetime(inv[Invoices.due_date]) - pd.to_datetime(inv[Invoices.invoice_date])).dt.days
    counts = terms.value_counts().sort_index()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(counts.index.astype(str), counts.to_numpy(), color="#1f77b4")
    ax.set_xlabel("payment terms (days)")
    ax.set_ylabel("invoices")
    ax.set_title("Payment terms")
    return _image(fig)


def _customer_sizes(led) -> pd.DataFrame:
    inv = led.invoices
    return (inv.groupby([Invoices.customer_id, Invoices.currency], sort=False)
            .agg(invoiced=(Invoices.amount, "sum"), invoices=(Invoices.amount, "size"))
            .reset_index().sort_values(["invoiced", Invoices.customer_id], ascending=[False, True]))


def customer_size_chart(led) -> Image:
    """Share of invoiced amount held by the largest customers (concentration curve)."""
    s = _customer_sizes(led)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for cur, g in s.groupby(Invoices.currency, sort=True):
        share = g["invoiced"].cumsum().to_numpy() / g["invoiced"].sum()
        x = np.arange(1, len(g) + 1) / len(g)
        ax.plot(x * 100, share * 100, label=str(cur))
    ax.plot([0, 100], [0, 100], ls="--", color="#999", lw=1, label="all customers equal")
    ax.set_xlabel("% of customers (largest first)")
    ax.set_ylabel("% of invoiced amount")
    ax.set_title("How concentrated is the book?")
    ax.legend(fontsize=9, frameon=False)
    return _image(fig)


def top_customers_table(led, *, n: int = 15):
    """The largest customers by invoiced amount.

    Columns: Customer, Currency, Invoices, Invoiced, Share of currency total.
    """
    s = _customer_sizes(led).copy()
    s["share"] = s["invoiced"] / s.groupby(Invoices.currency)["invoiced"].transform("sum")
    s = s.head(n).reset_index(drop=True)
    return table(s, money_columns=["invoiced"], currency=s[Invoices.currency], int_columns=["invoices"],
                 percent_columns=["share"],
                 rename={Invoices.customer_id: "Customer", Invoices.currency: "Currency", "invoices": "Invoices",
                         "invoiced": "Invoiced", "share": "Share of currency total"})
