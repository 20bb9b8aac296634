"""Every threshold arinsights uses, in one object.

:class:`Settings` groups the knobs by stage (ingest, behaviour, playbook, report). All
defaults follow the collection playbook in the design notes. Change them in code::

    from arinsights.settings import Settings
    s = Settings().replace(playbook={"grace_days": 3})

or from a TOML file with the same section names (``Settings.from_toml(path)``)::

    [playbook]
    grace_days = 3
    ghost_days = 150
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError


@dataclass(frozen=True)
class IngestSettings:
    """How exports are read and cleaned."""

    #: "dayfirst", "monthfirst" or None (decide per column from the data; an ambiguous
    #: column is then an error).
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

    #: months of history in trend charts.
    trend_months: int = 12
    #: rows shown in report tables at most.
    max_table_rows: int = 25


@dataclass(frozen=True)
class Settings:
    """All thresholds, grouped by stage."""

    ingest: IngestSettings = field(default_factory=IngestSettings)
    behaviour: BehaviourSettings = field(default_factory=BehaviourSettings)
    playbook: PlaybookSettings = field(default_factory=PlaybookSettings)
    report: ReportSettings = field(default_factory=ReportSettings)

    def replace(self, **sections: dict[str, Any]) -> "Settings":
        """Return a copy with some values changed, e.g. ``replace(playbook={"grace_days": 3})``."""
        changes = {}
        for name, values in sections.items():
            if name not in _SECTIONS:
                raise InputError(f"unknown settings section {name!r}; expected one of {sorted(_SECTIONS)}")
            current = getattr(self, name)
            known = {f.name for f in dataclasses.fields(current)}
            unknown = set(values) - known
            if unknown:
                raise InputError(
                    f"unknown setting(s) {sorted(unknown)} in section [{name}]; "
                    f"known settings are {sorted(known)}"
                )
            changes[name] = dataclasses.replace(current, **values)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Settings":
        """Read settings from a TOML file whose tables are the section names."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise InputError("settings file not found", file=str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"not valid TOML ({exc})", file=str(path)) from None
        return cls().replace(**data)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (for notebook parameters and provenance)."""
        return dataclasses.asdict(self)


_SECTIONS = {f.name for f in dataclasses.fields(Settings)}
