"""Every threshold arinsights uses, in one object.

:class:`Settings` groups the knobs by stage (ingest, behaviour, playbook, report). All
defaults follow the collection playbook in the design notes. Change them in code::

    from arinsights.settings import Settings
    s = Settings().replace(playbook={"grace_days": 3})

or from a TOML file with the same section names (``Settings.from_toml(path)``)::

    [playbook]
    grace_days = 3
    ghost_days = 150

Every value given to :meth:`Settings.replace` (and so to :meth:`Settings.from_toml`) is
checked against its field: its type (from the annotation; a whole number is fine for a
decimal setting, ``true``/``false`` is not a number, a TOML list becomes a tuple where
the field holds one) and the allowed values in :data:`RULES` (ranges, choices). All
problems of one file are reported together in one :class:`~arinsights.errors.InputError`.
A section built in code (``IngestSettings(date_order="dayfirst")``) is checked the same
way when it is made.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import numbers
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError


@dataclass(frozen=True)
class IngestSettings:
    """How exports are read and cleaned."""

    def __post_init__(self) -> None:
        _check_fields(self)


    #: "dayfirst", "monthfirst", "yearfirst" (two-digit year first, yy-mm-dd) or None (decide
    #: per file from the data; an ambiguous file is then an error).
    date_order: str | None = None
    #: currency used when a file carries none.
    default_currency: str = "USD"
    #: an open balance within this amount of zero counts as settled.
    amount_tolerance: float = 0.01
    #: due date = invoice date + this many days when a file has neither due date nor terms.
    default_terms_days: int = 30


@dataclass(frozen=True)
class BehaviourSettings:
    """Days-to-pay distributions, pay-run detection, features and the lateness model."""

    def __post_init__(self) -> None:
        _check_fields(self)


    #: a paid invoice is "late" when paid more than this many days after its due date.
    grace_days: int = 5
    #: quantile of a customer's days-to-pay distribution that defines the "usual window".
    window_quantile: float = 0.8
    #: minimum number of payment events before a pay run may be detected.
    paycycle_min_payments: int = 6
    #: false-discovery rate for pay-run detection across customers (Benjamini-Hochberg).
    paycycle_fdr: float = 0.05
    #: number of most recent paid invoices used for a customer's recent trend.
    trend_k: int = 5
    #: pseudo-count weight of the portfolio in the as-of shrunk days-to-pay features.
    features_shrink_k: float = 5.0
    #: monthly cut-offs in the rolling-origin backtest.
    backtest_cutoffs: int = 4
    #: invoices the lateness classifier trains on at most (most recent first).
    max_train_invoices: int = 200_000
    #: with at least this many training invoices, the lateness classifier calibrates on one
    #: time-ordered hold-out instead of every fold (about 40% less fitting; on the 1M-invoice
    #: generated ledger: backtest ROC-AUC -0.0015, Brier -0.0003, see LatenessModel).
    lateness_single_holdout_rows: int = 150_000
    #: random_state of the lateness classifier.
    random_state: int = 0
    #: calibrated payment outlook: past cut-offs per horizon it learns from ...
    outlook_cutoffs: int = 6
    #: ... this many days apart ...
    outlook_cutoff_step_days: int = 30
    #: ... each with at least this many open invoices.
    outlook_min_open: int = 30
    #: fewer past open invoices than this for a horizon: keep the uncalibrated outlook.
    outlook_min_train: int = 200
    #: inverse L2 regularisation strength of the outlook's logistic calibration.
    outlook_regularisation: float = 1.0
    #: expected pay dates further away than this many days are left empty ("not expected").
    outlook_max_expected_days: int = 365
    #: with more customers than this, the outlook's calibration learns from the past open
    #: invoices of a random sample of this many customers (seeded by random_state); today's
    #: outlook still covers every customer.
    outlook_max_customers: int = 2500


@dataclass(frozen=True)
class PlaybookSettings:
    """Segment rules and collection actions (design notes section 5)."""

    def __post_init__(self) -> None:
        _check_fields(self)


    #: a paid invoice counts as on time within this many days of its due date.
    grace_days: int = 5
    #: history window (days before as_of) used to judge a customer.
    lookback_days: int = 730
    #: fewer paid invoices than this in the look-back: "new".
    new_min_paid: int = 4
    #: share of paid invoices on time for a reliable history.
    reliable_on_time_share: float = 0.8
    #: below this share of paid invoices on time: "habitual".
    habitual_on_time_share: float = 0.5
    #: median days late above this: "habitual".
    habitual_median_days_late: float = 15.0
    #: recent-trend window (last k paid invoices) for "drifting".
    drift_recent_k: int = 4
    #: recent mean days-to-pay must exceed the long-run p80 by this many days for "drifting".
    drift_margin_days: float = 7.0
    #: "drifting" also needs this on-time share in the paid history before the last k paid
    #: invoices. Lower than reliable_on_time_share because a drift builds up over months,
    #: so its start is already in that history; at the habitual level by default.
    drift_history_on_time_share: float = 0.5
    #: the drift baseline (long-run p80) is the 80th percentile of the customer's own paid
    #: invoices before the last k when there are at least this many of them, else the
    #: DaysToPayModel p80 (which includes the recent, drifting invoices and open ones).
    drift_min_history: int = 6
    #: no payment for at least this many days while the oldest open invoice is at least
    #: this old (owes money and pays nothing): "ghost".
    ghost_days: int = 120
    #: call when an invoice's age reaches this fraction of the way from p80 to p90 of the
    #: customer's window (0 = at p80, 1 = at p90).
    call_at_window_fraction: float = 0.5
    #: a slipped customer whose open balance exceeds this many months of their typical
    #: monthly payments is offered a payment plan.
    payment_plan_months: float = 1.5
    #: number of instalments suggested in a payment plan at most.
    payment_plan_max_instalments: int = 6
    #: days past due beyond which a customer unlikely to pay soon goes to an agency.
    agency_days_past_due: int = 120
    #: probability of paying in the next 30 days below which "unlikely to pay soon".
    agency_max_p_pay_30: float = 0.2
    #: horizon (days) of the worklist's value-at-risk (open amount x P(not paid within)).
    risk_horizon_days: int = 30
    #: days between a reminder and the next step.
    reminder_followup_days: int = 7
    #: days allowed after a customer's pay-run day for the money to arrive (bank transfer,
    #: posting). A run day that falls on a weekend is moved to the next Monday first.
    pay_run_grace_days: int = 2
    #: "move billing date" is recommended when at least this many paid invoices ...
    billing_shift_min_invoices: int = 3
    #: ... and at least this share of paid invoices were late by the terms but paid on the
    #: customer's first pay run after the due date (the run explains the lateness).
    billing_shift_min_share: float = 0.25
    #: the recommended billing day makes invoices fall due this many days before the run.
    billing_shift_buffer_days: int = 2
    #: days between the final notice to a ghost customer and the hand-over to an agency.
    final_notice_days: int = 7
    #: count disputed invoices as lateness. Off by default: a disputed invoice waits for the
    #: dispute to be resolved, which says nothing about the customer's payment habit, so it
    #: is left out of the on-time history and never makes a customer "slipped".
    disputes_count_as_late: bool = False


@dataclass(frozen=True)
class ReportSettings:
    """Report rendering."""

    def __post_init__(self) -> None:
        _check_fields(self)


    #: months of history in trend charts.
    trend_months: int = 12
    #: rows shown in report tables at most.
    max_table_rows: int = 25


@dataclass(frozen=True)
class Rule:
    """Values a setting may take beyond its type (see :data:`RULES`).

    ``low``/``high`` bound a number (or each number of a list), inclusive unless
    ``low_open``/``high_open``; ``choices`` lists every allowed value; ``pattern`` is a
    regular expression a text must match in full; ``means`` (when given) says in plain
    words what the value must be, instead of the type's description;
    ``example`` is the value shown in the error's example line when the default is not a
    good one (e.g. ``None``).
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    pattern: str | None = None
    means: str = ""
    example: Any = None


def _at_least(low: float) -> Rule:
    return Rule(low=low)


def _above(low: float) -> Rule:
    return Rule(low=low, low_open=True)


def _one_of(*choices: Any, example: Any = None) -> Rule:
    return Rule(choices=choices, example=example)


_COUNT = _at_least(1)  # a count, window or size: at least one
_DAYS = _at_least(0)  # a number of days (or a margin) that may be zero
_SHARE = Rule(low=0, high=1)  # a share, probability or fraction: 0 to 1
_OPEN_UNIT = Rule(low=0, high=1, low_open=True, high_open=True)  # a quantile or rate strictly inside (0, 1)
_CURRENCY = Rule(pattern="[A-Z]{3}", means='a three-letter currency code in capitals and double quotes, such as "EUR"')

#: Allowed values of each setting beyond its type, by section, beside the fields' meaning
#: above. A setting left out here is checked for its type only. Checked by
#: :meth:`Settings.replace` and :meth:`Settings.from_toml`.
RULES: dict[str, dict[str, Rule]] = {
    "ingest": {
        # None: decided per column from the data
        "date_order": _one_of(None, "dayfirst", "monthfirst", "yearfirst", example="dayfirst"),
        "default_currency": _CURRENCY,
        "amount_tolerance": _at_least(0),
        "default_terms_days": _DAYS,
    },
    "behaviour": {
        "grace_days": _DAYS,
        "window_quantile": _OPEN_UNIT,
        "paycycle_min_payments": _COUNT,
        "paycycle_fdr": _OPEN_UNIT,
        "trend_k": _COUNT,
        "features_shrink_k": _at_least(0),  # 0: no shrinkage towards the portfolio
        "backtest_cutoffs": _COUNT,
        "max_train_invoices": _COUNT,
        "lateness_single_holdout_rows": _at_least(0),  # 0: always one hold-out
        "random_state": Rule(low=0, high=2**32 - 1),  # the seeds numpy and scikit-learn accept
        "outlook_cutoffs": _COUNT,
        "outlook_cutoff_step_days": _COUNT,
        "outlook_min_open": _COUNT,
        "outlook_min_train": _COUNT,
        "outlook_regularisation": _above(0),  # LogisticRegression C > 0
        "outlook_max_expected_days": _COUNT,
        "outlook_max_customers": _COUNT,
    },
    "playbook": {
        "grace_days": _DAYS,
        "lookback_days": _COUNT,
        "new_min_paid": _at_least(0),  # 0: no customer is "new"
        "reliable_on_time_share": _SHARE,
        "habitual_on_time_share": _SHARE,
        "habitual_median_days_late": _DAYS,
        "drift_recent_k": _COUNT,
        "drift_margin_days": _DAYS,
        "drift_history_on_time_share": _SHARE,
        "drift_min_history": _COUNT,
        "ghost_days": _COUNT,
        "call_at_window_fraction": _SHARE,
        "payment_plan_months": _at_least(0),
        "payment_plan_max_instalments": _COUNT,
        "agency_days_past_due": _DAYS,
        "agency_max_p_pay_30": _SHARE,
        # the horizons of the payment outlook (behaviour.outlook.calibrated_outlook)
        "risk_horizon_days": _one_of(7, 30, 60),
        "reminder_followup_days": _COUNT,
        "pay_run_grace_days": _DAYS,
        "billing_shift_min_invoices": _COUNT,
        "billing_shift_min_share": _SHARE,
        "billing_shift_buffer_days": _DAYS,
        "final_notice_days": _DAYS,
    },
    "report": {
        "trend_months": _COUNT,
        "max_table_rows": _COUNT,
    },
}


@dataclass(frozen=True)
class Settings:
    """All thresholds, grouped by stage."""

    ingest: IngestSettings = field(default_factory=IngestSettings)
    behaviour: BehaviourSettings = field(default_factory=BehaviourSettings)
    playbook: PlaybookSettings = field(default_factory=PlaybookSettings)
    report: ReportSettings = field(default_factory=ReportSettings)

    def __post_init__(self) -> None:
        problems = []
        for name, cls in _section_classes().items():
            value = getattr(self, name)
            if not isinstance(value, cls):
                problems.append(f"{name} must be {cls.__name__}(...), not {_toml(value)}; to change some "
                                f"values, write Settings().replace({name}={{...}}) or {cls.__name__}(key=value)")
        if problems:
            raise InputError("settings: " + "; ".join(problems))

    def replace(self, **sections: dict[str, Any]) -> "Settings":
        """Return a copy with some values changed, e.g. ``replace(playbook={"grace_days": 3})``.

        Raises
        ------
        InputError
            Listing every unknown section or setting and every value of the wrong type or
            out of range (see :data:`RULES`), each with an example line.
        """
        return self._replace_checked(sections)

    def _replace_checked(self, sections: dict[str, Any], file: str | None = None) -> "Settings":
        """:meth:`replace`, with ``file`` named in the error (``from_toml``)."""
        changes, problems = {}, []
        for name, values in sections.items():
            if name not in _SECTIONS:
                problems.append(_misplaced(name, values))
                continue
            if not isinstance(values, dict):
                problems.append(f"[{name}] must be a section of settings (a [{name}] table), "
                                f"not {name} = {_toml(values)}")
                continue
            current = getattr(self, name)
            checked = {}
            for key, value in values.items():
                ok, result = _check_value(current, name, key, value)
                if ok:
                    checked[key] = result
                else:
                    problems.append(result)
            changes[name] = dataclasses.replace(current, **checked)
        if problems:
            if len(problems) == 1:
                text = problems[0] if file else f"settings: {problems[0]}"
            else:
                text = f"{len(problems)} problems in the settings:\n" + "\n".join(f"  - {p}" for p in problems)
            raise InputError(text, file=file)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Settings":
        """Read settings from a TOML file whose tables are the section names.

        Raises
        ------
        InputError
            The file is missing or not TOML, or names unknown settings or gives values of
            the wrong type or range; the message names the file and lists every problem.
        """
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise InputError("settings file not found", file=str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"not valid TOML ({exc})", file=str(path)) from None
        return cls()._replace_checked(data, file=str(path))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (for notebook parameters and provenance)."""
        return dataclasses.asdict(self)


_SECTIONS = {f.name for f in dataclasses.fields(Settings)}


# --------------------------------------------------------------------------- value checks
class _WrongType(Exception):
    """A value that is not of the annotated type."""


@functools.cache
def _section_classes() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {name: hints[name] for name in _SECTIONS}


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _toml(value: Any) -> str:
    """``value`` written as in a TOML file (for messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _convert(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp``; raises :class:`_WrongType` when it is not one."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option)
            except _WrongType:
                pass
        raise _WrongType
    if origin is typing.Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise _WrongType
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _WrongType
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _WrongType
        if isinstance(value, numbers.Integral):
            return int(value)
        if math.isfinite(value) and float(value).is_integer():  # 5.0 -> 5, 2.5 stays wrong
            return int(value)
        raise _WrongType
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise _WrongType
        return float(value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _WrongType
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _WrongType
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise _WrongType
            return tuple(_convert(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        return origin(_convert(v, item) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise _WrongType
        key_tp, val_tp = args if args else (Any, Any)
        return {_convert(k, key_tp): _convert(v, val_tp) for k, v in value.items()}
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _WrongType


def _describe(tp: Any) -> str:
    """What a value of type ``tp`` looks like, in plain words."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return "any value"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))  # None: leave it out
    if origin is typing.Literal:
        return "one of " + ", ".join(_toml(a) for a in args)
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is str:
        return "text in double quotes"
    if origin in (tuple, list):
        items = [a for a in args if a is not Ellipsis] or [Any]
        return "a list in square brackets of " + " / ".join(_describe(a) for a in items)
    if origin is dict:
        return "a table of " + (_describe(args[1]) if args else "values")
    return getattr(tp, "__name__", str(tp))


def _range_text(rule: Rule) -> str:
    low, high = rule.low, rule.high
    num = lambda v: f"{v:g}" if isinstance(v, float) else str(v)  # noqa: E731
    if low is not None and high is not None:
        if rule.low_open and rule.high_open:
            return f"greater than {num(low)} and less than {num(high)}"
        if not (rule.low_open or rule.high_open):
            return f"from {num(low)} to {num(high)}"
    parts = []
    if low is not None:
        parts.append(f"greater than {num(low)}" if rule.low_open else f"{num(low)} or more")
    if high is not None:
        parts.append(f"less than {num(high)}" if rule.high_open else f"{num(high)} or less")
    return " and ".join(parts)


def _expected(tp: Any, rule: Rule | None) -> str:
    if rule is not None and rule.choices is not None:
        return "one of " + ", ".join(_toml(c) for c in rule.choices if c is not None)
    if rule is not None and rule.means:
        return rule.means
    text = _describe(tp)
    if rule is not None and (rule.low is not None or rule.high is not None):
        text += ", " + _range_text(rule)
    return text


def _breaks(rule: Rule, value: Any) -> bool:
    """True when ``value`` (already of the right type) is outside ``rule``."""
    if isinstance(value, (list, tuple)):
        return any(_breaks(rule, v) for v in value)
    if isinstance(value, dict):
        return any(_breaks(rule, v) for v in value.values())
    if rule.choices is not None:
        return not any(value == c and type(value) is type(c) for c in rule.choices)
    if rule.pattern is not None and isinstance(value, str) and not re.fullmatch(rule.pattern, value):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if rule.low is not None and (value <= rule.low if rule.low_open else value < rule.low):
            return True
        if rule.high is not None and (value >= rule.high if rule.high_open else value > rule.high):
            return True
    return False


def _example(section: str, key: str, default: Any, rule: Rule | None) -> str:
    value = rule.example if rule is not None and rule.example is not None else default
    return f"{key} = {_toml(value)}" if value is not None else ""


def _check_value(current: Any, section: str, key: str, value: Any, *, cls: type | None = None) -> tuple[bool, Any]:
    """``(True, converted value)`` or ``(False, the problem in plain words)``. ``current``
    holds the values shown as examples; ``cls`` is the section class (default: its type)."""
    types_ = _field_types(cls or type(current))
    if key not in types_:
        close = difflib.get_close_matches(key, types_, n=1)
        hint = (f"did you mean {close[0]}?" if close
                else "the settings of this section are " + ", ".join(sorted(types_)))
        return False, f"[{section}] {key}: unknown setting; {hint}"
    tp, rule = types_[key], RULES.get(section, {}).get(key)
    try:
        converted = _convert(value, tp)
        ok = rule is None or not _breaks(rule, converted)
    except _WrongType:
        ok = False
    if ok:
        return True, converted
    example = _example(section, key, getattr(current, key), rule)
    return False, (f"[{section}] {key} = {_toml(value)}: expected {_expected(tp, rule)}"
                   + (f" (for example: {example})" if example else ""))


def _check_fields(obj: Any) -> None:
    """Check every value of a section object built in code (``IngestSettings(...)``) as
    :meth:`Settings.replace` checks a changed one; values are converted in place (``30.0``
    becomes ``30``, a list a tuple). Raises :class:`InputError` listing every problem."""
    cls = type(obj)
    section = {c: name for name, c in _section_classes().items()}[cls]
    defaults = types.SimpleNamespace(**{  # the example values of the messages
        f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        for f in dataclasses.fields(cls)})
    problems = []
    for f in dataclasses.fields(cls):
        value = getattr(obj, f.name)
        ok, result = _check_value(defaults, section, f.name, value, cls=cls)
        if not ok:
            problems.append(result)
        elif result is not value:
            object.__setattr__(obj, f.name, result)
    if problems:
        text = problems[0] if len(problems) == 1 else (
            f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))
        raise InputError(f"settings ({cls.__name__}): {text}")


def _misplaced(name: str, values: Any) -> str:
    """The problem with a top-level name that is not a section."""
    sections = ", ".join(f"[{s}]" for s in sorted(_SECTIONS))
    if isinstance(values, dict):
        close = difflib.get_close_matches(name, _SECTIONS, n=1)
        return (f"[{name}]: unknown settings section; "
                + (f"did you mean [{close[0]}]? " if close else "") + f"the sections are {sections}")
    homes = [s for s, cls in sorted(_section_classes().items()) if name in {f.name for f in dataclasses.fields(cls)}]
    where = (" or ".join(f"[{s}]" for s in homes) if homes else f"its section ({sections})")
    return f"{name} = {_toml(values)} is outside any section: put it under {where}"
