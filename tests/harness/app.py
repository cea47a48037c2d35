"""The services' app in-process, with its real lifespan (migrations, bus, topics), called over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx

from services.runner import create_app
from shared.auth import Scope
from shared.runtime import Infrastructure
from shared.settings import Settings


@asynccontextmanager
async def serving(
    settings: Settings, names: Sequence[str], *, base_url: str = "http://test"
) -> AsyncIterator[tuple[httpx.AsyncClient, Infrastructure]]:
    """A client of the app of the services `names`, and the app's infrastructure."""
    app = create_app(settings, names)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client, app.state.infra


async def test_keys(infra: Infrastructure, admin_key: str, *, revoked_scope: Scope) -> dict[str, str]:
    """Keys by role: `admin`, `ingest`, `read`, and a `revoked` one that had `revoked_scope`."""
    keys = {"admin": admin_key}
    for name, scopes in {"ingest": [Scope.ingest], "read": [Scope.read], "revoked": [revoked_scope]}.items():
        record, keys[name] = await infra.keys.create(name, scopes)
    await infra.keys.revoke(record.id)
    return keys


test_keys.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test for pytest to collect
