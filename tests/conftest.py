"""Shared fixtures: real Kafka and PostgreSQL (started lazily, once per session), fresh databases, names.

`EW_TEST_KAFKA_BOOTSTRAP` / `EW_TEST_DATABASE_URL` point the tests at running servers instead. A server
that cannot be started is an ERROR of the tests that need it, never a skip.

Secrets never in logs: every log record of the session is written, as the project's JSON formatter writes
it, to `log-records.jsonl` in the pytest base temporary directory; when the session ends that file and the
`*.log` files the tests left there (the logs of the processes they start) are scanned for secrets
(`tests.harness.secrets_scan`), and any found fails the session, naming file and line.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from shared.db import create_engine, migrate  # noqa: E402
from shared.logging import JsonFormatter  # noqa: E402
from tests.harness.kafka import KafkaBroker  # noqa: E402
from tests.harness.postgres import PostgresServer, create_database, drop_database  # noqa: E402
from tests.harness.secrets_scan import scan_files, secret_constants  # noqa: E402

KNOWN_SECRETS: set[str] = set()
"""Secrets the session uses besides the constants of its test modules (the database password...)."""


# -- secrets never in logs ------------------------------------------------------------------------


@dataclass
class LogCapture:
    handler: logging.Handler
    path: Path
    root_level: int


_CAPTURE = pytest.StashKey[LogCapture]()
_LEAKS = pytest.StashKey[list[str]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Write every log record of this process to a file, formatted as the services format them."""
    factory: pytest.TempPathFactory = session.config._tmp_path_factory  # type: ignore[attr-defined]
    path = factory.getbasetemp() / "log-records.jsonl"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    session.config.stash[_CAPTURE] = LogCapture(handler, path, root.level)
    # pytest leaves the root logger at WARNING: without this, the INFO records the services write in
    # production (EW_LOG_LEVEL's default) would never be made, and so never be checked.
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(handler)


@pytest.hookimpl(tryfirst=True)  # before the tmp_path plugin may remove the base temporary directory
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the session if a secret reached a log.

    Here rather than in a last test: this runs after every fixture is torn down (the processes that tests
    start write their last lines while stopping), whatever `-k`, `-x` or `--lf` selected, and needs no
    ordering of the tests.
    """
    capture = session.config.stash.get(_CAPTURE, None)
    if capture is None:
        return
    root = logging.getLogger()
    attached = capture.handler in root.handlers
    root.removeHandler(capture.handler)
    capture.handler.close()
    root.setLevel(capture.root_level)

    known = set(KNOWN_SECRETS)
    for module in {getattr(item, "module", None) for item in getattr(session, "items", [])} - {None}:
        known |= secret_constants(vars(module))
    logs = {capture.path, *capture.path.parent.rglob("*.log")}
    leaks = [str(finding) for finding in scan_files(logs, known)]
    if not attached:
        removed = (
            f"the handler writing {capture.path} was removed during the session: not every record was seen"
        )
        leaks.insert(0, removed)
    if leaks:
        session.config.stash[_LEAKS] = leaks
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    leaks = terminalreporter.config.stash.get(_LEAKS, [])
    if leaks:
        terminalreporter.section("secrets in the logs: the session fails", sep="!", red=True, bold=True)
        for leak in leaks:
            terminalreporter.line(leak, red=True)


# -- servers ----------------------------------------------------------------------------------------


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
    KNOWN_SECRETS.add(server.password)
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
        password = make_url(external).password
        if password:
            KNOWN_SECRETS.add(str(password))
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
