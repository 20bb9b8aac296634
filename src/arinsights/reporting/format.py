"""Formatting for reports: money, dates, plain-language sentences and safe HTML tables.

Customer names and ids are data typed by other people, so every piece of text that reaches
a report's HTML goes through :func:`esc` (sentences) or :func:`table` (DataFrames), which
escape it: a customer called ``<script>alert(1)</script>`` shows as that text.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from typing import Iterable

import pandas as pd

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$", "NZD": "NZ$", "CHF": "CHF "}


def esc(text: object) -> str:
    """HTML-escape any value for use in Markdown/HTML output."""
    return html.escape("" if text is None else str(text), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_esc(text: object) -> str:
    """Escape a value for Markdown prose: Markdown emphasis/link characters and HTML.

    A customer called ``A_B *Ltd*`` stays plain text instead of turning italic, and
    ``<script>`` shows as text.

    >>> print(md_esc("<b>A_B</b>"))
    &lt;b&gt;A\\_B&lt;/b&gt;
    """
    return esc(_MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text)))


def money(value: float | None, currency: str = "USD", *, compact: bool = False) -> str:
    """Format an amount with its currency: ``$1,250.00``, ``€412k`` (compact), ``-`` when missing.

    >>> money(1250, "USD")
    '$1,250.00'
    >>> money(412_300, "EUR", compact=True)
    '€412k'
    >>> money(-40, "GBP")
    '-£40.00'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    symbol = _SYMBOLS.get(str(currency).upper(), f"{currency} ")
    sign = "-" if value < 0 else ""
    v = abs(float(value))
    if compact:
        if v >= 1e6:
            body = f"{v / 1e6:.1f}M"
        elif v >= 1e3:
            body = f"{v / 1e3:.0f}k"
        else:
            body = f"{v:.0f}"
    else:
        body = f"{v:,.2f}"
    return f"{sign}{symbol}{body}"


def day(value) -> str:
    """A date as '30 Jun 2026' ('-' when missing)."""
    if value is None or pd.isna(value):
        return "-"
    return pd.Timestamp(value).strftime("%d %b %Y").lstrip("0")


def plural(n: int, word: str, plural_word: str | None = None) -> str:
    """``plural(1, "customer") == "1 customer"``, ``plural(3, "customer") == "3 customers"``."""
    return f"{n:,} {word if n == 1 else (plural_word or word + 's')}"


def percent(x: float | None, digits: int = 0) -> str:
    if x is None or pd.isna(x):
        return "-"
    return f"{100 * float(x):.{digits}f}%"


def table(
    frame: pd.DataFrame,
    *,
    money_columns: Iterable[str] = (),
    currency: str | pd.Series = "USD",
    date_columns: Iterable[str] = (),
    percent_columns: Iterable[str] = (),
    int_columns: Iterable[str] = (),
    float_columns: Iterable[str] = (),
    rename: dict[str, str] | None = None,
    max_rows: int | None = None,
    caption: str | None = None,
    precision: int = 2,
):
    """A display-ready, HTML-escaped pandas Styler with formatted numbers and no index.

    Parameters
    ----------
    money_columns, date_columns, percent_columns, int_columns, float_columns
        Columns to format as money (with ``currency``, a code or a per-row Series),
        dates, percentages (fractions in, ``12%`` out), whole numbers, one-decimal numbers.
    rename : dict
        Column headers for the reader (applied last).
    precision : int
        Decimals of any other float column (default 2).
    """
    df = frame.copy()
    if max_rows is not None:
        df = df.head(max_rows)
    df = df.reset_index(drop=True)
    for col in money_columns:
        if col in df:
            cur = currency.reindex(df.index) if isinstance(currency, pd.Series) else pd.Series(currency, index=df.index)
            df[col] = [money(v, c) for v, c in zip(df[col], cur)]
    for col in date_columns:
        if col in df:
            df[col] = [day(v) for v in df[col]]
    for col in percent_columns:
        if col in df:
            df[col] = [percent(v) for v in df[col]]
    for col in int_columns:
        if col in df:
            df[col] = ["-" if pd.isna(v) else f"{int(round(float(v))):,}" for v in df[col]]
    for col in float_columns:
        if col in df:
            df[col] = ["-" if pd.isna(v) else f"{float(v):,.1f}" for v in df[col]]
    if rename:
        df = df.rename(columns=rename)
    # a uuid derived from the content keeps re-rendered HTML identical
    digest = hashlib.sha1(df.to_csv(index=False).encode("utf-8")).hexdigest()[:10]
    styler = df.style.set_uuid(digest).hide(axis="index").format(escape="html", na_rep="-", precision=precision)
    styler = styler.set_table_attributes('class="ar-table"')
    styler = styler.set_table_styles([
        {"selector": "th", "props": "text-align:left; padding:4px 10px; border-bottom:1px solid #999;"},
        {"selector": "td", "props": "text-align:left; padding:3px 10px; border-bottom:1px solid #eee; vertical-align:top;"},
        {"selector": "caption", "props": "caption-side:top; text-align:left; font-weight:bold; padding:4px 0;"},
    ])
    if caption:
        styler = styler.set_caption(esc(caption))
    return styler
