"""Builders of source events and helpers shared by the rule tests.

Events are made from the real payload models through the real adapters, so the tests cover those too.
Ids are unique per call unless given.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.signals.rules import (
    EMPTY_CONTEXT,
    Context,
    Finding,
    SourceEvent,
    default_rules,
    evaluate,
    from_bureau,
    from_contact,
    from_observation,
    from_order,
    from_publication,
    from_register,
)
from shared.schemas import BureauEvent, Contact, Observation, Order, Publication, RegisterEvent

COMPANY = "BE0403170701"
PARENT = "BE0417497106"
AS_OF = datetime(2025, 10, 15, 12, 0, tzinfo=UTC)
RULES = default_rules()

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def ago(days: float, hours: float = 0, base: datetime = AS_OF) -> datetime:
    """`days` (and `hours`) before `base`."""
    return base - timedelta(days=days, hours=hours)


def day_of(moment: datetime | date) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def obs(
    kind: str,
    at: datetime,
    reporter: str = "an.peeters@example.com",
    contact_name: str | None = None,
    id: str | None = None,
) -> SourceEvent:
    return from_observation(
        Observation.model_validate(
            {
                "id": id or _id("obs"),
                "company_id": COMPANY,
                "kind": kind,
                "reporter": reporter,
                "observed_at": at,
                "contact_name": contact_name,
                "received_at": at,
            }
        )
    )


def person(
    name: str, action: str = "appointed", role: str = "director", birth_year: int | None = None
) -> dict[str, Any]:
    return {"name": name, "action": action, "role": role, "birth_year": birth_year}


def pub(
    on: datetime | date,
    *rubrics: str,
    persons: Sequence[dict[str, Any]] = (),
    reference: str | None = None,
) -> SourceEvent:
    return from_publication(
        Publication.model_validate(
            {
                "reference": reference or _id("ref"),
                "company_id": COMPANY,
                "published_on": day_of(on),
                "rubrics": list(rubrics) or ["other"],
                "persons": list(persons),
            }
        )
    )


def appoint(
    on: datetime | date, name: str, birth_year: int | None = None, role: str = "director"
) -> SourceEvent:
    return pub(on, "appointment", persons=[person(name, "appointed", role, birth_year)])


def resign(
    on: datetime | date, name: str, birth_year: int | None = None, action: str = "resigned"
) -> SourceEvent:
    return pub(on, "resignation", persons=[person(name, action, "director", birth_year)])


def bureau(
    type: str, at: datetime, id: str | None = None, data: dict[str, Any] | None = None, **fields: Any
) -> SourceEvent:
    """A bureau event; its data from `data` and keyword `fields` (`data` for keys like `from`)."""
    return from_bureau(
        BureauEvent.model_validate(
            {
                "id": id or _id("evt"),
                "company_id": COMPANY,
                "type": type,
                "occurred_at": at,
                "data": {**(data or {}), **fields},
            }
        )
    )


def score_change(at: datetime, old: int, new: int) -> SourceEvent:
    return bureau("score_change", at, data={"from": old, "to": new})


def paying(at: datetime, days: int) -> SourceEvent:
    return bureau("payment_behaviour", at, days_beyond_terms=days)


def filed(at: datetime, year: int, equity: float = 100_000) -> SourceEvent:
    return bureau("annual_accounts_filed", at, fiscal_year=year, filed_on=day_of(at), equity_eur=equity)


def overdue(at: datetime, year: int) -> SourceEvent:
    return bureau("annual_accounts_overdue", at, fiscal_year=year, due_on=date(year + 1, 7, 31))


def order(at: datetime, amount: float = 1000, id: str | None = None) -> SourceEvent:
    return from_order(
        Order.model_validate(
            {
                "company_id": COMPANY,
                "order_id": id or _id("SO"),
                "ordered_at": at,
                "amount_eur": amount,
                "product_line": "packaging",
            }
        )
    )


def register(
    kind: str,
    on: datetime | date | None,
    code: str | None = None,
    description: str | None = None,
    extract: int | None = None,
    observed_at: datetime | None = None,
) -> SourceEvent:
    return from_register(
        RegisterEvent.model_validate(
            {
                "company_id": COMPANY,
                "extract_number": extract if extract is not None else next(_ids),
                "kind": kind,
                "code": code,
                "description": description,
                "effective_on": day_of(on) if on is not None else None,
                "observed_at": observed_at or AS_OF - timedelta(days=400),
            }
        )
    )


def situation(on: datetime | date, code: str) -> SourceEvent:
    return register("juridical_situation", on, code=code)


def contact(
    name: str,
    at: datetime,
    claims_director: bool = True,
    contact_id: str | None = None,
    deleted: bool = False,
) -> SourceEvent:
    return from_contact(
        Contact.model_validate(
            {
                "company_id": COMPANY,
                "contact_id": contact_id or _id("crm"),
                "name": name,
                "dmu_role": "decision_maker",
                "claims_director": claims_director,
                "last_contact_at": at,
                "reporter": "an.peeters@example.com",
                "deleted": deleted,
            }
        )
    )


def run(
    events: Iterable[SourceEvent],
    as_of: datetime = AS_OF,
    context: Context = EMPTY_CONTEXT,
    config: Any = None,
) -> dict[str, Finding]:
    """`evaluate` with the shipped rules unless `config` is given."""
    return evaluate(list(events), context, as_of, config or RULES)


def one(events: Iterable[SourceEvent], signal: str, **kwargs: Any) -> Finding | None:
    """The finding of `signal` only (None when it does not hold)."""
    return run(events, **kwargs).get(signal)


def ids(finding: Finding | None) -> set[str]:
    assert finding is not None
    return set(finding.evidence_ids)
