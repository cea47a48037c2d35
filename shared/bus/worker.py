"""The consume loop every service uses: batches, commits, retries and dead letters, written once.

A handler is an ordinary async function of a batch of messages. The worker calls it with the whole
batch; if that fails for a reason other than an outage it replays the batch one message at a time to
find the poison: a message whose handler raises `Poison`, or fails `max_attempts` times, goes to
`ew.dlq.<topic>` with the error in the `ew_error` header, and the worker goes on. During an outage
(database or broker unreachable) nothing is dead-lettered: the batch is retried until it succeeds,
and nothing is committed before it has been processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from shared.bus._base import Bus, BusUnavailable, Consumer, Message, Record, TopicPartition
from shared.metrics import BATCH_DURATION, CONSUMER_LAG, MESSAGES_CONSUMED, MESSAGES_DEAD_LETTERED
from shared.topics import dlq_topic

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Message]], Awaitable[None]]
T = TypeVar("T")

DLQ_ERROR = "ew_error"
DLQ_TOPIC = "ew_original_topic"
DLQ_PARTITION = "ew_original_partition"
DLQ_OFFSET = "ew_original_offset"
DLQ_HEADERS = frozenset({DLQ_ERROR, DLQ_TOPIC, DLQ_PARTITION, DLQ_OFFSET})
_MAX_ERROR_LENGTH = 1000


class Poison(Exception):
    """Raised by a handler for a message that can never be processed (undecodable, invalid)."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    BusUnavailable,
    OSError,
    TimeoutError,
    OperationalError,
    InterfaceError,
)


def is_transient(exc: BaseException) -> bool:
    """An outage rather than a bad message: retry, never dead-letter."""
    return isinstance(exc, TRANSIENT_ERRORS)


def dead_letter(message: Message, error: str) -> Record:
    """The record that carries `message` to its dead-letter topic."""
    headers = (
        *tuple(h for h in message.headers if h[0] not in DLQ_HEADERS),
        (DLQ_ERROR, error[:_MAX_ERROR_LENGTH].encode()),
        (DLQ_TOPIC, message.topic.encode()),
        (DLQ_PARTITION, str(message.partition).encode()),
        (DLQ_OFFSET, str(message.offset).encode()),
    )
    return Record(dlq_topic(message.topic), message.key or "", message.value, headers)


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Worker:
    """Runs `handler` over the messages of `topics` as member of `group_id` until stopped."""

    def __init__(
        self,
        bus: Bus,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        max_retry_delay: float = 30.0,
        max_records: int = 500,
        poll_timeout: float = 0.5,
    ) -> None:
        self.bus = bus
        self.group_id = group_id
        self.topics = list(topics)
        self.handler = handler
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_records = max_records
        self.poll_timeout = poll_timeout
        self.dead_lettered = 0
        self._reported: set[TopicPartition] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; the batch in hand is finished and committed before returning."""
        consumer = self.bus.consumer(self.group_id, self.topics, max_records=self.max_records)
        await self._until_done(consumer.start, stop)
        try:
            while not stop.is_set():
                batch = await self._until_done(lambda: consumer.getmany(timeout=self.poll_timeout), stop)
                self._report_lag(consumer.lag())
                if not batch:
                    continue
                started = time.perf_counter()
                await self.bus.make_way()
                if not await self._process(batch, stop):
                    break  # stopped during an outage: leave the batch uncommitted for redelivery
                await self._until_done(consumer.commit, stop)
                BATCH_DURATION.labels(self.group_id).observe(time.perf_counter() - started)
                for message in batch:
                    MESSAGES_CONSUMED.labels(self.group_id, message.topic).inc()
        finally:
            self._report_lag({})  # a member that left reports nothing
            await self._stop_consumer(consumer)

    def _report_lag(self, lag: Mapping[TopicPartition, int]) -> None:
        """Set `ew_bus_consumer_lag` for the partitions this member owns, and drop those it lost."""
        for topic, partition in self._reported - lag.keys():
            CONSUMER_LAG.remove(self.group_id, topic, str(partition))
        for (topic, partition), behind in lag.items():
            CONSUMER_LAG.labels(self.group_id, topic, str(partition)).set(behind)
        self._reported = set(lag)

    async def _stop_consumer(self, consumer: Consumer) -> None:
        try:
            await consumer.stop()
        except Exception as exc:  # leaving the group is best effort; the session times out anyway
            log.warning("consumer of %s did not stop cleanly: %s", self.group_id, describe_error(exc))

    async def _until_done(self, step: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T:
        """Run `step`, retrying with backoff through outages (not through bugs)."""
        delay = self.retry_delay
        while True:
            try:
                return await step()
            except Exception as exc:
                if not is_transient(exc) or stop.is_set():
                    raise
                log.warning("%s: %s; retrying in %.1fs", self.group_id, describe_error(exc), delay)
                await sleep_or_stop(delay, stop)
                delay = min(delay * 2, self.max_retry_delay)

    async def _process(self, batch: Sequence[Message], stop: asyncio.Event) -> bool:
        """Handle a batch; False if stopped before it was done."""
        delay = self.retry_delay
        while True:
            try:
                await self.handler(batch)
                return True
            except Exception as exc:
                if not is_transient(exc):
                    if len(batch) == 1:
                        return await self._process_one(batch[0], stop, first_error=exc)
                    log.info(
                        "%s: batch failed (%s); isolating the message", self.group_id, describe_error(exc)
                    )
                    for message in batch:
                        if not await self._process_one(message, stop):
                            return False
                    return True
                if stop.is_set():
                    return False
                log.warning("%s: %s; retrying the batch in %.1fs", self.group_id, describe_error(exc), delay)
                await sleep_or_stop(delay, stop)
                delay = min(delay * 2, self.max_retry_delay)

    async def _process_one(
        self, message: Message, stop: asyncio.Event, first_error: BaseException | None = None
    ) -> bool:
        attempts = 0
        error = first_error
        delay = self.retry_delay
        while True:
            if error is None:
                try:
                    await self.handler([message])
                    return True
                except Exception as exc:
                    error = exc
            if isinstance(error, Poison):
                break
            if is_transient(error):
                if stop.is_set():
                    return False
                await sleep_or_stop(delay, stop)
                delay = min(delay * 2, self.max_retry_delay)
            else:
                attempts += 1
                if attempts >= self.max_attempts:
                    break
                await sleep_or_stop(self.retry_delay, stop)
            error = None
        reason = describe_error(error)
        log.error(
            "dead-lettering %s[%d]@%d after %d attempt(s): %s",
            message.topic,
            message.partition,
            message.offset,
            max(attempts, 1),
            reason,
            extra={"company_id": message.key, "group": self.group_id},
        )
        await self._until_done(lambda: self.bus.publish([dead_letter(message, reason)]), stop)
        MESSAGES_DEAD_LETTERED.labels(self.group_id, message.topic).inc()
        self.dead_lettered += 1
        return True


async def sleep_or_stop(delay: float, stop: asyncio.Event) -> None:
    """Wait `delay` seconds, or less if `stop` is set meanwhile: the pause of every background loop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
