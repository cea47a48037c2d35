"""Annual accounts: `accounts_overdue` and `negative_equity`."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from shared.schemas import AnnualAccountsFiled, AnnualAccountsOverdue, BureauEventType, SignalName

from ..config import RulesConfig
from ..context import Context
from ..events import SourceEvent
from ..findings import Finding
from ..history import History
from ..periods import add_months, utc_day
from ..wording import eur, listing, on
from ._common import Item, bureau_data, make_finding

__all__ = ["accounts_overdue", "negative_equity"]


def accounts_overdue(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`accounts_overdue` (risk, medium): annual accounts were not filed on time.

    A fiscal year Y is overdue when (a) the bureau reported `annual_accounts_overdue` for Y and no accounts
    for Y or a later year were filed (whenever the filing arrived), or (b) the company filed accounts for
    Y - 1 (its latest filing) and `as_of` is past the due date of Y: `due_months` (7) after 31 December of
    Y, with no filing for Y; every later year whose due date passed too is listed with it. Only companies
    that filed at least once are judged by (b). Resolved by the filing. Evidence: the overdue reports and,
    for (b), the latest filing.
    """
    filed = bureau_data(history, BureauEventType.ANNUAL_ACCOUNTS_FILED, AnnualAccountsFiled)
    latest_year = max((data.fiscal_year for _, data in filed), default=None)
    overdue: dict[int, tuple[date, datetime]] = {}
    evidence: list[Item] = []
    for event, reported in bureau_data(
        history, BureauEventType.ANNUAL_ACCOUNTS_OVERDUE, AnnualAccountsOverdue
    ):
        if latest_year is None or reported.fiscal_year > latest_year:
            due, since = overdue.get(reported.fiscal_year, (reported.due_on, event.at))
            overdue[reported.fiscal_year] = (min(due, reported.due_on), min(since, event.at))
            evidence.append(event)
    if latest_year is not None:
        year = latest_year + 1
        due = add_months(date(year, 12, 31), config.accounts_overdue.due_months)
        last_filing = max(filed, key=lambda item: (item[1].fiscal_year, item[0].at, item[0].id))[0]
        while as_of >= utc_day(due + timedelta(days=1)):
            first_late = utc_day(due + timedelta(days=1))
            known = overdue.get(year)
            overdue[year] = (
                (due, first_late) if known is None else (min(known[0], due), min(known[1], first_late))
            )
            if year == latest_year + 1:
                evidence.append(last_filing.evidence(summary=f"Latest filing: {last_filing.summary}"))
            year += 1
            due = add_months(date(year, 12, 31), config.accounts_overdue.due_months)
    if not overdue:
        return None
    years = sorted(overdue)
    due_first = overdue[years[0]][0]
    if len(years) == 1:
        summary = f"The annual accounts for {years[0]} were due by {on(due_first)} and have not been filed."
    else:
        summary = (
            f"The annual accounts for {listing([str(year) for year in years])} have not been filed; "
            f"the first were due by {on(due_first)}."
        )
    since = min(moment for _, moment in overdue.values())
    return make_finding(SignalName.ACCOUNTS_OVERDUE, summary, evidence, since)


def negative_equity(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`negative_equity` (risk, high): the latest filed accounts show equity below zero.

    The latest accounts are those of the highest fiscal year (for the same year, the last filed). Resolved
    when accounts of a later year show equity of zero or more. `since` is the filing from which the latest
    accounts have been negative without interruption.
    """
    latest: tuple[SourceEvent, AnnualAccountsFiled] | None = None
    since: datetime | None = None
    for event, data in bureau_data(history, BureauEventType.ANNUAL_ACCOUNTS_FILED, AnnualAccountsFiled):
        if latest is not None and data.fiscal_year < latest[1].fiscal_year:
            # Accounts of an earlier year filed late do not replace the latest ones.
            continue
        latest = (event, data)
        if data.equity_eur >= 0:
            since = None
        elif since is None:
            since = event.at
    if latest is None or since is None:
        return None
    event, data = latest
    return make_finding(
        SignalName.NEGATIVE_EQUITY,
        f"The annual accounts {data.fiscal_year} (filed on {on(data.filed_on)}) show negative equity of "
        f"{eur(data.equity_eur)}.",
        [event],
        since,
    )
