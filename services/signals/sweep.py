"""The sweep: every company judged again as of the present, at start-up and every `EW_SWEEP_INTERVAL`.

Events say what happened; absence needs a clock. A customer that stopped ordering (`churn_risk`), annual
accounts not filed by their deadline (`accounts_overdue`), or a window that ran out (an old tax debt no longer
counts) change nothing on the bus, so the consumer, which judges a company when one of its events arrives,
would never see them. Nor would it see what its peers' orders say about a customer: each sweep first
runs the share-of-wallet analysis for `growth_opportunity` (`wallet.refresh`). The sweep moves each company's clock to the present and judges it there, in chunks
of companies, each chunk in one transaction with the outbox events of its changes, like a batch of events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.signals import store, wallet
from services.signals.consumer import IntakeHandler
from shared.bus import is_transient, sleep_or_stop
from shared.db import exclusive, utcnow
from shared.metrics import SWEEP_COMPANIES, SWEEP_DURATION

log = logging.getLogger(__name__)

# Any fixed number: the PostgreSQL advisory lock that lets one replica at a time sweep.
SWEEP_LOCK_ID = 0x45575357454550  # "EWSWEEP"


class Sweeper:
    """Judges every company with a history as of the present: now, then every `interval` seconds."""

    group_id = "ew.signals.sweep"
    """Names the task in readiness checks and logs, like a consumer group does."""

    def __init__(
        self,
        engine: AsyncEngine,
        handler: IntakeHandler,
        interval: float,
        *,
        chunk: int = 200,
        clock: Callable[[], datetime] = utcnow,
        retry_delay: float = 30.0,
    ) -> None:
        self.engine = engine
        self.handler = handler
        self.interval = interval
        self.chunk = chunk
        self.clock = clock
        self.retry_delay = retry_delay

    async def sweep(self) -> tuple[int, int]:
        """One sweep as of the present: (companies judged, signal events queued).

        Nothing when another replica holds the sweep (PostgreSQL): it judges the same companies. A sweep
        cut short (a crash, an outage) starts again from the first company next time; companies already
        judged at this time are skipped, since their clock is no longer before it.
        """
        until = self.clock()
        judged = queued = 0
        async with exclusive(self.engine, SWEEP_LOCK_ID) as held:
            if not held:
                return 0, 0
            # Share of wallet is a portfolio-wide analysis: run once, read by every judgement below.
            await wallet.refresh(self.engine, until, self.handler.config.growth_opportunity.wallet_share)
            after = ""
            while True:
                async with self.engine.begin() as conn:
                    ids = await store.companies_due(conn, until, after, self.chunk)
                    if not ids:
                        break
                    changes = await self.handler.judge_again(conn, ids, until)
                self.handler.committed(changes)
                SWEEP_COMPANIES.inc(len(ids))
                judged += len(ids)
                queued += len(changes)
                after = ids[-1]
        return judged, queued

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep now and every `interval` seconds until `stop`; a failed sweep is tried again sooner."""
        while not stop.is_set():
            try:
                with SWEEP_DURATION.time():
                    judged, queued = await self.sweep()
            except Exception as exc:
                if is_transient(exc):
                    log.warning("sweep: %s; retrying in %.0fs", type(exc).__name__, self.retry_delay)
                else:
                    log.exception("sweep failed; retrying in %.0fs", self.retry_delay)
                delay = min(self.retry_delay, self.interval)
            else:
                if judged:
                    log.info("sweep: %d companies judged, %d signal events queued", judged, queued)
                delay = self.interval
            await sleep_or_stop(delay, stop)
