"""evaluate, diff, risk_level and score."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from services.signals.rules import (
    CATALOGUE,
    EMPTY_CONTEXT,
    ChangeKind,
    Finding,
    History,
    OpenSignal,
    diff,
    evaluate,
    risk_level,
    rules_from_mapping,
    score,
)
from shared.schemas import Category, Severity, SignalName

from .builders import AS_OF, RULES, ago, bureau, obs, order, paying, pub, run, score_change

# --- evaluate -------------------------------------------------------------------------------------------


def test_the_catalogue_covers_every_signal_once() -> None:
    assert [spec.name for spec in CATALOGUE] == list(SignalName)
    assert {spec.category for spec in CATALOGUE} == set(Category)


def test_a_quiet_company_has_no_findings() -> None:
    assert run([]) == {}
    assert run([pub(ago(100), "appointment"), score_change(ago(10), 50, 60)]) == {}


def test_findings_are_keyed_by_signal_in_catalogue_order() -> None:
    events = [paying(ago(1), 45), pub(ago(3), "bankruptcy"), obs("growth", ago(2))]
    found = run(events)
    assert list(found) == ["bankruptcy", "payment_behaviour"]
    assert all(finding.signal.value == name for name, finding in found.items())


def test_events_after_as_of_are_ignored() -> None:
    late = bureau("bankruptcy", AS_OF + timedelta(minutes=1), declared_on=date(2025, 10, 15))
    assert run([late]) == {}
    assert "bankruptcy" in run([late], as_of=AS_OF + timedelta(minutes=1))


def test_as_of_must_be_aware_and_is_taken_in_utc() -> None:
    with pytest.raises(ValueError, match="as_of must be timezone-aware"):
        evaluate([], EMPTY_CONTEXT, datetime(2025, 10, 15), RULES)
    brussels = AS_OF.astimezone(timezone(timedelta(hours=2)))
    events = [paying(ago(1), 45)]
    assert run(events, as_of=brussels) == run(events)


def test_a_prepared_history_gives_the_same_findings() -> None:
    events = [paying(ago(1), 45), pub(ago(3), "bankruptcy")]
    assert evaluate(History.prepare(events, AS_OF), EMPTY_CONTEXT, AS_OF, RULES) == run(events)
    # Prepared for another time, it is cut again at as_of.
    assert evaluate(History.prepare(events, AS_OF), EMPTY_CONTEXT, ago(2), RULES).keys() == {"bankruptcy"}


def test_the_config_defaults_to_the_shipped_rules() -> None:
    events = [paying(ago(1), 45)]
    assert evaluate(events, EMPTY_CONTEXT, AS_OF) == run(events)


def test_several_weak_signals_combine() -> None:
    events = [
        obs("late_payment_suppliers", ago(20)),
        obs("management_unreachable", ago(10), reporter="piet@example.com"),
        bureau("social_security_summons", ago(15)),
    ]
    found = run(events)
    assert found["social_security_summons"].severity is Severity.HIGH
    assert found["distress_reported_by_sales"].severity is Severity.HIGH


# --- diff -----------------------------------------------------------------------------------------------


def _open(found: dict[str, Finding]) -> dict[str, OpenSignal]:
    return {name: OpenSignal.of(finding) for name, finding in found.items()}


def test_diff_raises_what_is_new() -> None:
    found = run([paying(ago(1), 45)])
    changes = diff({}, found)
    assert [(c.kind, c.signal) for c in changes] == [(ChangeKind.RAISED, "payment_behaviour")]
    assert changes[0].finding is found["payment_behaviour"]
    assert changes[0].previous is None


def test_diff_updates_on_new_evidence_or_severity() -> None:
    before = _open(run([paying(ago(10), 45)]))
    newer = run([paying(ago(10), 45), paying(ago(1), 45)])
    assert [(c.kind, c.signal) for c in diff(before, newer)] == [(ChangeKind.UPDATED, "payment_behaviour")]
    escalated = dict(before)
    escalated["payment_behaviour"] = OpenSignal(
        "payment_behaviour", Severity.HIGH, before["payment_behaviour"].evidence_ids
    )
    changes = diff(escalated, run([paying(ago(10), 45)]))
    assert [c.kind for c in changes] == [ChangeKind.UPDATED]
    assert changes[0].previous == escalated["payment_behaviour"]


def test_diff_resolves_what_no_longer_holds() -> None:
    before = _open(run([paying(ago(10), 45)]))
    changes = diff(before, run([paying(ago(10), 45), paying(ago(1), 10)]))
    assert [(c.kind, c.signal, c.finding) for c in changes] == [
        (ChangeKind.RESOLVED, "payment_behaviour", None)
    ]


def test_diff_is_empty_when_nothing_changed() -> None:
    found = run([paying(ago(10), 45), pub(ago(3), "bankruptcy"), order(ago(500))])
    assert diff(_open(found), found) == []


def test_a_signal_resolved_by_hand_is_raised_again_only_on_new_evidence() -> None:
    first = paying(ago(10), 45)
    found = run([first])
    suppressed = {"payment_behaviour": frozenset(found["payment_behaviour"].evidence_ids)}
    assert diff({}, found, suppressed) == []
    again = run([first, paying(ago(1), 50)])
    assert [c.kind for c in diff({}, again, suppressed)] == [ChangeKind.RAISED]
    # Suppression of one signal does not hide another.
    other = run([first, bureau("tax_debt", ago(2), amount_eur=10)])
    assert [c.signal for c in diff({}, other, suppressed)] == ["tax_debt"]


# --- risk_level and score -------------------------------------------------------------------------------


def test_risk_level_is_the_highest_open_risk_severity() -> None:
    assert risk_level({}) is None
    assert risk_level(run([obs("growth", ago(3))])) is None
    assert risk_level(run([order(ago(800))])) is None
    assert risk_level(run([paying(ago(1), 45)])) is Severity.MEDIUM
    assert risk_level(run([paying(ago(1), 45), pub(ago(3), "bankruptcy")])) is Severity.CRITICAL


def test_risk_level_and_score_accept_open_signals() -> None:
    open_now = [
        OpenSignal("tax_debt", Severity.HIGH, frozenset({"e"})),
        OpenSignal("churn_risk", Severity.MEDIUM, frozenset()),
    ]
    assert risk_level(open_now) is Severity.HIGH
    assert score(open_now) == 70


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        ((), 100),
        ((Severity.CRITICAL,), 40),
        ((Severity.HIGH,), 70),
        ((Severity.MEDIUM,), 85),
        ((Severity.LOW,), 95),
        ((Severity.INFO,), 100),
        ((Severity.HIGH, Severity.MEDIUM), 60),  # 59.5 rounds half up
        ((Severity.CRITICAL, Severity.CRITICAL, Severity.HIGH), 11),  # 100 * .4 * .4 * .7 = 11.2
    ],
)
def test_score_multiplies_what_each_open_risk_leaves(severities: tuple[Severity, ...], expected: int) -> None:
    names = ["bankruptcy", "tax_debt", "dissolution"]
    signals = [
        OpenSignal(name, severity, frozenset()) for name, severity in zip(names, severities, strict=False)
    ]
    assert score(signals) == expected


def test_score_ignores_opportunity_and_retention() -> None:
    found = run([obs("growth", ago(3)), order(ago(800))])
    assert set(found) == {"growth_opportunity", "churn_risk"}
    assert score(found) == 100


def test_an_unknown_signal_counts_as_risk() -> None:
    assert score([OpenSignal("future_signal", Severity.HIGH, frozenset())]) == 70


def test_score_weights_are_configurable() -> None:
    rules = rules_from_mapping({"score": {"weights": {"high": 0.5}}})
    found = run([bureau("tax_debt", ago(2), amount_eur=10)])
    assert score(found, rules) == 50
    assert score(found) == 70


def test_the_score_stays_within_bounds() -> None:
    rules = rules_from_mapping({"score": {"weights": {"critical": 1.0}}})
    found = run([pub(ago(3), "bankruptcy"), bureau("tax_debt", ago(2), amount_eur=10)])
    assert score(found, rules) == 0
