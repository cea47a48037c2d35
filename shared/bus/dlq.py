"""Inspecting and re-driving dead letters (`earlywarning dlq list|replay`)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.bus._base import Bus, Message, Record
from shared.bus.worker import DLQ_ERROR, DLQ_HEADERS, DLQ_OFFSET, DLQ_PARTITION
from shared.topics import dlq_source, dlq_topic, is_dlq

# The consumer group that re-drives dead letters: its committed offset marks what was replayed already.
REPLAY_GROUP = "ew.dlq-replay"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message: Message
    error: str
    original_partition: int | None
    original_offset: int | None
    replayed: bool


def _int_header(message: Message, name: str) -> int | None:
    raw = message.header(name)
    return int(raw) if raw is not None and raw.isdigit() else None


def resolve(topic: str) -> tuple[str, str]:
    """(source topic, dead-letter topic) for either name."""
    return (dlq_source(topic), topic) if is_dlq(topic) else (topic, dlq_topic(topic))


async def list_dead_letters(bus: Bus, topic: str, *, limit: int = 1000) -> list[DeadLetter]:
    _source, dlq = resolve(topic)
    if dlq not in await bus.topics():
        return []
    replayed_up_to = {
        info.partition: info.committed.get(REPLAY_GROUP, 0) for info in await bus.describe([dlq])
    }
    return [
        DeadLetter(
            message=m,
            error=(m.header(DLQ_ERROR) or b"").decode(errors="replace"),
            original_partition=_int_header(m, DLQ_PARTITION),
            original_offset=_int_header(m, DLQ_OFFSET),
            replayed=m.offset < replayed_up_to.get(m.partition, 0),
        )
        for m in await bus.read(dlq, limit=limit)
    ]


async def replay(bus: Bus, topic: str, *, idle_timeout: float = 2.0) -> int:
    """Publish every not yet replayed dead letter of `topic` back onto it; returns how many."""
    source, dlq = resolve(topic)
    if dlq not in await bus.topics():
        return 0
    replayed = 0
    async with bus.consumer(REPLAY_GROUP, [dlq]) as consumer:
        while True:
            batch = await consumer.getmany(timeout=idle_timeout)
            if not batch:
                return replayed
            await bus.publish(
                [
                    Record(
                        source, m.key or "", m.value, tuple(h for h in m.headers if h[0] not in DLQ_HEADERS)
                    )
                    for m in batch
                ]
            )
            await consumer.commit()
            replayed += len(batch)
