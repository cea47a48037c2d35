"""Unpaid public debts: `social_security_summons` and `tax_debt`."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.schemas import BureauEventType, SignalName, SocialSecuritySummons, TaxDebt

from ..config import RulesConfig
from ..context import Context
from ..findings import Finding
from ..history import History
from ..periods import within
from ..wording import eur, on
from ._common import bureau_data, make_finding

__all__ = ["social_security_summons", "tax_debt"]


def social_security_summons(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`social_security_summons` (risk, high): the RSZ/ONSS summoned the company for unpaid contributions.

    Holds while a bureau `social_security_summons` lies in (as_of - `window_days` (365), as_of]; every
    summons in the window is evidence. Resolved when the last one leaves the window.
    """
    days = config.social_security_summons.window_days
    start = as_of - timedelta(days=days)
    summonses = [
        (event, data)
        for event, data in bureau_data(
            history, BureauEventType.SOCIAL_SECURITY_SUMMONS, SocialSecuritySummons
        )
        if within(event.at, start, as_of)
    ]
    if not summonses:
        return None
    latest, data = summonses[-1]
    court = f" before {data.court}" if data.court else ""
    if len(summonses) == 1:
        summary = (
            f"The RSZ/ONSS summoned the company{court} on {on(latest.at)} for unpaid social-security "
            "contributions."
        )
    else:
        summary = (
            f"The RSZ/ONSS summoned the company {len(summonses)} times in the last {days} days for unpaid "
            f"social-security contributions, the latest{court} on {on(latest.at)}."
        )
    return make_finding(
        SignalName.SOCIAL_SECURITY_SUMMONS, summary, (event for event, _ in summonses), summonses[0][0].at
    )


def tax_debt(history: History, context: Context, as_of: datetime, config: RulesConfig) -> Finding | None:
    """`tax_debt` (risk, high): a tax or VAT debt was reported.

    Holds while a bureau `tax_debt` lies in (as_of - `window_days` (365), as_of]; every report in the
    window is evidence. Resolved when the last one leaves the window.
    """
    days = config.tax_debt.window_days
    start = as_of - timedelta(days=days)
    debts = [
        (event, data)
        for event, data in bureau_data(history, BureauEventType.TAX_DEBT, TaxDebt)
        if within(event.at, start, as_of)
    ]
    if not debts:
        return None
    latest = debts[-1][0]
    if len(debts) == 1:
        summary = f"A tax debt of {eur(debts[0][1].amount_eur)} was reported on {on(latest.at)}."
    else:
        total = sum((data.amount_eur for _, data in debts), start=debts[0][1].amount_eur * 0)
        summary = (
            f"{len(debts)} tax debts totalling {eur(total)} were reported in the last {days} days, "
            f"the latest on {on(latest.at)}."
        )
    return make_finding(SignalName.TAX_DEBT, summary, (event for event, _ in debts), debts[0][0].at)
