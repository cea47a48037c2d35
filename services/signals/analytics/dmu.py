"""The buying unit (DMU, contract section 8): contacts per customer, decision makers, stale contacts.

Contacts are the current records of `dmu_contacts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Integer, Row, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.analytics.population import monitored
from services.signals.store import companies, dmu_contacts
from shared.schemas import DmuRole

STALE_DAYS = 180
"""A decision maker not contacted for this long is worth a visit."""

STALE_LIST_LIMIT = 100
TOP_FUNCTIONS = 5


class DmuFigures(BaseModel):
    """The buying-unit figures of a group of customers."""

    segment: str | None = Field(description="The segment; null for customers without one, or overall.")
    customers: int = Field(description="Monitored customers.")
    customers_with_contacts: int = Field(description="Customers with at least one contact.")
    average_dmu_size: float = Field(description="Contacts per customer with contacts.")
    decision_maker_known: int = Field(description="Customers with contacts, one of them a decision maker.")
    decision_maker_known_share: float = Field(
        description="decision_maker_known / customers_with_contacts (0 without contacts)."
    )
    single_threaded: int = Field(description="Customers covered by one contact only.")


class DecidingFunction(BaseModel):
    function: str = Field(description="The job title, in lower case.")
    decision_makers: int = Field(description="Decision makers with that title.")


class StaleDecisionMaker(BaseModel):
    company_id: str
    name: str | None
    segment: str | None
    last_contact_at: datetime | None = Field(
        description="The latest contact with any of its decision makers; null if never recorded."
    )


class DmuSummary(BaseModel):
    """The buying unit of one customer, on its company page."""

    size: int = Field(description="Contacts recorded.")
    decision_maker_known: bool = Field(description="Whether one of them is a decision maker.")


async def dmu_summary(conn: AsyncConnection, company_id: str) -> DmuSummary:
    d = dmu_contacts.c
    is_dm = d.dmu_role == DmuRole.DECISION_MAKER.value
    row = (
        await conn.execute(
            select(func.count().label("size"), func.sum(cast(is_dm, Integer)).label("dms")).where(
                d.company_id == company_id
            )
        )
    ).one()
    return DmuSummary(size=int(row.size), decision_maker_known=bool(row.dms))


class DmuReport(BaseModel):
    """`GET /v1/analytics/dmu`."""

    as_of: datetime
    overall: DmuFigures
    segments: list[DmuFigures] = Field(description="Per segment, the largest first.")
    deciding_functions: list[DecidingFunction] = Field(
        description=f"The {TOP_FUNCTIONS} job titles that most often hold the decision."
    )
    stale_decision_makers: list[StaleDecisionMaker] = Field(
        description=f"Customers whose decision maker was not contacted for {STALE_DAYS} days (at most "
        f"{STALE_LIST_LIMIT}, the longest first)."
    )
    stale_decision_makers_total: int


def _figures(segment: str | None, customers: int, rows: Sequence[Row[Any]]) -> DmuFigures:
    """The figures of a group from its per-segment aggregate rows (several for the overall figures)."""
    with_contacts = sum(int(row.with_contacts) for row in rows)
    contacts = sum(int(row.contacts) for row in rows)
    known = sum(int(row.dm_known or 0) for row in rows)
    return DmuFigures(
        segment=segment,
        customers=customers,
        customers_with_contacts=with_contacts,
        average_dmu_size=round(contacts / with_contacts, 2) if with_contacts else 0.0,
        decision_maker_known=known,
        decision_maker_known_share=round(known / with_contacts, 4) if with_contacts else 0.0,
        single_threaded=sum(int(row.single or 0) for row in rows),
    )


async def dmu_report(conn: AsyncConnection, now: datetime, segment: str | None = None) -> DmuReport:
    """The DMU analysis of the monitored customers (of `segment`, if given) as of `now`."""
    c, d = companies.c, dmu_contacts.c
    population = monitored(segment)
    is_dm = d.dmu_role == DmuRole.DECISION_MAKER.value
    per_company = (
        select(
            c.company_id,
            c.name,
            c.segment,
            func.count(d.contact_id).label("size"),
            func.sum(cast(is_dm, Integer)).label("dms"),
            func.max(case((is_dm, d.last_contact_at))).label("dm_last"),
        )
        .select_from(companies.join(dmu_contacts, d.company_id == c.company_id))
        .where(*population)
        .group_by(c.company_id, c.name, c.segment)
        .subquery()
    )
    p = per_company.c
    figures = select(
        p.segment,
        func.count().label("with_contacts"),
        func.sum(p.size).label("contacts"),
        func.sum(cast(p.dms > 0, Integer)).label("dm_known"),
        func.sum(cast(p.size == 1, Integer)).label("single"),
    ).group_by(p.segment)
    customers = {
        row.segment: int(row.n)
        for row in await conn.execute(
            select(c.segment, func.count().label("n")).where(*population).group_by(c.segment)
        )
    }
    by_segment = {row.segment: row for row in await conn.execute(figures)}

    everything = list(by_segment.values())
    segments = [
        _figures(seg, customers[seg], [by_segment[seg]] if seg in by_segment else [])
        for seg in sorted(customers, key=lambda s: (-customers[s], s or ""))
    ]
    function = func.lower(func.trim(d.function))
    deciding = await conn.execute(
        select(function.label("function"), func.count().label("n"))
        .select_from(dmu_contacts.join(companies, c.company_id == d.company_id))
        .where(*population, is_dm, d.function.is_not(None), func.trim(d.function) != "")
        .group_by(function)
        .order_by(func.count().desc(), function)
        .limit(TOP_FUNCTIONS)
    )
    cutoff = now - timedelta(days=STALE_DAYS)
    stale = and_(p.dms > 0, (p.dm_last.is_(None)) | (p.dm_last < cutoff))
    stale_rows = await conn.execute(
        select(p.company_id, p.name, p.segment, p.dm_last)
        .where(stale)
        .order_by(p.dm_last.is_not(None), p.dm_last, p.company_id)
        .limit(STALE_LIST_LIMIT)
    )
    stale_total = (
        await conn.execute(select(func.count()).select_from(per_company).where(stale))
    ).scalar_one()
    return DmuReport(
        as_of=now,
        overall=_figures(None, sum(customers.values()), everything),
        segments=segments,
        deciding_functions=[
            DecidingFunction(function=r.function, decision_makers=int(r.n)) for r in deciding
        ],
        stale_decision_makers=[
            StaleDecisionMaker(
                company_id=r.company_id, name=r.name, segment=r.segment, last_contact_at=r.dm_last
            )
            for r in stale_rows
        ],
        stale_decision_makers_total=int(stale_total),
    )
