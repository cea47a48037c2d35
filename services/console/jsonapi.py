"""The JSON API's own routes, called in-process for what the console changes.

Acknowledging, resolving, subscribing and silencing go through the API routes themselves, with the
user's key as the bearer: the console gets the API's validation, scope checks, transactions and events,
and holds no second copy of them. The routes run in a private app of their own (the signals and the
notifier routers on the process's infrastructure) rather than through the serving app, because
`earlywarning serve signals` serves the console without the notifier's routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from services.notifier.api import router as notifier_router
from services.signals.api import router as signals_router
from shared.runtime import Infrastructure
from shared.web import install_error_handlers


@dataclass(frozen=True, slots=True)
class Answer:
    """An API answer: its status and JSON body."""

    status: int
    body: Any = None
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """The error's message (contract section 1), for the user."""
        message = self.body.get("message") if isinstance(self.body, dict) else None
        if isinstance(message, str):
            return message
        return f"the request failed ({self.status})"


class JsonApi:
    """The signals and notifier routes of one process, called with a user's key."""

    def __init__(self) -> None:
        self._app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        install_error_handlers(self._app)
        self._app.include_router(signals_router())
        self._app.include_router(notifier_router())

    async def call(
        self, infra: Infrastructure, secret: str, method: str, path: str, body: Any = None
    ) -> Answer:
        # The routes find the infrastructure on their app's state, as in the serving app.
        self._app.state.infra = infra
        transport = httpx.ASGITransport(app=self._app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.internal") as client:
            response = await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {secret}"}
            )
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = None
        details = payload.get("details", []) if isinstance(payload, dict) and not response.is_success else []
        return Answer(response.status_code, payload, details)
