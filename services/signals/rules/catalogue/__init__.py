"""The signal catalogue (contract section 5): one pure function per signal.

Every rule has the signature `(history, context, as_of, config) -> Finding | None` and answers one question:
does this signal hold for the company as of `as_of`? A finding is the signal open; None is the signal not
holding (resolved if it was open). The rules read a prepared `History` (deduplicated, cut at `as_of`,
in event-time order), so they never depend on the order events arrived in.

Two rules look at the others' results and take them as the keyword `found`: `distress_reported_by_sales`
(escalates when an official risk signal is open) and `growth_opportunity` (only without open risk).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.schemas import Category, Severity, SignalName

from ..findings import CATEGORIES
from ._common import DEFAULT_SEVERITY, Rule
from .accounts import accounts_overdue, negative_equity
from .activity import dormant_reactivated, registered_office_moves
from .credit import payment_behaviour, score_drop
from .debts import social_security_summons, tax_debt
from .group import parent_distress
from .legal import (
    BANKRUPTCY_CODES,
    DISSOLUTION_CODES,
    NORMAL_CODE,
    REORGANISATION_CODES,
    bankruptcy,
    dissolution,
    judicial_reorganisation,
)
from .management import director_failure_history, management_churn, straw_man
from .retention import churn_risk
from .sales import distress_reported_by_sales, growth_opportunity

__all__ = [
    "BANKRUPTCY_CODES",
    "CATALOGUE",
    "DEFAULT_SEVERITY",
    "DISSOLUTION_CODES",
    "NORMAL_CODE",
    "REORGANISATION_CODES",
    "Rule",
    "SignalSpec",
    "accounts_overdue",
    "bankruptcy",
    "churn_risk",
    "director_failure_history",
    "dissolution",
    "distress_reported_by_sales",
    "dormant_reactivated",
    "growth_opportunity",
    "judicial_reorganisation",
    "management_churn",
    "negative_equity",
    "parent_distress",
    "payment_behaviour",
    "registered_office_moves",
    "score_drop",
    "social_security_summons",
    "straw_man",
    "tax_debt",
]


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """A signal of the catalogue: its name, category, default severity and rule."""

    name: SignalName
    category: Category
    severity: Severity
    rule: Rule


def _spec(name: SignalName, rule: Rule) -> SignalSpec:
    return SignalSpec(name, CATEGORIES[name], DEFAULT_SEVERITY[name], rule)


CATALOGUE: tuple[SignalSpec, ...] = (
    _spec(SignalName.BANKRUPTCY, bankruptcy),
    _spec(SignalName.JUDICIAL_REORGANISATION, judicial_reorganisation),
    _spec(SignalName.DISSOLUTION, dissolution),
    _spec(SignalName.DIRECTOR_FAILURE_HISTORY, director_failure_history),
    _spec(SignalName.DORMANT_REACTIVATED, dormant_reactivated),
    _spec(SignalName.MANAGEMENT_CHURN, management_churn),
    _spec(SignalName.REGISTERED_OFFICE_MOVES, registered_office_moves),
    _spec(SignalName.SOCIAL_SECURITY_SUMMONS, social_security_summons),
    _spec(SignalName.TAX_DEBT, tax_debt),
    _spec(SignalName.ACCOUNTS_OVERDUE, accounts_overdue),
    _spec(SignalName.NEGATIVE_EQUITY, negative_equity),
    _spec(SignalName.SCORE_DROP, score_drop),
    _spec(SignalName.PAYMENT_BEHAVIOUR, payment_behaviour),
    _spec(SignalName.STRAW_MAN, straw_man),
    _spec(SignalName.PARENT_DISTRESS, parent_distress),
    _spec(SignalName.DISTRESS_REPORTED_BY_SALES, distress_reported_by_sales),
    _spec(SignalName.GROWTH_OPPORTUNITY, growth_opportunity),
    _spec(SignalName.CHURN_RISK, churn_risk),
)
"""Every signal, in the order of contract section 5 (the order `evaluate` runs them in)."""
