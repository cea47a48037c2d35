"""What arrives from the bus: intake events become the timeline, and each changed company is judged again.

For a batch of messages, in ONE transaction: the portfolio entries are stored, the new source events are
inserted (an event already stored is a no-op), and every company with a new event is evaluated on its
whole history as of its latest event time, its signals brought in line with the findings, its risk level
and score stored, and one outbox event queued per change. The worker commits the bus offsets only after
that transaction, so a redelivered batch finds its events stored and changes nothing: effects are
exactly once although delivery is at least once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.signals import store
from services.signals.outbox import outbox_entry
from services.signals.rules import (
    Change,
    ChangeKind,
    Context,
    OpenSignal,
    RulesConfig,
    SourceEvent,
    default_rules,
    diff,
    evaluate,
    from_bureau,
    from_contact,
    from_observation,
    from_order,
    from_publication,
    from_register,
    risk_level,
    score,
)
from services.signals.store import CompanyRecord, OutboxEntry, SignalRecord
from shared import topics
from shared.bus import Message, Poison
from shared.cloudevents import InvalidEnvelope, decode
from shared.db import utcnow
from shared.schemas import (
    TOPIC_MODELS,
    BureauEvent,
    Contact,
    Observation,
    Order,
    PortfolioEntry,
    Publication,
    RegisterEvent,
    SignalStatus,
)

GROUP_ID = "ew.signals"
TOPICS: tuple[str, ...] = (
    topics.OBSERVATIONS,
    topics.PUBLICATIONS,
    topics.BUREAU,
    topics.ORDERS,
    topics.REGISTER,
    topics.CONTACTS,
    topics.PORTFOLIO,
)

# --- decoding ----------------------------------------------------------------------------------------


def decode_message(message: Message) -> PortfolioEntry | SourceEvent:
    """The portfolio entry or source event of a message; `Poison` when it cannot be read."""
    model = TOPIC_MODELS.get(message.topic)
    if model is None or message.topic not in TOPICS:
        raise Poison(f"the signals service does not read {message.topic}")
    try:
        event, payload = decode(message, model)
    except InvalidEnvelope as exc:
        raise Poison(str(exc)) from exc
    if isinstance(payload, PortfolioEntry):
        return payload
    return source_event(payload, event.time)


def source_event(payload: BaseModel, published_at: datetime) -> SourceEvent:
    """The source event of an intake payload; `published_at` dates a contact never contacted."""
    if isinstance(payload, Observation):
        return from_observation(payload)
    if isinstance(payload, Publication):
        return from_publication(payload)
    if isinstance(payload, BureauEvent):
        return from_bureau(payload)
    if isinstance(payload, Order):
        return from_order(payload)
    if isinstance(payload, RegisterEvent):
        return from_register(payload)
    if isinstance(payload, Contact):
        return from_contact(payload, at=published_at)
    raise Poison(f"no source event for a {type(payload).__name__}")


# --- deciding (pure) ---------------------------------------------------------------------------------


def signal_id(company_id: str, signal: str, since: datetime, earlier: int) -> str:
    """A stable id for a newly raised signal.

    Deterministic, so that replaying the same batch on the same state gives the same id; `earlier` (how
    many signals of that name the company had before) tells apart a signal raised again from the same
    start, for instance after a manual resolution.
    """
    digest = hashlib.sha256(f"{company_id}|{signal}|{since.isoformat()}|{earlier}".encode()).hexdigest()
    return f"sig_{digest[:24]}"


def suppressed_evidence(existing: Sequence[SignalRecord]) -> dict[str, frozenset[str]]:
    """Per signal name, the evidence a person dismissed: that of the latest resolution, if made by hand."""
    latest: dict[str, SignalRecord] = {}
    for record in existing:
        if record.status is SignalStatus.RESOLVED and record.resolved_at is not None:
            known = latest.get(record.signal)
            if known is None or (record.resolved_at, record.version) > (known.resolved_at, known.version):
                latest[record.signal] = record
    return {name: r.evidence_ids for name, r in latest.items() if r.resolved_by is not None}


@dataclass
class Plan:
    """What one evaluation of a company writes."""

    company: CompanyRecord
    raised: list[SignalRecord] = field(default_factory=list)
    updated: list[SignalRecord] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)


def plan_company(
    company: CompanyRecord,
    history: Sequence[SourceEvent],
    existing: Sequence[SignalRecord],
    context: Context,
    config: RulesConfig,
    now: datetime,
) -> Plan:
    """Evaluate a company's history and turn the differences with its open signals into writes.

    The history is judged as of its latest EVENT time, not the arrival time: a 2019 publication is read
    as of 2019, and events arriving out of order end in the same signals as in order.
    """
    as_of = max(event.at for event in history)
    findings = evaluate(history, context, as_of, config)
    open_now = {r.signal: r for r in existing if r.status is SignalStatus.OPEN}
    changes = diff(
        {name: OpenSignal(r.signal, r.severity, r.evidence_ids) for name, r in open_now.items()},
        findings,
        suppressed_evidence(existing),
    )
    earlier = Counter(record.signal for record in existing)
    applied = [(change, _apply(change, company.company_id, open_now, earlier, now)) for change in changes]
    still_open = {**open_now, **{r.signal: r for _, r in applied}}
    open_after = [r for r in still_open.values() if r.status is SignalStatus.OPEN]
    state = replace(
        company,
        name=company.name or _published_name(history),
        risk_level=risk_level(open_after),
        score=score(open_after, config),
        updated_at=now,
    )
    plan = Plan(state)
    for change, record in applied:
        (plan.raised if change.kind is ChangeKind.RAISED else plan.updated).append(record)
        plan.outbox.append(outbox_entry(record, change.kind, state, now))
    return plan


def _apply(
    change: Change,
    company_id: str,
    open_now: dict[str, SignalRecord],
    earlier: Counter[str],
    now: datetime,
) -> SignalRecord:
    finding = change.finding
    if change.kind is ChangeKind.RAISED:
        assert finding is not None
        return SignalRecord(
            id=signal_id(company_id, change.signal, finding.since, earlier[change.signal]),
            company_id=company_id,
            signal=change.signal,
            category=finding.category,
            severity=finding.severity,
            status=SignalStatus.OPEN,
            summary=finding.summary,
            evidence=finding.evidence,
            version=1,
            raised_at=finding.since,
            updated_at=now,
        )
    current = open_now[change.signal]
    if change.kind is ChangeKind.UPDATED:
        assert finding is not None
        return replace(
            current,
            severity=finding.severity,
            summary=finding.summary,
            evidence=finding.evidence,
            version=current.version + 1,
            updated_at=now,
        )
    return replace(
        current, status=SignalStatus.RESOLVED, version=current.version + 1, updated_at=now, resolved_at=now
    )


def _published_name(history: Sequence[SourceEvent]) -> str | None:
    """The company name of the latest publication that gives one: a name for companies outside the portfolio."""
    named = [
        (event.at, event.payload.company_name)
        for event in history
        if isinstance(event.payload, Publication) and event.payload.company_name
    ]
    return max(named)[1] if named else None


# --- the handler -------------------------------------------------------------------------------------


class IntakeHandler:
    """The worker's handler for the intake topics; `on_commit` is called after a commit that queued events."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        config: RulesConfig | None = None,
        on_commit: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.config = config or default_rules()
        self.on_commit = on_commit
        self.clock = clock

    async def __call__(self, messages: Sequence[Message]) -> None:
        # Decode everything first: a poison message fails the batch before anything is written, and the
        # worker then isolates it.
        items = [decode_message(message) for message in messages]
        entries = [item for item in items if isinstance(item, PortfolioEntry)]
        events = [item for item in items if isinstance(item, SourceEvent)]
        now = self.clock()
        async with self.engine.begin() as conn:
            queued = await self.apply(conn, entries, events, now)
        if queued and self.on_commit is not None:
            self.on_commit()

    async def apply(
        self,
        conn: AsyncConnection,
        entries: Sequence[PortfolioEntry],
        events: Sequence[SourceEvent],
        now: datetime,
    ) -> int:
        """Write the effects of a batch on `conn`; the number of signal events queued."""
        # Every company of the batch is locked first, in one sorted pass: no two batches can then
        # deadlock, whatever mix of portfolio entries and events they hold.
        await store.lock_companies(
            conn, {e.company_id for e in entries} | {e.company_id for e in events}, now
        )
        if entries:
            await store.put_portfolio(conn, entries, now)
        touched = await store.add_events(conn, events, now) if events else set()
        if not touched:
            return 0
        companies = await store.lock_companies(conn, touched, now)
        histories = await store.histories(conn, touched)
        existing = await store.signals_of(conn, touched)
        contexts = store.context_for(touched)
        plans = [
            plan_company(companies[c], histories[c], existing.get(c, []), contexts[c], self.config, now)
            for c in sorted(touched)
        ]
        await store.insert_signals(conn, [r for plan in plans for r in plan.raised])
        await store.update_signals(conn, [r for plan in plans for r in plan.updated])
        await store.set_company_states(conn, [plan.company for plan in plans])
        outbox = [entry for plan in plans for entry in plan.outbox]
        await store.add_outbox(conn, outbox)
        return len(outbox)
