"""What the credit bureau measures: `score_drop` and `payment_behaviour`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.schemas import BureauEventType, PaymentBehaviour, ScoreChange, Severity, SignalName

from ..config import RulesConfig
from ..context import Context
from ..events import SourceEvent
from ..findings import Finding
from ..history import History
from ..periods import within
from ..wording import on
from ._common import bureau_data, make_finding

__all__ = ["payment_behaviour", "score_drop"]


@dataclass(frozen=True, slots=True)
class _Drop:
    points: int
    reference: int
    reference_event: SourceEvent


def _drop_at(changes: Sequence[tuple[SourceEvent, ScoreChange]], index: int, lookback: timedelta) -> _Drop:
    """How far the score after change `index` is below the highest score seen in the lookback before it.

    Scores seen: the score before the change itself, and the scores before and after each earlier change
    in the lookback window.
    """
    event, change = changes[index]
    start = event.at - lookback
    seen: list[tuple[int, datetime, str, SourceEvent]] = [(change.from_, event.at, event.id, event)]
    for earlier, data in changes[:index]:
        if within(earlier.at, start, event.at):
            seen += [
                (data.from_, earlier.at, earlier.id, earlier),
                (data.to, earlier.at, earlier.id, earlier),
            ]
    # Among equal highs the most recent is the reference: it is the one the reader remembers.
    reference, _, _, reference_event = max(seen, key=lambda item: item[:3])
    return _Drop(reference - change.to, reference, reference_event)


def score_drop(history: History, context: Context, as_of: datetime, config: RulesConfig) -> Finding | None:
    """`score_drop` (risk, medium; high on a drop of `high_drop_points` (20) or more, or a score below
    `high_below_score` (30)): the bureau score fell.

    The latest score (the `to` of the latest `score_change`) is compared with the highest score seen in
    the `lookback_days` (365) before that change; the drop is that highest minus the latest, and counts from
    `min_drop_points` (1). Resolved when the latest score is back at or above that reference. Evidence:
    the latest change and the one that set the reference.
    """
    rules = config.score_drop
    changes = bureau_data(history, BureauEventType.SCORE_CHANGE, ScoreChange)
    if not changes:
        return None
    lookback = timedelta(days=rules.lookback_days)
    needed = max(rules.min_drop_points, 1)
    last = len(changes) - 1
    drop = _drop_at(changes, last, lookback)
    if drop.points < needed:
        return None
    first = last
    while first > 0 and _drop_at(changes, first - 1, lookback).points >= needed:
        first -= 1
    event, change = changes[last]
    high = drop.points >= rules.high_drop_points or change.to < rules.high_below_score
    if drop.reference_event is event:
        summary = (
            f"The credit bureau lowered the score from {drop.reference} to {change.to} on {on(event.at)}."
        )
    else:
        summary = (
            f"The credit bureau lowered the score to {change.to} on {on(event.at)}, {drop.points} points below "
            f"its high of {drop.reference} on {on(drop.reference_event.at)}."
        )
    return make_finding(
        SignalName.SCORE_DROP,
        summary,
        [drop.reference_event, event],
        changes[first][0].at,
        Severity.HIGH if high else Severity.MEDIUM,
    )


def payment_behaviour(
    history: History, context: Context, as_of: datetime, config: RulesConfig
) -> Finding | None:
    """`payment_behaviour` (risk, medium; high from `high_days` (60)): the company pays late.

    Holds when the latest bureau `payment_behaviour` reports `days_beyond_terms` of `medium_days` (30) or
    more. Resolved when the latest report is below that. Evidence: the latest report; `since` is the first
    of the uninterrupted run of late reports.
    """
    rules = config.payment_behaviour
    reports = bureau_data(history, BureauEventType.PAYMENT_BEHAVIOUR, PaymentBehaviour)
    if not reports or reports[-1][1].days_beyond_terms < rules.medium_days:
        return None
    first = len(reports) - 1
    while first > 0 and reports[first - 1][1].days_beyond_terms >= rules.medium_days:
        first -= 1
    event, data = reports[-1]
    days = data.days_beyond_terms
    return make_finding(
        SignalName.PAYMENT_BEHAVIOUR,
        f"The company pays its suppliers {days} days beyond terms on average (credit bureau, {on(event.at)}).",
        [event],
        reports[first][0].at,
        Severity.HIGH if days >= rules.high_days else Severity.MEDIUM,
    )
