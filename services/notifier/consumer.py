"""What arrives from the bus: signal events become deliveries, portfolio entries the routing facts.

For a batch of messages, in ONE transaction: the routing facts of companies are updated (segment and
account manager from `ew.portfolio`; whether a bankruptcy is open, from `ew.signals`), and each signal
event gets one delivery row per subscription it concerns, with the routing decision as its status
(`pending` to send now, `digest` for the daily digest, `silenced`, `inhibited`). The worker commits the
offsets after that transaction; a redelivered event finds its rows and adds none (`store.add_deliveries`),
so each subscription gets each signal event exactly once. Sending is the dispatcher's job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier import store
from services.notifier.policy import CompanyFacts, Decision, Match, Mode, Silence, decide
from services.notifier.store import CompanyRow, DeliveryRecord, SubscriptionRecord
from shared import topics
from shared.bus import Message, Poison
from shared.cloudevents import InvalidEnvelope, decode, trace_context
from shared.db import utcnow
from shared.schemas import PortfolioEntry, Signal, SignalName, SignalStatus
from shared.tracing import consuming, traceparent_of, tracer

GROUP_ID = "ew.notifier"
TOPICS: tuple[str, ...] = (topics.SIGNALS, topics.PORTFOLIO)

_STATUS = {Decision.DELIVER: "pending", Decision.DIGEST: "digest"}


TRACER = tracer("notifier")


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """One event of `ew.signals`: its CloudEvent id and type, and the signal in its new state."""

    id: str
    type: str
    signal: Signal
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """A subscription as routing reads it."""

    id: str
    channel: str
    target: str
    match: Match
    mode: Mode

    @classmethod
    def of(cls, record: SubscriptionRecord) -> Route:
        mode: Mode = "digest" if record.mode == "digest" else "immediate"
        return cls(record.id, record.channel, target_of(record), Match.model_validate(record.match), mode)


def target_of(record: SubscriptionRecord) -> str:
    """The unit of queues and circuit breakers: `host:port` of a webhook URL, or the email address."""
    if record.channel == "email":
        return (record.email or "").lower()
    parts = urlsplit(record.url or "")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def decode_message(message: Message) -> SignalEvent | PortfolioEntry:
    """The signal event or portfolio entry of a message; `Poison` when it cannot be read."""
    if message.topic == topics.PORTFOLIO:
        try:
            return decode(message, PortfolioEntry)[1]
        except InvalidEnvelope as exc:
            raise Poison(str(exc)) from exc
    if message.topic != topics.SIGNALS:
        raise Poison(f"the notifier does not read {message.topic}")
    try:
        event, signal = decode(message, Signal)
    except (InvalidEnvelope, ValidationError) as exc:
        raise Poison(str(exc)) from exc
    return SignalEvent(event.id, event.type, signal)


@dataclass
class Routed:
    """What a batch writes: its deliveries in order, and the companies whose portfolio facts (`facts`) or
    open bankruptcy (`bankrupt`) changed. The two are written apart, each to its own columns: a company's
    portfolio entries and signals may be handled by two processes at once."""

    deliveries: list[DeliveryRecord]
    facts: dict[str, CompanyRow]
    bankrupt: dict[str, CompanyRow]


def route(
    items: Sequence[SignalEvent | PortfolioEntry],
    routes: Sequence[Route],
    companies: Mapping[str, CompanyRow],
    silences: Sequence[Silence],
    now: datetime,
    *,
    inhibit: bool = True,
) -> Routed:
    """The deliveries of a batch and the routing facts it changed.

    Pure. Items are taken in order, so that a bankruptcy raised earlier in the batch inhibits what follows
    it (unless `inhibit` is off); a company not known yet has no portfolio facts and no open bankruptcy.
    """
    state = dict(companies)
    routed = Routed([], {}, {})
    for item in items:
        known = state.get(item.company_id if isinstance(item, PortfolioEntry) else item.signal.company_id)
        if isinstance(item, PortfolioEntry):
            row = CompanyRow(
                item.company_id,
                None if item.deleted else item.segment,
                None if item.deleted else item.account_manager,
                known.bankrupt if known else False,
            )
            state[row.company_id] = routed.facts[row.company_id] = row
            continue
        signal = item.signal
        facts = CompanyFacts(known.segment, known.account_manager) if known else None
        bankrupt = inhibit and bool(known and known.bankrupt)
        for subscription in routes:
            decision = decide(
                signal,
                mode=subscription.mode,
                match=subscription.match,
                company=facts,
                silences=silences,
                bankrupt=bankrupt,
                now=now,
            )
            if decision is Decision.UNMATCHED:
                continue
            routed.deliveries.append(
                _delivery(item, subscription, _STATUS.get(decision, decision.value), now)
            )
        if signal.signal == SignalName.BANKRUPTCY.value:
            row = known or CompanyRow(signal.company_id, None, None, False)
            row = replace(row, bankrupt=signal.status is SignalStatus.OPEN)
            state[row.company_id] = routed.bankrupt[row.company_id] = row
    return routed


def _delivery(event: SignalEvent, subscription: Route, status: str, now: datetime) -> DeliveryRecord:
    signal = event.signal
    return DeliveryRecord(
        id=store.delivery_id(event.id, subscription.id),
        subscription_id=subscription.id,
        event_id=event.id,
        event_type=event.type,
        signal_id=signal.id,
        company_id=signal.company_id,
        signal=signal.signal,
        severity=signal.severity.value,
        channel=subscription.channel,
        target=subscription.target,
        payload=signal.model_dump_json(),
        traceparent=event.traceparent,
        status=status,
        attempts=0,
        created_at=now,
        next_attempt_at=now if status == "pending" else None,
    )


class SignalsHandler:
    """The worker's handler for `ew.signals` and `ew.portfolio`; `on_commit` after deliveries were queued."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_commit: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        inhibit: bool = True,
    ) -> None:
        self.engine = engine
        self.on_commit = on_commit
        self.inhibit = inhibit
        self.clock = clock

    async def __call__(self, messages: Sequence[Message]) -> None:
        items = [decode_message(message) for message in messages]
        with consuming(TRACER, "route", [trace_context(message) for message in messages]) as spans:
            # Each delivery continues the trace under the span of its signal event.
            traced = [
                replace(item, traceparent=traceparent_of(span)) if isinstance(item, SignalEvent) else item
                for item, span in zip(items, spans, strict=True)
            ]
            await self._route(traced)

    async def _route(self, items: Sequence[SignalEvent | PortfolioEntry]) -> None:
        now = self.clock()
        ids = {i.company_id if isinstance(i, PortfolioEntry) else i.signal.company_id for i in items}
        async with self.engine.begin() as conn:
            routes = [Route.of(record) for record in await store.live_subscriptions(conn)]
            silences = [
                Silence(s.id, s.company_id, s.signal, s.ends_at)
                for s in await store.active_silences(conn, now)
            ]
            companies = await store.companies_of(conn, ids)
            routed = route(items, routes, companies, silences, now, inhibit=self.inhibit)
            await store.put_companies(conn, routed.facts, now, ("segment", "account_manager"))
            await store.put_companies(conn, routed.bankrupt, now, ("bankrupt",))
            await store.add_deliveries(conn, routed.deliveries)
        if any(d.status == "pending" for d in routed.deliveries) and self.on_commit is not None:
            self.on_commit()
