"""API keys and scopes (contract section 3), for every service.

A key is `ew_` + 43 characters of a 256-bit random value; only its SHA-256 is stored. A fast hash is
right here: the key has full entropy, so nothing can be guessed from the hash, and looking a key up by
its hash means no secret is ever compared byte by byte.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Row, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import UTCDateTime, metadata, utcnow

KEY_PREFIX = "ew_"
ADMIN_KEY_NAME = "EW_ADMIN_KEY"


class Scope(enum.StrEnum):
    ingest = "ingest"
    read = "read"
    admin = "admin"


api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None

    def allows(self, scope: Scope) -> bool:
        """`admin` may do everything."""
        return scope in self.scopes or Scope.admin in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]


def _row_to_key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=frozenset(Scope(s) for s in row.scopes.split()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class KeyStore:
    """The API keys in the database, with a short cache so that a request costs no query.

    A revoked key stops working within `cache_ttl` seconds in every process.
    """

    def __init__(self, engine: AsyncEngine, *, cache_ttl: float = 10.0) -> None:
        self.engine = engine
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def authenticate(self, key: str) -> ApiKey | None:
        """The live key whose value is `key`, or None."""
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(api_keys).where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))
                )
            ).first()
        found = _row_to_key(row) if row is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self.cache_ttl, found)
        return found

    async def create(
        self, name: str, scopes: Iterable[Scope], *, key: str | None = None
    ) -> tuple[ApiKey, str]:
        """Store a new key; returns it and its value, which is shown once and never stored."""
        value = key or new_key()
        record = ApiKey(
            id=uuid.uuid4().hex[:16],
            name=name,
            prefix=_display_prefix(value),
            scopes=frozenset(scopes),
            created_at=utcnow(),
            revoked_at=None,
        )
        if not record.scopes:
            raise ValueError("a key needs at least one scope")
        async with self.engine.begin() as conn:
            await conn.execute(
                api_keys.insert().values(
                    id=record.id,
                    name=record.name,
                    prefix=record.prefix,
                    key_hash=hash_key(value),
                    scopes=" ".join(sorted(record.scopes)),
                    created_at=record.created_at,
                )
            )
        return record, value

    async def ensure(self, name: str, key: str, scopes: Iterable[Scope]) -> None:
        """Make `key` a live key with `scopes` (bootstrap of `EW_ADMIN_KEY`); idempotent."""
        async with self.engine.begin() as conn:
            existing = (
                await conn.execute(select(api_keys.c.id).where(api_keys.c.key_hash == hash_key(key)))
            ).first()
            if existing is not None:
                await conn.execute(
                    update(api_keys)
                    .where(api_keys.c.id == existing.id)
                    .values(scopes=" ".join(sorted(set(scopes))), revoked_at=None)
                )
                return
        await self.create(name, scopes, key=key)

    async def list(self) -> list[ApiKey]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(api_keys).order_by(api_keys.c.created_at))
            return [_row_to_key(row) for row in rows]

    async def revoke(self, key_id: str) -> bool:
        """Revoke the key with this id (or display prefix); False if there is none."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(
                    (api_keys.c.id == key_id) | (api_keys.c.prefix == key_id), api_keys.c.revoked_at.is_(None)
                )
                .values(revoked_at=utcnow())
            )
        self._cache.clear()
        return bool(result.rowcount)
