"""`ew.portfolio`: the companies a supplier monitors (compacted topic, one record per company)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, NonNegativeMoney, examples

__all__ = ["PortfolioEntry"]


class PortfolioEntry(EwModel):
    """A monitored company as set by `PUT /v1/portfolio/{company_id}`; `deleted` marks a `DELETE`."""

    model_config = examples(
        {
            "company_id": "BE0403170701",
            "name": "Acme Industries NV",
            "account_manager": "an.peeters@example.com",
            "segment": "key accounts",
            "credit_limit_eur": 50000,
            "nace": "46.69",
            "region": "Flanders",
            "employees": 120,
            "customer_since": "2018-03-01",
            "deleted": False,
        }
    )

    company_id: CompanyId = Field(description="The monitored company.")
    name: str = Field(min_length=1, max_length=300, description="Company name as the supplier knows it.")
    account_manager: str | None = Field(
        None, max_length=200, description="Who owns the customer relationship (name or email)."
    )
    segment: str | None = Field(None, max_length=100, description="The supplier's own customer segment.")
    credit_limit_eur: NonNegativeMoney | None = Field(None, description="Credit limit granted, in euro.")
    nace: str | None = Field(None, max_length=10, description="Main NACE activity code, e.g. 46.69.")
    region: str | None = Field(None, max_length=100, description="Region, e.g. Flanders, Wallonia, Brussels.")
    employees: int | None = Field(None, ge=0, description="Number of employees.")
    customer_since: date | None = Field(None, description="Date of the first business with the customer.")
    deleted: bool = Field(
        False,
        description="True on the tombstone written when monitoring stops (DELETE); other fields are kept.",
    )
