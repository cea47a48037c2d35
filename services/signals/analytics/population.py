"""Who the analyses look at, and how money leaves them."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, Subquery, and_, case, func, select

from services.signals.bands import TREND_THRESHOLD, Trend
from services.signals.facts import annual_accounts
from services.signals.store import companies


def monitored(segment: str | None = None) -> list[ColumnElement[bool]]:
    """The monitored customers (a portfolio entry is set), of `segment` when given."""
    conditions: list[ColumnElement[bool]] = [companies.c.portfolio.is_not(None)]
    if segment is not None:
        conditions.append(companies.c.segment == segment)
    return conditions


def euro(cents: int | float | Decimal | None) -> Decimal:
    """Cents (as the facts keep money; an average may be fractional) to euro, rounded to the cent."""
    return (Decimal(str(cents or 0)) / 100).quantize(Decimal("0.01"))


def revenue_trend() -> Subquery:
    """Per company with filed accounts: `trend` (growing, stable, shrinking; null when unknown) from the
    revenue of its last two fiscal years, as `bands.trend` judges it."""
    a = annual_accounts.c
    ranked = select(
        a.company_id,
        a.revenue_cents,
        func.row_number().over(partition_by=a.company_id, order_by=a.fiscal_year.desc()).label("n"),
    ).subquery()
    r = ranked.c
    two = (
        select(
            r.company_id,
            func.max(case((r.n == 1, r.revenue_cents))).label("latest"),
            func.max(case((r.n == 2, r.revenue_cents))).label("previous"),
        )
        .where(r.n <= 2)
        .group_by(r.company_id)
        .subquery()
    )
    t = two.c
    # Integer arithmetic on cents: latest > previous * (1 + threshold) <=> 100 * latest > (100 + 5) * previous.
    percent = int(TREND_THRESHOLD * 100)
    known = and_(t.latest.is_not(None), t.previous.is_not(None), t.previous > 0)
    trend = case(
        (~known, None),
        (t.latest * 100 > t.previous * (100 + percent), Trend.GROWING.value),
        (t.latest * 100 < t.previous * (100 - percent), Trend.SHRINKING.value),
        else_=Trend.STABLE.value,
    )
    return select(t.company_id, trend.label("trend")).subquery()
