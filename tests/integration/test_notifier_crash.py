"""SIGKILL of the notifier at random moments loses no delivery and adds none (Kafka + PostgreSQL).

A stream of signal events is put on `ew.signals`; `earlywarning serve notifier` routes them to two webhook
subscriptions (real receivers on 127.0.0.1, every signature checked) and is killed and restarted several
times while it works. Afterwards each (event, subscription) pair arrived, under exactly the delivery id it
was meant to have, and nothing else did: distinct `webhook-id`s equal the expected deliveries. A pair may
arrive more than once (an attempt sent but not yet recorded when the process died): delivery is at least
once, and receivers deduplicate on `webhook-id`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.notifier.store import delivery_id
from shared import topics
from shared.bus import KafkaBus
from shared.cloudevents import new_event
from shared.schemas import Signal, example_of
from tests.harness import free_port
from tests.harness.kafka import KafkaBroker
from tests.harness.postgres import create_database, drop_database
from tests.harness.receiver import Receiver

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EARLYWARNING = str(Path(sys.executable).with_name("earlywarning"))
ADMIN_KEY = "ew_test_admin_key_for_the_notifier_crash_0"
EVENTS = 1500


def _company(n: int) -> str:
    first = 5_000_000 + n * 7
    return f"BE{first:08d}{97 - first % 97:02d}"


def signal_events(count: int) -> list[tuple[str, Any]]:
    """(event id, record) of `count` signal events over 50 companies."""
    base = Signal.model_validate(example_of(Signal))
    events = []
    for n in range(count):
        company = _company(n % 50)
        signal = base.model_copy(update={"id": f"sig_crash_{n}", "company_id": company})
        event = new_event("earlywarning.signal.raised", "/test", company, signal, id=f"sev_crash_{n}")
        events.append((event.id, event.to_record(topics.SIGNALS, company)))
    return events


class Notifier:
    """`earlywarning serve notifier` as a subprocess that can be killed and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.port = free_port()
        self.log = log.open("ab")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [EARLYWARNING, "serve", "notifier", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    async def ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("the notifier did not become ready")


@pytest.fixture
async def broker() -> AsyncIterator[KafkaBroker]:
    # A broker of its own: the consumer group and `ew.signals` of the other tests stay out of this one.
    with KafkaBroker() as own:
        yield own


async def test_sigkills_lose_and_add_no_delivery(
    broker: KafkaBroker, postgres_url: str, tmp_path: Path
) -> None:
    database = create_database(postgres_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EW_")} | {
        "EW_KAFKA_BOOTSTRAP": broker.bootstrap,
        "EW_DATABASE_URL": database,
        "EW_ADMIN_KEY": ADMIN_KEY,
        "EW_SECRET_KEY": "a-test-key-that-seals-webhook-secrets",
        "EW_WEBHOOK_ALLOW_PRIVATE": "true",
        "EW_WEBHOOK_RETRY_BASE": "0.2",
        # What a killed process held is taken over when its lease ends (a few timeouts).
        "EW_WEBHOOK_TIMEOUT": "2",
        "EW_BUS_PARTITIONS": "3",
    }
    notifier = Notifier(env, tmp_path / "notifier.log")
    try:
        async with Receiver() as first, Receiver(answers=[500, 200]) as second:
            notifier.start()
            await notifier.ready()
            secrets = {}
            async with httpx.AsyncClient(base_url=notifier.url) as client:
                for receiver in (first, second):
                    response = await client.post(
                        "/v1/subscriptions",
                        json={"name": "crash", "channel": "webhook", "url": receiver.url},
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                    )
                    assert response.status_code == 201, response.text
                    secrets[receiver.port] = (response.json()["id"], response.json()["secret"])
            notifier.kill()  # down while the stream is published: a backlog to work through

            events = signal_events(EVENTS)
            async with KafkaBus(broker.bootstrap) as bus:
                await bus.publish([record for _, record in events])

            rng = random.Random(5)
            for _ in range(3):
                notifier.start()
                await asyncio.sleep(rng.uniform(2.0, 4.0))
                notifier.kill()
            notifier.start()

            for receiver in (first, second):
                subscription_id, secret = secrets[receiver.port]
                expected = {delivery_id(event_id, subscription_id) for event_id, _ in events}
                await _until_all(receiver, expected)
                assert {r.id for r in receiver.received} == expected
                # Every copy carries a valid signature and the payload of its event.
                payloads = receiver.verified(secret)
                assert {p["id"] for p in payloads} == {f"sig_crash_{n}" for n in range(EVENTS)}
                repeats = sum(n - 1 for n in Counter(r.id for r in receiver.received).values())
                assert repeats < len(expected) // 2, "at least once, but not wholesale"
    finally:
        notifier.close()
        drop_database(postgres_url, database)


async def _until_all(receiver: Receiver, expected: set[str], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while {r.id for r in receiver.received} < expected:
        if time.monotonic() > deadline:
            missing = len(expected - {r.id for r in receiver.received})
            raise AssertionError(f"{missing} of {len(expected)} deliveries never arrived")
        await asyncio.sleep(0.2)
