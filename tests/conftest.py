"""Shared fixtures: real Kafka and PostgreSQL (started lazily, once per session), fresh databases, names.

`EW_TEST_KAFKA_BOOTSTRAP` / `EW_TEST_DATABASE_URL` point the tests at running servers instead. A server
that cannot be started is an ERROR of the tests that need it, never a skip.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from shared.db import create_engine, migrate  # noqa: E402
from tests.harness.kafka import KafkaBroker  # noqa: E402
from tests.harness.postgres import PostgresServer, create_database, drop_database  # noqa: E402


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A broker started by the harness (always local: tests that kill or restart it need their own)."""
    broker = KafkaBroker()
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    """Bootstrap servers: `EW_TEST_KAFKA_BOOTSTRAP`, else the harness broker."""
    external = os.environ.get("EW_TEST_KAFKA_BOOTSTRAP", "").strip()
    if external:
        return external
    broker: KafkaBroker = request.getfixturevalue("kafka_broker")
    return broker.bootstrap


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL started by the harness (always local, so that tests may stop or restart it)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str:
    """URL of a database whose role may create databases: `EW_TEST_DATABASE_URL`, else the harness one."""
    external = os.environ.get("EW_TEST_DATABASE_URL", "").strip()
    if external:
        if not external.startswith("postgresql"):
            raise ValueError(f"EW_TEST_DATABASE_URL must be a PostgreSQL URL, got {external!r}")
        return external
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url


@pytest.fixture
def pg_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    url = create_database(postgres_url)
    yield url
    drop_database(postgres_url, url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of this test."""
    return f"sqlite+aiosqlite:///{tmp_path / 'ew.db'}"


@pytest.fixture
def unique() -> str:
    """A suffix that makes topic and group names unique per test (a shared broker keeps them all)."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def migrated_engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, migrated database of this test: SQLite, then PostgreSQL."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_database_url")
    engine = create_engine(url)
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
