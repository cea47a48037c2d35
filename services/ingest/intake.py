"""The intake pipeline shared by the HTTP API and the file importer.

Each item becomes a CloudEvent on its topic (key = company id). Items with a natural key (publication
reference, bureau event id, order id, Idempotency-Key) get an event id derived from that key, so that a
repeat is recognised even across processes: the same body is the same event (nothing is published
again), another body under the same key is a conflict. The ids are deterministic, so that even a repeat
published twice in a race is one event for every consumer that deduplicates on the CloudEvent id.
An item is answered as accepted only after the bus has it durably.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from services.ingest.models import (
    BureauEventIn,
    ContactIn,
    ObservationIn,
    OrderIn,
    PortfolioIn,
    PublicationIn,
)
from services.ingest.store import IntakeStore, KnownKey
from shared import topics
from shared.bus import Bus
from shared.cloudevents import new_event
from shared.schemas import Contact, DmuRole, Observation, PortfolioEntry

SOURCE = "/earlywarning/ingest"


@dataclass(frozen=True, slots=True)
class Item:
    """One event to accept."""

    topic: str
    company_id: str
    event_type: str
    payload: BaseModel
    event_id: str
    body_hash: str
    """Compared when a natural key repeats; empty for items without one."""
    natural_key: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    id: str
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Conflict:
    id: str
    message: str


Outcome = Accepted | Conflict


def body_hash(model: BaseModel) -> str:
    return hashlib.sha256(model.model_dump_json().encode()).hexdigest()


def derived_id(prefix: str, scope: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(f'{scope}|{key}'.encode()).hexdigest()[:24]}"


def random_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def observation_item(body: ObservationIn, *, idempotency: tuple[str, str] | None, now: datetime) -> Item:
    """`idempotency` is (the API key's id, the Idempotency-Key header): keys are per client."""
    scope_key = (f"observation:{idempotency[0]}", idempotency[1]) if idempotency else None
    event_id = derived_id("obs", *scope_key) if scope_key else random_id("obs")
    # Every field was validated in `body`: construct without validating it all again (hot path).
    payload = Observation.model_construct(
        id=event_id,
        company_id=body.company_id,
        kind=body.kind,
        reporter=body.reporter,
        observed_at=body.observed_at or now,
        note=body.note,
        contact_name=body.contact_name,
        received_at=now,
    )
    return Item(
        topics.OBSERVATIONS,
        body.company_id,
        "earlywarning.observation",
        payload,
        event_id,
        body_hash(body) if scope_key else "",  # only compared under an Idempotency-Key
        scope_key,
    )


def publication_item(body: PublicationIn) -> Item:
    key = ("publication", body.reference)
    return Item(
        topics.PUBLICATIONS,
        body.company_id,
        "earlywarning.publication",
        body,
        derived_id("pub", *key),
        body_hash(body),
        key,
    )


def bureau_item(body: BureauEventIn) -> Item:
    key = ("bureau", body.id)
    return Item(
        topics.BUREAU,
        body.company_id,
        f"earlywarning.bureau.{body.type}",
        body,
        derived_id("bur", *key),
        body_hash(body),
        key,
    )


def order_item(body: OrderIn) -> Item:
    key = ("order", f"{body.company_id}/{body.order_id}")
    return Item(
        topics.ORDERS,
        body.company_id,
        "earlywarning.order",
        body,
        derived_id("ord", *key),
        body_hash(body),
        key,
    )


def portfolio_item(company_id: str, body: PortfolioIn | None) -> Item:
    """A new state of a monitored company; None stops monitoring (a tombstone on the compacted topic)."""
    if body is None:
        payload: BaseModel = PortfolioEntry(company_id=company_id, name="-", deleted=True)
        event_type = "earlywarning.portfolio.removed"
    else:
        payload = body.entry(company_id)
        event_type = "earlywarning.portfolio.updated"
    return Item(topics.PORTFOLIO, company_id, event_type, payload, random_id("pf"), "")


def contact_item(
    company_id: str,
    contact_id: str,
    body: ContactIn | None,
    *,
    last: Contact | None = None,
    now: datetime | None = None,
) -> Item:
    """A new version of a contact; None removes it, publishing `last` (its stored record) marked deleted
    (as of `now`, by default the present)."""
    if body is None:
        payload = _removal(company_id, contact_id, last, now or datetime.now(UTC))
        event_type = "earlywarning.contact.removed"
    else:
        payload = body.entry(company_id, contact_id)
        event_type = "earlywarning.contact.updated"
    return Item(topics.CONTACTS, company_id, event_type, payload, random_id("ct"), "")


def _removal(company_id: str, contact_id: str, last: Contact | None, now: datetime) -> Contact:
    """The record of a removal. Consumers keep a contact's version with the latest time (`last_contact_at`,
    else the event's time) and let a removal win a tie; so the removal has no `last_contact_at`, which dates
    it now, after every version, unless the last one is dated ahead (clock skew): then it keeps that time."""
    if last is None:
        # The model requires these; a removal is final whatever they say (as the portfolio's tombstone).
        last = Contact(
            company_id=company_id, contact_id=contact_id, name="-", dmu_role=DmuRole.UNKNOWN, reporter="-"
        )
    ahead = last.last_contact_at is not None and last.last_contact_at > now
    return last.model_copy(
        update={
            "company_id": company_id,
            "contact_id": contact_id,
            "last_contact_at": last.last_contact_at if ahead else None,
            "deleted": True,
        }
    )


def plan(
    items: Sequence[Item], claimed: set[tuple[str, str]], known: Mapping[tuple[str, str], KnownKey]
) -> tuple[list[Outcome], list[Item]]:
    """Pure decision: the outcome of each item and the items to publish.

    `claimed` are the natural keys this request reserved; `known` what is recorded for the others. A key
    recorded with the same body but never published (its request failed or died before the bus had
    it) is published again: its id is derived from the key, so it is the same event either way.
    """
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    outcomes: list[Outcome] = []
    new: list[Item] = []
    for item in items:
        key = item.natural_key
        if key is None:
            outcomes.append(Accepted(item.event_id))
            new.append(item)
            continue
        previous = seen.get(key)
        if previous is None:
            record = known.get(key)
            if (
                key in claimed
                or record is None
                or (record.body_hash == item.body_hash and not record.published)
            ):
                seen[key] = (item.event_id, item.body_hash)
                outcomes.append(Accepted(item.event_id))
                new.append(item)
                continue
            previous = seen[key] = (record.event_id, record.body_hash)
        if previous[1] == item.body_hash:
            outcomes.append(Accepted(previous[0], duplicate=True))
        else:
            scope, name = key
            what = _NAMES.get(scope.split(":")[0], scope)
            outcomes.append(
                Conflict(previous[0], f"{what} {name!r} was already received with another content")
            )
    return outcomes, new


_NAMES = {
    "observation": "Idempotency-Key",
    "publication": "publication reference",
    "bureau": "bureau event id",
    "order": "order",
}


class Intake:
    """Accepts items: deduplicates, publishes durably, remembers natural keys."""

    def __init__(self, bus: Bus, store: IntakeStore, *, source: str = SOURCE) -> None:
        self.bus = bus
        self.store = store
        self.source = source

    async def accept(self, items: Sequence[Item]) -> list[Outcome]:
        first: dict[tuple[str, str], Item] = {}
        for item in items:
            if item.natural_key is not None:
                first.setdefault(item.natural_key, item)
        claimed = await self.store.reserve(
            [(key, item.event_id, item.body_hash) for key, item in first.items()]
        )
        known = await self.store.known([key for key in first if key not in claimed])
        outcomes, new = plan(items, claimed, known)
        now = datetime.now(UTC)
        records = [
            new_event(
                item.event_type, self.source, item.company_id, item.payload, id=item.event_id, time=now
            ).to_record(item.topic, item.company_id)
            for item in new
        ]
        try:
            await self.bus.publish(records)
        except BaseException:
            # Nothing was accepted: free the keys so that a corrected retry is not refused.
            with contextlib.suppress(Exception):
                await self.store.release(list(claimed))
            raise
        await self.store.confirm([item.natural_key for item in new if item.natural_key is not None])
        return outcomes
