"""The bus interface: what every service sees of Kafka or of the embedded bus.

Semantics shared by both implementations (and checked by the bus contract tests):
- `publish` returns only once every record is durable (Kafka: acknowledged by all in-sync replicas;
  embedded: committed to the database); it raises `BusUnavailable` otherwise and nothing is half-written
  for the embedded bus.
- a record's partition is chosen from its key with Kafka's murmur2 partitioner, so order is kept per key;
- a consumer group splits the partitions of its topics between its live members;
- `Consumer.commit` stores the positions reached by the messages returned so far; what was returned but
  not committed is delivered again to whoever owns the partition next.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.metrics import MESSAGES_PUBLISHED

Header = tuple[str, bytes]
TopicPartition = tuple[str, int]


class BusError(Exception):
    """Base class of the bus errors."""


class BusUnavailable(BusError):
    """The broker or the database behind the bus cannot be reached; try again later."""


@dataclass(frozen=True, slots=True)
class Record:
    """A message to publish."""

    topic: str
    key: str
    value: bytes
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """A message as delivered to a consumer."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: tuple[Header, ...]
    timestamp: datetime

    def header(self, name: str) -> bytes | None:
        """The value of the last header called `name`, or None."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """One partition of a topic: its end offset and how far each consumer group has committed."""

    topic: str
    partition: int
    end_offset: int
    committed: dict[str, int] = field(default_factory=dict)

    def lag(self, group_id: str) -> int:
        return self.end_offset - self.committed.get(group_id, 0)


class Consumer(abc.ABC):
    """A member of a consumer group; use `async with` or start/stop."""

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None:
        """Leave the group; uncommitted messages go to the next owner of their partition."""

    @abc.abstractmethod
    async def getmany(self, timeout: float = 1.0, max_records: int | None = None) -> list[Message]:
        """Next messages of the assigned partitions, waiting up to `timeout` seconds for one."""

    @abc.abstractmethod
    async def commit(self) -> None:
        """Commit the positions reached by every message returned so far."""

    @abc.abstractmethod
    def assignment(self) -> frozenset[TopicPartition]:
        """The partitions this member owns now."""

    @abc.abstractmethod
    def lag(self) -> dict[TopicPartition, int]:
        """Per owned partition whose end is known, the messages after this member's position, as of the
        last poll (no I/O)."""

    async def __aenter__(self) -> Consumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def count_published(records: Sequence[Record]) -> None:
    """`ew_bus_published_total`, once records are durable."""
    for topic, count in Counter(record.topic for record in records).items():
        MESSAGES_PUBLISHED.labels(topic).inc(count)


class Bus(abc.ABC):
    """A durable, partitioned log of topics with consumer groups."""

    kind: str

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def create_topics(self, topics: Sequence[str], partitions: int | None = None) -> None:
        """Create the topics that do not exist yet (existing ones are left as they are)."""

    @abc.abstractmethod
    async def publish(self, records: Sequence[Record]) -> None:
        """Publish records; returns once all are durable, raises `BusUnavailable` otherwise."""

    @abc.abstractmethod
    def consumer(self, group_id: str, topics: Sequence[str], *, max_records: int = 500) -> Consumer:
        """A new member of `group_id` reading `topics` from the group's committed positions."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise `BusUnavailable` unless the bus can be used now."""

    @abc.abstractmethod
    async def make_way(self) -> None:
        """Wait for the publishes of this process already queued: a consumer calls it before each batch.

        A no-op unless publishing and the consumers' own transactions contend for one lock.
        """

    @abc.abstractmethod
    async def topics(self) -> list[str]:
        """The names of the existing topics."""

    @abc.abstractmethod
    async def describe(self, topics: Sequence[str] | None = None) -> list[PartitionInfo]:
        """End offsets and committed offsets per consumer group of every partition of `topics` (all if None)."""

    @abc.abstractmethod
    async def read(self, topic: str, *, limit: int = 1000) -> list[Message]:
        """Read a topic from its beginning without a consumer group (inspection: `dlq list`)."""

    async def __aenter__(self) -> Bus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
