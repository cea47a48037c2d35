"""Infrastructure every service opens at start and closes at shutdown: the database and the bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import ADMIN_KEY_NAME, KeyStore, Scope
from shared.bus import Bus, BusUnavailable, Worker, create_bus, is_transient
from shared.db import create_engine, ensure_sqlite_dir, migrate, ping
from shared.settings import Settings
from shared.topics import ALL_TOPICS, with_dlqs

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Infrastructure:
    settings: Settings
    engine: AsyncEngine
    bus: Bus
    keys: KeyStore

    async def check(self) -> dict[str, str]:
        """Readiness of each dependency: "ok" or the reason it is not usable."""
        checks: dict[str, str] = {}
        try:
            await ping(self.engine)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            await self.bus.ping()
            checks["bus"] = "ok"
        except BusUnavailable as exc:
            checks["bus"] = str(exc)
        return checks


@asynccontextmanager
async def open_infrastructure(
    settings: Settings, *, client_id: str = "earlywarning", start_timeout: float = 60.0
) -> AsyncIterator[Infrastructure]:
    """Migrate the database, start the bus and create the topics; close everything on exit."""
    ensure_sqlite_dir(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        await _retry("database", lambda: migrate(engine), start_timeout)
        bus = create_bus(settings, engine, client_id=client_id)
        await _retry("bus", bus.start, start_timeout)
        try:
            await _retry("topics", lambda: bus.create_topics(with_dlqs(list(ALL_TOPICS))), start_timeout)
            keys = KeyStore(engine)
            if settings.admin_key is not None:
                await keys.ensure(ADMIN_KEY_NAME, settings.admin_key.get_secret_value(), Scope)
            yield Infrastructure(settings, engine, bus, keys)
        finally:
            await bus.close()
    finally:
        await engine.dispose()


async def _retry(what: str, step: Callable[[], Awaitable[object]], timeout: float) -> None:
    """Start-up steps wait for a dependency that is still starting, up to `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.5
    while True:
        try:
            await step()
            return
        except Exception as exc:
            if not is_transient(exc) or loop.time() + delay > deadline:
                raise
            log.warning("%s not available yet (%s); retrying in %.1fs", what, type(exc).__name__, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


WorkerFactory = Callable[[Infrastructure], list[Worker]]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What a service brings to a process: its HTTP routes and the consumers it runs."""

    name: str
    router: Callable[[], APIRouter]
    workers: WorkerFactory = lambda _infra: []
