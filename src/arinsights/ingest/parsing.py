"""Parse the values of ledger exports: dates, amounts, identifiers and yes/no flags.

The rule of this module is **never guess silently**. When the data cannot tell us how to
read a value (is ``03/04/2025`` the 3rd of April or the 4th of March? is ``1,234`` one
thousand two hundred and thirty-four, or one point two three four?) the functions raise an
:class:`~arinsights.errors.InputError` that names the file, the column, an example value and
the setting that resolves it. Values that cannot be read at all are reported per row in a
``failed`` mask, so the cleaning stage can turn them into rejects with a reason.

Everything is vectorised: each column is factorised (ledgers repeat the same dates and
amounts many times), the distinct values are classified with a handful of anchored regular
expressions and converted with numpy arithmetic, and the results are mapped back to the
rows. There is no Python loop over rows.

Conventions
-----------
* Dates are returned as ``datetime64`` at midnight; a time of day in the input is dropped,
  a time-zone suffix is ignored (the calendar date as written is kept).
* Two-digit years: ``00``-``69`` are 2000-2069, ``70``-``99`` are 1970-1999.
* Excel serial days use the 1900 date system (day 0 = 1899-12-30) and are accepted only in
  the plausible range 20000-80000 (1954-10-03 to 2119-01-10).
* SAP's empty date ``00.00.0000`` (and ``0000-00-00``) counts as blank.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .._text import text_buffers

__all__ = [
    "DateParse",
    "AmountParse",
    "parse_dates",
    "parse_date_columns",
    "parse_amounts",
    "normalise_ids",
    "parse_flags",
    "DAYFIRST",
    "MONTHFIRST",
    "YEARFIRST",
]

DAYFIRST = "dayfirst"
MONTHFIRST = "monthfirst"
YEARFIRST = "yearfirst"  # two-digit year first: yy-mm-dd, yy/mm/dd, yy.mm.dd
_ORDERS = (DAYFIRST, MONTHFIRST, YEARFIRST)

#: strings that mean "no value" (compared after stripping, case-insensitively). Excel's
#: "#N/A" is not one of them: it is an error value (see :data:`SPREADSHEET_ERRORS`).
_MISSING_TOKENS = ("", "nan", "none", "nat", "null", "<na>", "n/a")

#: the error values a spreadsheet shows where a formula failed (a lookup that found nothing,
#: a deleted reference, ...). Exported as text, or as an error cell of a workbook, such a
#: value is not data: the readers reject or blank it with a reason naming it.
SPREADSHEET_ERRORS = ("#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!",
                      "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#PYTHON!",
                      "#GETTING_DATA")
_MISSING_DATES = ("00.00.0000", "0000-00-00", "00/00/0000", "00000000")

_DATE_ORDER_HINT = (
    'Say which it is: set date_order = "dayfirst" (or "monthfirst") in the mapping file, '
    'or in code use Settings().replace(ingest={"date_order": "dayfirst"}).'
)
_YEARFIRST_HINT = (
    'If the file writes dates year-first (yy-mm-dd), set date_order = "yearfirst" in the mapping '
    'file, or in code use Settings().replace(ingest={"date_order": "yearfirst"}); if it really is '
    'day-first or month-first, confirm it with date_order = "dayfirst" (or "monthfirst").'
)


# --------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------

_STR = pd.StringDtype("pyarrow")


def _as_text(uniques: np.ndarray | pd.Index) -> pd.Series:
    """Distinct values as a stripped, Arrow-backed string Series (positions kept)."""
    if isinstance(getattr(uniques, "dtype", None), pd.StringDtype):
        text = pd.Series(uniques.array).astype(_STR)
        arr = pa.array(text.array)
        chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
        if not any(_may_need_trim(chunk) for chunk in chunks):
            return text  # nothing to strip (the readers' cells are trimmed already)
        return text.str.strip()
    arr = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(arr, skipna=False) != "string":
        arr = pd.Series(arr, dtype=object).map(str).to_numpy(dtype=object)
    return pd.Series(arr, dtype=object).astype(_STR).str.strip()


def _may_need_trim(chunk: pa.Array) -> bool:
    """False when no cell of a string chunk can start or end with white space: its first and
    last bytes are all printable ASCII (white space is ASCII <= 0x20 or a multi-byte UTF-8
    character, whose bytes are >= 0x80). Read from the Arrow buffers, without building the
    trimmed copy; True (trim to know) for anything else."""
    if chunk.null_count or len(chunk) == 0:
        return True
    buffers = text_buffers(chunk)
    if buffers is None:
        return True
    offsets, data = buffers
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    if not filled.all():
        starts, ends = starts[filled], ends[filled]
    if not len(starts):
        return False  # every cell is ""
    first, last = data[starts], data[ends - 1]
    return bool(((first <= 0x20) | (first >= 0x7F) | (last <= 0x20) | (last >= 0x7F)).any())


def _match(text: pd.Series, pattern: str) -> np.ndarray:
    """Full-match ``pattern`` with Arrow's RE2 engine; bool array, False where missing."""
    pattern = pattern if pattern.startswith("^") else "^(?:" + pattern + ")$"
    res = pc.match_substring_regex(pa.array(text.array), pattern)
    return res.fill_null(False).to_numpy(zero_copy_only=False)


def _extract(text: pd.Series, pattern: str, mask: np.ndarray | None = None) -> dict[str, pd.Series]:
    """``Series.str.extract`` through Arrow's RE2 engine (fast on many values).

    Returns one string column per named group; <NA> where the pattern does not match (or
    ``mask`` is False) and where an optional group took no part in the match.
    """
    arr = pa.array(text.array)
    if mask is not None:
        arr = pc.if_else(pa.array(mask), arr, pa.scalar(None, type=arr.type))
    res = pc.extract_regex(arr, pattern)
    out = {}
    for i, field in enumerate(res.type):
        col = pc.struct_field(res, [i])
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, type=col.type), col)
        out[field.name] = pd.Series(pd.array(col, dtype=_STR), index=text.index)
    return out


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, use_na_sentinel=True)``, except for Arrow-backed strings whose
    values are mostly distinct (amounts: hashing them costs more than it saves): then the
    codes are the row positions (-1 where missing) and the "distinct" values the values
    themselves ("" where missing, never picked). The parsers work value by value, so their
    results are the same either way."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and len(values) > 1000:
        arr = pa.array(values.array)
        head = arr.slice(0, 20_000)
        if pc.count_distinct(head).as_py() > 0.5 * len(head):
            valid = arr.is_valid().to_numpy(zero_copy_only=False)
            codes = np.where(valid, np.arange(len(arr), dtype=np.intp), -1)
            filled = pc.fill_null(arr, "") if arr.null_count else arr
            return codes, pd.Index(pd.array(filled, dtype=dtype))
    return pd.factorize(values, use_na_sentinel=True)


def _is_missing_text(text: pd.Series) -> np.ndarray:
    return text.str.lower().isin(_MISSING_TOKENS).to_numpy(dtype=bool, na_value=True)


def _where(file: str, column: str) -> str:
    parts = []
    if column:
        parts.append(f"column {column!r}")
    if file:
        parts.append(f"file {file}")
    return " in " + ", ".join(parts) if parts else ""


def _row_label(values: pd.Series, position: int, rows) -> object:
    if rows is not None:
        return np.asarray(rows)[position]
    return values.index[position]


def _ymd(year, month, day) -> np.ndarray:
    """Vectorised calendar date from integer arrays; NaT where not a real date.

    Inputs are float arrays (NaN = missing). Years outside 1900-2199 are rejected.
    """
    y = np.asarray(year, dtype="float64")
    m = np.asarray(month, dtype="float64")
    d = np.asarray(day, dtype="float64")
    ok = (
        np.isfinite(y) & np.isfinite(m) & np.isfinite(d)
        & (y >= 1900) & (y <= 2199) & (m >= 1) & (m <= 12) & (d >= 1)
    )
    out = np.full(y.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    if not ok.any():
        return out
    months = ((y[ok] - 1970) * 12 + (m[ok] - 1)).astype("int64")
    start = months.astype("datetime64[M]").astype("datetime64[D]")
    length = ((months + 1).astype("datetime64[M]").astype("datetime64[D]") - start).astype("int64")
    dd = d[ok].astype("int64")
    good = dd <= length
    res = np.full(dd.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    res[good] = start[good] + (dd[good] - 1)
    out[ok] = res
    return out


def _num(col: pd.Series | pa.Array) -> np.ndarray:
    """Digits-only strings to float (NaN where missing)."""
    arr = col if isinstance(col, (pa.Array, pa.ChunkedArray)) else pa.array(col.astype(_STR).array)
    try:
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if not isinstance(col, pd.Series):
            col = pd.Series(pd.array(arr, dtype=_STR))
        return pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _arrow(text: pd.Series) -> pa.Array:
    """The Arrow array behind a string Series (one chunk)."""
    arr = pa.array(text.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _match_arrow(arr: pa.Array, pattern: str) -> np.ndarray:
    """:func:`_match` on an Arrow string array."""
    pattern = pattern if pattern.startswith("^") else "^(?:" + pattern + ")$"
    return pc.match_substring_regex(arr, pattern).fill_null(False).to_numpy(zero_copy_only=False)


def _bool(arr: pa.Array) -> np.ndarray:
    return arr.fill_null(False).to_numpy(zero_copy_only=False)


def _full_year(y: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Two-digit years: 00-69 -> 2000s, 70-99 -> 1900s."""
    two = digits == 2
    return np.where(two, np.where(y < 70, 2000 + y, 1900 + y), y)


# --------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DateParse:
    """Result of parsing one date column.

    Attributes
    ----------
    values : pandas.Series
        ``datetime64`` dates at midnight (time of day dropped); NaT where blank or failed.
        Same index as the input.
    failed : pandas.Series
        bool, True where the input was not blank but could not be read as a date.
    order : str or None
        ``"dayfirst"`` / ``"monthfirst"`` / ``"yearfirst"`` (``yy-mm-dd``) when the column had
        numeric day/month values, else None (no day/month ambiguity existed).
    note : str
        How the reading was decided, in plain words.
    """

    values: pd.Series
    failed: pd.Series
    order: str | None
    note: str


_TZ = r"(?:\s*(?:Z|(?:UTC|GMT)?\s*[+-]\d{1,2}(?::?\d{2})?|UTC|GMT))?"
_TIME = (r"(?:(?:[ T]+|\s*,\s*)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?"
         + _TZ + r")?")
#: month names and their abbreviations, by month: English, then the forms of German, French,
#: Dutch, Spanish, Italian, Portuguese and the Scandinavian languages (as spreadsheets in those
#: locales write dates, e.g. German "15-Mrz-26", French "15 juil. 2026"). No form names two
#: different months in two languages; case and a trailing dot do not matter.
_MONTH_FORMS = (
    "jan january janv janvier januar januari ene enero gen gennaio janeiro",
    "feb february febr februar februari fév févr février fevr fevrier febrero febbraio fev fevereiro",
    "mar march mär märz maerz mrz mrt maart mars marzo março marco marts",
    "apr april avr avril abr abril aprile",
    "may mai mei mayo mag maggio maio maj",
    "jun june juni juin junio giu giugno junho",
    "jul july juli juil juillet julio lug luglio julho",
    "aug august augustus août aout ago agosto augusti",
    "sep sept september septembre septiembre set settembre setembro setiembre",
    "oct october okt oktober octobre octubre ott ottobre out outubro",
    "nov november novembre noviembre novembro",
    "dec december dez dezember déc décembre decembre dic diciembre dicembre dezembro des desember",
)
_MONTH_NUMBER = {form: i for i, forms in enumerate(_MONTH_FORMS, start=1) for form in forms.split()}
_MONTHS = ("(?P<mon>" + "|".join(sorted(_MONTH_NUMBER, key=lambda f: (-len(f), f))) + r")\.?")
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"

_RE_ISO = r"(?i)^(?P<y>\d{4})(?P<s1>[-/.])(?P<m>\d{1,2})(?P<s2>[-/.])(?P<d>\d{1,2})" + _TIME + "$"
_DM_HEAD = r"(?i)^(?P<a>\d{1,2})(?P<s1>[-/.])(?P<b>\d{1,2})(?P<s2>[-/.])"
_RE_DM = _DM_HEAD + r"(?P<y>\d{4}|\d{2})" + _TIME + "$"
# with date_order = "yearfirst" the last field (the day) may be one digit: 24-7-5
_RE_DM_YF = _DM_HEAD + r"(?P<y>\d{4}|\d{1,2})" + _TIME + "$"
_RE_DMONY = (r"(?i)^" + _WEEKDAY + r"(?P<d>\d{1,2})(?:st|nd|rd|th|er)?[\s\-/.]*(?:de\s+)?" + _MONTHS
             + r"(?:[\s\-/,]+|(?:\s*,\s*))?(?:de\s+)?(?P<y>\d{4}|\d{2})" + _TIME + "$")
_RE_MONDY = (r"(?i)^" + _WEEKDAY + _MONTHS + r"[\s\-]*(?P<d>\d{1,2})(?:st|nd|rd|th)?"
             r"(?:\s*,\s*|[\s\-]+)(?P<y>\d{4}|\d{2})" + _TIME + "$")
_RE_YMD8 = r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:\.0*)?$"
_RE_SERIAL = r"^(?P<n>\d{5}(?:\.\d*)?)$"

_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
_SERIAL_MIN, _SERIAL_MAX = 20000, 80000


@dataclass
class _DateClasses:
    """Distinct values of one column, classified (internal)."""

    column: str
    source: pd.Series        # the input values
    codes: np.ndarray        # factorize codes of the input (-1 = NaN/None)
    text: pd.Series          # distinct values as text
    blank: np.ndarray        # bool per distinct value
    fixed: np.ndarray        # datetime64[D] per distinct value for order-free formats
    is_dm: np.ndarray        # bool: numeric d/m/y value
    a: np.ndarray            # first field of d/m values (float)
    b: np.ndarray            # second field
    y: np.ndarray            # full year
    c: np.ndarray            # last field as written (the day when read yy-mm-dd)
    adig: np.ndarray         # digits in the first field (float; NaN where not d/m)
    cdig: np.ndarray         # digits in the last field
    passthrough: pd.Series | None = None  # already datetime64 input


def _classify_dates(values: pd.Series, column: str, *, yearfirst: bool = False) -> _DateClasses:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniq = np.asarray(uniques, dtype=object)
    n = len(uniq)
    fixed = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    # native date objects inside an object column (openpyxl gives datetime cells)
    kinds = pd.Series(uniq, dtype=object)
    native = np.zeros(n, dtype=bool)
    if n and pd.api.types.infer_dtype(uniq, skipna=True) not in (
            "string", "empty", "floating", "integer", "mixed-integer-float"):
        native = kinds.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64))
                           or (hasattr(v, "year") and hasattr(v, "month"))).to_numpy(dtype=bool)
        if native.any():
            stamps = kinds[native].map(
                lambda v: pd.Timestamp(v).tz_localize(None) if pd.Timestamp(v).tzinfo
                else pd.Timestamp(v))
            fixed[native] = pd.DatetimeIndex(stamps).normalize().to_numpy().astype("datetime64[D]")
    text = _as_text(uniq)
    text = text.mask(pd.Series(native), "")
    blank = _is_missing_text(text) & ~native
    blank |= text.isin(_MISSING_DATES).to_numpy(dtype=bool, na_value=False)

    # ISO year-first (also 2025/03/02)
    g = _extract(text, _RE_ISO)
    hit = g["y"].notna().to_numpy() & (g["s1"] == g["s2"]).to_numpy(dtype=bool, na_value=False)
    if hit.any():
        fixed[hit] = _ymd(_num(g["y"][hit]), _num(g["m"][hit]), _num(g["d"][hit]))
    seen = hit | native

    # numeric day/month (order decided later)
    g = _extract(text, _RE_DM_YF if yearfirst else _RE_DM, ~seen)
    is_dm = (g["a"].notna().to_numpy() & (g["s1"] == g["s2"]).to_numpy(dtype=bool, na_value=False)
             & ~seen)
    a = np.where(is_dm, _num(g["a"]), np.nan)
    b = np.where(is_dm, _num(g["b"]), np.nan)
    ydig = np.where(is_dm, g["y"].str.len().to_numpy(dtype="float64", na_value=np.nan), np.nan)
    adig = np.where(is_dm, g["a"].str.len().to_numpy(dtype="float64", na_value=np.nan), np.nan)
    c = np.where(is_dm, _num(g["y"]), np.nan)
    y = np.where(is_dm & (ydig != 1), _full_year(c, ydig), np.nan)  # a one-digit "year" is a year-first day
    seen |= is_dm

    # month names: "05-Feb-19", "15 Jul 2026", "Jul 15, 2026", "Thursday, July 30, 2026",
    # "15. Juli 2026", "15 juil. 2026", "15 de julio de 2026"
    for pattern in (_RE_DMONY, _RE_MONDY):
        g = _extract(text, pattern, ~seen)
        hit = g["d"].notna().to_numpy() & ~seen
        if hit.any():
            mon = g["mon"][hit].str.lower().map(_MONTH_NUMBER)
            yy = _num(g["y"][hit])
            yy = _full_year(yy, g["y"][hit].str.len().to_numpy(dtype="float64"))
            fixed[hit] = _ymd(yy, mon.to_numpy(dtype="float64"), _num(g["d"][hit]))
        seen |= hit

    # yyyymmdd numbers, also 20190205.0
    g = _extract(text, _RE_YMD8, ~seen)
    hit = g["y"].notna().to_numpy() & ~seen
    if hit.any():
        fixed[hit] = _ymd(_num(g["y"][hit]), _num(g["m"][hit]), _num(g["d"][hit]))
    seen |= hit

    # Excel serial day numbers
    g = _extract(text, _RE_SERIAL, ~seen)
    serial = _num(g["n"])
    hit = (serial >= _SERIAL_MIN) & (serial <= _SERIAL_MAX) & ~seen
    if hit.any():
        fixed[hit] = _EXCEL_EPOCH + np.floor(serial[hit]).astype("int64")

    return _DateClasses(column=column, source=values, codes=codes, text=text, blank=blank,
                        fixed=fixed, is_dm=is_dm, a=a, b=b, y=y, c=c, adig=adig, cdig=ydig)


def _first_position(cls: _DateClasses, mask: np.ndarray) -> tuple[int, int]:
    """(distinct index, first row position) of the first row whose distinct value is in mask."""
    row_hits = np.flatnonzero(mask[cls.codes] & (cls.codes >= 0))
    pos = int(row_hits[0])
    return int(cls.codes[pos]), pos


def _dm_dates(cls: _DateClasses, order: str) -> np.ndarray:
    if order == DAYFIRST:
        return _ymd(cls.y, cls.b, cls.a)
    if order == YEARFIRST:
        return _yf_dates(cls)
    return _ymd(cls.y, cls.a, cls.b)


def _yf_dates(cls: _DateClasses) -> np.ndarray:
    """The d/m values read ``yy-mm-dd``: a two-digit year first, then month, then a one- or two-digit
    day (``24-07-15`` = 15 July 2024); NaT where that reading is not a real date."""
    two = (cls.adig == 2) & ((cls.cdig == 2) | (cls.cdig == 1))  # a one-digit day only when year-first is stated
    year = np.where(two, _full_year(cls.a, cls.adig), np.nan)
    return _ymd(year, cls.b, np.where(two, cls.c, np.nan))


def _dm_readable(cls: _DateClasses) -> np.ndarray:
    """bool per distinct value: a numeric value that is a real date read day- or month-first."""
    return cls.is_dm & ~(np.isnat(_ymd(cls.y, cls.b, cls.a)) & np.isnat(_ymd(cls.y, cls.a, cls.b)))


def _year_span(years: list[np.ndarray]) -> int:
    """Latest minus earliest year over the given arrays (0 when there are none)."""
    years = np.concatenate(years) if years else np.array([])
    return int(years.max() - years.min()) if len(years) else 0


def _years(years: list[np.ndarray]) -> str:
    years = np.concatenate(years)
    return f"{int(years.min())}-{int(years.max())}"


def _year(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[Y]").astype("int64") + 1970


# Year-first (yy-mm-dd) detection, when no order is stated.
#
# A two-digit-year-first date such as "24-07-15" (15 July 2024) also reads day-first as
# 24 July 2015: under the day/month reading its "year" is really the day of the month. The two
# readings are mirror images: whichever one is wrong has the days of the month, spread over
# 1-31, in its year field, so its dates scatter over two or three decades (2001-2031), while
# the right reading puts them in the few consecutive years a ledger covers. An AR ledger holds
# open items a few months to a few years old; even a full history export rarely spans more
# than ten years, and due dates run at most a year or so past the invoice dates.
#
# Rule (jointly over all date columns of the file; only d/m values are looked at):
#   1. year-first must be *possible*: every numeric value that reads as a real date day- or
#      month-first also reads as a real yy-mm-dd date (two-digit first and last fields).
#      Values no reading can make a date are left out: they fail either way. One four-digit
#      year ("17/03/2025") or one unpadded first field ("5/7/24") rules year-first out.
#   2. the day/month reading spreads the dates over more than _YF_DM_SPAN years (latest minus
#      earliest), longer than a ledger plausibly covers, and
#   3. the year-first reading spans less than half of that: it is the compact one.
# Then the data cannot be read either way with confidence and parsing stops with an error
# that shows both readings (it never switches to year-first on its own). A genuine dd-mm-yy
# or mm-dd-yy ledger spanning a few years fails test 2, so it reads exactly as before.
# Condition 3 keeps a genuine ledger with one old outlier invoice (dm span 15, yf span
# 10) from stopping; a true yy-mm-dd history of up to ~14 years still stops (its day/month
# reading spans the days of the month, ~30 years). A small genuine dd-mm-yy file with an old
# outlier and its days close together can still stop: the error asks to confirm the order
# (date_order = "dayfirst"), it never reads a date wrong. What the rule cannot catch: a small
# yy-mm-dd file whose days of the month all fall within ten days of each other.
_YF_DM_SPAN = 10


def parse_date_columns(frame: pd.DataFrame, columns: list[str], *, order: str | None = None,
                       file: str = "", rows=None) -> dict[str, DateParse]:
    """Parse several date columns of one file, deciding day/month order jointly.

    A numeric day/month value whose first field is above 12 (``17/03/2025``) proves the file
    writes dates day-first; one whose second field is above 12 (``03/17/2025``) proves
    month-first. The proof may come from any of the columns (a file is written one way).
    Dates written with a two-digit year first (``24-07-15`` for 15 July 2024) are read only
    when ``order="yearfirst"`` is stated; without it, a file whose numeric dates could all be
    ``yy-mm-dd`` and whose day/month reading spreads them over more than ten years (while the
    year-first reading keeps them together) is an error, never a guess.

    Parameters
    ----------
    frame : pandas.DataFrame
        The file's rows (strings, numbers, or already ``datetime64`` columns).
    columns : list of str
        The date columns to parse.
    order : {"dayfirst", "monthfirst", "yearfirst"}, optional
        The order stated by the user (mapping file or ``Settings.ingest.date_order``). It is
        still checked against the data: a value that can only be read another way is an
        error. Four-digit-year ISO dates (``2025-03-17``) are read whatever the order.
    file : str, optional
        File name for messages.
    rows : array-like, optional
        Physical row numbers aligned with ``frame`` (used in messages); by default the
        frame's index labels are used.

    Returns
    -------
    dict of str to DateParse
        One result per column, in the order given.

    Raises
    ------
    InputError
        When some values prove day-first and others month-first; when numeric day/month
        values exist but none proves the order and ``order`` is not given; when ``order`` is
        not given and the dates look written year-first (``yy-mm-dd``); when ``order``
        contradicts the data; when ``order`` is not a known value.

    Examples
    --------
    >>> frame = pd.DataFrame({"InvoiceDate": ["01/02/2025"], "DueDate": ["17/03/2025"]})
    >>> res = parse_date_columns(frame, ["InvoiceDate", "DueDate"])
    >>> res["InvoiceDate"].values.iloc[0].date(), res["InvoiceDate"].order
    (datetime.date(2025, 2, 1), 'dayfirst')
    """
    if order is not None and order not in _ORDERS:
        raise InputError(f"date_order must be 'dayfirst', 'monthfirst' or 'yearfirst', not {order!r}",
                         file=file or None, hint=_DATE_ORDER_HINT)
    classes: list[_DateClasses] = []
    passthrough: dict[str, pd.Series] = {}
    for col in columns:
        values = frame[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            passthrough[col] = values.dt.tz_localize(None).dt.normalize()
            continue
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            passthrough[col] = values.dt.normalize()
            continue
        classes.append(_classify_dates(values, col, yearfirst=order == YEARFIRST))

    # ---- evidence for the day/month order, across all columns
    day_proof = month_proof = ambiguous = None
    for cls in classes:
        valid = cls.is_dm & (cls.a >= 1) & (cls.b >= 1) & (cls.a <= 31) & (cls.b <= 31)
        dp = valid & (cls.a > 12) & (cls.b <= 12)
        mp = valid & (cls.b > 12) & (cls.a <= 12)
        am = valid & (cls.a <= 12) & (cls.b <= 12) & (cls.a != cls.b)
        if day_proof is None and dp.any():
            day_proof = (cls, *_first_position(cls, dp))
        if month_proof is None and mp.any():
            month_proof = (cls, *_first_position(cls, mp))
        if ambiguous is None and am.any():
            ambiguous = (cls, *_first_position(cls, am))
    any_dm = any(cls.is_dm.any() for cls in classes)

    def describe(proof) -> str:
        cls, k, pos = proof
        return (f"{cls.text.iloc[k]!r} in column {cls.column!r} "
                f"(row {_row_label(cls.source, pos, rows)})")

    if order == YEARFIRST:
        # a value that cannot be yy-mm-dd by its shape (four-digit or one-digit year field,
        # "month" above 12) but reads day- or month-first contradicts the setting; a yy-mm-dd
        # value with an impossible day (24-02-30) is just a failed value
        for cls in classes:
            shape = (cls.adig != 2) | (cls.cdig > 2) | (cls.b > 12)
            against = _dm_readable(cls) & np.isnat(_yf_dates(cls)) & shape
            if against.any():
                k, pos = _first_position(cls, against)
                readable = [o for o in (DAYFIRST, MONTHFIRST)
                            if not np.isnat(_dm_dates(cls, o)[k])]
                reads = " or ".join(f"{_label(o)} ({_long(_dm_dates(cls, o)[k])})" for o in readable)
                raise InputError(
                    f"date_order is 'yearfirst' but {describe((cls, k, pos))} is not a yy-mm-dd "
                    f"date (two-digit year, month, day); it can only be read {reads}",
                    file=file or None, column=cls.column,
                    hint="Check date_order in the mapping file (or Settings ingest.date_order): "
                         f"this file looks {_label(readable[0])}. Remove the setting to let "
                         "arinsights decide from the data.",
                )
    elif day_proof and month_proof:
        raise InputError(
            "dates are written both day-first and month-first: "
            f"{describe(day_proof)} can only be day/month/year, while "
            f"{describe(month_proof)} can only be month/day/year",
            file=file or None,
            hint="Correct the inconsistent dates in the export, or re-export all dates in "
                 "one format (ISO 2025-03-17 is the safest).",
        )
    if order is None:
        _check_not_yearfirst(classes, file, rows, day_proof, month_proof)
    if order == YEARFIRST:
        chosen = order if any_dm else None
        how = f"{_label(order)} as configured (date_order = {order!r})"
        for cls in classes:
            yf = _yf_dates(cls)
            if (~np.isnat(yf)).any():
                k, pos = _first_position(cls, ~np.isnat(yf))
                how += f", e.g. {describe((cls, k, pos))} is {_long(yf[k])}"
                break
    elif order is not None:
        against = month_proof if order == DAYFIRST else day_proof
        if against:
            other = MONTHFIRST if order == DAYFIRST else DAYFIRST
            raise InputError(
                f"date_order is {order!r} but {describe(against)} can only be read {_label(other)}",
                file=file or None, column=against[0].column,
                hint=f"Check date_order in the mapping file (or Settings ingest.date_order): "
                     f"this file looks {_label(other)}. Remove the setting to let arinsights decide "
                     f"from the data.",
            )
        chosen = order if any_dm else None
        how = f"{_label(order)} as configured (date_order = {order!r})"
        if day_proof or month_proof:
            how += f", confirmed by {describe(day_proof or month_proof)}"
    elif day_proof:
        chosen, how = DAYFIRST, f"{_label(DAYFIRST)}: {describe(day_proof)}"
    elif month_proof:
        chosen, how = MONTHFIRST, f"{_label(MONTHFIRST)}: {describe(month_proof)}"
    elif ambiguous:
        cls, k, pos = ambiguous
        ex = cls.text.iloc[k]
        d1 = _ymd(cls.y[k:k + 1], cls.b[k:k + 1], cls.a[k:k + 1])[0]
        d2 = _ymd(cls.y[k:k + 1], cls.a[k:k + 1], cls.b[k:k + 1])[0]
        cols = [c.column for c in classes if c.is_dm.any()]
        raise InputError(
            f"ambiguous date order in columns {', '.join(map(repr, cols))}: all days are 12 or "
            f"less, e.g. {ex!r} (row {_row_label(cls.source, pos, rows)}) could be "
            f"{_long(d1)} (day-first) or {_long(d2)} (month-first)",
            file=file or None, column=cls.column, hint=_DATE_ORDER_HINT,
        )
    else:
        chosen = DAYFIRST if any_dm else None  # only d==m values: both orders agree
        how = ("day and month equal in every numeric date, so the order does not matter"
               if any_dm else "no day/month ambiguity (ISO, month names, serial or numeric dates)")

    results: dict[str, DateParse] = {}
    by_name = {cls.column: cls for cls in classes}
    for col in columns:
        if col in passthrough:
            vals = passthrough[col]
            results[col] = DateParse(values=vals, failed=pd.Series(False, index=vals.index),
                                     order=None, note="already dates in the file")
            continue
        cls = by_name[col]
        distinct = cls.fixed.copy()
        if cls.is_dm.any() and chosen is not None:
            distinct[cls.is_dm] = _dm_dates(cls, chosen)[cls.is_dm]
        # back to the rows: one take per result, the missing-value code -1 picking the
        # extra last element (NaT / blank)
        parsed = np.append(distinct.astype("datetime64[ns]"), np.datetime64("NaT", "ns")).take(cls.codes)
        blank_rows = np.append(cls.blank, True).take(cls.codes)
        values = pd.Series(parsed, index=cls.source.index, name=col)
        failed = pd.Series(np.isnat(parsed) & ~blank_rows, index=cls.source.index, name=col)
        col_order = chosen if cls.is_dm.any() else None
        note = how if cls.is_dm.any() else "no day/month ambiguity in this column"
        if failed.any():
            pos = int(np.flatnonzero(failed.to_numpy())[0])
            note += (f"; {int(failed.sum())} value(s) could not be read as dates, e.g. "
                     f"{str(cls.source.iloc[pos])!r} (row {_row_label(cls.source, pos, rows)})")
        results[col] = DateParse(values=values, failed=failed, order=col_order, note=note)
    return results


def _check_not_yearfirst(classes: list[_DateClasses], file: str, rows, day_proof, month_proof) -> None:
    """Stop when the numeric dates look written year-first (see the rule above _YF_DM_SPAN)."""
    dm_years, yf_years, possible, example = [], [], False, None
    for cls in classes:
        dm_ok = _dm_readable(cls)
        if not dm_ok.any():
            continue
        yf = _yf_dates(cls)
        if (dm_ok & np.isnat(yf)).any():
            return  # some value cannot be yy-mm-dd: year-first is ruled out
        possible = True
        dm_years.append(cls.y[dm_ok])
        yf_years.append(_year(yf[~np.isnat(yf)]))
        if example is None:
            example = (cls, *_first_position(cls, dm_ok))
    if not possible:
        return
    dm_span, yf_span = _year_span(dm_years), _year_span(yf_years)
    if not (dm_span > _YF_DM_SPAN and 2 * yf_span < dm_span):
        return
    cls, k, pos = example
    orders = [DAYFIRST] if day_proof else [MONTHFIRST] if month_proof else [DAYFIRST, MONTHFIRST]
    orders = ([o for o in orders if not np.isnat(_dm_dates(cls, o)[k])]
              or [o for o in (DAYFIRST, MONTHFIRST) if not np.isnat(_dm_dates(cls, o)[k])])
    dm_reads = ", ".join(f"{_long(_dm_dates(cls, o)[k])} read {_label(o)}" for o in orders)
    ex = cls.text.iloc[k]
    cols = [c.column for c in classes if c.is_dm.any()]
    raise InputError(
        f"dates may be written year-first (yy-mm-dd) in columns {', '.join(map(repr, cols))}: "
        f"e.g. {ex!r} (row {_row_label(cls.source, pos, rows)}) is {dm_reads}, "
        f"{_long(_yf_dates(cls)[k])} read year-first. With the year last the dates would spread over "
        f"{dm_span + 1} years ({_years(dm_years)}), more than a ledger covers; read year-first "
        f"they fall in {yf_span + 1} ({_years(yf_years)})",
        file=file or None, column=cls.column, hint=_YEARFIRST_HINT,
    )


def _label(order: str) -> str:
    return {DAYFIRST: "day-first", MONTHFIRST: "month-first"}.get(order, "year-first (yy-mm-dd)")


def _long(day: np.datetime64) -> str:
    if np.isnat(day):
        return "an invalid date"
    return pd.Timestamp(day).strftime("%d %B %Y").lstrip("0")


def parse_dates(values: pd.Series, *, order: str | None = None, column: str = "",
                file: str = "", rows=None) -> DateParse:
    """Parse one column of dates.

    Supported: ISO ``2025-03-02`` (with or without a time, ``T`` and ``Z``); numeric
    day/month orders with ``/``, ``-`` or ``.`` and 2- or 4-digit years (``1/2/2013``,
    ``17.03.2025``, ``17-03-25``); month names (``05-Feb-19``, ``15 Jul 2026``,
    ``Jul 15, 2026``, ``Thursday, July 30, 2026``), also in German, French, Dutch, Spanish,
    Italian, Portuguese and the Scandinavian languages (``15-Mrz-26``, ``15 juil. 2026``,
    ``15 de julio de 2026``; see ``_MONTH_FORMS``); ``yyyymmdd`` numbers (``20190205.0``);
    Excel serial days (20000-80000); columns that are already ``datetime64``.
    Blank, whitespace, ``NaN``, ``None``, ``NaT`` and SAP's ``00.00.0000`` are missing.

    The day/month order is decided from this column alone; to decide it jointly for all
    date columns of a file use :func:`parse_date_columns`.

    Parameters
    ----------
    values : pandas.Series
        The raw column.
    order : {"dayfirst", "monthfirst"}, optional
        Stated order; still checked against the data.
    column, file : str, optional
        Names for messages.
    rows : array-like, optional
        Physical row numbers for messages (default: the index labels).

    Returns
    -------
    DateParse

    Raises
    ------
    InputError
        See :func:`parse_date_columns`.

    Examples
    --------
    >>> parse_dates(pd.Series(["2025-03-02", "", "soon"])).failed.tolist()
    [False, False, True]
    """
    name = column or "date"
    return parse_date_columns(pd.DataFrame({name: values}, index=values.index), [name],
                              order=order, file=file, rows=rows)[name]


# --------------------------------------------------------------------------------------
# amounts
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AmountParse:
    """Result of parsing one amount column.

    Attributes
    ----------
    values : pandas.Series
        float64, signed (negatives from ``-``, ``(...)``, a trailing ``-`` or ``CR``); NaN
        where blank or failed. Same index as the input.
    failed : pandas.Series
        bool, True where the input was not blank but could not be read as an amount.
    currency : pandas.Series
        ISO 4217 code found in the cell (``$`` -> USD, ``€`` -> EUR, ``£`` -> GBP,
        ``¥`` -> JPY, or a code such as ``EUR``), else None (object dtype).
    decimal : str
        ``"."`` or ``","``, the decimal separator decided for the column.
    note : str
        How it was decided, in plain words.
    """

    values: pd.Series
    failed: pd.Series
    currency: pd.Series
    decimal: str
    note: str


_ISO_CURRENCIES = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
""".split())
_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR",
            "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD", "HK$": "HKD",
            "S$": "SGD", "R$": "BRL"}

_SIGN = "[-\u2212+]"
_MINUS = "[-\u2212]"
#: thousands-group characters: apostrophe, right single quote, space, no-break spaces
_SPACES = "'\u2019 \u00a0\u202f"
_CUR = r"[A-Za-z]{3}|[A-Z]{1,2}\$|[$€£¥₹]"
_RE_AMOUNT = (
    r"^(?P<s1>" + _SIGN + r")?\s*(?P<o>\()?\s*(?P<s2>" + _SIGN + r")?\s*(?P<c1>" + _CUR + r")?\s*"
    r"(?P<s3>" + _SIGN + r")?\s*"
    r"(?P<n>\d(?:[\d.,'" + _SPACES + r"]*\d)?|[.,]\d+|\d+(?:\.\d+)?[eE][-+]?\d+)"
    r"\s*(?P<s4>" + _MINUS + r")?\s*(?P<c2>" + _CUR + r")?\s*(?P<cl>\))?\s*"
    r"(?P<cr>[CcDd][Rr]\.?)?\s*(?P<s5>" + _MINUS + ")?$"
)
# classes of the number part (spaces/apostrophes already known to be thousands groups)
_N_INT = r"^\d+$"
_N_SCI = r"^\d+(?:\.\d+)?[eE][-+]?\d+$"
_N_GROUPED = r"^\d{1,3}(?:[" + _SPACES + r"]\d{3})+(?:[.,]\d+)?$"
_N_POINT = (r"^(?:\d{1,3}(?:,\d{3})+\.\d+|\d{1,3}(?:,\d{3}){2,}|\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d+)?"
            r"|\d*\.\d+)$")
_N_COMMA = r"^(?:\d{1,3}(?:\.\d{3})+,\d+|\d{1,3}(?:\.\d{3}){2,}|\d*,\d+)$"
_N_AMBIG = r"^[1-9]\d{0,2}[.,]\d{3}$"

_DECIMAL_HINT = ('Say which it is: set decimal = "," (or decimal = ".") for this column in the '
                 "mapping file.")


#: the common forms, read without the full chain: an optional "-" or "$" (or both, in that
#: order) or brackets around an optional "$", then digits with a decimal point and comma
#: groups of three, or 1-2 decimals, or none. Every such value is usable; it proves a decimal
#: point when it has one (it is never "ambiguous" like "1.234" or "1,234"), else is an integer.
_FAST_N = r"(?:\d{1,3}(?:,\d{3})+\.\d+|\d+\.\d{1,2}|\d+)"
_RE_FAST = r"^(?:-?\$?" + _FAST_N + r"|\(\$?" + _FAST_N + r"\))$"
#: the decimal-comma forms (SAP, European spreadsheets): digits with a decimal comma and
#: point groups of three, or 1-2 decimals, and a "-" before or after ("1.234,56-",
#: "-720,15"). Every such value is usable and proves a decimal comma.
_FAST_C = r"(?:\d{1,3}(?:\.\d{3})+,\d+|\d+,\d{1,2})"
_RE_FAST_COMMA = r"^(?:-" + _FAST_C + r"|" + _FAST_C + r"-?)$"
_FAST_AMOUNTS = True  # tests switch the fast path off to compare it with the full chain


def _amount_chain(src: pa.Array, native: np.ndarray) -> dict[str, object]:
    """The full classification of amount texts (stripped Arrow strings; ``native`` marks
    values that are numbers already, whose text is ""): per value ``blank``, ``ok`` (the
    form is valid), ``negs`` (number of negative marks), ``code`` (currency or None),
    ``is_sci``/``ambig``/``point``/``comma`` (classes of the number part) and ``core`` (the
    number part without grouping spaces, Arrow strings)."""
    n = len(src)
    text = pd.Series(pd.array(src, dtype=_STR))
    blank = _is_missing_text(text) & ~native

    # per distinct value: the number part, signs, brackets and currency. Two fast paths
    # in Arrow: the plain form ("-1234.50", "1,234.56") and the dollar form ("$1,250.00",
    # "($40.00)"); the full pattern (currencies, brackets, trailing signs, CR) only runs on
    # the rest
    plain = _match_arrow(src, r"-?\d[\d.,]*") & ~native
    dollar = _match_arrow(src, r"\(?\$\d(?:[\d.,]*\d)?\)?") & ~native & ~plain
    hit = plain | dollar
    minus = np.zeros(n, dtype=np.int64)
    pluses = np.zeros(n, dtype=np.int64)
    opened = np.zeros(n, dtype=bool)
    closed = np.zeros(n, dtype=bool)
    credit = np.zeros(n, dtype=bool)
    bad_currency = np.zeros(n, dtype=bool)
    code = np.full(n, None, dtype=object)
    empty = pa.scalar("", src.type)
    num = pa.repeat(empty, n) if n else pa.array([], src.type)
    if plain.any():
        # for these values the full pattern's groups are s1 = "-" if present, n = the digits
        minus += plain & _bool(pc.starts_with(src, "-"))
        num = pc.if_else(pa.array(plain), pc.replace_substring_regex(src, r"^-", ""), num)
    if dollar.any():
        # o = "(" if present, c1 = "$", n = the digits, cl = ")" if present
        opened |= dollar & _bool(pc.starts_with(src, "("))
        closed |= dollar & _bool(pc.ends_with(src, ")"))
        code[dollar] = _SYMBOLS["$"]
        num = pc.if_else(pa.array(dollar), pc.replace_substring_regex(src, r"^\(?\$|\)$", ""), num)
    rest = np.flatnonzero(~hit & ~native)
    if len(rest):
        sub = text.iloc[rest].reset_index(drop=True)
        g = _extract(sub, _RE_AMOUNT)
        hit[rest] = g["n"].notna().to_numpy()
        minus[rest] = sum((g[k].isin(["-", "\u2212"])).to_numpy(dtype=bool, na_value=False)
                          for k in ("s1", "s2", "s3", "s4", "s5"))
        opened[rest] = g["o"].notna().to_numpy()
        closed[rest] = g["cl"].notna().to_numpy()
        credit[rest] = g["cr"].fillna("").str.upper().str.startswith("CR").to_numpy(dtype=bool, na_value=False)
        pluses[rest] = sum((g[k] == "+").to_numpy(dtype=bool, na_value=False) for k in ("s1", "s2", "s3"))
        # currency from either side; both sides must agree; codes must be real ISO codes
        raw_c = [g[k].fillna("") for k in ("c1", "c2")]
        iso = []
        bad = np.zeros(len(rest), dtype=bool)
        for c in raw_c:
            sym = c.map(_SYMBOLS)
            up = c.str.upper()
            one = up.where(up.isin(_ISO_CURRENCIES))
            one = one.where(one.notna(), sym)
            bad |= ((c != "") & one.isna()).to_numpy(dtype=bool)
            iso.append(one)
        both = iso[0].notna() & iso[1].notna()
        bad |= (both & (iso[0] != iso[1])).to_numpy(dtype=bool, na_value=False)
        bad_currency[rest] = bad
        code[rest] = iso[0].where(iso[0].notna(), iso[1]).to_numpy(dtype=object, na_value=None)
        num = pc.replace_with_mask(num, pa.array(np.isin(np.arange(n), rest)),
                                   pa.array(g["n"].fillna("").to_numpy(dtype=object), type=num.type))
    text = src = None
    negs = minus + (opened & closed) + credit
    ok = hit & (opened == closed) & (negs <= 1) & ~((negs == 1) & (pluses > 0)) & (pluses <= 1)
    ok &= ~bad_currency

    # number part: classify the separators
    grouped = _match_arrow(num, ".*[" + _SPACES + "].*")
    core = num
    if grouped.any():
        ok &= ~grouped | _match_arrow(num, _N_GROUPED)
        core = pc.replace_substring_regex(num, "[" + _SPACES + "]", "")
    num = None
    is_int = _match_arrow(core, _N_INT)
    is_sci = _match_arrow(core, _N_SCI)
    ambig = (_match_arrow(core, _N_AMBIG) & ~grouped)
    # after space grouping a single separator is the decimal one
    point = (_match_arrow(core, _N_POINT) & ~ambig) & ~is_sci
    comma = (_match_arrow(core, _N_COMMA) & ~ambig)
    ok &= is_int | is_sci | ambig | point | comma
    return {"blank": blank, "ok": ok, "negs": negs, "code": code, "is_sci": is_sci,
            "ambig": ambig, "point": point, "comma": comma, "core": core}


def _fast_chunk(chunk: pa.Array, native: np.ndarray) -> tuple:
    """:func:`_fast_amounts` of one chunk: ``(fast, negs, dollar, point, comma, magnitude)``,
    all but the first None when no value of the chunk has a fast form."""
    fast = _match_arrow(chunk, _RE_FAST) & ~native
    euro = np.zeros(len(fast), dtype=bool) if fast.all() else _match_arrow(chunk, _RE_FAST_COMMA) & ~native & ~fast
    fast |= euro
    if not fast.any():
        return fast, None, None, None, None, None
    # the fast values alone: the others masked as missing (no copy of the texts)
    src = chunk if fast.all() else _only(chunk, fast)
    negs = _bool(pc.starts_with(src, "-")) | _bool(pc.starts_with(src, "(")) | _bool(pc.ends_with(src, "-"))
    dollar = _bool(pc.match_substring(src, "$"))
    point = _bool(pc.match_substring(src, ".")) & ~euro  # (in the comma forms a point groups)
    # the sign, "$" and brackets stripped around the digits, the groups removed: a fast
    # value has a comma only with a decimal point (or, in the comma forms, a point only
    # with a decimal comma), and a column whose decimal separator is the comma rejects
    # every value with a decimal point (and the other way round), so this reading is the
    # column's whenever the column is read at all
    digits = pc.utf8_trim(src, characters="-$()")
    plain = pc.replace_substring(digits, ",", "")
    if euro.any():
        plain = pc.if_else(pa.array(euro), pc.replace_substring(pc.replace_substring(digits, ".", ""), ",", "."),
                           plain)
    magnitude = _num(plain)
    return fast, negs, dollar, point, euro, magnitude


def _fast_amounts(src: pa.Array | pa.ChunkedArray, native: np.ndarray) -> tuple:
    """The fast path of :func:`_parse_amounts` over all values: ``(fast, negs, code_id,
    point, comma, magnitude)`` -- which values have a fast form (:data:`_RE_FAST`,
    :data:`_RE_FAST_COMMA`), their negative marks (0/1), currency code (0: "$", -1: none),
    whether they have a decimal point or a decimal comma, and their magnitude (NaN where
    not fast). Worked out chunk by chunk (the working arrays
    stay small); on a large column two threads take the chunks in turn, each the next one
    not yet taken (:func:`together`), so that a thread that started late (busy with other
    work) takes fewer. Every chunk's result is the same whichever thread reads it."""
    from .._parallel import together

    chunks = src.chunks if isinstance(src, pa.ChunkedArray) else [src]
    chunks = [c for c in chunks if len(c)]
    starts = np.cumsum([0] + [len(c) for c in chunks])
    n = int(starts[-1])
    results: list = [None] * len(chunks)
    lock = threading.Lock()
    taken = [0]

    def reader() -> None:
        while True:
            with lock:
                i = taken[0]
                taken[0] += 1
            if i >= len(chunks):
                return
            try:
                results[i] = _fast_chunk(chunks[i], native[starts[i]:starts[i + 1]])
            except Exception as exc:  # noqa: BLE001 - raised below, the first chunk's first
                results[i] = exc

    together(reader, reader, rows=n)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    fast = np.concatenate([r[0] for r in results]) if results else np.zeros(0, dtype=bool)

    def joined(k: int, fill, dtype) -> np.ndarray:
        return np.concatenate([r[k] if r[k] is not None else np.full(len(r[0]), fill, dtype=dtype)
                               for r in results]).astype(dtype, copy=False) if results else np.zeros(0, dtype)

    negs = joined(1, False, bool).astype(np.int64)
    code_id = np.where(joined(2, False, bool), np.int32(0), np.int32(-1))
    point = joined(3, False, bool)
    comma = joined(4, False, bool)
    magnitude = joined(5, np.nan, np.float64)
    return fast, negs, code_id, point, comma, magnitude


def _only(src: pa.Array, keep: np.ndarray) -> pa.Array:
    """The string array ``src`` with the values where ``keep`` is False made missing: the
    same buffers under a new validity bitmap (no copy of the texts); a filter-free stand-in
    for ``src.filter(keep)`` whose results stay aligned with ``src``. Falls back to a copy
    (``if_else``) for a sliced array or one with missing values already."""
    if src.offset or src.null_count or not (pa.types.is_string(src.type) or pa.types.is_large_string(src.type)):
        return pc.if_else(pa.array(keep), src, pa.scalar(None, src.type))
    buffers = src.buffers()
    bitmap = pa.py_buffer(np.packbits(keep, bitorder="little"))
    return pa.Array.from_buffers(src.type, len(src), [bitmap, buffers[1], buffers[2]],
                                 null_count=int(len(keep) - np.count_nonzero(keep)))


def _is_number_like(uniq: np.ndarray) -> np.ndarray:
    return pd.Series(uniq, dtype=object).map(
        lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    ).to_numpy(dtype=bool)


def parse_amounts(values: pd.Series, *, decimal: str | None = None, column: str = "",
                  file: str = "", rows=None) -> AmountParse:
    """Parse one column of money amounts.

    Reads ``1,234.56``, ``1.234,56``, ``1 234,56``, ``1'234.56``, ``$1,250.00``,
    ``($40.00)``, ``1.234,56-``, ``-1234.5``, ``EUR 1.200,00``, ``1,200.00 USD``, ``40.00 CR``,
    ``12.5``, ``1250`` and numeric columns. The decimal separator is decided for the whole
    column from values that can only be read one way (``1.234,56`` or ``12,50`` prove a
    decimal comma; ``1,234.56`` or ``0.5`` prove a decimal point). ``DR`` is accepted and
    ignored (a debit is positive).

    Parameters
    ----------
    values : pandas.Series
        The raw column (strings or numbers).
    decimal : {".", ","}, optional
        Stated decimal separator; still checked against the data.
    column, file : str, optional
        Names for messages.
    rows : array-like, optional
        Physical row numbers for messages (default: the index labels).

    Returns
    -------
    AmountParse

    Raises
    ------
    InputError
        When values prove both separators, when only ambiguous values like ``1,234`` exist
        and ``decimal`` is not given, when ``decimal`` contradicts the data, or when
        ``decimal`` is not "." or ",".

    Examples
    --------
    >>> parse_amounts(pd.Series(["($40.00)", "1,250.00", ""])).values.tolist()
    [-40.0, 1250.0, nan]
    """
    parsed, codes, table = _parse_amounts(values, decimal=decimal, column=column, file=file, rows=rows)
    if codes is None:
        return parsed
    curr = np.array(table + [None], dtype=object).take(codes)  # (code -1: the last entry, None)
    return replace(parsed, currency=pd.Series(curr, index=parsed.values.index, name=values.name, dtype=object))


def _parse_amounts(values: pd.Series, *, decimal: str | None = None, column: str = "", file: str = "",
                   rows=None) -> tuple[AmountParse, np.ndarray | None, list | None]:
    """:func:`parse_amounts`, with the currency of each row as a code into a list of
    currencies (``(parse, codes, currencies)``, code -1: none; ``parse.currency`` is then
    None) so that a caller can build its currency column without one Python object per row.
    ``codes`` is None when ``parse.currency`` is given instead."""
    if decimal is not None and decimal not in (".", ","):
        raise InputError(f"decimal must be '.' or ',', not {decimal!r}", file=file or None,
                         column=column or None, hint=_DECIMAL_HINT)
    index = values.index
    if pd.api.types.is_bool_dtype(values.dtype):
        raise InputError("expected amounts but found a yes/no column", file=file or None,
                         column=column or None)
    if pd.api.types.is_numeric_dtype(values.dtype):
        vals = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=index,
                         name=values.name)
        return AmountParse(values=vals, failed=pd.Series(False, index=index),
                           currency=pd.Series(None, index=index, dtype=object),
                           decimal=".", note="numbers already in the file"), None, None

    codes, uniques = _distinct(values)
    n = len(uniques)
    out = np.full(n, np.nan)
    if isinstance(getattr(uniques, "dtype", None), pd.StringDtype):
        # Arrow-backed strings (the readers' cells): no Python object per distinct value
        native = np.zeros(n, dtype=bool)
        text = _as_text(uniques)
    else:
        uniq = np.asarray(uniques, dtype=object)
        native = _is_number_like(uniq) if n and pd.api.types.infer_dtype(uniq) != "string" else np.zeros(n, bool)
        if native.any():
            out[native] = uniq[native].astype("float64")
        text = _as_text(uniq).mask(pd.Series(native), "")
    src = pa.array(text.array)  # as the chunks of the cells: no copy into one array
    text = None

    # fast path: most cells of a regular export are a plain or dollar amount with a decimal
    # point ("1234.56", "-$1,234.56", "($40.00)", "1250"), or an amount with a decimal comma
    # ("1.234,56-", SAP's form). Two RE2 passes recognise them; their classes follow from
    # the patterns (see _RE_FAST, _RE_FAST_COMMA) and only the rest goes through
    # the full chain (_amount_chain), whose results are the same for these values. Their
    # magnitudes are read here too (see _fast_amounts), chunk by chunk, on two cores for
    # large columns.
    if _FAST_AMOUNTS and n:
        fast, negs, code_id, point, comma, fast_read = _fast_amounts(src, native)
    else:
        fast, point, comma, fast_read = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), None
        negs, code_id = np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int32)
    if fast.all():
        rest = np.zeros(0, dtype=np.intp)
    else:
        rest = np.flatnonzero(~fast)
    blank = np.zeros(n, dtype=bool)
    ok = np.ones(n, dtype=bool)
    # currency per value as an index into ``currencies`` (-1 = none): no object array of n
    currencies = [_SYMBOLS["$"]]
    is_sci = np.zeros(n, dtype=bool)
    ambig = np.zeros(n, dtype=bool)
    core_rest = None
    if len(rest):
        sub = src if not fast.any() else src.take(pa.array(rest))
        if isinstance(sub, pa.ChunkedArray):
            sub = sub.combine_chunks()
        parts = _amount_chain(sub, native[rest])
        blank[rest] = parts["blank"]
        ok[rest] = parts["ok"]
        negs[rest] = parts["negs"]
        ids, found = pd.factorize(pd.Series(parts["code"], dtype=object), use_na_sentinel=True)
        code_id[rest] = np.where(ids >= 0, ids + len(currencies), -1)
        currencies += list(found)
        is_sci[rest] = parts["is_sci"]
        ambig[rest] = parts["ambig"]
        point[rest] = parts["point"]
        comma[rest] = parts["comma"]
        core_rest = parts["core"]
        sub = parts = None
    src = None  # only the number part is read from here on: free the texts (memory)

    usable = ok & ~blank
    point_proof = usable & point
    comma_proof = usable & comma

    def example(mask: np.ndarray) -> str:
        row_hits = np.flatnonzero(mask[codes] & (codes >= 0))
        pos = int(row_hits[0])
        return f"{str(values.iloc[pos])!r} (row {_row_label(values, pos, rows)})"

    where = _where(file, column)
    if decimal is None:
        if point_proof.any() and comma_proof.any():
            raise InputError(
                f"amounts are written with both a decimal point and a decimal comma: "
                f"{example(point_proof)} uses a decimal point, {example(comma_proof)} a "
                f"decimal comma",
                file=file or None, column=column or None,
                hint="Correct the inconsistent amounts in the export, or state the decimal "
                     "separator for this column in the mapping file (decimal = \".\" or \",\").",
            )
        if point_proof.any():
            decimal, note = ".", f"decimal point: {example(point_proof)}"
        elif comma_proof.any():
            decimal, note = ",", f"decimal comma: {example(comma_proof)}"
        elif (usable & ambig).any():
            raise InputError(
                f"cannot tell the decimal separator: every amount with a separator looks like "
                f"{example(usable & ambig)}, which could be a thousands separator or a "
                f"decimal one",
                file=file or None, column=column or None, hint=_DECIMAL_HINT,
            )
        else:
            decimal, note = ".", "no decimal separator needed (whole numbers)"
    else:
        against = comma_proof if decimal == "." else point_proof
        if against.any():
            raise InputError(
                f"decimal is {decimal!r} but {example(against)} can only be read with a "
                f"decimal {'comma' if decimal == '.' else 'point'}",
                file=file or None, column=column or None,
                hint="Check the decimal setting for this column in the mapping file, or "
                     "remove it to let arinsights decide from the data.",
            )
        note = f"decimal {'point' if decimal == '.' else 'comma'} as configured"

    def to_float(core: pa.Array) -> pa.Array:
        if decimal == ".":
            return pc.replace_substring(core, ",", "")
        return pc.replace_substring(pc.replace_substring(core, ".", ""), ",", ".")

    magnitude = np.full(n, np.nan) if len(rest) or fast_read is None else fast_read
    if core_rest is not None:
        clean = pc.if_else(pa.array(is_sci[rest]), core_rest, to_float(core_rest))
        core_rest = None
        use = pa.array(usable[rest])
        magnitude[rest] = _num(pc.if_else(use, clean, pa.scalar(None, clean.type)))
        clean = None
    if fast_read is not None and len(rest):
        magnitude = np.where(fast, fast_read, magnitude)
    fast_read = None
    # the sign (a negation, as a product with -1.0 gives it: -0.0 stays -0.0), NaN where
    # not usable, the native numbers as they are; no working copy where nothing changes
    parsed = np.negative(magnitude, out=magnitude, where=negs >= 1)
    if not usable.all():
        parsed[~usable] = np.nan
    out = np.where(native, out, parsed) if native.any() else parsed
    parsed = magnitude = None
    cur = np.where(usable & np.isfinite(out), code_id, np.int32(-1))

    # back to the rows: one take per result, the missing-value code -1 picking the extra
    # last element (NaN / blank / no currency)
    if n == len(codes) and (not n or codes.min() >= 0):
        # one distinct value per row, none missing: the codes are 0, 1, ... (values are
        # numbered in order of appearance), the results are the rows' already
        vals, blank_rows, cur_rows = out, blank, cur  # (out is this call's own: no copy)
    else:
        take = np.where(codes >= 0, codes, n)
        vals = np.append(out, np.nan).take(take)
        blank_rows = np.append(blank, True).take(take)
        cur_rows = np.append(cur, -1).take(take)
        take = None
    failed = ~np.isfinite(vals) & ~blank_rows
    vals[failed] = np.nan  # e.g. "1e999": too large for a number, as unknown as "abc"
    if failed.any():
        note += (f"; {int(failed.sum())} value(s) could not be read as amounts{where}, e.g. "
                 f"{example(~np.isfinite(out) & ~blank)}")  # unreadable, or too large for a number
    return AmountParse(
        values=pd.Series(vals, index=index, name=values.name, dtype="float64"),
        failed=pd.Series(failed, index=index, name=values.name),
        currency=None,
        decimal=decimal,
        note=note,
    ), cur_rows, currencies


# --------------------------------------------------------------------------------------
# identifiers and flags
# --------------------------------------------------------------------------------------

def normalise_ids(values: pd.Series, *, numeric_source: bool = False) -> pd.Series:
    """Identifiers as clean strings.

    Whitespace is stripped and leading zeros are kept (``"0000611365"`` stays as is).
    Numbers stored by Excel/Parquet as floats lose their spurious ``.0`` (``611365.0`` ->
    ``"611365"``); a text ``"611365.0"`` is left alone unless ``numeric_source`` says the
    column came from a numeric Excel/Parquet column rendered as text. Blanks become None.

    Parameters
    ----------
    values : pandas.Series
        Strings, numbers, or a mix.
    numeric_source : bool, default False
        The column was numeric in the source file, so ``"611365.0"`` means ``611365``.

    Returns
    -------
    pandas.Series
        object dtype, str or None; same index.

    Examples
    --------
    >>> normalise_ids(pd.Series([" 0007 ", 611365.0, "", None])).tolist()
    ['0007', '611365', None, None]
    """
    index = values.index
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniq = np.asarray(uniques, dtype=object)
    n = len(uniq)
    if n == 0:
        return pd.Series([None] * len(values), index=index, dtype=object, name=values.name)
    text = _as_text(uniq)
    if pd.api.types.infer_dtype(uniq) != "string":
        native = _is_number_like(uniq)
        if native.any():
            nums = uniq[native].astype("float64")
            integral = np.isfinite(nums) & (np.floor(nums) == nums) & (np.abs(nums) < 2 ** 63)
            rendered = np.where(integral, np.char.mod("%d", np.where(integral, nums, 0).astype("int64")),
                                uniq[native].astype(str))
            text = text.mask(pd.Series(native), pd.Series(np.empty(n, dtype=object)))
            text.iloc[np.flatnonzero(native)] = rendered
    if numeric_source:
        text = text.str.replace(r"^(\d+)\.0*$", r"\1", regex=True)
    missing = text.str.lower().isin(("", "nan", "none", "nat", "<na>")).to_numpy(dtype=bool, na_value=True)
    clean = np.where(missing, None, text.to_numpy(dtype=object, na_value=None))
    out = np.where(codes >= 0, clean.take(np.maximum(codes, 0)), None)
    return pd.Series(out, index=index, dtype=object, name=values.name)


_TRUE = ("yes", "y", "true", "t", "1", "x", "1.0", "on", "disputed")
_FALSE = ("no", "n", "false", "f", "0", "0.0", "off")


def parse_flags(values: pd.Series, *, column: str = "", file: str = "") -> pd.Series:
    """Yes/no flags as a nullable boolean column.

    ``Yes/No``, ``Y/N``, ``True/False``, ``T/F``, ``1/0`` (case-insensitive) map to
    True/False and blanks to <NA>. In a column that marks only ``X`` (the "X or blank"
    convention), blanks are False; a column whose values are all blank stays <NA>.

    Parameters
    ----------
    values : pandas.Series
        Strings, bools or 0/1 numbers.
    column, file : str, optional
        Names for messages.

    Returns
    -------
    pandas.Series
        ``boolean`` dtype (True/False/<NA>), same index.

    Raises
    ------
    InputError
        Listing the values that are not a recognised yes/no token.

    Examples
    --------
    >>> parse_flags(pd.Series(["Yes", "no", ""])).tolist()
    [True, False, <NA>]
    """
    index = values.index
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniq = np.asarray(uniques, dtype=object)
    text = _as_text(uniq).str.lower()
    is_true = text.isin(_TRUE).to_numpy(dtype=bool, na_value=False)
    is_false = text.isin(_FALSE).to_numpy(dtype=bool, na_value=False)
    blank = _is_missing_text(text)
    unknown = ~(is_true | is_false | blank)
    if unknown.any():
        bad = [str(v) for v in uniq[unknown][:10]]
        raise InputError(
            f"expected yes/no values but found {', '.join(map(repr, bad))}"
            + (f" and {int(unknown.sum()) - 10} more" if unknown.sum() > 10 else ""),
            file=file or None, column=column or None,
            hint="Use Yes/No, Y/N, True/False, 1/0 or X/blank in this column, or leave it "
                 "out of the mapping.",
        )
    x_only = text[is_true].isin(["x"]).all() and is_true.any() and not is_false.any()
    # per distinct value (and a last entry for missing cells): the flag and whether it is
    # known; the rows take both (a boolean array and its mask: no Python object per row)
    flag = np.append(is_true, False)
    known = np.append(is_true | is_false | (blank & bool(x_only)), bool(x_only))
    take = np.where(codes >= 0, codes, len(uniq))
    out = pd.arrays.BooleanArray(flag.take(take), ~known.take(take))
    return pd.Series(out, index=index, name=values.name)
