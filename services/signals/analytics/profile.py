"""The profile analysis: the monitored customers by size, sector (NACE section), region, revenue trend and
years as customer, with their value over a period, and the top 5 groups by value. Sector and region come
from the portfolio entry, else from the public register (KBO/BCE).

Every band is a SQL CASE over columns (the same bands `services.signals.bands` names), so the grouping
is done by the database; years as customer are compared with cut-off dates worked out once.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from services.register.codes import REGIONS, sections_by_division
from services.register.store import register_activities, register_offices
from services.signals.analytics.population import euro, monitored, order_totals, ordered_at, revenue_trend
from services.signals.bands import Trend, size_band, tenure_band
from services.signals.facts import company_facts
from services.signals.rules.periods import add_years
from services.signals.store import companies
from shared.schemas import Money

DIMENSIONS = ("size", "sector", "region", "trend", "tenure")
TOP = 5


class ProfileGroup(BaseModel):
    dimension: str = Field(description="size, sector, region, trend or tenure.")
    group: str = Field(description="The band, NACE section, region or trend; `unknown` without data.")
    customers: int
    revenue_eur: Money = Field(description="Their orders in the period.")


class ProfileReport(BaseModel):
    """`GET /v1/analytics/profile`."""

    start: datetime
    end: datetime
    groups: list[ProfileGroup] = Field(description="Per dimension, the most valuable group first.")
    top: list[ProfileGroup] = Field(description=f"The {TOP} most valuable groups over all dimensions.")


def _size(employees: ColumnElement[int]) -> ColumnElement[str]:
    return case(
        (employees.is_(None), size_band(None)),
        (employees < 10, size_band(0)),
        (employees < 50, size_band(10)),
        (employees < 250, size_band(50)),
        else_=size_band(250),
    )


def _register_region(customers: Select[tuple[str]]) -> Subquery:
    """Per enterprise of `customers` in the register: the region of its registered office's postal code
    (string ranges, so that a foreign postal code never breaks a cast)."""
    o = register_offices.c
    code = func.min(o.zipcode)
    region = case(
        *(
            (and_(func.length(code) == 4, code >= f"{low:04d}", code <= f"{high:04d}"), name)
            for low, high, name in REGIONS
        ),
        else_=None,
    )
    return (
        select(o.company_id, region.label("region"))
        .where(o.company_id.in_(customers))
        .group_by(o.company_id)
        .subquery()
    )


def _register_sector(customers: Select[tuple[str]]) -> Subquery:
    """Per enterprise of `customers` in the register: the NACE section of its main NACE-BEL 2008 activity."""
    a = register_activities.c
    division = func.substr(func.min(a.nace_code), 1, 2)
    sector = case(
        *((division == number, letter) for number, letter in sorted(sections_by_division().items())),
        else_=None,
    )
    return (
        select(a.company_id, sector.label("sector"))
        .where(a.nace_version == "2008", a.company_id.in_(customers))
        .group_by(a.company_id)
        .subquery()
    )


def _tenure(since: ColumnElement[date], as_of: datetime) -> ColumnElement[str]:
    day = as_of.date()
    return case(
        (since.is_(None), tenure_band(None)),
        (since > day, tenure_band(None)),
        (since > add_years(as_of, -1).date(), tenure_band(0)),
        (since > add_years(as_of, -3).date(), tenure_band(1)),
        (since > add_years(as_of, -5).date(), tenure_band(3)),
        (since > add_years(as_of, -10).date(), tenure_band(5)),
        else_=tenure_band(10),
    )


async def profile_report(
    conn: AsyncConnection, start: datetime, end: datetime, *, segment: str | None = None
) -> ProfileReport:
    c, f = companies.c, company_facts.c
    when = ordered_at()
    spend = order_totals(segment, when >= start, when < end)
    trend = revenue_trend()
    # The user's values first, then the public register's (issue: firmographics from KBO/BCE).
    customers = select(c.company_id).where(*monitored(segment))
    reg_region, reg_sector = _register_region(customers), _register_sector(customers)
    unknown = literal("unknown")
    base = (
        select(
            c.company_id,
            _size(f.employees).label("size"),
            func.coalesce(f.sector, reg_sector.c.sector, unknown).label("sector"),
            func.coalesce(f.region, reg_region.c.region, unknown).label("region"),
            func.coalesce(trend.c.trend, literal(Trend.UNKNOWN.value)).label("trend"),
            _tenure(f.customer_since, end).label("tenure"),
            func.coalesce(spend.c.cents, 0).label("cents"),
        )
        .select_from(
            companies.outerjoin(company_facts, f.company_id == c.company_id)
            .outerjoin(spend, spend.c.company_id == c.company_id)
            .outerjoin(trend, trend.c.company_id == c.company_id)
            .outerjoin(reg_region, reg_region.c.company_id == c.company_id)
            .outerjoin(reg_sector, reg_sector.c.company_id == c.company_id)
        )
        .where(*monitored(segment))
        # Worked out once and read by each dimension's grouping (a subquery would be run five times).
        .cte("base")
    )
    per_dimension = union_all(
        *(
            select(
                literal(name).label("dimension"),
                base.c[name].label("grp"),
                func.count().label("customers"),
                func.sum(base.c.cents).label("cents"),
            ).group_by(base.c[name])
            for name in DIMENSIONS
        )
    ).subquery()
    rows = await conn.execute(
        select(per_dimension).order_by(
            per_dimension.c.dimension, per_dimension.c.cents.desc(), per_dimension.c.grp
        )
    )
    groups = [
        ProfileGroup(
            dimension=r.dimension, group=r.grp, customers=int(r.customers), revenue_eur=euro(r.cents)
        )
        for r in rows
    ]
    order = {name: index for index, name in enumerate(DIMENSIONS)}
    groups.sort(key=lambda g: (order[g.dimension], -g.revenue_eur, g.group))
    known = [g for g in groups if g.group != "unknown" and g.revenue_eur > 0]
    top = sorted(known, key=lambda g: (-g.revenue_eur, order[g.dimension], g.group))[:TOP]
    return ProfileReport(start=start, end=end, groups=groups, top=top)
