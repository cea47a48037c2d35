"""Company identity (contract section 2): a Belgian enterprise number or a Dutch KvK number.

The normalised form is what every topic, table and URL carries: `BE` + 10 digits (`BE0403170701`) or
`NL` + 8 digits (`NL12345678`). Input is accepted in the forms people actually type: `0403.170.701`,
`BE 0403 170 701`, `be0403170701`, `0403170701` and the legacy 9-digit `403170701`.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "CompanyId",
    "InvalidCompanyId",
    "format_company_id",
    "is_valid_company_id",
    "normalise_company_id",
]

# Separators people put between digit groups; removed before the digits are checked.
_SEPARATORS = re.compile(r"[\s.\-]+")
_DIGITS = re.compile(r"\d+")


class InvalidCompanyId(ValueError):
    """The text is not a valid company id; the message says why."""


@functools.lru_cache(maxsize=65536)  # every stored event is validated again when its history is read
def normalise_company_id(raw: str) -> str:
    """The normalised id (`BE` + 10 digits or `NL` + 8 digits) of `raw`, or `InvalidCompanyId`."""
    if not isinstance(raw, str):
        raise InvalidCompanyId(f"must be text, not {type(raw).__name__}")
    compact = _SEPARATORS.sub("", raw).upper()
    if not compact:
        raise InvalidCompanyId("is empty")
    if compact.startswith("NL"):
        return _dutch(compact[2:])
    if compact.startswith("BE"):
        return _belgian(compact[2:])
    if compact[0].isalpha():
        raise InvalidCompanyId("must be a Belgian enterprise number or NL followed by a KvK number")
    return _belgian(compact)


def _belgian(digits: str) -> str:
    if not _DIGITS.fullmatch(digits):
        raise InvalidCompanyId("an enterprise number may only contain digits, dots, spaces and dashes")
    if len(digits) == 9:
        # Numbers issued before 2005 had 9 digits; the 10-digit form prefixes a 0.
        digits = "0" + digits
    if len(digits) != 10:
        raise InvalidCompanyId(f"must be 10 digits (or 9 in the legacy form), got {len(digits)}")
    first = digits[0]
    if first in "2345678":
        raise InvalidCompanyId(
            f"{_dotted(digits)} is an establishment unit number (first digit {first}), not a company"
        )
    if first not in "01":
        raise InvalidCompanyId(f"first digit must be 0 or 1, got {first}")
    expected = 97 - int(digits[:8]) % 97
    if int(digits[8:]) != expected:
        raise InvalidCompanyId(f"check digits do not match: expected {expected:02d}, got {digits[8:]}")
    return "BE" + digits


def _dutch(digits: str) -> str:
    if not _DIGITS.fullmatch(digits) or len(digits) != 8:
        raise InvalidCompanyId("a KvK number must be NL followed by 8 digits")
    return "NL" + digits


def _dotted(digits: str) -> str:
    return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"


def is_valid_company_id(raw: str) -> bool:
    """Whether `raw` is a company id in any accepted form."""
    try:
        normalise_company_id(raw)
    except InvalidCompanyId:
        return False
    return True


def format_company_id(cid: str) -> str:
    """The display form: `0403.170.701` for a Belgian number, the normalised `NL12345678` for a Dutch one."""
    normalised = normalise_company_id(cid)
    if normalised.startswith("BE"):
        return _dotted(normalised[2:])
    return normalised


def _validate(value: str) -> str:
    try:
        return normalise_company_id(value)
    except InvalidCompanyId as exc:
        # A custom error keeps the reason as the message (no "Value error, " prefix in a 422).
        raise PydanticCustomError(
            "company_id", "invalid company id: {reason}", {"reason": str(exc)}
        ) from None


CompanyId = Annotated[
    str,
    AfterValidator(_validate),
    WithJsonSchema(
        {
            "type": "string",
            "title": "Company id",
            "description": (
                "Belgian enterprise number (KBO/BCE), normalised to BE followed by 10 digits; accepted as "
                "0403.170.701, BE 0403 170 701, 0403170701 or the legacy 9-digit 403170701. "
                "Dutch companies: NL followed by the 8-digit KvK number."
            ),
            "examples": ["BE0403170701"],
        }
    ),
]
"""A company id as a pydantic field type: any accepted form in, the normalised form out."""
