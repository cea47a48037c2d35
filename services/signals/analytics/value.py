"""Customer value: revenue and order count per customer and per segment over a period, with payment
behaviour and risk level beside it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Integer, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.analytics.population import euro, monitored
from services.signals.facts import company_facts, orders
from services.signals.store import companies
from shared.schemas import Money, Severity


class CustomerValue(BaseModel):
    company_id: str
    name: str | None
    segment: str | None
    revenue_eur: Money = Field(description="Orders in the period, in euro.")
    orders: int
    payment_days: int | None = Field(description="Days paid beyond terms, as the bureau last reported.")
    risk_level: Severity | None


class SegmentValue(BaseModel):
    segment: str | None
    customers: int
    buying_customers: int = Field(description="Customers with an order in the period.")
    revenue_eur: Money
    orders: int


class ValueReport(BaseModel):
    """`GET /v1/analytics/value`."""

    start: datetime
    end: datetime
    segments: list[SegmentValue] = Field(description="Per segment, the most valuable first.")
    customers: list[CustomerValue] = Field(description="The most valuable customers first (at most `limit`).")


async def value_report(
    conn: AsyncConnection, start: datetime, end: datetime, *, segment: str | None = None, limit: int = 100
) -> ValueReport:
    """Revenue and orders in [start, end) of the monitored customers (of `segment`)."""
    c, o, f = companies.c, orders.c, company_facts.c
    in_period = and_(o.company_id == c.company_id, o.ordered_at >= start, o.ordered_at < end)
    revenue = func.coalesce(func.sum(o.amount_cents), 0)
    per_customer = (
        select(
            c.company_id,
            c.name,
            c.segment,
            c.risk_level,
            f.payment_days,
            revenue.label("revenue"),
            func.count(o.order_id).label("orders"),
        )
        .select_from(
            companies.outerjoin(orders, in_period).outerjoin(company_facts, f.company_id == c.company_id)
        )
        .where(*monitored(segment))
        .group_by(c.company_id, c.name, c.segment, c.risk_level, f.payment_days)
    )
    top = await conn.execute(per_customer.order_by(revenue.desc(), c.company_id).limit(limit))
    inner = per_customer.subquery()
    totals = await conn.execute(
        select(
            inner.c.segment,
            func.count().label("customers"),
            func.sum((inner.c.orders > 0).cast(Integer)).label("buying"),
            func.sum(inner.c.revenue).label("revenue"),
            func.sum(inner.c.orders).label("orders"),
        )
        .group_by(inner.c.segment)
        .order_by(func.sum(inner.c.revenue).desc(), inner.c.segment)
    )
    return ValueReport(
        start=start,
        end=end,
        segments=[
            SegmentValue(
                segment=row.segment,
                customers=int(row.customers),
                buying_customers=int(row.buying or 0),
                revenue_eur=euro(row.revenue),
                orders=int(row.orders or 0),
            )
            for row in totals
        ],
        customers=[
            CustomerValue(
                company_id=row.company_id,
                name=row.name,
                segment=row.segment,
                revenue_eur=euro(row.revenue),
                orders=int(row.orders),
                payment_days=row.payment_days,
                risk_level=Severity(row.risk_level) if row.risk_level else None,
            )
            for row in top
        ],
    )
