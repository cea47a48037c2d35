"""The bus contract, checked on every implementation: embedded on SQLite, embedded on PostgreSQL, Kafka.

Every test creates its own topics and groups (names end in the `unique` suffix) because the Kafka
broker and the PostgreSQL server are shared by the whole session.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bus import (
    Bus,
    Consumer,
    EmbeddedBus,
    KafkaBus,
    Message,
    Poison,
    Record,
    Worker,
)
from shared.bus._partition import partition_for
from shared.db import create_engine, migrate
from shared.topics import dlq_topic

PARTITIONS = 6
# Generous: a shared 2-core machine, and Kafka group joins take seconds.
TIMEOUT = 90.0

Key = tuple[str, int, int]  # topic, partition, offset


def ident(message: Message) -> Key:
    return (message.topic, message.partition, message.offset)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="embedded-sqlite"),
        pytest.param("postgres", id="embedded-postgres", marks=pytest.mark.postgres),
        pytest.param("kafka", id="kafka", marks=pytest.mark.kafka),
    ]
)
def bus_target(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(kind, URL or bootstrap); only the server of the selected case is started."""
    kind: str = request.param
    fixture = {"sqlite": "sqlite_url", "postgres": "pg_database_url", "kafka": "kafka_bootstrap"}[kind]
    return kind, request.getfixturevalue(fixture)


@pytest.fixture
async def bus(bus_target: tuple[str, str]) -> AsyncIterator[Bus]:
    kind, target = bus_target
    engine: AsyncEngine | None = None
    instance: Bus
    if kind == "kafka":
        instance = KafkaBus(target, partitions=PARTITIONS)
    else:
        engine = create_engine(target)
        await migrate(engine)
        instance = EmbeddedBus(engine, partitions=PARTITIONS, poll_interval=0.1)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()
        if engine is not None:
            await engine.dispose()


# -- helpers -------------------------------------------------------------------------------------------


async def collect(
    consumer: Consumer, count: int, *, commit: bool = False, settle: float = 1.0, timeout: float = TIMEOUT
) -> list[Message]:
    """Poll until `count` messages arrived, then `settle` seconds more to catch any extra delivery."""
    got: list[Message] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            batch = await consumer.getmany(timeout=1.0)
            got.extend(batch)
            if batch and commit:
                await consumer.commit()
        if settle:
            deadline = time.monotonic() + settle
            while (remaining := deadline - time.monotonic()) > 0:
                batch = await consumer.getmany(timeout=min(remaining, 0.5))
                got.extend(batch)
                if batch and commit:
                    await consumer.commit()
    return got


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.25)


async def wait_assigned(consumer: Consumer, partitions: set[tuple[str, int]]) -> None:
    """Poll until the consumer owns `partitions`; it must receive nothing meanwhile."""
    async with asyncio.timeout(TIMEOUT):
        while set(consumer.assignment()) != partitions:
            assert await consumer.getmany(timeout=0.5) == []


def keys_for_partition(partition: int, partitions: int, count: int) -> list[str]:
    """`count` keys that the murmur2 partitioner puts in `partition`."""
    keys: list[str] = []
    i = 0
    while len(keys) < count:
        if partition_for(f"key-{i}", partitions) == partition:
            keys.append(f"key-{i}")
        i += 1
    return keys


def all_partitions(topic: str, partitions: int = PARTITIONS) -> set[tuple[str, int]]:
    return {(topic, p) for p in range(partitions)}


# -- (a) order per key ---------------------------------------------------------------------------------


async def test_order_is_kept_per_key(bus: Bus, unique: str) -> None:
    topic = f"t.order.{unique}"
    await bus.create_topics([topic], partitions=PARTITIONS)
    keys = [f"key-{i}" for i in range(25)]
    records = [Record(topic, key, f"{key}:{n}".encode()) for n in range(40) for key in keys]
    # Publish calls of varied sizes, keys interleaved within and across calls.
    i = 0
    for size in [1, 7, 100, 3, 250] * 100:
        if i >= len(records):
            break
        await bus.publish(records[i : i + size])
        i += size

    async with bus.consumer(f"g.order.{unique}", [topic]) as consumer:
        got = await collect(consumer, len(records))

    assert len(got) == len(records)
    assert len({ident(m) for m in got}) == len(records)
    per_key: dict[str, list[bytes]] = defaultdict(list)
    for message in got:
        assert message.key is not None
        # Both buses place a key with Kafka's murmur2 partitioner.
        assert message.partition == partition_for(message.key, PARTITIONS)
        per_key[message.key].append(message.value)
    for key in keys:
        assert per_key[key] == [f"{key}:{n}".encode() for n in range(40)], key
    per_partition: dict[int, list[int]] = defaultdict(list)
    for message in got:
        per_partition[message.partition].append(message.offset)
    for offsets in per_partition.values():
        assert offsets == sorted(offsets)


async def test_lag_counts_the_messages_after_the_position(bus: Bus, unique: str) -> None:
    topic = f"t.lag.{unique}"
    await bus.create_topics([topic], partitions=PARTITIONS)
    [key] = keys_for_partition(2, PARTITIONS, 1)
    await bus.publish([Record(topic, key, str(n).encode()) for n in range(10)])
    async with bus.consumer(f"g.lag.{unique}", [topic], max_records=4) as consumer:
        got: list[Message] = []
        async with asyncio.timeout(TIMEOUT):
            while not got:
                got = await consumer.getmany(timeout=1.0, max_records=4)
        # Partitions that returned nothing may be left out, or reported with nothing to read.
        assert {tp: n for tp, n in consumer.lag().items() if tp != (topic, 2)} in (
            {},
            dict.fromkeys(all_partitions(topic) - {(topic, 2)}, 0),
        )
        assert consumer.lag()[(topic, 2)] == 10 - len(got)
        got += await collect(consumer, 10 - len(got), settle=0)
        assert consumer.lag()[(topic, 2)] == 0


# -- (b) redelivery of uncommitted messages ------------------------------------------------------------


async def test_uncommitted_messages_are_redelivered(bus: Bus, unique: str) -> None:
    topic = f"t.redeliver.{unique}"
    group = f"g.redeliver.{unique}"
    await bus.create_topics([topic], partitions=PARTITIONS)
    await bus.publish([Record(topic, f"k{i % 10}", f"v{i}".encode()) for i in range(30)])

    async with bus.consumer(group, [topic]) as first:
        seen_first = await collect(first, 30)
    # Stopped without commit: a new member of the group gets the same messages again.
    async with bus.consumer(group, [topic]) as second:
        seen_second = await collect(second, 30)
        await second.commit()

    assert len(seen_first) == 30
    assert sorted((ident(m), m.value) for m in seen_second) == sorted((ident(m), m.value) for m in seen_first)

    # Committed: a third member gets nothing of those, only what is published afterwards.
    async with bus.consumer(group, [topic]) as third:
        await wait_assigned(third, all_partitions(topic))
        assert await third.getmany(timeout=2.0) == []
        await bus.publish([Record(topic, "k-new", b"after-commit")])
        seen_third = await collect(third, 1)
    assert [m.value for m in seen_third] == [b"after-commit"]


# -- (c) a group splits the partitions -----------------------------------------------------------------


async def test_group_members_split_partitions(bus: Bus, unique: str) -> None:
    topic = f"t.split.{unique}"
    group = f"g.split.{unique}"
    await bus.create_topics([topic], partitions=PARTITIONS)
    count = 300

    async with bus.consumer(group, [topic]) as a, bus.consumer(group, [topic]) as b:
        # Poll both until each owns a non-empty, disjoint share covering every partition, for a few rounds.
        stable = 0
        async with asyncio.timeout(TIMEOUT):
            while stable < 4:
                batches = await asyncio.gather(a.getmany(timeout=0.5), b.getmany(timeout=0.5))
                assert batches == [[], []]
                mine_a, mine_b = a.assignment(), b.assignment()
                split = bool(mine_a) and bool(mine_b) and not (mine_a & mine_b)
                stable = stable + 1 if split and mine_a | mine_b == all_partitions(topic) else 0
        assignment_a, assignment_b = a.assignment(), b.assignment()

        await bus.publish([Record(topic, f"k{i}", f"v{i}".encode()) for i in range(count)])

        seen: dict[str, list[Message]] = {"a": [], "b": []}
        members = {"a": a, "b": b}

        async def poll(name: str) -> None:
            batch = await members[name].getmany(timeout=0.5)
            if batch:
                seen[name].extend(batch)
                await members[name].commit()

        async with asyncio.timeout(TIMEOUT):
            while len(seen["a"]) + len(seen["b"]) < count:
                await asyncio.gather(poll("a"), poll("b"))
        for _ in range(3):  # any duplicate would show up now
            await asyncio.gather(poll("a"), poll("b"))

    assert assignment_a
    assert assignment_b
    assert not assignment_a & assignment_b
    for name, assignment in (("a", assignment_a), ("b", assignment_b)):
        assert seen[name], f"member {name} received nothing"
        assert {(m.topic, m.partition) for m in seen[name]} <= assignment
    everything = seen["a"] + seen["b"]
    duplicates = [k for k, n in Counter(ident(m) for m in everything).items() if n > 1]
    assert duplicates == []
    assert sorted(m.value for m in everything) == sorted(f"v{i}".encode() for i in range(count))


# -- (d) poison messages go to the dead-letter topic ---------------------------------------------------


async def run_worker_until(worker: Worker, done: Callable[[], Awaitable[bool]], what: str) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:

        async def check() -> bool:
            if task.done():
                task.result()  # surfaces the worker's exception
                pytest.fail("the worker stopped on its own")
            return await done()

        await eventually(check, what)
    finally:
        stop.set()
        async with asyncio.timeout(TIMEOUT):
            await task


def poison_records(topic: str, count: int) -> list[Record]:
    return [
        Record(topic, f"k{i % 8}", f"v{i}".encode(), (("trace", f"t{i}".encode()), ("origin", b"test")))
        for i in range(count)
    ]


async def lag_is_zero(bus: Bus, topic: str, group: str, total: int) -> bool:
    infos = await bus.describe([topic])
    return sum(i.end_offset for i in infos) == total and all(i.lag(group) == 0 for i in infos)


def assert_dead_letter(dead: Message, original: Message, error_part: str) -> None:
    assert dead.value == original.value
    assert dead.key == original.key
    error = dead.header("ew_error")
    assert error is not None
    assert error_part in error.decode()
    assert dead.header("ew_original_topic") == original.topic.encode()
    assert dead.header("ew_original_partition") == str(original.partition).encode()
    assert dead.header("ew_original_offset") == str(original.offset).encode()
    for name, value in original.headers:
        assert (name, value) in dead.headers


async def test_poison_message_is_dead_lettered(bus: Bus, unique: str) -> None:
    topic = f"t.poison.{unique}"
    dlq = dlq_topic(topic)
    group = f"g.poison.{unique}"
    count = 40
    await bus.create_topics([topic, dlq], partitions=PARTITIONS)
    await bus.publish(poison_records(topic, count))
    handled: set[bytes] = set()

    async def handler(batch: Sequence[Message]) -> None:
        for message in batch:
            if message.value == b"v13":
                raise Poison("value v13 is not valid")
            handled.add(message.value)

    worker = Worker(bus, group, [topic], handler, max_attempts=3, retry_delay=0.05)
    expected = {f"v{i}".encode() for i in range(count)} - {b"v13"}

    async def done() -> bool:
        return (
            handled == expected
            and len(await bus.read(dlq)) >= 1
            and await lag_is_zero(bus, topic, group, count)
        )

    await run_worker_until(worker, done, "every message handled or dead-lettered and committed")

    assert b"v13" not in handled
    dead = await bus.read(dlq)
    assert len(dead) == 1
    [original] = [m for m in await bus.read(topic) if m.value == b"v13"]
    assert_dead_letter(dead[0], original, "value v13 is not valid")
    # The committed offset of the poison's partition moved past it.
    [info] = [i for i in await bus.describe([topic]) if i.partition == original.partition]
    assert info.committed[group] >= original.offset + 1
    assert info.lag(group) == 0


async def test_failing_message_is_dead_lettered_after_max_attempts(bus: Bus, unique: str) -> None:
    topic = f"t.failing.{unique}"
    dlq = dlq_topic(topic)
    group = f"g.failing.{unique}"
    count = 40
    max_attempts = 4
    await bus.create_topics([topic, dlq], partitions=PARTITIONS)
    await bus.publish(poison_records(topic, count))
    handled: set[bytes] = set()
    # A call with a batch of several messages is not an attempt at the bad one: the worker then retries
    # the messages one at a time, and each call with the bad message alone is an attempt.
    solo_attempts = 0

    async def handler(batch: Sequence[Message]) -> None:
        nonlocal solo_attempts
        for message in batch:
            if message.value == b"v7":
                if len(batch) == 1:
                    solo_attempts += 1
                raise RuntimeError("boom: cannot handle v7")
            handled.add(message.value)

    worker = Worker(bus, group, [topic], handler, max_attempts=max_attempts, retry_delay=0.05)
    expected = {f"v{i}".encode() for i in range(count)} - {b"v7"}

    async def done() -> bool:
        return (
            handled == expected
            and len(await bus.read(dlq)) >= 1
            and await lag_is_zero(bus, topic, group, count)
        )

    await run_worker_until(worker, done, "every message handled or dead-lettered and committed")

    assert solo_attempts == max_attempts
    dead = await bus.read(dlq)
    assert len(dead) == 1
    [original] = [m for m in await bus.read(topic) if m.value == b"v7"]
    assert_dead_letter(dead[0], original, "boom: cannot handle v7")


# -- (e) describe: end offsets, committed offsets, lag -------------------------------------------------


async def test_describe_reports_offsets_and_lag(bus: Bus, unique: str) -> None:
    topic = f"t.describe.{unique}"
    other = f"t.describe-other.{unique}"
    group = f"g.describe.{unique}"
    idle_group = f"g.describe-idle.{unique}"
    await bus.create_topics([topic], partitions=3)
    await bus.create_topics([other], partitions=2)
    assert {topic, other} <= set(await bus.topics())

    # 5 messages in partition 0, 3 in partition 1, none in partition 2.
    keys0, keys1 = keys_for_partition(0, 3, 5), keys_for_partition(1, 3, 3)
    await bus.publish([Record(topic, k, k.encode()) for k in keys0 + keys1])
    await bus.publish([Record(other, "x", b"x")])

    infos = sorted(await bus.describe([topic]), key=lambda i: i.partition)
    assert [(i.topic, i.partition, i.end_offset) for i in infos] == [
        (topic, 0, 5),
        (topic, 1, 3),
        (topic, 2, 0),
    ]
    assert all(group not in i.committed for i in infos)
    assert [i.lag(group) for i in infos] == [5, 3, 0]

    every = await bus.describe(None)
    assert {(i.topic, i.partition) for i in every} >= all_partitions(topic, 3) | all_partitions(other, 2)
    assert {i.topic for i in await bus.describe([other])} == {other}

    async with bus.consumer(group, [topic]) as consumer:
        # Exactly one message consumed and committed.
        async with asyncio.timeout(TIMEOUT):
            first: list[Message] = []
            while not first:
                first = await consumer.getmany(timeout=1.0, max_records=1)
        assert len(first) == 1
        await consumer.commit()
        infos = sorted(await bus.describe([topic]), key=lambda i: i.partition)
        committed = [i.committed.get(group, 0) for i in infos]
        assert first[0].offset == 0
        assert committed == [1 if p == first[0].partition else 0 for p in range(3)]
        assert sum(i.lag(group) for i in infos) == 7

        rest = await collect(consumer, 7, commit=True)
        assert len(rest) == 7

    infos = sorted(await bus.describe([topic]), key=lambda i: i.partition)
    assert [i.committed.get(group, 0) for i in infos] == [5, 3, 0]
    assert [i.lag(group) for i in infos] == [0, 0, 0]

    await bus.publish([Record(topic, k, b"more") for k in keys_for_partition(1, 3, 4)])
    infos = sorted(await bus.describe([topic]), key=lambda i: i.partition)
    assert [i.end_offset for i in infos] == [5, 7, 0]
    assert [i.lag(group) for i in infos] == [0, 4, 0]
    assert [i.lag(idle_group) for i in infos] == [5, 7, 0]


# -- (f) kill -9 durability of the embedded bus on SQLite ----------------------------------------------

PUBLISH_LOOP = Path(__file__).resolve().parents[1] / "harness" / "publish_loop.py"
REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_embedded_sqlite_acknowledged_messages_survive_kill_9(
    sqlite_url: str, unique: str, tmp_path: Path
) -> None:
    topic = f"t.kill9.{unique}"
    engine = create_engine(sqlite_url)
    await migrate(engine)
    async with EmbeddedBus(engine, partitions=PARTITIONS) as setup:
        await setup.create_topics([topic])
    await engine.dispose()

    stderr_path = tmp_path / "publisher.err"
    with open(stderr_path, "wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PUBLISH_LOOP),
            sqlite_url,
            topic,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        async with asyncio.timeout(180):
            while len(acked) < 200:
                line = await proc.stdout.readline()
                if not line.endswith(b"\n"):
                    pytest.fail(f"publisher exited early:\n{stderr_path.read_text()[-3000:]}")
                acked.append(line.decode().strip())
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Lines still in the pipe were acknowledged too; a torn last line was not.
    rest = await proc.stdout.read()
    acked.extend(line.decode() for line in rest.split(b"\n")[:-1])

    db_path = sqlite_url.split("///", 1)[1]
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    engine = create_engine(sqlite_url)
    try:
        async with EmbeddedBus(engine, partitions=PARTITIONS) as bus:
            stored = await bus.read(topic, limit=1_000_000)
            by_key = {m.key: m for m in stored}
            missing = [key for key in acked if key not in by_key]
            assert missing == []
            for key in acked:
                i = int(key.removeprefix("k"))
                assert by_key[key].value == f"v{i}".encode()
                assert by_key[key].header("seq") == str(i).encode()
            # Offsets have no holes: the log is exactly what was committed.
            per_partition: dict[int, list[int]] = defaultdict(list)
            for message in stored:
                per_partition[message.partition].append(message.offset)
            for offsets in per_partition.values():
                assert sorted(offsets) == list(range(len(offsets)))

            async with bus.consumer(f"g.kill9.{unique}", [topic]) as consumer:
                consumed = await collect(consumer, len(stored))
            assert sorted(ident(m) for m in consumed) == sorted(ident(m) for m in stored)
            assert set(acked) <= {m.key for m in consumed}
    finally:
        await engine.dispose()


# -- (g) on SQLite a consumer lets queued publishes commit before its next batch -----------------------


async def test_embedded_sqlite_consumer_makes_way_for_queued_publishes(sqlite_url: str, unique: str) -> None:
    topic = f"t.way.{unique}"
    engine = create_engine(sqlite_url)
    await migrate(engine)
    try:
        async with EmbeddedBus(engine, partitions=PARTITIONS) as bus:
            await bus.create_topics([topic])
            await bus.make_way()  # nothing queued: returns at once
            # Another writer (a consumer's batch transaction) holds SQLite's write lock.
            async with engine.connect() as holder:
                await holder.exec_driver_sql("BEGIN IMMEDIATE")
                publish = asyncio.create_task(bus.publish([Record(topic, "k", b"v")]))
                await asyncio.sleep(0.2)
                assert not publish.done()  # waiting in the busy handler
                way = asyncio.create_task(bus.make_way())
                await asyncio.sleep(0.2)
                assert not way.done()
                await holder.rollback()
            await asyncio.wait_for(way, TIMEOUT)
            # By the time the consumer may begin its batch, the queued publish has committed.
            assert publish.done()
            assert publish.exception() is None
            assert [m.key for m in await bus.read(topic)] == ["k"]
    finally:
        await engine.dispose()
