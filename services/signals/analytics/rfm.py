"""RFM: recency, frequency and monetary quintiles per customer, the named segments, and the customers
who bought in a period last year but not in the same period this year.

Quintiles are `ntile(5)` window functions over the customers with an order before `as_of` (5 = most recent,
most orders, most revenue). Recency is ranked on the date of the last order, so no date arithmetic is
needed in SQL; the days are worked out for the answer only.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import Integer, String, and_, cast, false, func, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.analytics.population import euro, monitored, order_totals, ordered_at
from services.signals.bands import RfmSegment, rfm_segment
from services.signals.facts import orders
from services.signals.store import companies
from shared.db import UTCDateTime
from shared.schemas import Money

YEAR = timedelta(days=365)
QUINTILES = range(1, 6)


class RfmCustomer(BaseModel):
    company_id: str
    name: str | None
    segment: str | None = Field(description="The supplier's own segment.")
    last_order_at: datetime
    recency_days: int
    orders: int
    revenue_eur: Money
    r: int = Field(ge=1, le=5)
    f: int = Field(ge=1, le=5)
    m: int = Field(ge=1, le=5)
    rfm_segment: RfmSegment


class RfmCell(BaseModel):
    r: int
    f: int
    customers: int
    revenue_eur: Money


class RfmSegmentCount(BaseModel):
    rfm_segment: RfmSegment
    customers: int
    revenue_eur: Money


class Lapsed(BaseModel):
    """A customer who ordered in the period a year ago but not in the same period now."""

    company_id: str
    name: str | None
    revenue_last_year_eur: Money


class RfmReport(BaseModel):
    """`GET /v1/analytics/rfm`."""

    as_of: datetime
    grid: list[RfmCell] = Field(description="Customers per (R, F) cell: the RFM grid.")
    segments: list[RfmSegmentCount]
    customers: list[RfmCustomer] = Field(description="Per customer (at most `limit`), the best first.")
    period_days: int
    lapsed: list[Lapsed] = Field(
        description="Bought in (as_of - 1 year - period, as_of - 1 year] but not in (as_of - period, as_of]."
    )


async def rfm_report(
    conn: AsyncConnection,
    as_of: datetime,
    *,
    segment: str | None = None,
    period_days: int = 90,
    limit: int = 100,
    only: RfmSegment | None = None,
) -> RfmReport:
    c = companies.c
    when = ordered_at()
    totals = order_totals(segment, when <= as_of)
    t = totals.c
    per_customer = (
        select(c.company_id, c.name, c.segment, t.last, t.orders, t.cents.label("revenue"))
        .select_from(companies.join(totals, t.company_id == c.company_id))
        .where(*monitored(segment))
        .subquery()
    )
    p = per_customer.c
    # Scored once (a common table expression read twice is materialised), for the grid and the customers.
    scored = select(
        p.company_id,
        p.name,
        p.segment,
        p.last,
        p.orders,
        p.revenue,
        func.ntile(5).over(order_by=(p.last, p.company_id)).label("r"),
        func.ntile(5).over(order_by=(p.orders, p.company_id)).label("f"),
        func.ntile(5).over(order_by=(p.revenue, p.company_id)).label("m"),
    ).cte("scored")
    s = scored.c
    # The customers, best first; `only` keeps the cells of one named segment (still a set-based filter).
    best = select(
        literal("customer").label("kind"),
        s.r,
        s.f,
        s.m,
        s.company_id,
        s.name,
        s.segment,
        s.last,
        s.orders,
        s.revenue,
    )
    if only is not None:
        keep = [(r, f) for r in QUINTILES for f in QUINTILES if rfm_segment(r, f) is only]
        best = best.where(or_(false(), *(and_(s.r == r, s.f == f) for r, f in keep)))
    best_rows = best.order_by(s.r.desc(), s.f.desc(), s.m.desc(), s.company_id).limit(limit).subquery()
    # Each (R, F) cell: its customers (in `orders`) and their revenue.
    grid = select(
        literal("cell").label("kind"),
        s.r,
        s.f,
        cast(null(), Integer).label("m"),
        cast(null(), String).label("company_id"),
        cast(null(), String).label("name"),
        cast(null(), String).label("segment"),
        cast(null(), UTCDateTime).label("last"),
        func.count().label("orders"),
        func.sum(s.revenue).label("revenue"),
    ).group_by(s.r, s.f)
    both = union_all(grid, select(best_rows)).subquery()
    b = both.c
    rows = (
        await conn.execute(select(both).order_by(b.kind, b.r.desc(), b.f.desc(), b.m.desc(), b.company_id))
    ).all()
    cells = [
        RfmCell(r=row.r, f=row.f, customers=int(row.orders), revenue_eur=euro(row.revenue))
        for row in rows
        if row.kind == "cell"
    ]
    named: Counter[RfmSegment] = Counter()
    named_revenue: Counter[RfmSegment] = Counter()
    for cell in cells:
        name = rfm_segment(cell.r, cell.f)
        named[name] += cell.customers
        named_revenue[name] += int(cell.revenue_eur * 100)
    customers = [
        RfmCustomer(
            company_id=row.company_id,
            name=row.name,
            segment=row.segment,
            last_order_at=row.last,
            recency_days=(as_of - row.last).days,
            orders=int(row.orders),
            revenue_eur=euro(row.revenue),
            r=row.r,
            f=row.f,
            m=row.m,
            rfm_segment=rfm_segment(row.r, row.f),
        )
        for row in rows
        if row.kind == "customer"
    ]
    return RfmReport(
        as_of=as_of,
        grid=cells,
        segments=[
            RfmSegmentCount(rfm_segment=name, customers=n, revenue_eur=euro(named_revenue[name]))
            for name, n in named.most_common()
        ],
        customers=customers,
        period_days=period_days,
        lapsed=await _lapsed(conn, as_of, segment, timedelta(days=period_days), limit),
    )


async def _lapsed(
    conn: AsyncConnection, as_of: datetime, segment: str | None, period: timedelta, limit: int
) -> list[Lapsed]:
    c, o = companies.c, orders.c
    when = ordered_at()
    recent = orders.alias("recent")
    # Selecting an indexed column, not `*`: SQLite answers from the index without reading the table.
    now_period = (
        select(recent.c.company_id)
        .where(
            recent.c.company_id == c.company_id,
            recent.c.ordered_at > as_of - period,
            recent.c.ordered_at <= as_of,
        )
        .exists()
    )
    rows = await conn.execute(
        select(c.company_id, c.name, func.sum(o.amount_cents).label("revenue"))
        .select_from(companies.join(orders, o.company_id == c.company_id))
        .where(
            *monitored(segment),
            # Read per customer that passed `now_period` (SQLite would otherwise start from the period).
            when > as_of - YEAR - period,
            when <= as_of - YEAR,
            ~now_period,
        )
        .group_by(c.company_id, c.name)
        .order_by(func.sum(o.amount_cents).desc(), c.company_id)
        .limit(limit)
    )
    return [Lapsed(company_id=r.company_id, name=r.name, revenue_last_year_eur=euro(r.revenue)) for r in rows]
