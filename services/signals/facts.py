"""The facts the portfolio analyses read with set-based SQL, kept by the signals consumer as events arrive.

The timeline (`source_events`) holds every event as JSON, which SQL cannot aggregate over millions of rows;
these tables hold the same facts as columns (migration 0009):
- `orders`: every order (amounts in cents);
- `annual_accounts`: revenue and employees per company and fiscal year (the growth trend);
- `company_facts`: the firmographics of the portfolio entry and the latest payment behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, func
from sqlalchemy.ext.asyncio import AsyncConnection

from services.register.codes import nace_section
from services.signals.rules import SourceEvent
from shared.db import UTCDateTime, dialect_insert, metadata
from shared.schemas import (
    AnnualAccountsFiled,
    BureauEvent,
    Order,
    PaymentBehaviour,
    PortfolioEntry,
)

orders = Table(
    "orders",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("order_id", String(100), primary_key=True),
    Column("ordered_at", UTCDateTime, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("product_line", String(100), nullable=False),
    Index("ix_orders_ordered_at", "ordered_at"),
    # Covering: the analyses' per-customer totals read this index alone, in company order (migration 0013).
    Index(
        "ix_orders_covering",
        "company_id",
        "ordered_at",
        "amount_cents",
        "product_line",
    ),
)

annual_accounts = Table(
    "annual_accounts",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("fiscal_year", Integer, primary_key=True),
    Column("revenue_cents", BigInteger, nullable=True),
    Column("employees", Integer, nullable=True),
)

company_facts = Table(
    "company_facts",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("employees", Integer, nullable=True),
    Column("nace", String(10), nullable=True),
    # The NACE section letter of `nace` (A-U): the sector the profile analysis groups by.
    Column("sector", String(1), nullable=True),
    Column("region", String(100), nullable=True),
    Column("customer_since", Date, nullable=True),
    Column("payment_days", Integer, nullable=True),
    Column("payment_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)


def cents(amount: Decimal) -> int:
    """Euro to integer cents, half up (amounts are validated to two decimals at intake)."""
    return int((amount * 100).to_integral_value(rounding="ROUND_HALF_UP"))


async def record(
    conn: AsyncConnection, entries: Sequence[PortfolioEntry], events: Sequence[SourceEvent], now: datetime
) -> None:
    """Keep the facts of a batch: its portfolio entries and its NEW source events."""
    found_orders: list[Order] = []
    accounts: list[tuple[BureauEvent, AnnualAccountsFiled]] = []
    payments: list[tuple[SourceEvent, PaymentBehaviour]] = []
    for event in events:
        payload = event.payload
        if isinstance(payload, Order):
            found_orders.append(payload)
        elif isinstance(payload, BureauEvent) and isinstance(payload.data, AnnualAccountsFiled):
            accounts.append((payload, payload.data))
        elif isinstance(payload, BureauEvent) and isinstance(payload.data, PaymentBehaviour):
            payments.append((event, payload.data))
    await _put_orders(conn, found_orders)
    await _put_accounts(conn, accounts)
    await _put_portfolio(conn, [e for e in entries if not e.deleted], now)
    await _put_payments(conn, payments, now)


async def _put_orders(conn: AsyncConnection, found: Sequence[Order]) -> None:
    rows = [
        {
            "company_id": order.company_id,
            "order_id": order.order_id,
            "ordered_at": order.ordered_at,
            "amount_cents": cents(order.amount_eur),
            "product_line": order.product_line,
        }
        for order in {(o.company_id, o.order_id): o for o in found}.values()
    ]
    if rows:
        await conn.execute(dialect_insert(conn, orders).on_conflict_do_nothing(), rows)


async def _put_accounts(
    conn: AsyncConnection, found: Sequence[tuple[BureauEvent, AnnualAccountsFiled]]
) -> None:
    latest: dict[tuple[str, int], AnnualAccountsFiled] = {}
    for event, data in sorted(found, key=lambda pair: pair[0].occurred_at):
        latest[(event.company_id, data.fiscal_year)] = data
    rows = [
        {
            "company_id": company_id,
            "fiscal_year": year,
            "revenue_cents": cents(data.revenue_eur) if data.revenue_eur is not None else None,
            "employees": data.employees,
        }
        for (company_id, year), data in latest.items()
    ]
    if rows:
        stmt = dialect_insert(conn, annual_accounts)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["company_id", "fiscal_year"],
                set_={"revenue_cents": stmt.excluded.revenue_cents, "employees": stmt.excluded.employees},
            ),
            rows,
        )


async def _put_portfolio(conn: AsyncConnection, entries: Sequence[PortfolioEntry], now: datetime) -> None:
    rows = [
        {
            "company_id": entry.company_id,
            "employees": entry.employees,
            "nace": entry.nace,
            "sector": nace_section(entry.nace),
            "region": entry.region,
            "customer_since": entry.customer_since,
            "payment_days": None,
            "payment_at": None,
            "updated_at": now,
        }
        for entry in {e.company_id: e for e in entries}.values()
    ]
    if rows:
        stmt = dialect_insert(conn, company_facts)
        columns = ("employees", "nace", "sector", "region", "customer_since", "updated_at")
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["company_id"], set_={name: stmt.excluded[name] for name in columns}
            ),
            rows,
        )


async def _put_payments(
    conn: AsyncConnection, found: Sequence[tuple[SourceEvent, PaymentBehaviour]], now: datetime
) -> None:
    """The latest payment behaviour by event time: an older report arriving late does not replace it."""
    latest: dict[str, tuple[SourceEvent, PaymentBehaviour]] = {}
    for event, data in found:
        known = latest.get(event.company_id)
        if known is None or event.at > known[0].at:
            latest[event.company_id] = (event, data)
    rows = [
        {
            "company_id": event.company_id,
            "payment_days": data.days_beyond_terms,
            "payment_at": event.at,
            "updated_at": now,
        }
        for event, data in latest.values()
    ]
    if rows:
        stmt = dialect_insert(conn, company_facts)
        newer = (
            func.coalesce(company_facts.c.payment_at, stmt.excluded.payment_at) <= stmt.excluded.payment_at
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["company_id"],
                set_={"payment_days": stmt.excluded.payment_days, "payment_at": stmt.excluded.payment_at},
                where=newer,
            ),
            rows,
        )
