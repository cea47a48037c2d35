"""Churn: monitored customers with no order for a configurable time (default 2 years)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, String, cast, func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.analytics.population import euro, monitored
from services.signals.facts import orders
from services.signals.rules.periods import add_years
from services.signals.store import companies
from shared.db import UTCDateTime
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
    # Silent: no order in [since, as_of], one look-up in the orders' (company_id, ordered_at, amount_cents)
    # index per customer (an indexed column is selected, so SQLite reads the index only); then only the
    # silent customers' orders are read and totalled, and their last one is before `since`.
    recent = orders.alias("recent")
    ordered_since = (
        select(recent.c.company_id)
        .where(
            recent.c.company_id == c.company_id, recent.c.ordered_at >= since, recent.c.ordered_at <= as_of
        )
        .exists()
    )
    per_customer = (
        select(
            c.company_id,
            c.name,
            c.segment,
            func.max(o.ordered_at).label("last"),
            func.sum(o.amount_cents).label("revenue"),
        )
        .select_from(companies.join(orders, o.company_id == c.company_id))
        .where(*monitored(segment), ~ordered_since, o.ordered_at <= as_of)
        .group_by(c.company_id, c.name, c.segment)
        # Worked out once for both answers: the total of them all and the most valuable ones.
        .cte("per_customer")
    )
    p = per_customer.c
    top = (
        select(
            literal("customer").label("kind"),
            p.company_id,
            p.name,
            p.segment,
            p.last,
            p.revenue,
            cast(null(), BigInteger).label("total"),
        )
        .order_by(p.revenue.desc(), p.company_id)
        .limit(limit)
        .subquery()
    )
    everyone = select(
        literal("all").label("kind"),
        cast(null(), String).label("company_id"),
        cast(null(), String).label("name"),
        cast(null(), String).label("segment"),
        cast(null(), UTCDateTime).label("last"),
        func.coalesce(func.sum(p.revenue), 0).label("revenue"),
        func.count().label("total"),
    )
    both = union_all(everyone, select(top)).subquery()
    b = both.c
    rows = (await conn.execute(select(both).order_by(b.kind, b.revenue.desc(), b.company_id))).all()
    [totals_row] = [row for row in rows if row.kind == "all"]
    return ChurnReport(
        as_of=as_of,
        years=years,
        since=since,
        total=int(totals_row.total),
        lost_revenue_eur=euro(totals_row.revenue),
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
            if row.kind == "customer"
        ],
    )
