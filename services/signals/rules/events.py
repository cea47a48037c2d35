"""Source events: every intake payload seen the same way by the rules.

A `SourceEvent` is one fact about one company at one moment of EVENT time (when it happened, not when it
reached us), with the validated payload and a short sentence for evidence. The adapters below make one from
each topic's payload model; they are pure and never fail on a valid payload (except a contact without any
time, see `from_contact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.schemas import (
    AnnualAccountsFiled,
    AnnualAccountsOverdue,
    Bankruptcy,
    BureauEvent,
    Contact,
    CreditLimitChange,
    Evidence,
    JudicialReorganisation,
    Observation,
    ObservationKind,
    Order,
    PaymentBehaviour,
    Publication,
    RegisterEvent,
    RegisterEventKind,
    ScoreChange,
    ShareholderChange,
    SocialSecuritySummons,
    TaxDebt,
    UboChange,
)

from .periods import require_utc, utc_day
from .persons import display_name
from .wording import clip, eur, listing, on

__all__ = [
    "Payload",
    "SourceEvent",
    "SourceName",
    "from_bureau",
    "from_contact",
    "from_observation",
    "from_order",
    "from_publication",
    "from_register",
    "observed",
    "register_event_id",
]

SourceName = Literal["observation", "publication", "bureau", "order", "register", "contact"]
"""Where a source event comes from; also the `source` of its evidence."""

Payload = Observation | Publication | BureauEvent | Order | RegisterEvent | Contact
"""The validated model a source event was made from."""

EVIDENCE_SUMMARY_LIMIT = 300
"""Event summaries stay short: they are repeated in every signal that cites the event."""


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """One fact about a company, in event time.

    `id` is the source's own id (observation id, gazette reference, bureau event id, order id, contact id,
    or the derived register id); together with `source` it identifies the event. `at` is aware and kept in
    UTC. Two events are equal when all fields are; the hash uses `(source, id)` only, because payload models
    are not hashable.
    """

    id: str
    company_id: str
    source: SourceName
    type: str
    at: datetime
    payload: Payload
    summary: str

    def __post_init__(self) -> None:
        # Frozen: normalising the time needs object.__setattr__.
        object.__setattr__(self, "at", require_utc(self.at, f"time of {self.source} event {self.id}"))

    def __hash__(self) -> int:
        return hash((self.source, self.id))

    @property
    def key(self) -> tuple[str, str]:
        """`(source, id)`: what identifies the event across deliveries."""
        return (self.source, self.id)

    def evidence(self, *, type: str | None = None, summary: str | None = None) -> Evidence:
        """This event as evidence of a signal; `type` and `summary` may be made more specific by a rule."""
        return Evidence(
            source=self.source,
            event_id=self.id,
            type=type or self.type,
            at=self.at,
            summary=clip(summary or self.summary),
        )


_OBSERVED: dict[ObservationKind, str] = {
    ObservationKind.HEADCOUNT_DECLINE: "fewer people at the company",
    ObservationKind.ORDER_VOLUME_DROP: "falling order volumes",
    ObservationKind.LATE_PAYMENT_SUPPLIERS: "suppliers paid late",
    ObservationKind.LATE_PAYMENT_EMPLOYEES: "staff paid late",
    ObservationKind.CONTACT_NOT_DIRECTOR: "a contact acting as director who is not a registered director",
    ObservationKind.MANAGEMENT_UNREACHABLE: "management cannot be reached",
    ObservationKind.GROWTH: "growth",
    ObservationKind.EXPANSION_PLANS: "expansion plans",
    ObservationKind.NEW_PRODUCT_INTEREST: "interest in new products",
}


def observed(kind: ObservationKind) -> str:
    """What an observation kind means, as words for a sentence."""
    return _OBSERVED[kind]


def from_observation(observation: Observation) -> SourceEvent:
    """A sales observation, at `observed_at`."""
    text = f"{observation.reporter} reported {observed(observation.kind)}"
    if observation.contact_name:
        text += f" (contact: {display_name(observation.contact_name)})"
    if observation.note:
        text += f": {observation.note}"
    return SourceEvent(
        id=observation.id,
        company_id=observation.company_id,
        source="observation",
        type=observation.kind.value,
        at=observation.observed_at,
        payload=observation,
        summary=_sentence(text),
    )


def from_publication(publication: Publication) -> SourceEvent:
    """A gazette publication, at 00:00 UTC of `published_on`; its id is the gazette reference."""
    rubrics = ", ".join(rubric.value.replace("_", " ") for rubric in publication.rubrics)
    text = f"Official Gazette {publication.reference} of {on(publication.published_on)}: {rubrics}"
    people = [
        f"{display_name(person.name)} {person.action.value} as {person.role.value}"
        for person in publication.persons
    ]
    if people:
        text += f" ({listing(people)})"
    return SourceEvent(
        id=publication.reference,
        company_id=publication.company_id,
        source="publication",
        type="publication",
        at=utc_day(publication.published_on),
        payload=publication,
        summary=_sentence(text),
    )


def from_bureau(event: BureauEvent) -> SourceEvent:
    """A credit-bureau event, at `occurred_at`; its type is the bureau event type."""
    return SourceEvent(
        id=event.id,
        company_id=event.company_id,
        source="bureau",
        type=event.type.value,
        at=event.occurred_at,
        payload=event,
        summary=_sentence(_bureau_text(event)),
    )


def _bureau_text(event: BureauEvent) -> str:
    data = event.data
    if isinstance(data, ScoreChange):
        if data.to == data.from_:
            return f"Bureau score stayed at {data.to}"
        verb = "fell" if data.to < data.from_ else "rose"
        return f"Bureau score {verb} from {data.from_} to {data.to}"
    if isinstance(data, CreditLimitChange):
        return f"Recommended credit limit changed from {eur(data.from_eur)} to {eur(data.to_eur)}"
    if isinstance(data, PaymentBehaviour):
        return f"Pays {data.days_beyond_terms} days beyond terms on average"
    if isinstance(data, SocialSecuritySummons):
        return "Summoned by the RSZ/ONSS for unpaid social-security contributions" + _court(data.court)
    if isinstance(data, TaxDebt):
        return f"Tax debt of {eur(data.amount_eur)} reported"
    if isinstance(data, AnnualAccountsFiled):
        return (
            f"Annual accounts {data.fiscal_year} filed on {on(data.filed_on)}, equity {eur(data.equity_eur)}"
        )
    if isinstance(data, AnnualAccountsOverdue):
        return f"Annual accounts {data.fiscal_year} not filed by {on(data.due_on)}"
    if isinstance(data, Bankruptcy):
        return f"Declared bankrupt on {on(data.declared_on)}" + _court(data.court)
    if isinstance(data, JudicialReorganisation):
        return f"Judicial reorganisation opened on {on(data.opened_on)}" + _court(data.court)
    if isinstance(data, ShareholderChange):
        return f"{data.parent_company_id} holds {data.share_pct:g} % of the shares"
    if isinstance(data, UboChange):
        return "Ultimate beneficial owners changed"
    raise TypeError(f"unexpected bureau data {type(data).__name__}")  # pragma: no cover


def _court(court: str | None) -> str:
    return f" ({court})" if court else ""


def from_order(order: Order) -> SourceEvent:
    """An order of the supplier's own, at `ordered_at`; its id is the order number."""
    return SourceEvent(
        id=order.order_id,
        company_id=order.company_id,
        source="order",
        type="order",
        at=order.ordered_at,
        payload=order,
        summary=_sentence(f"Order {order.order_id} of {eur(order.amount_eur)} ({order.product_line})"),
    )


def register_event_id(event: RegisterEvent) -> str:
    """The id of a register change, which has none of its own: company, extract number and kind.

    One extract holds at most one change of each kind per enterprise, so this is unique and the same on
    every re-import of that extract.
    """
    return f"kbo-{event.company_id}-{event.extract_number}-{event.kind.value}"


def from_register(event: RegisterEvent, *, id: str | None = None) -> SourceEvent:
    """A register change, at 00:00 UTC of `effective_on`, or at `observed_at` when the register gives no date.

    `id` defaults to `register_event_id(event)`; the storage layer may pass its own.
    """
    at = utc_day(event.effective_on) if event.effective_on else event.observed_at
    if event.kind is RegisterEventKind.JURIDICAL_SITUATION:
        text = f"Register extract {event.extract_number}: juridical situation {event.code or 'unknown'}"
        if event.description:
            text += f" ({event.description})"
    elif event.kind is RegisterEventKind.REGISTERED_OFFICE:
        text = f"Register extract {event.extract_number}: new registered office"
        if event.description:
            text += f" ({event.description})"
    else:
        text = f"Register extract {event.extract_number}: struck off the register"
    return SourceEvent(
        id=id or register_event_id(event),
        company_id=event.company_id,
        source="register",
        type=event.kind.value,
        at=at,
        payload=event,
        summary=_sentence(text),
    )


def from_contact(contact: Contact, at: datetime | None = None) -> SourceEvent:
    """A contact record, at `last_contact_at`, or at `at` (for instance when it was saved) if never contacted.

    Its id is the caller's contact id: a later version of the same contact replaces the earlier one in a
    history (see `History.prepare`). Raises ValueError when neither time is known.
    """
    moment = contact.last_contact_at or at
    if moment is None:
        raise ValueError(f"contact {contact.contact_id} has no last_contact_at; pass the time it was saved")
    details = ", ".join(part for part in (contact.function, contact.dmu_role.value.replace("_", " ")) if part)
    text = f"Contact {display_name(contact.name)} ({details})"
    if contact.deleted:
        text += " was removed"
    elif contact.claims_director:
        text += " claims to be a director"
    else:
        text += " recorded"
    return SourceEvent(
        id=contact.contact_id,
        company_id=contact.company_id,
        source="contact",
        type="contact",
        at=moment,
        payload=contact,
        summary=_sentence(text),
    )


def _sentence(text: str) -> str:
    text = clip(text, EVIDENCE_SUMMARY_LIMIT - 1)
    return text if text.endswith((".", "!", "?")) else text + "."


def from_payload(payload: Payload, *, at: datetime | None = None, id: str | None = None) -> SourceEvent:
    """The source event of any intake payload, through its adapter.

    `at` dates a contact never contacted (when it was saved); `id` is a register change's stored id.
    """
    if isinstance(payload, Observation):
        return from_observation(payload)
    if isinstance(payload, Publication):
        return from_publication(payload)
    if isinstance(payload, BureauEvent):
        return from_bureau(payload)
    if isinstance(payload, Order):
        return from_order(payload)
    if isinstance(payload, RegisterEvent):
        return from_register(payload, id=id)
    return from_contact(payload, at=at)
