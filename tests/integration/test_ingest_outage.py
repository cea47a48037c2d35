"""When the bus is down the intake answers 503 with Retry-After and accepts nothing; it recovers by itself.

Each test stops a server of its own (never the session's shared ones).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shared import topics
from shared.settings import Settings
from tests.harness.app import serving
from tests.harness.kafka import KafkaBroker
from tests.harness.postgres import PostgresServer, create_database

ADMIN_KEY = "ew_test_admin_key_for_the_outage_tests_00"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
OBSERVATION = {"company_id": "BE0403170701", "kind": "growth", "reporter": "an@example.com"}


async def _post(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/v1/observations", json=OBSERVATION, headers=AUTH)


@pytest.mark.postgres
async def test_embedded_bus_on_postgres_down_then_back() -> None:
    server = PostgresServer()
    await asyncio.to_thread(server.start)
    try:
        url = create_database(server.url)
        settings = Settings(_env_file=None, database_url=url, admin_key=ADMIN_KEY, bus_partitions=2)  # type: ignore[call-arg]
        async with serving(settings, ["ingest"]) as (client, infra):
            accepted = await _post(client)
            assert accepted.status_code == 202

            await asyncio.to_thread(server.stop)
            refused = await _post(client)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert refused.json()["error"] == "unavailable"
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] != "ok"

            await asyncio.to_thread(server.start)
            again = await _post(client)
            assert again.status_code == 202, again.text
            assert (await client.get("/readyz")).status_code == 200
            ids = {m.value for m in await infra.bus.read(topics.OBSERVATIONS)}
            assert len(ids) == 2  # the refused one is not there
    finally:
        await asyncio.to_thread(server.close)


@pytest.mark.kafka
@pytest.mark.postgres
async def test_kafka_down_then_back(pg_database_url: str) -> None:
    broker = KafkaBroker()
    await asyncio.to_thread(broker.start)
    try:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=pg_database_url,
            kafka_bootstrap=broker.bootstrap,
            admin_key=ADMIN_KEY,
            bus_partitions=2,
            bus_publish_timeout=3,
        )
        async with serving(settings, ["ingest"]) as (client, _infra):
            assert (await _post(client)).status_code == 202

            await asyncio.to_thread(broker.stop)
            refused = await _post(client)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert (await client.get("/readyz")).status_code == 503

            await asyncio.to_thread(broker.start)
            for _ in range(60):  # the producer reconnects on its own
                response = await _post(client)
                if response.status_code == 202:
                    break
                await asyncio.sleep(1)
            assert response.status_code == 202, response.text
            assert (await client.get("/readyz")).status_code == 200
    finally:
        await asyncio.to_thread(broker.close)
