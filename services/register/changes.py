"""What a monitored company's register state before and after an import means: the events to announce.

Pure: `decide` turns one company's states into `RegisterEvent`s for `ew.register`. The open data gives no
date for a juridical situation, so a change is dated by the extract that shows it (`observed_at` is the
extract's time, `effective_on` stays unknown). A situation seen for the first time (a first load, or a
company that has just become monitored) is announced only when it is surely within the horizon: the
situation cannot be older than the enterprise, so only an enterprise started within the horizon proves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from services.register.codes import NORMAL_SITUATION
from shared.schemas import RegisterEvent, RegisterEventKind

__all__ = ["Candidate", "ExtractContext", "State", "decide", "within_horizon"]

DESCRIPTION_MAX = 500


@dataclass(frozen=True, slots=True)
class State:
    """A company's register state: whether the register has it, its juridical situation, its office."""

    present: bool | None
    """None: never seen (not in the register when it was first looked at)."""
    situation: str | None = None
    office: str | None = None
    """The registered office's fingerprint (`rows.office_key`)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A monitored company whose state now may differ from the one announced (or taken as baseline)."""

    company_id: str
    before: State | None
    """What was announced, or the baseline taken before this import; None if neither exists."""
    baseline: bool
    """`before` was taken before this import and never announced."""
    now: State
    start_date: date | None
    """The enterprise's start date: no situation of it is older."""


@dataclass(frozen=True, slots=True)
class ExtractContext:
    """What the events of one import share."""

    extract_number: int
    observed_at: datetime
    """The extract's time: when the register showed the changes."""
    snapshot_date: date
    horizon_years: int
    """A first sight of a situation is announced only within this many years; 0: always."""
    situations: Mapping[str, str] = field(default_factory=dict)
    """Readable text of juridical-situation codes."""
    offices: Mapping[str, str] = field(default_factory=dict)
    """Readable address of the new registered office, per company id."""


def within_horizon(start_date: date | None, snapshot: date, years: int) -> bool:
    """Whether an enterprise started on `start_date` proves its situation is at most `years` old."""
    if years <= 0:
        return True
    if start_date is None:
        return False
    try:
        limit = snapshot.replace(year=snapshot.year - years)
    except ValueError:  # 29 February
        limit = snapshot.replace(year=snapshot.year - years, day=28)
    return start_date >= limit


def decide(candidate: Candidate, context: ExtractContext) -> list[RegisterEvent]:
    """The events of one company: a new juridical situation, a new registered office, or its departure."""
    before, now = candidate.before, candidate.now
    seen_before = before is not None and before.present is True
    if not now.present:
        if before is not None and seen_before:
            return [_event(candidate, context, RegisterEventKind.STRUCK_OFF, None, before.situation)]
        return []
    events: list[RegisterEvent] = []
    first_sight = _first_sight(candidate, context)
    if before is None or not seen_before:
        if first_sight:
            events.append(_situation(candidate, context, None))
        return events
    if now.situation != before.situation:
        events.append(_situation(candidate, context, before.situation))
    elif candidate.baseline and first_sight:
        events.append(_situation(candidate, context, None))
    if before.office and now.office and before.office != now.office:
        events.append(
            _event(
                candidate,
                context,
                RegisterEventKind.REGISTERED_OFFICE,
                now.office,
                before.office,
                context.offices.get(candidate.company_id),
            )
        )
    return events


def _first_sight(candidate: Candidate, context: ExtractContext) -> bool:
    """A standing situation seen for the first time, worth announcing."""
    situation = candidate.now.situation
    return (
        situation is not None
        and situation != NORMAL_SITUATION
        and within_horizon(candidate.start_date, context.snapshot_date, context.horizon_years)
    )


def _situation(candidate: Candidate, context: ExtractContext, previous: str | None) -> RegisterEvent:
    code = candidate.now.situation
    return _event(
        candidate,
        context,
        RegisterEventKind.JURIDICAL_SITUATION,
        code,
        previous,
        context.situations.get(code or ""),
    )


def _event(
    candidate: Candidate,
    context: ExtractContext,
    kind: RegisterEventKind,
    code: str | None,
    previous: str | None,
    description: str | None = None,
) -> RegisterEvent:
    return RegisterEvent(
        company_id=candidate.company_id,
        extract_number=context.extract_number,
        kind=kind,
        code=code,
        previous_code=previous,
        description=description[:DESCRIPTION_MAX] if description else None,
        effective_on=None,
        observed_at=context.observed_at,
    )
