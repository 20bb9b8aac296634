"""Tests for arinsights.ingest.parsing.

References: expected dates are written out by hand from the calendar (or computed with the
standard library ``datetime`` from the components we formatted); Excel serial numbers are
checked against Excel's own DATE() values (DATE(2023,7,16) = 45123, DATE(1900,3,1) = 61,
DATE(2025,3,2) = 45718) and against ``pd.to_datetime(n, unit="D", origin="1899-12-30")``.
Amounts are compared with the hand-written number or the integer cents we formatted.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arinsights.errors import InputError
from arinsights.ingest.parsing import (
    DAYFIRST,
    MONTHFIRST,
    YEARFIRST,
    normalise_ids,
    parse_amounts,
    parse_date_columns,
    parse_dates,
    parse_flags,
)
from arinsights.settings import Settings

D = pd.Timestamp


# ------------------------------------------------------------------------------ dates

@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-03-02", D("2025-03-02")),
        ("2025-03-02 14:05:00", D("2025-03-02")),
        ("2025-03-02T14:05:00Z", D("2025-03-02")),
        ("2025-03-02T23:59:59+05:30", D("2025-03-02")),  # calendar date as written
        ("2025/3/2", D("2025-03-02")),
        ("05-Feb-19", D("2019-02-05")),
        ("05-Feb-2019", D("2019-02-05")),
        ("15 Jul 2026", D("2026-07-15")),
        ("Jul 15, 2026", D("2026-07-15")),
        ("July 15 2026", D("2026-07-15")),
        ("Thursday, July 30, 2026", D("2026-07-30")),
        (" Thursday, July 30, 2026 04:19 PM GMT-06:00", D("2026-07-30")),
        ("15-JUL-26", D("2026-07-15")),
        ("20190205", D("2019-02-05")),
        ("20190205.0", D("2019-02-05")),
        ("45123", D("2023-07-16")),      # Excel DATE(2023,7,16)
        ("45123.0", D("2023-07-16")),
        ("45718.75", D("2025-03-02")),   # Excel 2025-03-02 18:00, time dropped
    ],
)
def test_unambiguous_formats(text, expected):
    res = parse_dates(pd.Series([text]), column="d")
    assert res.values.iloc[0] == expected
    assert not res.failed.iloc[0]
    assert res.order is None


# month names as spreadsheets in other locales write them (Excel's "dd-mmm-yy" and long
# date formats): German, French, Dutch, Spanish, Italian, Portuguese, Danish/Norwegian
@pytest.mark.parametrize(
    "text, expected",
    [
        ("15-Mrz-26", D("2026-03-15")),           # German Excel: Jan Feb Mrz Apr Mai ... Okt Nov Dez
        ("15. März 2026", D("2026-03-15")),
        ("15 MÄRZ 2026", D("2026-03-15")),        # case folded beyond ASCII
        ("01-Mai-26", D("2026-05-01")),
        ("3-Okt-2026", D("2026-10-03")),
        ("24. Dezember 2025", D("2025-12-24")),
        ("15 juil. 2026", D("2026-07-15")),       # French: juin and juil. are different months
        ("15 juin 2026", D("2026-06-15")),
        ("1er août 2026", D("2026-08-01")),
        ("15-DÉC.-25", D("2025-12-15")),
        ("3 févr. 2026", D("2026-02-03")),
        ("15 mrt 2026", D("2026-03-15")),         # Dutch
        ("15 mei 2026", D("2026-05-15")),
        ("9-ene-26", D("2026-01-09")),            # Spanish
        ("15 de julio de 2026", D("2026-07-15")),
        ("31-dic-25", D("2025-12-31")),
        ("7 giugno 2026", D("2026-06-07")),       # Italian
        ("12-ott-26", D("2026-10-12")),
        ("15 de março de 2026", D("2026-03-15")),  # Portuguese
        ("20-out-26", D("2026-10-20")),
        ("11. des. 2025", D("2025-12-11")),       # Norwegian
    ],
)
def test_month_names_in_other_languages(text, expected):
    res = parse_dates(pd.Series([text]), column="d")
    assert res.values.iloc[0] == expected, text
    assert not res.failed.iloc[0]


def test_no_month_name_stands_for_two_months():
    from arinsights.ingest.parsing import _MONTH_FORMS, _MONTH_NUMBER

    forms = [f for line in _MONTH_FORMS for f in line.split()]
    assert len(forms) == len(set(forms)) == len(_MONTH_NUMBER)
    english = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    assert [_MONTH_NUMBER[m] for m in english] == list(range(1, 13))
    # words that are not months stay unread
    res = parse_dates(pd.Series(["15 foo 2026", "15 de 2026", "15 ma 2026"]), column="d")
    assert res.failed.all()


def test_excel_serial_agrees_with_pandas_origin():
    serials = np.array([20000, 36526, 45123, 79999])
    ref = pd.to_datetime(serials, unit="D", origin="1899-12-30")
    res = parse_dates(pd.Series(serials.astype(str)))
    assert (res.values.to_numpy() == ref.to_numpy()).all()


def test_numeric_date_columns_from_excel_or_parquet():
    # float columns as a spreadsheet gives them: serial days and yyyymmdd numbers
    res = parse_dates(pd.Series([45123.0, np.nan, 20190205.0]))
    assert res.values.tolist()[0] == D("2023-07-16")
    assert pd.isna(res.values.iloc[1]) and not res.failed.iloc[1]
    assert res.values.iloc[2] == D("2019-02-05")


@pytest.mark.parametrize(
    "values, order, expected",
    [
        (["1/2/2013", "2/13/2013"], MONTHFIRST, ["2013-01-02", "2013-02-13"]),
        (["02/01/2013", "13/01/2013"], DAYFIRST, ["2013-01-02", "2013-01-13"]),
        (["17.03.2025", "01.04.2025"], DAYFIRST, ["2025-03-17", "2025-04-01"]),
        (["17-03-25", "1-4-25"], DAYFIRST, ["2025-03-17", "2025-04-01"]),
        (["03/17/2025 14:05", "04/01/2025 09:00:00 AM"], MONTHFIRST, ["2025-03-17", "2025-04-01"]),
    ],
)
def test_day_month_order_proved_by_data(values, order, expected):
    res = parse_dates(pd.Series(values), column="InvoiceDate")
    assert res.order == order
    assert res.values.tolist() == [D(e) for e in expected]
    assert not res.failed.any()


def test_note_says_how_order_was_decided():
    res = parse_dates(pd.Series(["01/02/2025", "17/03/2025"]), column="DueDate")
    assert "day-first" in res.note and "'17/03/2025'" in res.note and "DueDate" in res.note


def test_two_digit_years_pivot_at_70():
    res = parse_dates(pd.Series(["31/12/69", "01/01/70", "15-Jul-99", "15-Jul-00"]))
    assert res.values.tolist() == [D("2069-12-31"), D("1970-01-01"), D("1999-07-15"),
                                   D("2000-07-15")]


def test_blanks_are_missing_not_failed():
    raw = pd.Series(["", "   ", "NaN", "None", "NaT", None, np.nan, "00.00.0000", "nan"])
    res = parse_dates(raw)
    assert res.values.isna().all()
    assert not res.failed.any()


def test_unreadable_and_impossible_dates_fail():
    raw = pd.Series(["2025-03-02", "soon", "29/02/2023", "29/02/2024", "13/13/2025", "99999",
                     "2025-02-30", "12345"])
    res = parse_dates(raw, column="DueDate", file="ledger.csv")
    assert res.failed.tolist() == [False, True, True, False, True, True, True, True]
    assert res.values.iloc[3] == D("2024-02-29")  # leap day is real
    assert "could not be read" in res.note and "'soon'" in res.note


def test_index_is_kept_and_rows_reported():
    raw = pd.Series(["03/04/2025", "05/06/2025"], index=[10, 11])
    with pytest.raises(InputError) as err:
        parse_dates(raw, column="Date", file="f.csv", rows=[7, 8])
    assert "row 7" in str(err.value)
    res = parse_dates(raw, order=DAYFIRST)
    assert list(res.values.index) == [10, 11]


def test_ambiguous_order_is_an_error_with_a_fix():
    frame = pd.DataFrame({"InvoiceDate": ["03/04/2025", "05/06/2025"],
                          "DueDate": ["03/05/2025", "05/07/2025"]})
    with pytest.raises(InputError) as err:
        parse_date_columns(frame, ["InvoiceDate", "DueDate"], file="xero.csv")
    msg = str(err.value)
    assert "xero.csv" in msg
    assert "ambiguous date order" in msg and "'InvoiceDate'" in msg and "'DueDate'" in msg
    assert "'03/04/2025'" in msg
    assert "3 April 2025" in msg and "4 March 2025" in msg
    assert 'date_order = "dayfirst"' in msg and "monthfirst" in msg
    assert "Settings().replace(ingest=" in msg
    # ... and the hint works: the named setting resolves it
    order = Settings().replace(ingest={"date_order": "dayfirst"}).ingest.date_order
    res = parse_date_columns(frame, ["InvoiceDate", "DueDate"], order=order)
    assert res["InvoiceDate"].values.tolist() == [D("2025-04-03"), D("2025-06-05")]
    assert res["DueDate"].order == DAYFIRST


def test_order_decided_jointly_across_columns():
    # InvoiceDate alone is ambiguous; DueDate proves day-first for the whole file
    frame = pd.DataFrame({"InvoiceDate": ["01/02/2025", "03/04/2025"],
                          "DueDate": ["03/03/2025", "17/04/2025"],
                          "Created": ["2025-02-01", "2025-04-03"]})
    res = parse_date_columns(frame, ["InvoiceDate", "DueDate", "Created"], file="f.csv")
    assert res["InvoiceDate"].values.tolist() == [D("2025-02-01"), D("2025-04-03")]
    assert res["InvoiceDate"].order == DAYFIRST and res["DueDate"].order == DAYFIRST
    assert res["Created"].order is None
    assert "'17/04/2025'" in res["InvoiceDate"].note and "DueDate" in res["InvoiceDate"].note


def test_dotted_dates_proving_dayfirst_decide_the_file():
    frame = pd.DataFrame({"Doc. Date": ["17.03.2025"], "Clearing": ["01/02/2025"]})
    res = parse_date_columns(frame, ["Doc. Date", "Clearing"])
    assert res["Clearing"].values.iloc[0] == D("2025-02-01")


def test_dotted_dates_alone_follow_the_same_rule():
    with pytest.raises(InputError, match="ambiguous date order"):
        parse_dates(pd.Series(["01.02.2025", "03.04.2025"]), column="Net due dt")


def test_equal_day_and_month_is_not_ambiguous():
    res = parse_dates(pd.Series(["03/03/2025", "2025-04-01"]))
    assert res.values.tolist() == [D("2025-03-03"), D("2025-04-01")]


def test_both_orders_proved_is_an_error_naming_both():
    frame = pd.DataFrame({"InvoiceDate": ["17/03/2025", "01/01/2025"],
                          "DueDate": ["01/01/2025", "04/16/2025"]})
    with pytest.raises(InputError) as err:
        parse_date_columns(frame, ["InvoiceDate", "DueDate"], file="mixed.csv")
    msg = str(err.value)
    assert "mixed.csv" in msg and "both day-first and month-first" in msg
    assert "'17/03/2025' in column 'InvoiceDate' (row 0)" in msg
    assert "'04/16/2025' in column 'DueDate' (row 1)" in msg


def test_given_order_is_used_but_checked():
    raw = pd.Series(["03/04/2025"])
    assert parse_dates(raw, order=MONTHFIRST).values.iloc[0] == D("2025-03-04")
    assert parse_dates(raw, order=DAYFIRST).values.iloc[0] == D("2025-04-03")
    with pytest.raises(InputError) as err:
        parse_dates(pd.Series(["03/04/2025", "17/03/2025"]), order=MONTHFIRST,
                    column="DueDate", file="f.csv")
    msg = str(err.value)
    assert "'17/03/2025'" in msg and "day-first" in msg and "date_order" in msg
    with pytest.raises(InputError, match="date_order must be"):
        parse_dates(raw, order="ymd")


def test_datetime_input_passes_through_at_midnight():
    for values in (pd.Series(pd.to_datetime(["2025-03-02 14:05", None])),
                   pd.Series(pd.to_datetime(["2025-03-02 14:05", None]).as_unit("us")),
                   pd.Series(pd.to_datetime(["2025-03-02 14:05", None]).tz_localize("Europe/Berlin"))):
        res = parse_dates(values)
        assert res.values.iloc[0] == D("2025-03-02") and pd.isna(res.values.iloc[1])
        assert not res.failed.any()


def test_object_column_with_native_datetimes_and_strings():
    raw = pd.Series([dt.datetime(2025, 3, 2, 14, 5), dt.date(2025, 3, 3), "2025-03-04", None],
                    dtype=object)
    res = parse_dates(raw)
    assert res.values.tolist()[:3] == [D("2025-03-02"), D("2025-03-03"), D("2025-03-04")]


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _format(day: dt.date, style: str, sep: str, pad: bool) -> str:
    d = f"{day.day:02d}" if pad else str(day.day)
    m = f"{day.month:02d}" if pad else str(day.month)
    mon = _MONTHS[day.month - 1]
    return {
        "iso": day.isoformat(),
        "iso_time": f"{day.isoformat()} 14:05:00",
        "iso_z": f"{day.isoformat()}T23:59:00Z",
        "dmy": f"{d}{sep}{m}{sep}{day.year}",
        "mdy": f"{m}{sep}{d}{sep}{day.year}",
        "dmy2": f"{d}{sep}{m}{sep}{day.year % 100:02d}",
        "mdy2": f"{m}{sep}{d}{sep}{day.year % 100:02d}",
        "dmony": f"{day.day:02d}-{mon[:3]}-{day.year % 100:02d}",
        "d_mon_y": f"{day.day} {mon[:3]} {day.year}",
        "mon_d_y": f"{mon[:3]} {day.day}, {day.year}",
        "month_d_y": f"{mon} {day.day} {day.year}",
        "weekday": f"{_DAYS[day.weekday()]}, {mon} {day.day}, {day.year}",
        "ymd8": day.strftime("%Y%m%d"),
        "ymd8f": day.strftime("%Y%m%d") + ".0",
        "serial": str((day - dt.date(1899, 12, 30)).days),
        "serialf": f"{(day - dt.date(1899, 12, 30)).days}.0",
    }[style]


_STYLES = ["iso", "iso_time", "iso_z", "dmy", "dmy2", "dmony", "d_mon_y", "mon_d_y",
           "month_d_y", "weekday", "ymd8", "ymd8f", "serial", "serialf"]


@settings(max_examples=60, deadline=None)
@given(cases=st.lists(st.tuples(st.dates(dt.date(1990, 1, 1), dt.date(2060, 12, 31)),
                                st.sampled_from(_STYLES), st.sampled_from(["/", "-", "."]),
                                st.booleans()), min_size=1, max_size=25),
       monthfirst=st.booleans())
def test_any_supported_date_parses_back(cases, monthfirst):
    # one column per example (a file is written one way): numeric d/m styles all day-first
    # or all month-first, plus an order-proving companion (the 13th of January 2001)
    swap = {"dmy": "mdy", "dmy2": "mdy2"} if monthfirst else {}
    texts = [_format(day, swap.get(style, style), sep, pad) for day, style, sep, pad in cases]
    texts.append(_format(dt.date(2001, 1, 13), "mdy" if monthfirst else "dmy", "/", False))
    res = parse_dates(pd.Series(texts))
    assert not res.failed.any(), texts
    assert res.values.iloc[:-1].tolist() == [pd.Timestamp(c[0]) for c in cases], texts


def test_many_repeated_dates_are_vectorised():
    # 200k rows of 3 distinct strings: exercised for correctness, not timed
    raw = pd.Series(["17/03/2025", "01/04/2025", ""] * 66_667)
    res = parse_dates(raw)
    assert res.values.iloc[:3].tolist()[:2] == [D("2025-03-17"), D("2025-04-01")]
    assert int(res.values.isna().sum()) == 66_667 and not res.failed.any()


# ---------------------------------------------------------------- year-first (yy-mm-dd)
# A realistic ledger written yy-mm-dd, 2023-2025: invoice dates and due dates ~30 days later.
# Hand-read year-first: 23-11-02 = 2 Nov 2023, 23-12-02 = 2 Dec 2023, 24-02-29 = 29 Feb 2024,
# 24-03-30 = 30 Mar 2024, 24-07-15 = 15 Jul 2024, 24-08-14 = 14 Aug 2024, 25-01-30 = 30 Jan
# 2025, 25-03-01 = 1 Mar 2025, 25-05-09 = 9 May 2025, 25-06-08 = 8 Jun 2025. Read day-first,
# 24-07-15 would be 24 July 2015 and the "years" would run 2001-2030 (the days of the month).
_YF_INV = ["24-07-15", "23-11-02", "25-01-30", "24-02-29", "25-05-09"]
_YF_DUE = ["24-08-14", "23-12-02", "25-03-01", "24-03-30", "25-06-08"]
_YF_INV_DATES = [D("2024-07-15"), D("2023-11-02"), D("2025-01-30"), D("2024-02-29"), D("2025-05-09")]
_YF_DUE_DATES = [D("2024-08-14"), D("2023-12-02"), D("2025-03-01"), D("2024-03-30"), D("2025-06-08")]


def test_yearfirst_ledger_without_an_order_is_an_error_showing_both_readings():
    frame = pd.DataFrame({"InvoiceDate": _YF_INV, "DueDate": _YF_DUE})
    with pytest.raises(InputError) as err:
        parse_date_columns(frame, ["InvoiceDate", "DueDate"], file="erp.csv", rows=[2, 3, 4, 5, 6])
    msg = str(err.value)
    assert "erp.csv" in msg and "'InvoiceDate'" in msg and "'DueDate'" in msg
    assert "'24-07-15' (row 2)" in msg
    assert "24 July 2015 read day-first" in msg and "15 July 2024 read year-first" in msg
    assert "2023-2025" in msg  # the year-first reading's years
    assert 'date_order = "yearfirst"' in msg
    assert 'Settings().replace(ingest={"date_order": "yearfirst"})' in msg
    assert '"dayfirst"' in msg  # ... or confirm the other reading
    # one column alone is enough to see it
    with pytest.raises(InputError, match="year-first"):
        parse_dates(pd.Series(_YF_INV), column="InvoiceDate")


@pytest.mark.parametrize("sep", ["-", "/", "."])
def test_stated_yearfirst_reads_yy_mm_dd_with_any_separator(sep):
    frame = pd.DataFrame({"InvoiceDate": [t.replace("-", sep) for t in _YF_INV],
                          "DueDate": [t.replace("-", sep) for t in _YF_DUE],
                          "Created": ["2024-07-15", "2023-11-02T10:00:00", "", "2024-02-29", "20250509"]})
    res = parse_date_columns(frame, ["InvoiceDate", "DueDate", "Created"], order=YEARFIRST)
    assert res["InvoiceDate"].values.tolist() == _YF_INV_DATES
    assert res["DueDate"].values.tolist() == _YF_DUE_DATES
    # four-digit-year ISO (and yyyymmdd) dates are order-free: read the same
    assert res["Created"].values.tolist()[:2] == [D("2024-07-15"), D("2023-11-02")]
    assert res["Created"].values.tolist()[3:] == [D("2024-02-29"), D("2025-05-09")]
    assert not any(r.failed.any() for r in res.values())
    assert res["InvoiceDate"].order == YEARFIRST == "yearfirst" and res["Created"].order is None
    note = res["InvoiceDate"].note
    assert "year-first (yy-mm-dd) as configured" in note and "is 15 July 2024" in note


def test_stated_yearfirst_reads_unpadded_month_and_day():
    # 24-7-5 is 5 July 2024 once year-first is stated; without it the value has no reading
    # (a one-digit year is not read day- or month-first) and stays a failed value
    res = parse_dates(pd.Series(["24-7-5", "25-1-31", "24/12/1", "24.07.15", "24-2-30"]), order=YEARFIRST)
    assert res.values.tolist()[:4] == [D("2024-07-05"), D("2025-01-31"), D("2024-12-01"), D("2024-07-15")]
    assert res.failed.tolist() == [False, False, False, False, True]  # 30 February
    free = parse_dates(pd.Series(["24-7-5", "25-1-31"]))
    assert free.failed.tolist() == [True, False] and free.values.iloc[1] == D("2031-01-25")
    # day-first data is read as before: 5-7-24 = 5 July 2024
    assert parse_dates(pd.Series(["5-7-24", "25-1-2024"]), order="dayfirst").values.tolist() == [
        D("2024-07-05"), D("2024-01-25")]


def test_stated_yearfirst_from_settings_reads_years_2000_to_2012_too():
    # 2000-2012 put a value <= 12 first: without an order it is the usual ambiguous error;
    # stated year-first: 05-03-17 = 17 March 2005, 12-12-31 = 31 December 2012, 00-01-09 = 9 Jan 2000
    raw = pd.Series(["05-03-17", "12-12-31", "00-01-09"])
    order = Settings().replace(ingest={"date_order": "yearfirst"}).ingest.date_order
    assert parse_dates(raw, order=order).values.tolist() == [D("2005-03-17"), D("2012-12-31"), D("2000-01-09")]


def test_two_digit_day_first_and_month_first_ledgers_read_as_before():
    # dd-mm-yy over 2023-2025, zero-padded, so every value is also a valid yy-mm-dd date
    # (01-02-23 would be 23 Feb 2001): the day/month reading spans 2 years, so no new error.
    # Hand-read day-first: 17-03-23 = 17 Mar 2023, 01-02-24 = 1 Feb 2024, 28-12-24 = 28 Dec 2024,
    # 05-06-25 = 5 Jun 2025, 31-01-25 = 31 Jan 2025.
    frame = pd.DataFrame({"InvoiceDate": ["17-03-23", "01-02-24", "28-12-24"],
                          "DueDate": ["05-06-25", "31-01-25", "01-02-24"]})
    res = parse_date_columns(frame, ["InvoiceDate", "DueDate"])
    assert res["InvoiceDate"].values.tolist() == [D("2023-03-17"), D("2024-02-01"), D("2024-12-28")]
    assert res["DueDate"].values.tolist() == [D("2025-06-05"), D("2025-01-31"), D("2024-02-01")]
    assert res["InvoiceDate"].order == DAYFIRST
    # mm/dd/yy over 2023-2025: 03/17/23 = 17 Mar 2023, 12/01/24 = 1 Dec 2024, 02/05/25 = 5 Feb 2025
    res = parse_dates(pd.Series(["03/17/23", "12/01/24", "02/05/25"]))
    assert res.values.tolist() == [D("2023-03-17"), D("2024-12-01"), D("2025-02-05")]
    assert res.order == MONTHFIRST
    # an all-ambiguous dd.mm.yy ledger is still the ambiguous error, not a year-first one
    with pytest.raises(InputError, match="ambiguous date order"):
        parse_dates(pd.Series(["01.02.24", "03.04.25", "11.12.23"]))


def test_stating_dayfirst_confirms_a_file_that_looks_year_first():
    # the "confirm" fix of the year-first message: the user says day-first, we read day-first
    # 24-07-15 = 24 July 2015, 23-11-02 = 23 Nov 2002
    res = parse_dates(pd.Series(_YF_INV), order=DAYFIRST)
    assert res.values.tolist()[:2] == [D("2015-07-24"), D("2002-11-23")]


def test_yearfirst_decision_thresholds():
    # 2024 dates on the 1st and 11th: read day-first the "years" are 2001 and 2011, a span of
    # 10 -- not more than the 10 a ledger may cover, so read day-first as before (the rule's
    # documented blind spot: days of the month close together)
    assert parse_dates(pd.Series(["24-07-01", "24-08-11"])).order == DAYFIRST
    # the 1st and 12th: span 11 > 10 while year-first spans 0 -> error
    with pytest.raises(InputError, match="year-first"):
        parse_dates(pd.Series(["24-07-01", "24-08-12"]))
    # a dd-mm-yy ledger with one old invoice (15-04-09 = 15 Apr 2009): day/month span 2009-2024 = 15,
    # year-first span 2015-2028 = 13, not under half of 15 -> read day-first as before
    res = parse_dates(pd.Series(["15-03-24", "28-03-24", "18-03-24", "15-04-09"]))
    assert res.values.tolist() == [D("2024-03-15"), D("2024-03-28"), D("2024-03-18"), D("2009-04-15")]
    # ... but with its days close together (year-first 2015-2022 = 7, under half of 15) it stops
    with pytest.raises(InputError, match="year-first"):
        parse_dates(pd.Series(["15-03-24", "22-03-24", "18-03-24", "15-04-09"]))
    # one four-digit year (or one unpadded first field) rules year-first out: day-first as before
    res = parse_dates(pd.Series(["24-07-01", "24-08-28", "15-03-2024"]))
    assert res.values.tolist() == [D("2001-07-24"), D("2028-08-24"), D("2024-03-15")]
    assert parse_dates(pd.Series(["24-07-01", "24-08-28", "5-03-24"])).order == DAYFIRST


def test_stated_yearfirst_contradicted_by_the_data_is_an_error():
    # a four-digit last field cannot be yy-mm-dd: 15-07-2024 reads only day-first
    with pytest.raises(InputError) as err:
        parse_dates(pd.Series(["24-07-15", "15-07-2024"]), order=YEARFIRST, column="DocDate",
                    file="f.csv")
    msg = str(err.value)
    assert "f.csv" in msg and "DocDate" in msg
    assert "date_order is 'yearfirst' but '15-07-2024'" in msg and "(row 1)" in msg
    assert "can only be read day-first (15 July 2024)" in msg
    # month 13 read year-first, but a real date month-first: 05-13-24 = 13 May 2024
    with pytest.raises(InputError) as err:
        parse_dates(pd.Series(["24-07-15", "05-13-24"]), order=YEARFIRST, column="DocDate")
    assert "'05-13-24'" in str(err.value) and "month-first (13 May 2024)" in str(err.value)
    # no reading makes 24-13-05 a date, and 24-02-30 has the yy-mm-dd shape but 30 Feb 2024
    # does not exist: failed values (rejects), not a contradiction of the setting
    res = parse_dates(pd.Series(["24-07-15", "24-13-05", "24-02-30"]), order=YEARFIRST)
    assert res.failed.tolist() == [False, True, True]
    with pytest.raises(InputError, match="date_order must be 'dayfirst', 'monthfirst' or 'yearfirst'"):
        parse_dates(pd.Series(["24-07-15"]), order="ymd")


@settings(max_examples=40, deadline=None)
@given(days=st.lists(st.dates(dt.date(2000, 1, 1), dt.date(2069, 12, 31)), min_size=1, max_size=30),
       sep=st.sampled_from(["/", "-", "."]))
def test_any_yy_mm_dd_date_parses_back_when_stated(days, sep):
    texts = [f"{d.year % 100:02d}{sep}{d.month:02d}{sep}{d.day:02d}" for d in days]
    res = parse_dates(pd.Series(texts), order=YEARFIRST)
    assert res.values.tolist() == [pd.Timestamp(d) for d in days], texts


@settings(max_examples=40, deadline=None)
@given(start=st.integers(2000, 2059), years=st.integers(0, 10),
       days=st.lists(st.tuples(st.integers(0, 3660), st.booleans()), min_size=1, max_size=30))
def test_dd_mm_yy_ledgers_spanning_up_to_ten_years_never_stop_as_year_first(start, years, days):
    # whatever the days, a padded dd-mm-yy ledger within `years` + 1 calendar years (plus the
    # day-first-proving 13th of January of its first year) reads day-first, as before
    first = dt.date(start, 1, 1)
    dates = [first + dt.timedelta(days=n % (365 * years + 365)) for n, _ in days] + [dt.date(start, 1, 13)]
    texts = [f"{d.day:02d}{'-' if dash else '/'}{d.month:02d}{'-' if dash else '/'}{d.year % 100:02d}"
             for d, (_, dash) in zip(dates, days + [(0, True)])]
    res = parse_dates(pd.Series(texts))
    assert res.values.tolist() == [pd.Timestamp(d) for d in dates], texts


# ------------------------------------------------------------------------------ amounts

@pytest.mark.parametrize(
    "text, value, currency",
    [
        ("1,234.56", 1234.56, None),
        ("1'234.56", 1234.56, None),
        ("1 234.56", 1234.56, None),
        ("$1,250.00", 1250.0, "USD"),
        ("($40.00)", -40.0, "USD"),
        ("-$40.00", -40.0, "USD"),
        ("$-40.00", -40.0, "USD"),
        ("-1234.5", -1234.5, None),
        ("1,200.00 USD", 1200.0, "USD"),
        ("USD 1,200.00", 1200.0, "USD"),
        ("£3.50", 3.5, "GBP"),
        ("¥1,000.5", 1000.5, "JPY"),
        ("US$5.25", 5.25, "USD"),
        ("40.00 CR", -40.0, None),
        ("40.00 DR", 40.0, None),
        ("12.5", 12.5, None),
        ("1250", 1250.0, None),
        ("0.5", 0.5, None),
        ("1,234,567", 1234567.0, None),
        ("1,23,456.00", 123456.0, None),   # Indian grouping
        ("1.5E+03", 1500.0, None),
        ("+7.25", 7.25, None),
        ("\u22127.25", -7.25, None),       # Unicode minus sign
    ],
)
def test_point_decimal_amounts(text, value, currency):
    res = parse_amounts(pd.Series([text, "0.10"]), column="Amount")  # "0.10" proves point
    assert res.values.iloc[0] == pytest.approx(value, abs=1e-9)
    assert res.currency.iloc[0] == currency
    assert res.decimal == "." and not res.failed.any()


@pytest.mark.parametrize(
    "text, value, currency",
    [
        ("1.234,56", 1234.56, None),
        ("1 234,56", 1234.56, None),
        ("1\u00a0234,56", 1234.56, None),
        ("1.234,56-", -1234.56, None),
        ("EUR 1.200,00", 1200.0, "EUR"),
        ("-1.200,00 EUR", -1200.0, "EUR"),
        ("€ 12,50", 12.5, "EUR"),
        ("12,50", 12.5, None),
        ("1.234", 1234.0, None),           # ambiguous alone, read with the column's comma
        ("1.234.567", 1234567.0, None),
        ("(1.234,56)", -1234.56, None),
    ],
)
def test_comma_decimal_amounts(text, value, currency):
    res = parse_amounts(pd.Series([text, "0,10"]), column="Betrag")  # "0,10" proves comma
    assert res.values.iloc[0] == pytest.approx(value, abs=1e-9)
    assert res.currency.iloc[0] == currency
    assert res.decimal == ","


def test_amount_blanks_failures_and_note():
    raw = pd.Series(["", " ", None, np.nan, "NaN", "12.50", "abc", "(40", "12 34", "XYZ 12",
                     "$12 EUR", "--5", "(5)-"], index=range(100, 113))
    res = parse_amounts(raw, column="Amount", file="f.csv")
    assert res.failed.tolist() == [False] * 6 + [True] * 7
    assert res.values.iloc[:5].isna().all() and res.values.iloc[5] == 12.5
    assert list(res.values.index) == list(raw.index)
    assert "could not be read" in res.note and "'abc'" in res.note


def test_ambiguous_decimal_is_an_error_with_a_fix():
    with pytest.raises(InputError) as err:
        parse_amounts(pd.Series(["1,234", "2,500", "17"]), column="Amount", file="f.csv")
    msg = str(err.value)
    assert "f.csv" in msg and "'Amount'" in msg and "'1,234'" in msg
    assert 'decimal = ","' in msg
    res = parse_amounts(pd.Series(["1,234", "2,500"]), decimal=",")
    assert res.values.tolist() == [1.234, 2.5]
    res = parse_amounts(pd.Series(["1,234", "2,500"]), decimal=".")
    assert res.values.tolist() == [1234.0, 2500.0]


def test_conflicting_decimal_is_an_error_naming_examples():
    with pytest.raises(InputError) as err:
        parse_amounts(pd.Series(["1,234.50", "7", "1.234,50"]), column="Amount", file="f.csv")
    msg = str(err.value)
    assert "'1,234.50' (row 0)" in msg and "'1.234,50' (row 2)" in msg
    with pytest.raises(InputError, match="can only be read with a decimal comma"):
        parse_amounts(pd.Series(["12,50"]), decimal=".", column="Amount")
    with pytest.raises(InputError, match="decimal must be"):
        parse_amounts(pd.Series(["1"]), decimal=";")


def test_whole_numbers_need_no_decision():
    res = parse_amounts(pd.Series(["1250", "-40", "$7"]))
    assert res.values.tolist() == [1250.0, -40.0, 7.0] and res.decimal == "."


def test_numeric_amount_input():
    res = parse_amounts(pd.Series([1.5, np.nan, -2.0]))
    assert res.values.iloc[0] == 1.5 and pd.isna(res.values.iloc[1]) and res.values.iloc[2] == -2
    assert not res.failed.any() and res.currency.isna().all()
    mixed = parse_amounts(pd.Series([1.5, "1.234,56", None], dtype=object))
    assert mixed.values.iloc[:2].tolist() == [1.5, 1234.56] and mixed.decimal == ","


_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _format_amount(cents, decimal, thousands, negative, currency, placement) -> str:
    if thousands == decimal:
        thousands = ""
    body = f"{abs(cents) // 100:,}".replace(",", "\x00") + "\x01" + f"{abs(cents) % 100:02d}"
    body = body.replace("\x00", thousands).replace("\x01", decimal)
    if currency and placement == "symbol":
        body = _SYMBOL[currency] + body
    elif currency and placement == "code_before":
        body = f"{currency} {body}"
    elif currency:
        body = f"{body} {currency}"
    if cents < 0:
        body = {"-": "-" + body, "()": f"({body})", "trailing": body + "-",
                "CR": body + " CR"}[negative]
    return body


@settings(max_examples=60, deadline=None)
@given(cases=st.lists(st.tuples(st.integers(-10 ** 11, 10 ** 11),
                                st.sampled_from(["", ",", ".", " ", "'"]),
                                st.sampled_from(["-", "()", "trailing", "CR"]),
                                st.sampled_from([None, "USD", "EUR", "GBP", "JPY"]),
                                st.sampled_from(["symbol", "code_before", "code_after"])),
                      min_size=1, max_size=25),
       decimal=st.sampled_from([".", ","]))
def test_any_amount_parses_back_to_the_cent(cases, decimal):
    # one column per example: one decimal separator, any mix of the other styles
    texts = [_format_amount(c, decimal, t, n, cur, p) for c, t, n, cur, p in cases]
    res = parse_amounts(pd.Series(texts))
    assert not res.failed.any(), texts
    assert (np.round(res.values.to_numpy() * 100) == [c[0] for c in cases]).all(), texts
    assert res.currency.tolist() == [c[3] for c in cases]
    assert res.decimal == decimal


_TRICKY_AMOUNTS = [
    "1,234.56", "$1,234.56", "-$5", "($40.00)", "(40.00)", "-0.00", "0.5", "007", "1250",
    "12.5", "12.50", "1234.5678", "$1,234,567.891", "1,234,567", "1.234", "1,234", "12.345",
    "1.2.3", "1,23.45", "12,3456.7", "($5", "$5)", "(-5)", "-(5)", "--5", "-$-5", "$$5",
    " $5.00 ", "", "  ", "nan", "N/A", "1e5", "1.5E-3", "USD 5.00", "5.00 USD", "EUR 1.200,00",
    "1 234.50", "1'234.50", "+5", "5-", "5 CR", "5 DR", "$", "-", "()", ".5", ",5", "5.",
    "1,,234.00", "1,2345.00", "0001,234.00", "$0.00", "-$1,234.56", "(1,234.56)", "x12",
    "\u2212" + "5.00", "12.34\u00a0", "99999999999999999999.99",
    # decimal-comma forms (SAP, European spreadsheets)
    "1.234,56", "1.234,56-", "-1.234,56", "-1.234,56-", "720,15", "720,15-", "-720,15", "0,00", "0,00-",
    "12,3", "12,3456", "007,50", "1.234.567,89", "1.234.567,8-", "1.23,45", "1.2345,00", "1.234,56 -",
    "(1.234,56)", "$1.234,56", "1,234,56", "1.234,-", ",50-", "1.234", "1.234.567", "5,-", "-5-",
]


@pytest.mark.parametrize("decimal, context", [
    (decimal, context) for decimal in (None, ".", ",")
    for context in ([], ["$1,234.56", "-7"], ["0,50"], ["1.234,56-", "3,00"])] + [(None, "many")])
def test_amount_fast_path_agrees_with_full_chain(monkeypatch, decimal, context):
    """The one-pass fast path for plain/dollar amounts gives what the full chain gives,
    for each tricky value next to values that decide (or contradict) the separator."""
    import arinsights.ingest.parsing as parsing

    dtypes = [None, pd.StringDtype("pyarrow")] if not context else [pd.StringDtype("pyarrow")]
    if context == "many":  # the readers' Arrow-backed cells, mostly distinct
        context = [f"${i // 100:,}.{i % 100:02d}" for i in range(1100)]
    for text in _TRICKY_AMOUNTS:
        for dtype in dtypes:
            values = pd.Series([text, *context, text], dtype=dtype)
            values.index = np.arange(len(values)) * 2 + 5

            def run():
                try:
                    return parse_amounts(values, decimal=decimal, column="Amount", file="f.csv")
                except InputError as exc:
                    return str(exc)

            monkeypatch.setattr(parsing, "_FAST_AMOUNTS", True)
            fast = run()
            monkeypatch.setattr(parsing, "_FAST_AMOUNTS", False)
            full = run()
            if isinstance(full, str) or isinstance(fast, str):
                assert fast == full, text
                continue
            pd.testing.assert_series_equal(fast.values, full.values)
            assert (np.signbit(fast.values) == np.signbit(full.values)).all(), text
            pd.testing.assert_series_equal(fast.failed, full.failed)
            pd.testing.assert_series_equal(fast.currency, full.currency)
            assert (fast.decimal, fast.note) == (full.decimal, full.note), text


# ----------------------------------------------------------------------- ids, flags

def test_normalise_ids():
    raw = pd.Series([" 0007900770 ", "0379-NEVHP", 611365.0, 12, "", "  ", None, np.nan, "611365.0"])
    assert normalise_ids(raw).tolist() == ["0007900770", "0379-NEVHP", "611365", "12", None, None,
                                           None, None, "611365.0"]
    assert normalise_ids(pd.Series([611365.0, np.nan, 1.5])).tolist() == ["611365", None, "1.5"]
    assert normalise_ids(pd.Series(["611365.0", "007"]), numeric_source=True).tolist() == \
        ["611365", "007"]
    out = normalise_ids(pd.Series(["a"], index=[5]))
    assert list(out.index) == [5] and out.dtype == object


@pytest.mark.parametrize(
    "values, expected",
    [
        (["Yes", "No", "Y", "n", "TRUE", "false", "1", "0", ""], [True, False, True, False, True,
                                                                    False, True, False, pd.NA]),
        (["X", "", None, "x"], [True, False, False, True]),   # X-or-blank convention
        (["", None], [pd.NA, pd.NA]),
        ([1.0, 0.0, np.nan], [True, False, pd.NA]),
    ],
)
def test_parse_flags(values, expected):
    out = parse_flags(pd.Series(values))
    assert str(out.dtype) == "boolean"
    assert [v if v is not pd.NA else pd.NA for v in out.tolist()] == expected


def test_parse_flags_unknown_tokens_listed():
    with pytest.raises(InputError) as err:
        parse_flags(pd.Series(["Yes", "maybe", "?", "No"]), column="Disputed", file="f.csv")
    msg = str(err.value)
    assert "'maybe'" in msg and "'?'" in msg and "'Disputed'" in msg and "f.csv" in msg
