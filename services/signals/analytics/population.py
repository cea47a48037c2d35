"""Who the analyses look at, and how money leaves them."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement

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
