"""Bootstrap of the signals service: correlates the intake topics per company over time into risk,
opportunity and retention signals, serves them, and announces every change on `ew.signals`."""

from __future__ import annotations

import asyncio
import contextlib

from services.signals.api import router
from services.signals.consumer import GROUP_ID, TOPICS, IntakeHandler
from services.signals.outbox import OutboxRelay
from services.signals.rules import load_rules
from services.signals.sweep import Sweeper
from shared.bus import Worker
from shared.runtime import Infrastructure, ServiceSpec

BATCH = {"kafka": 2000, "embedded": 500}
"""Messages per consumed batch. A batch is one transaction of some fifteen statements whatever its size:
on Kafka + PostgreSQL larger batches spread those round trips over more events; on SQLite the transaction
holds the one write lock every service of the process shares, so it stays short."""


class SignalsWorker(Worker):
    """The intake consumer with the outbox relay and the sweep alongside, run as one task.

    The runner starts `Worker`s only; the relay and the sweep are not consumers, so they ride along here.
    The sweep stops with the consumer, the relay after both, so that what they queued is still published.
    """

    def __init__(self, infra: Infrastructure, relay: OutboxRelay) -> None:
        handler = IntakeHandler(
            infra.engine, config=load_rules(infra.settings.rules_file), on_commit=relay.wake
        )
        super().__init__(
            infra.bus,
            GROUP_ID,
            TOPICS,
            handler,
            max_attempts=infra.settings.bus_max_attempts,
            max_records=BATCH.get(infra.bus.kind, 500),
        )
        self.relay = relay
        interval = infra.settings.sweep_interval
        self.sweeper = Sweeper(infra.engine, handler, interval) if interval > 0 else None

    async def run(self, stop: asyncio.Event) -> None:
        relay_stop = asyncio.Event()
        relay = asyncio.create_task(self.relay.run(relay_stop), name=OutboxRelay.group_id)
        sweep = asyncio.create_task(self.sweeper.run(stop), name=Sweeper.group_id) if self.sweeper else None
        try:
            await super().run(stop)
        finally:
            if sweep is not None:
                sweep.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweep
            relay_stop.set()
            await relay


def workers(infra: Infrastructure) -> list[Worker]:
    return [SignalsWorker(infra, OutboxRelay(infra.engine, infra.bus))]


SERVICE = ServiceSpec(name="signals", router=router, workers=workers)
