"""SIGKILL of the signals process at random points changes nothing: the signal events on `ew.signals`
afterwards equal those of an uninterrupted run over the same stream (Kafka + PostgreSQL).

Each run has its own broker and database; the same deterministic stream is published onto both.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.ingest.intake import Item, bureau_item, observation_item, publication_item
from services.ingest.models import BureauEventIn, ObservationIn, PublicationIn
from shared import topics
from shared.bus import BusUnavailable, KafkaBus, Record
from shared.cloudevents import CloudEvent, new_event
from shared.db import create_engine
from tests.harness import free_port
from tests.harness.kafka import KafkaBroker, KafkaHarnessError
from tests.harness.postgres import PostgresHarnessError, create_database

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EARLYWARNING = str(Path(sys.executable).with_name("earlywarning"))
INTAKE = [topics.OBSERVATIONS, topics.PUBLICATIONS, topics.BUREAU]


def _company(n: int) -> str:
    """A valid enterprise number: 8 digits starting with 0, then 97 - (those mod 97)."""
    first = 4_000_000 + n * 7
    return f"BE{first:08d}{97 - first % 97:02d}"


def stream(seed: int = 7, companies: int = 200, events: int = 2400) -> list[Item]:
    """A deterministic mix that raises, updates and resolves signals of many kinds."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    items: list[Item] = []
    for n in range(events):
        company = _company(rng.randrange(companies))
        at = start + timedelta(days=n // 4, minutes=n)
        kind = rng.random()
        if kind < 0.35:
            items.append(
                bureau_item(
                    BureauEventIn(
                        id=f"b{n}",
                        company_id=company,
                        type="score_change",
                        occurred_at=at,
                        data={"from": rng.randrange(40, 100), "to": rng.randrange(0, 90)},
                    )
                )
            )
        elif kind < 0.55:
            items.append(
                bureau_item(
                    BureauEventIn(
                        id=f"p{n}",
                        company_id=company,
                        type="payment_behaviour",
                        occurred_at=at,
                        data={"days_beyond_terms": rng.randrange(0, 90)},
                    )
                )
            )
        elif kind < 0.8:
            obs = ObservationIn(
                company_id=company,
                kind=rng.choice(
                    ["late_payment_suppliers", "headcount_decline", "growth", "order_volume_drop"]
                ),
                reporter=f"rep{rng.randrange(5)}",
                observed_at=at,
            )
            items.append(observation_item(obs, idempotency=("crash", f"o{n}"), now=at))
        else:
            rubric = rng.choice(["appointment", "resignation", "registered_office", "bankruptcy"])
            action = "resigned" if rubric == "resignation" else "appointed"
            items.append(
                publication_item(
                    PublicationIn(
                        reference=f"r{n}",
                        company_id=company,
                        published_on=date(at.year, at.month, at.day),
                        rubrics=[rubric],
                        # Directors of their own company only: this test is about crashes, and the
                        # order of cross-company effects is not yet independent of processing order.
                        persons=[
                            {
                                "name": f"Person {company} {rng.randrange(4)}",
                                "role": "director",
                                "action": action,
                            }
                        ]
                        if rubric in ("appointment", "resignation")
                        else [],
                    )
                )
            )
    return items


def records(items: list[Item]) -> list[Record]:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        new_event(i.event_type, "/test", i.company_id, i.payload, id=i.event_id, time=stamp).to_record(
            i.topic, i.company_id
        )
        for i in items
    ]


class Run:
    """A broker, a database and the signals service as a subprocess that can be killed and restarted."""

    def __init__(self, tmp: Path, postgres_url: str) -> None:
        self.tmp = tmp
        self.broker = KafkaBroker()
        self.broker.start()
        self.database_url = create_database(postgres_url)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = (tmp / "signals.log").open("ab")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EW_")}
        return {
            **env,
            "EW_KAFKA_BOOTSTRAP": self.broker.bootstrap,
            "EW_DATABASE_URL": self.database_url,
            "EW_BUS_PARTITIONS": "3",
        }

    def start(self) -> None:
        port = free_port()
        self.process = subprocess.Popen(
            [EARLYWARNING, "serve", "signals", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
        self.broker.close()


async def publish_stream(bootstrap: str, items: list[Item]) -> None:
    async with KafkaBus(bootstrap, partitions=3) as bus:
        await bus.create_topics([*topics.ALL_TOPICS, *(topics.dlq_topic(t) for t in topics.ALL_TOPICS)])
        batch = records(items)
        for start in range(0, len(batch), 500):
            await bus.publish(batch[start : start + 500])


async def settled(run: Run, timeout: float = 240.0) -> None:
    """Until every intake message is committed by the signals group and the outbox is empty."""
    engine = create_engine(run.database_url)
    deadline = time.monotonic() + timeout
    try:
        async with KafkaBus(run.broker.bootstrap) as bus:
            while time.monotonic() < deadline:
                infos = await bus.describe(INTAKE)
                lag = sum(info.lag("ew.signals") for info in infos)
                pending = None
                if lag == 0:
                    try:
                        async with engine.connect() as conn:
                            pending = (
                                await conn.execute(
                                    text("SELECT count(*) FROM signal_outbox WHERE published_at IS NULL")
                                )
                            ).scalar_one()
                    except Exception:
                        pending = None
                if lag == 0 and pending == 0:
                    return
                await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    raise AssertionError(f"the signals service did not settle within {timeout}s")


async def signal_events(bootstrap: str) -> dict[str, dict[str, Any]]:
    async with KafkaBus(bootstrap) as bus:
        found: dict[str, dict[str, Any]] = {}
        for message in await bus.read(topics.SIGNALS, limit=10_000_000):
            event = CloudEvent.from_message(message)
            data = json.loads(message.value)
            if event.id in found:
                assert found[event.id] == {"type": event.type, **data}, "one id, two contents"
            found[event.id] = {"type": event.type, **data}
        return found


async def final_state(database_url: str) -> dict[str, Any]:
    """Per company: risk level, score and the open signals with their severity and evidence."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            companies = {
                row.company_id: (row.risk_level, row.score)
                for row in await conn.execute(text("SELECT company_id, risk_level, score FROM companies"))
            }
            open_signals = sorted(
                (row.company_id, row.signal, row.severity, row.evidence)
                for row in await conn.execute(
                    text("SELECT company_id, signal, severity, evidence FROM signals WHERE status = 'open'")
                )
            )
    finally:
        await engine.dispose()
    return {"companies": companies, "open": open_signals}


@pytest.fixture(scope="module")
async def crash_scenario(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Any:
    """The same stream through an uninterrupted run and through a run SIGKILLed at random points."""
    runs: list[Run] = []
    try:
        items = stream()
        # Two extra brokers on a busy 2-core machine: a failure to bring the infrastructure up (not
        # anything this test asserts) is tried once more, with fresh servers.
        for attempt in (1, 2):
            try:
                tmp = tmp_path_factory.mktemp("crash")
                for name in ("reference", "crashed"):
                    (tmp / name).mkdir()
                    runs.append(Run(tmp / name, postgres_url))
                await asyncio.gather(*(publish_stream(run.broker.bootstrap, items) for run in runs))
                break
            except (KafkaHarnessError, PostgresHarnessError, BusUnavailable, OSError):
                for run in runs:
                    run.close()
                runs.clear()
                if attempt == 2:
                    raise
        reference, crashed = runs
        reference.start()
        await settled(reference)
        rng = random.Random(11)
        for _ in range(4):
            crashed.start()
            await asyncio.sleep(rng.uniform(1.5, 4.0))
            crashed.kill()
        crashed.start()
        await settled(crashed)
        yield {
            "expected": await signal_events(reference.broker.bootstrap),
            "got": await signal_events(crashed.broker.bootstrap),
            "expected_state": await final_state(reference.database_url),
            "got_state": await final_state(crashed.database_url),
        }
    finally:
        for run in runs:
            run.close()


async def test_after_sigkills_the_final_signals_equal_an_uninterrupted_run(crash_scenario: Any) -> None:
    expected, got = crash_scenario["expected_state"], crash_scenario["got_state"]
    assert len(expected["open"]) > 50, "the stream should leave many signals open"
    assert got == expected
    # Every signal event id carries one content only (checked while reading) and the stream
    # exercised the whole lifecycle.
    assert {e["type"] for e in crash_scenario["expected"].values()} == {
        "earlywarning.signal.raised",
        "earlywarning.signal.updated",
        "earlywarning.signal.resolved",
    }


@pytest.mark.xfail(
    strict=True,
    reason=(
        "known gap (issue 4): the consumer evaluates on arrival, so the intermediate `updated` events depend "
        "on how a company's events interleave across topics and batches; a restarted run interleaves them "
        "differently. Needs event-time emission of changes."
    ),
)
async def test_after_sigkills_the_signal_events_equal_an_uninterrupted_run(crash_scenario: Any) -> None:
    assert crash_scenario["got"] == crash_scenario["expected"]
