"""`ew.bureau`: credit-bureau events, one data model per event type (contract section 4)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, get_args

from pydantic import Field, ModelWrapValidatorHandler, ValidationError, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from shared.company_id import CompanyId
from shared.schemas._base import EwModel, Money, NonNegativeMoney, UtcDatetime, examples

__all__ = [
    "BUREAU_DATA_MODELS",
    "AnnualAccountsFiled",
    "AnnualAccountsOverdue",
    "Bankruptcy",
    "BureauData",
    "BureauEvent",
    "BureauEventType",
    "CreditLimitChange",
    "JudicialReorganisation",
    "PaymentBehaviour",
    "ScoreChange",
    "ShareholderChange",
    "SocialSecuritySummons",
    "TaxDebt",
    "UboChange",
]

_COURT = "The enterprise court, e.g. Ondernemingsrechtbank Gent."


class BureauEventType(StrEnum):
    """The credit-bureau event types."""

    SCORE_CHANGE = "score_change"
    CREDIT_LIMIT_CHANGE = "credit_limit_change"
    PAYMENT_BEHAVIOUR = "payment_behaviour"
    SOCIAL_SECURITY_SUMMONS = "social_security_summons"
    TAX_DEBT = "tax_debt"
    ANNUAL_ACCOUNTS_FILED = "annual_accounts_filed"
    ANNUAL_ACCOUNTS_OVERDUE = "annual_accounts_overdue"
    BANKRUPTCY = "bankruptcy"
    JUDICIAL_REORGANISATION = "judicial_reorganisation"
    SHAREHOLDER_CHANGE = "shareholder_change"
    UBO_CHANGE = "ubo_change"


class ScoreChange(EwModel):
    """The bureau score changed (0-100, higher is safer)."""

    model_config = examples({"from": 72, "to": 45})

    from_: int = Field(alias="from", ge=0, le=100, description="Previous score.")
    to: int = Field(ge=0, le=100, description="New score.")


class CreditLimitChange(EwModel):
    """The bureau's recommended credit limit changed."""

    model_config = examples({"from_eur": 50000, "to_eur": 20000})

    from_eur: NonNegativeMoney = Field(description="Previous recommended limit, in euro.")
    to_eur: NonNegativeMoney = Field(description="New recommended limit, in euro.")


class PaymentBehaviour(EwModel):
    """How late the company pays its suppliers."""

    model_config = examples({"days_beyond_terms": 45})

    days_beyond_terms: int = Field(ge=0, description="Average days paid beyond the agreed terms.")


class SocialSecuritySummons(EwModel):
    """A summons by the RSZ/ONSS for unpaid social-security contributions."""

    model_config = examples({"court": "Ondernemingsrechtbank Antwerpen"})

    court: str | None = Field(None, max_length=200, description=_COURT)


class TaxDebt(EwModel):
    """A tax or VAT debt was reported."""

    model_config = examples({"amount_eur": 18250.5})

    amount_eur: Money = Field(gt=0, description="The debt, in euro.")


class AnnualAccountsFiled(EwModel):
    """Annual accounts were filed with the National Bank."""

    model_config = examples(
        {
            "fiscal_year": 2024,
            "filed_on": "2025-07-28",
            "equity_eur": -125000,
            "revenue_eur": 4200000,
            "employees": 38,
        }
    )

    fiscal_year: int = Field(ge=1900, le=2200, description="Year in which the financial year ends.")
    filed_on: date = Field(description="Filing date.")
    equity_eur: Money = Field(description="Equity (codes 10/15), in euro; negative is a warning sign.")
    revenue_eur: NonNegativeMoney | None = Field(None, description="Revenue, in euro, when disclosed.")
    employees: int | None = Field(None, ge=0, description="Average number of employees.")


class AnnualAccountsOverdue(EwModel):
    """Annual accounts were not filed on time."""

    model_config = examples({"fiscal_year": 2024, "due_on": "2025-07-31"})

    fiscal_year: int = Field(ge=1900, le=2200, description="Year in which the financial year ends.")
    due_on: date = Field(description="The filing deadline that passed.")


class Bankruptcy(EwModel):
    """The company was declared bankrupt."""

    model_config = examples({"court": "Ondernemingsrechtbank Gent", "declared_on": "2025-10-06"})

    court: str | None = Field(None, max_length=200, description=_COURT)
    declared_on: date = Field(description="Date of the judgment.")


class JudicialReorganisation(EwModel):
    """A judicial reorganisation (court protection from creditors) was opened."""

    model_config = examples({"court": "Tribunal de l'entreprise de Liège", "opened_on": "2025-09-15"})

    court: str | None = Field(None, max_length=200, description=_COURT)
    opened_on: date = Field(description="Date the procedure was opened.")


class ShareholderChange(EwModel):
    """A company became (or stays) a shareholder of this one."""

    model_config = examples({"parent_company_id": "BE0417497106", "share_pct": 75})

    parent_company_id: CompanyId = Field(description="The shareholder company.")
    share_pct: float = Field(ge=0, le=100, description="Share held, in percent.")


class UboChange(EwModel):
    """The ultimate beneficial owners changed; the event carries no data."""

    model_config = examples({})


BureauData = (
    ScoreChange
    | CreditLimitChange
    | PaymentBehaviour
    | SocialSecuritySummons
    | TaxDebt
    | AnnualAccountsFiled
    | AnnualAccountsOverdue
    | Bankruptcy
    | JudicialReorganisation
    | ShareholderChange
    | UboChange
)

BUREAU_DATA_MODELS: dict[BureauEventType, type[EwModel]] = {
    BureauEventType.SCORE_CHANGE: ScoreChange,
    BureauEventType.CREDIT_LIMIT_CHANGE: CreditLimitChange,
    BureauEventType.PAYMENT_BEHAVIOUR: PaymentBehaviour,
    BureauEventType.SOCIAL_SECURITY_SUMMONS: SocialSecuritySummons,
    BureauEventType.TAX_DEBT: TaxDebt,
    BureauEventType.ANNUAL_ACCOUNTS_FILED: AnnualAccountsFiled,
    BureauEventType.ANNUAL_ACCOUNTS_OVERDUE: AnnualAccountsOverdue,
    BureauEventType.BANKRUPTCY: Bankruptcy,
    BureauEventType.JUDICIAL_REORGANISATION: JudicialReorganisation,
    BureauEventType.SHAREHOLDER_CHANGE: ShareholderChange,
    BureauEventType.UBO_CHANGE: UboChange,
}
"""The model of `data` for each event type."""


class BureauEvent(EwModel):
    """One credit-bureau event; `data` is checked against the model of its `type`.

    Errors in `data` are reported at `data.<field>`, next to the errors of the other fields.
    """

    model_config = examples(
        {
            "id": "evt_2Zk8Lw1qTn",
            "company_id": "BE0403170701",
            "type": "score_change",
            "occurred_at": "2025-10-09T06:00:00Z",
            "data": {"from": 72, "to": 45},
        }
    )

    id: str = Field(
        min_length=1, max_length=200, description="The bureau's event id; the same id is one event."
    )
    company_id: CompanyId = Field(description="The company the event is about.")
    type: BureauEventType = Field(description="What happened; decides the shape of `data`.")
    occurred_at: UtcDatetime = Field(description="When it happened according to the bureau.")
    data: BureauData = Field(description="Details, shaped by `type` (contract section 4).")

    @model_validator(mode="wrap")
    @classmethod
    def _data_matches_type(cls, value: Any, handler: ModelWrapValidatorHandler[BureauEvent]) -> BureauEvent:
        if not isinstance(value, dict):
            return handler(value)
        fields = dict(value)
        data_errors: list[InitErrorDetails] = []
        raw_type = fields.get("type")
        event_type = None
        if isinstance(raw_type, str) and raw_type in _TYPE_VALUES:
            event_type = BureauEventType(raw_type)
        # A stand-in for `data` when it cannot be used, so that its problem is reported once, not
        # once per member of the union; without a valid type the error on `type` says enough.
        stand_in = UboChange()
        if event_type is None:
            fields["data"] = stand_in
        else:
            try:
                fields["data"] = BUREAU_DATA_MODELS[event_type].model_validate(fields.get("data", {}))
            except ValidationError as exc:
                data_errors = _located(exc.errors(), ("data",))
                fields["data"] = stand_in
        try:
            event = handler(fields)
        except ValidationError as exc:
            if not data_errors:
                raise
            raise ValidationError.from_exception_data(
                cls.__name__, _located(exc.errors(), ()) + data_errors
            ) from None
        if data_errors:
            raise ValidationError.from_exception_data(cls.__name__, data_errors)
        return event


_TYPE_VALUES: frozenset[str] = frozenset(BureauEventType)
_KNOWN_ERROR_TYPES: frozenset[str] = frozenset(get_args(ErrorType))


def _located(errors: list[ErrorDetails], prefix: tuple[str, ...]) -> list[InitErrorDetails]:
    """`errors` again, with `prefix` in front of each location, ready to raise in a new ValidationError."""
    located: list[InitErrorDetails] = []
    for error in errors:
        loc = (*prefix, *error["loc"])
        if error["type"] in _KNOWN_ERROR_TYPES:
            detail = InitErrorDetails(type=error["type"], loc=loc, input=error["input"])
            if "ctx" in error:
                detail["ctx"] = error["ctx"]
        else:
            # Custom errors (e.g. an invalid company id) keep their type and formatted message.
            detail = InitErrorDetails(
                type=PydanticCustomError(error["type"], error["msg"]), loc=loc, input=error["input"]
            )
        located.append(detail)
    return located
