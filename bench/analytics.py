"""Time of the portfolio analyses (`/v1/analytics/*`) over a large portfolio, on PostgreSQL and SQLite.

    .venv/bin/python bench/analytics.py [--customers 100000] [--orders 5000000] [--repeat 3]
                                        [--database-url postgresql+asyncpg://...] [--db both|postgresql|sqlite]

Loads --customers monitored customers (12 segments, firmographics, two years of annual accounts for most)
and --orders orders over three years in 6 product lines straight into the tables the signals service keeps
(PostgreSQL with COPY), then runs each analysis --repeat times and prints the median time of each beside the
load time. Starts its own PostgreSQL (tests/harness) unless --database-url is given. Prints the table only.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench.databases import add_database_options, log, on_databases
from services.signals.analytics.churn import churn_report
from services.signals.analytics.cross_sell import cross_sell_report
from services.signals.analytics.profile import profile_report
from services.signals.analytics.rfm import rfm_report
from services.signals.analytics.value import value_report
from services.signals.facts import annual_accounts, company_facts, orders
from services.signals.store import companies
from shared.db import create_engine, migrate

AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
SEGMENTS = [f"segment-{n:02d}" for n in range(12)]
LINES = ["packaging", "labels", "film", "boxes", "tape", "pallets"]
REGIONS = ["Flanders", "Wallonia", "Brussels"]
NACE = ["46.69", "47.11", "56.10", "10.71", "41.20", "62.01", "86.90"]


def company(n: int) -> str:
    first = 1_000_000 + n * 7
    return f"BE{first:08d}{97 - first % 97:02d}"


def customer_rows(customers: int, rng: random.Random) -> Iterator[tuple[Table, dict[str, Any]]]:
    for n in range(customers):
        who = company(n)
        yield (
            companies,
            {
                "company_id": who,
                "name": f"Customer {n}",
                "portfolio": json.dumps({"company_id": who, "name": f"Customer {n}"}),
                "segment": SEGMENTS[n % len(SEGMENTS)],
                "risk_level": rng.choice([None, None, None, "low", "medium", "high"]),
                "score": 100,
                "updated_at": AS_OF,
            },
        )
        nace = rng.choice(NACE)
        yield (
            company_facts,
            {
                "company_id": who,
                "employees": rng.choice([None, 3, 12, 40, 120, 400]),
                "nace": nace,
                "sector": {"46": "G", "47": "G", "56": "I", "10": "C", "41": "F", "62": "J", "86": "Q"}[
                    nace[:2]
                ],
                "region": rng.choice(REGIONS),
                "customer_since": date(2010, 1, 1) + timedelta(days=rng.randrange(6000)),
                "payment_days": rng.randrange(0, 60),
                "payment_at": AS_OF,
                "updated_at": AS_OF,
            },
        )
        if rng.random() < 0.8:
            revenue = rng.randrange(100_000, 50_000_000) * 100
            for year, factor in ((2024, 1.0), (2025, rng.uniform(0.85, 1.2))):
                yield (
                    annual_accounts,
                    {
                        "company_id": who,
                        "fiscal_year": year,
                        "revenue_cents": int(revenue * factor),
                        "employees": None,
                    },
                )


def order_rows(count: int, customers: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    span = 3 * 365 * 86400
    for n in range(count):
        # Skewed: a fifth of the customers places most of the orders, as in real portfolios.
        who = int(customers * rng.random() ** 2)
        yield {
            "company_id": company(who),
            "order_id": f"SO-{n}",
            "ordered_at": AS_OF - timedelta(seconds=rng.randrange(span)),
            "amount_cents": rng.randrange(5_000, 2_000_000),
            "product_line": LINES[(who + rng.randrange(3)) % len(LINES)],
        }


async def _write(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        columns = list(rows[0])
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=[tuple(row[c] for c in columns) for row in rows], columns=columns
        )
    else:
        await conn.execute(table.insert(), rows)


async def load(engine: AsyncEngine, customers: int, count: int, seed: int = 5) -> float:
    rng = random.Random(seed)
    started = time.perf_counter()
    batches: dict[str, list[dict[str, Any]]] = {}
    tables = {t.name: t for t in (companies, company_facts, annual_accounts)}
    async with engine.begin() as conn:
        for table, row in customer_rows(customers, rng):
            batches.setdefault(table.name, []).append(row)
        for name, rows in batches.items():
            for start in range(0, len(rows), 10_000):
                await _write(conn, tables[name], rows[start : start + 10_000])
    batch: list[dict[str, Any]] = []
    async with engine.begin() as conn:
        for n, row in enumerate(order_rows(count, customers, rng), 1):
            batch.append(row)
            if len(batch) == 20_000:
                await _write(conn, orders, batch)
                batch.clear()
            if n % 1_000_000 == 0:
                log(f"{n:,} orders")
        if batch:
            await _write(conn, orders, batch)
        if conn.dialect.name == "postgresql":
            for name in ("companies", "company_facts", "annual_accounts", "orders"):
                await conn.exec_driver_sql(f"ANALYZE {name}")
        else:
            await conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


ANALYSES: dict[str, Callable[[AsyncConnection], Awaitable[object]]] = {
    "value (1 year)": lambda conn: value_report(conn, AS_OF - YEAR, AS_OF),
    "profile (1 year)": lambda conn: profile_report(conn, AS_OF - YEAR, AS_OF),
    "rfm": lambda conn: rfm_report(conn, AS_OF),
    "churn (2 years)": lambda conn: churn_report(conn, AS_OF),
    "cross-sell": lambda conn: cross_sell_report(conn, AS_OF),
}


async def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        log(f"loading {args.customers:,} customers and {args.orders:,} orders")
        loaded = await load(engine, args.customers, args.orders)
        timings: dict[str, list[float]] = {name: [] for name in ANALYSES}
        for _ in range(args.repeat):
            for name, analysis in ANALYSES.items():
                async with engine.connect() as conn:
                    started = time.perf_counter()
                    await analysis(conn)
                    timings[name].append(time.perf_counter() - started)
        return {"load": loaded, **{name: statistics.median(values) for name, values in timings.items()}}
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each analysis; the median is shown")
    add_database_options(parser)
    args = parser.parse_args()
    logging.disable(logging.ERROR)
    results = on_databases(args, measure)
    print(
        f"portfolio analyses: {args.customers:,} customers, {args.orders:,} orders; median of {args.repeat}"
    )
    names = ["load", *ANALYSES]
    print(f"{'seconds':12}" + "".join(f"{name:>18}" for name in names))
    for db, figures in results.items():
        print(f"{db:12}" + "".join(f"{figures[name]:>18.2f}" for name in names))


if __name__ == "__main__":
    main()
