"""The signal events the service emits: built in the transaction that changes a signal, relayed to the bus.

A change of a signal and the event that announces it are written in one transaction (the outbox
pattern), so an event is never lost nor announced for a change that was rolled back. The relay then
publishes the unpublished rows in the order they were written and marks them published.

Delivery is at least once: a crash between `bus.publish` and marking the rows published publishes the
same rows again at the next start, with the SAME CloudEvent ids. Consumers of `ew.signals` deduplicate
on the id (the notifier keys its deliveries on it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from services.signals import store
from services.signals.rules import ChangeKind
from services.signals.store import CompanyRecord, OutboxEntry, SignalRecord
from shared import topics
from shared.bus import Bus, Record, is_transient
from shared.cloudevents import CloudEvent
from shared.db import exclusive, utcnow
from shared.schemas import SignalEventType

log = logging.getLogger(__name__)

SOURCE = "/earlywarning/signals"

EVENT_TYPES: dict[ChangeKind, SignalEventType] = {
    ChangeKind.RAISED: SignalEventType.RAISED,
    ChangeKind.UPDATED: SignalEventType.UPDATED,
    ChangeKind.RESOLVED: SignalEventType.RESOLVED,
}

# Any fixed number: the PostgreSQL advisory lock that lets one relay at a time publish, so that the
# events of a signal reach the bus in the order they were written even with several replicas.
_RELAY_LOCK_ID = 0x45575245_4C4159  # "EWRELAY"


def event_id(signal_id: str, version: int, kind: ChangeKind) -> str:
    """The CloudEvent id of a change: the same on every attempt, different for every change of a signal."""
    digest = hashlib.sha256(f"{signal_id}|{version}|{kind.value}".encode()).hexdigest()
    return f"sev_{digest[:24]}"


def outbox_entry(
    record: SignalRecord, kind: ChangeKind, company: CompanyRecord, now: datetime
) -> OutboxEntry:
    """The event announcing that `record` (in its new state) was raised, updated or resolved."""
    return OutboxEntry(
        event_id=event_id(record.id, record.version, kind),
        company_id=record.company_id,
        type=EVENT_TYPES[kind].value,
        payload=record.to_signal(company).model_dump_json(),
        created_at=now,
    )


def to_record(entry: OutboxEntry) -> Record:
    """The CloudEvent (binary mode) of an outbox row, keyed by company."""
    event = CloudEvent(
        id=entry.event_id,
        source=SOURCE,
        type=entry.type,
        data=entry.payload.encode(),
        subject=entry.company_id,
        time=entry.created_at,
        extensions={"traceparent": entry.traceparent} if entry.traceparent else {},
    )
    return event.to_record(topics.SIGNALS)


class OutboxRelay:
    """Publishes the outbox to `ew.signals`: when woken after a commit, and every `interval` seconds.

    The periodic pass picks up what other writers queued (the API's manual resolutions, another process)
    and what a crash left unpublished.
    """

    group_id = "ew.signals.outbox"
    """Names the task in readiness checks and logs, like a consumer group does."""

    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        *,
        interval: float = 0.5,
        batch_size: int = 500,
        retention: timedelta = timedelta(days=7),
        prune_every: float = 3600.0,
        max_retry_delay: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.interval = interval
        self.batch_size = batch_size
        self.max_retry_delay = max_retry_delay
        self.clock = clock
        self.retention = retention
        self.prune_every = prune_every
        self.published = 0
        self._pruned_at = -math.inf
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        """Publish soon: something was just queued."""
        self._wake.set()

    async def flush(self) -> int:
        """Publish every unpublished event, oldest first; the number published.

        Returns 0 at once when another process holds the relay lock (PostgreSQL): it publishes them.
        """
        async with self._lock:
            async with self.engine.connect() as conn:
                if not await store.has_pending_outbox(conn):
                    return 0
            return await self._flush_locked()

    async def _flush_locked(self) -> int:
        async with exclusive(self.engine, _RELAY_LOCK_ID) as held:
            return await self._publish_pending() if held else 0

    async def _publish_pending(self) -> int:
        total = 0
        while True:
            async with self.engine.connect() as conn:
                entries = await store.pending_outbox(conn, self.batch_size)
            if not entries:
                return total
            await self.bus.publish([to_record(entry) for entry in entries])
            # A crash here republishes these entries, with the same ids, on the next pass.
            async with self.engine.begin() as conn:
                await store.mark_published(conn, [e.seq for e in entries if e.seq is not None], self.clock())
            total += len(entries)
            self.published += len(entries)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set, then once more for what the last batch queued."""
        delay = self.interval
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.flush()
                await self._prune_now_and_then()
                delay = self.interval
            except Exception as exc:
                # An outage is retried quietly; anything else is logged in full, and retried too: the
                # rows stay queued, nothing is lost by waiting.
                if is_transient(exc):
                    log.warning("outbox relay: %s; retrying in %.1fs", type(exc).__name__, delay)
                else:
                    log.exception("outbox relay failed; retrying in %.1fs", delay)
                await _wait(stop, None, delay)
                delay = min(delay * 2, self.max_retry_delay)
                continue
            await _wait(stop, self._wake, self.interval)
        try:
            await asyncio.wait_for(self.flush(), timeout=10)
        except Exception as exc:  # what is left stays queued for the next start
            log.warning("outbox relay: last flush failed (%s); the events stay queued", type(exc).__name__)

    async def _prune_now_and_then(self) -> None:
        """Forget events published longer than `retention` ago: the topic keeps them, the table need not."""
        moment = time.monotonic()
        if moment - self._pruned_at < self.prune_every:
            return
        self._pruned_at = moment
        async with self.engine.begin() as conn:
            pruned = await store.prune_outbox(conn, self.clock() - self.retention)
        if pruned:
            log.info("outbox relay: pruned %d published events", pruned)


async def _wait(stop: asyncio.Event, wake: asyncio.Event | None, timeout: float) -> None:
    """Until `stop` or `wake` is set, or `timeout` seconds pass."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
