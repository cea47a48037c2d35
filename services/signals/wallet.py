"""Share-of-wallet gaps for `growth_opportunity`: the cross-sell analysis as of the last sweep, per company.

The analysis reads a year of orders of every monitored customer: far too much to run per judgement. The
sweep runs it once (`refresh`) in a read-only transaction, so that on SQLite the write lock is taken only to
store the result, and the judgements read a company's gaps from here (`gaps_of`) into its context.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Float, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.signals.analytics.cross_sell import suggestions
from services.signals.rules import WalletGap
from shared.db import UTCDateTime, among, chunked, id_chunks, metadata

# Migration 0011.
wallet_gaps = Table(
    "wallet_gaps",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("product_line", String(100), primary_key=True),
    Column("share", Float, nullable=False),
    Column("potential_cents", BigInteger, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
)


async def refresh(engine: AsyncEngine, as_of: datetime, min_share: float) -> int:
    """Replace the stored gaps with those of the analysis as of `as_of`; how many there are now.

    `min_share` 0 (or less) turns share of wallet off: the table is emptied.
    """
    rows = []
    if min_share > 0:
        async with engine.connect() as conn:
            found = suggestions(as_of, min_share).c
            result = await conn.execute(
                select(found.company_id, found.product_line, found.share, found.avg_spend)
            )
            rows = [
                {
                    "company_id": row.company_id,
                    "product_line": row.product_line,
                    "share": round(float(row.share), 4),
                    "potential_cents": round(row.avg_spend),
                    "computed_at": as_of,
                }
                for row in result
            ]
    async with engine.begin() as conn:
        await conn.execute(delete(wallet_gaps))
        for chunk in chunked(rows):
            await conn.execute(wallet_gaps.insert(), list(chunk))
    return len(rows)


async def gaps_of(conn: AsyncConnection, company_ids: Iterable[str]) -> dict[str, list[WalletGap]]:
    """The stored gaps of each company that has any, the largest potential first."""
    found: dict[str, list[WalletGap]] = {}
    w = wallet_gaps.c
    for chunk in id_chunks(conn, sorted(set(company_ids))):
        result = await conn.execute(
            select(wallet_gaps)
            .where(among(conn, w.company_id, chunk))
            .order_by(w.company_id, w.potential_cents.desc(), w.product_line)
        )
        for row in result:
            found.setdefault(row.company_id, []).append(
                WalletGap(row.product_line, row.share, Decimal(row.potential_cents) / 100, row.computed_at)
            )
    return found
