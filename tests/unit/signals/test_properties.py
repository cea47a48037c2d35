"""Properties of the decision core, checked on generated histories.

- The findings depend on the SET of events only: any order, any repeats give the same findings.
- Findings taken as open are stable: diffing them against themselves changes nothing.
- Findings never cite the future, and the score stays within 0-100.
- Person keys ignore word order and case.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.signals.rules import (
    EMPTY_CONTEXT,
    Context,
    Finding,
    OpenSignal,
    ParentState,
    PriorFailure,
    SourceEvent,
    diff,
    evaluate,
    person_key,
    risk_level,
    score,
)
from services.signals.rules.persons import PARTICLES
from shared.schemas import Category, Severity

from .builders import (
    AS_OF,
    PARENT,
    RULES,
    ago,
    bureau,
    contact,
    filed,
    obs,
    order,
    overdue,
    paying,
    person,
    pub,
    register,
    score_change,
    situation,
)

NAMES = ["Peeters, Jan", "Jan PEETERS", "Janssens, Marie", "Dirk Vermeulen", "Van den Broeck, An"]
KINDS = [
    "headcount_decline",
    "order_volume_drop",
    "late_payment_suppliers",
    "late_payment_employees",
    "contact_not_director",
    "management_unreachable",
    "growth",
    "expansion_plans",
    "new_product_interest",
]
RUBRICS = [
    "bankruptcy",
    "judicial_reorganisation",
    "dissolution",
    "liquidation",
    "registered_office",
    "other",
]
CODES = ["000", "048", "091", "010", "040"]

CONTEXT = Context(
    director_failures={
        person_key("Jan Peeters"): [PriorFailure("BE0123456749", date(2022, 3, 1), "Jan Peeters")]
    },
    parents=[ParentState(PARENT, 60, [("tax_debt", Severity.HIGH)], since=ago(40))],
)

# Days before AS_OF; negative days are after it, so that cutting at as_of is exercised too.
# Mostly recent, so that the short windows (90 days) see several events; some years back for the long ones.
days = st.one_of(st.integers(min_value=-20, max_value=200), st.integers(min_value=-20, max_value=1600))
hours = st.integers(min_value=0, max_value=23)
names = st.sampled_from(NAMES)


@st.composite
def source_events(draw: st.DrawFn) -> SourceEvent:
    at = ago(draw(days), draw(hours))
    maker = draw(st.integers(min_value=0, max_value=16))
    if maker >= 14:
        # Extra recent observations, so that the sales rules (90 and 180 days) see several together.
        at = ago(draw(st.integers(min_value=0, max_value=120)))
        maker = 0
    if maker == 0:
        return obs(
            draw(st.sampled_from(KINDS)),
            at,
            reporter=draw(st.sampled_from(["a@x", "b@x", "c@x"])),
            contact_name=draw(st.none() | names),
        )
    if maker == 1:
        return pub(at, draw(st.sampled_from(RUBRICS)))
    if maker == 2:
        action = draw(st.sampled_from(["appointed", "appointed", "resigned", "dismissed"]))
        rubric = "appointment" if action == "appointed" else "resignation"
        return pub(
            at, rubric, persons=[person(draw(names), action, draw(st.sampled_from(["director", "manager"])))]
        )
    if maker == 3:
        return score_change(at, draw(st.integers(0, 100)), draw(st.integers(0, 100)))
    if maker == 4:
        return paying(at, draw(st.integers(0, 90)))
    if maker == 5:
        return bureau("tax_debt", at, amount_eur=draw(st.integers(1, 50_000)))
    if maker == 6:
        return bureau("social_security_summons", at)
    if maker == 7:
        return filed(at, draw(st.integers(2019, 2025)), equity=draw(st.integers(-1000, 1000)))
    if maker == 8:
        return overdue(at, draw(st.integers(2019, 2025)))
    if maker == 9:
        return order(at, draw(st.integers(0, 10_000)))
    if maker == 10:
        return situation(at, draw(st.sampled_from(CODES)))
    if maker == 11:
        return register("registered_office", at)
    if maker == 12:
        return contact(
            draw(names),
            at,
            claims_director=draw(st.booleans()),
            contact_id=draw(st.sampled_from(["crm-1", "crm-2"])),
            deleted=draw(st.booleans()),
        )
    kind = draw(st.sampled_from(["ubo_change", "bankruptcy", "judicial_reorganisation"]))
    return bureau(kind, at, data=BUREAU_DATA[kind])


BUREAU_DATA: dict[str, dict[str, Any]] = {
    "ubo_change": {},
    "bankruptcy": {"declared_on": date(2025, 1, 1)},
    "judicial_reorganisation": {"opened_on": date(2025, 1, 1)},
}


histories = st.lists(source_events(), max_size=30)
as_ofs = st.integers(min_value=-10, max_value=400).map(lambda d: ago(d))

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


contexts = st.sampled_from([EMPTY_CONTEXT, CONTEXT])


def _evaluate(
    events: list[SourceEvent], as_of: datetime = AS_OF, context: Context = CONTEXT
) -> dict[str, Finding]:
    return evaluate(events, context, as_of, RULES)


@SETTINGS
@given(histories, as_ofs, contexts, st.data())
def test_the_order_of_the_history_does_not_matter(
    events: list[SourceEvent], as_of: datetime, context: Context, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    assert _evaluate(shuffled, as_of, context) == _evaluate(events, as_of, context)


@SETTINGS
@given(histories, contexts, st.data())
def test_repeated_events_count_once(events: list[SourceEvent], context: Context, data: st.DataObject) -> None:
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    # A repeat is a new delivery: an equal, separate object.
    copies = [dataclasses.replace(event) for event in repeats]
    mixed = data.draw(st.permutations([*events, *copies]))
    assert _evaluate(mixed, AS_OF, context) == _evaluate(events, AS_OF, context)


@SETTINGS
@given(histories, as_ofs, contexts)
def test_findings_taken_as_open_are_stable(
    events: list[SourceEvent], as_of: datetime, context: Context
) -> None:
    found = _evaluate(events, as_of, context)
    open_now = {name: OpenSignal.of(finding) for name, finding in found.items()}
    assert diff(open_now, found) == []
    assert [change.signal for change in diff({}, found)] == sorted(found)


@SETTINGS
@given(histories, as_ofs, contexts)
def test_findings_are_well_formed(events: list[SourceEvent], as_of: datetime, context: Context) -> None:
    found = _evaluate(events, as_of, context)
    known = {event.id for event in events}
    for name, finding in found.items():
        assert finding.signal.value == name
        assert finding.evidence, name
        assert finding.summary
        assert len(finding.summary) <= 1000
        assert finding.since <= as_of
        for proof in finding.evidence:
            assert proof.at <= as_of
            assert proof.event_id in known or proof.source == "signal"
    level = risk_level(found)
    risks = [f.severity for f in found.values() if f.category is Category.RISK]
    assert level == (max(risks) if risks else None)
    assert 0 <= score(found) <= 100
    assert (score(found) == 100) is (not any(RULES.score.weights.of(s) > 0 for s in risks))


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=4, max_size=9).filter(
    lambda word: word not in PARTICLES
)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=4), st.data())
def test_person_keys_ignore_word_order_and_case(tokens: list[str], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(tokens))
    assert person_key(" ".join(tokens)) == person_key("  ".join(shuffled).upper())
    if len(tokens) >= 2:
        assert person_key(f"{tokens[-1]}, {' '.join(tokens[:-1])}") == person_key(" ".join(tokens))
