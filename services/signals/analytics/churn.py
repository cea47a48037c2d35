"""Churn: monitored customers with no order for a configurable time (default 2 years)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.analytics.population import euro, monitored
from services.signals.facts import orders
from services.signals.rules.periods import add_years
from services.signals.store import companies
from shared.schemas import Money


class Churned(BaseModel):
    company_id: str
    name: str | None
    segment: str | None
    last_order_at: datetime
    days_silent: int
    lifetime_revenue_eur: Money


class ChurnReport(BaseModel):
    """`GET /v1/analytics/churn`."""

    as_of: datetime
    years: int
    since: datetime = Field(description="No order after this time.")
    total: int = Field(description="Customers who ordered before and not since.")
    customers: list[Churned] = Field(description="The most valuable first (at most `limit`).")
    lost_revenue_eur: Money = Field(description="Their lifetime revenue, all of them.")


async def churn_report(
    conn: AsyncConnection, as_of: datetime, *, years: int = 2, segment: str | None = None, limit: int = 100
) -> ChurnReport:
    c, o = companies.c, orders.c
    since = add_years(as_of, -years)
    per_customer = (
        select(
            c.company_id,
            c.name,
            c.segment,
            func.max(o.ordered_at).label("last"),
            func.sum(o.amount_cents).label("revenue"),
        )
        .select_from(companies.join(orders, o.company_id == c.company_id))
        .where(*monitored(segment), o.ordered_at <= as_of)
        .group_by(c.company_id, c.name, c.segment)
        .having(func.max(o.ordered_at) < since)
        .subquery()
    )
    p = per_customer.c
    totals = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(p.revenue), 0)).select_from(per_customer)
        )
    ).one()
    rows = await conn.execute(select(per_customer).order_by(p.revenue.desc(), p.company_id).limit(limit))
    return ChurnReport(
        as_of=as_of,
        years=years,
        since=since,
        total=int(totals[0]),
        lost_revenue_eur=euro(totals[1]),
        customers=[
            Churned(
                company_id=row.company_id,
                name=row.name,
                segment=row.segment,
                last_order_at=row.last,
                days_silent=(as_of - row.last).days,
                lifetime_revenue_eur=euro(row.revenue),
            )
            for row in rows
        ],
    )
