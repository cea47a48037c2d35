"""`ew.register`: changes in the public register (KBO/BCE Open Data) of a monitored company."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, UtcDatetime, examples

__all__ = ["RegisterEvent", "RegisterEventKind"]


class RegisterEventKind(StrEnum):
    """What changed in the register."""

    JURIDICAL_SITUATION = "juridical_situation"
    REGISTERED_OFFICE = "registered_office"
    STRUCK_OFF = "struck_off"


class RegisterEvent(EwModel):
    """A change found by comparing register extracts (or at the first load) for a monitored company."""

    model_config = examples(
        {
            "company_id": "BE0403170701",
            "extract_number": 147,
            "kind": "juridical_situation",
            "code": "048",
            "previous_code": "000",
            "description": "Faillissement geopend",
            "effective_on": "2025-10-06",
            "observed_at": "2025-10-12T02:10:00Z",
        }
    )

    company_id: CompanyId = Field(description="The company.")
    extract_number: int = Field(ge=0, description="Number of the KBO/BCE extract the change was found in.")
    kind: RegisterEventKind = Field(description="What changed.")
    code: str | None = Field(
        None, max_length=50, description="New juridical-situation code (e.g. 048), or the new address key."
    )
    previous_code: str | None = Field(
        None, max_length=50, description="The code before the change, if known."
    )
    description: str | None = Field(
        None, max_length=500, description="Readable text: the code's description or the new address."
    )
    effective_on: date | None = Field(
        None, description="Date the change took effect, when the register gives it."
    )
    observed_at: UtcDatetime = Field(description="When the import found the change.")
