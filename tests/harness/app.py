"""The services' app in-process, with its real lifespan (migrations, bus, topics), called over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runner import create_app
from shared.auth import Scope
from shared.db import create_engine, migrate
from shared.runtime import Infrastructure
from shared.settings import Settings


async def prepared_database(url: str, fill: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    """Migrate the database at `url` and `fill` it, before an app opens it."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        await fill(engine)
    finally:
        await engine.dispose()


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


async def check_scopes(
    client: httpx.AsyncClient,
    keys: dict[str, str],
    method: str,
    path: str,
    scope: Scope,
    body: dict[str, object] | None = None,
) -> None:
    """An endpoint that needs `scope`: 401 without a key, with an unknown or a revoked one; 403 with a key
    of another scope; neither with a key of the scope or an admin key. `keys` as `test_keys` makes them."""

    def auth(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[who]}"}

    cases = {
        "missing": ({}, 401),
        "unknown": ({"Authorization": "Bearer ew_not_a_key"}, 401),
        "revoked": (auth("revoked"), 401),
        "wrong scope": (auth("ingest" if scope is Scope.read else "read"), 403),
    }
    for case, (headers, status) in cases.items():
        response = await client.request(method, path, headers=headers, json=body)
        assert response.status_code == status, (case, response.text)
        assert response.json()["error"] == ("unauthorized" if status == 401 else "forbidden")
    for who in {scope.value, "admin"}:
        response = await client.request(method, path, headers=auth(who), json=body)
        assert response.status_code not in (401, 403), (who, response.text)


test_keys.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test for pytest to collect
