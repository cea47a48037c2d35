"""What arrives from the bus: intake events become the timeline, and each changed company is judged again.

For a batch of messages, in ONE transaction: the portfolio entries are stored, the new source events are
inserted (an event already stored is a no-op), and every company with a new event is judged once per new
event, in the order they came, as of event time (`judgements`): its signals brought in line with the
findings, its risk level and score stored, and one outbox event queued per change. The signal events are
thus those of handling each event on its own, however the bus cut the stream into batches. The worker commits the bus offsets only after
that transaction, so a redelivered batch finds its events stored and changes nothing: effects are
exactly once although delivery is at least once.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime

from opentelemetry import trace
from opentelemetry.trace import Span
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.signals import facts, graph, store, wallet
from services.signals.outbox import outbox_entry
from services.signals.rules import (
    Change,
    ChangeKind,
    Context,
    History,
    OpenSignal,
    RulesConfig,
    SourceEvent,
    default_rules,
    diff,
    evaluate,
    from_payload,
    risk_level,
    score,
)
from services.signals.store import CompanyRecord, OutboxEntry, ScorePoint, SignalRecord
from shared import topics
from shared.bus import Message, Poison
from shared.cloudevents import InvalidEnvelope, decode, trace_context
from shared.db import utcnow
from shared.metrics import SIGNAL_CHANGES
from shared.schemas import (
    TOPIC_MODELS,
    BureauEvent,
    Category,
    Contact,
    Observation,
    Order,
    PortfolioEntry,
    Publication,
    RegisterEvent,
    Severity,
    SignalName,
    SignalStatus,
)
from shared.tracing import consuming, traceparent_of, tracer

log = logging.getLogger(__name__)
TRACER = tracer("signals")

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
    if not isinstance(payload, Observation | Publication | BureauEvent | Order | RegisterEvent | Contact):
        raise Poison(f"no source event for a {type(payload).__name__}")
    return from_payload(payload, at=published_at)


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


@dataclass(frozen=True, slots=True)
class Moved:
    """A signal that changed at a company, as the fan-out sees it; `before` is the severity before an update."""

    company_id: str
    signal: str
    kind: ChangeKind
    category: Category
    severity: Severity
    before: Severity | None = None


MAX_STEPS = 20
"""At most this many judgements of one company per batch: a backfill of years of events in one batch is
judged once for its first events and then once per event for the last 19."""

STEP_BUDGET = 50_000
"""At most this many events read by the judgements of one company per batch. Each judgement reads the
whole history, so a company with a very long one (10,000 sales notes) gets fewer steps, at least one: the
work per batch, and on SQLite the time the write lock is held, stays bounded."""


def step_limit(history_size: int, max_steps: int = MAX_STEPS, budget: int = STEP_BUDGET) -> int:
    """How many judgements a company with `history_size` events gets in one batch."""
    return max(1, min(max_steps, budget // max(history_size, 1)))


def judgements(
    prior: datetime | None,
    history: Sequence[SourceEvent],
    arrivals: Sequence[SourceEvent] = (),
    *,
    until: datetime | None = None,
    max_steps: int = MAX_STEPS,
) -> list[History]:
    """The histories a company is judged on, in order: one step per new event, in the order they came.

    `prior` is the company clock (the event time it was last judged as of, None if never), `history` all
    its stored events including `arrivals`, the new events in arrival order. Step i sees the older events
    and the first i arrivals, as of the clock moved to the latest time seen: the signal events are then
    those of handling each event on its own, however the events were cut into batches. A late event (older
    than the clock) is judged as of the clock: the clock never moves back, so an old event does not undo
    what was judged later (a sweep's churn). With no arrivals the company is judged once, at its clock or
    at `until` if later (the sweep passes the present). The first arrivals share one step when there are
    more than `step_limit` allows.
    """
    arrived = {event.key for event in arrivals}
    seen = [event for event in history if event.key not in arrived]
    clock = max([*([prior] if prior else []), *(event.at for event in seen)], default=None)
    if not arrivals:
        times = [t for t in (clock, until) if t is not None]
        if not times:
            return []
        return [History.prepare(history, max(times))]
    first = max(len(arrivals) - step_limit(len(history), max_steps) + 1, 1)
    steps: list[History] = []
    for group in [arrivals[:first], *([event] for event in arrivals[first:])]:
        seen.extend(group)
        latest = max(event.at for event in group)
        clock = latest if clock is None else max(clock, latest)
        steps.append(History.prepare(seen, clock))
    return steps


@dataclass
class Plan:
    """What one judgement of a company writes."""

    company: CompanyRecord
    raised: list[SignalRecord] = field(default_factory=list)
    updated: list[SignalRecord] = field(default_factory=list)
    outbox: list[OutboxEntry] = field(default_factory=list)
    moved: list[Moved] = field(default_factory=list)
    scores: list[ScorePoint] = field(default_factory=list)


def plan_company(
    company: CompanyRecord,
    steps: Sequence[History],
    existing: Sequence[SignalRecord],
    context: Context,
    config: RulesConfig,
    now: datetime,
) -> Plan:
    """Judge a company on each of `steps` (see `judgements`) and turn the differences with its signals
    into writes: the signal rows, the company's state and one outbox event per change.

    A step is judged as of its EVENT time, not the arrival time: a 2019 publication is read as of 2019.
    Each step starts from the signals the previous one left; the outbox event of a change carries the
    company's risk level and score after its step, and a step that changed them adds a score point. The company clock ends at the last step's time.
    """
    if not steps:
        raise ValueError("a judgement needs at least one step")
    known = {record.id: record for record in existing}
    records = dict(known)
    open_now = {r.signal: r for r in existing if r.status is SignalStatus.OPEN}
    earlier = Counter(record.signal for record in existing)
    state = company
    plan = Plan(company)
    for step in steps:
        changes = diff(
            {name: OpenSignal(r.signal, r.severity, r.evidence_ids) for name, r in open_now.items()},
            evaluate(step, context, step.as_of, config),
            suppressed_evidence(list(records.values())),
        )
        if not changes:
            continue
        applied: list[tuple[Change, SignalRecord, Severity | None]] = []
        for change in changes:
            before = open_now[change.signal].severity if change.signal in open_now else None
            record = _apply(change, company.company_id, open_now, earlier, now)
            if change.kind is ChangeKind.RAISED:
                earlier[change.signal] += 1
            records[record.id] = record
            if record.status is SignalStatus.OPEN:
                open_now[record.signal] = record
            else:
                del open_now[record.signal]
            applied.append((change, record, before))
        before_step = (state.score, state.risk_level)
        state = replace(
            state, risk_level=risk_level(open_now.values()), score=score(open_now.values(), config)
        )
        if (state.score, state.risk_level) != before_step:
            plan.scores.append(ScorePoint(company.company_id, step.as_of, state.score, state.risk_level))
        for change, record, before in applied:
            plan.outbox.append(outbox_entry(record, change.kind, state, now))
            plan.moved.append(
                Moved(
                    company.company_id, change.signal, change.kind, record.category, record.severity, before
                )
            )
    last = steps[-1]
    plan.company = replace(
        state,
        name=company.name or _published_name(last.events),
        risk_level=risk_level(open_now.values()),
        score=score(open_now.values(), config),
        updated_at=now,
        as_of=max(last.as_of, company.as_of) if company.as_of else last.as_of,
    )
    plan.raised = [r for id_, r in records.items() if id_ not in known]
    plan.updated = [r for id_, r in records.items() if id_ in known and r != known[id_]]
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


# --- the fan-out (pure) ------------------------------------------------------------------------------

FANOUT_CAP = 1000
"""At most this many companies are judged again, per batch, because another company changed."""

FANOUT_ROUNDS = 2
"""Rounds of re-evaluation after the batch's own companies: a parent's change reaches its subsidiaries, and
their `parent_distress` theirs."""


@dataclass(frozen=True, slots=True)
class Ripples:
    """The companies whose changes concern others.

    `failed`: declared bankrupt, which concerns every company sharing a director with them
    (`director_failure_history`). `distressed`: a high or critical risk signal was raised, resolved or
    changed severity, which concerns every company they hold shares in (`parent_distress`).
    """

    failed: frozenset[str] = frozenset()
    distressed: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.failed or self.distressed)


def ripples(moved: Iterable[Moved], failed: Iterable[str] = ()) -> Ripples:
    """Which changes concern other companies; `failed` adds companies known to be bankrupt whose people
    changed (a late publication naming a director of a bankrupt company)."""
    bankrupt = set(failed)
    distressed: set[str] = set()
    for change in moved:
        if change.signal == SignalName.BANKRUPTCY.value and change.kind is ChangeKind.RAISED:
            bankrupt.add(change.company_id)
        if change.category is not Category.RISK:
            continue
        if change.kind is ChangeKind.UPDATED and change.before is change.severity:
            continue  # new evidence only: the subsidiaries see (signal, severity), which did not change
        serious = max(change.severity.rank, change.before.rank if change.before else 0)
        if serious >= Severity.HIGH.rank:
            distressed.add(change.company_id)
    return Ripples(frozenset(bankrupt), frozenset(distressed))


@dataclass(frozen=True, slots=True)
class Fanout:
    """The companies to judge again, in lock order, and those left out by the cap."""

    companies: tuple[str, ...]
    dropped: tuple[str, ...] = ()


def fan_out(
    ripples: Ripples,
    sharing: Mapping[str, Collection[str]],
    children: Mapping[str, Collection[str]],
    budget: int,
) -> Fanout:
    """Who must be judged again given the ripples of a round.

    `sharing` maps a company to the others that share a director with it, `children` a company to those it
    holds shares in. Every company reached is judged again, even one judged earlier in the batch: it read
    its context before these changes were written. At most `budget` companies are kept, the first in id
    order (a deterministic cut); the rest are `dropped`.
    """
    reached: set[str] = set()
    for company_id in ripples.failed:
        reached.update(sharing.get(company_id, ()))
    for company_id in ripples.distressed:
        reached.update(children.get(company_id, ()))
    ordered = tuple(sorted(reached))
    keep = max(budget, 0)
    return Fanout(ordered[:keep], ordered[keep:])


def record_changes(changes: Iterable[Moved]) -> None:
    """Count committed signal changes by signal, severity and kind (`ew_signal_changes_total`)."""
    for change in changes:
        SIGNAL_CHANGES.labels(change.signal, change.severity.value, change.kind.value).inc()


# --- the handler -------------------------------------------------------------------------------------

# Deadlock detected, serialization failure: the transaction was rolled back and can simply run again.
_RETRYABLE_STATES = frozenset({"40P01", "40001"})


class IntakeHandler:
    """The worker's handler for the intake topics; `on_commit` is called after a commit that queued events."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        config: RulesConfig | None = None,
        on_commit: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        fanout_cap: int = FANOUT_CAP,
        fanout_rounds: int = FANOUT_ROUNDS,
    ) -> None:
        self.engine = engine
        self.config = config or default_rules()
        self.on_commit = on_commit
        self.clock = clock
        self.fanout_cap = fanout_cap
        self.fanout_rounds = fanout_rounds

    async def __call__(self, messages: Sequence[Message]) -> None:
        # Decode everything first: a poison message fails the batch before anything is written, and the
        # worker then isolates it.
        items = [decode_message(message) for message in messages]
        entries = [item for item in items if isinstance(item, PortfolioEntry)]
        events = [item for item in items if isinstance(item, SourceEvent)]
        now = self.clock()
        parents = [trace_context(message) for message in messages]
        try:
            with consuming(TRACER, "process", parents) as spans:
                # A company's signal events continue the trace of its last traced event of the batch.
                span_of = {
                    item.company_id: span for item, span in zip(items, spans, strict=True) if span is not None
                }
                traces = {company: traceparent_of(span) or "" for company, span in span_of.items()}
                async with self.engine.begin() as conn:
                    changes = await self.apply(conn, entries, events, now, traces)
                self.committed(changes, span_of)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in _RETRYABLE_STATES:
                raise
            # Companies re-evaluated for others are locked after the batch's own: two batches may then
            # wait on each other. PostgreSQL breaks the cycle by failing one; it is retried, not dead-lettered.
            raise OperationalError(exc.statement, exc.params, exc.orig or exc) from exc

    def committed(self, changes: Sequence[Moved], spans: Mapping[str, Span] | None = None) -> None:
        """After the commit of `changes`: count and log them (in the trace of their company's event, from
        `spans`), and wake the relay if there is anything to announce."""
        record_changes(changes)
        for change in changes:
            span = (spans or {}).get(change.company_id)
            with trace.use_span(span, end_on_exit=False) if span is not None else nullcontext():
                log.info(
                    "signal %s %s",
                    change.signal,
                    change.kind.value,
                    extra={"company_id": change.company_id, "severity": change.severity},
                )
        if changes and self.on_commit is not None:
            self.on_commit()

    async def apply(
        self,
        conn: AsyncConnection,
        entries: Sequence[PortfolioEntry],
        events: Sequence[SourceEvent],
        now: datetime,
        traces: Mapping[str, str] | None = None,
    ) -> list[Moved]:
        """Write the effects of a batch on `conn`; the signal changes (one outbox event each), which carry
        on the trace of their company in `traces` (a `traceparent`)."""
        # Every company of the batch is locked first, in one sorted pass: no two batches can then
        # deadlock, whatever mix of portfolio entries and events they hold.
        locked = await store.lock_companies(
            conn, {e.company_id for e in entries} | {e.company_id for e in events}, now
        )
        if entries:
            await store.put_portfolio(conn, entries, now)
        touched = await store.add_events(conn, events, now) if events else {}
        new_events = [event for found in touched.values() for event in found]
        await facts.record(conn, entries, new_events, now)
        contacts = [e.payload for e in new_events if isinstance(e.payload, Contact)]
        if contacts:
            await store.put_dmu_contacts(conn, contacts, now)
        if not touched:
            return []
        # The rows are locked already; only the companies a portfolio entry just renamed are read again.
        renamed = sorted({e.company_id for e in entries} & touched.keys())
        companies = {c: locked[c] for c in touched} | await store.lock_companies(conn, renamed, now)
        histories = await store.histories(conn, touched, touched)
        reindexed = await graph.index(conn, histories, events)
        plans = await self.judge(conn, companies, histories, now, touched)
        for plan in plans:
            traced = (traces or {}).get(plan.company.company_id)
            if traced:
                plan.outbox = [replace(entry, traceparent=traced) for entry in plan.outbox]
        changes = await self._write(conn, plans)
        return changes + await self.ripple(conn, changes, now, await graph.bankrupt(conn, reindexed))

    async def judge_again(
        self, conn: AsyncConnection, company_ids: Sequence[str], until: datetime
    ) -> list[Moved]:
        """Judge companies again as of `until` (unless their clock is later), with no new event: the
        sweep. The signal changes."""
        now = self.clock()
        companies = await store.lock_companies(conn, company_ids, now)
        histories = await store.histories(conn, company_ids)
        changes = await self._write(conn, await self.judge(conn, companies, histories, now, until=until))
        return changes + await self.ripple(conn, changes, now)

    async def judge(
        self,
        conn: AsyncConnection,
        companies: Mapping[str, CompanyRecord],
        histories: Mapping[str, Sequence[SourceEvent]],
        now: datetime,
        arrivals: Mapping[str, Sequence[SourceEvent]] | None = None,
        until: datetime | None = None,
    ) -> list[Plan]:
        """Judge each company (with a history) on its history and its context as stored now.

        `arrivals` are each company's new events (see `judgements`); a company without any is judged
        again at its clock, or at `until` if later (the sweep).
        """
        arrivals = arrivals or {}
        ids = sorted(c for c in companies if histories.get(c))
        existing = await store.signals_of(conn, ids)
        contexts = await graph.context_for(conn, ids)
        gaps = await wallet.gaps_of(conn, ids)
        contexts = {c: replace(context, wallet_gaps=gaps.get(c, ())) for c, context in contexts.items()}
        return [
            plan_company(
                companies[c],
                judgements(companies[c].as_of, histories[c], arrivals.get(c, ()), until=until),
                existing.get(c, []),
                contexts[c],
                self.config,
                now,
            )
            for c in ids
        ]

    async def _write(self, conn: AsyncConnection, plans: Sequence[Plan]) -> list[Moved]:
        await store.insert_signals(conn, [r for plan in plans for r in plan.raised])
        await store.update_signals(conn, [r for plan in plans for r in plan.updated])
        await store.set_company_states(conn, [plan.company for plan in plans])
        await store.add_outbox(conn, [entry for plan in plans for entry in plan.outbox])
        await store.add_score_points(conn, [point for plan in plans for point in plan.scores])
        return [change for plan in plans for change in plan.moved]

    async def ripple(
        self, conn: AsyncConnection, changes: Sequence[Moved], now: datetime, failed: Iterable[str] = ()
    ) -> list[Moved]:
        """Judge again, in the same transaction, the companies whose context `changes` changed; their own
        signal changes.

        Each round reads the contexts after the previous round's signals were written; the companies of a
        round are locked first, in id order. At most `fanout_cap` companies per batch, `fanout_rounds`
        rounds; what is left out is judged again with the company's next event.
        """
        found: list[Moved] = []
        budget = self.fanout_cap
        pending = ripples(changes, failed)
        for _ in range(self.fanout_rounds):
            if not pending:
                break
            sharing = await graph.sharing_people(conn, pending.failed)
            children = await graph.subsidiaries(conn, pending.distressed)
            targets = fan_out(pending, sharing, children, budget)
            if targets.dropped:
                log.warning(
                    "re-evaluation capped at %d companies in this batch; %d left for their next event "
                    "(first: %s)",
                    self.fanout_cap,
                    len(targets.dropped),
                    targets.dropped[0],
                )
            if not targets.companies:
                break
            budget -= len(targets.companies)
            companies = await store.lock_companies(conn, targets.companies, now)
            histories = await store.histories(conn, targets.companies)
            round_changes = await self._write(conn, await self.judge(conn, companies, histories, now))
            found += round_changes
            pending = ripples(round_changes)
        else:
            if pending:
                log.info("re-evaluation stopped after %d rounds", self.fanout_rounds)
        return found
