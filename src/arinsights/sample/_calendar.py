"""Vectorised calendar arithmetic on integer day numbers (days since 1970-01-01).

Everything here works on ``int64`` numpy arrays, so the generator never loops over
invoices. Weekdays follow pandas: 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def to_days(ts) -> np.ndarray:
    """Day numbers of a Timestamp / datetime-like array (any resolution)."""
    arr = np.asarray(pd.to_datetime(ts), dtype="datetime64[D]")
    return arr.astype(np.int64)


def to_datetime(days: np.ndarray) -> pd.Series | pd.DatetimeIndex:
    """``datetime64[ns]`` values of day numbers; negative sentinel (< -10**8) gives NaT."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days < -(10**8)] = np.datetime64("NaT")
    return out


def weekday(days: np.ndarray) -> np.ndarray:
    """0 = Monday .. 6 = Sunday."""
    return (np.asarray(days) + 3) % 7


def next_weekday(days: np.ndarray, wd: np.ndarray) -> np.ndarray:
    """First day on or after ``days`` that falls on weekday ``wd``."""
    return days + (wd - weekday(days)) % 7


def business_forward(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move to the next Monday; weekdays stay."""
    wd = weekday(days)
    return days + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))


def business_back(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move back to the previous Friday; weekdays stay."""
    wd = weekday(days)
    return days - np.where(wd == 5, 1, np.where(wd == 6, 2, 0))


def _month(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")


def _first_day(month: np.ndarray) -> np.ndarray:
    return month.astype("datetime64[D]").astype(np.int64)


def day_of_month_run(days: np.ndarray, dom: np.ndarray) -> np.ndarray:
    """First pay run on or after ``days`` for a run on day ``dom`` (1..28) of each month.

    A run day that falls on a weekend is paid on the next Monday.
    """
    m = _month(days)
    this = business_forward(_first_day(m) + dom - 1)
    nxt = business_forward(_first_day(m + 1) + dom - 1)
    return np.where(this >= days, this, nxt)


def month_end_run(days: np.ndarray) -> np.ndarray:
    """First month-end pay run (last business day of a month) on or after ``days``."""
    m = _month(days)
    this = business_back(_first_day(m + 1) - 1)
    nxt = business_back(_first_day(m + 2) - 1)
    return np.where(this >= days, this, nxt)
