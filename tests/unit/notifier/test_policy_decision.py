"""Silences, the bankruptcy inhibit rule and the order in which `decide` applies them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from services.notifier.policy import (
    Decision,
    Match,
    Mode,
    Silence,
    decide,
    inhibited,
    silenced_by,
)
from shared.schemas import Severity

from .policy_builders import COMPANY, FACTS, NOW, OTHER_COMPANY, signal

LATER = NOW + timedelta(days=1)
EARLIER = NOW - timedelta(days=1)
TICK = timedelta(microseconds=1)


def silence(
    company_id: str | None = None, name: str | None = None, ends_at: datetime = LATER, id: str = "sil_1"
) -> Silence:
    return Silence(id=id, company_id=company_id, signal=name, ends_at=ends_at)


# --- silences --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("company_id", "name", "ends_at", "applies"),
    [
        # neither field: every signal
        (None, None, LATER, True),
        # by company
        (COMPANY, None, LATER, True),
        (OTHER_COMPANY, None, LATER, False),
        # by signal (the signal is score_drop)
        (None, "score_drop", LATER, True),
        (None, "bankruptcy", LATER, False),
        # both: both must hold
        (COMPANY, "score_drop", LATER, True),
        (COMPANY, "bankruptcy", LATER, False),
        (OTHER_COMPANY, "score_drop", LATER, False),
        (OTHER_COMPANY, "bankruptcy", LATER, False),
        # expired: at ends_at it no longer applies
        (COMPANY, "score_drop", EARLIER, False),
        (COMPANY, "score_drop", NOW, False),
        (None, None, NOW - TICK, False),
        # ending in the future: still applies, however close or far
        (COMPANY, "score_drop", NOW + TICK, True),
        (None, "score_drop", NOW + timedelta(days=3650), True),
    ],
)
def test_a_silence_applies_while_running_to_what_it_names(
    company_id: str | None, name: str | None, ends_at: datetime, applies: bool
) -> None:
    given = silence(company_id, name, ends_at)
    assert silenced_by(signal(), [given], NOW) == (given if applies else None)


def test_no_silences_silence_nothing() -> None:
    assert silenced_by(signal(), [], NOW) is None
    assert silenced_by(signal(), iter(()), NOW) is None


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["sil_b", "sil_a", "sil_c"])), ids=lambda order: "-".join(order)
)
def test_the_applicable_silence_with_the_lowest_id_is_named_whatever_the_order(
    order: tuple[str, ...],
) -> None:
    silences = [silence(COMPANY, id=id) for id in order]
    found = silenced_by(signal(), silences, NOW)
    assert found is not None
    assert found.id == "sil_a"


def test_silences_that_do_not_apply_are_skipped_in_id_order() -> None:
    silences = [
        silence(None, "score_drop", id="sil_c"),
        silence(COMPANY, None, ends_at=EARLIER, id="sil_a"),
        silence(OTHER_COMPANY, None, id="sil_b"),
    ]
    found = silenced_by(signal(), (s for s in silences), NOW)  # any iterable, read once
    assert found is not None
    assert found.id == "sil_c"


# --- inhibition --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "severity", "bankrupt", "expected"),
    [
        # no open bankruptcy: nothing is inhibited
        *[("score_drop", severity, False, False) for severity in Severity],
        *[("bankruptcy", severity, False, False) for severity in Severity],
        # bankrupt: the company's lesser signals are held back ...
        ("score_drop", Severity.INFO, True, True),
        ("score_drop", Severity.LOW, True, True),
        ("tax_debt", Severity.MEDIUM, True, True),
        ("score_drop", Severity.HIGH, True, True),
        ("growth_opportunity", Severity.INFO, True, True),
        # ... but critical ones still go out ...
        ("judicial_reorganisation", Severity.CRITICAL, True, False),
        ("score_drop", Severity.CRITICAL, True, False),
        # ... and so does the bankruptcy itself, whatever its severity
        *[("bankruptcy", severity, True, False) for severity in Severity],
    ],
)
def test_an_open_bankruptcy_inhibits_the_companys_signals_below_critical(
    name: str, severity: Severity, bankrupt: bool, expected: bool
) -> None:
    assert inhibited(signal(signal=name, severity=severity), bankrupt) is expected


# --- decide ------------------------------------------------------------------------------------------------

MATCHING = Match()
NOT_MATCHING = Match(min_severity=Severity.CRITICAL)
MUTING = [silence(COMPANY)]


@pytest.mark.parametrize(
    ("matched", "silenced", "bankrupt", "mode", "expected"),
    [
        (True, False, False, "immediate", Decision.DELIVER),
        (True, False, False, "digest", Decision.DIGEST),
        (True, False, True, "immediate", Decision.INHIBITED),
        (True, False, True, "digest", Decision.INHIBITED),
        (True, True, False, "immediate", Decision.SILENCED),
        (True, True, False, "digest", Decision.SILENCED),
        # silenced goes before inhibited
        (True, True, True, "immediate", Decision.SILENCED),
        (True, True, True, "digest", Decision.SILENCED),
        # unmatched goes before everything
        *[
            (False, silenced, bankrupt, mode, Decision.UNMATCHED)
            for silenced in (False, True)
            for bankrupt in (False, True)
            for mode in ("immediate", "digest")
        ],
    ],
)
def test_decide_applies_unmatched_silenced_inhibited_then_the_mode(
    matched: bool, silenced: bool, bankrupt: bool, mode: Mode, expected: Decision
) -> None:
    decision = decide(
        signal(),  # score_drop, high: inhibited when bankrupt
        mode=mode,
        match=MATCHING if matched else NOT_MATCHING,
        company=FACTS,
        silences=MUTING if silenced else [],
        bankrupt=bankrupt,
        now=NOW,
    )
    assert decision is expected


def test_decide_passes_the_portfolio_facts_on() -> None:
    by_segment = Match(segments=["key accounts"])
    for company, expected in [(FACTS, Decision.DELIVER), (None, Decision.UNMATCHED)]:
        decision = decide(
            signal(),
            mode="immediate",
            match=by_segment,
            company=company,
            silences=[],
            bankrupt=False,
            now=NOW,
        )
        assert decision is expected


@pytest.mark.parametrize(
    ("now", "expected"), [(NOW - TICK, Decision.SILENCED), (NOW, Decision.DELIVER), (LATER, Decision.DELIVER)]
)
def test_decide_passes_the_time_on(now: datetime, expected: Decision) -> None:
    ending_now = [silence(COMPANY, ends_at=NOW)]
    decision = decide(
        signal(), mode="immediate", match=MATCHING, company=None, silences=ending_now, bankrupt=False, now=now
    )
    assert decision is expected


def test_a_critical_signal_of_a_bankrupt_company_is_delivered() -> None:
    critical = signal(signal="judicial_reorganisation", severity=Severity.CRITICAL)
    decision = decide(
        critical, mode="digest", match=MATCHING, company=None, silences=[], bankrupt=True, now=NOW
    )
    assert decision is Decision.DIGEST
