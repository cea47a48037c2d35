"""Bootstrap of the signals service: correlates the intake topics per company over time into risk,
opportunity and retention signals, serves them, and announces every change on `ew.signals`."""

from __future__ import annotations

import asyncio

from services.signals.api import router
from services.signals.consumer import GROUP_ID, TOPICS, IntakeHandler
from services.signals.outbox import OutboxRelay
from services.signals.rules import load_rules
from shared.bus import Worker
from shared.runtime import Infrastructure, ServiceSpec


class SignalsWorker(Worker):
    """The intake consumer with the outbox relay alongside, run as one task.

    The runner starts `Worker`s only; the relay is not a consumer, so it rides along here. It stops after
    the consumer, so that what the last batch queued is still published.
    """

    def __init__(self, infra: Infrastructure, relay: OutboxRelay) -> None:
        super().__init__(
            infra.bus,
            GROUP_ID,
            TOPICS,
            IntakeHandler(infra.engine, config=load_rules(infra.settings.rules_file), on_commit=relay.wake),
            max_attempts=infra.settings.bus_max_attempts,
        )
        self.relay = relay

    async def run(self, stop: asyncio.Event) -> None:
        relay_stop = asyncio.Event()
        relay = asyncio.create_task(self.relay.run(relay_stop), name=OutboxRelay.group_id)
        try:
            await super().run(stop)
        finally:
            relay_stop.set()
            await relay


def workers(infra: Infrastructure) -> list[Worker]:
    return [SignalsWorker(infra, OutboxRelay(infra.engine, infra.bus))]


SERVICE = ServiceSpec(name="signals", router=router, workers=workers)
