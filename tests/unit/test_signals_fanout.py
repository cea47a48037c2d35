"""Who is judged again when another company changes, and how the person index and group graph are derived."""

from __future__ import annotations

from datetime import UTC, datetime

from services.signals.consumer import Fanout, Moved, Ripples, fan_out, ripples
from services.signals.graph import Mandate, Stake, mandates_of, stakes_of
from services.signals.rules import ChangeKind
from shared.schemas import Category, Severity
from tests.unit.signals.builders import PARENT, appoint, bureau, pub, resign

RAISED, UPDATED, RESOLVED = ChangeKind.RAISED, ChangeKind.UPDATED, ChangeKind.RESOLVED
RISK = Category.RISK
A, B, C, D, E = "A", "B", "C", "D", "E"


def moved(
    company: str,
    signal: str,
    kind: ChangeKind,
    severity: Severity,
    before: Severity | None = None,
    category: Category = RISK,
) -> Moved:
    return Moved(company, signal, kind, category, severity, before)


# --- ripples: which changes concern other companies --------------------------------------------------


def test_a_raised_bankruptcy_concerns_the_directors_other_companies_and_the_subsidiaries() -> None:
    assert ripples([moved(A, "bankruptcy", RAISED, Severity.CRITICAL)]) == Ripples(
        failed=frozenset({A}), distressed=frozenset({A})
    )


def test_an_updated_or_resolved_bankruptcy_is_no_new_failure() -> None:
    # The failure stays a fact: updating or resolving the signal does not change the directors' past.
    found = ripples(
        [
            moved(A, "bankruptcy", UPDATED, Severity.CRITICAL, before=Severity.CRITICAL),
            moved(B, "bankruptcy", RESOLVED, Severity.CRITICAL, before=Severity.CRITICAL),
        ]
    )
    assert found == Ripples(failed=frozenset(), distressed=frozenset({B}))


def test_serious_risk_changes_concern_the_subsidiaries() -> None:
    found = ripples(
        [
            moved(A, "tax_debt", RAISED, Severity.HIGH),
            moved(B, "score_drop", UPDATED, Severity.HIGH, before=Severity.MEDIUM),  # escalated
            moved(C, "score_drop", UPDATED, Severity.MEDIUM, before=Severity.HIGH),  # de-escalated
            moved(D, "judicial_reorganisation", RESOLVED, Severity.CRITICAL, before=Severity.CRITICAL),
        ]
    )
    assert found == Ripples(failed=frozenset(), distressed=frozenset({A, B, C, D}))


def test_minor_changes_and_new_evidence_concern_nobody() -> None:
    found = ripples(
        [
            moved(A, "payment_behaviour", RAISED, Severity.MEDIUM),
            moved(B, "tax_debt", UPDATED, Severity.HIGH, before=Severity.HIGH),  # evidence only
            moved(C, "management_churn", RESOLVED, Severity.MEDIUM, before=Severity.MEDIUM),
            moved(D, "growth_opportunity", RAISED, Severity.INFO, category=Category.OPPORTUNITY),
            moved(E, "churn_risk", RAISED, Severity.HIGH, category=Category.RETENTION),
        ]
    )
    assert found == Ripples()
    assert not found


def test_known_failures_are_added() -> None:
    assert ripples([], failed=[A]) == Ripples(failed=frozenset({A}))


# --- fan_out: who is judged again ----------------------------------------------------------------------


def test_the_people_and_the_subsidiaries_reached_are_judged_again_in_id_order() -> None:
    found = fan_out(
        Ripples(failed=frozenset({A}), distressed=frozenset({B})),
        sharing={A: {D, C}, B: {E}},
        children={A: {E}, B: {C}},
        budget=10,
    )
    # A's subsidiary E is not reached: A did not change as a parent in this round.
    assert found == Fanout(companies=(C, D))


def test_each_company_once_even_when_reached_twice() -> None:
    found = fan_out(
        Ripples(failed=frozenset({A, B}), distressed=frozenset({A})),
        sharing={A: {C}, B: {C, D}},
        children={A: {C, D}},
        budget=10,
    )
    assert found == Fanout(companies=(C, D))


def test_companies_judged_earlier_are_judged_again() -> None:
    # B read its context before A's change was written: it must be judged again.
    assert fan_out(Ripples(failed=frozenset({A})), {A: {B}}, {}, 10) == Fanout((B,))


def test_nothing_reached() -> None:
    assert fan_out(Ripples(), {A: {B}}, {A: {C}}, 10) == Fanout(())
    assert fan_out(Ripples(failed=frozenset({A})), {}, {}, 10) == Fanout(())


def test_the_cap_keeps_the_first_in_id_order_and_reports_the_rest() -> None:
    reached = {f"BE{n:010d}" for n in range(5)}
    found = fan_out(Ripples(distressed=frozenset({A})), {}, {A: reached}, budget=3)
    assert found.companies == tuple(sorted(reached))[:3]
    assert found.dropped == tuple(sorted(reached))[3:]
    assert fan_out(Ripples(distressed=frozenset({A})), {}, {A: reached}, budget=0).companies == ()
    assert fan_out(Ripples(distressed=frozenset({A})), {}, {A: reached}, budget=-1).companies == ()


# --- the person index and the group graph, derived from a company's own events ---------------------------


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_mandates_follow_appointments_and_resignations_whatever_the_arrival_order() -> None:
    first = appoint(at("2018-03-01"), "Jan Van den Broeck", 1970)
    renewal = appoint(at("2020-03-01"), "Broeck, Jan Van den", 1970)
    gone = resign(at("2022-06-01"), "jan van den broeck", 1970)
    again = appoint(at("2023-01-10"), "Jan Vandenbroeck", None)
    other = pub(
        at("2019-01-01"),
        "appointment",
        persons=[{"name": "Els Peeters", "action": "appointed", "role": "auditor", "birth_year": None}],
    )
    expected = [
        Mandate("jan vandenbroeck", "Jan Van den Broeck", 1970, "director", first.id, first.at, gone.at),
        Mandate("els peeters", "Els Peeters", None, "auditor", other.id, other.at),
        Mandate("jan vandenbroeck", "Jan Vandenbroeck", None, "director", again.id, again.at),
    ]
    assert mandates_of([first, renewal, gone, again, other]) == expected
    assert mandates_of([again, other, gone, renewal, first]) == expected
    assert mandates_of([]) == []


def test_the_latest_stake_per_shareholder_counts() -> None:
    other = "BE0403170701"
    early = bureau("shareholder_change", at("2024-01-01"), parent_company_id=PARENT, share_pct=60)
    late = bureau("shareholder_change", at("2025-01-01"), parent_company_id=PARENT, share_pct=40)
    second = bureau("shareholder_change", at("2024-06-01"), parent_company_id=other, share_pct=10)
    noise = bureau("tax_debt", at("2025-02-01"), amount_eur=100)
    expected = [Stake(other, 10, second.at, second.id), Stake(PARENT, 40, late.at, late.id)]
    assert stakes_of([late, early, second, noise]) == expected
    assert stakes_of([early, noise, second, late]) == expected
    assert stakes_of([]) == []
