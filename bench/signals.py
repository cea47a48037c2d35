"""Throughput and memory of the signals service on Kafka + PostgreSQL, beside the raw consume rate.

    .venv/bin/python bench/signals.py [--events 1000000] [--companies 100000] [--partitions 6]
                                      [--bootstrap HOST:PORT] [--database-url postgresql+asyncpg://...]

1. A deterministic mix of intake events (orders 40 %, bureau 25 %, sales observations 20 %, gazette
   publications 15 %) for --companies companies, in event-time order over two years, is published onto
   the intake topics (each event the CloudEvent the ingest service would publish).
2. Raw aiokafka: one consumer in a fresh group reads every intake message (getmany, no decoding, no
   commit): the ceiling the service is compared with.
3. `earlywarning serve signals` as a real subprocess (sweep off) consumes the same messages into a fresh
   PostgreSQL database: events/s from its first commit until the group's lag is 0, and the resident memory
   of the process when 25, 50, 75 and 100 % of the events are committed (memory that does not grow with
   the number of events stays flat). --processes N runs N of them in one consumer group.
Starts its own broker and PostgreSQL (tests/harness) unless given. Prints the table only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from services.ingest.intake import Item, bureau_item, observation_item, order_item, publication_item
from services.ingest.models import BureauEventIn, ObservationIn, OrderIn, PublicationIn
from shared import topics
from shared.bus import KafkaBus, Record
from shared.cloudevents import new_event
from shared.db import create_engine
from tests.harness import free_port
from tests.harness.kafka import KafkaBroker
from tests.harness.postgres import PostgresServer, create_database

EARLYWARNING = str(Path(sys.executable).with_name("earlywarning"))
INTAKE = [topics.ORDERS, topics.BUREAU, topics.OBSERVATIONS, topics.PUBLICATIONS]
START = datetime(2023, 1, 2, tzinfo=UTC)
SPAN = timedelta(days=730)
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def company(n: int) -> str:
    first = 1_000_000 + n * 7
    return f"BE{first:08d}{97 - first % 97:02d}"


def items(events: int, companies: int, seed: int = 1) -> Iterator[Item]:
    """The event mix, in event-time order."""
    rng = random.Random(seed)
    step = SPAN / events
    for n in range(events):
        who = company(rng.randrange(companies))
        at = START + step * n
        roll = rng.random()
        if roll < 0.40:
            yield order_item(
                OrderIn(
                    company_id=who,
                    order_id=f"SO-{n}",
                    ordered_at=at,
                    amount_eur=rng.randrange(100, 20_000),
                    product_line=rng.choice(["packaging", "labels", "film", "boxes"]),
                )
            )
        elif roll < 0.65:
            kind = rng.random()
            data: dict[str, int]
            if kind < 0.5:
                type_, data = "score_change", {"from": rng.randrange(40, 100), "to": rng.randrange(10, 95)}
            elif kind < 0.85:
                type_, data = "payment_behaviour", {"days_beyond_terms": rng.randrange(0, 80)}
            else:
                type_, data = "tax_debt", {"amount_eur": rng.randrange(1_000, 90_000)}
            body = BureauEventIn(id=f"b{n}", company_id=who, type=type_, occurred_at=at, data=data)
            yield bureau_item(body)
        elif roll < 0.85:
            observation = ObservationIn(
                company_id=who,
                kind=rng.choice(
                    ["late_payment_suppliers", "headcount_decline", "growth", "order_volume_drop"]
                ),
                reporter=f"rep{rng.randrange(50)}@example.com",
                observed_at=at,
            )
            yield observation_item(observation, idempotency=("bench", f"o{n}"), now=at)
        else:
            rubric = rng.choice(["appointment", "resignation", "registered_office", "capital_increase"])
            persons = (
                [
                    {
                        "name": f"Person {rng.randrange(companies * 2)}",
                        "role": "director",
                        "action": "appointed",
                    }
                ]
                if rubric == "appointment"
                else []
            )
            yield publication_item(
                PublicationIn(
                    reference=f"r{n}",
                    company_id=who,
                    published_on=date(at.year, at.month, at.day),
                    rubrics=[rubric],
                    persons=persons,
                )
            )


def to_record(item: Item) -> Record:
    event = new_event(item.event_type, "/bench", item.company_id, item.payload, id=item.event_id, time=STAMP)
    return event.to_record(item.topic, item.company_id)


async def publish(bootstrap: str, partitions: int, events: int, companies: int) -> None:
    async with KafkaBus(bootstrap, partitions=partitions) as bus:
        await bus.create_topics([*topics.ALL_TOPICS, *(topics.dlq_topic(t) for t in topics.ALL_TOPICS)])
        batch: list[Record] = []
        started = time.monotonic()
        for n, item in enumerate(items(events, companies), 1):
            batch.append(to_record(item))
            if len(batch) == 5000:
                await bus.publish(batch)
                batch.clear()
            if n % 100_000 == 0:
                log(f"published {n:,} events ({n / (time.monotonic() - started):,.0f}/s)")
        if batch:
            await bus.publish(batch)


async def raw_consume(bootstrap: str, total: int) -> float:
    """Messages/s of one aiokafka consumer reading every intake message, timed from the first message."""
    consumer = AIOKafkaConsumer(
        *INTAKE,
        bootstrap_servers=bootstrap,
        group_id=f"bench.raw.{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    await consumer.start()
    try:
        seen = 0
        started = 0.0
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                if not started and records:
                    started = time.monotonic()
                seen += len(records)
        return seen / (time.monotonic() - started)
    finally:
        await consumer.stop()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def committed(bootstrap: str) -> tuple[int, int]:
    """(messages committed by the signals group, messages on the intake topics)."""
    async with KafkaBus(bootstrap) as bus:
        infos = await bus.describe(INTAKE)
    end = sum(info.end_offset for info in infos)
    lag = sum(info.lag("ew.signals") for info in infos)
    return end - lag, end


def start_service(bootstrap: str, database_url: str, logfile: BinaryIO) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EW_")} | {
        "EW_KAFKA_BOOTSTRAP": bootstrap,
        "EW_DATABASE_URL": database_url,
        "EW_SWEEP_INTERVAL": "0",
        "EW_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [EARLYWARNING, "serve", "signals", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
    )


async def run_service(
    bootstrap: str, database_url: str, total: int, processes: int, workdir: Path
) -> dict[str, object]:
    logfile = (workdir / "signals.log").open("wb")
    members = [start_service(bootstrap, database_url, logfile) for _ in range(processes)]
    memory: dict[int, float] = {}
    first: tuple[float, int] | None = None
    try:
        while True:
            for process in members:
                if process.poll() is not None:
                    raise RuntimeError(f"a signals process exited ({process.returncode}); see {logfile.name}")
            done, _ = await committed(bootstrap)
            now = time.monotonic()
            if first is None and done > 0:
                first = (now, done)
            for quarter in (25, 50, 75, 100):
                if quarter not in memory and done * 100 >= total * quarter:
                    memory[quarter] = max(rss_mib(process.pid) for process in members)
                    log(f"{quarter} % committed, RSS {memory[quarter]:.0f} MiB")
            if done >= total:
                break
            await asyncio.sleep(0.5)
        assert first is not None
        rate = (done - first[1]) / (now - first[0])
    finally:
        for process in members:
            process.send_signal(signal.SIGTERM)
        for process in members:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        logfile.close()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT count(*) FROM source_events"))).scalar_one()
            signals = (await conn.execute(text("SELECT count(*) FROM signals"))).scalar_one()
            events = (await conn.execute(text("SELECT count(*) FROM signal_outbox"))).scalar_one()
    finally:
        await engine.dispose()
    return {"rate": rate, "memory": memory, "stored": stored, "signals": signals, "signal_events": events}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="intake events to replay")
    parser.add_argument("--companies", type=int, default=100_000, help="companies they are spread over")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic")
    parser.add_argument("--processes", type=int, default=1, help="signals processes in the consumer group")
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--database-url", help="use this PostgreSQL server (a database is created on it)")
    args = parser.parse_args()
    logging.disable(logging.ERROR)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    load_before = os.getloadavg()
    broker: KafkaBroker | None = None
    postgres: PostgresServer | None = None
    workdir = Path(tempfile.mkdtemp(prefix="ew-bench-signals-"))
    try:
        bootstrap = args.bootstrap
        if bootstrap is None:
            log("starting a Kafka broker")
            broker = KafkaBroker()
            broker.start()
            bootstrap = broker.bootstrap
        server = args.database_url
        if server is None:
            log("starting PostgreSQL")
            postgres = PostgresServer()
            postgres.start()
            server = postgres.url
        database_url = create_database(server)
        log(f"publishing {args.events:,} events for {args.companies:,} companies")
        asyncio.run(publish(bootstrap, args.partitions, args.events, args.companies))
        log("raw aiokafka consume")
        raw = asyncio.run(raw_consume(bootstrap, args.events))
        log("the signals service")
        result = asyncio.run(run_service(bootstrap, database_url, args.events, args.processes, workdir))
    finally:
        if broker is not None:
            broker.close()
        if postgres is not None:
            postgres.close()
    rate = float(result["rate"])  # type: ignore[arg-type]
    memory: dict[int, float] = result["memory"]  # type: ignore[assignment]
    print(
        f"signals service, Kafka + PostgreSQL: {args.events:,} events, {args.companies:,} companies, "
        f"{args.partitions} partitions, {args.processes} signals process(es); "
        f"load average before {load_before[0]:.2f}"
    )
    print(f"{'':38}{'events/s':>12}")
    print(f"{'raw aiokafka consume (same topics)':38}{raw:>12,.0f}")
    print(f"{'signals service (decode, judge, commit)':38}{rate:>12,.0f}   {rate / raw:.1%} of raw")
    print(
        "resident memory of the largest signals process, MiB, at 25/50/75/100 % of the events: "
        + " / ".join(f"{memory[q]:.0f}" for q in (25, 50, 75, 100))
    )
    print(
        f"stored source events {result['stored']:,}; signals {result['signals']:,}; "
        f"signal events {result['signal_events']:,}"
    )


if __name__ == "__main__":
    main()
