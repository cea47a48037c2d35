"""What every payload model shares: the model configuration, UTC timestamps and money.

Money is a `Decimal` in Python (never a float) and a JSON number on the wire: `50000` for a whole amount,
`1234.56` otherwise. Amounts are limited to 15 significant digits, which every JSON reader (JavaScript
included) round-trips exactly. Input may be a JSON number or a numeric string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)
from pydantic_core import PydanticCustomError

__all__ = ["EwModel", "Money", "NonNegativeMoney", "RequestBody", "UtcDatetime", "example_of", "examples"]

MAX_MONEY_DIGITS = 15


class EwModel(BaseModel):
    """Base of every payload model: unknown fields are refused, text is stripped, aliases are used on output.

    Subclasses set `model_config = examples({...})`; pydantic merges it with this configuration.
    """

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, BaseModel):
        return any(_holds_nul(item) for item in value.__dict__.values())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    return False


class RequestBody(EwModel):
    """Base of a body a client sends: no text in it, at any depth, may hold U+0000.

    PostgreSQL cannot store NUL in text: such a body would be accepted on the embedded default and be a
    500 on PostgreSQL, or be accepted by the intake and then fail in every consumer. It is a 422 here,
    naming the field, whatever the database.
    """

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _holds_nul(value):
            raise ValueError("must not contain the NUL character (U+0000)")
        return value


def examples(example: dict[str, Any]) -> ConfigDict:
    """The configuration part of a model that gives its JSON schema (and so OpenAPI) `example`."""
    return ConfigDict(json_schema_extra={"examples": [example]})


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """The first JSON schema example of `model`, as a JSON-ready dict."""
    extra = model.model_config.get("json_schema_extra")
    if not isinstance(extra, dict):
        raise LookupError(f"{model.__name__} has no example")
    found = extra.get("examples")
    if not isinstance(found, list) or not found or not isinstance(found[0], dict):
        raise LookupError(f"{model.__name__} has no example")
    return dict(found[0])


# Business events happen in this range; anything outside is a typo or an attack, not a date.
MIN_YEAR, MAX_YEAR = 1900, 2200


def _to_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC equivalent
        raise _out_of_range() from None
    if not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise _out_of_range()
    return utc


def _out_of_range() -> PydanticCustomError:
    return PydanticCustomError(
        "datetime_range", "must be between {min} and {max}", {"min": MIN_YEAR, "max": MAX_YEAR}
    )


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timestamp with an explicit offset (naive ones are refused), kept in UTC; JSON `2025-10-12T08:30:00Z`."""


def _money_to_json(value: Decimal) -> int | float:
    # Whole amounts stay integers so that `50000` does not come back as `50000.0`.
    if value == value.to_integral_value():
        return int(value)
    return float(value)


Money = Annotated[
    Decimal,
    Field(allow_inf_nan=False, max_digits=MAX_MONEY_DIGITS),
    PlainSerializer(_money_to_json, return_type=int | float, when_used="json"),
]
"""An amount in euro: `Decimal` in Python, a JSON number on the wire."""

NonNegativeMoney = Annotated[Money, Field(ge=0)]
"""An amount in euro that cannot be negative."""
