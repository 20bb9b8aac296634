"""Collection playbook actions per segment, with plain-language reasons and dates.

Each rule is one small function that takes the evidence frame (one row per customer, as
returned by :func:`arinsights.playbook.segments.segment_customers`) and returns the action
rows of the customers it applies to. Every action row says what to do, when (a date never
before ``as_of``; NaT for "none") and why, with the numbers.

=================  ==========================================================================
segment            actions
=================  ==========================================================================
reliable           "none"; open invoices within their window: "wait" until the later of the end
                   of the usual window (invoice date + p80) and the next pay run (+ grace)
slipped            "reminder" now; "phone call" when the worst invoice reaches the escalation
                   age (p80 + ``call_at_window_fraction`` x (p90 - p80); beyond p90: now);
                   "payment plan" when the open balance exceeds ``payment_plan_months`` x the
                   typical monthly payment (n <= ``payment_plan_max_instalments`` instalments
                   of about the typical monthly payment, on the pay-run day when known);
                   "limit new credit" with a payment plan or beyond p90
drifting           "phone call" now (ask why, review the limit); "limit new credit" beyond p90
habitual           "firm dunning" (something open) + "credit hold"; "collection agency" when
                   ``agency_days_past_due`` or more past due and P(pay within 30 days) <
                   ``agency_max_p_pay_30``
ghost              final notice now, "collection agency" ``final_notice_days`` later
new                "standard reminders" when something is past due, else "none"
irregular          "reminder" when something is more than ``grace_days`` past due, else "none"
any (not ghost)    "move billing date" when a pay run explains lateness: at least
                   ``billing_shift_min_invoices`` and ``billing_shift_min_share`` of paid
                   invoices were late by the terms but paid on the first run after due
=================  ==========================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import Actions, SegmentEvidence, Segments
from ..settings import PlaybookSettings, Settings

__all__ = ["ACTIONS", "ACTION_PRIORITY", "recommend_actions", "primary_actions", "evidence_text",
           "segment_reason"]

#: every action the playbook recommends.
ACTIONS = ("wait", "reminder", "phone call", "payment plan", "limit new credit", "move billing date",
           "firm dunning", "credit hold", "collection agency", "standard reminders", "none")

#: among actions due on the same date, the first in this list is the customer's primary one
#: (the most escalated contact step first; account measures after contact steps).
ACTION_PRIORITY = ("collection agency", "firm dunning", "phone call", "payment plan", "reminder",
                   "standard reminders", "credit hold", "limit new credit", "move billing date",
                   "wait", "none")

_E = SegmentEvidence
_WEEKDAYS = np.array(["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"],
                     dtype=object)
_WEEKDAY1 = np.array(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"], dtype=object)
_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€"}
_DETAIL = "_detail"


def _playbook(settings) -> PlaybookSettings:
    if settings is None:
        return PlaybookSettings()
    if isinstance(settings, PlaybookSettings):
        return settings
    return settings.playbook


# ------------------------------------------------------------------ text helpers
def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=object)


_INT_LO, _INT_HI = -10_000, 100_000
_INT_TEXT: list[np.ndarray] = []  # str(i) for _INT_LO <= i < _INT_HI, built on first use


def _int_table() -> np.ndarray:
    if not _INT_TEXT:
        _INT_TEXT.append(np.arange(_INT_LO, _INT_HI).astype(str).astype(object))
    return _INT_TEXT[0]


def _int(x) -> np.ndarray:
    """Rounded numbers as text ("" where missing).

    The usual small numbers (counts, days, percents) are looked up in a table of their text;
    others are converted one by one. The same text as ``str(int(round(x)))``.
    """
    v = np.asarray(x, dtype=float)
    ok = np.isfinite(v)
    r = np.where(ok, np.round(v), 0)
    out = np.full(v.shape, "", dtype=object)
    small = ok & (r >= _INT_LO) & (r < _INT_HI)
    out[small] = _int_table()[r[small].astype(np.int64) - _INT_LO]
    big = ok & ~small
    if big.any():
        out[big] = r[big].astype(np.int64).astype(str).astype(object)
    return out


def _pct(x) -> np.ndarray:
    v = np.asarray(x, dtype=float)
    return np.where(np.isfinite(v), _int(v * 100) + "%", "")


_MONTHS = np.array(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], dtype=object)


def _money(amount, currency) -> np.ndarray:
    """"$1,250.00" for USD/GBP/EUR, "1,250.00 CHF" otherwise ("" where missing).

    Each distinct amount is formatted once; text is built only where there is an amount.
    """
    v = np.asarray(amount, dtype=float)
    out = np.full(v.shape, "", dtype=object)
    has = ~np.isnan(v)
    if not has.any():
        return out
    codes, uniq = pd.factorize(v[has].view(np.int64))  # by bit pattern: -0.0 stays "-0.00"
    num = np.asarray([f"{u:,.2f}" for u in np.asarray(uniq, dtype=np.int64).view(float)], dtype=object)[codes]
    cur = pd.Series(np.asarray(currency, dtype=object)[has] if np.ndim(currency) else
                    np.full(int(has.sum()), currency, dtype=object))
    cur = cur.where(cur.notna(), "USD").astype(str).to_numpy(dtype=object)
    ccodes, cuniq = pd.factorize(cur)
    cuniq = np.asarray(cuniq, dtype=object)
    sym = np.asarray([_SYMBOLS.get(c) for c in cuniq], dtype=object)[ccodes]
    has_sym = pd.notna(sym)
    out[has] = np.where(has_sym, np.where(has_sym, sym, "").astype(object) + num, num + " " + cur)
    return out


def _date_parts(d: pd.Series) -> np.ndarray:
    ok = d.notna().to_numpy()
    day = np.nan_to_num(d.dt.day.to_numpy(dtype=float)).astype(np.int64).astype(str).astype(object)  # "7 Jul", as the report
    month = _MONTHS[np.clip(np.nan_to_num(d.dt.month.to_numpy(dtype=float)).astype(np.int64) - 1, 0, 11)]
    year = np.nan_to_num(d.dt.year.to_numpy(dtype=float)).astype(np.int64).astype(str).astype(object)
    return np.where(ok, day + " " + month + " " + year, "")


def _date(x) -> np.ndarray:
    """"15 Jul 2026" ("" where missing); each distinct day is formatted once."""
    d = pd.to_datetime(pd.Series(x))
    if not (isinstance(d.dtype, np.dtype) and d.dtype.kind == "M"):  # e.g. with a time zone
        return _date_parts(d)
    v = d.to_numpy()
    ok = ~np.isnat(v)
    out = np.full(len(v), "", dtype=object)
    if ok.any():
        days, inv = np.unique(v[ok].astype("datetime64[D]"), return_inverse=True)
        out[ok] = _date_parts(pd.Series(days.astype("datetime64[s]")))[inv]
    return out


def _ordinal(day) -> np.ndarray:
    d = np.nan_to_num(np.asarray(day, dtype=float)).astype(int)
    suffix = np.where((d % 100 >= 11) & (d % 100 <= 13), "th",
                      np.select([d % 10 == 1, d % 10 == 2, d % 10 == 3], ["st", "nd", "rd"], "th"))
    return d.astype(str).astype(object) + suffix.astype(object)


def _join_objects(parts, sep: str = "; ") -> np.ndarray:
    """Join text parts row-wise, skipping empty ones (object arrays, the general path)."""
    out = None
    for p in parts:
        p = _arr(p)
        if out is None:
            out = p.copy()
            continue
        both = (out != "") & (p != "")
        out = np.where(both, out + sep + p, np.where(out == "", p, out))
    return out


def _join(parts, sep: str = "; ") -> np.ndarray:
    """Join text parts row-wise, skipping empty ones (vectorised over rows).

    One pyarrow element-wise join, empty parts as nulls (skipped), behind an always-present
    empty first part whose separator is then cut off: the same text as
    ``sep.join(p for p in row if p)`` (:func:`_join_objects`).
    """
    parts = [_arr(p) for p in parts]
    n = max((len(p) for p in parts if p.ndim), default=None)
    if n is None:  # scalars only
        return _join_objects(parts, sep)
    text = pa.large_string()
    arrays = [pa.array(np.full(n, "", dtype=object), type=text)]
    for p in parts:
        a = pa.array(np.broadcast_to(p, (n,)), type=text)
        arrays.append(pc.if_else(pc.equal(a, ""), pa.scalar(None, text), a))
    out = pc.binary_join_element_wise(*arrays, pa.scalar(sep, text), null_handling="skip")
    if len(out) != n:  # not the element-wise answer: take the general path
        return _join_objects(parts, sep)
    out = pc.utf8_slice_codeunits(out, start=len(sep))
    return np.asarray(out.to_numpy(zero_copy_only=False), dtype=object)


def _when(mask, text) -> np.ndarray:
    return np.where(np.asarray(mask, dtype=bool), _arr(text), "")


def _run_phrase(ev: pd.DataFrame) -> np.ndarray:
    """"pays on the 15th" / "pays on Tuesdays" / "pays on the last business day of the month"."""
    pat = ev[_E.pay_run_pattern].to_numpy(dtype=object)
    day = ev[_E.pay_run_day].to_numpy(dtype=float)
    wd = np.clip(np.nan_to_num(day), 0, 6).astype(int)
    return np.select(
        [pat == "day_of_month", pat == "weekday", pat == "month_end"],
        ["pays on the " + _ordinal(day), "pays on " + _WEEKDAYS[wd],
         np.full(len(ev), "pays on the last business day of the month", dtype=object)], "").astype(object)


# ---------------------------------------------------------------- explanations
def evidence_text(ev: pd.DataFrame, settings: Settings | PlaybookSettings | None = None) -> pd.Series:
    """The numbers behind a customer's segment, in plain words (one string per row).

    E.g. "9 of 10 paid invoices on time in the last 730 days; usually pays in 34 days
    (p80 41, p90 49); pays on the 15th; $2,500.00 open in 2 invoices; INV-1001 ($1,250.00)
    is 58 days old, 28 days past due; last payment 2 May 2026 (59 days ago)".
    """
    s = _playbook(settings)
    n_paid = ev[_E.n_paid].to_numpy()
    history = np.where(n_paid > 0,
                       _int(ev[_E.n_on_time]) + " of " + _int(n_paid) + " paid invoices on time in the last "
                       + str(s.lookback_days) + " days",
                       "no paid invoices in the last " + str(s.lookback_days) + " days")
    run_expl = _when(ev[_E.n_run_explained] > 0,
                     "(" + _int(ev[_E.n_run_explained]) + " of them late by the terms but paid on their pay run)")
    history = _join([history, run_expl], " ")
    usual = _when(ev[_E.p80_days].notna(),
                  "usually pays in " + _int(ev[_E.median_days]) + " days (p80 " + _int(ev[_E.p80_days])
                  + ", p90 " + _int(ev[_E.p90_days]) + ")")
    run = _run_phrase(ev)
    run = _when(run != "", run + " (next run " + _date(ev[_E.next_run]) + ")")
    cur = ev[_E.currency]
    n_open = ev[_E.n_open].to_numpy()
    open_ = _when(n_open > 0, _money(ev[_E.open_amount], cur) + " open in " + _int(n_open)
                  + np.where(n_open == 1, " invoice", " invoices"))
    worst = _when(ev[_E.worst_invoice_id].notna(),
                  ev[_E.worst_invoice_id].astype(object).fillna("").to_numpy(dtype=object) + " ("
                  + _money(ev[_E.worst_invoice_amount], cur) + ") is " + _int(ev[_E.worst_invoice_age]) + " days old")
    pdue = _when(ev[_E.max_days_past_due] > 0, _int(ev[_E.max_days_past_due]) + " days past due at most")
    disp = _when(ev[_E.n_disputed_open] > 0, _int(ev[_E.n_disputed_open])
                 + " disputed invoice(s) open: resolve the dispute (not counted as lateness)")
    last = np.where(ev[_E.last_payment_date].notna(),
                    "last payment " + _date(ev[_E.last_payment_date]) + " (" + _int(ev[_E.days_since_payment])
                    + " days ago)", "no payment received yet")
    p30 = _when(ev[_E.p_pay_30].notna() & (n_open > 0),
                _pct(ev[_E.p_pay_30]) + " chance of payment within 30 days")
    pnext = _when(ev[_E.p_next_late].notna(), _pct(ev[_E.p_next_late]) + " chance their next invoice is paid late")
    text = _join([history, usual, run, _join([open_, worst, pdue], ", "), disp, last, p30, pnext])
    return pd.Series(text, index=ev.index, dtype=object)


def segment_reason(ev: pd.DataFrame, settings: Settings | PlaybookSettings | None = None) -> pd.Series:
    """Why the customer is in their segment (the rule that matched, with its numbers)."""
    s = _playbook(settings)
    seg = ev[Segments.segment].to_numpy(dtype=object)

    def share(e):
        return _pct(e[_E.on_time_share])

    def ghost(e):
        silent = np.where(e[_E.last_payment_date].notna(),
                          "no payment for " + _int(e[_E.days_since_payment]) + " days", "never paid")
        return ("ghost: " + _money(e[_E.open_amount], e[_E.currency]) + " open, " + silent + ", oldest open invoice "
                + _int(e[_E.oldest_open_age]) + " days old (limit " + str(s.ghost_days) + " days)")

    def new(e):
        return ("new: only " + _int(e[_E.n_paid]) + " paid invoices in the look-back (fewer than "
                + str(s.new_min_paid) + ")")

    def habitual(e):
        hab_share = _when(e[_E.on_time_share] < s.habitual_on_time_share,
                          "only " + share(e) + " of paid invoices on time (below "
                          + f"{s.habitual_on_time_share:.0%})")
        hab_late = _when(e[_E.median_days_late] > s.habitual_median_days_late,
                         "median " + _int(e[_E.median_days_late]) + " days late (above "
                         + f"{s.habitual_median_days_late:g})")
        return "habitual: " + _join([hab_share, hab_late], " and ")

    def drifting(e):
        return ("drifting: last " + str(s.drift_recent_k) + " paid invoices took " + _int(e[_E.recent_mean_days_to_pay])
                + " days on average, more than " + f"{s.drift_margin_days:g}" + " days above their long-run p80 of "
                + _int(e[_E.long_run_p80_days]) + " days; before that " + _pct(e[_E.earlier_on_time_share])
                + " on time")

    def slipped(e):
        has_run = e[_E.pay_run_pattern].to_numpy(dtype=object) != "none"
        return ("slipped: good history (" + share(e) + " of paid invoices on time) but " + _int(e[_E.n_out_of_window])
                + " open invoice(s) beyond their usual window" + np.where(has_run, " and past their pay run", ""))

    def irregular(e):
        return ("irregular: " + share(e) + " of paid invoices on time (between "
                + f"{s.habitual_on_time_share:.0%} and {s.reliable_on_time_share:.0%})")

    def reliable(e):
        return "reliable: " + share(e) + " of paid invoices on time; nothing open beyond their usual window"

    # each segment's sentence is built only for that segment's rows; any other value reads
    # as reliable (the default)
    rules = {"ghost": ghost, "new": new, "habitual": habitual, "drifting": drifting, "slipped": slipped,
             "irregular": irregular}
    text = np.empty(len(ev), dtype=object)
    for name, build in [*rules.items(), (None, reliable)]:
        at = ~np.isin(seg, list(rules)) if name is None else seg == name
        if at.any():
            text[at] = _arr(np.broadcast_to(_arr(build(ev.loc[at])), (int(at.sum()),)))
    return pd.Series(text, index=ev.index, dtype=object)


# -------------------------------------------------------------------- action rules
def _rows(ev: pd.DataFrame, mask, action: str, date, detail) -> pd.DataFrame:
    mask = np.asarray(mask, dtype=bool)
    date = pd.to_datetime(pd.Series(date, index=ev.index) if np.ndim(date) else pd.Series(date, index=ev.index))
    return pd.DataFrame({
        Actions.customer_id: ev[_E.customer_id].to_numpy()[mask],
        Actions.action: action,
        Actions.next_action_date: date.to_numpy()[mask],
        _DETAIL: _arr(np.broadcast_to(_arr(detail), (len(ev),)))[mask],
    })


def _seg(ev, name) -> np.ndarray:
    return (ev[Segments.segment] == name).to_numpy(dtype=bool)


def _nat(ev) -> pd.Series:
    return pd.Series(pd.NaT, index=ev.index, dtype="datetime64[ns]")


def _as_of_series(ev, as_of) -> pd.Series:
    return pd.Series(as_of, index=ev.index)


def reliable_actions(ev, as_of, s) -> list[pd.DataFrame]:
    """Reliable: nothing open -> "none"; open within their window -> "wait" (say until when)."""
    seg = _seg(ev, "reliable")
    has_open = (ev[_E.n_open] > 0).to_numpy()
    check = ev[_E.next_check_date]
    wait_until = check - pd.Timedelta(days=1)
    run_bit = _when(ev[_E.pay_run_pattern] != "none", " and their next pay run on " + _date(ev[_E.next_run]))
    wait = ("wait: nothing to chase yet, open invoices are within their usual window (p80 " + _int(ev[_E.p80_days])
            + " days)" + run_bit + "; wait until " + _date(wait_until) + " and chase from " + _date(check)
            + " if still unpaid")
    return [_rows(ev, seg & has_open, "wait", check, wait),
            _rows(ev, seg & ~has_open, "none", _nat(ev), "nothing open; no action needed")]


def _call_date(ev, as_of, s) -> tuple[pd.Series, np.ndarray]:
    """Date to call (when the worst open invoice reaches the escalation age) and its age."""
    p80, p90 = ev[_E.p80_days], ev[_E.p90_days]
    call_age = p80 + s.call_at_window_fraction * (p90 - p80)
    at_age = ev[_E.worst_invoice_date].dt.normalize() + pd.to_timedelta(np.ceil(call_age.to_numpy(dtype=float)), unit="D")
    fallback = pd.Series(as_of + pd.Timedelta(days=s.reminder_followup_days), index=ev.index)
    date = at_age.where(at_age.notna(), fallback)
    date = date.where(date >= as_of, as_of)
    return date, call_age.to_numpy(dtype=float)


def _plan(ev, s):
    typical = ev[_E.typical_monthly_payment].to_numpy(dtype=float)
    open_amt = ev[_E.open_amount].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        months = open_amt / typical
    needs = (typical > 0) & (months > s.payment_plan_months)
    n = np.clip(np.ceil(np.nan_to_num(months)), 1, s.payment_plan_max_instalments).astype(int)
    return needs, months, n, open_amt / n


def slipped_actions(ev, as_of, s) -> list[pd.DataFrame]:
    """Slipped: reminder now, call near the escalation age, payment plan / limit new credit."""
    seg = _seg(ev, "slipped")
    cur = ev[_E.currency]
    has_run = (ev[_E.pay_run_pattern] != "none").to_numpy()
    worst = ev[_E.worst_invoice_id].astype(object).fillna("").to_numpy(dtype=object)
    age = ev[_E.worst_invoice_age].to_numpy(dtype=float)
    p80, p90 = ev[_E.p80_days].to_numpy(dtype=float), ev[_E.p90_days].to_numpy(dtype=float)
    reminder = ("send a simple reminder now: " + _int(ev[_E.n_out_of_window]) + " open invoice(s) beyond their usual"
                " window; " + worst + " (" + _money(ev[_E.worst_invoice_amount], cur) + ") is " + _int(age)
                + " days old, their p80 is " + _int(p80) + " days"
                + _when(has_run, "; their pay run (" + _run_phrase(ev) + ") passed without payment"))
    call_date, call_age = _call_date(ev, as_of, s)
    beyond90 = age > p90
    now = (call_date <= as_of).to_numpy()
    call = np.where(
        beyond90, "call now whoever handles the account and ask for the reason: " + worst + " is " + _int(age)
        + " days old, beyond their p90 of " + _int(p90) + " days",
        np.where(now, "call now whoever handles the account and ask for the reason: " + worst + " is " + _int(age)
                 + " days old, past the escalation age of " + _int(call_age) + " days (between p80 " + _int(p80)
                 + " and p90 " + _int(p90) + ")",
                 "call whoever handles the account on " + _date(call_date) + " if still unpaid, when " + worst
                 + " reaches " + _int(call_age) + " days (between p80 " + _int(p80) + " and p90 " + _int(p90) + ")"))
    needs_plan, months, n, inst = _plan(ev, s)
    from .segments import first_run_on_or_after  # local import: segments imports this module

    # first instalment: their first pay run on/after the call (when they have one), else the call
    first = first_run_on_or_after(call_date, ev[_E.pay_run_pattern], ev[_E.pay_run_day])
    first = first.where(first.notna(), call_date)
    plan = ("offer a payment plan on the call: open balance " + _money(ev[_E.open_amount], cur) + " is "
            + pd.Series(months).map("{:.1f}".format).to_numpy(dtype=object) + " months of their typical monthly payment ("
            + _money(ev[_E.typical_monthly_payment], cur) + "); suggest " + _int(n) + " monthly instalments of about "
            + _money(inst, cur) + _when(has_run, " on their pay-run day (" + _run_phrase(ev) + ")")
            + ", the first on " + _date(first))
    limit_why = np.where(needs_plan & beyond90, "a payment plan is offered and the oldest invoice is beyond p90",
                         np.where(needs_plan, "a payment plan is offered", "the oldest invoice is beyond their p90 of "
                                  + _int(p90) + " days"))
    limit = "limit new credit until the balance is paid: " + limit_why
    return [_rows(ev, seg, "reminder", _as_of_series(ev, as_of), reminder),
            _rows(ev, seg, "phone call", call_date, call),
            _rows(ev, seg & needs_plan, "payment plan", call_date, plan),
            _rows(ev, seg & (needs_plan | beyond90), "limit new credit", _as_of_series(ev, as_of), limit)]


def drifting_actions(ev, as_of, s) -> list[pd.DataFrame]:
    """Drifting: call and ask why (and review the limit); limit new credit beyond p90."""
    seg = _seg(ev, "drifting")
    call = ("call now and ask why payments are getting later, and review their credit limit: the last "
            + str(s.drift_recent_k) + " paid invoices took " + _int(ev[_E.recent_mean_days_to_pay])
            + " days on average vs their long-run p80 of " + _int(ev[_E.long_run_p80_days]) + " days")
    beyond90 = (ev[_E.oldest_open_age] > ev[_E.p90_days]).to_numpy()
    limit = ("limit new credit: an open invoice is " + _int(ev[_E.oldest_open_age]) + " days old, beyond their p90 of "
             + _int(ev[_E.p90_days]) + " days")
    return [_rows(ev, seg, "phone call", _as_of_series(ev, as_of), call),
            _rows(ev, seg & beyond90, "limit new credit", _as_of_series(ev, as_of), limit)]


def habitual_actions(ev, as_of, s) -> list[pd.DataFrame]:
    """Habitual: firm dunning + credit hold; agency when far overdue and unlikely to pay soon."""
    seg = _seg(ev, "habitual")
    cur = ev[_E.currency]
    has_open = (ev[_E.n_open] > 0).to_numpy()
    dun_date = ev[_E.earliest_open_due_date].dt.normalize() + pd.Timedelta(days=1)
    dun_date = dun_date.where(dun_date >= as_of, as_of)
    dun = ("firm dunning: " + _money(ev[_E.open_amount], cur) + " open"
           + _when(ev[_E.max_days_past_due] > 0, ", up to " + _int(ev[_E.max_days_past_due]) + " days past due")
           + _when(ev[_E.max_days_past_due] <= 0, ", dun on the day after the first due date (" + _date(dun_date) + ")")
           + "; they pay late as a habit")
    hold = "credit hold: no new credit (or cash in advance) until the overdue balance is cleared"
    far = (ev[_E.max_days_past_due] >= s.agency_days_past_due).to_numpy()
    unlikely = (ev[_E.p_pay_30] < s.agency_max_p_pay_30).to_numpy()
    agency = ("hand to a collection agency (last resort): " + _int(ev[_E.max_days_past_due]) + " days past due (limit "
              + str(s.agency_days_past_due) + ") and only " + _pct(ev[_E.p_pay_30])
              + " chance of payment within 30 days (limit " + f"{s.agency_max_p_pay_30:.0%})")
    return [_rows(ev, seg & has_open, "firm dunning", dun_date, dun),
            _rows(ev, seg, "credit hold", _as_of_series(ev, as_of), hold),
            _rows(ev, seg & far & unlikely, "collection agency", _as_of_series(ev, as_of), agency)]


def ghost_actions(ev, as_of, s) -> list[pd.DataFrame]:
    """Ghost: a final notice now, then a collection agency ``final_notice_days`` later."""
    seg = _seg(ev, "ghost")
    date = as_of + pd.Timedelta(days=s.final_notice_days)
    text = ("send a final notice today; hand to a collection agency on " + _date(pd.Series(date, index=ev.index))
            + " if still unpaid (last resort): " + _money(ev[_E.open_amount], ev[_E.currency]) + " open, "
            + np.where(ev[_E.last_payment_date].notna(), "no payment for " + _int(ev[_E.days_since_payment]) + " days",
                       "never paid"))
    return [_rows(ev, seg, "collection agency", pd.Series(date, index=ev.index), text)]


def new_actions(ev, as_of, s) -> list[pd.DataFrame]:
    """New: standard reminders when something is past due, else none."""
    seg = _seg(ev, "new")
    past_due = (ev[_E.max_days_past_due] > 0).to_numpy()
    text = ("standard reminder: " + _int(ev[_E.max_days_past_due]) + " days past due; only " + _int(ev[_E.n_paid])
            + " paid invoices so far, too few to know their habit")
    return [_rows(ev, seg & past_due, "standard reminders", _as_of_series(ev, as_of), text),
            _rows(ev, seg & ~past_due, "none", _nat(ev), "nothing past due; no action needed")]


def irregular_actions(ev, as_of, s) -> list[pd.DataFrame]:
    """Irregular: a reminder when something is more than ``grace_days`` past due, else none."""
    seg = _seg(ev, "irregular")
    past = (ev[_E.max_days_past_due] > s.grace_days).to_numpy()
    text = ("send a reminder: an invoice is " + _int(ev[_E.max_days_past_due]) + " days past due (grace "
            + str(s.grace_days) + " days)")
    return [_rows(ev, seg & past, "reminder", _as_of_series(ev, as_of), text),
            _rows(ev, seg & ~past, "none", _nat(ev), "nothing beyond the grace period; no action needed")]


def billing_date_actions(ev, as_of, s) -> list[pd.DataFrame]:
    """"Move billing date" when a pay run explains the lateness (any segment but ghost).

    Monthly runs (a day of the month or month end): issue invoices ``terms +
    billing_shift_buffer_days`` days before the run so they fall due before it; the text
    gives the day of the month and the next concrete date. Weekly runs: issue on the weekday
    that makes invoices fall due ``billing_shift_buffer_days`` before the run weekday.
    """
    from .segments import first_run_on_or_after  # local import: segments imports this module

    pat = ev[_E.pay_run_pattern].to_numpy(dtype=object)
    n_paid = ev[_E.n_paid].to_numpy(dtype=float)
    expl = ev[_E.n_run_explained].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = expl / n_paid
    terms = ev[_E.typical_terms_days].to_numpy(dtype=float)
    explains = ((expl >= s.billing_shift_min_invoices) & (share >= s.billing_shift_min_share)
                & np.isfinite(terms) & (ev[Segments.segment] != "ghost").to_numpy())
    lead = pd.to_timedelta(np.nan_to_num(terms) + s.billing_shift_buffer_days, unit="D")
    # the first run that an invoice issued today could still make, and the issue date for it
    run = first_run_on_or_after(pd.Series(as_of + lead, index=ev.index), ev[_E.pay_run_pattern], ev[_E.pay_run_day],
                                roll_weekends=False)
    issue_by = run - lead
    monthly = (pat == "day_of_month") | (pat == "month_end")
    weekly = pat == "weekday"
    run_day_text = np.where(pat == "month_end", "the last business day of the month", "the " + _ordinal(ev[_E.pay_run_day]))
    why = (_int(expl) + " of " + _int(n_paid) + " paid invoices were late by the terms only because they fell due just "
           "after their pay run and waited for the next one")
    monthly_text = ("move the billing date: issue invoices by the " + _ordinal(issue_by.dt.day) + " (net "
                    + _int(terms) + ", " + str(s.billing_shift_buffer_days) + " days' margin) so they fall due before "
                    "their pay run on " + run_day_text + " (e.g. invoice by " + _date(issue_by) + " for the run on "
                    + _date(run) + "); " + why)
    wd_issue = _WEEKDAY1[np.nan_to_num(issue_by.dt.day_of_week.to_numpy(dtype=float)).astype(int)]
    wd_run = _WEEKDAY1[np.clip(np.nan_to_num(ev[_E.pay_run_day].to_numpy(dtype=float)), 0, 6).astype(int)]
    weekly_text = ("move the billing date (small gain): issue invoices on a " + wd_issue + " (net " + _int(terms)
                   + ") so they fall due before their " + wd_run + " pay run; " + why)
    return [_rows(ev, explains & monthly, "move billing date", _as_of_series(ev, as_of), monthly_text),
            _rows(ev, explains & weekly, "move billing date", _as_of_series(ev, as_of), weekly_text)]


_ACTION_RULES = (ghost_actions, new_actions, habitual_actions, drifting_actions, slipped_actions,
                 irregular_actions, reliable_actions, billing_date_actions)


def _segment_rows(name: str):
    return lambda ev, s: _seg(ev, name)


#: per rule, a row-wise superset of the rows it returns actions for
_RULE_ROWS = {
    ghost_actions: _segment_rows("ghost"),
    new_actions: _segment_rows("new"),
    habitual_actions: _segment_rows("habitual"),
    drifting_actions: _segment_rows("drifting"),
    slipped_actions: _segment_rows("slipped"),
    irregular_actions: _segment_rows("irregular"),
    reliable_actions: _segment_rows("reliable"),
    billing_date_actions: lambda ev, s: (ev[_E.n_run_explained].to_numpy(dtype=float)
                                         >= s.billing_shift_min_invoices),
}


def _action_rows(ev: pd.DataFrame, as_of, s: PlaybookSettings) -> pd.DataFrame:
    """customer_id, action, next_action_date, _detail: every rule's rows, stacked."""
    parts = []
    for rule in _ACTION_RULES:
        # text is built only for the rows a rule can act on (a rule is row-wise: the rows it
        # returns are the same as on the whole frame); with no such row, the whole frame keeps
        # the empty parts' column types as they always were
        can = _RULE_ROWS[rule](ev, s)
        parts.extend(rule(ev.loc[can] if can.any() else ev, as_of, s))
    rows = pd.concat(parts, ignore_index=True)
    rows[Actions.next_action_date] = pd.to_datetime(rows[Actions.next_action_date])
    # never in the past
    nad = rows[Actions.next_action_date]
    rows[Actions.next_action_date] = nad.where(nad.isna() | (nad >= as_of), as_of)
    prio = pd.Series(np.arange(len(ACTION_PRIORITY)), index=list(ACTION_PRIORITY))
    rows["_priority"] = rows[Actions.action].map(prio).to_numpy()
    return rows.sort_values([Actions.customer_id, Actions.next_action_date, "_priority"],
                            na_position="last", kind="mergesort").reset_index(drop=True)


def recommend_actions(evidence: pd.DataFrame, as_of, *, settings: Settings | PlaybookSettings | None = None
                      ) -> pd.DataFrame:
    """Every recommended action per customer, with reasons and dates.

    Parameters
    ----------
    evidence : DataFrame
        The frame returned by :func:`arinsights.playbook.segments.segment_customers` (or
        :func:`~arinsights.playbook.segments.segment_evidence` plus a ``segment`` column).
    as_of : date-like
        Report date.
    settings : Settings or PlaybookSettings, optional

    Returns
    -------
    DataFrame
        :class:`arinsights.schema.Actions`: customer_id, customer_name, segment, action,
        next_action_date (>= ``as_of``; NaT for "none"), open_amount, reasons (what to do
        and why, then the customer's numbers). One row per action per customer; per customer
        ordered by date then :data:`ACTION_PRIORITY` (the first row is the primary action).
    """
    s = _playbook(settings)
    as_of = pd.Timestamp(as_of).normalize()
    ev = evidence.reset_index(drop=True)
    rows = _action_rows(ev, as_of, s)
    info = ev[[_E.customer_id, _E.customer_name, Segments.segment, _E.open_amount]].assign(
        _evidence=evidence_text(ev, s).to_numpy(dtype=object))
    out = rows.merge(info, on=Actions.customer_id, how="left", sort=False)
    out[Actions.reasons] = (out[_DETAIL].astype(object) + " | " + out["_evidence"].astype(object)).astype(object)
    return out[list(Actions.to_schema().columns)].reset_index(drop=True)


def primary_actions(evidence: pd.DataFrame, as_of, settings: Settings | PlaybookSettings | None = None
                    ) -> pd.DataFrame:
    """The most urgent action per customer and all action reasons joined.

    Returns
    -------
    DataFrame
        customer_id, action (earliest date first, ties broken by :data:`ACTION_PRIORITY`),
        next_action_date, actions_text (every action's reason, "; "-joined, in that order).
    """
    s = _playbook(settings)
    as_of = pd.Timestamp(as_of).normalize()
    rows = _action_rows(evidence.reset_index(drop=True), as_of, s)
    # rows are sorted by customer: each customer's rows are one block; join the block's
    # reasons with "; " by position in the block (a loop over the few actions per customer)
    cid = rows[Actions.customer_id].to_numpy(dtype=object)
    start = np.r_[True, cid[1:] != cid[:-1]] if len(cid) else np.zeros(0, bool)
    block = np.cumsum(start) - 1
    rank = np.arange(len(rows)) - np.flatnonzero(start)[block] if len(cid) else np.zeros(0, np.int64)
    detail = rows[_DETAIL].to_numpy(dtype=object)
    text = detail[start].copy()
    for r in range(1, int(rank.max()) + 1 if len(rank) else 1):
        at = rank == r
        text[block[at]] = text[block[at]] + "; " + detail[at]
    out = rows.loc[start, [Actions.customer_id, Actions.action, Actions.next_action_date]].assign(actions_text=text)
    return out.reset_index(drop=True)
