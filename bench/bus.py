"""Throughput of the buses against raw aiokafka, in messages per second.

    .venv/bin/python bench/bus.py [--messages 100000] [--size 300] [--repeat 3] [--bootstrap HOST:PORT]

Figures (median of --repeat runs, each on fresh topics):
- raw aiokafka produce: create_batch()/send_batch() per partition, acks=all and idempotence like the bus;
- raw aiokafka consume: getmany() in a consumer group, no commit: the limit the bus figures compare with;
- KafkaBus publish (--batch records per publish call) and consume (getmany + commit per batch);
- EmbeddedBus on SQLite, publish and consume the same way, on a fresh database file per run.
Consume figures start once the consumer owns every partition, so the group join is not counted.
Starts its own Kafka broker with tests/harness/kafka.py unless --bootstrap is given; prints only the table.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.bus import Bus, EmbeddedBus, KafkaBus, Record
from shared.bus._partition import partition_for
from shared.db import create_engine, migrate
from tests.harness.kafka import KafkaBroker

PARTITIONS = 6
ASSIGN_TIMEOUT = 120.0


def new_topic(prefix: str) -> str:
    return f"bench.{prefix}.{uuid.uuid4().hex[:10]}"


def make_records(topic: str, count: int, value: bytes) -> list[Record]:
    return [Record(topic, f"key-{i % 10_000}", value) for i in range(count)]


# -- raw aiokafka ------------------------------------------------------------------------------------


async def raw_produce(bootstrap: str, topic: str, count: int, value: bytes) -> float:
    keys = [f"key-{i % 10_000}".encode() for i in range(count)]
    parts = [partition_for(k.decode(), PARTITIONS) for k in keys]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        await producer.partitions_for(topic)  # metadata outside the timed part
        started = time.perf_counter()
        batches: dict[int, Any] = {}
        futures: list[Awaitable[object]] = []
        for key, partition in zip(keys, parts, strict=True):
            batch = batches.get(partition) or producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
            batches[partition] = batch
        for partition, batch in batches.items():
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench.raw.{uuid.uuid4().hex[:10]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        await wait_assigned(lambda: len(consumer.assignment()))
        started = time.perf_counter()
        got = 0
        while got < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            got += sum(len(records) for records in batches.values())
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


# -- the buses ---------------------------------------------------------------------------------------


async def bus_publish(bus: Bus, records: list[Record], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        await bus.publish(records[i : i + batch])
    return len(records) / (time.perf_counter() - started)


async def bus_consume(bus: Bus, topic: str, count: int, max_records: int) -> float:
    async with bus.consumer(
        f"bench.group.{uuid.uuid4().hex[:10]}", [topic], max_records=max_records
    ) as consumer:
        await wait_assigned(lambda: len(consumer.assignment()))
        started = time.perf_counter()
        got = 0
        while got < count:
            messages = await consumer.getmany(timeout=1.0)
            if messages:
                await consumer.commit()
                got += len(messages)
        return count / (time.perf_counter() - started)


async def wait_assigned(assigned: Callable[[], int]) -> None:
    deadline = time.monotonic() + ASSIGN_TIMEOUT
    while assigned() < PARTITIONS:
        if time.monotonic() > deadline:
            raise SystemExit("the consumer got no full assignment in time")
        await asyncio.sleep(0.05)


# -- one run of every figure -------------------------------------------------------------------------


async def run_once(bootstrap: str, args: argparse.Namespace, value: bytes) -> dict[str, float]:
    rates: dict[str, float] = {}
    async with KafkaBus(bootstrap, partitions=PARTITIONS) as kafka:
        raw_topic, bus_topic = new_topic("raw"), new_topic("kafka")
        await kafka.create_topics([raw_topic, bus_topic])
        rates["aiokafka produce (send_batch)"] = await raw_produce(bootstrap, raw_topic, args.messages, value)
        rates["aiokafka consume (getmany)"] = await raw_consume(bootstrap, raw_topic, args.messages)
        records = make_records(bus_topic, args.messages, value)
        rates["KafkaBus publish"] = await bus_publish(kafka, records, args.batch)
        rates["KafkaBus consume + commit"] = await bus_consume(
            kafka, bus_topic, args.messages, args.max_records
        )

    workdir = tempfile.mkdtemp(prefix="ew-bench-")
    try:
        engine = create_engine(f"sqlite+aiosqlite:///{workdir}/bench.db")
        try:
            await migrate(engine)
            async with EmbeddedBus(engine, partitions=PARTITIONS) as embedded:
                topic = new_topic("embedded")
                await embedded.create_topics([topic])
                records = make_records(topic, args.messages, value)
                rates["EmbeddedBus/SQLite publish"] = await bus_publish(embedded, records, args.batch)
                rates["EmbeddedBus/SQLite consume + commit"] = await bus_consume(
                    embedded, topic, args.messages, args.max_records
                )
        finally:
            await engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rates


def print_table(runs: list[dict[str, float]], args: argparse.Namespace, bootstrap: str) -> None:
    print(
        f"{args.messages} messages of {args.size} bytes, {PARTITIONS} partitions, {args.batch} records per "
        f"publish, consume max_records={args.max_records}, median of {len(runs)} run(s), Kafka at {bootstrap}"
    )
    width = max(len(name) for name in runs[0])
    print(f"{'figure':<{width}}  {'msg/s':>10}  {'runs':>24}")
    for name in runs[0]:
        values = [run[name] for run in runs]
        each = " ".join(f"{v / 1000:.0f}k" for v in values)
        print(f"{name:<{width}}  {statistics.median(values):>10,.0f}  {each:>24}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=300, help="bytes per message value")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000, help="records per publish call of the buses")
    parser.add_argument("--max-records", type=int, default=500, help="max records per getmany of the buses")
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    args = parser.parse_args()

    # Retries right after topic creation or start-up (NotLeaderForPartition, GroupCoordinatorNotAvailable)
    # are logged by aiokafka but expected; a real failure raises anyway. Keep the output to the table.
    logging.disable(logging.ERROR)
    value = os.urandom(args.size)

    broker: KafkaBroker | None = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        broker = KafkaBroker()
        broker.start()
        bootstrap = broker.bootstrap
    try:
        runs = [asyncio.run(run_once(bootstrap, args, value)) for _ in range(args.repeat)]
    finally:
        if broker is not None:
            broker.close()
    print_table(runs, args, bootstrap)


if __name__ == "__main__":
    main()
