"""Operators read the topics with `kcat` (Debian's package): every value is plain JSON, every header text."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared import topics
from shared.auth import Scope
from shared.settings import Settings
from tests.harness.app import serving, test_keys
from tests.integration.test_signals_service import new_company, new_reference

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
ADMIN_KEY = "ew_test_admin_key_for_the_kcat_tests_00000"
KCAT = shutil.which("kcat")


@pytest.fixture
async def app(pg_database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    settings = Settings(
        _env_file=None,
        database_url=pg_database_url,
        kafka_bootstrap=kafka_bootstrap,
        admin_key=ADMIN_KEY,
        sweep_interval=0,
    )
    async with serving(settings, ["ingest", "signals"], base_url="http://ew") as (client, infra):
        await test_keys(infra, ADMIN_KEY, revoked_scope=Scope.read)
        yield client, kafka_bootstrap


async def kcat(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message of `topic` as kcat's JSON envelope (`-J`)."""
    assert KCAT is not None
    process = await asyncio.create_subprocess_exec(
        KCAT, "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


@pytest.mark.skipif(KCAT is None, reason="kcat is not installed (scripts/bootstrap installs it)")
async def test_kcat_reads_intake_and_signal_events_as_json(app: tuple[httpx.AsyncClient, str]) -> None:
    client, bootstrap = app
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    company = new_company()
    body = {
        "reference": new_reference(),
        "company_id": company,
        "published_on": "2025-06-02",
        "rubrics": ["bankruptcy"],
    }
    assert (await client.post("/v1/publications", json=body, headers=auth)).status_code == 202
    for _ in range(300):
        found = (await client.get("/v1/signals", params={"company_id": company}, headers=auth)).json()
        if found["items"]:
            break
        await asyncio.sleep(0.1)
    signal_id = found["items"][0]["id"]

    for topic, check in (
        (topics.PUBLICATIONS, lambda value: value["reference"] == body["reference"]),
        (topics.SIGNALS, lambda value: value["id"] == signal_id and value["signal"] == "bankruptcy"),
    ):
        for _ in range(100):  # the relay publishes the signal event shortly after the commit
            mine = [m for m in await kcat(bootstrap, topic) if m["key"] == company]
            if mine:
                break
            await asyncio.sleep(0.2)
        [message] = mine
        value = json.loads(message["payload"])  # plain JSON, nothing to unwrap
        assert check(value), topic
        headers = dict(zip(message["headers"][::2], message["headers"][1::2], strict=True))
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_subject"] == company
        assert headers["content-type"] == "application/json"
