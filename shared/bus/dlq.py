"""Inspecting and re-driving dead letters (`earlywarning dlq list|replay`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from shared.bus._base import Bus, Message, Record
from shared.bus.worker import (
    DLQ_ERROR,
    DLQ_HEADERS,
    DLQ_OFFSET,
    DLQ_PARTITION,
    describe_error,
    sleep_or_stop,
)
from shared.metrics import DEAD_LETTERS
from shared.topics import dlq_source, dlq_topic, is_dlq

log = logging.getLogger(__name__)

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


async def replay(bus: Bus, topic: str, *, idle_timeout: float = 2.0, batch_size: int = 500) -> int:
    """Publish the dead letters of `topic` not replayed yet back onto it; returns how many.

    As many as there were when it started: a message that fails again comes back to the dead-letter topic
    while the replay runs, and would otherwise be replayed again and again. Everything taken is published
    before it is marked replayed.
    """
    source, dlq = resolve(topic)
    if dlq not in await bus.topics():
        return 0
    pending = sum(
        max(info.end_offset - info.committed.get(REPLAY_GROUP, 0), 0) for info in await bus.describe([dlq])
    )
    replayed = 0
    async with bus.consumer(REPLAY_GROUP, [dlq]) as consumer:
        while replayed < pending:
            batch = await consumer.getmany(
                timeout=idle_timeout, max_records=min(batch_size, pending - replayed)
            )
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
    return replayed


class DeadLetterGauge:
    """Keeps `ew_bus_dead_letters{topic}` up to date: per dead-letter topic, the messages after the replay
    group's position. It only reads; a failed reading is logged and tried again at the next interval."""

    group_id = "ew.dlq.gauge"
    """Names the task in readiness checks and logs, like a consumer group does."""

    def __init__(self, bus: Bus, interval: float = 15.0) -> None:
        self.bus = bus
        self.interval = interval

    async def measure(self) -> dict[str, int]:
        """Read the dead-letter topics once and set the gauge; the counts by topic."""
        names = [topic for topic in await self.bus.topics() if is_dlq(topic)]
        counts: dict[str, int] = dict.fromkeys(names, 0)
        if names:
            for info in await self.bus.describe(names):
                counts[info.topic] += max(info.end_offset - info.committed.get(REPLAY_GROUP, 0), 0)
        for topic, count in counts.items():
            DEAD_LETTERS.labels(topic).set(count)
        return counts

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.measure()
            except Exception as exc:  # monitoring: never the reason a process stops
                log.warning("dead-letter gauge: %s", describe_error(exc))
            await sleep_or_stop(self.interval, stop)
