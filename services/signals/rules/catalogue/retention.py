"""The supplier's own orders: `churn_risk`."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.schemas import SignalName

from ..config import RulesConfig
from ..context import Context
from ..findings import Finding
from ..history import History
from ..periods import add_years
from ..wording import on, plural
from ._common import make_finding

__all__ = ["churn_risk"]


def churn_risk(history: History, context: Context, as_of: datetime, config: RulesConfig) -> Finding | None:
    """`churn_risk` (retention, medium): a customer stopped ordering.

    With P = `period_days` (90), Y = `year_days` (365): the condition holds at a time t when the customer
    ordered in (t - Y - P, t - Y] but not in (t - P, t], or when its last order is `silent_years` (2) or
    more before t. Once it held after the last order it stays open until a NEW order: it is resolved by an
    order, not by the calendar. (Without that, a customer silent for 15 to 24 months would drop out between
    the two conditions.) Evidence: the last order; `since` is the first time after it that the condition
    held.
    """
    rules = config.churn_risk
    orders = [event for event, _ in history.orders()]
    if not orders:
        return None
    last = orders[-1]
    period = timedelta(days=rules.period_days)
    year = timedelta(days=rules.year_days)
    starts: list[datetime] = [add_years(last.at, rules.silent_years)]
    if rules.period_days > 0:
        # The first t >= last + P whose "last year" period holds an order: the earliest order in the
        # year before the last one opens it; see the docstring for the windows.
        first_in_year = next(event for event in orders if event.at > last.at - year)
        starts.append(max(first_in_year.at + year, last.at + period))
    since = min(starts)
    if as_of < since:
        return None
    days = (as_of - last.at).days
    if as_of >= starts[0]:
        summary = (
            f"The customer has not ordered for {days} days, at least {plural(rules.silent_years, 'year')} "
            f"(last order on {on(last.at)})."
        )
    else:
        summary = (
            f"The customer has not ordered for {days} days (last order on {on(last.at)}): it missed the "
            "period in which it ordered a year earlier."
        )
    return make_finding(
        SignalName.CHURN_RISK, summary, [last.evidence(summary=f"Last order: {last.summary}")], since
    )
