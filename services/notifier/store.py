"""What the notifier keeps: subscriptions, silences, the routing facts of companies and the delivery log.

Tables are SQLAlchemy Core on the shared metadata (migration 0006). Functions take an open connection so
that the caller decides the transaction: the deliveries of a batch of signal events are written together,
and the consumer commits its offsets only after them.

A delivery is one signal event for one subscription; its id (the `webhook-id` receivers deduplicate on) is
derived from the two, and `(event_id, subscription_id)` is unique: a signal event redelivered by the bus
finds its deliveries written and adds none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import UTCDateTime, among, dialect_insert, id_chunks, metadata

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("url", String(2000), nullable=True),
    Column("email", String(320), nullable=True),
    Column("match", Text, nullable=False),
    Column("mode", String(16), nullable=False),
    # The webhook secret, sealed with EW_SECRET_KEY (`sealing`): never stored in clear.
    Column("secret", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime, nullable=True),
)

silences = Table(
    "silences",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("company_id", String(16), nullable=True),
    Column("signal", String(64), nullable=True),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("comment", String(1000), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_silences_ends_at", "ends_at"),
)

# What routing needs to know of a company: its segment and account manager (from the portfolio topic),
# and whether a bankruptcy signal of it is open (from the signal events: the inhibition).
notifier_companies = Table(
    "notifier_companies",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("segment", String(200), nullable=True),
    Column("account_manager", String(320), nullable=True),
    Column("bankrupt", Boolean, nullable=False, server_default=false()),
    Column("updated_at", UTCDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subscription_id", String(40), nullable=False),
    Column("event_id", String(100), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("signal_id", String(100), nullable=False),
    Column("company_id", String(16), nullable=False),
    Column("signal", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    # Where it goes: `host:port` of a webhook (the unit of queues and circuit breakers) or an address.
    Column("target", String(400), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("first_attempt_at", UTCDateTime, nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    # A dispatcher that claimed the delivery holds it until then; after a crash another one takes it.
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    # The trace of the signal event, continued by each attempt (migration 0012).
    Column("traceparent", String(64), nullable=True),
    UniqueConstraint("event_id", "subscription_id", name="uq_deliveries_event_id"),
    Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_deliveries_signal_id", "signal_id"),
    Index("ix_deliveries_target_status", "target", "status"),
    Index("ix_deliveries_created_at_id", "created_at", "id"),
)


# --- subscriptions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: str
    name: str
    channel: str
    url: str | None
    email: str | None
    match: dict[str, Any]
    mode: str
    secret: str | None
    created_at: datetime
    deleted_at: datetime | None = None


def _subscription(row: Any) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        name=row.name,
        channel=row.channel,
        url=row.url,
        email=row.email,
        match=json.loads(row.match),
        mode=row.mode,
        secret=row.secret,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
    )


async def add_subscription(conn: AsyncConnection, record: SubscriptionRecord) -> None:
    row = {name: getattr(record, name) for name in SubscriptionRecord.__dataclass_fields__}
    await conn.execute(
        subscriptions.insert().values({**row, "match": json.dumps(record.match, sort_keys=True)})
    )


async def get_subscription(conn: AsyncConnection, subscription_id: str) -> SubscriptionRecord | None:
    row = (
        await conn.execute(
            select(subscriptions).where(
                subscriptions.c.id == subscription_id, subscriptions.c.deleted_at.is_(None)
            )
        )
    ).first()
    return _subscription(row) if row else None


async def subscription_page(conn: AsyncConnection, after: str | None, limit: int) -> list[SubscriptionRecord]:
    """Live subscriptions in id order, after `after`."""
    query = select(subscriptions).where(subscriptions.c.deleted_at.is_(None))
    if after is not None:
        query = query.where(subscriptions.c.id > after)
    rows = await conn.execute(query.order_by(subscriptions.c.id).limit(limit))
    return [_subscription(row) for row in rows]


async def live_subscriptions(conn: AsyncConnection) -> list[SubscriptionRecord]:
    rows = await conn.execute(
        select(subscriptions).where(subscriptions.c.deleted_at.is_(None)).order_by(subscriptions.c.id)
    )
    return [_subscription(row) for row in rows]


async def delete_subscription(conn: AsyncConnection, subscription_id: str, now: datetime) -> bool:
    """Stop the subscription; its pending deliveries are dropped. False if there was none."""
    result = await conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.deleted_at.is_(None))
        .values(deleted_at=now, secret=None)
    )
    if not result.rowcount:
        return False
    await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.subscription_id == subscription_id,
            deliveries.c.status.in_(["pending", "digest"]),
        )
        .values(status="cancelled", last_error="the subscription was deleted", next_attempt_at=None)
    )
    return True


# --- silences ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    id: str
    company_id: str | None
    signal: str | None
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime


def _silence(row: Any) -> SilenceRecord:
    return SilenceRecord(
        row.id, row.company_id, row.signal, row.ends_at, row.comment, row.created_by, row.created_at
    )


async def add_silence(conn: AsyncConnection, record: SilenceRecord) -> None:
    await conn.execute(
        silences.insert().values(
            id=record.id,
            company_id=record.company_id,
            signal=record.signal,
            ends_at=record.ends_at,
            comment=record.comment,
            created_by=record.created_by,
            created_at=record.created_at,
        )
    )


async def active_silences(conn: AsyncConnection, now: datetime) -> list[SilenceRecord]:
    rows = await conn.execute(select(silences).where(silences.c.ends_at > now).order_by(silences.c.id))
    return [_silence(row) for row in rows]


async def get_silence(conn: AsyncConnection, silence_id: str) -> SilenceRecord | None:
    row = (await conn.execute(select(silences).where(silences.c.id == silence_id))).first()
    return _silence(row) if row else None


async def end_silence(conn: AsyncConnection, silence_id: str, now: datetime) -> None:
    """End a silence now (it is kept, for the record)."""
    await conn.execute(
        update(silences).where(silences.c.id == silence_id, silences.c.ends_at > now).values(ends_at=now)
    )


# --- companies ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompanyRow:
    company_id: str
    segment: str | None
    account_manager: str | None
    bankrupt: bool


async def companies_of(conn: AsyncConnection, company_ids: Iterable[str]) -> dict[str, CompanyRow]:
    found: dict[str, CompanyRow] = {}
    c = notifier_companies.c
    for chunk in id_chunks(conn, sorted(set(company_ids))):
        rows = await conn.execute(select(notifier_companies).where(among(conn, c.company_id, chunk)))
        found.update(
            (r.company_id, CompanyRow(r.company_id, r.segment, r.account_manager, r.bankrupt)) for r in rows
        )
    return found


async def put_companies(
    conn: AsyncConnection, rows: Mapping[str, CompanyRow], now: datetime, columns: Sequence[str]
) -> None:
    """Store the routing facts of companies; of a company already known only `columns` change."""
    if not rows:
        return
    stmt = dialect_insert(conn, notifier_companies)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["company_id"],
            set_={name: stmt.excluded[name] for name in (*columns, "updated_at")},
        ),
        [
            {
                "company_id": row.company_id,
                "segment": row.segment,
                "account_manager": row.account_manager,
                "bankrupt": row.bankrupt,
                "updated_at": now,
            }
            for row in rows.values()
        ],
    )


# --- deliveries --------------------------------------------------------------------------------------


def delivery_id(event_id: str, subscription_id: str) -> str:
    """The delivery id, sent as `webhook-id`: the same on every attempt and after a restart."""
    digest = hashlib.sha256(f"{event_id}|{subscription_id}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    signal_id: str
    company_id: str
    signal: str
    severity: str
    channel: str
    target: str
    payload: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    traceparent: str | None = None


_DELIVERY_FIELDS = tuple(DeliveryRecord.__dataclass_fields__)


def _delivery(row: Any) -> DeliveryRecord:
    return DeliveryRecord(**{name: getattr(row, name) for name in _DELIVERY_FIELDS})


async def add_deliveries(conn: AsyncConnection, records: Sequence[DeliveryRecord]) -> None:
    """Write new deliveries; one already written for the same event and subscription is left as it is."""
    if records:
        await conn.execute(
            dialect_insert(conn, deliveries).on_conflict_do_nothing(),
            [{name: getattr(record, name) for name in _DELIVERY_FIELDS} for record in records],
        )


async def claim_due(
    conn: AsyncConnection,
    now: datetime,
    *,
    limit: int,
    per_target: int,
    lease: timedelta,
    busy: Sequence[str] = (),
) -> list[DeliveryRecord]:
    """Claim pending deliveries due by `now`, the longest due first: at most `per_target` per target (so
    that one target with a backlog cannot fill the batch) and none for the targets in `busy` (their lanes
    are full); each is leased until now + lease.

    Only the head of the queue (the `4 * limit` longest due) is ranked per target, through the status and
    due-time index: the cost of a claim does not grow with the backlog.
    """
    d = deliveries.c
    due = and_(
        d.status == "pending",
        d.next_attempt_at <= now,
        or_(d.lease_until.is_(None), d.lease_until <= now),
    )
    if busy:
        due = and_(due, d.target.not_in(list(busy)))
    head = (
        select(d.id, d.target, d.next_attempt_at)
        .where(due)
        .order_by(d.next_attempt_at, d.id)
        .limit(4 * limit)
        .subquery()
    )
    h = head.c
    ranked = select(
        h.id,
        h.next_attempt_at,
        func.row_number().over(partition_by=h.target, order_by=(h.next_attempt_at, h.id)).label("n"),
    ).subquery()
    ids = [
        row.id
        for row in await conn.execute(
            select(ranked.c.id)
            .where(ranked.c.n <= per_target)
            .order_by(ranked.c.next_attempt_at, ranked.c.id)
            .limit(limit)
        )
    ]
    if not ids:
        return []
    # Taken again under a row lock, skipping rows another dispatcher is claiming right now (PostgreSQL).
    query = select(deliveries).where(among(conn, d.id, ids), due)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = [_delivery(row) for row in await conn.execute(query)]
    if claimed:
        await conn.execute(
            update(deliveries)
            .where(among(conn, d.id, [record.id for record in claimed]))
            .values(lease_until=now + lease)
        )
    return claimed


@dataclass(frozen=True, slots=True)
class Attempt:
    """The result of one attempt: delivered, failed for good, or pending again at `next_attempt_at`."""

    delivery_id: str
    status: str
    attempted_at: datetime
    next_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None


async def record_attempts(conn: AsyncConnection, attempts: Sequence[Attempt]) -> None:
    """Record attempts (one statement, executed for all): each ends its delivery's lease."""
    if not attempts:
        return
    d = deliveries.c
    await conn.execute(
        update(deliveries)
        .where(d.id == bindparam("b_id"))
        .values(
            status=bindparam("status"),
            attempts=d.attempts + 1,
            next_attempt_at=bindparam("next_attempt_at"),
            first_attempt_at=func.coalesce(d.first_attempt_at, bindparam("attempted_at")),
            last_attempt_at=bindparam("attempted_at"),
            last_status=bindparam("last_status"),
            last_error=bindparam("last_error"),
            lease_until=None,
            delivered_at=bindparam("delivered_at"),
        ),
        [
            {
                "b_id": a.delivery_id,
                "status": a.status,
                "next_attempt_at": a.next_attempt_at,
                "attempted_at": a.attempted_at,
                "last_status": a.last_status,
                "last_error": a.last_error[:500] if a.last_error else None,
                "delivered_at": a.attempted_at if a.status == "delivered" else None,
            }
            for a in attempts
        ],
    )


async def postpone(conn: AsyncConnection, target: str, until: datetime) -> None:
    """Move the pending deliveries of a target whose circuit is open to when it may be tried again."""
    d = deliveries.c
    await conn.execute(
        update(deliveries)
        .where(d.target == target, d.status == "pending", d.next_attempt_at < until)
        .values(next_attempt_at=until)
    )


async def release(conn: AsyncConnection, *delivery_ids: str) -> None:
    """Give claimed deliveries back to the queue without an attempt."""
    await conn.execute(
        update(deliveries).where(among(conn, deliveries.c.id, delivery_ids)).values(lease_until=None)
    )


async def get_delivery(conn: AsyncConnection, delivery_id_: str) -> DeliveryRecord | None:
    row = (await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id_))).first()
    return _delivery(row) if row else None


async def retry_now(conn: AsyncConnection, delivery_id_: str, now: datetime) -> None:
    """Send a failed (or pending) delivery again now, with a new retry window."""
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id_)
        .values(
            status="pending", next_attempt_at=now, first_attempt_at=None, lease_until=None, last_error=None
        )
    )


async def delivery_page(
    conn: AsyncConnection,
    *,
    signal_id: str | None,
    status: str | None,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[DeliveryRecord]:
    """Deliveries newest first, keyset-paged on (created_at, id)."""
    d = deliveries.c
    query = select(deliveries)
    if signal_id is not None:
        query = query.where(d.signal_id == signal_id)
    if status is not None:
        query = query.where(d.status == status)
    if before is not None:
        at, id_ = before
        query = query.where(or_(d.created_at < at, and_(d.created_at == at, d.id < id_)))
    rows = await conn.execute(query.order_by(d.created_at.desc(), d.id.desc()).limit(limit))
    return [_delivery(row) for row in rows]


async def digest_pending(
    conn: AsyncConnection, subscription_id: str, before: datetime
) -> list[DeliveryRecord]:
    """The deliveries waiting for a subscription's digest, queued before `before`, oldest first."""
    d = deliveries.c
    rows = await conn.execute(
        select(deliveries)
        .where(d.subscription_id == subscription_id, d.status == "digest", d.created_at < before)
        .order_by(d.created_at, d.id)
    )
    return [_delivery(row) for row in rows]


async def mark_digested(conn: AsyncConnection, ids: Sequence[str], now: datetime) -> None:
    for chunk in id_chunks(conn, list(ids)):
        await conn.execute(
            update(deliveries)
            .where(among(conn, deliveries.c.id, chunk))
            .values(
                status="delivered", delivered_at=now, last_attempt_at=now, attempts=deliveries.c.attempts + 1
            )
        )


async def count_by_status(conn: AsyncConnection, statuses: Sequence[str]) -> dict[str, int]:
    rows = await conn.execute(
        select(deliveries.c.status, func.count())
        .where(deliveries.c.status.in_(list(statuses)))
        .group_by(deliveries.c.status)
    )
    return {row[0]: int(row[1]) for row in rows}
