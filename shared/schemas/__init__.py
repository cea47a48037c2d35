"""Typed payloads of every topic (contract section 7), the values carried inside the CloudEvents.

`TOPIC_MODELS` maps each topic to the model of its messages. Money is a `Decimal` and a JSON number;
timestamps are UTC and must carry an offset on input (see `_base`).
"""

from __future__ import annotations

from pydantic import BaseModel

from shared import topics
from shared.schemas._base import EwModel, Money, NonNegativeMoney, RequestBody, UtcDatetime, example_of
from shared.schemas.bureau import (
    BUREAU_DATA_MODELS,
    AnnualAccountsFiled,
    AnnualAccountsOverdue,
    Bankruptcy,
    BureauData,
    BureauEvent,
    BureauEventType,
    CreditLimitChange,
    JudicialReorganisation,
    PaymentBehaviour,
    ScoreChange,
    ShareholderChange,
    SocialSecuritySummons,
    TaxDebt,
    UboChange,
)
from shared.schemas.contacts import CONTACT_ID_PATTERN, Contact, ContactDetails, DmuRole
from shared.schemas.observations import DISTRESS_KINDS, OPPORTUNITY_KINDS, Observation, ObservationKind
from shared.schemas.orders import Order
from shared.schemas.portfolio import PortfolioEntry
from shared.schemas.publications import PersonAction, PersonRole, Publication, PublicationPerson, Rubric
from shared.schemas.register import RegisterEvent, RegisterEventKind
from shared.schemas.signals import (
    Category,
    Evidence,
    EvidenceSource,
    Severity,
    Signal,
    SignalEventType,
    SignalName,
    SignalStatus,
    highest_severity,
)

__all__ = [
    "BUREAU_DATA_MODELS",
    "CONTACT_ID_PATTERN",
    "DISTRESS_KINDS",
    "OPPORTUNITY_KINDS",
    "TOPIC_MODELS",
    "AnnualAccountsFiled",
    "AnnualAccountsOverdue",
    "Bankruptcy",
    "BureauData",
    "BureauEvent",
    "BureauEventType",
    "Category",
    "Contact",
    "ContactDetails",
    "CreditLimitChange",
    "DmuRole",
    "Evidence",
    "EvidenceSource",
    "EwModel",
    "JudicialReorganisation",
    "Money",
    "NonNegativeMoney",
    "Observation",
    "ObservationKind",
    "Order",
    "PaymentBehaviour",
    "PersonAction",
    "PersonRole",
    "PortfolioEntry",
    "Publication",
    "PublicationPerson",
    "RegisterEvent",
    "RegisterEventKind",
    "RequestBody",
    "Rubric",
    "ScoreChange",
    "Severity",
    "ShareholderChange",
    "Signal",
    "SignalEventType",
    "SignalName",
    "SignalStatus",
    "SocialSecuritySummons",
    "TaxDebt",
    "UboChange",
    "UtcDatetime",
    "example_of",
    "highest_severity",
]

TOPIC_MODELS: dict[str, type[BaseModel]] = {
    topics.PORTFOLIO: PortfolioEntry,
    topics.OBSERVATIONS: Observation,
    topics.PUBLICATIONS: Publication,
    topics.BUREAU: BureauEvent,
    topics.ORDERS: Order,
    topics.CONTACTS: Contact,
    topics.REGISTER: RegisterEvent,
    topics.SIGNALS: Signal,
}
"""The payload model of each topic (the dead-letter topics carry the payload of their source topic)."""
