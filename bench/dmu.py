"""Time of the DMU analysis (`GET /v1/analytics/dmu`) over a large portfolio, on PostgreSQL and SQLite.

    .venv/bin/python bench/dmu.py [--customers 100000] [--contacts 500000] [--repeat 3]
                                  [--database-url postgresql+asyncpg://...] [--db both|postgresql|sqlite]

Loads --customers monitored customers (in 12 segments) and --contacts contacts (roles and job titles drawn
at random, a third of the decision makers not contacted for over 180 days) straight into the tables the
signals service maintains, then runs the analysis --repeat times for the whole portfolio and for one
segment, and prints the median time of each beside the load time. Starts its own PostgreSQL
(tests/harness) unless --database-url is given. Prints the table only.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.databases import add_database_options, log, on_databases
from services.signals import analytics
from services.signals.store import companies, dmu_contacts
from shared.db import create_engine, migrate

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SEGMENTS = [f"segment-{n:02d}" for n in range(12)]
ROLES = ["decision_maker", "influencer", "buyer", "user", "gatekeeper", "unknown"]
FUNCTIONS = ["CEO", "CFO", "Purchasing manager", "Zaakvoerder", "Gérant", "Head of operations", None]


def company(n: int) -> str:
    first = 1_000_000 + n * 7
    return f"BE{first:08d}{97 - first % 97:02d}"


async def load(engine: AsyncEngine, customers: int, contacts: int, seed: int = 3) -> float:
    rng = random.Random(seed)
    started = time.perf_counter()
    rows = [
        {
            "company_id": company(n),
            "name": f"Customer {n}",
            "portfolio": json.dumps({"company_id": company(n), "name": f"Customer {n}"}),
            "segment": SEGMENTS[n % len(SEGMENTS)],
            "risk_level": None,
            "score": 100,
            "updated_at": NOW,
        }
        for n in range(customers)
    ]
    async with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(companies.insert(), rows[start : start + 5000])
    batch = []
    async with engine.begin() as conn:
        for n in range(contacts):
            role = rng.choice(ROLES)
            stale = rng.random() < 0.33
            batch.append(
                {
                    "company_id": company(rng.randrange(customers)),
                    "contact_id": f"c{n}",
                    "function": rng.choice(FUNCTIONS),
                    "dmu_role": role,
                    "last_contact_at": NOW
                    - timedelta(days=rng.randrange(200, 900) if stale else rng.randrange(0, 170)),
                    "updated_at": NOW,
                }
            )
            if len(batch) == 5000:
                await conn.execute(dmu_contacts.insert(), batch)
                batch.clear()
        if batch:
            await conn.execute(dmu_contacts.insert(), batch)
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("ANALYZE companies")
            await conn.exec_driver_sql("ANALYZE dmu_contacts")
    return time.perf_counter() - started


async def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        log(f"loading {args.customers:,} customers and {args.contacts:,} contacts")
        loaded = await load(engine, args.customers, args.contacts)
        timings: dict[str, list[float]] = {"overall": [], "one segment": []}
        for _ in range(args.repeat):
            for name, segment in (("overall", None), ("one segment", SEGMENTS[0])):
                async with engine.connect() as conn:
                    started = time.perf_counter()
                    report = await analytics.dmu_report(conn, NOW, segment)
                    timings[name].append(time.perf_counter() - started)
            assert report.overall.customers > 0
        return {"load": loaded, **{name: statistics.median(values) for name, values in timings.items()}}
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each analysis; the median is shown")
    add_database_options(parser)
    args = parser.parse_args()
    logging.disable(logging.ERROR)
    results = on_databases(args, measure)
    print(f"DMU analysis: {args.customers:,} customers, {args.contacts:,} contacts; median of {args.repeat}")
    print(f"{'database':12}{'load (s)':>10}{'overall (s)':>14}{'one segment (s)':>18}")
    for name, figures in results.items():
        print(f"{name:12}{figures['load']:>10.1f}{figures['overall']:>14.3f}{figures['one segment']:>18.3f}")


if __name__ == "__main__":
    main()
