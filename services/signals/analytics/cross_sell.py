"""Share of wallet: product lines a customer does not buy yet that similar customers buy.

Similar customers are those of the same segment. Over the last year before `as_of`, a product line is
typical of a segment when at least `min_share` of its buying customers bought it; a customer that did not
is offered it, with the potential of the average spend of the segment's buyers of that line. Only customers
worth growing are offered: no open risk signal of medium or above, and a growing or stable revenue in their
last two filed annual accounts (customers without two years of accounts are left out: their trend is
unknown).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    Float,
    String,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.analytics.population import euro, monitored, ordered_at, revenue_trend
from services.signals.bands import Trend
from services.signals.facts import orders
from services.signals.store import companies
from shared.schemas import Money, Severity

WINDOW = timedelta(days=365)


class CrossSell(BaseModel):
    company_id: str
    name: str | None
    segment: str | None
    product_line: str
    peers_buying_share: float = Field(description="Share of the segment's buying customers who buy it.")
    potential_eur: Money = Field(description="Average yearly spend of those customers on the line.")


class CrossSellReport(BaseModel):
    """`GET /v1/analytics/cross-sell`."""

    as_of: datetime
    min_share: float
    total: int
    potential_eur: Money = Field(description="The potential of every suggestion together.")
    suggestions: list[CrossSell] = Field(description="The largest potential first (at most `limit`).")


def _not_risky() -> ColumnElement[bool]:
    """No open risk signal of medium or above: the company's risk level is none, info or low."""
    level = companies.c.risk_level
    return or_(level.is_(None), level.in_([Severity.INFO.value, Severity.LOW.value]))


def suggestions(as_of: datetime, min_share: float, segment: str | None = None) -> CTE:
    """Every suggestion as of `as_of`: company_id, name, segment, product_line, share, avg_spend (cents).

    One query for the report and for the sweep, which stores them for `growth_opportunity`.
    """
    c, o = companies.c, orders.c
    when = ordered_at()
    # What each customer bought per line over the year: grouped on the orders alone (the covering index
    # holds every column read, in company order), then joined to one row per monitored customer.
    per_line = (
        select(o.company_id, o.product_line, func.sum(o.amount_cents).label("spend"))
        .where(when > as_of - WINDOW, when <= as_of)
        .group_by(o.company_id, o.product_line)
        .subquery()
    )
    bought = (
        select(c.company_id, c.segment, per_line.c.product_line, per_line.c.spend)
        .select_from(per_line.join(companies, c.company_id == per_line.c.company_id))
        .where(*monitored(segment))
        .cte("bought")
    )
    b = bought.c
    buyers = (
        select(b.segment, func.count(func.distinct(b.company_id)).label("n")).group_by(b.segment).subquery()
    )
    lines = (
        select(b.segment, b.product_line, func.count().label("n"), func.avg(b.spend).label("avg_spend"))
        .group_by(b.segment, b.product_line)
        .subquery()
    )
    typical = (
        select(
            lines.c.segment,
            lines.c.product_line,
            lines.c.avg_spend,
            (lines.c.n * 1.0 / buyers.c.n).label("share"),
        )
        .select_from(lines.join(buyers, lines.c.segment == buyers.c.segment))
        .where(lines.c.n >= buyers.c.n * min_share)
        .subquery()
    )
    t = typical.c
    trend = revenue_trend()
    owns = exists().where(b.company_id == c.company_id, b.product_line == t.product_line)
    return (
        select(c.company_id, c.name, c.segment, t.product_line, t.share, t.avg_spend)
        .select_from(
            companies.join(typical, t.segment == c.segment).join(trend, trend.c.company_id == c.company_id)
        )
        .where(
            *monitored(segment),
            _not_risky(),
            trend.c.trend.in_([Trend.GROWING.value, Trend.STABLE.value]),
            ~owns,
        )
        .cte("suggestions")
    )


async def cross_sell_report(
    conn: AsyncConnection,
    as_of: datetime,
    *,
    min_share: float = 0.3,
    segment: str | None = None,
    limit: int = 100,
) -> CrossSellReport:
    found = suggestions(as_of, min_share, segment)
    s = found.c
    # One statement: the totals and the largest suggestions, told apart by `kind`.
    top = (
        select(literal("suggestion").label("kind"), *s, cast(null(), BigInteger).label("total"))
        .order_by(s.avg_spend.desc(), s.company_id, s.product_line)
        .limit(limit)
        .subquery()
    )
    everything = select(
        literal("all").label("kind"),
        cast(null(), String).label("company_id"),
        cast(null(), String).label("name"),
        cast(null(), String).label("segment"),
        cast(null(), String).label("product_line"),
        cast(null(), Float).label("share"),
        func.coalesce(func.sum(s.avg_spend), 0).label("avg_spend"),
        func.count().label("total"),
    )
    both = union_all(everything, select(top)).subquery()
    u = both.c
    rows = (
        await conn.execute(select(both).order_by(u.kind, u.avg_spend.desc(), u.company_id, u.product_line))
    ).all()
    [totals] = [row for row in rows if row.kind == "all"]
    listed = [row for row in rows if row.kind == "suggestion"]
    return CrossSellReport(
        as_of=as_of,
        min_share=min_share,
        total=int(totals.total),
        potential_eur=euro(totals.avg_spend),
        suggestions=[
            CrossSell(
                company_id=row.company_id,
                name=row.name,
                segment=row.segment,
                product_line=row.product_line,
                peers_buying_share=round(float(row.share), 4),
                potential_eur=euro(row.avg_spend),
            )
            for row in listed
        ],
    )
