"""What the database benchmarks share: run a measurement on PostgreSQL and on SQLite, side by side."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from typing import Any

from tests.harness.postgres import PostgresServer, create_database

Measure = Callable[[str, argparse.Namespace], Coroutine[Any, Any, dict[str, float]]]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=["both", "postgresql", "sqlite"], default="both")
    parser.add_argument("--database-url", help="a PostgreSQL server to use (a database is created on it)")


def on_databases(args: argparse.Namespace, measure: Measure) -> dict[str, dict[str, float]]:
    """`measure(url, args)` on a fresh PostgreSQL database (a harness server unless --database-url) and
    on a fresh SQLite file, as --db asks; the figures by database."""
    results: dict[str, dict[str, float]] = {}
    postgres: PostgresServer | None = None
    try:
        if args.db in ("both", "postgresql"):
            server = args.database_url
            if server is None:
                log("starting PostgreSQL")
                postgres = PostgresServer()
                postgres.start()
                server = postgres.url
            results["postgresql"] = asyncio.run(measure(create_database(server), args))
        if args.db in ("both", "sqlite"):
            with tempfile.TemporaryDirectory() as tmp:
                results["sqlite"] = asyncio.run(measure(f"sqlite+aiosqlite:///{tmp}/ew.db", args))
    finally:
        if postgres is not None:
            postgres.close()
    return results
