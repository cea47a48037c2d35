"""From a monitored company's register states to the events announced on ew.register."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.register.changes import Candidate, ExtractContext, State, decide, within_horizon
from services.signals.rules import EMPTY_CONTEXT, default_rules, evaluate, from_register, register_event_id
from shared.schemas import RegisterEventKind

COMPANY = "BE0403170701"
SNAPSHOT = date(2025, 10, 11)
CONTEXT = ExtractContext(
    extract_number=147,
    observed_at=datetime(2025, 10, 12, 5, 40, tzinfo=UTC),
    snapshot_date=SNAPSHOT,
    horizon_years=5,
    situations={"048": "Opening faillissement met verschoonbaarheid", "000": "Normale toestand"},
    offices={COMPANY: "Leuvenstraat 3, 2000 Antwerpen"},
)
OLD = date(1998, 1, 1)
RECENT = date(2022, 6, 1)


def candidate(
    before: State | None, now: State, *, baseline: bool = False, start: date | None = OLD
) -> Candidate:
    return Candidate(COMPANY, before, baseline, now, start)


def kinds(found: list[object]) -> list[tuple[str, str | None, str | None]]:
    return [(e.kind.value, e.code, e.previous_code) for e in found]  # type: ignore[attr-defined]


# --- changes between extracts ---------------------------------------------------------------------------


def test_a_new_juridical_situation_is_announced_whatever_the_age_of_the_enterprise() -> None:
    [event] = decide(candidate(State(True, "000", "a"), State(True, "048", "a")), CONTEXT)
    assert (event.kind, event.code, event.previous_code) == (
        RegisterEventKind.JURIDICAL_SITUATION,
        "048",
        "000",
    )
    assert event.description == "Opening faillissement met verschoonbaarheid"
    assert (event.extract_number, event.observed_at, event.effective_on) == (147, CONTEXT.observed_at, None)
    assert register_event_id(event) == f"kbo-{COMPANY}-147-juridical_situation"


def test_a_return_to_the_normal_situation_is_announced_too() -> None:
    assert kinds(decide(candidate(State(True, "091", "a"), State(True, "000", "a")), CONTEXT)) == [
        ("juridical_situation", "000", "091")
    ]


def test_a_new_registered_office_is_a_move() -> None:
    [event] = decide(candidate(State(True, "000", "a"), State(True, "000", "b")), CONTEXT)
    assert (event.kind, event.code, event.previous_code) == (RegisterEventKind.REGISTERED_OFFICE, "b", "a")
    assert event.description == "Leuvenstraat 3, 2000 Antwerpen"


def test_a_first_known_office_is_no_move() -> None:
    assert decide(candidate(State(True, "000", None), State(True, "000", "b")), CONTEXT) == []
    assert decide(candidate(State(True, "000", "a"), State(True, "000", None)), CONTEXT) == []


def test_both_changes_at_once() -> None:
    found = decide(candidate(State(True, "000", "a"), State(True, "012", "b")), CONTEXT)
    assert kinds(found) == [("juridical_situation", "012", "000"), ("registered_office", "b", "a")]
    assert len({register_event_id(event) for event in found}) == 2


def test_an_enterprise_that_leaves_the_register_is_struck_off() -> None:
    [event] = decide(candidate(State(True, "048", "a"), State(False)), CONTEXT)
    assert (event.kind, event.code, event.previous_code) == (RegisterEventKind.STRUCK_OFF, None, "048")


def test_nothing_for_a_company_the_register_never_had() -> None:
    assert decide(candidate(None, State(False)), CONTEXT) == []
    assert decide(candidate(State(None), State(False), baseline=True), CONTEXT) == []
    assert decide(candidate(State(False), State(False)), CONTEXT) == []


def test_nothing_when_nothing_changed() -> None:
    assert decide(candidate(State(True, "048", "a"), State(True, "048", "a")), CONTEXT) == []


# --- first sight ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "baseline"),
    [
        pytest.param(None, False, id="became monitored during the import"),
        pytest.param(State(None), True, id="first load"),
        pytest.param(State(True, "048", "a"), True, id="baseline, unchanged"),
        pytest.param(State(False), False, id="came back to the register"),
    ],
)
def test_a_standing_situation_seen_first_is_announced_within_the_horizon_only(
    before: State | None, baseline: bool
) -> None:
    now = State(True, "048", "a")
    assert kinds(decide(candidate(before, now, baseline=baseline, start=RECENT), CONTEXT)) == [
        ("juridical_situation", "048", None)
    ]
    assert decide(candidate(before, now, baseline=baseline, start=OLD), CONTEXT) == []
    assert decide(candidate(before, now, baseline=baseline, start=None), CONTEXT) == []


def test_a_horizon_of_zero_announces_every_standing_situation() -> None:
    context = ExtractContext(147, CONTEXT.observed_at, SNAPSHOT, 0)
    assert kinds(decide(candidate(State(None), State(True, "010"), baseline=True, start=OLD), context)) == [
        ("juridical_situation", "010", None)
    ]


def test_the_normal_situation_seen_first_is_not_announced() -> None:
    assert decide(candidate(State(None), State(True, "000", "a"), baseline=True, start=RECENT), CONTEXT) == []


def test_a_change_in_the_extract_after_a_baseline_is_a_change() -> None:
    found = decide(candidate(State(True, "000", "a"), State(True, "049", "b"), baseline=True), CONTEXT)
    assert kinds(found) == [("juridical_situation", "049", "000"), ("registered_office", "b", "a")]


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        (date(2020, 10, 11), 5, True),
        (date(2020, 10, 10), 5, False),
        (date(2025, 10, 1), 1, True),
        (date(1900, 1, 1), 0, True),
        (None, 5, False),
    ],
)
def test_within_horizon(start: date | None, years: int, expected: bool) -> None:
    assert within_horizon(start, SNAPSHOT, years) is expected


def test_within_horizon_from_a_29th_of_february() -> None:
    assert within_horizon(date(2019, 2, 28), date(2024, 2, 29), 5)
    assert not within_horizon(date(2019, 2, 27), date(2024, 2, 29), 5)


# --- every code of contract section 9, through the signal rules ----------------------------------------

SECTION_9 = {
    "048": "bankruptcy",
    "049": "bankruptcy",
    "050": "bankruptcy",
    "091": "judicial_reorganisation",
    "040": "judicial_reorganisation",
    "041": "judicial_reorganisation",
    "010": "dissolution",
    "012": "dissolution",
    "013": "dissolution",
}
PROCEEDINGS = {"bankruptcy", "judicial_reorganisation", "dissolution"}


@pytest.mark.parametrize(("code", "signal"), sorted(SECTION_9.items()))
def test_every_code_of_section_9_raises_its_signal(code: str, signal: str) -> None:
    [event] = decide(candidate(State(True, "000", "a"), State(True, code, "a")), CONTEXT)
    source = from_register(event)
    assert source.key == ("register", register_event_id(event))
    findings = evaluate([source], EMPTY_CONTEXT, CONTEXT.observed_at + timedelta(days=1), default_rules())
    assert PROCEEDINGS & set(findings) == {signal}
    assert findings[signal].evidence[0].source == "register"


@pytest.mark.parametrize("code", ["000", "014", "030", "051", "112"])
def test_other_codes_are_announced_but_raise_no_proceedings(code: str) -> None:
    [event] = decide(candidate(State(True, "020", "a"), State(True, code, "a")), CONTEXT)
    findings = evaluate([from_register(event)], EMPTY_CONTEXT, CONTEXT.observed_at, default_rules())
    assert not PROCEEDINGS & set(findings)


def test_two_moves_within_a_year_raise_registered_office_moves() -> None:
    first = decide(candidate(State(True, "000", "a"), State(True, "000", "b")), CONTEXT)
    later = ExtractContext(160, CONTEXT.observed_at + timedelta(days=90), SNAPSHOT, 5)
    second = decide(candidate(State(True, "000", "b"), State(True, "000", "c")), later)
    events = [from_register(event) for event in first + second]
    findings = evaluate(events, EMPTY_CONTEXT, later.observed_at, default_rules())
    assert "registered_office_moves" in findings
