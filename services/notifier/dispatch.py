"""Sending: the dispatcher claims due deliveries and sends them, each target in its own lane.

- Webhooks: `POST` of the signal JSON with Standard Webhooks headers; `webhook-id` is the delivery id, the
  same on every attempt. 2xx is delivered; a timeout, a connection error, 408/409/425/429 or 5xx is retried
  with exponential backoff and jitter (`policy.next_attempt`) until the retry window (24 h) runs out, then
  `failed`; other 4xx fail at once. Redirects are not followed, and the target's addresses are checked
  again at every connection (`targets`): DNS rebinding cannot turn a vetted host into an internal one.
- Email (`mail`): one message per signal event, retried the same way when the SMTP server fails.
- Lanes: at most `per_target` attempts in flight per target (`host:port` or address), and a circuit breaker
  per target (`policy.Breaker`): a dead target costs its own lane, never the others' time.

Delivery is at least once: a crash after sending and before recording leaves the lease to expire and the
delivery is sent again, with the same `webhook-id` (receivers deduplicate on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier import mail, store, targets
from services.notifier.policy import (
    Breaker,
    RetryPolicy,
    allow,
    is_retryable,
    next_attempt,
    record_failure,
    record_success,
    retry_after,
)
from services.notifier.sealing import Sealer
from services.notifier.store import Attempt, DeliveryRecord, SubscriptionRecord
from shared.bus import is_transient
from shared.db import utcnow
from shared.metrics import DELIVERIES, DELIVERY_BACKLOG
from shared.schemas import Signal
from shared.settings import Settings
from shared.tracing import context_of, trace_fields, tracer
from shared.webhooks import sign

log = logging.getLogger(__name__)
TRACER = tracer("notifier")

USER_AGENT = "EarlyWarning-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt: delivered or not, the HTTP status (None: no answer), an error for the log, a
    `Retry-After` asked by the target, and `final` when retrying cannot help (a refused target)."""

    success: bool
    status: int | None = None
    error: str | None = None
    retry_at: datetime | None = None
    final: bool = False


class Dispatcher:
    """Sends due deliveries until stopped; `wake()` after new ones were queued."""

    group_id = "ew.notifier.dispatch"
    """Names the task in readiness checks and logs, like a consumer group does."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        sealer: Callable[[], Sealer],
        policy: RetryPolicy | None = None,
        per_target: int = 8,
        queue_per_target: int = 32,
        max_held: int = 1024,
        timeout: float = 10.0,
        poll_interval: float = 0.5,
        record_interval: float = 0.02,
        record_batch: int = 200,
        lease: timedelta | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.sealer = sealer
        self.policy = policy or RetryPolicy()
        self.per_target = per_target
        self.queue_per_target = max(queue_per_target, per_target)
        self.max_held = max_held
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.record_interval = record_interval
        self.record_batch = record_batch
        # Long enough for a lane to work through its queue at the timeout and record it; after a crash,
        # what the process held waits this long before another one takes it.
        turns = self.queue_per_target // per_target
        self.lease = lease or timedelta(seconds=turns * timeout + 5)
        self.clock = clock
        self.rng = rng or random.Random()
        self.breakers: dict[str, Breaker] = {}
        self.in_flight: Counter[str] = Counter()
        self.queues: dict[str, deque[DeliveryRecord]] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscriptions: dict[str, tuple[float, SubscriptionRecord | None]] = {}
        self._client: httpx.AsyncClient | None = None
        self._results: list[tuple[Attempt, str]] = []
        self._results_ready = asyncio.Event()
        self._measured_at = -math.inf

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._client = targets.client(allow_private=self.settings.webhook_allow_private, timeout=self.timeout)
        recording = asyncio.Event()
        recorder = asyncio.create_task(self._record_loop(recording), name="ew.notifier.record")
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.dispatch_once()
                    await self.measure()
                except Exception as exc:
                    if is_transient(exc):
                        log.warning("dispatcher: %s; retrying", type(exc).__name__)
                    else:
                        log.exception("dispatcher failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        finally:
            # What is queued goes back at once; attempts in flight finish (bounded by the request timeout).
            queued = [d.id for queue in self.queues.values() for d in queue]
            self.queues.clear()
            if queued:
                with contextlib.suppress(Exception):  # not given back: the leases expire
                    async with self.engine.begin() as conn:
                        await store.release(conn, *queued)
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.timeout + 5)
            recording.set()
            await recorder
            await self._client.aclose()

    async def measure(self) -> None:
        """Refresh the backlog gauge (a count by status: cheap on the status index), every few seconds."""
        if time.monotonic() - self._measured_at < 5.0:
            return
        self._measured_at = time.monotonic()
        async with self.engine.connect() as conn:
            counts = await store.count_by_status(conn, ("pending", "digest"))
        for status in ("pending", "digest"):
            DELIVERY_BACKLOG.labels(status).set(counts.get(status, 0))

    def held(self, target: str) -> int:
        """Deliveries of a target this process holds: queued and in flight."""
        return self.in_flight[target] + len(self.queues.get(target, ()))

    async def dispatch_once(self) -> int:
        """Claim what is due into the targets' queues; the number claimed.

        Each target holds at most `queue_per_target` claimed deliveries, of which `per_target` in flight:
        claims refill the queues in batches, and a finished attempt starts the next one of its lane at once,
        without waiting for the database.
        """
        targets_held = set(self.in_flight) | set(self.queues)
        room = self.max_held - sum(self.held(target) for target in targets_held)
        if room <= 0:
            return 0
        # A lane at least half full is left alone: it is refilled in batches, not one by one.
        busy = [t for t in targets_held if self.held(t) * 2 >= self.queue_per_target]
        now = self.clock()
        async with self.engine.begin() as conn:
            claimed = await store.claim_due(
                conn, now, limit=room, per_target=self.queue_per_target, lease=self.lease, busy=busy
            )
        overflow: list[str] = []
        for delivery in claimed:
            if self.held(delivery.target) >= self.queue_per_target:
                overflow.append(delivery.id)
                continue
            self.queues.setdefault(delivery.target, deque()).append(delivery)
        for target in {delivery.target for delivery in claimed}:
            self._start(target)
        if overflow:
            async with self.engine.begin() as conn:
                await store.release(conn, *overflow)
        return len(claimed) - len(overflow)

    def _start(self, target: str) -> None:
        """Start attempts from the target's queue while its lane has room."""
        queue = self.queues.get(target)
        while queue and self.in_flight[target] < self.per_target:
            delivery = queue.popleft()
            self.in_flight[target] += 1
            task = asyncio.create_task(self._attempt(delivery), name=f"delivery {delivery.id}")
            self._tasks.add(task)
            task.add_done_callback(self._done(target))
        if queue is not None and not queue:
            del self.queues[target]

    def _done(self, target: str) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            self.in_flight[target] -= 1
            if self.in_flight[target] <= 0:
                del self.in_flight[target]
            self._start(target)
            if self.held(target) * 2 < self.queue_per_target:
                self._wake.set()  # room for a refill

        return done

    async def _attempt(self, delivery: DeliveryRecord) -> None:
        try:
            await self._attempt_unguarded(delivery)
        except Exception:
            # Recording failed (database outage): the lease expires and the delivery is tried again.
            log.exception("delivery %s: the attempt could not be recorded", delivery.id)

    async def _attempt_unguarded(self, delivery: DeliveryRecord) -> None:
        now = self.clock()
        breaker = self.breakers.get(delivery.target, Breaker.closed())
        allowed, breaker = allow(breaker, now)
        self.breakers[delivery.target] = breaker
        if not allowed:
            # The circuit is open: this delivery and the rest of the target's queue go back, due when the
            # circuit may be tried again.
            assert breaker.opened_until is not None
            queued = self.queues.pop(delivery.target, deque())
            async with self.engine.begin() as conn:
                await store.postpone(conn, delivery.target, breaker.opened_until)
                await store.release(conn, delivery.id, *(d.id for d in queued))
            return
        subscription = await self._subscription(delivery.subscription_id)
        if subscription is None:
            await self._record(
                delivery, "cancelled", None, Outcome(success=False, error="subscription deleted")
            )
            return
        parent = context_of({"traceparent": delivery.traceparent}) if delivery.traceparent else None
        with TRACER.start_as_current_span(
            f"deliver {delivery.channel}", context=parent, kind=SpanKind.CLIENT
        ) as span:
            span.set_attribute("ew.delivery_id", delivery.id)
            span.set_attribute("ew.attempt", delivery.attempts + 1)
            outcome = await self._send(delivery, subscription)
            if outcome.status is not None:
                span.set_attribute("http.response.status_code", outcome.status)
            if not outcome.success:
                span.set_status(Status(StatusCode.ERROR, outcome.error or "failed"))
        now = self.clock()
        if outcome.success:
            self.breakers[delivery.target] = record_success(self.breakers[delivery.target])
            await self._record(delivery, "delivered", None, outcome)
            return
        self.breakers[delivery.target] = record_failure(self.breakers[delivery.target], now)
        retry = None
        if is_retryable(outcome.status) and not outcome.final:
            retry = next_attempt(
                self.policy,
                failures=delivery.attempts + 1,
                first_attempt_at=delivery.first_attempt_at or now,
                now=now,
                rand=self.rng.random(),
            )
            if retry is not None and outcome.retry_at is not None:
                ceiling = now + timedelta(seconds=self.policy.max_delay)
                retry = max(retry, min(outcome.retry_at, ceiling))
        await self._record(delivery, "pending" if retry else "failed", retry, outcome)

    async def _record(
        self, delivery: DeliveryRecord, status: str, retry: datetime | None, outcome: Outcome
    ) -> None:
        """Queue the attempt for the recorder, which writes attempts in batches: one transaction per
        attempt would cap deliveries at the database's commit rate."""
        attempt = Attempt(delivery.id, status, self.clock(), retry, outcome.status, outcome.error)
        if status != "delivered":
            log.warning(
                "delivery %s: %s (%s)",
                delivery.id,
                status,
                outcome.error,
                extra={
                    "company_id": delivery.company_id,
                    "event_id": delivery.event_id,
                    "target": delivery.target,
                    "attempts": delivery.attempts + 1,
                },
            )
        self._results.append((attempt, delivery.channel))
        if len(self._results) >= self.record_batch:
            self._results_ready.set()

    async def _record_loop(self, stop: asyncio.Event) -> None:
        """Write queued attempts every `record_interval` seconds (sooner when a batch is full), then once
        more after `stop`. A crash loses the unwritten ones: their leases expire and they are sent again."""
        while True:
            stopping = stop.is_set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._results_ready.wait(), timeout=self.record_interval)
            self._results_ready.clear()
            batch, self._results = self._results, []
            if batch:
                try:
                    async with self.engine.begin() as conn:
                        await store.record_attempts(conn, [attempt for attempt, _ in batch])
                except Exception as exc:
                    # Not written: the leases expire and the deliveries are sent again (same webhook-id).
                    log.warning("dispatcher: %d attempts not recorded (%s)", len(batch), type(exc).__name__)
                else:
                    for attempt, channel in batch:
                        DELIVERIES.labels(channel, attempt.status).inc()
                    self._wake.set()
            if stopping:
                return

    async def _subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        """The subscription, cached for a few seconds (a deletion takes effect within them)."""
        cached = self._subscriptions.get(subscription_id)
        if cached is not None and time.monotonic() - cached[0] < 5.0:
            return cached[1]
        async with self.engine.connect() as conn:
            record = await store.get_subscription(conn, subscription_id)
        self._subscriptions[subscription_id] = (time.monotonic(), record)
        return record

    async def _send(self, delivery: DeliveryRecord, subscription: SubscriptionRecord) -> Outcome:
        if delivery.channel == "email":
            return await self._send_mail(delivery, subscription)
        return await self._send_webhook(delivery, subscription)

    async def _send_webhook(self, delivery: DeliveryRecord, subscription: SubscriptionRecord) -> Outcome:
        assert self._client is not None
        if not subscription.url or not subscription.secret:
            return Outcome(success=False, error="the subscription has no URL or secret", final=True)
        secret = self.sealer().open(subscription.secret, bound_to=subscription.id)
        body = delivery.payload.encode()
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery.id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, delivery.id, stamp, body),
            # The receiver may carry on the trace (W3C Trace Context).
            **trace_fields(),
        }
        try:
            response = await self._client.post(subscription.url, content=body, headers=headers)
        except targets.TargetRefused as exc:
            return Outcome(success=False, error=f"target refused: {exc}", final=True)
        except httpx.TimeoutException:
            return Outcome(success=False, error="timeout")
        except httpx.HTTPError as exc:
            return Outcome(success=False, error=f"{type(exc).__name__}: {exc}"[:300])
        if 200 <= response.status_code < 300:
            return Outcome(success=True, status=response.status_code)
        return Outcome(
            success=False,
            status=response.status_code,
            error=f"HTTP {response.status_code}",
            retry_at=retry_after(response.headers.get("retry-after"), self.clock()),
        )

    async def _send_mail(self, delivery: DeliveryRecord, subscription: SubscriptionRecord) -> Outcome:
        if not self.settings.smtp_url:
            return Outcome(success=False, error="no SMTP server: set EW_SMTP_URL")
        message = mail.render_signal(
            Signal.model_validate_json(delivery.payload),
            event_type=delivery.event_type,
            console_url=self.settings.console_url,
            mail_from=self.settings.mail_from,
            to=subscription.email or "",
            subscription=subscription.name,
        )
        try:
            await mail.send([message], smtp_url=self.settings.smtp_url, timeout=self.timeout)
        except mail.MailError as exc:
            return Outcome(success=False, error=str(exc)[:300])
        return Outcome(success=True)
