"""Who the analyses look at, what they bought, and how money leaves them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, FunctionElement, Subquery, and_, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from services.signals.bands import TREND_THRESHOLD, Trend
from services.signals.facts import annual_accounts, orders
from services.signals.store import companies
from shared.db import UTCDateTime


def monitored(segment: str | None = None) -> list[ColumnElement[bool]]:
    """The monitored customers (a portfolio entry is set), of `segment` when given."""
    conditions: list[ColumnElement[bool]] = [companies.c.portfolio.is_not(None)]
    if segment is not None:
        conditions.append(companies.c.segment == segment)
    return conditions


class _NoIndexChoice(FunctionElement[datetime]):
    """A column the query planner is not to pick an index by (see `ordered_at`)."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(_NoIndexChoice)
def _plain(element: _NoIndexChoice, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_NoIndexChoice, "sqlite")
def _unary_plus(element: _NoIndexChoice, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def ordered_at() -> ColumnElement[datetime]:
    """`orders.ordered_at` for the period of `order_totals` and the like: the same column, but on SQLite
    written `+ordered_at`, SQLite's way of keeping a condition from choosing an index. Without statistics
    (the service does not ANALYZE the facts) SQLite would otherwise read a period through the `ordered_at`
    index, one table row per order, and sort them by company: several times slower than the
    (company_id, ordered_at, amount_cents, product_line) index, in company order, which it then reads (or seeks per
    customer) instead. PostgreSQL gets the column as it is."""
    return _NoIndexChoice(orders.c.ordered_at)


def order_totals(segment: str | None, *conditions: ColumnElement[bool]) -> Subquery:
    """Per company with an order meeting `conditions` (on `orders`; its time as `ordered_at()`), of the
    monitored customers of `segment` when given: `last` (the time of its latest such order), `orders` (how
    many) and `cents` (their amount).

    Grouped on the orders alone, by `company_id` only, so that a customer's name or segment is joined to one
    row per company afterwards, not to every order; the (company_id, ordered_at, amount_cents, product_line) index holds
    every column read, in company order, so the totals need neither the table nor a sort. A segment's
    customers are picked by a semi-join, so that only their orders are read; without a segment, the join
    to the monitored customers that follows leaves the others out, more cheaply than a semi-join would.
    """
    o = orders.c
    if segment is not None:
        customers = select(companies.c.company_id).where(*monitored(segment))
        conditions = (o.company_id.in_(customers), *conditions)
    return (
        select(
            o.company_id,
            func.max(o.ordered_at).label("last"),
            func.count().label("orders"),
            func.sum(o.amount_cents).label("cents"),
        )
        .where(*conditions)
        .group_by(o.company_id)
        .subquery()
    )


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
