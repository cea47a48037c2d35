"""Request bodies of the intake, and their answers.

The intake models are the topic payloads less what the server fills in (ids, arrival time), plus
checks that only make sense at arrival: nothing may be dated in the future (beyond a clock-skew margin),
and (`RequestBody`) no text may hold U+0000.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Self

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from shared.company_id import CompanyId
from shared.schemas import BureauEvent, Contact, ContactDetails, Order, PortfolioEntry, Publication
from shared.schemas._base import NonNegativeMoney, RequestBody, UtcDatetime, examples
from shared.schemas.observations import ObservationKind

# Clocks of senders are not exact; a few minutes ahead is not "in the future".
CLOCK_SKEW = timedelta(minutes=5)
MAX_BATCH = 10_000


def _not_future_time(value: datetime | None, field: str) -> None:
    if value is not None and value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError(f"{field} is in the future")


def _not_future_date(value: date | None, field: str) -> None:
    # A day ahead is allowed: the sender's date may already be tomorrow in its time zone.
    if value is not None and value > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError(f"{field} is in the future")


class ObservationIn(RequestBody):
    """A sales observation as a sales app posts it."""

    model_config = examples(
        {
            "company_id": "0403.170.701",
            "kind": "late_payment_suppliers",
            "reporter": "jan.jansens@example.com",
            "observed_at": "2025-10-10T09:30:00Z",
            "note": "Two suppliers at the trade fair said they wait 90 days for payment.",
        }
    )

    company_id: CompanyId = Field(description="Enterprise number in any accepted form, e.g. 0403.170.701.")
    kind: ObservationKind = Field(description="What was observed.")
    reporter: str = Field(min_length=1, max_length=200, description="Who reports it (name or email).")
    observed_at: UtcDatetime | None = Field(None, description="When it was observed; default: now.")
    note: str | None = Field(None, max_length=5000, description="Free text from the reporter.")
    contact_name: str | None = Field(
        None, max_length=300, description="The person at the customer the reporter dealt with."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        _not_future_time(self.observed_at, "observed_at")
        return self


class PublicationIn(Publication, RequestBody):
    """A gazette publication; `reference` identifies it."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        _not_future_date(self.published_on, "published_on")
        return self


class BureauEventIn(BureauEvent, RequestBody):
    """A credit-bureau event; `id` identifies it."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        _not_future_time(self.occurred_at, "occurred_at")
        return self


class OrderIn(Order, RequestBody):
    """An order of a customer; `order_id` identifies it per company."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        _not_future_time(self.ordered_at, "ordered_at")
        return self


class PortfolioIn(RequestBody):
    """Start or update monitoring of a company."""

    model_config = examples(
        {
            "name": "Brouwerij Voorbeeld NV",
            "account_manager": "an.peeters@example.com",
            "segment": "horeca",
            "credit_limit_eur": 50000,
            "nace": "11.05",
            "region": "Flanders",
            "employees": 42,
            "customer_since": "2018-03-01",
        }
    )

    name: str = Field(min_length=1, max_length=300, description="Company name as the supplier knows it.")
    account_manager: str | None = Field(None, max_length=200, description="Who manages the account.")
    segment: str | None = Field(None, max_length=100, description="The supplier's own customer segment.")
    credit_limit_eur: NonNegativeMoney | None = Field(None, description="Credit limit granted, in euro.")
    nace: str | None = Field(None, max_length=10, description="Main NACE activity code, e.g. 46.69.")
    region: str | None = Field(None, max_length=100, description="Region, e.g. Flanders, Wallonia, Brussels.")
    employees: int | None = Field(None, ge=0, le=10_000_000, description="Number of employees.")
    customer_since: date | None = Field(None, description="Date of the first business with the customer.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        _not_future_date(self.customer_since, "customer_since")
        return self

    def entry(self, company_id: str) -> PortfolioEntry:
        return PortfolioEntry(company_id=company_id, **self.model_dump())


class ContactIn(ContactDetails, RequestBody):
    """Create or update a contact at a customer; the company and the contact id are in the path."""

    @field_validator("last_contact_at")
    @classmethod
    def _not_future(cls, value: datetime | None) -> datetime | None:
        # A field validator rather than the model's: the error then names `last_contact_at` in its path.
        _not_future_time(value, "last_contact_at")
        return value

    def entry(self, company_id: str, contact_id: str) -> Contact:
        return Contact(company_id=company_id, contact_id=contact_id, **self.model_dump())


class AcceptedOut(BaseModel):
    """An accepted item: its event id (the same id for a repeat of the same item)."""

    model_config = examples({"id": "obs_3f1c2b9a0d4e4c8b9a7f6e5d"})

    id: str = Field(description="The id of the event on the bus.")


class ItemsOut(BaseModel):
    """Accepted items, in the order they were sent."""

    items: list[AcceptedOut]


class ItemError(BaseModel):
    error: str = Field(description="Error code: validation_error or conflict.")
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class BatchItemOut(BaseModel):
    """One item of a batch: its id when accepted, its error otherwise."""

    index: int = Field(description="Position of the item in the request, from 0.")
    id: str | None = None
    error: ItemError | None = None


class BatchOut(BaseModel):
    model_config = examples(
        {
            "accepted": 1,
            "rejected": 1,
            "items": [
                {"index": 0, "id": "obs_3f1c2b9a0d4e4c8b9a7f6e5d"},
                {
                    "index": 1,
                    "error": {
                        "error": "validation_error",
                        "message": "invalid item",
                        "details": [{"path": "company_id", "message": "invalid company id: check digits"}],
                    },
                },
            ],
        }
    )

    accepted: int
    rejected: int
    items: list[BatchItemOut]


class PortfolioOut(PortfolioEntry):
    """A monitored company as stored."""

    updated_at: UtcDatetime


class ContactOut(Contact):
    """A contact as stored: its latest version, and when the intake stored it."""

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
            "updated_at": "2025-10-01T08:00:00Z",
        }
    )

    # Removed contacts are not kept, so `deleted` says nothing here: left out of the answer and its schema.
    deleted: SkipJsonSchema[bool] = Field(False, exclude=True, description="Always false.")
    updated_at: UtcDatetime = Field(description="When the intake stored this version.")


class ContactPage(BaseModel):
    """Contacts of a company in contact id order."""

    items: list[ContactOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")
