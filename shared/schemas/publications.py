"""`ew.publications`: publications in the Belgian Official Gazette (Staatsblad / Moniteur belge)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, field_validator

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, examples

__all__ = ["PersonAction", "PersonRole", "Publication", "PublicationPerson", "Rubric"]

EARLIEST_BIRTH_YEAR = 1900


class Rubric(StrEnum):
    """The kind of deed published (contract section 4)."""

    INCORPORATION = "incorporation"
    ARTICLES_AMENDMENT = "articles_amendment"
    REGISTERED_OFFICE = "registered_office"
    APPOINTMENT = "appointment"
    RESIGNATION = "resignation"
    CAPITAL_INCREASE = "capital_increase"
    CAPITAL_DECREASE = "capital_decrease"
    MERGER = "merger"
    DEMERGER = "demerger"
    DISSOLUTION = "dissolution"
    LIQUIDATION = "liquidation"
    LIQUIDATION_CLOSURE = "liquidation_closure"
    BANKRUPTCY = "bankruptcy"
    JUDICIAL_REORGANISATION = "judicial_reorganisation"
    OTHER = "other"


class PersonRole(StrEnum):
    """The mandate a person holds at the company."""

    DIRECTOR = "director"
    MANAGER = "manager"
    AUDITOR = "auditor"
    LIQUIDATOR = "liquidator"
    REPRESENTATIVE = "representative"


class PersonAction(StrEnum):
    """What the publication does to the person's mandate."""

    APPOINTED = "appointed"
    RESIGNED = "resigned"
    DISMISSED = "dismissed"


class PublicationPerson(EwModel):
    """A person named in a publication, with the change to their mandate."""

    model_config = examples(
        {"name": "Peeters, Jan", "birth_year": 1971, "role": "director", "action": "appointed"}
    )

    name: str = Field(min_length=1, max_length=300, description="Full name as published.")
    birth_year: int | None = Field(
        None,
        ge=EARLIEST_BIRTH_YEAR,
        description="Year of birth when published; with the name it identifies the person across companies.",
    )
    role: PersonRole = Field(description="The mandate.")
    action: PersonAction = Field(description="Appointed, resigned or dismissed.")

    @field_validator("birth_year")
    @classmethod
    def _not_in_future(cls, value: int | None) -> int | None:
        if value is not None and value > date.today().year:
            raise ValueError(f"birth year {value} is in the future")
        return value


class Publication(EwModel):
    """One gazette publication; the `reference` identifies it (the same reference twice is one publication)."""

    model_config = examples(
        {
            "reference": "25123456",
            "company_id": "BE0403170701",
            "company_name": "Acme Industries NV",
            "published_on": "2025-10-08",
            "rubrics": ["resignation", "appointment"],
            "persons": [
                {"name": "Janssens, Marie", "birth_year": 1965, "role": "director", "action": "resigned"},
                {"name": "Peeters, Jan", "birth_year": 1971, "role": "director", "action": "appointed"},
            ],
            "text": "Ontslag en benoeming van bestuurders.",
        }
    )

    reference: str = Field(min_length=1, max_length=100, description="The gazette's publication reference.")
    company_id: CompanyId = Field(description="The company the deed is about.")
    company_name: str | None = Field(None, max_length=300, description="Company name as published.")
    published_on: date = Field(description="Publication date.")
    rubrics: list[Rubric] = Field(min_length=1, description="What the deed is about; at least one.")
    persons: list[PublicationPerson] = Field(
        default_factory=list, description="People appointed, resigning or dismissed by the deed."
    )
    text: str | None = Field(None, max_length=100_000, description="Text of the publication, when available.")
