"""dormant_reactivated and registered_office_moves: what the company's activity and addresses show."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared.schemas import Severity

from .builders import ago, bureau, ids, obs, one, pub, register, score_change

# --- dormant_reactivated ----------------------------------------------------------------------------------


def test_activity_after_3_years_of_silence_raises_dormant_reactivated() -> None:
    before = pub(date(2020, 5, 1), "articles_amendment")
    woken = score_change(datetime(2025, 6, 1, 9, tzinfo=UTC), 60, 55)
    finding = one([before, woken], "dormant_reactivated")
    assert finding is not None
    assert finding.severity is Severity.MEDIUM
    assert ids(finding) == {before.id, woken.id}
    assert finding.since == woken.at
    assert finding.summary.startswith(
        "After 5 years without gazette or bureau activity (the last on 2020-05-01)"
    )


def test_exactly_3_years_is_enough_and_one_day_less_is_not() -> None:
    before = pub(date(2022, 5, 1), "other")
    assert one([before, pub(date(2025, 5, 1), "appointment")], "dormant_reactivated") is not None
    assert one([before, pub(date(2025, 4, 30), "appointment")], "dormant_reactivated") is None


def test_the_first_activity_ever_is_not_a_reactivation() -> None:
    assert one([pub(date(2025, 5, 1), "incorporation")], "dormant_reactivated") is None


def test_observations_and_orders_are_not_activity() -> None:
    events = [
        pub(date(2020, 5, 1), "other"),
        obs("growth", datetime(2022, 1, 1, tzinfo=UTC)),
        pub(date(2025, 5, 1), "appointment"),
    ]
    assert one(events, "dormant_reactivated") is not None


def test_it_stays_open_180_days_after_the_reactivating_event() -> None:
    woken = bureau("ubo_change", datetime(2025, 6, 1, tzinfo=UTC))
    events = [pub(date(2020, 5, 1), "other"), woken]
    assert one(events, "dormant_reactivated", as_of=woken.at + timedelta(days=179, hours=23)) is not None
    assert one(events, "dormant_reactivated", as_of=woken.at + timedelta(days=180)) is None


def test_later_regular_activity_does_not_reopen_it() -> None:
    events = [pub(date(2020, 5, 1), "other"), pub(date(2024, 1, 1), "other"), pub(date(2025, 9, 1), "other")]
    assert one(events, "dormant_reactivated") is None


# --- registered_office_moves ----------------------------------------------------------------------------


def test_two_moves_within_12_months_raise_registered_office_moves() -> None:
    moves = [pub(date(2025, 1, 10), "registered_office"), pub(date(2025, 8, 1), "registered_office")]
    finding = one(moves, "registered_office_moves")
    assert finding is not None
    assert finding.severity is Severity.MEDIUM
    assert (
        finding.summary
        == "The registered office moved 2 times in the last 12 months (on 2025-01-10 and 2025-08-01)."
    )
    assert finding.since == moves[1].at


def test_register_changes_count_as_moves() -> None:
    moves = [
        register("registered_office", date(2025, 1, 10)),
        register("registered_office", date(2025, 8, 1)),
    ]
    assert one(moves, "registered_office_moves") is not None


def test_a_move_reported_by_gazette_and_register_counts_once() -> None:
    same_move = [register("registered_office", date(2025, 5, 2)), pub(date(2025, 6, 20), "registered_office")]
    assert one(same_move, "registered_office_moves") is None
    two_moves = [register("registered_office", date(2025, 2, 1)), pub(date(2025, 8, 20), "registered_office")]
    assert one(two_moves, "registered_office_moves") is not None


def test_a_single_move_is_not_enough() -> None:
    assert one([pub(date(2025, 8, 1), "registered_office")], "registered_office_moves") is None


def test_two_moves_13_months_apart_are_not_moves_within_12_months() -> None:
    moves = [pub(date(2024, 9, 1), "registered_office"), pub(date(2025, 10, 1), "registered_office")]
    assert one(moves, "registered_office_moves") is None


def test_moves_are_resolved_when_they_leave_the_window() -> None:
    moves = [pub(date(2025, 1, 10), "registered_office"), pub(date(2025, 8, 1), "registered_office")]
    assert one(moves, "registered_office_moves", as_of=datetime(2026, 1, 10, tzinfo=UTC)) is None
    assert one(moves, "registered_office_moves", as_of=ago(-80)) is not None
