"""The same migrations run on SQLite and PostgreSQL, are idempotent, and match the table definitions."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

# Every module that defines tables, so that the metadata holds them all.
import services.ingest.store
import services.notifier.store
import services.register.store
import services.signals.facts
import services.signals.store  # noqa: F401
import shared.auth
import shared.bus._tables  # noqa: F401
from shared.db import create_engine, metadata, migrate


async def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def test_sqlite_migrations_match_metadata_and_are_idempotent(sqlite_url: str) -> None:
    await _migrate(sqlite_url)
    await _migrate(sqlite_url)
    assert {"bus_messages", "bus_offsets", "api_keys", "intake_keys", "portfolio"} <= await _tables(
        sqlite_url
    )
    assert await _diff(sqlite_url) == []


@pytest.mark.postgres
async def test_postgres_migrations_match_metadata(pg_database_url: str) -> None:
    await _migrate(pg_database_url)
    assert {"bus_messages", "bus_offsets", "bus_members", "alembic_version"} <= await _tables(pg_database_url)
    assert await _diff(pg_database_url) == []


@pytest.mark.postgres
async def test_replicas_starting_together_migrate_once(pg_database_url: str) -> None:
    # Without the advisory lock, concurrent upgrades race on CREATE TABLE and all but one fail.
    await asyncio.gather(*(_migrate(pg_database_url) for _ in range(4)))
    assert await _diff(pg_database_url) == []
