"""Subscription matching: the `match` object's validation and every field alone and together."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.notifier.policy import MAX_MATCH_ITEMS, CompanyFacts, Match, matches
from shared.schemas import Category, Severity, SignalName

from .policy_builders import COMPANY, FACTS, OTHER_COMPANY, signal

LIST_FIELDS = ["categories", "signals", "segments", "account_managers", "company_ids"]
VALID_ITEM = {
    "categories": "risk",
    "signals": "bankruptcy",
    "segments": "horeca",
    "account_managers": "an@example.com",
    "company_ids": COMPANY,
}


def match(**fields: Any) -> Match:
    return Match.model_validate(fields)


def errors(fields: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as raised:
        Match.model_validate(fields)
    return [(error["loc"], error["msg"]) for error in raised.value.errors()]


# --- validation -------------------------------------------------------------------------------------------


def test_an_empty_match_matches_everything() -> None:
    assert match() == Match()
    assert matches(match(), signal(), None)
    assert matches(match(), signal(severity=Severity.INFO, category=Category.OPPORTUNITY), FACTS)


@pytest.mark.parametrize("field", LIST_FIELDS)
def test_an_empty_list_is_refused_with_a_hint(field: str) -> None:
    assert errors({field: []}) == [((field,), "must not be empty: omit the field to match any")]


@pytest.mark.parametrize("field", LIST_FIELDS)
def test_null_means_any(field: str) -> None:
    assert getattr(match(**{field: None}), field) is None


@pytest.mark.parametrize("field", LIST_FIELDS)
def test_lists_hold_at_most_1000_items(field: str) -> None:
    assert len(getattr(match(**{field: [VALID_ITEM[field]] * MAX_MATCH_ITEMS}), field)) == MAX_MATCH_ITEMS
    [(loc, message)] = errors({field: [VALID_ITEM[field]] * (MAX_MATCH_ITEMS + 1)})
    assert loc == (field,)
    assert "at most 1000 items" in message


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"min_severity": "urgent"}, ("min_severity",)),
        ({"categories": ["danger"]}, ("categories", 0)),
        ({"signals": ["bankruptcy", "made_up"]}, ("signals", 1)),
        ({"signals": ["Bankruptcy"]}, ("signals", 0)),
        ({"segments": ["  "]}, ("segments", 0)),
        ({"segments": ["x" * 101]}, ("segments", 0)),
        ({"account_managers": [""]}, ("account_managers", 0)),
        ({"account_managers": ["a" * 201]}, ("account_managers", 0)),
        ({"company_ids": ["0403.170.702"]}, ("company_ids", 0)),
        ({"segments": "horeca"}, ("segments",)),
        ({"severity": "high"}, ("severity",)),
    ],
)
def test_bad_values_are_refused_by_path(fields: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    assert [found for found, _ in errors(fields)] == [loc]


def test_values_are_parsed_and_normalised() -> None:
    parsed = match(
        min_severity="medium",
        categories=["risk"],
        signals=["bankruptcy"],
        segments=["  Horeca "],
        company_ids=["0403.170.701", "BE 0417 497 106"],
    )
    assert parsed.min_severity is Severity.MEDIUM
    assert parsed.categories == [Category.RISK]
    assert parsed.signals == [SignalName.BANKRUPTCY]
    assert parsed.segments == ["Horeca"]
    assert parsed.company_ids == [COMPANY, OTHER_COMPANY]


def test_every_field_is_described_for_openapi() -> None:
    schema = Match.model_json_schema()
    assert schema["examples"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    for name in LIST_FIELDS:
        [array, _null] = schema["properties"][name]["anyOf"]
        assert (array["minItems"], array["maxItems"]) == (1, MAX_MATCH_ITEMS)
    Match.model_validate(schema["examples"][0])


# --- each field alone ------------------------------------------------------------------------------------


@pytest.mark.parametrize("minimum", list(Severity))
@pytest.mark.parametrize("severity", list(Severity))
def test_min_severity_lets_that_severity_and_higher_through(minimum: Severity, severity: Severity) -> None:
    expected = severity.rank >= minimum.rank
    assert matches(match(min_severity=minimum), signal(severity=severity), FACTS) is expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # categories (the signal is a risk)
        ({"categories": ["risk"]}, True),
        ({"categories": ["opportunity"]}, False),
        ({"categories": ["opportunity", "retention"]}, False),
        ({"categories": ["opportunity", "risk"]}, True),
        # signals (the signal is score_drop)
        ({"signals": ["score_drop"]}, True),
        ({"signals": ["bankruptcy"]}, False),
        ({"signals": ["bankruptcy", "score_drop"]}, True),
        # company_ids, in any form (the signal is about COMPANY)
        ({"company_ids": [COMPANY]}, True),
        ({"company_ids": ["0403.170.701"]}, True),
        ({"company_ids": ["403170701"]}, True),
        ({"company_ids": [OTHER_COMPANY]}, False),
        ({"company_ids": [OTHER_COMPANY, "be 0403 170 701"]}, True),
        # segments (the company's is "Key Accounts"): case and surrounding blanks do not count
        ({"segments": ["Key Accounts"]}, True),
        ({"segments": ["key accounts"]}, True),
        ({"segments": ["  KEY ACCOUNTS  "]}, True),
        ({"segments": ["key  accounts"]}, False),
        ({"segments": ["horeca"]}, False),
        ({"segments": ["horeca", "key accounts"]}, True),
        # account_managers (the company's is "An.Peeters@Example.com"): case does not count
        ({"account_managers": ["an.peeters@example.com"]}, True),
        ({"account_managers": ["AN.PEETERS@EXAMPLE.COM"]}, True),
        ({"account_managers": [" an.peeters@example.com "]}, True),
        ({"account_managers": ["jan@example.com"]}, False),
        ({"account_managers": ["an.peeters@example.org"]}, False),
        ({"account_managers": ["jan@example.com", "An.Peeters@example.com"]}, True),
    ],
)
def test_each_list_field_alone(fields: dict[str, Any], expected: bool) -> None:
    assert matches(match(**fields), signal(), FACTS) is expected


@pytest.mark.parametrize(
    ("facts", "segment_matches", "manager_matches"),
    [
        (None, False, False),
        (CompanyFacts(segment=None, account_manager=None), False, False),
        (CompanyFacts(segment="key accounts", account_manager=None), True, False),
        (CompanyFacts(segment=None, account_manager="an.peeters@example.com"), False, True),
        (CompanyFacts(segment=" Key Accounts\t", account_manager=" AN.PEETERS@example.com "), True, True),
    ],
)
def test_portfolio_fields_need_portfolio_facts(
    facts: CompanyFacts | None, segment_matches: bool, manager_matches: bool
) -> None:
    assert matches(match(segments=["Key Accounts"]), signal(), facts) is segment_matches
    assert matches(match(account_managers=["an.peeters@example.com"]), signal(), facts) is manager_matches


def test_fields_other_than_the_portfolio_ones_need_no_facts() -> None:
    everything_but_portfolio = match(
        min_severity="high", categories=["risk"], signals=["score_drop"], company_ids=[COMPANY]
    )
    assert matches(everything_but_portfolio, signal(), None)


def test_unicode_case_is_folded() -> None:
    facts = CompanyFacts(segment="Straße", account_manager="ÉLISE@example.com")
    assert matches(match(segments=["STRASSE"], account_managers=["élise@example.com"]), signal(), facts)


# --- fields together: AND between fields ---------------------------------------------------------------

ALL_HOLD: dict[str, Any] = {
    "min_severity": "high",
    "categories": ["risk", "retention"],
    "signals": ["score_drop", "tax_debt"],
    "segments": ["key accounts"],
    "account_managers": ["an.peeters@example.com"],
    "company_ids": [COMPANY],
}
FAILING: dict[str, Any] = {
    "min_severity": "critical",
    "categories": ["opportunity"],
    "signals": ["tax_debt"],
    "segments": ["horeca"],
    "account_managers": ["jan@example.com"],
    "company_ids": [OTHER_COMPANY],
}


def test_all_fields_holding_match() -> None:
    assert matches(match(**ALL_HOLD), signal(), FACTS)


@pytest.mark.parametrize("field", sorted(FAILING))
def test_one_failing_field_is_enough_to_miss(field: str) -> None:
    assert not matches(match(**{**ALL_HOLD, field: FAILING[field]}), signal(), FACTS)


@pytest.mark.parametrize(
    ("first", "second"), [(a, b) for a in sorted(FAILING) for b in sorted(FAILING) if a < b]
)
def test_any_two_fields_must_both_hold(first: str, second: str) -> None:
    both = {first: ALL_HOLD[first], second: ALL_HOLD[second]}
    assert matches(match(**both), signal(), FACTS)
    assert not matches(match(**{**both, first: FAILING[first]}), signal(), FACTS)
    assert not matches(match(**{**both, second: FAILING[second]}), signal(), FACTS)
