"""Database plumbing: the async engine for SQLite or PostgreSQL, the shared metadata, migrations, UTC times."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Stable constraint names, so that the same migrations run on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Any fixed 64-bit number: the advisory lock that serialises migrations of replicas starting together.
_MIGRATION_LOCK_ID = 0x45574D4947  # "EWMIG"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and full fsync so that a commit survives kill -9."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA busy_timeout=30000",
        "PRAGMA foreign_keys=ON",
    ):
        cursor.execute(pragma)
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision`; safe when several replicas start at once."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            await conn.commit()
        try:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
            await conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                await conn.commit()


@asynccontextmanager
async def exclusive(engine: AsyncEngine, lock_id: int) -> AsyncIterator[bool]:
    """Try to become the one process doing a job: yields True if this process holds the lock.

    A PostgreSQL session advisory lock, tried without waiting, on a connection of its own held for the
    block. On SQLite there is one process per database file: always True.
    """
    async with engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            yield True
            return
        acquired = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id}))
        await conn.commit()  # a session lock: it outlives the transaction, which must not stay open
        if not acquired:
            yield False
            return
        try:
            yield True
        finally:
            try:
                await conn.scalar(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                await conn.commit()
            except BaseException:
                # A session lock left behind on a pooled connection would block every other process:
                # close the session instead, which releases it.
                await conn.invalidate()
                raise


async def ping(engine: AsyncEngine, timeout: float = 2.0) -> None:
    """Raise unless the database answers within `timeout` seconds."""
    async with asyncio.timeout(timeout), engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file so that a first start on an empty directory works."""
    if not is_sqlite(url):
        return
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def dialect_insert(bind: AsyncConnection | AsyncEngine, table: Table) -> Any:
    """An INSERT of the bind's dialect, which has `on_conflict_do_nothing/_update` on SQLite and PostgreSQL."""
    return (postgresql if bind.dialect.name == "postgresql" else sqlite).insert(table)


def among(
    bind: AsyncConnection | AsyncEngine, column: ColumnElement[T], values: Sequence[T]
) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column IN (SELECT unnest(:array))`.

    One array parameter instead of one per value, so the statement is the same whatever the number of
    values; and a semi-join, which stays an index lookup per value where `= ANY(:array)` under
    `ORDER BY ... FOR UPDATE` is planned as a scan of the whole index comparing every row with every value.
    """
    if bind.dialect.name == "postgresql":
        item = String() if isinstance(column.type, String) else column.type
        array = bindparam(None, list(values), type_=postgresql.ARRAY(item))
        return column.in_(select(func.unnest(array)))
    return column.in_(list(values))


def chunked(rows: Sequence[T], size: int = 400) -> Iterator[Sequence[T]]:
    """`rows` in slices of `size`: SQLite limits the number of bound parameters of one statement."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def id_chunks(bind: AsyncConnection | AsyncEngine, values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in the slices one `among` condition takes: all at once on PostgreSQL (one array
    parameter), by `chunked`'s slices on SQLite (one parameter per value)."""
    if bind.dialect.name == "postgresql":
        if values:
            yield values
        return
    yield from chunked(values)


def utcnow() -> datetime:
    return datetime.now(UTC)
