"""`ew.observations`: what sales people notice at a customer."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, UtcDatetime, examples

__all__ = ["DISTRESS_KINDS", "OPPORTUNITY_KINDS", "Observation", "ObservationKind"]


class ObservationKind(StrEnum):
    """What was observed (contract section 4)."""

    HEADCOUNT_DECLINE = "headcount_decline"
    ORDER_VOLUME_DROP = "order_volume_drop"
    LATE_PAYMENT_SUPPLIERS = "late_payment_suppliers"
    LATE_PAYMENT_EMPLOYEES = "late_payment_employees"
    CONTACT_NOT_DIRECTOR = "contact_not_director"
    MANAGEMENT_UNREACHABLE = "management_unreachable"
    GROWTH = "growth"
    EXPANSION_PLANS = "expansion_plans"
    NEW_PRODUCT_INTEREST = "new_product_interest"


OPPORTUNITY_KINDS: frozenset[ObservationKind] = frozenset(
    {ObservationKind.GROWTH, ObservationKind.EXPANSION_PLANS, ObservationKind.NEW_PRODUCT_INTEREST}
)
"""Kinds that point to an opportunity; every other kind is a sign of distress."""

DISTRESS_KINDS: frozenset[ObservationKind] = frozenset(ObservationKind) - OPPORTUNITY_KINDS


class Observation(EwModel):
    """One sales observation as it travels on the bus (`observed_at` is always set there)."""

    model_config = examples(
        {
            "id": "obs_01JA2B3C4D5E6F7G8H9J0K1M2N",
            "company_id": "BE0403170701",
            "kind": "late_payment_suppliers",
            "reporter": "jan.jansens@example.com",
            "observed_at": "2025-10-10T09:30:00Z",
            "note": "Two suppliers at the trade fair said they wait 90 days for payment.",
            "contact_name": None,
            "received_at": "2025-10-10T09:31:12Z",
        }
    )

    id: str = Field(min_length=1, max_length=100, description="Id given at intake; the same id is one event.")
    company_id: CompanyId = Field(description="The company observed.")
    kind: ObservationKind = Field(description="What was observed.")
    reporter: str = Field(min_length=1, max_length=200, description="Who reported it (name or email).")
    observed_at: UtcDatetime = Field(description="When it was observed (the intake time if not given).")
    note: str | None = Field(None, max_length=5000, description="Free text from the reporter.")
    contact_name: str | None = Field(
        None, max_length=300, description="The person the reporter dealt with, checked against the directors."
    )
    received_at: UtcDatetime = Field(description="When the intake accepted it.")
