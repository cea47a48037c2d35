"""Bootstrap of the notifier service: routes signals to credit and sales teams by signed webhooks and
email, with retries, digests, silences and a delivery log."""

from __future__ import annotations

import asyncio
import contextlib
import functools

from services.notifier.api import router
from services.notifier.consumer import GROUP_ID, TOPICS, SignalsHandler
from services.notifier.digest import DigestSender
from services.notifier.dispatch import Dispatcher
from services.notifier.policy import RetryPolicy
from services.notifier.sealing import sealer_for
from shared.bus import Worker
from shared.runtime import Infrastructure, ServiceSpec


class NotifierWorker(Worker):
    """The consumer of `ew.signals` and `ew.portfolio`, with the dispatcher and the digest alongside.

    The runner starts `Worker`s only; the dispatcher and the digest ride along here. They stop after the
    consumer, the dispatcher letting the attempts in flight finish.
    """

    def __init__(self, infra: Infrastructure) -> None:
        settings = infra.settings
        self.dispatcher = Dispatcher(
            infra.engine,
            settings,
            sealer=functools.cache(lambda: sealer_for(settings)),
            policy=RetryPolicy(
                first_delay=settings.webhook_retry_base,
                max_delay=max(settings.webhook_retry_base, min(3600.0, settings.webhook_retry_window / 4)),
                window=settings.webhook_retry_window,
            ),
            timeout=settings.webhook_timeout,
        )
        self.digest = DigestSender(infra.engine, settings)
        handler = SignalsHandler(
            infra.engine, on_commit=self.dispatcher.wake, inhibit=settings.inhibit_after_bankruptcy
        )
        super().__init__(infra.bus, GROUP_ID, TOPICS, handler, max_attempts=settings.bus_max_attempts)

    async def run(self, stop: asyncio.Event) -> None:
        sending = asyncio.Event()
        tasks = [
            asyncio.create_task(self.dispatcher.run(sending), name=Dispatcher.group_id),
            asyncio.create_task(self.digest.run(sending), name=DigestSender.group_id),
        ]
        try:
            await super().run(stop)
        finally:
            sending.set()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def workers(infra: Infrastructure) -> list[Worker]:
    return [NotifierWorker(infra)]


SERVICE = ServiceSpec(name="notifier", router=router, workers=workers)
