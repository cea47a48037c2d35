"""What the signals service keeps: the timeline of source events, companies, signals and the outbox.

Tables are SQLAlchemy Core on the shared metadata (migration 0003 creates them, 0004 the person index and
the group graph, whose queries live in `graph`, 0005 the company clock). Functions take an open
connection, so that the consumer and the API decide the transaction: a batch of events, the signals it
changes and the outgoing events are committed together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.rules import (
    Payload,
    SourceEvent,
)
from shared.db import UTCDateTime, among, chunked, dialect_insert, id_chunks, metadata
from shared.schemas import (
    BureauEvent,
    Category,
    Contact,
    Evidence,
    Observation,
    Order,
    PortfolioEntry,
    Publication,
    RegisterEvent,
    Severity,
    Signal,
    SignalStatus,
)

# --- tables ------------------------------------------------------------------------------------------

# The timeline: every source event of every company, in event time. Keyed per company because some
# source ids are only unique within a company (order numbers, contact ids).
source_events = Table(
    "source_events",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("source", String(16), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("type", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("summary", String(1000), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_source_events_company_at", "company_id", "at"),
)

companies = Table(
    "companies",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("name", String(300), nullable=True),
    # The portfolio entry as JSON; null when the company is not (or no longer) monitored.
    Column("portfolio", Text, nullable=True),
    Column("risk_level", String(16), nullable=True),
    Column("score", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The company clock (migration 0005): the event time its signals were last judged as of. It never
    # moves back, so that a late event is judged as of it and a sweep's verdict is not undone.
    Column("as_of", UTCDateTime, nullable=True),
    # The portfolio's segment, as a column for the analyses that group by it (migration 0007).
    Column("segment", String(100), nullable=True),
    Index("ix_companies_as_of", "as_of"),
    Index("ix_companies_segment", "segment"),
)

# The buying unit: the current record of each contact, as the DMU analysis reads it (migration 0007).
dmu_contacts = Table(
    "dmu_contacts",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("contact_id", String(64), primary_key=True),
    Column("function", String(200), nullable=True),
    Column("dmu_role", String(32), nullable=False),
    Column("last_contact_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_dmu_contacts_dmu_role", "dmu_role"),
)

# Each company's score and risk level every time they changed, at the event time of the judgement
# (migration 0010): the console's chart. One row per moment; a later judgement as of the same moment wins.
score_history = Table(
    "score_history",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("at", UTCDateTime, primary_key=True),
    Column("score", Integer, nullable=False),
    Column("risk_level", String(16), nullable=True),
)

signals = Table(
    "signals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("company_id", String(16), nullable=False),
    Column("signal", String(64), nullable=False),
    Column("category", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", String(1000), nullable=False),
    Column("evidence", Text, nullable=False),
    # Bumped on every change: part of the outbox event id, so that two changes never share an id.
    Column("version", Integer, nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    # Set when a person resolved the signal: its evidence then suppresses raising it again (see `diff`).
    Column("resolved_by", String(200), nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_signals_company_signal_status", "company_id", "signal", "status"),
    Index("ix_signals_raised_at_id", "raised_at", "id"),
)

signal_outbox = Table(
    "signal_outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("company_id", String(16), nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    # The trace of the event that caused the change, carried on by the published event (migration 0012).
    Column("traceparent", String(64), nullable=True),
    UniqueConstraint("event_id", name="uq_signal_outbox_event_id"),
    Index("ix_signal_outbox_published_at_seq", "published_at", "seq"),
)


# The person index: every mandate a gazette publication gave, per company, as `graph.mandates_of` derives
# it from the company's publications. One row per appointment; a resignation or dismissal ends it.
person_mandates = Table(
    "person_mandates",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("person_key", String(300), primary_key=True),
    Column("role", String(32), primary_key=True),
    # The publication that appointed the person.
    Column("event_id", String(200), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("birth_year", Integer, nullable=True),
    Column("appointed_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Index("ix_person_mandates_person_key", "person_key"),
)

# The group graph: the latest bureau `shareholder_change` per company and shareholder, by event time.
shareholdings = Table(
    "shareholdings",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("parent_company_id", String(16), primary_key=True),
    Column("share_pct", Float, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("event_id", String(200), nullable=False),
    Index("ix_shareholdings_parent_company_id", "parent_company_id"),
)


# --- source events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A source event as the timeline shows it."""

    company_id: str
    source: str
    event_id: str
    type: str
    at: datetime
    summary: str
    payload: dict[str, Any]
    received_at: datetime


_PAYLOAD_MODELS: dict[str, type[Payload]] = {
    "observation": Observation,
    "publication": Publication,
    "bureau": BureauEvent,
    "order": Order,
    "register": RegisterEvent,
    "contact": Contact,
}


def to_source_event(row: Any) -> SourceEvent:
    """The `SourceEvent` of a stored row: the payload validated again, the rest as the adapter made it
    when the event was stored (its summary is not worded again)."""
    return SourceEvent(
        id=row.event_id,
        company_id=row.company_id,
        source=row.source,
        type=row.type,
        at=row.at,
        payload=_PAYLOAD_MODELS[row.source].model_validate_json(row.payload),
        summary=row.summary,
    )


def _row_of(event: SourceEvent, received_at: datetime) -> dict[str, Any]:
    return {
        "company_id": event.company_id,
        "source": event.source,
        "event_id": event.id,
        "at": event.at,
        "type": event.type,
        "payload": event.payload.model_dump_json(),
        "summary": event.summary,
        "received_at": received_at,
    }


def _newer_contact(new: SourceEvent, old_at: datetime, old_payload: str) -> bool:
    """Whether a contact version replaces the stored one: the order `History` uses to pick the latest."""
    assert isinstance(new.payload, Contact)
    old = Contact.model_validate_json(old_payload)
    return (new.at, new.payload.deleted, new.payload.model_dump_json()) > (old_at, old.deleted, old_payload)


async def add_events(
    conn: AsyncConnection, events: Sequence[SourceEvent], received_at: datetime
) -> dict[str, list[SourceEvent]]:
    """Store the events that are new; return, per company whose history changed, the new events in the
    order they came (the latest version of a contact where the batch holds several).

    An event already stored (a redelivery, a repeat under the same id) is a no-op: the insert does nothing
    on conflict, and RETURNING says which rows were really written. Contacts are the exception: the same
    contact id comes in versions, and a later version replaces the stored one.
    """
    latest: dict[tuple[str, str, str], SourceEvent] = {}
    for event in events:
        key: tuple[str, str, str] = (event.company_id, event.source, event.id)
        known = latest.get(key)
        if known is None or (
            isinstance(event.payload, Contact)
            and _newer_contact(event, known.at, known.payload.model_dump_json())
        ):
            latest[key] = event
    rows = [_row_of(event, received_at) for event in latest.values()]
    written: set[tuple[str, str, str]] = set()
    if rows:
        stmt = dialect_insert(conn, source_events).on_conflict_do_nothing()
        result = await conn.execute(
            stmt.returning(source_events.c.company_id, source_events.c.source, source_events.c.event_id),
            rows,
        )
        written.update((row.company_id, row.source, row.event_id) for row in result)
    contacts = [
        (key, event) for key, event in latest.items() if key not in written and event.source == "contact"
    ]
    new = written | set(await _replace_contacts(conn, contacts, received_at))
    changed: dict[str, list[SourceEvent]] = {}
    for key, event in latest.items():
        if key in new:
            changed.setdefault(event.company_id, []).append(event)
    return changed


async def _replace_contacts(
    conn: AsyncConnection,
    candidates: Sequence[tuple[tuple[str, str, str], SourceEvent]],
    received_at: datetime,
) -> list[tuple[str, str, str]]:
    """Replace the stored contacts that `candidates` are newer versions of; the keys replaced."""
    if not candidates:
        return []
    key_columns = tuple_(source_events.c.company_id, source_events.c.source, source_events.c.event_id)
    stored: dict[tuple[str, str, str], tuple[datetime, str]] = {}
    for chunk in chunked([key for key, _ in candidates]):
        result = await conn.execute(
            select(
                source_events.c.company_id,
                source_events.c.source,
                source_events.c.event_id,
                source_events.c.at,
                source_events.c.payload,
            ).where(key_columns.in_(list(chunk)))
        )
        for row in result:
            stored[(row.company_id, row.source, row.event_id)] = (row.at, row.payload)
    newer = [
        (key, event) for key, event in candidates if key in stored and _newer_contact(event, *stored[key])
    ]
    rows = [_row_of(event, received_at) for _, event in newer]
    if rows:
        await conn.execute(
            update(source_events)
            .where(
                source_events.c.company_id == bindparam("b_company_id"),
                source_events.c.source == bindparam("b_source"),
                source_events.c.event_id == bindparam("b_event_id"),
            )
            .values(
                at=bindparam("at"),
                type=bindparam("type"),
                payload=bindparam("payload"),
                summary=bindparam("summary"),
                received_at=bindparam("received_at"),
            ),
            [{**row, **{f"b_{k}": row[k] for k in ("company_id", "source", "event_id")}} for row in rows],
        )
    return [key for key, _ in newer]


async def histories(
    conn: AsyncConnection,
    company_ids: Iterable[str],
    known: Mapping[str, Sequence[SourceEvent]] | None = None,
) -> dict[str, list[SourceEvent]]:
    """Every source event of each company (in no particular order: `evaluate` sorts).

    `known` holds, per company, events in hand exactly as stored (those `add_events` just wrote): their
    rows are not decoded again, which is most of the cost of reading a short history.
    """
    in_hand = {(e.company_id, e.source, e.id): e for found in (known or {}).values() for e in found}
    found: dict[str, list[SourceEvent]] = {}
    for chunk in id_chunks(conn, sorted(set(company_ids))):
        result = await conn.execute(
            select(
                source_events.c.company_id,
                source_events.c.source,
                source_events.c.event_id,
                source_events.c.type,
                source_events.c.at,
                source_events.c.payload,
                source_events.c.summary,
            ).where(among(conn, source_events.c.company_id, chunk))
        )
        for row in result:
            event = in_hand.get((row.company_id, row.source, row.event_id))
            found.setdefault(row.company_id, []).append(event or to_source_event(row))
    return found


# --- companies ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """A company: its portfolio entry when monitored, its risk level and score."""

    company_id: str
    name: str | None
    portfolio: dict[str, Any] | None
    risk_level: Severity | None
    score: int
    updated_at: datetime
    as_of: datetime | None = None


def _company(row: Any) -> CompanyRecord:
    return CompanyRecord(
        company_id=row.company_id,
        name=row.name,
        portfolio=json.loads(row.portfolio) if row.portfolio is not None else None,
        risk_level=Severity(row.risk_level) if row.risk_level else None,
        score=row.score,
        updated_at=row.updated_at,
        as_of=row.as_of,
    )


async def put_portfolio(conn: AsyncConnection, entries: Sequence[PortfolioEntry], now: datetime) -> None:
    """Store the latest portfolio entry of each company; a removal keeps the company and its signals."""
    latest = {entry.company_id: entry for entry in entries}
    rows = [
        {
            "company_id": entry.company_id,
            # A removal carries a placeholder name: the name known before stays.
            "name": None if entry.deleted else entry.name,
            "portfolio": None if entry.deleted else entry.model_dump_json(),
            "segment": None if entry.deleted else entry.segment,
            "risk_level": None,
            "score": 100,
            "updated_at": now,
        }
        for entry in latest.values()
    ]
    stmt = dialect_insert(conn, companies)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["company_id"],
            set_={
                "name": func.coalesce(stmt.excluded.name, companies.c.name),
                "portfolio": stmt.excluded.portfolio,
                "segment": stmt.excluded.segment,
                "updated_at": stmt.excluded.updated_at,
            },
        ),
        rows,
    )


async def current_contacts(conn: AsyncConnection, company_id: str) -> list[Contact]:
    """The company's contacts as last recorded (removed ones left out), by name."""
    rows = await conn.execute(
        select(source_events.c.payload).where(
            source_events.c.company_id == company_id, source_events.c.source == "contact"
        )
    )
    found = [Contact.model_validate_json(row.payload) for row in rows]
    return sorted((c for c in found if not c.deleted), key=lambda c: (c.name.casefold(), c.contact_id))


async def put_dmu_contacts(conn: AsyncConnection, contacts: Sequence[Contact], now: datetime) -> None:
    """Bring the DMU table in line with new contact records (the latest version of each): a removal
    deletes the row, anything else writes it."""
    latest = {(c.company_id, c.contact_id): c for c in contacts}
    removed = [key for key, contact in latest.items() if contact.deleted]
    if removed:
        key = tuple_(dmu_contacts.c.company_id, dmu_contacts.c.contact_id)
        for chunk in chunked(removed):
            await conn.execute(delete(dmu_contacts).where(key.in_(list(chunk))))
    rows = [
        {
            "company_id": contact.company_id,
            "contact_id": contact.contact_id,
            "function": contact.function,
            "dmu_role": contact.dmu_role.value,
            "last_contact_at": contact.last_contact_at,
            "updated_at": now,
        }
        for contact in latest.values()
        if not contact.deleted
    ]
    if rows:
        stmt = dialect_insert(conn, dmu_contacts)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["company_id", "contact_id"],
                set_={
                    name: stmt.excluded[name]
                    for name in ("function", "dmu_role", "last_contact_at", "updated_at")
                },
            ),
            rows,
        )


async def lock_companies(
    conn: AsyncConnection, company_ids: Iterable[str], now: datetime
) -> dict[str, CompanyRecord]:
    """Create the companies not known yet, then lock them for this transaction.

    The lock serialises the evaluations of one company: its events arrive on several topics, whose
    partitions may be consumed by different members of the group at the same time. Locks are taken in
    id order so that two batches never wait on each other in a cycle. (SQLite serialises writers anyway.)
    """
    ids = sorted(set(company_ids))
    found: dict[str, CompanyRecord] = {}
    for chunk in id_chunks(conn, ids):
        rows = [
            {
                "company_id": c,
                "name": None,
                "portfolio": None,
                "risk_level": None,
                "score": 100,
                "updated_at": now,
            }
            for c in chunk
        ]
        await conn.execute(dialect_insert(conn, companies).on_conflict_do_nothing(), rows)
        result = await conn.execute(
            select(companies)
            .where(among(conn, companies.c.company_id, chunk))
            .order_by(companies.c.company_id)
            .with_for_update()
        )
        found.update((row.company_id, _company(row)) for row in result)
    return found


async def companies_due(conn: AsyncConnection, until: datetime, after: str, limit: int) -> list[str]:
    """The next `limit` companies, in id order after `after`, that have a history and a clock before
    `until`: those a sweep as of `until` has still to judge."""
    has_history = (
        select(source_events.c.company_id)
        .where(source_events.c.company_id == companies.c.company_id)
        .exists()
    )
    result = await conn.execute(
        select(companies.c.company_id)
        .where(
            companies.c.company_id > after,
            or_(companies.c.as_of.is_(None), companies.c.as_of < until),
            has_history,
        )
        .order_by(companies.c.company_id)
        .limit(limit)
    )
    return list(result.scalars())


async def get_company(conn: AsyncConnection, company_id: str, *, lock: bool = False) -> CompanyRecord | None:
    query = select(companies).where(companies.c.company_id == company_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    return _company(row) if row else None


async def set_company_states(conn: AsyncConnection, states: Sequence[CompanyRecord]) -> None:
    """Store the name, risk level and score of companies (the portfolio is left as it is)."""
    if not states:
        return
    await conn.execute(
        update(companies)
        .where(companies.c.company_id == bindparam("b_company_id"))
        .values(
            name=bindparam("name"),
            risk_level=bindparam("risk_level"),
            score=bindparam("score"),
            updated_at=bindparam("updated_at"),
            as_of=bindparam("as_of"),
        ),
        [
            {
                "b_company_id": state.company_id,
                "name": state.name,
                "risk_level": state.risk_level.value if state.risk_level else None,
                "score": state.score,
                "updated_at": state.updated_at,
                "as_of": state.as_of,
            }
            for state in states
        ],
    )


@dataclass(frozen=True, slots=True)
class ScorePoint:
    """A company's score and risk level from `at` on."""

    company_id: str
    at: datetime
    score: int
    risk_level: Severity | None


async def add_score_points(conn: AsyncConnection, points: Sequence[ScorePoint]) -> None:
    """Record score changes; a point at a moment already recorded replaces it."""
    latest = {(p.company_id, p.at): p for p in points}
    if not latest:
        return
    rows = [
        {
            "company_id": p.company_id,
            "at": p.at,
            "score": p.score,
            "risk_level": p.risk_level.value if p.risk_level else None,
        }
        for p in latest.values()
    ]
    for chunk in chunked(rows):
        stmt = dialect_insert(conn, score_history).values(list(chunk))
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["company_id", "at"],
                set_={"score": stmt.excluded.score, "risk_level": stmt.excluded.risk_level},
            )
        )


async def score_points(conn: AsyncConnection, company_id: str, limit: int = 1000) -> list[ScorePoint]:
    """The latest `limit` score changes of a company, oldest first."""
    result = await conn.execute(
        select(score_history)
        .where(score_history.c.company_id == company_id)
        .order_by(score_history.c.at.desc())
        .limit(limit)
    )
    return [
        ScorePoint(row.company_id, row.at, row.score, Severity(row.risk_level) if row.risk_level else None)
        for row in reversed(result.all())
    ]


# --- signals -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A signal row."""

    id: str
    company_id: str
    signal: str
    category: Category
    severity: Severity
    status: SignalStatus
    summary: str
    evidence: tuple[Evidence, ...]
    version: int
    raised_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    note: str | None = None

    @property
    def evidence_ids(self) -> frozenset[str]:
        return frozenset(item.event_id for item in self.evidence)

    def to_signal(self, company: CompanyRecord | None) -> Signal:
        """The contract's Signal JSON, with the company's name, risk level and score."""
        return Signal(
            id=self.id,
            company_id=self.company_id,
            company_name=company.name if company else None,
            signal=self.signal,
            category=self.category,
            severity=self.severity,
            status=self.status,
            summary=self.summary,
            evidence=list(self.evidence),
            risk_level=company.risk_level if company else None,
            score=company.score if company else 100,
            raised_at=self.raised_at,
            updated_at=self.updated_at,
        )


_EVIDENCE_LIST = TypeAdapter(list[Evidence])


def _signal(row: Any) -> SignalRecord:
    return SignalRecord(
        id=row.id,
        company_id=row.company_id,
        signal=row.signal,
        category=Category(row.category),
        severity=Severity(row.severity),
        status=SignalStatus(row.status),
        summary=row.summary,
        evidence=tuple(_EVIDENCE_LIST.validate_json(row.evidence)),
        version=row.version,
        raised_at=row.raised_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        note=row.note,
    )


def _signal_row(record: SignalRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "company_id": record.company_id,
        "signal": record.signal,
        "category": record.category.value,
        "severity": record.severity.value,
        "status": record.status.value,
        "summary": record.summary,
        "evidence": _EVIDENCE_LIST.dump_json(list(record.evidence)).decode(),
        "version": record.version,
        "raised_at": record.raised_at,
        "updated_at": record.updated_at,
        "resolved_at": record.resolved_at,
        "resolved_by": record.resolved_by,
        "acknowledged_by": record.acknowledged_by,
        "acknowledged_at": record.acknowledged_at,
        "note": record.note,
    }


async def signals_of(conn: AsyncConnection, company_ids: Iterable[str]) -> dict[str, list[SignalRecord]]:
    """Every signal (open and resolved) of each company, oldest first."""
    found: dict[str, list[SignalRecord]] = {}
    for chunk in id_chunks(conn, sorted(set(company_ids))):
        result = await conn.execute(
            select(signals)
            .where(among(conn, signals.c.company_id, chunk))
            .order_by(signals.c.raised_at, signals.c.id)
        )
        for row in result:
            found.setdefault(row.company_id, []).append(_signal(row))
    return found


async def open_signals(conn: AsyncConnection, company_id: str) -> list[SignalRecord]:
    """The open signals of a company, most severe first."""
    result = await conn.execute(
        select(signals).where(signals.c.company_id == company_id, signals.c.status == SignalStatus.OPEN.value)
    )
    found = [_signal(row) for row in result]
    return sorted(found, key=lambda s: (-s.severity.rank, s.signal))


async def get_signal(conn: AsyncConnection, signal_id: str) -> SignalRecord | None:
    row = (await conn.execute(select(signals).where(signals.c.id == signal_id))).first()
    return _signal(row) if row else None


async def insert_signals(conn: AsyncConnection, records: Sequence[SignalRecord]) -> None:
    if records:
        await conn.execute(signals.insert(), [_signal_row(record) for record in records])


async def update_signals(conn: AsyncConnection, records: Sequence[SignalRecord]) -> None:
    """Write every changing column of each signal (one statement, executed for all of them)."""
    if not records:
        return
    mutable = (
        "severity",
        "status",
        "summary",
        "evidence",
        "version",
        "updated_at",
        "resolved_at",
        "resolved_by",
        "acknowledged_by",
        "acknowledged_at",
        "note",
    )
    await conn.execute(
        update(signals)
        .where(signals.c.id == bindparam("b_id"))
        .values({name: bindparam(name) for name in mutable}),
        [
            {"b_id": record.id, **{name: row[name] for name in mutable}}
            for record in records
            for row in (_signal_row(record),)
        ],
    )


# --- outbox ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A signal event to publish on `ew.signals`: its CloudEvent id and type, and the Signal JSON."""

    event_id: str
    company_id: str
    type: str
    payload: str
    created_at: datetime
    seq: int | None = None
    traceparent: str | None = None


async def add_outbox(conn: AsyncConnection, entries: Sequence[OutboxEntry]) -> None:
    """Queue events; an event id already queued is a no-op (its content is the same by construction)."""
    rows = [
        {
            "event_id": e.event_id,
            "company_id": e.company_id,
            "type": e.type,
            "payload": e.payload,
            "created_at": e.created_at,
            "published_at": None,
            "traceparent": e.traceparent,
        }
        for e in entries
    ]
    if rows:
        await conn.execute(
            dialect_insert(conn, signal_outbox).on_conflict_do_nothing(index_elements=["event_id"]), rows
        )


async def pending_outbox(conn: AsyncConnection, limit: int) -> list[OutboxEntry]:
    """The oldest unpublished events, in the order they were queued."""
    result = await conn.execute(
        select(signal_outbox)
        .where(signal_outbox.c.published_at.is_(None))
        .order_by(signal_outbox.c.seq)
        .limit(limit)
    )
    return [
        OutboxEntry(
            row.event_id, row.company_id, row.type, row.payload, row.created_at, row.seq, row.traceparent
        )
        for row in result
    ]


async def has_pending_outbox(conn: AsyncConnection) -> bool:
    """Whether any event waits to be published (a cheap check before taking the relay lock)."""
    query = select(signal_outbox.c.seq).where(signal_outbox.c.published_at.is_(None)).limit(1)
    return (await conn.execute(query)).first() is not None


async def prune_outbox(conn: AsyncConnection, published_before: datetime) -> int:
    """Delete the events published before a time; the number deleted."""
    result = await conn.execute(
        delete(signal_outbox).where(
            signal_outbox.c.published_at.is_not(None), signal_outbox.c.published_at < published_before
        )
    )
    return int(result.rowcount or 0)


async def mark_published(conn: AsyncConnection, seqs: Sequence[int], now: datetime) -> None:
    for chunk in id_chunks(conn, list(seqs)):
        await conn.execute(
            update(signal_outbox).where(among(conn, signal_outbox.c.seq, chunk)).values(published_at=now)
        )


# --- pages -------------------------------------------------------------------------------------------


async def timeline_page(
    conn: AsyncConnection, company_id: str, after: tuple[datetime, str, str] | None, limit: int
) -> list[StoredEvent]:
    """Source events of a company, newest first, after the keyset position `(at, source, event_id)`."""
    c = source_events.c
    query = select(source_events).where(c.company_id == company_id)
    if after is not None:
        at, source, event_id = after
        query = query.where(
            or_(
                c.at < at,
                and_(c.at == at, or_(c.source < source, and_(c.source == source, c.event_id < event_id))),
            )
        )
    query = query.order_by(c.at.desc(), c.source.desc(), c.event_id.desc()).limit(limit)
    return [
        StoredEvent(
            company_id=row.company_id,
            source=row.source,
            event_id=row.event_id,
            type=row.type,
            at=row.at,
            summary=row.summary,
            payload=json.loads(row.payload),
            received_at=row.received_at,
        )
        for row in await conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class SignalFilter:
    """The filters of `GET /v1/signals`."""

    status: SignalStatus | None = None
    category: Category | None = None
    min_severity: Severity | None = None
    company_id: str | None = None
    since: datetime | None = None


async def signal_page(
    conn: AsyncConnection, where: SignalFilter, after: tuple[datetime, str] | None, limit: int
) -> list[tuple[SignalRecord, CompanyRecord | None]]:
    """Signals newest first (by `raised_at`, which never changes: pages stay stable), with their company."""
    c = signals.c
    query = select(signals, *_company_columns()).outerjoin(companies, companies.c.company_id == c.company_id)
    if where.status is not None:
        query = query.where(c.status == where.status.value)
    if where.category is not None:
        query = query.where(c.category == where.category.value)
    if where.min_severity is not None:
        query = query.where(c.severity.in_([s.value for s in Severity if s >= where.min_severity]))
    if where.company_id is not None:
        query = query.where(c.company_id == where.company_id)
    if where.since is not None:
        query = query.where(c.raised_at >= where.since)
    if after is not None:
        raised_at, signal_id = after
        query = query.where(or_(c.raised_at < raised_at, and_(c.raised_at == raised_at, c.id < signal_id)))
    query = query.order_by(c.raised_at.desc(), c.id.desc()).limit(limit)
    return [(_signal(row), _joined_company(row)) for row in await conn.execute(query)]


def _company_columns() -> list[Any]:
    return [
        companies.c.name.label("company_name"),
        companies.c.portfolio.label("company_portfolio"),
        companies.c.risk_level.label("company_risk_level"),
        companies.c.score.label("company_score"),
        companies.c.updated_at.label("company_updated_at"),
    ]


def _joined_company(row: Any) -> CompanyRecord | None:
    if row.company_score is None:
        return None
    return CompanyRecord(
        company_id=row.company_id,
        name=row.company_name,
        portfolio=json.loads(row.company_portfolio) if row.company_portfolio is not None else None,
        risk_level=Severity(row.company_risk_level) if row.company_risk_level else None,
        score=row.company_score,
        updated_at=row.company_updated_at,
    )
