"""bankruptcy, judicial_reorganisation and dissolution: legal proceedings from gazette, bureau and register."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from services.signals.rules import SourceEvent
from shared.schemas import Category, Severity

from .builders import AS_OF, ago, bureau, ids, one, pub, situation

# --- bankruptcy ----------------------------------------------------------------------------------------


def test_a_bankruptcy_publication_raises_bankruptcy() -> None:
    event = pub(ago(3), "bankruptcy", reference="25000001")
    finding = one([event], "bankruptcy")
    assert finding is not None
    assert (finding.category, finding.severity) == (Category.RISK, Severity.CRITICAL)
    assert finding.since == event.at
    assert finding.evidence[0].type == "bankruptcy"
    assert finding.summary.startswith(
        "The company was declared bankrupt: bankruptcy published in the Official"
    )


def test_a_bureau_bankruptcy_raises_bankruptcy() -> None:
    event = bureau("bankruptcy", ago(1), declared_on=date(2025, 10, 6), court="Ondernemingsrechtbank Gent")
    finding = one([event], "bankruptcy")
    assert finding is not None
    assert "declared on 2025-10-06 by Ondernemingsrechtbank Gent" in finding.summary
    assert ids(finding) == {event.id}


@pytest.mark.parametrize("code", ["048", "049", "050", "48"])
def test_a_register_bankruptcy_code_raises_bankruptcy(code: str) -> None:
    assert one([situation(ago(5), code)], "bankruptcy") is not None


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(lambda: situation(ago(5), "047"), id="register 047"),
        pytest.param(lambda: situation(ago(5), "051"), id="register 051"),
        pytest.param(lambda: pub(ago(5), "liquidation_closure"), id="other rubric"),
        pytest.param(
            lambda: bureau("judicial_reorganisation", ago(5), opened_on=date(2025, 10, 1)), id="bureau JR"
        ),
        pytest.param(lambda: pub(AS_OF + timedelta(days=1), "bankruptcy"), id="after as_of"),
    ],
)
def test_other_events_do_not_raise_bankruptcy(event: Callable[[], SourceEvent]) -> None:
    assert one([event()], "bankruptcy") is None


def test_bankruptcy_collects_every_source_and_stays_open() -> None:
    events = [
        situation(date(2025, 10, 6), "048"),
        bureau("bankruptcy", ago(8), declared_on=date(2025, 10, 6)),
        pub(date(2025, 10, 9), "bankruptcy"),
        # A return to the normal situation does not close a bankruptcy: that is done by hand.
        situation(date(2025, 10, 12), "000"),
    ]
    finding = one(events, "bankruptcy", as_of=AS_OF + timedelta(days=3000))
    assert finding is not None
    assert ids(finding) == {event.id for event in events[:3]}
    assert finding.since == min(event.at for event in events[:3])
    assert [proof.at for proof in finding.evidence] == sorted(proof.at for proof in finding.evidence)


# --- judicial reorganisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: pub(ago(10), "judicial_reorganisation"), id="gazette"),
        pytest.param(
            lambda: bureau("judicial_reorganisation", ago(10), opened_on=date(2025, 10, 1)), id="bureau"
        ),
        pytest.param(lambda: situation(ago(10), "091"), id="register 091"),
        pytest.param(lambda: situation(ago(10), "040"), id="register 040"),
        pytest.param(lambda: situation(ago(10), "041"), id="register 041"),
    ],
)
def test_judicial_reorganisation_is_raised_from_each_source(make: Callable[[], SourceEvent]) -> None:
    finding = one([make()], "judicial_reorganisation")
    assert finding is not None
    assert finding.severity is Severity.CRITICAL


@pytest.mark.parametrize("code", ["090", "042", "000"])
def test_other_register_codes_do_not_raise_judicial_reorganisation(code: str) -> None:
    assert one([situation(ago(10), code)], "judicial_reorganisation") is None


def test_judicial_reorganisation_is_resolved_by_a_later_normal_situation() -> None:
    opened = pub(ago(100), "judicial_reorganisation")
    ended = situation(ago(10), "000")
    assert one([opened], "judicial_reorganisation") is not None
    assert one([opened, ended], "judicial_reorganisation") is None
    # Before the return to normal it was open.
    assert one([opened, ended], "judicial_reorganisation", as_of=ago(11)) is not None


def test_a_normal_situation_before_or_at_the_opening_does_not_resolve_it() -> None:
    opened = situation(ago(10), "091")
    assert one([situation(ago(50), "000"), opened], "judicial_reorganisation") is not None
    assert one([situation(ago(10), "000"), opened], "judicial_reorganisation") is not None


def test_a_new_opening_after_the_end_raises_it_again() -> None:
    events = [
        bureau("judicial_reorganisation", ago(300), opened_on=date(2024, 12, 1)),
        situation(ago(200), "000"),
        pub(ago(5), "judicial_reorganisation"),
    ]
    finding = one(events, "judicial_reorganisation")
    assert finding is not None
    assert ids(finding) == {events[2].id}


# --- dissolution ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: pub(ago(10), "dissolution"), id="dissolution"),
        pytest.param(lambda: pub(ago(10), "liquidation"), id="liquidation"),
        pytest.param(lambda: pub(ago(10), "appointment", "liquidation"), id="among other rubrics"),
        pytest.param(lambda: situation(ago(10), "010"), id="register 010"),
        pytest.param(lambda: situation(ago(10), "012"), id="register 012"),
        pytest.param(lambda: situation(ago(10), "013"), id="register 013"),
    ],
)
def test_dissolution_is_raised(make: Callable[[], SourceEvent]) -> None:
    finding = one([make()], "dissolution")
    assert finding is not None
    assert finding.severity is Severity.HIGH


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: pub(ago(10), "liquidation_closure"), id="closure alone"),
        pytest.param(lambda: pub(ago(10), "merger"), id="merger"),
        pytest.param(lambda: situation(ago(10), "011"), id="register 011"),
        pytest.param(lambda: situation(ago(10), "014"), id="register 014"),
    ],
)
def test_near_misses_do_not_raise_dissolution(make: Callable[[], SourceEvent]) -> None:
    assert one([make()], "dissolution") is None


def test_dissolution_stays_open() -> None:
    events = [pub(ago(10), "dissolution"), situation(ago(5), "000")]
    assert one(events, "dissolution", as_of=AS_OF + timedelta(days=5000)) is not None
