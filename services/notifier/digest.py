"""The daily digest: for each email subscription in `digest` mode, one message a day listing the signal
events queued for it before the start of the day (UTC).

Checked every `interval` seconds, so a digest goes out shortly after midnight UTC, or at start-up for days
missed while the service was down (one message for all of them). The rows are marked delivered after the
message was accepted by the SMTP server: a crash in between sends that digest again (at least once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier import mail, store
from shared.bus import is_transient, sleep_or_stop
from shared.db import exclusive, utcnow
from shared.metrics import DELIVERIES
from shared.schemas import Signal
from shared.settings import Settings

log = logging.getLogger(__name__)

# Any fixed number: the PostgreSQL advisory lock that lets one replica at a time send digests.
DIGEST_LOCK_ID = 0x4557444947455354  # "EWDIGEST"


def start_of_day(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


class DigestSender:
    """Sends the digests that are due: now, then every `interval` seconds."""

    group_id = "ew.notifier.digest"

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        interval: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.interval = interval
        self.clock = clock

    async def send_due(self) -> int:
        """Send every digest due now; the number of messages sent."""
        now = self.clock()
        day_start = start_of_day(now)
        sent = 0
        async with exclusive(self.engine, DIGEST_LOCK_ID) as held:
            if not held:
                return 0
            async with self.engine.connect() as conn:
                subscriptions = [
                    s
                    for s in await store.live_subscriptions(conn)
                    if s.channel == "email" and s.mode == "digest" and s.email
                ]
            for subscription in subscriptions:
                async with self.engine.connect() as conn:
                    waiting = await store.digest_pending(conn, subscription.id, day_start)
                if not waiting:
                    continue
                if not self.settings.smtp_url:
                    log.warning("digest for %s not sent: set EW_SMTP_URL", subscription.id)
                    continue
                message = mail.render_digest(
                    [(d.event_type, Signal.model_validate_json(d.payload)) for d in waiting],
                    day=(day_start - timedelta(days=1)).date(),
                    subscription=subscription.name,
                    console_url=self.settings.console_url,
                    mail_from=self.settings.mail_from,
                    to=subscription.email or "",
                )
                await mail.send([message], smtp_url=self.settings.smtp_url)
                async with self.engine.begin() as conn:
                    await store.mark_digested(conn, [d.id for d in waiting], self.clock())
                DELIVERIES.labels("email", "delivered").inc(len(waiting))
                sent += 1
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.send_due()
            except Exception as exc:
                if is_transient(exc) or isinstance(exc, mail.MailError):
                    log.warning("digest: %s; trying again later", exc)
                else:
                    log.exception("digest failed; trying again later")
            await sleep_or_stop(self.interval, stop)
