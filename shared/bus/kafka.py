"""The Kafka bus (aiokafka): idempotent `acks=all` producer, consumer groups with manual commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError

from shared.bus._base import (
    Bus,
    BusUnavailable,
    Consumer,
    Message,
    PartitionInfo,
    Record,
    count_published,
)
from shared.bus._base import TopicPartition as TP
from shared.bus._partition import partition_for
from shared.topics import COMPACTED_TOPICS

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
_BATCH_FROM = 16


class KafkaBus(Bus):
    """Apache Kafka, for the distributed deployment."""

    kind = "kafka"

    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 6,
        replication: int = 1,
        client_id: str = "earlywarning",
        request_timeout: float = 30.0,
        publish_timeout: float = 10.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.replication = replication
        self.client_id = client_id
        self.request_timeout_ms = int(request_timeout * 1000)
        self.publish_timeout = publish_timeout
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=self.request_timeout_ms,
        )
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            request_timeout_ms=self.request_timeout_ms,
        )
        try:
            await producer.start()
            await admin.start()
        except KafkaError as exc:
            await producer.stop()
            await admin.close()
            raise BusUnavailable(f"Kafka unreachable at {self.bootstrap}: {exc}") from exc
        self._producer, self._admin = producer, admin

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._admin is not None:
            await self._admin.close()
        self._producer = self._admin = None

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BusUnavailable("the Kafka bus is not started")
        return self._producer

    @property
    def admin(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            raise BusUnavailable("the Kafka bus is not started")
        return self._admin

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(5):
                await self.admin.list_topics()
        except (KafkaError, TimeoutError, OSError) as exc:
            raise BusUnavailable(f"Kafka unreachable at {self.bootstrap}: {type(exc).__name__}") from exc

    async def create_topics(self, topics: Sequence[str], partitions: int | None = None) -> None:
        try:
            existing = set(await self.admin.list_topics())
            missing = [t for t in dict.fromkeys(topics) if t not in existing]
            if not missing:
                return
            response = await self.admin.create_topics(
                [
                    NewTopic(
                        name=topic,
                        num_partitions=partitions or self.partitions,
                        replication_factor=self.replication,
                        topic_configs={"cleanup.policy": "compact"} if topic in COMPACTED_TOPICS else {},
                    )
                    for topic in missing
                ]
            )
        except KafkaError as exc:
            raise BusUnavailable(f"could not create topics: {exc}") from exc
        for topic, code, *rest in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise BusUnavailable(f"could not create topic {topic}: error {code} {rest}")

    async def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        try:
            # Bounded: a caller waiting on a broker that is down gets an answer (503) rather than a hang.
            async with asyncio.timeout(self.publish_timeout):
                futures = await self._queue(records)
                await asyncio.gather(*futures)
            count_published(records)
        except TimeoutError as exc:
            raise BusUnavailable(f"Kafka did not acknowledge within {self.publish_timeout}s") from exc
        except KafkaError as exc:
            raise BusUnavailable(f"Kafka did not accept the messages: {exc}") from exc

    async def _queue(self, records: Sequence[Record]) -> list[asyncio.Future[Any]]:
        """Hand the records to the producer; the futures resolve when the broker has acknowledged them.

        A few records go one by one; more are packed into one batch per partition, which costs a
        fraction of a per-message `send` (the partition is the one Kafka's default partitioner picks).
        """
        producer = self.producer
        if len(records) < _BATCH_FROM:
            return [
                await producer.send(r.topic, r.value, key=r.key.encode(), headers=list(r.headers))
                for r in records
            ]
        counts = {topic: len(await producer.partitions_for(topic)) for topic in {r.topic for r in records}}
        by_partition: dict[TP, list[Record]] = {}
        for record in records:
            by_partition.setdefault(
                (record.topic, partition_for(record.key, counts[record.topic])), []
            ).append(record)
        futures = []
        for (topic, partition), group in by_partition.items():
            batch = producer.create_batch()
            for record in group:
                fields = {
                    "key": record.key.encode(),
                    "value": record.value,
                    "timestamp": None,
                    "headers": list(record.headers),
                }
                if batch.append(**fields) is None:  # full: send it and start the next one
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(**fields)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures

    def consumer(self, group_id: str, topics: Sequence[str], *, max_records: int = 500) -> Consumer:
        return KafkaConsumer(self, group_id, list(topics), max_records=max_records)

    def _client(self, **kwargs: Any) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            request_timeout_ms=self.request_timeout_ms,
            **kwargs,
        )

    async def _partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        """The partitions of `topics`, from the broker (a fresh consumer knows no topics yet)."""
        described = await self.admin.describe_topics(list(topics))
        return sorted(
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if t["error_code"] == 0
            for p in t["partitions"]
        )

    async def topics(self) -> list[str]:
        try:
            return sorted(t for t in await self.admin.list_topics() if not t.startswith("__"))
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc

    async def make_way(self) -> None:
        """Nothing to wait for: publishing to the broker never contends with a consumer's transaction."""

    async def describe(self, topics: Sequence[str] | None = None) -> list[PartitionInfo]:
        try:
            names = list(topics) if topics is not None else await self.topics()
            partitions = await self._partitions(names)
            ends: dict[TopicPartition, int] = {}
            if partitions:
                client = self._client()
                await client.start()
                try:
                    ends = await client.end_offsets(partitions)
                finally:
                    await client.stop()
            committed: dict[TP, dict[str, int]] = {}
            for group in await self.admin.list_consumer_groups():
                group_id = group[0]
                offsets = await self.admin.list_consumer_group_offsets(group_id)
                for tp, meta in offsets.items():
                    if tp.topic in names and meta.offset >= 0:
                        committed.setdefault((tp.topic, tp.partition), {})[group_id] = meta.offset
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc
        return [
            PartitionInfo(tp.topic, tp.partition, ends[tp], committed.get((tp.topic, tp.partition), {}))
            for tp in partitions
        ]

    async def read(self, topic: str, *, limit: int = 1000) -> list[Message]:
        partitions = await self._partitions([topic])
        if not partitions:
            return []
        client = self._client()
        try:
            await client.start()
            client.assign(partitions)
            await client.seek_to_beginning(*partitions)
            ends = await client.end_offsets(partitions)
            messages: list[Message] = []
            while len(messages) < limit and any([await client.position(tp) < ends[tp] for tp in partitions]):
                batches = await client.getmany(timeout_ms=1000, max_records=limit - len(messages))
                for tp in sorted(batches, key=lambda tp: tp.partition):
                    messages.extend(_message(r) for r in batches[tp])
            return sorted(messages, key=lambda m: (m.partition, m.offset))[:limit]
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc
        finally:
            await client.stop()


def _message(record: ConsumerRecord[bytes, bytes]) -> Message:
    return Message(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode() if record.key is not None else None,
        value=record.value or b"",
        headers=tuple(record.headers),
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
    )


class KafkaConsumer(Consumer):
    """A Kafka consumer-group member with manual commit."""

    def __init__(self, bus: KafkaBus, group_id: str, topics: list[str], *, max_records: int) -> None:
        self._client = bus._client(group_id=group_id, max_poll_records=max_records)
        self.group_id = group_id
        self.topics = topics
        self.max_records = max_records
        self._positions: dict[TP, int] = {}

    async def start(self) -> None:
        try:
            await self._client.start()
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc
        self._client.subscribe(self.topics)

    async def stop(self) -> None:
        await self._client.stop()

    def assignment(self) -> frozenset[TP]:
        return frozenset((tp.topic, tp.partition) for tp in self._client.assignment())

    def lag(self) -> dict[TP, int]:
        # The high watermark comes with every fetch response; the position is that of the last message
        # returned (a partition that has returned nothing since it was assigned is left out).
        found: dict[TP, int] = {}
        for tp in self._client.assignment():
            key = (tp.topic, tp.partition)
            end = self._client.highwater(tp)
            if end is not None and key in self._positions:
                found[key] = max(end - self._positions[key], 0)
        return found

    async def getmany(self, timeout: float = 1.0, max_records: int | None = None) -> list[Message]:
        try:
            batches = await self._client.getmany(
                timeout_ms=int(timeout * 1000), max_records=max_records or self.max_records
            )
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc
        for tp, records in batches.items():
            if records:
                self._positions[(tp.topic, tp.partition)] = records[-1].offset + 1
        return [_message(r) for tp in sorted(batches) for r in batches[tp]]

    async def commit(self) -> None:
        try:
            await self._client.commit()
        except CommitFailedError as exc:
            # The group rebalanced under us: the new owner gets the uncommitted messages again.
            log.warning("commit failed after a rebalance of %s: %s", self.group_id, exc)
        except KafkaError as exc:
            raise BusUnavailable(str(exc)) from exc
