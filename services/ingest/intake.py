"""The intake pipeline shared by the HTTP API and the file importer.

Each item becomes a CloudEvent on its topic (key = company id). Items with a natural key (publication
reference, bureau event id, order id, Idempotency-Key) get an event id derived from that key, so that a
repeat is recognised even across processes: the same body is the same event (nothing is published
again), another body under the same key is a conflict. The ids are deterministic, so that even a repeat
published twice in a race is one event for every consumer that deduplicates on the CloudEvent id.
An item is answered as accepted only after the bus has it durably.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from services.ingest.models import BureauEventIn, ObservationIn, OrderIn, PortfolioIn, PublicationIn
from services.ingest.store import IntakeStore
from shared import topics
from shared.bus import Bus
from shared.cloudevents import new_event
from shared.schemas import Observation, PortfolioEntry

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


def plan(
    items: Sequence[Item], known: dict[tuple[str, str], tuple[str, str]]
) -> tuple[list[Outcome], list[Item]]:
    """Pure decision: the outcome of each item and the items to publish.

    `known` maps a natural key to the (event id, body hash) accepted before.
    """
    seen = dict(known)
    outcomes: list[Outcome] = []
    new: list[Item] = []
    for item in items:
        previous = seen.get(item.natural_key) if item.natural_key else None
        if previous is None:
            if item.natural_key:
                seen[item.natural_key] = (item.event_id, item.body_hash)
            outcomes.append(Accepted(item.event_id))
            new.append(item)
        elif previous[1] == item.body_hash:
            outcomes.append(Accepted(previous[0], duplicate=True))
        else:
            scope, key = item.natural_key  # type: ignore[misc]
            outcomes.append(
                Conflict(
                    previous[0],
                    f"{_NAMES.get(scope.split(':')[0], scope)} {key!r} was already received with another content",
                )
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
        keys = [item.natural_key for item in items if item.natural_key]
        known = {k: (v.event_id, v.body_hash) for k, v in (await self.store.known(keys)).items()}
        outcomes, new = plan(items, known)
        now = datetime.now(UTC)
        await self.bus.publish(
            [
                new_event(
                    item.event_type, self.source, item.company_id, item.payload, id=item.event_id, time=now
                ).to_record(item.topic, item.company_id)
                for item in new
            ]
        )
        await self.store.remember(
            (item.natural_key[0], item.natural_key[1], item.event_id, item.body_hash)
            for item in new
            if item.natural_key
        )
        return outcomes
