"""Bureau-based signals: summons, tax debt, accounts, equity, score and payment behaviour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.signals.rules import rules_from_mapping
from shared.schemas import Severity

from .builders import AS_OF, ago, bureau, filed, ids, one, overdue, paying, score_change

# --- social_security_summons and tax_debt ---------------------------------------------------------------


def test_a_summons_raises_social_security_summons() -> None:
    event = bureau("social_security_summons", ago(364), court="Ondernemingsrechtbank Antwerpen")
    finding = one([event], "social_security_summons")
    assert finding is not None
    assert finding.severity is Severity.HIGH
    assert finding.summary == (
        "The RSZ/ONSS summoned the company before Ondernemingsrechtbank Antwerpen on 2024-10-16 for unpaid "
        "social-security contributions."
    )


@pytest.mark.parametrize("days", [365, 366])
def test_a_summons_365_days_old_or_more_does_not(days: int) -> None:
    assert one([bureau("social_security_summons", ago(days))], "social_security_summons") is None


def test_every_summons_in_the_window_is_evidence() -> None:
    events = [bureau("social_security_summons", ago(d)) for d in (400, 200, 10)]
    finding = one(events, "social_security_summons")
    assert ids(finding) == {events[1].id, events[2].id}
    assert finding is not None
    assert "2 times" in finding.summary
    assert finding.since == events[1].at


def test_a_summons_is_resolved_a_year_later() -> None:
    events = [bureau("social_security_summons", ago(10))]
    assert one(events, "social_security_summons", as_of=ago(-355)) is None


def test_a_tax_debt_raises_tax_debt() -> None:
    finding = one([bureau("tax_debt", ago(30), amount_eur=18250.5)], "tax_debt")
    assert finding is not None
    assert finding.severity is Severity.HIGH
    assert finding.summary == "A tax debt of EUR 18,250.50 was reported on 2025-09-15."


def test_several_tax_debts_are_totalled() -> None:
    events = [bureau("tax_debt", ago(d), amount_eur=a) for d, a in ((100, 1000), (30, 2500.5))]
    finding = one(events, "tax_debt")
    assert finding is not None
    assert finding.summary.startswith("2 tax debts totalling EUR 3,500.50 were reported")


@pytest.mark.parametrize("days", [365, 500])
def test_an_old_tax_debt_does_not_raise(days: int) -> None:
    assert one([bureau("tax_debt", ago(days), amount_eur=100)], "tax_debt") is None


# --- accounts_overdue -----------------------------------------------------------------------------------


def test_an_overdue_report_raises_accounts_overdue_until_the_filing() -> None:
    report = overdue(datetime(2025, 8, 5, tzinfo=UTC), 2024)
    finding = one([report], "accounts_overdue")
    assert finding is not None
    assert finding.severity is Severity.MEDIUM
    assert finding.summary == "The annual accounts for 2024 were due by 2025-07-31 and have not been filed."
    assert ids(finding) == {report.id}
    assert one([report, filed(ago(5), 2024)], "accounts_overdue") is None
    assert one([report, filed(ago(5), 2025)], "accounts_overdue") is None


def test_a_filing_for_an_earlier_year_does_not_resolve_it() -> None:
    report = overdue(datetime(2025, 8, 5, tzinfo=UTC), 2024)
    assert one([filed(datetime(2024, 7, 1, tzinfo=UTC), 2023), report], "accounts_overdue") is not None


@pytest.mark.parametrize(
    ("as_of", "raised"),
    [
        (datetime(2025, 7, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2025, 8, 1, 0, 0, tzinfo=UTC), True),
    ],
)
def test_missing_accounts_are_overdue_7_months_after_the_year(as_of: datetime, raised: bool) -> None:
    last = filed(datetime(2024, 7, 20, tzinfo=UTC), 2023)
    finding = one([last], "accounts_overdue", as_of=as_of)
    assert (finding is not None) is raised
    if finding is not None:
        assert finding.since == datetime(2025, 8, 1, tzinfo=UTC)
        assert ids(finding) == {last.id}
        assert "2024 were due by 2025-07-31" in finding.summary


def test_a_company_that_never_filed_is_not_judged_by_absence() -> None:
    assert one([bureau("ubo_change", ago(500))], "accounts_overdue") is None


def test_the_due_months_are_configurable() -> None:
    last = filed(datetime(2024, 7, 20, tzinfo=UTC), 2023)
    later = rules_from_mapping({"accounts_overdue": {"due_months": 9}})
    assert one([last], "accounts_overdue", as_of=datetime(2025, 8, 1, tzinfo=UTC), config=later) is None


def test_overdue_years_are_listed_together() -> None:
    events = [filed(datetime(2023, 7, 1, tzinfo=UTC), 2022), overdue(datetime(2024, 8, 3, tzinfo=UTC), 2023)]
    finding = one(events, "accounts_overdue")
    assert finding is not None
    assert (
        finding.summary
        == "The annual accounts for 2023 and 2024 have not been filed; the first were due by 2024-07-31."
    )
    assert finding.since == datetime(2024, 8, 1, tzinfo=UTC)
    assert ids(finding) == {events[0].id, events[1].id}


# --- negative_equity ------------------------------------------------------------------------------------


def test_negative_equity_in_the_latest_accounts_raises_it() -> None:
    event = filed(ago(60), 2024, equity=-125000)
    finding = one([event], "negative_equity")
    assert finding is not None
    assert finding.severity is Severity.HIGH
    assert (
        finding.summary
        == "The annual accounts 2024 (filed on 2025-08-16) show negative equity of EUR -125,000."
    )


def test_equity_of_zero_is_not_negative() -> None:
    assert one([filed(ago(60), 2024, equity=0)], "negative_equity") is None


def test_a_later_year_with_positive_equity_resolves_it() -> None:
    events = [filed(ago(400), 2023, equity=-5), filed(ago(60), 2024, equity=10)]
    assert one(events, "negative_equity") is None
    assert one(events, "negative_equity", as_of=ago(100)) is not None


def test_a_late_filing_of_an_earlier_year_does_not_replace_the_latest() -> None:
    events = [filed(ago(60), 2024, equity=-5), filed(ago(10), 2022, equity=1000)]
    finding = one(events, "negative_equity")
    assert ids(finding) == {events[0].id}


def test_negative_equity_since_the_first_negative_year_in_a_row() -> None:
    events = [
        filed(ago(800), 2022, equity=5),
        filed(ago(430), 2023, equity=-5),
        filed(ago(60), 2024, equity=-50),
    ]
    finding = one(events, "negative_equity")
    assert finding is not None
    assert finding.since == events[1].at


# --- score_drop -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "severity"),
    [
        (60, 41, Severity.MEDIUM),  # 19 points: not yet high
        (60, 40, Severity.HIGH),  # 20 points
        (35, 30, Severity.MEDIUM),  # at 30: not below
        (35, 29, Severity.HIGH),  # below 30
        (60, 59, Severity.MEDIUM),  # one point is a drop
    ],
)
def test_a_score_drop_raises_with_its_severity(old: int, new: int, severity: Severity) -> None:
    finding = one([score_change(ago(1), old, new)], "score_drop")
    assert finding is not None
    assert finding.severity is severity
    assert finding.summary == f"The credit bureau lowered the score from {old} to {new} on 2025-10-14."


@pytest.mark.parametrize(("old", "new"), [(40, 60), (60, 60)])
def test_a_rise_or_no_change_is_not_a_drop(old: int, new: int) -> None:
    assert one([score_change(ago(1), old, new)], "score_drop") is None


def test_the_reference_is_the_highest_score_of_the_365_days_before_the_latest_change() -> None:
    events = [score_change(ago(400), 90, 80), score_change(ago(200), 75, 70), score_change(ago(1), 70, 65)]
    finding = one(events, "score_drop")
    assert finding is not None
    assert finding.summary == (
        "The credit bureau lowered the score to 65 on 2025-10-14, 10 points below its high of 75 on 2025-03-29."
    )
    assert ids(finding) == {events[1].id, events[2].id}
    assert finding.severity is Severity.MEDIUM
    # The change 400 days ago was already a drop (from 90), and each one since stayed below its high.
    assert finding.since == events[0].at


def test_a_rise_interrupts_the_drop() -> None:
    events = [score_change(ago(300), 60, 50), score_change(ago(200), 50, 70), score_change(ago(1), 70, 65)]
    finding = one(events, "score_drop")
    assert finding is not None
    assert finding.since == events[2].at


def test_drops_in_steps_add_up() -> None:
    events = [score_change(ago(100), 60, 52), score_change(ago(50), 52, 45), score_change(ago(1), 45, 40)]
    finding = one(events, "score_drop")
    assert finding is not None
    assert finding.severity is Severity.HIGH
    assert finding.since == events[0].at


def test_score_drop_is_resolved_when_the_score_is_back_at_the_reference() -> None:
    events = [score_change(ago(100), 60, 40), score_change(ago(1), 40, 60)]
    assert one(events, "score_drop") is None
    partly = [score_change(ago(100), 80, 50), score_change(ago(1), 50, 70)]
    finding = one(partly, "score_drop")
    assert finding is not None
    assert finding.severity is Severity.MEDIUM


def test_min_drop_points_ignores_small_drops() -> None:
    rules = rules_from_mapping({"score_drop": {"min_drop_points": 5}})
    assert one([score_change(ago(1), 60, 56)], "score_drop", config=rules) is None
    assert one([score_change(ago(1), 60, 55)], "score_drop", config=rules) is not None


# --- payment_behaviour ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "severity"),
    [(29, None), (30, Severity.MEDIUM), (59, Severity.MEDIUM), (60, Severity.HIGH), (120, Severity.HIGH)],
)
def test_payment_behaviour_thresholds(days: int, severity: Severity | None) -> None:
    finding = one([paying(ago(1), days)], "payment_behaviour")
    assert (finding.severity if finding else None) is severity


def test_only_the_latest_report_counts() -> None:
    events = [paying(ago(100), 10), paying(ago(60), 45), paying(ago(30), 70), paying(ago(1), 20)]
    assert one(events, "payment_behaviour") is None
    finding = one(events[:3], "payment_behaviour")
    assert finding is not None
    assert finding.severity is Severity.HIGH
    assert ids(finding) == {events[2].id}
    assert finding.since == events[1].at
    assert (
        finding.summary
        == "The company pays its suppliers 70 days beyond terms on average (credit bureau, 2025-09-15)."
    )


def test_a_report_after_as_of_is_ignored() -> None:
    events = [paying(ago(10), 45), paying(AS_OF + timedelta(hours=1), 5)]
    assert one(events, "payment_behaviour") is not None
