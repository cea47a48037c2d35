"""Company ids (contract section 2): the accepted forms, the check digits and the pydantic type."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from shared.company_id import (
    CompanyId,
    InvalidCompanyId,
    format_company_id,
    is_valid_company_id,
    normalise_company_id,
)

# Two tables of the real KBO/BCE Open Data update extract 0147 (2025-10-12), unmodified.
KBO_UPDATE = Path(__file__).resolve().parents[1] / "data" / "kbo"


@pytest.mark.parametrize(
    "raw",
    [
        "0403.170.701",
        "BE 0403 170 701",
        "BE0403170701",
        "be0403170701",
        "Be 0403.170.701",
        "0403170701",
        "0403-170-701",
        "403170701",
        "403.170.701",
        "BE403170701",
        "  0403 170 701 ",
        "BE.0403.170.701",
    ],
)
def test_accepted_belgian_forms_normalise_to_be_and_ten_digits(raw: str) -> None:
    assert normalise_company_id(raw) == "BE0403170701"


def test_first_digit_one_is_a_company() -> None:
    assert normalise_company_id("1027.395.591") == "BE1027395591"


def test_check_digits_97_when_the_remainder_is_zero() -> None:
    # 00000097 mod 97 == 0, so the check digits are 97 - 0.
    assert normalise_company_id("0000009797") == "BE0000009797"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0403.170.702", "check digits do not match: expected 01, got 02"),
        ("BE0403170700", "check digits do not match: expected 01"),
        ("403170702", "check digits do not match: expected 01"),
    ],
)
def test_wrong_check_digits_are_refused_with_the_expected_ones(raw: str, reason: str) -> None:
    with pytest.raises(InvalidCompanyId, match=reason):
        normalise_company_id(raw)


@pytest.mark.parametrize("first", "2345678")
def test_establishment_unit_numbers_are_refused(first: str) -> None:
    with pytest.raises(InvalidCompanyId, match="establishment unit") as caught:
        normalise_company_id(f"{first}.190.171.611")
    assert "not a company" in str(caught.value)


def test_first_digit_nine_is_refused() -> None:
    with pytest.raises(InvalidCompanyId, match="first digit must be 0 or 1, got 9"):
        normalise_company_id("9403170701")


@pytest.mark.parametrize("raw", ["04031707", "04031707011", "BE04031707012", "0403.170.7", "12345"])
def test_wrong_length_is_refused(raw: str) -> None:
    with pytest.raises(InvalidCompanyId, match=r"must be 10 digits \(or 9 in the legacy form\)"):
        normalise_company_id(raw)


@pytest.mark.parametrize("raw", ["0403.17O.701", "BE0403170701X", "0403_170_701", "0403/170/701"])
def test_letters_and_other_characters_are_refused(raw: str) -> None:
    with pytest.raises(InvalidCompanyId, match="only contain digits"):
        normalise_company_id(raw)


@pytest.mark.parametrize("raw", ["FR40303265045", "DE123456789", "x"])
def test_other_countries_are_refused(raw: str) -> None:
    with pytest.raises(InvalidCompanyId, match="Belgian enterprise number or NL"):
        normalise_company_id(raw)


@pytest.mark.parametrize("raw", ["", "   ", " . - "])
def test_empty_is_refused(raw: str) -> None:
    with pytest.raises(InvalidCompanyId, match="is empty"):
        normalise_company_id(raw)


def test_invalid_company_id_is_a_value_error() -> None:
    assert issubclass(InvalidCompanyId, ValueError)


@pytest.mark.parametrize("raw", ["NL12345678", "nl12345678", "NL 1234 5678", "NL-1234.5678"])
def test_dutch_kvk_numbers(raw: str) -> None:
    assert normalise_company_id(raw) == "NL12345678"


@pytest.mark.parametrize("raw", ["NL1234567", "NL123456789", "NL123456789B01", "NL", "NL1234567A"])
def test_malformed_kvk_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidCompanyId, match="NL followed by 8 digits"):
        normalise_company_id(raw)


def test_bare_eight_digits_are_not_taken_for_a_kvk_number() -> None:
    with pytest.raises(InvalidCompanyId, match="must be 10 digits"):
        normalise_company_id("12345678")


def test_is_valid_company_id() -> None:
    assert is_valid_company_id("0403.170.701")
    assert not is_valid_company_id("0403.170.702")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("BE0403170701", "0403.170.701"),
        ("403170701", "0403.170.701"),
        ("BE1027395591", "1027.395.591"),
        ("nl 1234 5678", "NL12345678"),
    ],
)
def test_format_company_id(raw: str, shown: str) -> None:
    assert format_company_id(raw) == shown


def test_format_company_id_refuses_invalid_ids() -> None:
    with pytest.raises(InvalidCompanyId):
        format_company_id("0403.170.702")


def _kbo_column(file: str, column: str) -> list[str]:
    path = KBO_UPDATE / file
    with path.open(encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def test_every_enterprise_number_of_a_real_kbo_extract_validates() -> None:
    numbers = _kbo_column("enterprise_insert.csv", "EnterpriseNumber")
    assert len(numbers) >= 20
    assert any(number.startswith("1") for number in numbers)
    for number in numbers:
        assert normalise_company_id(number) == "BE" + number.replace(".", "")


def test_establishment_numbers_of_a_real_kbo_extract_are_refused() -> None:
    numbers = _kbo_column("establishment_insert.csv", "EstablishmentNumber")
    assert numbers
    for number in numbers:
        with pytest.raises(InvalidCompanyId, match="establishment unit"):
            normalise_company_id(number)


class _Holder(BaseModel):
    company_id: CompanyId


def test_pydantic_type_normalises() -> None:
    assert _Holder(company_id="0403.170.701").company_id == "BE0403170701"
    assert _Holder.model_validate_json('{"company_id": "nl 1234 5678"}').company_id == "NL12345678"


def test_pydantic_error_names_the_field_and_the_reason() -> None:
    with pytest.raises(ValidationError) as caught:
        _Holder(company_id="0403.170.702")
    (error,) = caught.value.errors()
    assert error["loc"] == ("company_id",)
    assert error["type"] == "company_id"
    assert error["msg"] == "invalid company id: check digits do not match: expected 01, got 02"


def test_pydantic_type_refuses_numbers() -> None:
    with pytest.raises(ValidationError) as caught:
        _Holder.model_validate({"company_id": 403170701})
    assert caught.value.errors()[0]["loc"] == ("company_id",)


def test_json_schema_has_an_example_and_no_pattern() -> None:
    schema = _Holder.model_json_schema()["properties"]["company_id"]
    assert schema["type"] == "string"
    assert schema["examples"] == ["BE0403170701"]
    assert "pattern" not in schema
    assert "BE followed by 10 digits" in schema["description"]
