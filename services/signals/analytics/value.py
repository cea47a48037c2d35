"""Customer value: revenue and order count per customer and per segment over a period, with payment
behaviour and risk level beside it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Integer, String, cast, func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.analytics.population import euro, monitored, order_totals, ordered_at
from services.signals.facts import company_facts
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
    c, f = companies.c, company_facts.c
    when = ordered_at()
    spend = order_totals(segment, when >= start, when < end)
    # One row per monitored customer, worked out once (a common table expression read twice is
    # materialised) for both answers: the most valuable customers and the totals per segment.
    per_customer = (
        select(
            c.company_id,
            c.name,
            c.segment,
            c.risk_level,
            f.payment_days,
            func.coalesce(spend.c.cents, 0).label("revenue"),
            func.coalesce(spend.c.orders, 0).label("orders"),
        )
        .select_from(
            companies.outerjoin(spend, spend.c.company_id == c.company_id).outerjoin(
                company_facts, f.company_id == c.company_id
            )
        )
        .where(*monitored(segment))
        .cte("per_customer")
    )
    p = per_customer.c
    top = (
        select(
            literal("customer").label("kind"),
            p.company_id,
            p.name,
            p.segment,
            p.risk_level,
            p.payment_days,
            cast(null(), BigInteger).label("customers"),
            cast(null(), BigInteger).label("buying"),
            p.revenue,
            p.orders,
        )
        .order_by(p.revenue.desc(), p.company_id)
        .limit(limit)
        .subquery()
    )
    totals = select(
        literal("segment").label("kind"),
        cast(null(), String).label("company_id"),
        cast(null(), String).label("name"),
        p.segment,
        cast(null(), String).label("risk_level"),
        cast(null(), Integer).label("payment_days"),
        func.count().label("customers"),
        func.sum((p.orders > 0).cast(Integer)).label("buying"),
        func.sum(p.revenue).label("revenue"),
        func.sum(p.orders).label("orders"),
    ).group_by(p.segment)
    both = union_all(select(top), totals).subquery()
    b = both.c
    # The segments (company_id null) by revenue then name; the customers by revenue then id.
    rows = (
        await conn.execute(select(both).order_by(b.kind, b.revenue.desc(), b.company_id, b.segment))
    ).all()
    segments = [row for row in rows if row.kind == "segment"]
    customers = [row for row in rows if row.kind == "customer"]
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
            for row in segments
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
            for row in customers
        ],
    )
