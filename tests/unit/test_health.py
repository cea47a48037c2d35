"""`/healthz`: alive until a background task ends on a bug; an outage only makes the process not ready."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from services.runner import Workers
from shared.web import ops_router


async def _ready() -> dict[str, str]:
    return {"database": "ok"}


async def test_a_consumer_that_ended_on_a_bug_fails_the_liveness_probe() -> None:
    workers = Workers()

    async def broken() -> None:
        raise RuntimeError("a bug")

    workers.tasks["signals:ew.signals"] = asyncio.create_task(broken())
    workers.tasks["notifier:ew.notifier"] = asyncio.create_task(workers.stop.wait())
    await asyncio.sleep(0)
    app = FastAPI()
    app.include_router(ops_router(_ready, workers.ended))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/healthz")
        assert (response.status_code, response.json()) == (
            503,
            {"status": "failed", "stopped": ["signals:ew.signals"]},
        )
        await workers.shutdown()  # stopping: tasks end as asked, the process is not broken
        response = await client.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
