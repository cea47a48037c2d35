"""Facts across companies: who held a mandate where (the person index) and who owns whom (the group graph).

Both are derived from the companies' own source events, in the batch's transaction and under the lock of the
company they belong to: the mandates from its gazette publications, the shareholdings from its bureau
`shareholder_change` events. `context_for` then reads, for the companies being evaluated, the bankruptcies
in their directors' past and the state of their parents; `sharing_people` and `subsidiaries` tell the
consumer whom a change at one company concerns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.signals.rules import (
    Context,
    ParentState,
    PriorFailure,
    SourceEvent,
    person_key,
    same_person,
)
from services.signals.rules.directors import DIRECTOR_ROLES
from services.signals.rules.history import History
from services.signals.store import companies, person_mandates, shareholdings, signals
from shared.db import among, dialect_insert, id_chunks
from shared.schemas import (
    BureauEvent,
    BureauEventType,
    Category,
    PersonAction,
    Publication,
    Severity,
    ShareholderChange,
    SignalName,
    SignalStatus,
)

_DIRECTORS = sorted(role.value for role in DIRECTOR_ROLES)

# --- deriving (pure) ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mandate:
    """A person's mandate at a company: from the publication appointing them to the one ending it."""

    person_key: str
    name: str
    birth_year: int | None
    role: str
    event_id: str
    appointed_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Stake:
    """The latest share a shareholder holds in a company according to the bureau."""

    parent_company_id: str
    share_pct: float
    at: datetime
    event_id: str


def _history(events: Sequence[SourceEvent]) -> History:
    return History.prepare(events, max(event.at for event in events))


def mandates_of(events: Sequence[SourceEvent]) -> list[Mandate]:
    """Every mandate the company's publications show, in publication order, whatever the arrival order.

    An appointment of someone already in office in that role (`same_person`) is a renewal, not a new
    mandate; a resignation or dismissal ends the person's open mandate in that role.
    """
    if not events:
        return []
    found: list[Mandate] = []
    for event, publication in _history(events).publications():
        for person in publication.persons:
            key = person_key(person.name)
            if not key:
                continue
            role = person.role.value
            holding = [
                index
                for index, m in enumerate(found)
                if m.role == role
                and m.ended_at is None
                and same_person(m.name, m.birth_year, person.name, person.birth_year)
            ]
            if person.action is PersonAction.APPOINTED:
                known = any((m.person_key, m.role, m.event_id) == (key, role, event.id) for m in found)
                if not holding and not known:
                    found.append(Mandate(key, person.name, person.birth_year, role, event.id, event.at))
                continue
            for index in holding:
                m = found[index]
                found[index] = Mandate(
                    m.person_key, m.name, m.birth_year, m.role, m.event_id, m.appointed_at, event.at
                )
    return found


def stakes_of(events: Sequence[SourceEvent]) -> list[Stake]:
    """The latest `shareholder_change` per shareholder, by event time (then id)."""
    if not events:
        return []
    latest: dict[str, Stake] = {}
    for event, bureau in _history(events).bureau(BureauEventType.SHAREHOLDER_CHANGE):
        data = bureau.data
        assert isinstance(data, ShareholderChange)
        # The history is sorted by (at, id): a later one replaces an earlier one.
        latest[data.parent_company_id] = Stake(data.parent_company_id, data.share_pct, event.at, event.id)
    return sorted(latest.values(), key=lambda stake: stake.parent_company_id)


# --- maintaining -------------------------------------------------------------------------------------


def _names_people(event: SourceEvent) -> bool:
    return isinstance(event.payload, Publication) and bool(event.payload.persons)


def _names_shareholder(event: SourceEvent) -> bool:
    return isinstance(event.payload, BureauEvent) and event.payload.type is BureauEventType.SHAREHOLDER_CHANGE


async def index(
    conn: AsyncConnection,
    histories: Mapping[str, Sequence[SourceEvent]],
    new_events: Iterable[SourceEvent],
) -> set[str]:
    """Bring the person index and the group graph in line with the histories of companies with new events.

    Only companies with a new publication naming people, or a new shareholder change, are derived again
    (from their whole history, so that events arriving out of order end in the same rows). Returns the
    companies whose mandates were derived again.
    """
    people: set[str] = set()
    owners: set[str] = set()
    for event in new_events:
        if event.company_id in histories:
            if _names_people(event):
                people.add(event.company_id)
            elif _names_shareholder(event):
                owners.add(event.company_id)
    await _put_mandates(conn, {company_id: mandates_of(histories[company_id]) for company_id in people})
    stakes = [
        {
            "company_id": company_id,
            "parent_company_id": stake.parent_company_id,
            "share_pct": stake.share_pct,
            "at": stake.at,
            "event_id": stake.event_id,
        }
        for company_id in sorted(owners)
        for stake in stakes_of(histories[company_id])
    ]
    if stakes:
        stmt = dialect_insert(conn, shareholdings)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["company_id", "parent_company_id"],
                set_={name: stmt.excluded[name] for name in ("share_pct", "at", "event_id")},
            ),
            stakes,
        )
    return people


async def _put_mandates(conn: AsyncConnection, mandates: Mapping[str, Sequence[Mandate]]) -> None:
    """Replace the mandates of each company by those derived again (an earlier publication arriving late
    can turn an appointment into a renewal: its row goes)."""
    for chunk in id_chunks(conn, sorted(mandates)):
        await conn.execute(delete(person_mandates).where(among(conn, person_mandates.c.company_id, chunk)))
    rows = [
        {
            "company_id": company_id,
            "person_key": m.person_key,
            "role": m.role,
            "event_id": m.event_id,
            "name": m.name,
            "birth_year": m.birth_year,
            "appointed_at": m.appointed_at,
            "ended_at": m.ended_at,
        }
        for company_id, found in sorted(mandates.items())
        for m in found
    ]
    if rows:
        await conn.execute(person_mandates.insert(), rows)


# --- reading -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Person:
    company_id: str
    person_key: str
    name: str
    birth_year: int | None


async def _directors(conn: AsyncConnection, column: Any, values: Iterable[str]) -> list[_Person]:
    """The persons with a director or manager mandate (held or holding) whose `column` is in `values`."""
    c = person_mandates.c
    found: list[_Person] = []
    for chunk in id_chunks(conn, sorted(set(values))):
        result = await conn.execute(
            select(c.company_id, c.person_key, c.name, c.birth_year)
            .where(among(conn, column, chunk), c.role.in_(_DIRECTORS))
            .distinct()
        )
        found += [_Person(r.company_id, r.person_key, r.name, r.birth_year) for r in result]
    return found


async def _directors_at(conn: AsyncConnection, company_ids: Iterable[str]) -> list[_Person]:
    """The persons who held (or hold) a director or manager mandate at the companies."""
    return await _directors(conn, person_mandates.c.company_id, company_ids)


async def _directors_named(conn: AsyncConnection, keys: Iterable[str]) -> list[_Person]:
    """Every director or manager mandate, at any company, of the given person keys."""
    return await _directors(conn, person_mandates.c.person_key, keys)


async def _bankruptcies(conn: AsyncConnection, company_ids: Iterable[str]) -> dict[str, datetime]:
    """When each company was declared bankrupt: its first `bankruptcy` signal, open or resolved."""
    found: dict[str, datetime] = {}
    for chunk in id_chunks(conn, sorted(set(company_ids))):
        result = await conn.execute(
            select(signals.c.company_id, signals.c.raised_at).where(
                among(conn, signals.c.company_id, chunk), signals.c.signal == SignalName.BANKRUPTCY.value
            )
        )
        for row in result:
            known = found.get(row.company_id)
            found[row.company_id] = row.raised_at if known is None else min(known, row.raised_at)
    return found


async def _names(conn: AsyncConnection, company_ids: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in id_chunks(conn, sorted(set(company_ids))):
        result = await conn.execute(
            select(companies.c.company_id, companies.c.name).where(
                among(conn, companies.c.company_id, chunk), companies.c.name.is_not(None)
            )
        )
        found.update((row.company_id, row.name) for row in result)
    return found


async def bankrupt(conn: AsyncConnection, company_ids: Iterable[str]) -> set[str]:
    """The companies, among these, that have a `bankruptcy` signal (open or resolved)."""
    return set(await _bankruptcies(conn, company_ids))


async def context_for(conn: AsyncConnection, company_ids: Iterable[str]) -> dict[str, Context]:
    """The cross-company facts each company's rules need, as stored now.

    `director_failures`: for each person key of the company's directors, the OTHER companies where a
    person of that key was a director and that were declared bankrupt (the rule checks birth years with
    `same_person`). `parents`: every shareholder, whatever its share (the rule applies the threshold), with
    its open risk signals.
    """
    ids = sorted(set(company_ids))
    own: dict[str, set[str]] = {}
    for person in await _directors_at(conn, ids):
        own.setdefault(person.company_id, set()).add(person.person_key)
    others = await _directors_named(conn, {key for keys in own.values() for key in keys})
    failed_on = await _bankruptcies(conn, {person.company_id for person in others})
    stakes = await _stakes(conn, ids)
    parent_ids = {stake[0] for found in stakes.values() for stake in found}
    names = await _names(conn, set(failed_on) | parent_ids)
    risks = await _open_risk(conn, parent_ids)

    failures: dict[str, list[tuple[str, PriorFailure]]] = {}
    for person in others:
        if person.company_id in failed_on:
            failures.setdefault(person.person_key, []).append(
                (
                    person.company_id,
                    PriorFailure(
                        company_id=person.company_id,
                        bankrupt_on=failed_on[person.company_id].date(),
                        name=person.name,
                        birth_year=person.birth_year,
                        company_name=names.get(person.company_id),
                    ),
                )
            )
    contexts: dict[str, Context] = {}
    for company_id in ids:
        director_failures = {
            key: sorted(
                (failure for where, failure in failures.get(key, []) if where != company_id),
                key=lambda f: (f.company_id, f.name, f.birth_year or 0),
            )
            for key in sorted(own.get(company_id, ()))
        }
        parents = [
            _parent_state(parent_id, share_pct, risks.get(parent_id, []), names.get(parent_id))
            for parent_id, share_pct in stakes.get(company_id, [])
        ]
        contexts[company_id] = Context(
            director_failures={key: found for key, found in director_failures.items() if found},
            parents=parents,
        )
    return contexts


def _parent_state(
    parent_id: str, share_pct: float, risks: Sequence[tuple[str, Severity, datetime]], name: str | None
) -> ParentState:
    serious = [at for _, severity, at in risks if severity >= Severity.HIGH]
    dates = serious or [at for _, _, at in risks]
    return ParentState(
        parent_company_id=parent_id,
        share_pct=share_pct,
        open_risk=tuple(sorted((signal, severity) for signal, severity, _ in risks)),
        name=name,
        since=min(dates) if dates else None,
    )


async def _stakes(conn: AsyncConnection, company_ids: Sequence[str]) -> dict[str, list[tuple[str, float]]]:
    c = shareholdings.c
    found: dict[str, list[tuple[str, float]]] = {}
    for chunk in id_chunks(conn, company_ids):
        result = await conn.execute(
            select(c.company_id, c.parent_company_id, c.share_pct)
            .where(among(conn, c.company_id, chunk))
            .order_by(c.company_id, c.parent_company_id)
        )
        for row in result:
            found.setdefault(row.company_id, []).append((row.parent_company_id, float(row.share_pct)))
    return found


async def _open_risk(
    conn: AsyncConnection, company_ids: Iterable[str]
) -> dict[str, list[tuple[str, Severity, datetime]]]:
    c = signals.c
    found: dict[str, list[tuple[str, Severity, datetime]]] = {}
    for chunk in id_chunks(conn, sorted(set(company_ids))):
        result = await conn.execute(
            select(c.company_id, c.signal, c.severity, c.raised_at).where(
                and_(
                    among(conn, c.company_id, chunk),
                    c.status == SignalStatus.OPEN.value,
                    c.category == Category.RISK.value,
                )
            )
        )
        for row in result:
            found.setdefault(row.company_id, []).append((row.signal, Severity(row.severity), row.raised_at))
    return found


async def sharing_people(conn: AsyncConnection, company_ids: Iterable[str]) -> dict[str, set[str]]:
    """For each company, the OTHER companies where one of its directors (`same_person`) was a director."""
    people = await _directors_at(conn, company_ids)
    namesakes: dict[str, list[_Person]] = {}
    for other in await _directors_named(conn, {person.person_key for person in people}):
        namesakes.setdefault(other.person_key, []).append(other)
    found: dict[str, set[str]] = {}
    for person in people:
        for other in namesakes.get(person.person_key, []):
            if other.company_id != person.company_id and same_person(
                person.name, person.birth_year, other.name, other.birth_year
            ):
                found.setdefault(person.company_id, set()).add(other.company_id)
    return found


async def subsidiaries(conn: AsyncConnection, parent_ids: Iterable[str]) -> dict[str, set[str]]:
    """For each company, the companies it holds shares in (any share: the rule applies the threshold)."""
    c = shareholdings.c
    found: dict[str, set[str]] = {}
    for chunk in id_chunks(conn, sorted(set(parent_ids))):
        result = await conn.execute(
            select(c.parent_company_id, c.company_id).where(among(conn, c.parent_company_id, chunk))
        )
        for row in result:
            if row.company_id != row.parent_company_id:
                found.setdefault(row.parent_company_id, set()).add(row.company_id)
    return found
