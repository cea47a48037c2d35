"""director_failure_history, management_churn and straw_man: who runs the company."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.signals.rules import (
    Context,
    History,
    PriorFailure,
    SourceEvent,
    person_key,
    registered_directors,
)
from shared.schemas import Severity

from .builders import AS_OF, ago, appoint, contact, ids, obs, one, person, pub, resign

FAILED = "BE0123456749"


def _failure(on: date, name: str = "Jan PEETERS", birth: int | None = 1971, company: str = FAILED) -> Context:
    failure = PriorFailure(company, on, name, birth, company_name="Oude Zaak BV")
    return Context(director_failures={person_key(name): [failure]})


# --- registered directors ---------------------------------------------------------------------------------


def test_registered_directors_are_appointments_minus_departures_latest_first() -> None:
    events = [
        appoint(date(2020, 1, 1), "Peeters, Jan"),
        appoint(date(2021, 1, 1), "Janssens, Marie"),
        appoint(date(2022, 1, 1), "Claes, Piet", role="manager"),
        appoint(date(2022, 2, 1), "Maes, Sofie", role="auditor"),
        resign(date(2023, 1, 1), "JANSSENS Marie"),
        pub(date(2023, 6, 1), "resignation", persons=[person("Jan Peeters", "dismissed")]),
        appoint(date(2024, 1, 1), "Jan Peeters"),
    ]
    history = History.prepare(events, AS_OF)
    assert [d.who for d in registered_directors(history)] == ["Jan Peeters", "Piet Claes"]
    at_2021 = registered_directors(history, datetime(2021, 6, 1, tzinfo=UTC))
    assert [d.who for d in at_2021] == ["Marie Janssens", "Jan Peeters"]


# --- director_failure_history -----------------------------------------------------------------------------


def test_a_director_with_a_recent_bankruptcy_elsewhere_raises_it() -> None:
    appointment = appoint(date(2025, 3, 1), "Peeters, Jan", 1971)
    finding = one([appointment], "director_failure_history", context=_failure(date(2022, 5, 10)))
    assert finding is not None
    assert finding.severity is Severity.HIGH
    assert ids(finding) == {appointment.id}
    assert finding.evidence[0].type == "appointment"
    assert "Jan Peeters" in finding.summary
    assert "Oude Zaak BV (BE0123456749)" in finding.summary
    assert "declared bankrupt on 2022-05-10" in finding.summary
    assert finding.since == appointment.at


@pytest.mark.parametrize(
    ("bankrupt_on", "raised"),
    [
        (date(2020, 3, 1), True),  # exactly 5 years before the appointment
        (date(2020, 2, 29), False),  # one day more
        (date(2025, 10, 15), True),  # after the appointment, on the day of as_of
        (date(2025, 10, 16), False),  # after as_of: not known yet
    ],
)
def test_the_bankruptcy_must_be_within_5_years_before_the_appointment_or_after(
    bankrupt_on: date, raised: bool
) -> None:
    events = [appoint(date(2025, 3, 1), "Peeters, Jan", 1971)]
    assert (one(events, "director_failure_history", context=_failure(bankrupt_on)) is not None) is raised


def test_a_bankruptcy_after_the_appointment_dates_the_signal() -> None:
    events = [appoint(date(2024, 1, 1), "Jan Peeters")]
    finding = one(events, "director_failure_history", context=_failure(date(2025, 6, 1)))
    assert finding is not None
    assert finding.since == datetime(2025, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("appointee", "birth", "failed_as", "failed_birth", "raised"),
    [
        ("Van den Broeck, Jan", 1971, "Jan Vandenbroeck", 1971, True),
        ("Jan Van Den Bröeck", None, "jan VAN DEN BROECK", 1971, True),
        ("Peeters, Jan", 1971, "Jan Peeters", 1972, False),
        ("Peeters, Jan", 1971, "Piet Peeters", 1971, False),
    ],
)
def test_the_person_is_matched_on_name_and_birth_year(
    appointee: str, birth: int | None, failed_as: str, failed_birth: int | None, raised: bool
) -> None:
    events = [appoint(date(2025, 3, 1), appointee, birth)]
    context = _failure(date(2023, 1, 1), failed_as, failed_birth)
    # The I/O layer looks failures up by key; the rule re-checks the birth year.
    context = Context(
        director_failures={person_key(appointee): next(iter(context.director_failures.values()))}
    )
    assert (one(events, "director_failure_history", context=context) is not None) is raised


def test_a_failure_of_the_company_itself_or_of_an_auditor_does_not_count() -> None:
    own = _failure(date(2023, 1, 1), company="BE0403170701")
    assert one([appoint(date(2025, 3, 1), "Jan Peeters")], "director_failure_history", context=own) is None
    auditor = [appoint(date(2025, 3, 1), "Jan Peeters", role="auditor")]
    assert one(auditor, "director_failure_history", context=_failure(date(2023, 1, 1))) is None


def test_it_is_resolved_when_the_last_such_person_leaves() -> None:
    context = Context(
        director_failures={
            person_key("Jan Peeters"): [PriorFailure(FAILED, date(2023, 1, 1), "Jan Peeters")],
            person_key("Marie Janssens"): [PriorFailure("BE0999999999", date(2022, 1, 1), "Marie Janssens")],
        }
    )
    events = [appoint(date(2024, 1, 1), "Jan Peeters"), appoint(date(2024, 2, 1), "Marie Janssens")]
    assert len(ids(one(events, "director_failure_history", context=context))) == 2
    events.append(resign(date(2025, 1, 1), "Peeters, Jan"))
    finding = one(events, "director_failure_history", context=context)
    assert ids(finding) == {events[1].id}
    events.append(resign(date(2025, 2, 1), "Janssens, Marie", action="dismissed"))
    assert one(events, "director_failure_history", context=context) is None


# --- management_churn -------------------------------------------------------------------------------------


def _board() -> list[SourceEvent]:
    # Two long-serving directors, so that one departure does not empty the board.
    return [appoint(date(2019, 1, 1), "Peeters, Jan"), appoint(date(2019, 1, 1), "Janssens, Marie")]


def test_two_director_changes_within_12_months_raise_churn() -> None:
    events = [*_board(), resign(date(2025, 3, 2), "Peeters, Jan"), appoint(date(2025, 4, 1), "Claes, Piet")]
    finding = one(events, "management_churn")
    assert finding is not None
    assert finding.severity is Severity.MEDIUM
    assert finding.summary == (
        "2 director changes in the last 12 months "
        "(appointed: Piet Claes on 2025-04-01; resigned: Jan Peeters on 2025-03-02)."
    )
    assert ids(finding) == {events[2].id, events[3].id}
    assert finding.since == datetime(2025, 4, 1, tzinfo=UTC)


def test_one_deed_replacing_a_director_is_two_changes() -> None:
    replaced = pub(
        date(2025, 6, 1),
        "resignation",
        "appointment",
        persons=[person("Peeters, Jan", "resigned"), person("Claes, Piet", "appointed")],
    )
    assert one([*_board(), replaced], "management_churn") is not None


def test_one_change_in_12_months_is_not_churn() -> None:
    assert one([*_board(), resign(date(2025, 3, 2), "Peeters, Jan")], "management_churn") is None


def test_two_changes_13_months_apart_are_not_churn() -> None:
    events = [*_board(), appoint(date(2024, 8, 1), "Claes, Piet"), resign(date(2025, 9, 1), "Peeters, Jan")]
    assert one(events, "management_churn") is None


def test_the_window_excludes_its_start() -> None:
    as_of = datetime(2025, 10, 15, tzinfo=UTC)
    events = [*_board(), appoint(date(2024, 10, 15), "Claes, Piet"), resign(date(2025, 9, 1), "Peeters, Jan")]
    assert one(events, "management_churn", as_of=as_of) is None
    events[2] = appoint(date(2024, 10, 16), "Claes, Piet")
    assert one(events, "management_churn", as_of=as_of) is not None


def test_renewing_a_director_in_office_is_not_a_change() -> None:
    events = [
        *_board(),
        appoint(date(2025, 5, 1), "Jan Peeters"),
        appoint(date(2025, 6, 1), "Marie Janssens"),
    ]
    assert one(events, "management_churn") is None


def test_churn_is_resolved_when_the_changes_leave_the_window() -> None:
    events = [*_board(), resign(date(2025, 3, 2), "Peeters, Jan"), appoint(date(2025, 4, 1), "Claes, Piet")]
    assert one(events, "management_churn", as_of=datetime(2026, 3, 3, tzinfo=UTC)) is None


def test_the_last_director_resigning_raises_churn_until_an_appointment() -> None:
    events = [appoint(date(2019, 1, 1), "Peeters, Jan"), resign(date(2023, 5, 1), "Jan Peeters")]
    finding = one(events, "management_churn")
    assert finding is not None
    assert finding.summary == "No registered director is left since Jan Peeters resigned on 2023-05-01."
    assert finding.since == datetime(2023, 5, 1, tzinfo=UTC)
    events.append(appoint(date(2025, 1, 1), "Claes, Piet"))
    assert one(events, "management_churn") is None


def test_a_resignation_without_any_known_appointment_is_not_an_empty_board() -> None:
    assert one([resign(date(2023, 5, 1), "Jan Peeters")], "management_churn") is None


# --- straw_man --------------------------------------------------------------------------------------------


def test_a_contact_not_director_observation_raises_straw_man() -> None:
    report = obs("contact_not_director", ago(364))
    finding = one([report], "straw_man")
    assert finding is not None
    assert finding.severity is Severity.HIGH
    assert ids(finding) == {report.id}


def test_a_contact_not_director_observation_older_than_365_days_does_not() -> None:
    assert one([obs("contact_not_director", ago(365))], "straw_man") is None


def test_a_contact_name_that_is_no_director_raises_straw_man() -> None:
    events = [*_board(), obs("order_volume_drop", ago(10), contact_name="Dirk Vermeulen")]
    finding = one(events, "straw_man")
    assert finding is not None
    assert "Dirk Vermeulen" in finding.summary
    assert "is not a registered director (registered: " in finding.summary
    assert "Jan Peeters" in finding.summary
    assert "Marie Janssens" in finding.summary


def test_a_contact_name_that_is_a_director_written_differently_does_not() -> None:
    events = [*_board(), obs("growth", ago(10), contact_name="MARIE JANSSENS")]
    assert one(events, "straw_man") is None


def test_a_contact_name_is_not_judged_without_known_directors() -> None:
    assert one([obs("growth", ago(10), contact_name="Dirk Vermeulen")], "straw_man") is None


def test_a_later_appointment_of_that_person_resolves_it() -> None:
    events = [*_board(), obs("growth", ago(100), contact_name="Dirk Vermeulen")]
    assert one(events, "straw_man") is not None
    events.append(appoint(ago(20), "Vermeulen, Dirk"))
    assert one(events, "straw_man") is None


def test_a_name_that_was_a_director_at_the_time_stays_fine_after_he_resigns() -> None:
    events = [*_board(), obs("growth", ago(100), contact_name="Jan Peeters"), resign(ago(50), "Jan Peeters")]
    assert one(events, "straw_man") is None


def test_a_contact_claiming_to_be_director_is_checked_against_the_board_now() -> None:
    impostor = contact("Dirk Vermeulen", ago(400))
    finding = one([*_board(), impostor], "straw_man")
    assert ids(finding) == {impostor.id}
    assert one([*_board(), contact("Peeters Jan", ago(5))], "straw_man") is None
    assert one([*_board(), contact("Dirk Vermeulen", ago(5), claims_director=False)], "straw_man") is None
    assert one([*_board(), contact("Dirk Vermeulen", ago(5), deleted=True)], "straw_man") is None
    former = [*_board(), resign(ago(30), "Jan Peeters"), contact("Jan Peeters", ago(5))]
    assert one(former, "straw_man") is not None


def test_straw_man_is_resolved_when_the_reports_leave_the_window() -> None:
    events = [obs("contact_not_director", ago(300))]
    assert one(events, "straw_man", as_of=AS_OF) is not None
    assert one(events, "straw_man", as_of=ago(-65)) is None
