"""Playbook actions: each rule checked on hand-built evidence rows with hand-computed dates
and amounts (references written beside the assertions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arinsights.playbook.actions import (
    ACTION_PRIORITY,
    ACTIONS,
    _money,
    _ordinal,
    primary_actions,
    recommend_actions,
)
from arinsights.schema import Actions as A
from arinsights.schema import SegmentEvidence as E
from arinsights.schema import Segments as S
from arinsights.settings import PlaybookSettings, Settings

T = pd.Timestamp
AS_OF = T("2026-06-30")  # a Tuesday
DAY = pd.Timedelta(days=1)

BASE = {
    E.customer_id: "C1", E.customer_name: "Acme Ltd", E.currency: "USD", S.segment: "reliable",
    E.n_paid: 10, E.n_on_time: 9, E.on_time_share: 0.9, E.n_late_by_terms: 1, E.n_run_explained: 0,
    E.median_days_late: -3.0, E.median_days_late_terms: -3.0, E.recent_mean_days_to_pay: 30.0,
    E.earlier_on_time_share: 0.9, E.long_run_p80_days: 41.0, E.last_payment_date: T("2026-06-20"),
    E.days_since_payment: 10.0, E.open_amount: 0.0, E.n_open: 0, E.n_disputed_open: 0, E.oldest_open_age: np.nan,
    E.max_days_past_due: np.nan, E.earliest_open_due_date: pd.NaT, E.typical_monthly_payment: 1000.0,
    E.typical_terms_days: 30.0, E.pay_run_pattern: "none", E.pay_run_day: np.nan, E.next_run: pd.NaT,
    E.median_days: 34.0, E.p80_days: 41.0, E.p90_days: 49.0, E.n_out_of_window: 0, E.worst_invoice_id: None,
    E.worst_invoice_date: pd.NaT, E.worst_invoice_age: np.nan, E.worst_invoice_amount: np.nan,
    E.next_check_date: pd.NaT, E.p_pay_30: np.nan, E.p_next_late: np.nan, E.p_open_late: np.nan,
}


def evidence(*rows):
    """Evidence frame from partial rows (missing columns take BASE values)."""
    return pd.DataFrame([{**BASE, **r} for r in rows])


def acts_of(ev, **kw):
    return recommend_actions(ev, AS_OF, **kw)


def slipped_row(**kw):
    # INV-1001 issued 2026-05-03: 58 days old on 30 Jun; open 1,250; p80 41, p90 49
    r = {S.segment: "slipped", E.open_amount: 1250.0, E.n_open: 1, E.n_out_of_window: 1,
         E.worst_invoice_id: "INV-1001", E.worst_invoice_date: T("2026-05-03"), E.worst_invoice_age: 58.0,
         E.worst_invoice_amount: 1250.0, E.oldest_open_age: 58.0, E.max_days_past_due: 28.0,
         E.earliest_open_due_date: T("2026-06-02")}
    r.update(kw)
    return r


# -------------------------------------------------------------------------- slipped
def test_slipped_beyond_p90_reminder_call_now_and_limit():
    a = acts_of(evidence(slipped_row()))
    got = dict(zip(a[A.action], a[A.next_action_date]))
    # 58 > p90 49 -> call now; 1,250 <= 1.5 x 1,000 -> no plan; beyond p90 -> limit new credit
    assert got == {"phone call": AS_OF, "reminder": AS_OF, "limit new credit": AS_OF}
    assert a[A.action].iloc[0] == "phone call"  # primary: same date, call outranks reminder
    r = a.set_index(A.action)[A.reasons]
    assert "INV-1001 ($1,250.00) is 58 days old, their p80 is 41 days" in r["reminder"]
    assert "beyond their p90 of 49 days" in r["phone call"]
    assert "9 of 10 paid invoices on time" in r["reminder"]


def test_slipped_call_scheduled_at_escalation_age():
    # age 43 (issued 2026-05-18): escalation age = 41 + 0.5 x (49 - 41) = 45 days
    # -> call on 18 May + 45 days = 2 Jul 2026.
    row = slipped_row(**{E.worst_invoice_date: T("2026-05-18"), E.worst_invoice_age: 43.0, E.oldest_open_age: 43.0})
    a = acts_of(evidence(row)).set_index(A.action)
    assert a.loc["phone call", A.next_action_date] == T("2026-07-02")
    assert a.loc["reminder", A.next_action_date] == AS_OF
    assert "limit new credit" not in a.index
    # call fraction 0 -> call at p80 = 41 days -> already reached -> now
    s0 = Settings().replace(playbook={"call_at_window_fraction": 0.0})
    a0 = recommend_actions(evidence(row), AS_OF, settings=s0).set_index(A.action)
    assert a0.loc["phone call", A.next_action_date] == AS_OF


def test_payment_plan_on_pay_run_day():
    # open 5,000 > 1.5 x typical 1,200 -> n = ceil(5000 / 1200) = 5 instalments of 1,000.00,
    # the first on their next run (the 15th: 15 Jul 2026, a Wednesday).
    row = slipped_row(**{E.open_amount: 5000.0, E.typical_monthly_payment: 1200.0,
                         E.pay_run_pattern: "day_of_month", E.pay_run_day: 15.0, E.next_run: T("2026-07-15")})
    a = acts_of(evidence(row)).set_index(A.action)
    plan = a.loc["payment plan", A.reasons]
    assert "suggest 5 monthly instalments of about $1,000.00 on their pay-run day (pays on the 15th)" in plan
    assert "the first on 15 Jul 2026" in plan
    assert "4.2 months of their typical monthly payment ($1,200.00)" in plan  # 5000/1200 = 4.17
    assert "limit new credit" in a.index


def test_payment_plan_capped_at_max_instalments():
    # open 20,000, typical 1,000 -> 20 months, capped at 6 instalments of 3,333.33
    row = slipped_row(**{E.open_amount: 20000.0})
    a = acts_of(evidence(row)).set_index(A.action)
    assert "suggest 6 monthly instalments of about $3,333.33" in a.loc["payment plan", A.reasons]


# ------------------------------------------------------------------------- reliable
def test_reliable_wait_until_and_none():
    ev = evidence(
        {E.customer_id: "W", E.n_open: 1, E.open_amount: 300.0, E.next_check_date: T("2026-07-18"),
         E.pay_run_pattern: "day_of_month", E.pay_run_day: 15.0, E.next_run: T("2026-07-15")},
        {E.customer_id: "N"},
    )
    a = acts_of(ev).set_index(A.customer_id)
    assert a.loc["W", A.action] == "wait" and a.loc["W", A.next_action_date] == T("2026-07-18")
    assert "wait until 17 Jul 2026 and chase from 18 Jul 2026" in a.loc["W", A.reasons]
    assert "their next pay run on 15 Jul 2026" in a.loc["W", A.reasons]
    assert a.loc["N", A.action] == "none" and pd.isna(a.loc["N", A.next_action_date])


def test_move_billing_date_month_end_and_weekly():
    # month_end runs: next lead = 30 + 2 = 32 days; 30 Jun + 32 = 1 Aug -> run on the last
    # business day of August 2026 (Mon 31 Aug) -> issue by 31 Aug - 32 = 30 Jul ("the 30th").
    me = {E.customer_id: "ME", E.pay_run_pattern: "month_end", E.n_paid: 12, E.n_run_explained: 6}
    # weekly runs on Thursday (3), net 14: 30 Jun + 16 = 16 Jul (Thu) -> issue 16 Jul - 16 = 30 Jun (Tuesday)
    wk = {E.customer_id: "WK", E.pay_run_pattern: "weekday", E.pay_run_day: 3.0, E.typical_terms_days: 14.0,
          E.n_paid: 12, E.n_run_explained: 4}
    few = {E.customer_id: "FEW", E.pay_run_pattern: "month_end", E.n_paid: 12, E.n_run_explained: 2}
    a = acts_of(evidence(me, wk, few))
    mv = a[a[A.action] == "move billing date"].set_index(A.customer_id)[A.reasons]
    assert set(mv.index) == {"ME", "WK"}  # FEW: 2 < billing_shift_min_invoices (3)
    assert "issue invoices by the 30th (net 30, 2 days' margin)" in mv["ME"]
    assert "the last business day of the month (e.g. invoice by 30 Jul 2026 for the run on 31 Aug 2026)" in mv["ME"]
    assert "issue invoices on a Tuesday (net 14) so they fall due before their Thursday pay run" in mv["WK"]
    assert "6 of 12 paid invoices were late by the terms only because" in mv["ME"]


# ------------------------------------------------------------------------- habitual
def test_habitual_dunning_on_day_after_due_when_nothing_past_due():
    row = {S.segment: "habitual", E.on_time_share: 0.2, E.n_open: 1, E.open_amount: 400.0,
           E.max_days_past_due: -5.0, E.earliest_open_due_date: T("2026-07-05")}
    a = acts_of(evidence(row)).set_index(A.action)
    assert a.loc["firm dunning", A.next_action_date] == T("2026-07-06")
    assert a.loc["credit hold", A.next_action_date] == AS_OF
    assert "collection agency" not in a.index
    # nothing open -> credit hold only
    a2 = acts_of(evidence({S.segment: "habitual", E.on_time_share: 0.2}))
    assert a2[A.action].tolist() == ["credit hold"]


def test_agency_needs_both_far_overdue_and_unlikely():
    far = {S.segment: "habitual", E.n_open: 2, E.open_amount: 900.0, E.max_days_past_due: 120.0,
           E.earliest_open_due_date: T("2026-03-02"), E.p_pay_30: 0.19}
    ev = evidence({**far, E.customer_id: "A"},
                  {**far, E.customer_id: "B", E.max_days_past_due: 119.0},
                  {**far, E.customer_id: "C", E.p_pay_30: 0.2},
                  {**far, E.customer_id: "D", E.p_pay_30: np.nan})
    a = acts_of(ev)
    agency = set(a.loc[a[A.action] == "collection agency", A.customer_id])
    assert agency == {"A"}  # 120 >= 120 and 0.19 < 0.2; B: 119 < 120; C: 0.2 not < 0.2; D: unknown
    prim = a.drop_duplicates(A.customer_id).set_index(A.customer_id)[A.action]
    assert prim["A"] == "collection agency" and prim["B"] == "firm dunning"


# ------------------------------------------------------------- ghost, new, irregular
def test_ghost_new_irregular_drifting():
    ev = evidence(
        {E.customer_id: "G", S.segment: "ghost", E.open_amount: 800.0, E.n_open: 1, E.days_since_payment: 200.0},
        {E.customer_id: "N1", S.segment: "new", E.n_paid: 2, E.n_open: 1, E.open_amount: 50.0,
         E.max_days_past_due: 3.0},
        {E.customer_id: "N2", S.segment: "new", E.n_paid: 2, E.n_open: 1, E.open_amount: 50.0,
         E.max_days_past_due: -10.0},
        {E.customer_id: "I1", S.segment: "irregular", E.on_time_share: 0.6, E.n_open: 1, E.open_amount: 50.0,
         E.max_days_past_due: 6.0},
        {E.customer_id: "I2", S.segment: "irregular", E.on_time_share: 0.6, E.n_open: 1, E.open_amount: 50.0,
         E.max_days_past_due: 5.0},
        {E.customer_id: "D", S.segment: "drifting", E.recent_mean_days_to_pay: 55.0, E.n_open: 1,
         E.open_amount: 50.0, E.oldest_open_age: 50.0},
    )
    a = acts_of(ev)
    by = a.groupby(A.customer_id)[A.action].agg(list)
    assert by["G"] == ["collection agency"]
    assert a.loc[a[A.customer_id] == "G", A.next_action_date].iloc[0] == AS_OF + 7 * DAY
    assert by["N1"] == ["standard reminders"] and by["N2"] == ["none"]
    assert by["I1"] == ["reminder"] and by["I2"] == ["none"]  # grace 5: 6 > 5, 5 is not
    assert by["D"] == ["phone call", "limit new credit"]  # 50 > p90 49
    assert "took 55 days on average vs their long-run p80 of 41 days" in a.loc[a[A.action] == "phone call",
                                                                                A.reasons].iloc[0]


# ---------------------------------------------------------------- shared properties
def test_actions_schema_dates_priority_and_determinism():
    ev = evidence(slipped_row(**{E.customer_id: "S"}),
                  {E.customer_id: "R"},
                  {E.customer_id: "H", S.segment: "habitual", E.on_time_share: 0.2, E.n_open: 1, E.open_amount: 5.0,
                   E.max_days_past_due: 3.0, E.earliest_open_due_date: T("2026-06-27")})
    a, b = acts_of(ev), acts_of(ev)
    pd.testing.assert_frame_equal(a, b)
    A.validate(a)
    assert set(a[A.action]) <= set(ACTIONS) and set(ACTION_PRIORITY) == set(ACTIONS)
    assert (a[A.next_action_date].dropna() >= AS_OF).all()
    assert (a[A.action] == "none").eq(a[A.next_action_date].isna()).all()
    prim = primary_actions(ev, AS_OF)
    assert prim.set_index(A.customer_id)[A.action].to_dict() == {"H": "firm dunning", "R": "none",
                                                                  "S": "phone call"}


def test_text_helpers():
    # hand-made references
    assert _money([1250.0, 40.5, np.nan], ["USD", "CHF", "USD"]).tolist() == ["$1,250.00", "40.50 CHF", ""]
    assert _ordinal([1, 2, 3, 4, 11, 12, 13, 21, 22, 31]).tolist() == ["1st", "2nd", "3rd", "4th", "11th", "12th",
                                                                        "13th", "21st", "22nd", "31st"]


def test_settings_section_accepts_playbook_settings_directly():
    row = slipped_row(**{E.worst_invoice_date: T("2026-05-18"), E.worst_invoice_age: 43.0})
    a = recommend_actions(evidence(row), AS_OF, settings=PlaybookSettings(call_at_window_fraction=1.0))
    # call at p90 = 49 days -> 18 May + 49 = 6 Jul 2026
    assert a.set_index(A.action).loc["phone call", A.next_action_date] == T("2026-07-06")


def test_action_dates_read_as_the_report_writes_them():
    # "7 Jul 2026", not "07 Jul 2026": the same day as the report's own dates beside it
    from arinsights.playbook.actions import _date
    from arinsights.reporting.format import day
    got = list(_date(pd.to_datetime(["2026-07-07", None, "2026-12-25"])))
    assert got == ["7 Jul 2026", "", "25 Dec 2026"] and got[0] == day("2026-07-07")
    assert list(_date(pd.to_datetime(["2026-07-07"]).tz_localize("UTC"))) == ["7 Jul 2026"]
