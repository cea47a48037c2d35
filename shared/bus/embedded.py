"""The embedded bus: a partitioned, durable log in the configured SQL database (SQLite or PostgreSQL).

A message is accepted once its transaction has committed, so it survives `kill -9` of the process.
Offsets are handed out by locking the partition's row in `bus_partitions`, which also makes the
commit order of a partition equal to its offset order. Consumer groups are a table of members that
heart-beat; every member computes the same round-robin assignment from the sorted live members.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.bus._base import (
    Bus,
    BusError,
    BusUnavailable,
    Consumer,
    Header,
    Message,
    PartitionInfo,
    Record,
    TopicPartition,
    count_published,
)
from shared.bus._partition import partition_for
from shared.bus._tables import bus_members, bus_messages, bus_offsets, bus_partitions, bus_topics
from shared.db import dialect_insert, ping, utcnow

log = logging.getLogger(__name__)

_UNAVAILABLE = (OperationalError, InterfaceError, OSError, TimeoutError)


def _encode_headers(headers: Iterable[Header]) -> str:
    return json.dumps([[name, base64.b64encode(value).decode()] for name, value in headers])


def _decode_headers(raw: str) -> tuple[Header, ...]:
    return tuple((name, base64.b64decode(value)) for name, value in json.loads(raw))


def _upsert(
    conn: AsyncConnection, table: Any, rows: list[dict[str, Any]], keys: list[str], **set_: Any
) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE/NOTHING, for SQLite and PostgreSQL alike."""
    stmt = dialect_insert(conn, table).values(rows)
    if not set_:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={name: value(stmt.excluded) for name, value in set_.items()}
    )


def _greatest(conn: AsyncConnection, *args: Any) -> Any:
    return func.greatest(*args) if conn.dialect.name == "postgresql" else func.max(*args)


class EmbeddedBus(Bus):
    """The bus in the database: the embedded default, no servers needed."""

    kind = "embedded"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        partitions: int = 6,
        poll_interval: float = 0.2,
        session_timeout: float = 10.0,
        max_group: int = 256,
    ) -> None:
        self.engine = engine
        self.partitions = partitions
        self.poll_interval = poll_interval
        self.session_timeout = session_timeout
        self.max_group = max_group
        self._partition_counts: dict[str, int] = {}
        # Set (and replaced) on every publish so that consumers in this process wake at once;
        # consumers also poll, for messages written by other processes.
        self._published = asyncio.Event()
        self._pending: list[tuple[Sequence[Record], asyncio.Future[None]]] = []
        self._writing: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.ping()

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        self._wake()

    async def ping(self) -> None:
        try:
            await ping(self.engine)
        except Exception as exc:
            raise BusUnavailable(f"database unreachable: {type(exc).__name__}") from exc

    async def create_topics(self, topics: Sequence[str], partitions: int | None = None) -> None:
        count = partitions or self.partitions
        try:
            async with self.engine.begin() as conn:
                for topic in topics:
                    await conn.execute(
                        _upsert(conn, bus_topics, [{"name": topic, "partitions": count}], ["name"])
                    )
                    rows = [{"topic": topic, "partition_no": p, "next_offset": 0} for p in range(count)]
                    await conn.execute(_upsert(conn, bus_partitions, rows, ["topic", "partition_no"]))
        except _UNAVAILABLE as exc:
            raise BusUnavailable(str(exc)) from exc

    async def partition_count(self, conn: AsyncConnection, topic: str) -> int:
        count = self._partition_counts.get(topic)
        if count is None:
            result = await conn.execute(select(bus_topics.c.partitions).where(bus_topics.c.name == topic))
            count = result.scalar_one_or_none()
            if count is None:
                raise BusError(f"unknown topic {topic!r}: create it first")
            self._partition_counts[topic] = count
        return count

    async def publish(self, records: Sequence[Record]) -> None:
        """Durable once this returns. Concurrent publishes share one transaction (group commit): each
        caller still returns only after the commit that holds its records, and a failed commit fails
        every caller in it, so nothing is half-written."""
        if not records:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((records, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        await asyncio.shield(done)
        count_published(records)

    async def _write_pending(self) -> None:
        while self._pending:
            group, self._pending = self._pending[: self.max_group], self._pending[self.max_group :]
            self._writing = [done for _, done in group]
            try:
                await self._write([record for records, _ in group for record in records])
            except Exception as exc:
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in group:
                    if not done.done():
                        done.set_result(None)
                self._wake()
        self._writing = []

    async def make_way(self) -> None:
        # SQLite has one write lock for everything. A consumer going from one batch transaction to the
        # next would win it again and again while an intake request's publish waits in the busy handler
        # (up to its timeout): the consumer lets the publishes queued so far commit first. Later ones wait
        # for the next batch, so a steady stream of publishes cannot starve the consumer either.
        if self.engine.dialect.name != "sqlite":
            return
        queued = [*self._writing, *(done for _, done in self._pending)]
        if queued:
            await asyncio.wait(queued)

    async def _write(self, records: Sequence[Record]) -> None:
        now = utcnow()
        try:
            async with self.engine.begin() as conn:
                groups: dict[TopicPartition, list[Record]] = {}
                for record in records:
                    count = await self.partition_count(conn, record.topic)
                    groups.setdefault((record.topic, partition_for(record.key, count)), []).append(record)
                # Lock partitions in one global order so that concurrent publishers cannot deadlock.
                for (topic, partition), group in sorted(groups.items()):
                    result = await conn.execute(
                        update(bus_partitions)
                        .where(bus_partitions.c.topic == topic, bus_partitions.c.partition_no == partition)
                        .values(next_offset=bus_partitions.c.next_offset + len(group))
                        .returning(bus_partitions.c.next_offset)
                    )
                    first = result.scalar_one() - len(group)
                    await conn.execute(
                        bus_messages.insert(),
                        [
                            {
                                "topic": topic,
                                "partition_no": partition,
                                "offset_no": first + i,
                                "msg_key": r.key,
                                "msg_value": r.value,
                                "headers": _encode_headers(r.headers),
                                "created_at": now,
                            }
                            for i, r in enumerate(group)
                        ],
                    )
        except _UNAVAILABLE as exc:
            raise BusUnavailable(f"database unavailable: {type(exc).__name__}") from exc

    def _wake(self) -> None:
        self._published.set()
        self._published = asyncio.Event()

    def consumer(self, group_id: str, topics: Sequence[str], *, max_records: int = 500) -> Consumer:
        return EmbeddedConsumer(self, group_id, list(topics), max_records=max_records)

    async def topics(self) -> list[str]:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(bus_topics.c.name).order_by(bus_topics.c.name))
            return list(result.scalars())

    async def describe(self, topics: Sequence[str] | None = None) -> list[PartitionInfo]:
        async with self.engine.connect() as conn:
            ends = select(bus_partitions)
            committed = select(bus_offsets)
            if topics is not None:
                ends = ends.where(bus_partitions.c.topic.in_(topics))
                committed = committed.where(bus_offsets.c.topic.in_(topics))
            groups: dict[TopicPartition, dict[str, int]] = {}
            for row in await conn.execute(committed):
                groups.setdefault((row.topic, row.partition_no), {})[row.group_id] = row.next_offset
            return [
                PartitionInfo(
                    row.topic,
                    row.partition_no,
                    row.next_offset,
                    groups.get((row.topic, row.partition_no), {}),
                )
                for row in await conn.execute(
                    ends.order_by(bus_partitions.c.topic, bus_partitions.c.partition_no)
                )
            ]

    async def read(self, topic: str, *, limit: int = 1000) -> list[Message]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(bus_messages)
                .where(bus_messages.c.topic == topic)
                .order_by(bus_messages.c.partition_no, bus_messages.c.offset_no)
                .limit(limit)
            )
            return [_message(row) for row in result]


def _message(row: Any) -> Message:
    return Message(
        topic=row.topic,
        partition=row.partition_no,
        offset=row.offset_no,
        key=row.msg_key,
        value=row.msg_value,
        headers=_decode_headers(row.headers),
        timestamp=row.created_at,
    )


class EmbeddedConsumer(Consumer):
    """A member of a consumer group of the embedded bus."""

    heartbeat_interval = 1.0

    def __init__(self, bus: EmbeddedBus, group_id: str, topics: list[str], *, max_records: int) -> None:
        self._bus = bus
        self.group_id = group_id
        self.topics = topics
        self.max_records = max_records
        self.member_id = uuid.uuid4().hex
        self._assignment: frozenset[TopicPartition] = frozenset()
        self._positions: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._ends: dict[TopicPartition, int] = {}
        self._last_heartbeat = float("-inf")
        self._rotation = 0

    def assignment(self) -> frozenset[TopicPartition]:
        return self._assignment

    def lag(self) -> dict[TopicPartition, int]:
        return {
            tp: max(self._ends[tp] - position, 0)
            for tp, position in self._positions.items()
            if tp in self._ends
        }

    async def start(self) -> None:
        await self._heartbeat()

    async def stop(self) -> None:
        try:
            async with self._bus.engine.begin() as conn:
                await conn.execute(
                    delete(bus_members).where(
                        bus_members.c.group_id == self.group_id, bus_members.c.member_id == self.member_id
                    )
                )
        except (DBAPIError, OSError) as exc:
            log.warning("could not leave group %s cleanly: %s", self.group_id, type(exc).__name__)
        self._assignment = frozenset()
        self._positions.clear()

    async def _heartbeat(self) -> None:
        """Renew membership, drop dead members and recompute this member's partitions."""
        now = utcnow()
        try:
            async with self._bus.engine.begin() as conn:
                row = {"group_id": self.group_id, "member_id": self.member_id, "heartbeat_at": now}
                await conn.execute(
                    _upsert(
                        conn,
                        bus_members,
                        [row],
                        ["group_id", "member_id"],
                        heartbeat_at=lambda ex: ex.heartbeat_at,
                    )
                )
                await conn.execute(
                    delete(bus_members).where(
                        bus_members.c.group_id == self.group_id,
                        bus_members.c.heartbeat_at < now - timedelta(seconds=self._bus.session_timeout),
                    )
                )
                members = sorted(
                    (
                        await conn.execute(
                            select(bus_members.c.member_id).where(bus_members.c.group_id == self.group_id)
                        )
                    )
                    .scalars()
                    .all()
                )
                counts = {topic: await self._bus.partition_count(conn, topic) for topic in self.topics}
                partitions = sorted((topic, p) for topic, count in counts.items() for p in range(count))
                me = members.index(self.member_id)
                mine = frozenset(tp for i, tp in enumerate(partitions) if i % len(members) == me)
                gained = mine - self._assignment
                if gained:
                    committed = await conn.execute(
                        select(bus_offsets).where(
                            bus_offsets.c.group_id == self.group_id, bus_offsets.c.topic.in_(self.topics)
                        )
                    )
                    stored = {(r.topic, r.partition_no): r.next_offset for r in committed}
                    for tp in gained:
                        self._positions[tp] = self._committed[tp] = stored.get(tp, 0)
        except _UNAVAILABLE as exc:
            raise BusUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        for tp in self._assignment - mine:
            self._positions.pop(tp, None)
            self._committed.pop(tp, None)
        self._assignment = mine
        self._last_heartbeat = time.monotonic()

    async def getmany(self, timeout: float = 1.0, max_records: int | None = None) -> list[Message]:
        limit = max_records or self.max_records
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() - self._last_heartbeat >= self.heartbeat_interval:
                await self._heartbeat()
            published = self._bus._published
            messages = await self._fetch(limit)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                return messages
            wait = min(remaining, self._bus.poll_interval, self.heartbeat_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(published.wait(), wait)

    async def _fetch(self, limit: int) -> list[Message]:
        if not self._assignment:
            return []
        try:
            async with self._bus.engine.connect() as conn:
                ends = await conn.execute(
                    select(bus_partitions).where(bus_partitions.c.topic.in_(self.topics))
                )
                self._ends = {(row.topic, row.partition_no): row.next_offset for row in ends}
                ready = [
                    tp
                    for tp, end in self._ends.items()
                    if tp in self._positions and end > self._positions[tp]
                ]
                if not ready:
                    return []
                # Rotate the start so that one busy partition cannot starve the others.
                self._rotation += 1
                ready.sort()
                start = self._rotation % len(ready)
                ready = ready[start:] + ready[:start]
                share = max(1, -(-limit // len(ready)))
                messages: list[Message] = []
                for topic, partition in ready:
                    if len(messages) >= limit:
                        break
                    result = await conn.execute(
                        select(bus_messages)
                        .where(
                            bus_messages.c.topic == topic,
                            bus_messages.c.partition_no == partition,
                            bus_messages.c.offset_no >= self._positions[(topic, partition)],
                        )
                        .order_by(bus_messages.c.offset_no)
                        .limit(min(share, limit - len(messages)))
                    )
                    batch = [_message(row) for row in result]
                    if batch:
                        self._positions[(topic, partition)] = batch[-1].offset + 1
                        messages.extend(batch)
                return messages
        except _UNAVAILABLE as exc:
            raise BusUnavailable(f"database unavailable: {type(exc).__name__}") from exc

    async def commit(self) -> None:
        moved = {tp: pos for tp, pos in self._positions.items() if pos > self._committed.get(tp, 0)}
        if not moved:
            return
        now = utcnow()
        rows = [
            {
                "group_id": self.group_id,
                "topic": t,
                "partition_no": p,
                "next_offset": pos,
                "committed_at": now,
            }
            for (t, p), pos in sorted(moved.items())
        ]
        try:
            async with self._bus.engine.begin() as conn:
                # Never move a committed offset backwards: after a rebalance the new owner may be ahead.
                await conn.execute(
                    _upsert(
                        conn,
                        bus_offsets,
                        rows,
                        ["group_id", "topic", "partition_no"],
                        next_offset=lambda ex: _greatest(conn, bus_offsets.c.next_offset, ex.next_offset),
                        committed_at=lambda ex: ex.committed_at,
                    )
                )
        except _UNAVAILABLE as exc:
            raise BusUnavailable(f"database unavailable: {type(exc).__name__}") from exc
        self._committed.update(moved)


__all__ = ["EmbeddedBus", "EmbeddedConsumer"]
