"""`ew.contacts`: who the supplier talks to at each customer, and their part in the buying unit (DMU)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, UtcDatetime, examples

__all__ = ["CONTACT_ID_PATTERN", "Contact", "ContactDetails", "DmuRole"]

CONTACT_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
"""The caller's own contact id (contract section 8)."""


class DmuRole(StrEnum):
    """The contact's part in the decision-making unit."""

    DECISION_MAKER = "decision_maker"
    INFLUENCER = "influencer"
    BUYER = "buyer"
    USER = "user"
    GATEKEEPER = "gatekeeper"
    UNKNOWN = "unknown"


class ContactDetails(EwModel):
    """What the caller says about a contact: the body of `PUT .../contacts/{contact_id}`, and so the part of
    every `Contact` record the caller sets (one definition of the fields, for the intake and the topic)."""

    model_config = examples(
        {
            "name": "Sofie Maes",
            "function": "CFO",
            "email": "sofie.maes@acme.example",
            "phone": "+32 9 123 45 67",
            "dmu_role": "decision_maker",
            "claims_director": True,
            "last_contact_at": "2025-09-30T14:00:00Z",
            "reporter": "jan.jansens@example.com",
        }
    )

    name: str = Field(min_length=1, max_length=300, description="Full name.")
    function: str | None = Field(None, max_length=200, description="Job title, e.g. CFO, purchasing manager.")
    email: str | None = Field(
        None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$", description="Email address."
    )
    phone: str | None = Field(None, max_length=50, description="Phone number as given.")
    dmu_role: DmuRole = Field(description="Part in the buying decision.")
    claims_director: bool = Field(
        False, description="The contact says they are a director; checked against the registered directors."
    )
    last_contact_at: UtcDatetime | None = Field(None, description="When the supplier last spoke to them.")
    reporter: str = Field(min_length=1, max_length=200, description="Who recorded the contact.")


class Contact(ContactDetails):
    """A contact at a customer as set by `PUT .../contacts/{contact_id}`; `deleted` marks a `DELETE`."""

    model_config = examples(
        {
            "company_id": "BE0403170701",
            "contact_id": "crm-000123",
            "name": "Sofie Maes",
            "function": "CFO",
            "email": "sofie.maes@acme.example",
            "phone": "+32 9 123 45 67",
            "dmu_role": "decision_maker",
            "claims_director": True,
            "last_contact_at": "2025-09-30T14:00:00Z",
            "reporter": "jan.jansens@example.com",
            "deleted": False,
        }
    )

    company_id: CompanyId = Field(description="The customer.")
    contact_id: str = Field(pattern=CONTACT_ID_PATTERN, description="The caller's own id of the contact.")
    deleted: bool = Field(
        False, description="True on the record written when the contact is removed (DELETE)."
    )
