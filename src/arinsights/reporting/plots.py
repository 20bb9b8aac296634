"""Charts for the reports. Every function takes ``ax=None`` and returns the Axes.

One seaborn style for all notebooks: call :func:`set_report_style` once in the setup cell.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from ..schema import Durations, Payments, Segments

SEGMENT_ORDER = ["reliable", "slipped", "drifting", "irregular", "new", "habitual", "ghost"]
SEGMENT_COLOURS = {
    "reliable": "#4c9a2a", "slipped": "#f0a30a", "drifting": "#e3c16f", "irregular": "#9aa5b1",
    "new": "#7fb3d5", "habitual": "#c0392b", "ghost": "#5d3a3a",
}
BUCKET_ORDER = ["current", "1-30", "31-60", "61-90", "90+"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def set_report_style() -> None:
    """The house style: white grid, muted palette, readable font sizes."""
    sns.set_theme(style="whitegrid", palette="muted", context="notebook",
                  rc={"figure.figsize": (8, 3.6), "figure.dpi": 100, "axes.titleweight": "bold",
                      "axes.titlesize": 12, "axes.labelsize": 10})


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _money_axis(axis, currency: str = "") -> None:
    prefix = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, "")

    def fmt(v, _pos):
        a = abs(v)
        if a >= 1e6:
            return f"{prefix}{v / 1e6:.1f}M"
        if a >= 1e3:
            return f"{prefix}{v / 1e3:.0f}k"
        return f"{prefix}{v:.0f}"

    axis.set_major_formatter(mticker.FuncFormatter(fmt))


def plot_aging(aging: pd.DataFrame, *, currency: str | None = None, ax=None):
    """Open AR by days-past-due bucket (columns: bucket, open_amount[, currency])."""
    ax = _ax(ax)
    df = aging
    if currency is not None and "currency" in df:
        df = df[df["currency"] == currency]
    values = df.groupby("bucket")["open_amount"].sum().reindex(BUCKET_ORDER, fill_value=0.0)
    colours = ["#4c9a2a", "#f0c419", "#f0a30a", "#e0601a", "#c0392b"]
    ax.bar(values.index, values.values, color=colours)
    for x, v in enumerate(values.values):
        ax.annotate(f"{v / max(values.sum(), 1e-9):.0%}", (x, v), ha="center", va="bottom", fontsize=9)
    ax.set_xlabel("days past due")
    ax.set_ylabel("open amount")
    _money_axis(ax.yaxis, currency or "")
    ax.set_title("Aging of open receivables")
    return ax


def plot_kpi_trend(monthly: pd.DataFrame, columns: dict[str, str], *, ylabel: str = "", title: str = "", ax=None):
    """Lines over months: ``columns`` maps a KPI column to its legend label."""
    ax = _ax(ax)
    x = pd.to_datetime(monthly["month"].astype(str))
    for col, label in columns.items():
        if col in monthly:
            ax.plot(x, monthly[col], marker="o", label=label)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %y"))
    ax.legend(loc="best", fontsize=9, frameon=False)
    return ax


def plot_segments(segments: pd.DataFrame, *, currency: str | None = None, labels: dict[str, str] | None = None,
                  ax=None):
    """Customers and open amount by segment, as horizontal bars.

    With ``currency`` (and a ``currency`` column in ``segments``) only that currency's
    customers are drawn, so amounts in different currencies are never added; ``labels`` maps
    segment names to the words shown on the axis.
    """
    ax = _ax(ax)
    if currency is not None and "currency" in segments:
        segments = segments[segments["currency"] == currency]
    grouped = segments.groupby(Segments.segment).agg(
        customers=(Segments.customer_id, "count"), open_amount=(Segments.open_amount, "sum"))
    grouped = grouped.reindex([s for s in SEGMENT_ORDER if s in grouped.index])
    names = [(labels or {}).get(s, s) for s in grouped.index]
    ax.barh(names, grouped["open_amount"], color=[SEGMENT_COLOURS[s] for s in grouped.index])
    for y, (n, v) in enumerate(zip(grouped["customers"], grouped["open_amount"])):
        ax.annotate(f" {n} customer{'s' if n != 1 else ''}", (v, y), va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("open amount")
    _money_axis(ax.xaxis, currency or "")
    ax.set_title("Open balance by segment")
    ax.margins(x=0.25)
    return ax


def plot_days_to_pay(durations: pd.DataFrame, survival_fn, *, window: tuple[float, float] | None = None, ax=None):
    """Observed share still unpaid (Kaplan–Meier of this customer's invoices) against the fitted curve.

    ``survival_fn(t)`` gives the fitted probability of still being unpaid after t days.
    """
    from ..behaviour.distributions import kaplan_meier

    ax = _ax(ax)
    d = durations
    if len(d):
        km = kaplan_meier(d[Durations.days_to_pay].to_numpy(float), d[Durations.paid].to_numpy(bool))
        ax.step(np.r_[0, km["t"]], np.r_[1, km["survival"]], where="post", label="observed", color="#333")
        horizon = float(max(d[Durations.days_to_pay].max(), window[1] if window else 0) * 1.3 + 5)
    else:
        horizon = 120.0
    t = np.linspace(0, horizon, 200)
    ax.plot(t, survival_fn(t), label="fitted", color="#1f77b4")
    if window:
        ax.axvspan(0, window[0], color="#4c9a2a", alpha=0.08, label=f"usual window (p80 {window[0]:.0f} d)")
        ax.axvline(window[1], color="#c0392b", ls=":", lw=1, label=f"p90 {window[1]:.0f} d")
    ax.set_xlabel("days since invoice")
    ax.set_ylabel("share still unpaid")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=9, frameon=False)
    ax.set_title("How long this customer takes to pay")
    return ax


def plot_pay_pattern(payments: pd.DataFrame, *, by: str = "weekday", ax=None):
    """Payment days of a customer: by weekday or day of month (distinct payment dates)."""
    ax = _ax(ax)
    dates = pd.to_datetime(payments[Payments.payment_date]).drop_duplicates()
    if by == "weekday":
        counts = dates.dt.weekday.value_counts().reindex(range(7), fill_value=0)
        ax.bar(WEEKDAYS, counts.values, color="#1f77b4")
        ax.set_xlabel("weekday")
    else:
        counts = dates.dt.day.value_counts().reindex(range(1, 32), fill_value=0)
        ax.bar(counts.index, counts.values, color="#1f77b4")
        ax.set_xlabel("day of month")
    ax.set_ylabel("payments")
    ax.yaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    ax.set_title("When they pay")
    return ax


def plot_reliability(reliability: pd.DataFrame, *, ax=None):
    """Predicted probability of lateness against the observed rate (columns: model, mean_predicted, observed_rate, n)."""
    ax = _ax(ax)
    ax.plot([0, 1], [0, 1], ls="--", color="#999", lw=1, label="perfect calibration")
    for name, g in reliability.groupby("model", sort=True):
        ax.plot(g["mean_predicted"], g["observed_rate"], marker="o", label=str(name))
    ax.set_xlabel("predicted probability of paying late")
    ax.set_ylabel("observed share paid late")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=9, frameon=False)
    ax.set_title("Are the probabilities honest?")
    return ax


def plot_timeline(durations: pd.DataFrame, *, window: float | None = None, ax=None):
    """Each invoice: issue date against days to pay; open invoices shown as their age so far."""
    ax = _ax(ax)
    d = durations
    paid = d[d[Durations.paid]]
    open_ = d[~d[Durations.paid]]
    ax.scatter(paid[Durations.invoice_date], paid[Durations.days_to_pay], s=18, color="#1f77b4", label="paid")
    ax.scatter(open_[Durations.invoice_date], open_[Durations.days_to_pay], s=30, marker="^", color="#c0392b",
               label="open (age so far)")
    if window is not None:
        ax.axhline(window, color="#4c9a2a", ls=":", label=f"usual window {window:.0f} d")
    ax.set_ylabel("days to pay")
    ax.set_xlabel("invoice date")
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %y"))
    ax.legend(fontsize=9, frameon=False)
    ax.set_title("Payment history")
    return ax
