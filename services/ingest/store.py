"""What the ingest service keeps in the database: natural keys already accepted, the portfolio, contacts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, String, Table, Text, delete, false, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import UTCDateTime, chunked, dialect_insert, metadata, utcnow

# A natural key (publication reference, bureau event id, order id, Idempotency-Key) maps to the event
# it produced, with a hash of the body, so that a repeat is the same event and a changed body a conflict.
# The row is reserved before the event is published and marked `published` after the bus has it.
intake_keys = Table(
    "intake_keys",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("natural_key", String(255), primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("published", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
)

portfolio = Table(
    "portfolio",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("entry", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


# The latest record of each contact, as the intake accepted it (contract section 8): what
# `GET /v1/companies/{id}/contacts` lists.
contacts = Table(
    "contacts",
    metadata,
    Column("company_id", String(16), primary_key=True),
    Column("contact_id", String(64), primary_key=True),
    Column("entry", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class KnownKey:
    event_id: str
    body_hash: str
    published: bool


@dataclass(frozen=True, slots=True)
class PortfolioRecord:
    company_id: str
    entry: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ContactRecord:
    company_id: str
    contact_id: str
    entry: dict[str, Any]
    """The `Contact` as JSON."""
    updated_at: datetime


def _key_in(keys: list[tuple[str, str]]) -> Any:
    return tuple_(intake_keys.c.scope, intake_keys.c.natural_key).in_(keys)


def _contact_is(company_id: str, contact_id: str) -> tuple[Any, Any]:
    return contacts.c.company_id == company_id, contacts.c.contact_id == contact_id


def _contact_record(row: Any) -> ContactRecord:
    return ContactRecord(row.company_id, row.contact_id, json.loads(row.entry), row.updated_at)


class IntakeStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def reserve(self, entries: Sequence[tuple[tuple[str, str], str, str]]) -> set[tuple[str, str]]:
        """Claim natural keys for ((scope, key), event id, body hash); returns the keys claimed now.

        One atomic insert per key: of concurrent requests with the same key exactly one claims it.
        """
        claimed: set[tuple[str, str]] = set()
        if not entries:
            return claimed
        now = utcnow()
        rows = [
            {
                "scope": s,
                "natural_key": k,
                "event_id": e,
                "body_hash": h,
                "published": False,
                "created_at": now,
            }
            for (s, k), e, h in entries
        ]
        async with self.engine.begin() as conn:
            for start in range(0, len(rows), 500):
                stmt = (
                    dialect_insert(self.engine, intake_keys)
                    .values(rows[start : start + 500])
                    .on_conflict_do_nothing(index_elements=["scope", "natural_key"])
                    .returning(intake_keys.c.scope, intake_keys.c.natural_key)
                )
                claimed.update((row.scope, row.natural_key) for row in await conn.execute(stmt))
        return claimed

    async def known(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], KnownKey]:
        """What is recorded for these (scope, natural key) pairs."""
        found: dict[tuple[str, str], KnownKey] = {}
        async with self.engine.connect() as conn:
            for chunk in chunked(list(dict.fromkeys(keys))):
                rows = await conn.execute(select(intake_keys).where(_key_in(list(chunk))))
                for row in rows:
                    found[(row.scope, row.natural_key)] = KnownKey(row.event_id, row.body_hash, row.published)
        return found

    async def confirm(self, keys: Sequence[tuple[str, str]]) -> None:
        """Mark keys whose events the bus now has."""
        async with self.engine.begin() as conn:
            for chunk in chunked(list(dict.fromkeys(keys))):
                await conn.execute(update(intake_keys).where(_key_in(list(chunk))).values(published=True))

    async def release(self, keys: Sequence[tuple[str, str]]) -> None:
        """Give back keys claimed by a request whose publish failed, unless published meanwhile."""
        async with self.engine.begin() as conn:
            for chunk in chunked(list(dict.fromkeys(keys))):
                await conn.execute(
                    delete(intake_keys).where(_key_in(list(chunk)), intake_keys.c.published.is_(False))
                )

    async def put_portfolio(self, entries: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Store the entries; of several for one company the last wins (as if stored one by one)."""
        now = utcnow()
        # One upsert statement may not touch a row twice on PostgreSQL: keep the last entry per company.
        latest = dict(entries)
        rows = [{"company_id": c, "entry": json.dumps(e), "updated_at": now} for c, e in latest.items()]
        await self._upsert(portfolio, ["company_id"], rows)

    async def delete_portfolio(self, company_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(portfolio.delete().where(portfolio.c.company_id == company_id))
        return bool(result.rowcount)

    async def get_portfolio(self, company_id: str) -> PortfolioRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(portfolio).where(portfolio.c.company_id == company_id))).first()
        return PortfolioRecord(row.company_id, json.loads(row.entry), row.updated_at) if row else None

    async def put_contacts(self, entries: Sequence[dict[str, Any]]) -> None:
        """Store `Contact` records given as JSON; of several for one contact the last wins."""
        now = utcnow()
        # As for the portfolio: one upsert statement may not touch a row twice on PostgreSQL.
        latest = {(e["company_id"], e["contact_id"]): e for e in entries}
        rows = [
            {"company_id": c, "contact_id": k, "entry": json.dumps(e), "updated_at": now}
            for (c, k), e in latest.items()
        ]
        await self._upsert(contacts, ["company_id", "contact_id"], rows)

    async def delete_contact(self, company_id: str, contact_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(contacts.delete().where(*_contact_is(company_id, contact_id)))
        return bool(result.rowcount)

    async def get_contact(self, company_id: str, contact_id: str) -> ContactRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(contacts).where(*_contact_is(company_id, contact_id)))).first()
        return _contact_record(row) if row else None

    async def contact_page(self, company_id: str, after: str | None, limit: int) -> list[ContactRecord]:
        """Up to `limit` contacts of the company in contact id order, from just after the id `after`."""
        query = select(contacts).where(contacts.c.company_id == company_id)
        if after is not None:
            query = query.where(contacts.c.contact_id > after)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(contacts.c.contact_id).limit(limit))
        return [_contact_record(row) for row in rows]

    async def _upsert(self, table: Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
        """Insert `rows` (`keys`, `entry`, `updated_at`); where the keys exist, update the others."""
        if not rows:
            return
        async with self.engine.begin() as conn:
            for start in range(0, len(rows), 1000):
                stmt = dialect_insert(self.engine, table).values(rows[start : start + 1000])
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=keys,
                        set_={"entry": stmt.excluded.entry, "updated_at": stmt.excluded.updated_at},
                    )
                )
